"""See and act on the relay: status, the documents, retry and purge of dead letters, and each
agent's last delivery. Shared by ``fusion-bridge relay ...`` and ``/api/relay``; every function
returns plain JSON-ready data and raises ``NotFound`` / ``DefinitionError`` for bad input.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.domain.relay_policy import DELIVERED
from fusion_bridge.domain.text import local_now
from fusion_bridge.services.admin.base import DefinitionError, NotFound
from fusion_bridge.services.relay.queue import DEAD, QUEUED, deliveries, queue

agents = schema.agents
DEFAULT_LIMIT = 100
MAX_LIMIT = 10000
RECENT = timedelta(minutes=1)


def status(engine: Engine, upstream: str | None = None, caps: dict | None = None,
           now: datetime | None = None) -> dict:
    """Counts, age of the oldest waiting document, the delivery pace and the last error."""
    now = now or local_now()
    in_flight = and_(queue.c.state == QUEUED, queue.c.claim_expires.is_not(None), queue.c.claim_expires >= now)
    with engine.connect() as conn:
        counts = conn.execute(select(
            func.count().label("documents"),
            func.coalesce(func.sum(queue.c.size), 0).label("bytes"),
            func.coalesce(func.sum(case((in_flight, 1), else_=0)), 0).label("in_flight"),
            func.coalesce(func.sum(case((queue.c.state == DEAD, 1), else_=0)), 0).label("dead"),
            func.min(case((queue.c.state == QUEUED, queue.c.queued_at), else_=None)).label("oldest"),
        )).one()
        recent = conn.execute(select(func.count(), func.avg(deliveries.c.latency_ms)).where(
            deliveries.c.outcome == DELIVERED, deliveries.c.date >= now - RECENT)).one()
        error = conn.execute(select(deliveries).where(deliveries.c.outcome != DELIVERED)
                             .order_by(deliveries.c.date.desc()).limit(1)).mappings().first()
        last_delivery = conn.execute(select(func.max(deliveries.c.delivered_at))).scalar()
    oldest = counts.oldest
    return {
        "upstream": upstream,
        "documents": int(counts.documents),
        "queued": int(counts.documents) - int(counts.dead) - int(counts.in_flight),
        "in_flight": int(counts.in_flight),
        "dead": int(counts.dead),
        "bytes": int(counts.bytes),
        "caps": caps,
        "oldest_queued_at": _date(oldest),
        "oldest_age_seconds": int((now - oldest).total_seconds()) if oldest else None,
        # Agents whose inventory was delivered in the last minute (one row per agent).
        "delivered_last_minute": int(recent[0]),
        "upstream_latency_ms": round(float(recent[1])) if recent[1] is not None else None,
        "last_delivery": _date(last_delivery),
        "last_error": None if error is None else {
            "date": _date(error["date"]), "agent": error["plugin_fusioninventory_agents_id"],
            "device_id": error["device_id"], "outcome": error["outcome"], "http_status": error["http_status"],
            "error": error["error"]},
    }


def documents(engine: Engine, dead_only: bool = False, limit: int | str | None = None,
              now: datetime | None = None) -> list[dict]:
    """The queue, oldest first (bodies left out)."""
    now = now or local_now()
    statement = select(*[c for c in queue.c if c.name != "body"]).order_by(queue.c.id).limit(_limit(limit))
    if dead_only:
        statement = statement.where(queue.c.state == DEAD)
    with engine.connect() as conn:
        return [_document(row, now) for row in conn.execute(statement).mappings()]


def retry(engine: Engine, document_id: int | None = None, all_dead: bool = False,
          now: datetime | None = None) -> dict:
    """Queue a document again at once (dead or waiting for its back-off), or every dead one."""
    if (document_id is None) == (not all_dead):
        raise DefinitionError("give a document id, or all dead documents")
    now = now or local_now()
    where = queue.c.state == DEAD if all_dead else queue.c.id == _id(document_id)
    with engine.begin() as conn:
        done = conn.execute(update(queue).where(where).values(
            state=QUEUED, rejections=0, next_attempt=now)).rowcount
    if not all_dead and not done:
        raise NotFound(f"no relay document {document_id}")
    return {"retried": done}


def purge_dead(engine: Engine) -> dict:
    with engine.begin() as conn:
        return {"purged": conn.execute(delete(queue).where(queue.c.state == DEAD)).rowcount}


def agent_view(engine: Engine, key: str | int, now: datetime | None = None) -> dict:
    """An agent (by id or DEVICEID): its last delivery and its documents in the queue."""
    now = now or local_now()
    with engine.connect() as conn:
        agent = _agent(conn, str(key))
        delivery = conn.execute(select(deliveries).where(
            deliveries.c.plugin_fusioninventory_agents_id == agent["id"])).mappings().first()
        waiting = conn.execute(select(*[c for c in queue.c if c.name != "body"]).where(
            queue.c.plugin_fusioninventory_agents_id == agent["id"]).order_by(queue.c.id)).mappings().all()
    return {
        "agent": {"id": agent["id"], "name": agent["name"], "device_id": agent["device_id"],
                  "last_contact": _date(agent["last_contact"])},
        "last_delivery": None if delivery is None else {
            "date": _date(delivery["date"]), "outcome": delivery["outcome"],
            "http_status": delivery["http_status"], "latency_ms": delivery["latency_ms"],
            "error": delivery["error"], "delivered_at": _date(delivery["delivered_at"]),
            "delivered": delivery["delivered"]},
        "documents": [_document(row, now) for row in waiting],
    }


def _agent(conn: Connection, key: str):
    condition = agents.c.device_id == key
    if key.isdigit():
        condition = or_(agents.c.id == int(key), condition)
    row = conn.execute(select(agents.c.id, agents.c.name, agents.c.device_id, agents.c.last_contact)
                       .where(condition).order_by(agents.c.id).limit(1)).mappings().first()
    if row is None:
        raise NotFound(f"no agent with id or DEVICEID {key[:80]!r}")
    return row


def _document(row, now: datetime) -> dict:
    claimed = row["claim_expires"] is not None and row["claim_expires"] >= now
    state = row["state"]
    if state == QUEUED and claimed:
        state = "in flight"
    return {
        "id": row["id"], "agent": row["plugin_fusioninventory_agents_id"], "device_id": row["device_id"],
        "subject": row["subject"] or None, "state": state, "size": row["size"],
        "queued_at": _date(row["queued_at"]), "arrived": _date(row["arrived"]),
        "generation": row["generation"], "attempts": row["attempts"], "rejections": row["rejections"],
        "next_attempt": _date(row["next_attempt"]), "last_attempt": _date(row["last_attempt"]),
        "last_status": row["last_status"], "last_error": row["last_error"],
        "remote_addr": row["remote_addr"], "user_agent": row["user_agent"],
    }


def _limit(value: int | str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DefinitionError(f"limit must be a number, got {str(value)[:40]!r}") from None
    if not 1 <= number <= MAX_LIMIT:
        raise DefinitionError(f"limit must be between 1 and {MAX_LIMIT}")
    return number


def _id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DefinitionError(f"document id must be a number, got {str(value)[:40]!r}") from None


def _date(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None
