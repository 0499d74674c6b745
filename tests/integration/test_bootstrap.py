"""One bootstrap per worker: every entry point of an app uses the same services, so GLPI's
plugin settings are read once per TTL whichever calls an agent run makes."""

from __future__ import annotations

from sqlalchemy import insert

import schema
from fusion_bridge.app import create_app
from schema.constants import ItemType, Method
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.inventory_rows import add_agent
from tests.helpers.statements import recorded_statements
from tests.helpers.task_rows import add_job, add_run, add_task

DEVICE = "pc-2026-01-01-00-00-00"


def settings_loads(statements: list[str]) -> int:
    return sum(1 for statement in statements if "FROM glpi_plugin_fusioninventory_configs" in statement
               and "WHERE" not in statement)


def test_the_agent_endpoint_and_the_rest_tasks_share_one_settings_cache(database_url):
    app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 600})
    services = app.extensions["fusion_bridge"]
    try:
        with services.engine.begin() as conn:
            add_agent(conn, 1, DEVICE)
            add_task(conn, 1)
            conn.execute(insert(schema.collects).values(id=1, name="c", entities_id=0, type="file", is_active=1))
            add_job(conn, 1, '[{"PluginFusioninventoryCollect":"1"}]', '[{"PluginFusioninventoryAgent":"1"}]',
                    Method.COLLECT, job_id=1)
            add_run(conn, 1, 1, 1, ItemType.COLLECT, 1)
        client = app.test_client()
        with recorded_statements(services) as statements:
            for response in (
                    client.post("/plugins/fusioninventory/", data=prolog(DEVICE), headers=ZLIB_HEADERS),
                    client.get(f"/plugins/fusioninventory/?action=getConfig&machineid={DEVICE}&task[Collect]=1"),
                    client.get(f"/plugins/fusioninventory/b/collect/?action=getJobs&machineid={DEVICE}")):
                assert response.status_code == 200
        assert settings_loads(statements) == 1, statements
    finally:
        services.dispose()
