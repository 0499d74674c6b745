"""The agents' XML POSTs, served at the WSGI level.

This is the hot path (every agent run starts with a PROLOG). Flask's request and response
machinery cost about as much CPU as the whole exchange here, so agent POSTs are answered
before Flask is entered; everything else goes on to the Flask app.
"""

from __future__ import annotations

from http import HTTPStatus

import protocol
from fusion_bridge.errors import DomainError
from fusion_bridge.http.errors import failure_of, log_failure, xml_error_body
from fusion_bridge.services.agent.exchange import Received
from fusion_bridge.services.relay.queue import QueueFull
from fusion_bridge.http.paths import is_agent_path
from fusion_bridge.ops.wsgi import set_kind


class AgentXmlEndpoint:
    def __init__(self, app, services, server_type: str):
        """``app``: the WSGI app everything else goes to; ``services``: the worker's
        ``bootstrap.Services``."""
        self._app = app
        self._services = services
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
            decoded = protocol.decode_request(body, content_type, self._services.limits,
                                              self._services.inventory_sections)
            set_kind(environ, decoded.message.query, decoded.message.device_id)
            reply = self._services.retrying(self._services.exchange.handle, decoded.message,
                                            environ.get("HTTP_USER_AGENT") or None, environ.get("REMOTE_ADDR"),
                                            Received(body, content_type, decoded.encoding))
        except protocol.ProtocolError as error:  # compressed as far as the codec could tell
            return self._fail(environ, error, error.encoding)
        except QueueFull as full:
            # Logged once per interval with a count (services/relay/intake.py), not per agent.
            payload, reply_type = xml_error_body(full.reason, decoded.encoding)
            return 503, payload, reply_type
        except DomainError as error:  # the request was decoded: compressed like it
            return self._fail(environ, error, decoded.encoding)
        except Exception as error:  # database, bug: compressed as the Content-Type says
            return self._fail(environ, error, protocol.sniff_encoding(b"", content_type))
        payload, reply_type = protocol.encode_reply(protocol.write_reply(reply), decoded.encoding)
        return 200, payload, reply_type

    def _read_body(self, environ) -> bytes:
        limit = self._services.config.max_body_bytes
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
    def _fail(environ, error: Exception, encoding: str) -> tuple[int, bytes, str]:
        """The error as the app's handlers answer it (``http.errors``), in XML."""
        failure = failure_of(error)
        log_failure(failure, error, "POST", environ.get("PATH_INFO", ""), environ.get("REMOTE_ADDR"))
        payload, content_type = xml_error_body(failure.reason, encoding)
        return failure.status, payload, content_type
