"""``fusion-bridge agent list|show|lock|unlock|delete``: the agents, their last contact and
address, computer, allowed modules and runs. An agent is given by its id or its DEVICEID.
The service is ``services.admin.agents``.
"""

from __future__ import annotations

import click

from fusion_bridge.cli.options import common, for_group
from fusion_bridge.cli.tasks.definitions import _run, _yes_no, table
from fusion_bridge.domain.text import plural
from fusion_bridge.services.admin import agents


@click.group("agent")
@for_group
def agent_group() -> None:
    """List, show, lock, unlock and delete agents."""


def _address(a: dict) -> str:
    address = a["address"]
    if address is None:
        return "-"
    return f"{address['address']}:{address['port']}" if address["port"] else address["address"]


def _runs(a: dict) -> str:
    return ", ".join(f"{word} {n}" for word, n in a["runs"].items()) or "-"


def _agent_rows(found: list[dict]) -> list[str]:
    return table(["ID", "NAME", "LAST CONTACT", "ADDRESS", "COMPUTER", "LOCKED", "RUNS"], [
        [a["id"], a["name"], a["last_contact"] or "never", _address(a),
         f"{a['computer']['id']} {a['computer']['name'] or ''}".strip() if a["computer"] else "-",
         _yes_no(a["locked"]), _runs(a)] for a in found], empty="no agents")


def _version(a: dict) -> str:
    version = a["version"]
    if isinstance(version, dict):
        return ", ".join(f"{module} {value}" for module, value in version.items()) or "-"
    return version or "-"


def _agent_text(a: dict) -> list[str]:
    address = a["address"]
    return [f"agent {a['id']}: {a['name']}",
            f"  DEVICEID: {a['device_id']}",
            f"  version: {_version(a)}   user agent: {a['useragent'] or '-'}",
            f"  last contact: {a['last_contact'] or 'never'}"
            + (f" from {_address(a)} (recorded {address['date']})" if address else ""),
            "  computer: " + (f"{a['computer']['id']} {a['computer']['name'] or ''}".rstrip()
                               if a["computer"] else "none"),
            f"  entity: {a['entities_id']}   locked: {_yes_no(a['locked'])}",
            f"  modules allowed: {', '.join(a['modules']) or 'none'}",
            f"  runs: {_runs(a)}"]


@agent_group.command("list")
@click.option("--seen-since", metavar="WHEN",
              help="Only agents seen since a date ('2024-05-31 18:00') or for a duration (30m, 12h, 7d, 2w).")
@click.option("--module", metavar="MODULE",
              help="Only agents allowed to run this module (DEPLOY, Collect, NETWORKDISCOVERY, ... or a method).")
@click.option("--limit", type=int, default=1000, show_default=True)
@common
def agent_list(seen_since: str | None, module: str | None, limit: int, database_url: str | None,
               as_json: bool) -> None:
    """List agents with their last contact, address, computer and runs."""
    _run(database_url, as_json,
         lambda e: agents.list_agents(e, seen_since=seen_since, module=module, limit=limit), _agent_rows)


@agent_group.command("show")
@click.argument("agent_ref", metavar="AGENT")
@common
def agent_show(agent_ref: str, database_url: str | None, as_json: bool) -> None:
    """Show an agent (id or DEVICEID): version, address, computer, modules, runs."""
    _run(database_url, as_json, lambda e: agents.get_agent(e, agent_ref), _agent_text)


@agent_group.command("lock")
@click.argument("agent_ref", metavar="AGENT")
@common
def agent_lock(agent_ref: str, database_url: str | None, as_json: bool) -> None:
    """Lock an agent: its REST calls (getConfig, Deploy, Collect, ESX) are refused, as the
    plugin does; its XML contacts (inventory, network tasks) go on."""
    _run(database_url, as_json, lambda e: agents.lock_agent(e, agent_ref),
         lambda a: f"agent {a['id']} locked: {a['name']}")


@agent_group.command("unlock")
@click.argument("agent_ref", metavar="AGENT")
@common
def agent_unlock(agent_ref: str, database_url: str | None, as_json: bool) -> None:
    """Unlock an agent."""
    _run(database_url, as_json, lambda e: agents.unlock_agent(e, agent_ref),
         lambda a: f"agent {a['id']} unlocked: {a['name']}")


@agent_group.command("delete")
@click.argument("agent_ref", metavar="AGENT")
@click.confirmation_option(prompt="Delete the agent? Its unfinished runs are cancelled.")
@common
def agent_delete(agent_ref: str, database_url: str | None, as_json: bool) -> None:
    """Delete an agent: its unfinished runs are cancelled (their history is kept) and the
    bridge's records of it (address, wake-ups, last inventory) go. If it calls again, it comes
    back as a new agent."""
    _run(database_url, as_json, lambda e: agents.delete_agent(e, agent_ref),
         lambda r: f"agent {r['id']} deleted; {plural(r['cancelled_runs'], 'unfinished run')} cancelled, "
                   f"{plural(r['runs_kept'], 'run')} kept in the history")
