"""The REST ("Fusion" JSON) calls of the Deploy, Collect and ESX tasks."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from fusion_bridge.services.agents import find_agent

CONFIG_VALIDITY_PERIOD = 600


class RestCalls:
    def __init__(self, engine: Engine):
        self._engine = engine

    def get_config(self, machine_id: str) -> dict | None:
        """The agent's REST schedule; None for an unknown or locked agent (the plugin's 400).

        REST calls do not update ``last_contact``; the plugin does not either.
        """
        with self._engine.connect() as conn:
            agent = find_agent(conn, machine_id)
            conn.rollback()
        if agent is None or agent.lock:
            return None
        # Deploy, Collect and ESX runs are not prepared yet: nothing is scheduled.
        return {"configValidityPeriod": CONFIG_VALIDITY_PERIOD, "schedule": []}
