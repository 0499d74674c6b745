"""The agents' XML POSTs, served at the WSGI level.

This is the hot path (every agent run starts with a PROLOG). Flask's request and response
machinery cost about as much CPU as the whole exchange here, so agent POSTs are answered
before Flask is entered; everything else goes on to the Flask app.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

import protocol
from fusion_bridge.adapters import db_errors
from fusion_bridge.adapters.db_retry import DATABASE_ERRORS
from fusion_bridge.services.agent.exchange import Refused
from fusion_bridge.http.errors import log_refusal, xml_error_body
from fusion_bridge.http.paths import is_agent_path

log = logging.getLogger("fusion_bridge.agent")


class AgentXmlEndpoint:
    def __init__(self, app, runtime, server_type: str):
        self._app = app
        self._runtime = runtime
        self._server_type = server_type

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or not is_agent_path(environ.get("PATH_INFO", "")):
            return self._app(environ, start_response)
        status, payload, content_type = self._exchange(environ)
        start_response(f"{status} {HTTPStatus(status).phrase}", [
            ("Content-Type", content_type),
            ("Content-Length", str(len(payload))),
            ("server-type", self._server_type),
        ])
        return [payload]

    def _exchange(self, environ) -> tuple[int, bytes, str]:
        content_type = environ.get("CONTENT_TYPE")
        try:
            body = self._read_body(environ)
            decoded = protocol.decode_request(body, content_type, self._runtime.limits)
            reply = self._runtime.retrying(self._runtime.exchange.handle, decoded.message,
                                           environ.get("HTTP_USER_AGENT") or None, environ.get("REMOTE_ADDR"))
        except protocol.ProtocolError as error:
            return self._refuse(environ, error.status, error.reason, error.encoding)
        except Refused as refusal:
            return self._refuse(environ, 400, refusal.reason, decoded.encoding)
        except DATABASE_ERRORS as error:
            db_errors.log_failure(log, f"POST {environ.get('PATH_INFO')}", error)
            return self._fail(503, db_errors.reason(error), content_type)
        except Exception:
            log.exception("unexpected error on POST %s", environ.get("PATH_INFO"))
            return self._fail(500, "internal server error", content_type)
        payload, reply_type = protocol.encode_reply(reply, decoded.encoding)
        return 200, payload, reply_type

    def _read_body(self, environ) -> bytes:
        limit = self._runtime.config.max_body_bytes
        hint = protocol.sniff_encoding(b"", environ.get("CONTENT_TYPE"))
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise protocol.ProtocolError("invalid Content-Length", hint) from None
        if length > limit:
            raise protocol.BodyTooLarge(f"body larger than {limit} bytes", hint)
        stream = environ["wsgi.input"]
        if length:
            return stream.read(length)
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise protocol.BodyTooLarge(f"body larger than {limit} bytes", hint)
            return body
        return b""

    @staticmethod
    def _refuse(environ, status: int, reason: str, encoding: str) -> tuple[int, bytes, str]:
        log_refusal("POST", environ.get("PATH_INFO", ""), environ.get("REMOTE_ADDR"), status, reason)
        payload, content_type = xml_error_body(reason, encoding)
        return status, payload, content_type

    @staticmethod
    def _fail(status: int, reason: str, content_type: str | None) -> tuple[int, bytes, str]:
        payload, reply_type = xml_error_body(reason, protocol.sniff_encoding(b"", content_type))
        return status, payload, reply_type
