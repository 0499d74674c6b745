"""Preparing runs: actors and targets resolved, pools and balancing, executions, retries, ordered actions, timeslots, and the scheduler's clean-up."""
