"""What administrators define: tasks, actions, IP ranges, SNMP credentials, timeslots, the bridge's task settings, Deploy packages and mirrors."""
