"""``fusion-bridge relay``: run the forwarder, and see and act on the inventory relay.

``relay run`` forwards queued INVENTORYs to the upstream (a dedicated instance; ``serve`` runs
it as a child when an upstream is set). ``status``, ``list [--dead]``, ``retry ID|--all-dead``,
``purge --dead`` and ``agent DEVICEID|ID`` read and change the queue
(``services/relay/views.py``; the same under ``/api/relay``).
"""

from __future__ import annotations

import click

from fusion_bridge.cli.database import open_database, shown_url
from fusion_bridge.cli.options import common as _common, database_option, load_config as _config
from fusion_bridge.cli.tasks.definitions import _run, table
from fusion_bridge.services.relay import views
from fusion_bridge.services.relay.settings import RelaySettings, caps_of


@click.group()
def relay() -> None:
    """Relay inventories to GLPI's own import: forwarder, queue status, dead letters."""


@relay.command("run")
@database_option
@click.option("--upstream", metavar="URL", help="GLPI's inventory URL (default: $FUSION_BRIDGE_INVENTORY_UPSTREAM).")
def relay_run(database_url: str | None, upstream: str | None) -> None:
    """Forward queued inventories to the upstream until stopped (Settings: FUSION_BRIDGE_RELAY_*,
    FUSION_BRIDGE_UPSTREAM_*)."""
    from fusion_bridge.services.relay.process import relay_child_main

    config = _config(database_url=database_url, inventory_upstream=upstream)
    try:
        RelaySettings.from_config(config)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    _require_queue(config.database_url)
    relay_child_main(config)


def _require_queue(database_url: str) -> None:
    from sqlalchemy import inspect

    import schema

    with open_database(database_url) as engine:
        present = inspect(engine).has_table(schema.bridge_relayqueue.name)
    if not present:
        raise click.ClickException(f"{shown_url(database_url)} has no relay queue: run `fusion-bridge db init`")


def _upstream_shown(config) -> str | None:
    try:
        return RelaySettings.from_config(config).upstream.display if config.inventory_upstream else None
    except ValueError:
        return "(invalid upstream setting)"


def _status_lines(s: dict) -> list[str]:
    error = s["last_error"]
    caps = s["caps"] or {}
    return [
        f"upstream:   {s['upstream'] or '(FUSION_BRIDGE_INVENTORY_UPSTREAM not set here)'}",
        f"queued:     {s['queued']}   in flight: {s['in_flight']}   dead: {s['dead']}",
        f"size:       {s['documents']} documents, {s['bytes']} bytes"
        + (f" (caps {caps['max_documents']} documents, {caps['max_bytes']} bytes)" if caps else ""),
        f"oldest:     {s['oldest_queued_at'] or '-'}"
        + (f" ({s['oldest_age_seconds']} s ago)" if s["oldest_age_seconds"] is not None else ""),
        f"delivered:  {s['delivered_last_minute']} in the last minute, last at {s['last_delivery'] or '-'}",
        f"latency:    {s['upstream_latency_ms'] if s['upstream_latency_ms'] is not None else '-'} ms"
        " (upstream, deliveries of the last minute)",
        "last error: " + ("-" if error is None else
                               f"{error['date']} agent {error['agent']} ({error['device_id']}) {error['outcome']}"
                               f": {error['error'] or error['http_status']}"),
    ]


def _document_rows(found: list[dict]) -> list[str]:
    return table(["ID", "AGENT", "DEVICEID", "STATE", "SIZE", "QUEUED", "ATTEMPTS", "NEXT", "LAST ERROR"], [
        [d["id"], d["agent"], d["device_id"], d["state"], d["size"], d["queued_at"],
         f"{d['attempts']} ({d['rejections']} refused)", d["next_attempt"], d["last_error"] or "-"]
        for d in found], empty="queue empty")


@relay.command("status")
@_common
def relay_status(database_url: str | None, as_json: bool) -> None:
    """Queued, in flight, dead, oldest age, deliveries in the last minute, latency, last error."""
    config = _config(database_url=database_url)
    caps = caps_of(config)
    _run(database_url, as_json,
         lambda e: views.status(e, _upstream_shown(config),
                                {"max_documents": caps.max_documents, "max_bytes": caps.max_bytes}),
         _status_lines)


@relay.command("list")
@click.option("--dead", is_flag=True, help="Only the dead letters.")
@click.option("--limit", type=int, default=views.DEFAULT_LIMIT, show_default=True)
@_common
def relay_list(dead: bool, limit: int, database_url: str | None, as_json: bool) -> None:
    """The documents in the queue, oldest first."""
    _run(database_url, as_json, lambda e: views.documents(e, dead, limit), _document_rows)


@relay.command("retry")
@click.argument("document_id", type=int, required=False)
@click.option("--all-dead", is_flag=True, help="Every dead letter.")
@_common
def relay_retry(document_id: int | None, all_dead: bool, database_url: str | None, as_json: bool) -> None:
    """Queue a document (or every dead one) again, to be sent at once."""
    _run(database_url, as_json, lambda e: views.retry(e, document_id, all_dead),
         lambda r: f"{r['retried']} document(s) queued again")


@relay.command("purge")
@click.option("--dead", is_flag=True, required=True, help="Delete the dead letters (required).")
@_common
def relay_purge(dead: bool, database_url: str | None, as_json: bool) -> None:
    """Delete the dead letters."""
    _run(database_url, as_json, views.purge_dead, lambda r: f"{r['purged']} dead document(s) deleted")


def _agent_lines(view: dict) -> list[str]:
    agent, delivery = view["agent"], view["last_delivery"]
    lines = [f"agent {agent['id']}: {agent['device_id']}  (last contact {agent['last_contact'] or '-'})"]
    if delivery is None:
        lines.append("  no delivery attempt yet")
    else:
        lines.append(f"  last attempt: {delivery['date']} {delivery['outcome']}"
                     f" (HTTP {delivery['http_status'] or '-'}, {delivery['latency_ms']} ms)"
                     + (f": {delivery['error']}" if delivery["error"] else ""))
        lines.append(f"  last delivered: {delivery['delivered_at'] or '-'}  ({delivery['delivered']} delivered)")
    lines += ["  " + line for line in _document_rows(view["documents"])]
    return lines


@relay.command("agent")
@click.argument("agent")
@_common
def relay_agent(agent: str, database_url: str | None, as_json: bool) -> None:
    """An agent's last delivery and its waiting documents (AGENT: id or DEVICEID)."""
    _run(database_url, as_json, lambda e: views.agent_view(e, agent), _agent_lines)
