"""Errors as HTTP answers: the one table from what happened to a status, the log line, the bodies.

Services raise the errors of ``fusion_bridge.errors`` (the codec its ``ProtocolError``); only
this module knows their HTTP status. Every entry point — the blueprints, the app's own handlers
and the WSGI fast paths that answer before Flask (``rest_endpoint``, ``xml_endpoint``) — turns
an exception into a ``Failure`` here and logs it here, so an agent or API client gets the same
status, reason and log line whichever path answered. Clients never see a traceback.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from http import HTTPStatus

from flask import Response, request
from werkzeug.exceptions import HTTPException

import protocol
from fusion_bridge import errors
from fusion_bridge.adapters import db_errors
from fusion_bridge.adapters.db_retry import DATABASE_ERRORS
from fusion_bridge.throttled_log import ThrottledLog
from fusion_bridge.ops import metrics

log = logging.getLogger("fusion_bridge.http")

INTERNAL_ERROR = "internal server error"

# What happened -> HTTP status, and the reason the client reads (None: the error's own
# ``reason``, written for the client). The entry of the nearest class in the error's MRO wins.
STATUSES: dict[type[BaseException], tuple[int, str | None]] = {
    errors.InvalidRequest: (400, None),  # DefinitionError included
    errors.UnknownAgent: (400, None),  # the plugin's answer
    errors.UnknownRun: (400, None),
    errors.NotYours: (403, None),
    errors.NotFound: (404, None),
    errors.Conflict: (409, None),  # NotHandedOut included
    errors.Unavailable: (503, None),
    errors.SecretUnavailable: (503, None),  # a secret the bridge cannot read: not the client's fault
    protocol.ProtocolError: (400, None),
    protocol.BodyTooLarge: (413, None),
}


@dataclass(frozen=True)
class Failure:
    status: int
    reason: str  # what the client reads
    explanation: str | None = None  # werkzeug's sentence for its own refusals (the admin API shows it)


def failure_of(error: BaseException) -> Failure:
    if isinstance(error, DATABASE_ERRORS):  # the reason says which failure (deadlock, timeout...)
        return Failure(503, db_errors.reason(error))
    for cls in type(error).__mro__:
        if cls in STATUSES:
            status, reason = STATUSES[cls]
            return Failure(status, reason or error.reason)
    if isinstance(error, HTTPException):  # werkzeug's own refusals (413, 405, ...) carry their status
        return Failure(error.code or 400, error.name, error.description)
    return Failure(500, INTERNAL_ERROR)


def log_failure(failure: Failure, error: BaseException, method: str, path: str, remote: str | None) -> None:
    """One line per failed request: a refusal (4xx) with its reason, a database error, or the
    traceback of an unexpected one. Refusals and database errors are counted by kind
    (``ops.metrics``): the error's class, never its text."""
    if failure.status < 500:
        detail = error.detail if isinstance(error, errors.DomainError) else failure.explanation or failure.reason
        kind = None if isinstance(error, HTTPException) else metrics.snake(type(error).__name__)
        log_refusal(method, path, remote, failure.status, detail, kind)
    elif isinstance(error, DATABASE_ERRORS):
        metrics.current.database_error(db_errors.classify(error).kind.replace(" ", "_"))
        db_errors.log_failure(log, f"{method} {path}", error)  # its kind and code, never its text
    elif isinstance(error, errors.DomainError):
        log.error("%s %s from %s failed (%d): %s", method, path, remote, failure.status, error.detail)
    else:
        log.error("unexpected error on %s %s", method, path, exc_info=error)


_refusals = ThrottledLog()
# The variable parts of a reason (quoted values, numbers): refusals that differ only there are
# one kind for the throttle.
_VARIABLE = re.compile(r"'[^']*'|\"[^\"]*\"|\d+")


def log_refusal(method: str, path: str, remote: str | None, status: int, reason: str, kind: str | None = None) -> None:
    """A WARNING line per refusal; the same refusal again within the interval is counted into
    the next line instead (an agent refused keeps coming back). ``kind``: what the refusal
    counts as in the metrics (default: the status's name, ``not_found``...)."""
    metrics.current.refusal(kind or metrics.snake(HTTPStatus(status).phrase.replace(" ", "")))
    throttle_key = (status, _VARIABLE.sub("_", reason)[:80])
    _refusals.log(log, logging.WARNING, throttle_key, "%s %s from %s refused (%d): %s",
                  method, path, remote, status, reason)


# --- bodies ----------------------------------------------------------------------------------


def xml_error_body(reason: str, encoding: str,
                   style: protocol.ReplyStyle = protocol.ReplyStyle.FUSIONINVENTORY) -> tuple[bytes, str]:
    """``<REPLY><ERROR>reason</ERROR></REPLY>``, compressed like the request."""
    return protocol.encode_reply(protocol.error_reply(reason, style), encoding)


def json_error_body(reason: str) -> bytes:
    """The agents' REST error body: compact, ASCII-escaped JSON."""
    return json.dumps({"error": reason}, separators=(",", ":")).encode()


def error_response(status: int, reason: str, xml_encoding: str | None) -> Response:
    """The error itself, already logged: XML compressed like the request, or JSON."""
    if xml_encoding is not None:
        payload, content_type = xml_error_body(reason, xml_encoding)
        return Response(payload, status, content_type=content_type)
    return Response(json_error_body(reason), status, content_type="application/json")


# --- in a Flask request ----------------------------------------------------------------------


def failed(error: BaseException) -> Failure:
    """``failure_of(error)``, logged with the current request."""
    failure = failure_of(error)
    log_failure(failure, error, request.method, request.path, request.remote_addr)
    return failure


def json_failure(error: BaseException) -> Response:
    """An error raised by a REST call, answered as a JSON ``{"error": ...}``."""
    failure = failed(error)
    return error_response(failure.status, failure.reason, None)


def request_failure(error: BaseException) -> Response:
    """The app's last resort: XML to a POST (compressed as its Content-Type says, the body is
    not read again), JSON otherwise."""
    failure = failed(error)
    encoding = protocol.sniff_encoding(b"", request.content_type) if request.method == "POST" else None
    return error_response(failure.status, failure.reason, encoding)


def xml_error(status: int, reason: str, encoding: str, headers: dict | None = None) -> Response:
    """A refusal decided by the HTTP layer itself (wrong method...), as an agent reads it."""
    log_refusal(request.method, request.path, request.remote_addr, status, reason)
    response = error_response(status, reason, encoding)
    response.headers.update(headers or {})
    return response


def json_error(status: int, reason: str, log_reason: str | None = None) -> Response:
    """A refusal decided by the HTTP layer itself (unknown path or action...), as JSON."""
    log_refusal(request.method, request.path, request.remote_addr, status, log_reason or reason)
    return error_response(status, reason, None)
