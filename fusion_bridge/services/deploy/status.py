"""Deploy progress reports: ``setStatus`` and ``setUserEvent`` (docs/plugin-semantics.md §7.5,
docs/agent-protocol.md §5.2).

As the plugin's ``updateLog``: ``status=ko`` ends the run in Error with ``<step label>:<msg>``;
the messages ``job successfully completed`` and ``job skipped`` end it Finished (Ok log with the
message); anything else is a Running log line ``<step label>:<msg>``. Messages are stored as the
plugin stores them: ``msg[]`` parts joined with newlines, HTML-escaped, ``<br />`` before each
line break, cut to the ``comment`` column.

Unlike the plugin, the uuid must be a deploy run of the calling agent (403 otherwise) that is
handed out (409 otherwise), and a failing *action-level* check (``ko`` at the ``checking`` step
once the job's files were prepared) is logged without ending the run: the agent only skips that
action and goes on.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.services import runs
from fusion_bridge.domain.deploy_order import BadPackage, decode_template, parse_package
from fusion_bridge.errors import InvalidRequest
from fusion_bridge.services.rest.calls import owned_run, rest_agent
from fusion_bridge.domain.text import fit_utf8mb3, local_now
from schema.constants import Method, TaskjobLogState as Log

STEP_LABELS = {"checking": "Checks", "downloading": "Files download", "prepare": "Files preparation",
               "processing": "Actions"}
# Steps after which a ko at ``checking`` can only come from an action's own checks.
LATE_STEPS = ("prepare", "processing")
FINAL_OK = ("job successfully completed", "job skipped")
STATUSES = ("ok", "ko", "warning", "info")
USER_CANCELLED = "User canceled the job"
USER_BEHAVIORS = {"stop": "the job is cancelled", "continue": "the job goes on",
                  "postpone": "the job is postponed", "error_bad_event": "unexpected answer, the job fails"}
RETRY_SEPARATOR = "-" * 40
# MariaDB TEXT holds 65535 bytes; a 3-byte utf8 character counts three.
TEXT_BYTES = 65535

_runs, _jobs, _logs = schema.taskjobstates, schema.taskjobs, schema.taskjoblogs
packages, templates_t = schema.deploypackages, schema.deployuserinteractiontemplates

_NEWLINE = re.compile(r"\r\n|\n\r|\n|\r")


def plugin_text(msg: str | Iterable[str] | None) -> str:
    """``msg`` as the plugin stores it: parts joined by newlines, HTML-escaped, ``nl2br``."""
    if msg is None:
        text = ""
    elif isinstance(msg, str):
        text = msg
    else:
        text = "\n".join(str(part) for part in msg)
    # PHP htmlspecialchars with its default flags before 8.1 (single quotes kept).
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return _NEWLINE.sub(lambda match: "<br />" + match.group(0), text)


def fit_text(value: str) -> str:
    value = fit_utf8mb3(value) or ""
    if len(value.encode("utf-8")) > TEXT_BYTES:
        value = value.encode("utf-8")[:TEXT_BYTES].decode("utf-8", "ignore")
    return value


def with_step(text: str, step: str | None) -> str:
    # An unknown step gives the plugin an empty label (and a PHP notice).
    return text if step is None else f"{STEP_LABELS.get(step, '')}:{text}"


class DeployStatusCalls:
    def __init__(self, engine: Engine):
        self._engine = engine

    def set_status(self, machine_id: str | None, uuid: str | None, status: str | None,
                   msg: str | list[str] | None, step: str | None, now: datetime | None = None) -> dict:
        now = now or local_now()
        if not uuid:
            raise InvalidRequest("missing uuid")
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"unknown status {status[:20]!r}: expected ok, ko, warning or info")
        raw = msg if isinstance(msg, str) or msg is None else "\n".join(msg)
        text = plugin_text(msg)
        with self._engine.begin() as conn:
            agent = rest_agent(conn, machine_id)
            run = _owned_run(conn, agent.id, uuid)
            if status == "ko":
                if step == "checking" and _past_preparation(conn, run.id):
                    # An action's own check failed: the agent skips that action only.
                    runs.add_log(conn, run.id, Log.RUNNING, fit_text(with_step(text, step)), now,
                                 run.itemtype, run.items_id)
                else:
                    runs.fail(conn, run.id, fit_text(with_step(text, step)), now, run.items_id, run.itemtype)
            elif raw in FINAL_OK:
                runs.finish(conn, run.id, fit_text(text), now, run.items_id, run.itemtype)
            else:
                runs.add_log(conn, run.id, Log.RUNNING, fit_text(with_step(text, step)), now,
                             run.itemtype, run.items_id)
        return {}

    def set_user_event(self, machine_id: str | None, uuid: str | None, behavior: str | None,
                       kind: str | None, event: str | None, user: str | None, step: str | None,
                       now: datetime | None = None) -> dict:
        """An answer to a user interaction (Windows agents): stop, continue, postpone or
        error_bad_event, logged with who answered what."""
        now = now or local_now()
        if not uuid:
            raise InvalidRequest("missing uuid")
        if behavior not in USER_BEHAVIORS:
            raise InvalidRequest(f"unknown behavior {str(behavior)[:40]!r}: expected one of "
                                 + ", ".join(USER_BEHAVIORS))
        detail = f"user interaction {kind or '?'}, event {event or '?'}"
        if user:
            detail += f", user {user}"
        message = fit_text(with_step(plugin_text(f"{detail}: {USER_BEHAVIORS[behavior]}"), step))
        with self._engine.begin() as conn:
            agent = rest_agent(conn, machine_id)
            run = _owned_run(conn, agent.id, uuid)
            if behavior == "error_bad_event":
                runs.fail(conn, run.id, message, now, run.items_id, run.itemtype)
            elif behavior == "stop":
                runs.add_log(conn, run.id, Log.ERROR, message, now, run.itemtype, run.items_id)
                runs.cancel(conn, run.id, USER_CANCELLED, now, only_from=runs.HANDED_OUT)
            elif behavior == "continue":
                runs.add_log(conn, run.id, Log.RUNNING, message, now, run.itemtype, run.items_id)
            else:
                runs.add_log(conn, run.id, Log.RUNNING, message, now, run.itemtype, run.items_id)
                _postpone(conn, run, kind, now)
        return {}


def _owned_run(conn: Connection, agent_id: int, uuid: str):
    """The calling agent's handed-out deploy run of that uuid, locked."""
    return owned_run(conn, agent_id, uuid, Method.DEPLOY, "a deploy job")


def _past_preparation(conn: Connection, run_id: int) -> bool:
    """Whether the agent already reported the files preparation or the actions of this run."""
    return conn.execute(
        select(_logs.c.id).where(
            _logs.c.plugin_fusioninventory_taskjobstates_id == run_id, _logs.c.state == int(Log.RUNNING),
            or_(*[_logs.c.comment.like(STEP_LABELS[step] + ":%") for step in LATE_STEPS]))
        .limit(1)
    ).first() is not None


def _postpone(conn: Connection, run, kind: str | None, now: datetime) -> None:
    """The plugin's ``postpone()``: Postponed; when the interaction has a template, the run is
    offered again ``retry_after`` seconds later, at most ``nb_max_retry`` times."""
    if not runs.postpone(conn, run.id, "Job postponed by the user", now):
        return
    template = _interaction_template(conn, run.items_id, kind)
    if not template:
        return
    retry_after = _int(template.get("retry_after"))
    max_retry = _int(template.get("nb_max_retry"))
    attempt = (run.nb_retry or 0) + 1
    start = now + timedelta(seconds=max(retry_after, 0))
    runs.reoffer(conn, run.id, start, max_retry, attempt)
    # Offered anew: in a push task it is pushed again from its new start, with fresh retries.
    conn.execute(update(schema.bridge_runs).where(schema.bridge_runs.c.plugin_fusioninventory_taskjobstates_id == run.id)
                 .values(pushes=0, pushed_at=None))
    runs.add_log(conn, run.id, Log.INFO, RETRY_SEPARATOR, now)
    runs.add_log(conn, run.id, Log.STARTED, f"Job available for next execution at {start:%Y-%m-%d %H:%M:%S}", now)
    runs.add_log(conn, run.id, Log.INFO, "Maximum number of retry reached: force deployment"
                 if max_retry > 0 and attempt >= max_retry else f"Retry #{attempt}", now)


def _interaction_template(conn: Connection, package_id: int, kind: str | None) -> dict:
    raw = conn.execute(select(packages.c.json).where(packages.c.id == package_id)).scalar()
    try:
        package_jobs, _files = parse_package(raw)
    except BadPackage:
        return {}
    for item in package_jobs.get("userinteractions") or []:
        if isinstance(item, dict) and item.get("type") == kind and str(item.get("template", "")).strip().isdigit():
            row = conn.execute(select(templates_t.c.json).where(
                templates_t.c.id == int(str(item["template"]).strip()))).scalar()
            return decode_template(row)
    return {}


def _int(value) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0

