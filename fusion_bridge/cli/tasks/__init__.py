"""``fusion-bridge task|action|iprange|credential|timeslot|running|history`` and the bridge's task settings, updates and executions."""
