"""What administrators define and manage: tasks, actions, IP ranges, SNMP credentials, timeslots,
the bridge's task settings, Deploy packages, mirrors and groups, Collect definitions, ESX hosts,
and the agents."""
