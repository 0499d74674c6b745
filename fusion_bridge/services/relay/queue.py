"""The relay queue in the database (``glpi_plugin_fusionbridge_relayqueue``): store, claim, finish.

Safe with many workers and several bridge instances on one database:

- ``enqueue`` runs inside the transaction that records the agent's contact (the caller holds
  the agent's row lock, so two documents of one agent never race). One statement inserts the
  agent's row or, when the agent already has one waiting, replaces its document in place (an
  upsert: no gap locks between agents on MariaDB). The caps are read in the same transaction.
- ``claim`` takes the oldest document that is due and free with a conditional UPDATE (free =
  no claim, or a claim past its expiry: a forwarder that died loses its documents to the others
  after ``relay_claim_seconds``). The UPDATE succeeds for one forwarder only.
- ``finish`` applies the verdict only through the claim token; a delivered document is deleted
  only if no newer one replaced it while it was in flight (``generation``), else the newer one
  stays queued.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.db import is_mysql
from fusion_bridge.domain.relay_policy import DELIVERED, FAILED, REJECTED, Verdict
from fusion_bridge.domain.text import fit_utf8mb3
from fusion_bridge.services.relay.settings import Caps
from fusion_bridge.errors import Unavailable

queue = schema.bridge_relayqueue
deliveries = schema.bridge_relaydeliveries

QUEUED = "queued"
DEAD = "dead"
# Outcomes written to the deliveries table.
RETRY = "retry"
DEAD_LETTER = "dead"
CLAIM_CANDIDATES = 8


class QueueFull(Unavailable):
    """The queue is at its cap: the agent gets a 503 and sends again at its next run."""


@dataclass(frozen=True)
class Incoming:
    """An INVENTORY as the agent sent it."""

    body: bytes
    content_type: str | None
    user_agent: str | None
    remote_addr: str | None


@dataclass(frozen=True)
class Claimed:
    id: int
    agent_id: int
    device_id: str
    generation: int
    body: bytes
    content_type: str | None
    user_agent: str | None
    remote_addr: str | None
    attempts: int  # including this one
    rejections: int
    token: str


# Built once: constructing these per request costs more CPU than running them.
_KEY = and_(queue.c.plugin_fusioninventory_agents_id == bindparam("agent_id"),
            queue.c.subject == bindparam("subject"))
_WAITING_SIZE = select(queue.c.size).where(_KEY)
_TOTALS = select(func.count(), func.coalesce(func.sum(queue.c.size), 0))
_DOCUMENT = ("device_id", "body", "content_type", "user_agent", "remote_addr", "size", "arrived", "state",
             "attempts", "rejections", "next_attempt")
_NEW_ONLY = ("plugin_fusioninventory_agents_id", "subject", "queued_at", "generation")


def _upsert(dialect_insert, conflict):
    statement = dialect_insert(queue).values({name: bindparam(name) for name in (*_NEW_ONLY, *_DOCUMENT)})
    # A newer document of the agent replaces the waiting one in place: same row, same place in
    # line (queued_at, id), next generation; a claim in flight stays (see finish).
    if conflict == "mysql":
        replace = {name: statement.inserted[name] for name in _DOCUMENT}
        return statement.on_duplicate_key_update(**replace, generation=queue.c.generation + 1)
    replace = {name: statement.excluded[name] for name in _DOCUMENT}
    return statement.on_conflict_do_update(
        index_elements=[queue.c.plugin_fusioninventory_agents_id, queue.c.subject],
        set_={**replace, "generation": queue.c.generation + 1})


_UPSERT = {"mysql": _upsert(mysql.insert, "mysql"), "sqlite": _upsert(sqlite.insert, "sqlite")}


def waiting_size(conn: Connection, agent_id: int, subject: str) -> int | None:
    """Size of the agent's document waiting in the queue, None when there is none."""
    return conn.execute(_WAITING_SIZE, {"agent_id": agent_id, "subject": subject}).scalar()


def enqueue(conn: Connection, agent_id: int, device_id: str, subject: str, incoming: Incoming,
            now: datetime, caps: Caps, waiting: int | None | bool = False) -> bool:
    """Queue ``incoming`` for the agent (replacing its waiting document); True when it replaced
    one. Raise QueueFull when it would take the queue past ``caps``. ``waiting``: the size of the
    agent's waiting document (None: none) when the caller read it already (``waiting_size``)."""
    size = len(incoming.body)
    if waiting is False:
        waiting = waiting_size(conn, agent_id, subject)
    more_documents = 0 if waiting is not None else 1
    more_bytes = size - (waiting or 0)
    if more_documents or more_bytes > 0:
        # Read in this transaction; concurrent accepts on other connections may each pass the
        # check before the others commit, so the caps can be passed by at most that many.
        documents, total = conn.execute(_TOTALS).one()
        if documents + more_documents > caps.max_documents or total + more_bytes > caps.max_bytes:
            raise QueueFull(f"inventory queue full ({documents} documents, {int(total)} bytes; caps "
                            f"{caps.max_documents} documents, {caps.max_bytes} bytes): try again later")
    conn.execute(_UPSERT["mysql" if is_mysql(conn) else "sqlite"], {
        "plugin_fusioninventory_agents_id": agent_id,
        "subject": subject,
        "queued_at": now,
        "generation": 1,
        "device_id": fit_utf8mb3(device_id, 255),
        "body": incoming.body,
        "content_type": fit_utf8mb3(incoming.content_type, 255),
        "user_agent": fit_utf8mb3(incoming.user_agent, 255),
        "remote_addr": (incoming.remote_addr or "")[:64] or None,
        "size": size,
        "arrived": now,
        "state": QUEUED,
        "attempts": 0,
        "rejections": 0,
        "next_attempt": now,
    })
    return waiting is not None


_DUE = and_(queue.c.state == QUEUED, queue.c.next_attempt <= bindparam("p_now"),
            or_(queue.c.claim_expires.is_(None), queue.c.claim_expires < bindparam("p_now")))
_CANDIDATES = select(queue.c.id).where(_DUE).order_by(queue.c.id).limit(CLAIM_CANDIDATES)
_TAKE = update(queue).where(queue.c.id == bindparam("p_id"), _DUE).values(
    claim_token=bindparam("p_token"), claim_expires=bindparam("p_expires"), attempts=queue.c.attempts + 1,
    last_attempt=bindparam("p_now"))
_CLAIMED = select(queue.c.id, queue.c.plugin_fusioninventory_agents_id, queue.c.device_id, queue.c.generation,
                  queue.c.body, queue.c.content_type, queue.c.user_agent, queue.c.remote_addr, queue.c.attempts,
                  queue.c.rejections).where(queue.c.id == bindparam("p_id"))


def claim(engine: Engine, now: datetime, claim_seconds: float) -> Claimed | None:
    """Take the oldest due, unclaimed document, or None when there is none."""
    token = uuid.uuid4().hex
    params = {"p_now": now, "p_token": token, "p_expires": now + timedelta(seconds=math.ceil(claim_seconds))}
    with engine.begin() as conn:
        for document_id in conn.execute(_CANDIDATES, params).scalars().all():
            # The UPDATE re-checks that it is still due and free: of concurrent forwarders one wins.
            if not conn.execute(_TAKE, {**params, "p_id": document_id}).rowcount:
                continue
            row = conn.execute(_CLAIMED, {"p_id": document_id}).one()
            return Claimed(row.id, row.plugin_fusioninventory_agents_id, row.device_id or "", row.generation,
                           row.body, row.content_type, row.user_agent, row.remote_addr, row.attempts,
                           row.rejections, token)
    return None


_MINE = and_(queue.c.id == bindparam("p_id"), queue.c.claim_token == bindparam("p_token"))
_SAME = and_(_MINE, queue.c.generation == bindparam("p_generation"))  # not replaced meanwhile
_RELEASED = {"claim_token": None, "claim_expires": None}
_FAILURE = {"last_status": bindparam("p_status"), "last_error": bindparam("p_error")}
_DELETE_DELIVERED = delete(queue).where(_SAME)
_RELEASE = update(queue).where(_MINE).values(**_RELEASED)
_RELEASE_FAILED = update(queue).where(_MINE).values(**_RELEASED, **_FAILURE)
_STEP_ASIDE = update(queue).where(_SAME).values(**_RELEASED, **_FAILURE, next_attempt=bindparam("p_next"))
_REJECT = update(queue).where(_SAME).values(**_RELEASED, **_FAILURE, next_attempt=bindparam("p_next"),
                                            rejections=bindparam("p_rejections"), state=bindparam("p_state"))


def finish(engine: Engine, document: Claimed, verdict: Verdict, now: datetime, latency: float,
           retry_in: float, max_attempts: int) -> str:
    """Record the verdict on a claimed document; return the outcome written for its agent
    (delivered, retry, rejected or dead). ``retry_in``: seconds before a failed or rejected
    document is tried again. Only through the claim: a forwarder whose claim expired and was
    taken over changes nothing of the document."""
    params = {"p_id": document.id, "p_token": document.token, "p_generation": document.generation,
              "p_status": verdict.status, "p_error": verdict.reason or None,
              "p_next": now + timedelta(seconds=math.ceil(retry_in))}
    with engine.begin() as conn:
        if verdict.kind == DELIVERED:
            outcome = DELIVERED
            if not conn.execute(_DELETE_DELIVERED, params).rowcount:
                # A newer document replaced it while in flight: it stays queued (attempts reset).
                conn.execute(_RELEASE, params)
        elif verdict.kind == REJECTED:
            rejections = document.rejections + 1
            outcome = DEAD_LETTER if rejections >= max_attempts else REJECTED
            state = DEAD if outcome == DEAD_LETTER else QUEUED
            if not conn.execute(_REJECT, {**params, "p_rejections": rejections, "p_state": state}).rowcount:
                conn.execute(_RELEASE_FAILED, params)  # replaced meanwhile: the newer one gets its chance
        else:
            outcome = RETRY
            # failed: the document steps aside for a while; unavailable: it keeps its place.
            if verdict.kind != FAILED or not conn.execute(_STEP_ASIDE, params).rowcount:
                conn.execute(_RELEASE_FAILED, params)
        _record_delivery(conn, document, verdict, outcome, now, latency)
    return outcome


_ATTEMPT = ("device_id", "date", "outcome", "http_status", "latency_ms", "error")


def _deliveries_upsert(dialect_insert, conflict: str, delivered: bool):
    columns = ("plugin_fusioninventory_agents_id", *_ATTEMPT, "delivered_at", "delivered")
    statement = dialect_insert(deliveries).values({name: bindparam(name) for name in columns})
    new = statement.inserted if conflict == "mysql" else statement.excluded
    changes = {name: new[name] for name in _ATTEMPT}
    if delivered:
        changes.update(delivered_at=new["delivered_at"], delivered=deliveries.c.delivered + 1)
    if conflict == "mysql":
        return statement.on_duplicate_key_update(**changes)
    return statement.on_conflict_do_update(index_elements=[deliveries.c.plugin_fusioninventory_agents_id],
                                           set_=changes)


_DELIVERIES_UPSERT = {(conflict, delivered): _deliveries_upsert(insert_of, conflict, delivered)
                      for conflict, insert_of in (("mysql", mysql.insert), ("sqlite", sqlite.insert))
                      for delivered in (True, False)}


def _record_delivery(conn: Connection, document: Claimed, verdict: Verdict, outcome: str, now: datetime,
                     latency: float) -> None:
    delivered = outcome == DELIVERED
    conn.execute(_DELIVERIES_UPSERT["mysql" if is_mysql(conn) else "sqlite", delivered], {
        "plugin_fusioninventory_agents_id": document.agent_id,
        "device_id": fit_utf8mb3(document.device_id, 255),
        "date": now,
        "outcome": outcome,
        "http_status": verdict.status,
        "latency_ms": int(round(latency * 1000)),
        "error": verdict.reason or None,
        "delivered_at": now if delivered else None,
        "delivered": 1 if delivered else 0,
    })


def document_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(queue)).scalar_one()


__all__ = ["Claimed", "Incoming", "QueueFull", "claim", "document_count", "enqueue", "finish", "waiting_size"]
