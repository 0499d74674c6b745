"""REST getConfig: the schedule of the agent's prepared Collect and ESX runs
(docs/plugin-semantics.md §7.8)."""

import pytest
from sqlalchemy import insert, update

import schema
from schema.constants import ItemType, Method, Module
from tests.helpers.inventory_rows import add_agent
from tests.helpers.statements import recorded_statements
from tests.helpers.task_rows import add_job, add_run, add_task, set_module

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours

DEVICE = "vm-2026-11-25-14-54-18"
COLLECT_URL = "http:\\/\\/localhost\\/plugins\\/fusioninventory\\/b\\/collect\\/"
ESX_URL = "http:\\/\\/localhost\\/plugins\\/fusioninventory\\/b\\/esx\\/"


def get_config(client, *tasks, path="/plugins/fusioninventory/", device=DEVICE):
    query = "&".join(f"task%5B{task}%5D=2.6" for task in tasks)
    return client.get(f"{path}?action=getConfig&machineid={device}" + (f"&{query}" if query else ""))


def prepare(engine, state=0, itemtype=ItemType.COLLECT, run_id=1, agent_id=3):
    with engine.begin() as conn:
        add_agent(conn, agent_id, DEVICE if agent_id == 3 else f"other-{agent_id}")
        add_task(conn, 1)
        method = Method.COLLECT if itemtype == ItemType.COLLECT else Method.ESX
        add_job(conn, 1, f'[{{"{itemtype}":"1"}}]', f'[{{"PluginFusioninventoryAgent":"{agent_id}"}}]',
                method, job_id=1)
        add_run(conn, run_id, 1, agent_id, itemtype, 1, state)


def test_unknown_and_locked_agents_get_400(client, engine):
    assert get_config(client, "Collect").status_code == 400
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE, lock=1)
    assert get_config(client, "Collect").status_code == 400


def test_nothing_prepared_is_an_empty_schedule(client, engine):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
    response = get_config(client, "Collect")
    assert response.status_code == 200
    assert response.data == b'{"configValidityPeriod":600,"schedule":[]}'
    assert response.content_type == "application/json"


def test_prepared_collect_run_is_scheduled_with_php_escaped_url(client, engine):
    prepare(engine)
    response = get_config(client, "Collect")
    assert response.data.decode() == (
        '{"configValidityPeriod":600,"schedule":[{"task":"Collect","remote":"' + COLLECT_URL + '"}]}')
    # Only the tasks asked for are answered, as the plugin does.
    assert get_config(client, "ESX").data == b'{"configValidityPeriod":600,"schedule":[]}'
    assert get_config(client, "Deploy").data == b'{"configValidityPeriod":600,"schedule":[]}'
    assert get_config(client).data == b'{"configValidityPeriod":600,"schedule":[]}'


def test_started_runs_and_disabled_module_are_not_scheduled(client, engine):
    prepare(engine, state=1)
    assert get_config(client, "Collect").json["schedule"] == []
    with engine.begin() as conn:
        conn.execute(update(schema.taskjobstates).values(state=0))
    set_module(engine, Module.COLLECT, False)
    assert get_config(client, "Collect").json["schedule"] == []


def test_esx_entry_needs_the_esx_module(client, engine):
    prepare(engine, itemtype=ItemType.CREDENTIAL_IP)
    # InventoryComputerESX is inactive at install.
    assert get_config(client, "ESX").json["schedule"] == []
    set_module(engine, Module.ESX, True)
    response = get_config(client, "ESX")
    assert response.data.decode() == (
        '{"configValidityPeriod":600,"schedule":[{"periodicity":3600,"delayStartup":3600,"task":"ESX",'
        '"remote":"' + ESX_URL + '"}]}')
    # ESX targets do not make a Collect entry.
    assert get_config(client, "Collect").json["schedule"] == []


def test_remote_follows_the_request_prefix(client, engine):
    prepare(engine)
    remote = get_config(client, "Collect", path="/glpi/plugins/fusioninventory/front/communication.php").json
    assert remote["schedule"][0]["remote"] == "http://localhost/glpi/plugins/fusioninventory/b/collect/"
    remote = get_config(client, "Collect", path="/ocsinventory").json
    assert remote["schedule"][0]["remote"] == "http://localhost/plugins/fusioninventory/b/collect/"


def test_entity_agent_base_url_wins_nearest_ancestor_first(client, engine):
    prepare(engine)
    entities = schema.entities
    with engine.begin() as conn:
        conn.execute(update(entities).where(entities.c.entities_id == 0).values(agent_base_url="https://glpi.example/glpi"))
    assert get_config(client, "Collect").json["schedule"][0]["remote"] == \
        "https://glpi.example/glpi/plugins/fusioninventory/b/collect/"
    with engine.begin() as conn:
        conn.execute(insert(schema.glpi_entities).values(id=4, name="child", entities_id=0, completename="child",
                                                         level=2))
        conn.execute(insert(schema.glpi_entities).values(id=5, name="grandchild", entities_id=4,
                                                         completename="grandchild", level=3))
        conn.execute(insert(entities).values(entities_id=4, transfers_id_auto=0,
                                             agent_base_url="https://child.example/"))
        conn.execute(update(schema.agents).values(entities_id=5))
    assert get_config(client, "Collect").json["schedule"][0]["remote"] == \
        "https://child.example/plugins/fusioninventory/b/collect/"


def test_both_tasks_in_one_call(client, engine):
    prepare(engine)
    with engine.begin() as conn:
        add_job(conn, 1, '[{"PluginFusioninventoryCredentialIp":"1"}]',
                '[{"PluginFusioninventoryAgent":"3"}]', Method.ESX, job_id=2)
        add_run(conn, 2, 2, 3, ItemType.CREDENTIAL_IP, 1)
    set_module(engine, Module.ESX, True)
    tasks = [entry["task"] for entry in get_config(client, "ESX", "Collect").json["schedule"]]
    assert tasks == ["ESX", "Collect"]


def test_nothing_to_do_costs_one_statement(database_url):
    from fusion_bridge.app import create_app

    app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 600})
    try:
        runtime = app.extensions["fusion_bridge"]
        with runtime.engine.begin() as conn:
            add_agent(conn, 3, DEVICE)
        client = app.test_client()
        assert get_config(client, "Collect").status_code == 200  # warms the settings cache
        # MariaDB: the probe runs on the autocommit engine (no ROLLBACK round trip).
        with recorded_statements(runtime) as queries:
            for task in ("Deploy", "Collect", "ESX"):
                assert get_config(client, task).json["schedule"] == []
        assert len(queries) == 3, queries
    finally:
        app.extensions["fusion_bridge"].dispose()
