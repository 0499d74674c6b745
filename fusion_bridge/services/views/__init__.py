"""Read-only views for people: what runs now, the history in words, the operator view of executions."""
