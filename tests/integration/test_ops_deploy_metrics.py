"""Deploy in /metrics: runs handed out by getJobs, file parts and their bytes served."""

from tests.helpers.deploy_rest import DEPLOY, DEVICE, E1_JOBS, add_deploy_run, get, stored_file
from tests.helpers.exposition import parse, value


def scrape(client) -> dict:
    return parse(client.get("/metrics").get_data(as_text=True))


def test_deploy_hand_out_and_bytes_served(client, engine, deploy_agents, deploy_repository):
    stored, _data = stored_file(deploy_repository, engine)
    jobs = dict(E1_JOBS, associatedFiles=[stored.sha512])
    files = {stored.sha512: {"name": "payload.bin", "p2p": 0, "p2p-retention-duration": 0, "uncompress": 0}}
    with engine.begin() as conn:
        add_deploy_run(conn, 1, 1, jobs, files)
    before = scrape(client)
    assert get(client, action="getJobs", machineid=DEVICE, version="2.8").json["jobs"]
    served = 0
    for part in stored.parts:
        got = client.get(f"{DEPLOY}?action=getFilePart&machineid={DEVICE}&file=/{part[0]}/{part[:2]}/{part}")
        assert got.status_code == 200
        served += len(got.data)
    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("fusion_bridge_runs_handed_out_total", method="deployinstall") == 1
    assert moved("fusion_bridge_deploy_bytes_served_total") == served > 0
    assert moved("fusion_bridge_requests_total", kind="deploy.getFilePart", status="200") == len(stored.parts)
    assert moved("fusion_bridge_requests_total", kind="deploy.getJobs", status="200") == 1
