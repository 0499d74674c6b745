"""Error replies. Every refusal is logged with its reason; clients never see a traceback."""

from __future__ import annotations

import json
import logging

from flask import Response, request

import protocol

log = logging.getLogger("fusion_bridge.agent")


def _log_refusal(status: int, reason: str) -> None:
    log.warning("%s %s from %s refused (%d): %s", request.method, request.path,
                request.remote_addr, status, reason)


def xml_error(status: int, reason: str, encoding: str, headers: dict | None = None) -> Response:
    """``<REPLY><ERROR>reason</ERROR></REPLY>``, compressed like the request."""
    _log_refusal(status, reason)
    payload, content_type = protocol.encode_reply(protocol.error_reply(reason), encoding)
    return Response(payload, status, content_type=content_type, headers=headers)


def json_error(status: int, reason: str, log_reason: str | None = None) -> Response:
    _log_refusal(status, log_reason or reason)
    body = json.dumps({"error": reason}, separators=(",", ":"))
    return Response(body, status, content_type="application/json")
