"""What the tests share. Test modules import from here and never from one another
(tests/unit/test_test_modules.py checks it); fixtures used by several test modules live in the
``conftest.py`` files (tests/, tests/unit/, tests/integration/, tests/e2e/).

Rows, as GLPI and the plugin store them (on an engine or an open connection):

* ``db``: insert, read and count rows of any table.
* ``inventory_rows``: agents, computers, network devices, ports and addresses.
* ``task_rows``: tasks, jobs, runs and their logs, IP ranges, ESX hosts, deploy packages, agent
  modules, push tasks; runs, a run's state, log and pushes read back.
* ``executions``: the clock and ready-made managed tasks of the execution and ordering tests.
* ``deploy_rest``: the agent, package and calls of the deploy recordings.
* ``plugin_install``: what the plugin's installer writes, as the schema tests expect it.

The agent's side and the app's other doors:

* ``agent_requests``: the agent's XML requests and what it reads in a PROLOG reply.
* ``agent_messages``: agent messages decoded as the bridge decodes them.
* ``plugin_replies``: PROLOG replies as the plugin writes them, byte for byte.
* ``agent_emulator``: the agent's HTTP server (daemon mode) on loopback, for wake-ups.
* ``admin_api`` and ``cli``: calling the admin API (and defining a task through its services)
  and the ``fusion-bridge`` commands.
* ``statements``: the SQL statements the app sends.
* ``lock_waits``: proof that a transaction waits for a lock another one holds.
* ``mariadb``: the MariaDB server of the test session.

End to end: ``real_agent`` (the real agent, isolated), ``netns`` (a private network namespace
and snmpd), ``bridge_server`` (``fusion-bridge serve`` and commands as subprocesses),
``e2e_tasks`` (the agent's rows, tasks, runs and checks), ``protocol_agent`` (a protocol-level
agent script).
"""
