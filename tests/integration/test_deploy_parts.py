"""Deploy files over REST: the ``associatedFiles`` of getJobs (parts, mirrors) and getFilePart,
served only to the agent a job using the part was handed to (docs/plugin-semantics.md §7.5)."""

import gzip
import hashlib
import os

from sqlalchemy import insert, update

import schema
from tests.helpers.deploy_rest import DEPLOY, DEVICE, E1_JOBS, add_deploy_run, get
from tests.helpers.inventory_rows import add_computer
from tests.helpers.task_rows import run_logs, run_state
from schema.constants import TaskjobLogState as Log, TaskjobState as State

BRIDGE_MIRROR = ("http:\\/\\/localhost\\/plugins\\/fusioninventory\\/b\\/deploy\\/?action=getFilePart"
                 f"&machineid={DEVICE}&file=")


def stored_file(repository, engine, size=1536 * 1024):
    data = os.urandom(size)
    source = repository.root.parent / "payload.bin"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    return repository.add_file(engine, source, "payload.bin"), data


def test_files_mirrors_and_get_file_part(client, engine, deploy_agents, deploy_repository):
    stored, data = stored_file(deploy_repository, engine)
    assert len(stored.parts) == 2
    jobs = dict(E1_JOBS, associatedFiles=[stored.sha512])
    files = {stored.sha512: {"name": "payload.bin", "p2p": 0, "p2p-retention-duration": 0, "uncompress": 0}}
    with engine.begin() as conn:
        add_deploy_run(conn, 1, 1, jobs, files)
        conn.execute(insert(schema.deploymirrors).values(id=1, entities_id=0, is_active=1, name="m",
                                                         url="http://mirror.example/files/", locations_id=0))
        conn.execute(insert(schema.deploymirrors).values(id=2, entities_id=0, is_active=0, name="off",
                                                         url="http://off.example/", locations_id=0))
    part_url = f"/{stored.parts[0][0]}/{stored.parts[0][:2]}/{stored.parts[0]}"
    # Not handed out yet: refused.
    assert get(client, action="getFilePart", machineid=DEVICE, file=part_url).status_code == 403
    response = get(client, action="getJobs", machineid=DEVICE, version="2.8")
    assert response.data.decode().endswith(
        '"associatedFiles":{"' + stored.sha512 + '":{"name":"payload.bin","p2p":0,"p2p-retention-duration":0,'
        '"uncompress":0,"mirrors":["http:\\/\\/mirror.example\\/files\\/","' + BRIDGE_MIRROR + '"],'
        '"multiparts":["' + stored.parts[0] + '","' + stored.parts[1] + '"]}}}')
    assert response.json["jobs"][0]["associatedFiles"] == [stored.sha512]
    # As the agent asks: the mirror URL plus "/c1/c1c2/sha512".
    parts = []
    for part in stored.parts:
        got = client.get(f"{DEPLOY}?action=getFilePart&machineid={DEVICE}&file=/{part[0]}/{part[:2]}/{part}")
        assert got.status_code == 200
        assert got.headers["Content-Type"] == "application/octet-stream"
        assert got.headers["Content-Disposition"] == f"attachment; filename={part}"
        assert int(got.headers["Content-Length"]) == len(got.data)
        assert hashlib.sha512(got.data).hexdigest() == part
        parts.append(got.data)
    assert b"".join(gzip.decompress(part) for part in parts) == data
    assert get(client, action="getFilePart", machineid="other-agent", file=part_url).status_code == 403
    assert get(client, action="getFilePart", file=part_url).status_code == 403
    assert get(client, action="getFilePart", machineid=DEVICE, file="/a/ab/" + "a" * 128).status_code == 403
    assert get(client, action="getFilePart", machineid=DEVICE, file="/a/ab/../../etc/passwd").status_code == 400
    deploy_repository.part_path(stored.parts[1]).unlink()
    missing = get(client, action="getFilePart", machineid=DEVICE,
                  file=f"/{stored.parts[1][0]}/{stored.parts[1][:2]}/{stored.parts[1]}")
    assert missing.status_code == 404 and "error" in missing.json


def test_file_missing_from_repository_fails_the_run(client, engine, deploy_agents, deploy_repository):
    stored, _data = stored_file(deploy_repository, engine)
    deploy_repository.part_path(stored.parts[0]).unlink()
    jobs = dict(E1_JOBS, associatedFiles=[stored.sha512])
    files = {stored.sha512: {"name": "payload.bin", "p2p": 0, "p2p-retention-duration": 0, "uncompress": 0}}
    with engine.begin() as conn:
        add_deploy_run(conn, 1, 1, jobs, files)
        add_deploy_run(conn, 2, 2, dict(E1_JOBS, associatedFiles=["b" * 128]))
    assert get(client, action="getJobs", machineid=DEVICE, version="2.8").data == b"{}"
    assert run_state(engine, 1) == State.IN_ERROR
    assert run_logs(engine, 1) == [(Log.ERROR, f"The file payload.bin ({stored.sha512}) of this job is missing from "
                                               "the deploy repository, or some of its parts are: it cannot be "
                                               "downloaded.")]
    assert run_state(engine, 2) == State.IN_ERROR
    assert "not described in its deploy package" in run_logs(engine, 2)[0][1]


def test_mirror_matching_by_location_and_entity(client, engine, deploy_agents):
    with engine.begin() as conn:
        conn.execute(insert(schema.glpi_entities).values(id=1, name="child", entities_id=0, level=2))
        add_computer(conn, "pc", computer_id=42, entities_id=1, locations_id=5)
        conn.execute(update(schema.agents).where(schema.agents.c.id == 3).values(computers_id=42, entities_id=1))
        for mirror_id, entity, recursive, location in ((1, 0, 1, 5), (2, 1, 0, 5), (3, 0, 0, 5), (4, 1, 0, 6)):
            conn.execute(insert(schema.deploymirrors).values(
                id=mirror_id, entities_id=entity, is_active=1, is_recursive=recursive, name=f"m{mirror_id}",
                url=f"http://m{mirror_id}/", locations_id=location))
        conn.execute(update(schema.configs).where(schema.configs.c.type == "server_as_mirror").values(value="0"))

    def mirrors(match, run_id):
        with engine.begin() as conn:
            conn.execute(schema.configs.delete().where(schema.configs.c.type == "mirror_match"))
            if match is not None:
                conn.execute(insert(schema.configs).values(type="mirror_match", value=str(match)))
            add_deploy_run(conn, run_id, run_id, E1_JOBS, {"f": {"name": "n"}})
        return get(client, action="getJobs", machineid=DEVICE, version="2.8").json["associatedFiles"]["f"]["mirrors"]

    assert mirrors(None, 1) == ["http://m2/", "http://m1/", "http://m3/"]  # location (default)
    assert mirrors(1, 2) == ["http://m2/", "http://m4/", "http://m1/"]  # entity: own, then recursive parents
    assert mirrors(2, 3) == ["http://m2/", "http://m1/"]  # both
