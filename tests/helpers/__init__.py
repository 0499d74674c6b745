"""What the tests share: row builders, agent requests, emulated and real agents, servers.

Test modules import from here and never from one another; fixtures shared by several test
modules live in the ``conftest.py`` files (tests/, tests/integration/, tests/e2e/).

* ``db``: generic row access (insert, read, count) on an engine or an open connection.
* ``inventory_rows``: agents, computers, network devices, ports and addresses as GLPI stores them.
* ``task_rows``: tasks, jobs, runs and their logs, IP ranges, credentials, deploy packages,
  agent modules, as GLPI's UI with the plugin stores them; a run's state and log read back.
* ``agent_requests``: the agent's XML requests (PROLOG, INVENTORY, NETDISCOVERY…) and the
  NETDISCOVERY OPTIONs of a PROLOG reply.
* ``agent_emulator``: the agent's HTTP server (daemon mode) on loopback, for wake-up tests.
* ``admin_api`` and ``cli``: calling the admin API and the ``fusion-bridge`` commands.
* ``statements``: the SQL statements the app sends.
* ``lock_waits``: proof that a transaction waits for a lock another one holds.
* ``mariadb``: the MariaDB server of the test session.
* ``real_agent``, ``netns``, ``bridge_server``, ``protocol_agent``: the end-to-end set-up (the
  real agent, a private network namespace, ``fusion-bridge serve`` as a subprocess, a
  protocol-level agent script).
"""
