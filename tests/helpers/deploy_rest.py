"""Deploy over REST as the agent of recordings e1 and e5 sees it: its device id, the package of
e1, a deploy run handed to it, and the getJobs/setStatus/getFilePart calls."""

from __future__ import annotations

from schema.constants import ItemType, Method
from tests.helpers.task_rows import add_job, add_package, add_run

DEVICE = "vm-2026-11-25-14-54-18"
DEPLOY = "/plugins/fusioninventory/b/deploy/"

# The package of recording e1, as GLPI stores it (PHP json_encode: "/" escaped, [] when empty).
E1_JOBS = {"checks": [{"type": "directoryExists", "path": "/tmp", "return": "error", "name": "tmp exists"}],
           "associatedFiles": [],
           "actions": [{"cmd": {"exec": "echo hello", "name": "say hello", "logLineLimit": 10,
                                "retChecks": [{"type": "okCode", "values": [0]}]}}],
           "userinteractions": []}


def add_deploy_run(conn, run_id: int, package_id: int, jobs: dict, files=None, agent_id: int = 3,
                   uniqid: str | None = None, job_id: int | None = None) -> None:
    """Package ``package_id`` (``jobs``, ``files``) deployed by job ``job_id`` (default: the
    run's id) of task 1 on agent ``agent_id``: run ``run_id``, prepared."""
    job_id = job_id or run_id
    add_package(conn, jobs, files, package_id=package_id)
    add_job(conn, 1, [(ItemType.DEPLOY_PACKAGE, package_id)], [(ItemType.AGENT, agent_id)], Method.DEPLOY,
            job_id=job_id)
    add_run(conn, run_id, job_id, agent_id, ItemType.DEPLOY_PACKAGE, package_id, uniqid=uniqid)


def get(client, **args):
    """A GET of the deploy endpoint with ``args`` as its query string."""
    return client.get(DEPLOY, query_string=args)
