"""Error replies. Every refusal is logged with its reason; clients never see a traceback."""

from __future__ import annotations

import json
import logging
import re

from flask import Response, request

import protocol
from fusion_bridge.throttled_log import ThrottledLog

log = logging.getLogger("fusion_bridge.agent")

_refusals = ThrottledLog()
# The variable parts of a reason (quoted values, numbers): refusals that differ only there are
# one kind for the throttle.
_VARIABLE = re.compile(r"'[^']*'|\"[^\"]*\"|\d+")


def log_refusal(method: str, path: str, remote: str | None, status: int, reason: str) -> None:
    """A WARNING line per refusal; the same refusal again within the interval is counted into
    the next line instead (an agent refused keeps coming back)."""
    kind = (status, _VARIABLE.sub("_", reason)[:80])
    _refusals.log(log, logging.WARNING, kind, "%s %s from %s refused (%d): %s", method, path, remote, status, reason)


def xml_error_body(reason: str, encoding: str) -> tuple[bytes, str]:
    """``<REPLY><ERROR>reason</ERROR></REPLY>``, compressed like the request."""
    return protocol.encode_reply(protocol.error_reply(reason), encoding)


def xml_error(status: int, reason: str, encoding: str, headers: dict | None = None) -> Response:
    log_refusal(request.method, request.path, request.remote_addr, status, reason)
    response = error_response(status, reason, encoding)
    response.headers.update(headers or {})
    return response


def json_error(status: int, reason: str, log_reason: str | None = None) -> Response:
    log_refusal(request.method, request.path, request.remote_addr, status, log_reason or reason)
    return error_response(status, reason, None)


def error_response(status: int, reason: str, xml_encoding: str | None) -> Response:
    """The error itself, already logged: XML compressed like the request, or JSON."""
    if xml_encoding is not None:
        payload, content_type = xml_error_body(reason, xml_encoding)
        return Response(payload, status, content_type=content_type)
    return Response(json_error_body(reason), status, content_type="application/json")


def json_error_body(reason: str) -> bytes:
    return json.dumps({"error": reason}, separators=(",", ":")).encode()
