"""The agents' POSTs, served at the WSGI level: FusionInventory's XML messages, and GLPI Agent's
JSON documents on the same paths (docs/glpi10-protocol.md §4).

This is the hot path (every agent run starts with a PROLOG or a CONTACT). Flask's request and
response machinery cost about as much CPU as the whole exchange here, so agent POSTs are
answered before Flask is entered; everything else goes on to the Flask app.

A body is JSON when it decompresses to an object (GLPI Agent compresses it with the XML
Content-Type). A CONTACT goes to the services' ``contact.handle_contact``, an inventory to
``exchange.json_inventory`` (relay mode); other JSON actions are refused with a JSON error. A
PROLOG sent with ``GLPI-Agent-ID`` is answered in JSON only when the contact policy says the
bridge takes JSON inventories (docs/glpi10-protocol.md §4.4);
otherwise in XML, and GLPI Agent keeps the FusionInventory protocol. ``GLPI-Agent-ID`` and
``GLPI-Request-ID`` are sent back on every answer (docs/glpi10-protocol.md §4.3). XML replies
are written in the services' ``reply_style``.
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
            *protocol.echoed_headers({name: environ.get(_environ_key(name)) for name in protocol.ECHOED_HEADERS}),
        ])
        return [payload]

    def _exchange(self, environ) -> tuple[int, bytes, str]:
        content_type = environ.get("CONTENT_TYPE")
        decoded = None
        try:
            body = self._read_body(environ)
            decoded = protocol.decode_agent_request(body, content_type, self._services.limits,
                                                    self._services.inventory_sections)
            if isinstance(decoded, protocol.JsonRequest):
                return self._json_exchange(environ, decoded, Received(body, content_type, decoded.encoding))
            set_kind(environ, decoded.message.query, decoded.message.device_id)
            if (isinstance(decoded.message, protocol.Prolog) and environ.get(_environ_key(protocol.AGENT_ID_HEADER))
                    and self._services.contact.policy.answers_json_prolog):
                return 200, *_json_body(protocol.StatusReply(self._services.contact.policy.expiration),
                                        decoded.encoding)
            reply = self._services.retrying(self._services.exchange.handle, decoded.message,
                                            environ.get("HTTP_USER_AGENT") or None, environ.get("REMOTE_ADDR"),
                                            Received(body, content_type, decoded.encoding))
        except protocol.ProtocolError as error:  # compressed as far as the codec could tell
            return self._fail(environ, error, error.encoding, isinstance(error, protocol.JsonProtocolError))
        except QueueFull as full:
            # Logged once per interval with a count (services/relay/intake.py), not per agent.
            if isinstance(decoded, protocol.JsonRequest):
                return 503, *_json_body(protocol.JsonErrorReply(full.reason), decoded.encoding)
            payload, reply_type = xml_error_body(full.reason, decoded.encoding)
            return 503, payload, reply_type
        except DomainError as error:  # the request was decoded: compressed like it
            return self._fail(environ, error, decoded.encoding, isinstance(decoded, protocol.JsonRequest))
        except Exception as error:  # database, bug: compressed as the Content-Type says
            return self._fail(environ, error, protocol.sniff_encoding(b"", content_type),
                              isinstance(decoded, protocol.JsonRequest))
        payload, reply_type = protocol.encode_reply(protocol.write_reply(reply, self._services.reply_style),
                                                    decoded.encoding)
        return 200, payload, reply_type

    def _json_exchange(self, environ, request: protocol.JsonRequest, received: Received) -> tuple[int, bytes, str]:
        """A GLPI Agent JSON document: a CONTACT is answered by the contact service, an inventory
        queued for GLPI when the bridge relays (docs/glpi10-protocol.md §4.6); any other action is
        refused (§4.5)."""
        if request.action == "inventory":
            # A metric label: one of a fixed few, never the client's text (unbounded label values);
            # set before reading, so that a refused inventory is counted as one.
            set_kind(environ, "JSON-inventory")
            inventory = protocol.read_json_inventory(request)
            set_kind(environ, "JSON-inventory", inventory.device_id)
            self._services.retrying(self._services.exchange.json_inventory, inventory,
                                    environ.get("HTTP_USER_AGENT") or None, environ.get("REMOTE_ADDR"), received)
            return 200, *_json_body(protocol.StatusReply(self._services.contact.policy.expiration),
                                    request.encoding)
        if request.action != "contact":
            set_kind(environ, "JSON-other")
            raise protocol.JsonProtocolError(
                f"action {request.action[:40]!r} is not supported by this server", request.encoding)
        contact = protocol.read_contact(request)
        set_kind(environ, "CONTACT", contact.device_id)
        reply = self._services.retrying(self._services.contact.handle_contact, contact, environ.get("REMOTE_ADDR"),
                                        environ.get("HTTP_USER_AGENT") or None)
        return 200, *_json_body(reply, request.encoding)

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

    def _fail(self, environ, error: Exception, encoding: str, as_json: bool = False) -> tuple[int, bytes, str]:
        """The error as the app's handlers answer it (``http.errors``), in XML, or in JSON to a
        JSON request."""
        failure = failure_of(error)
        log_failure(failure, error, "POST", environ.get("PATH_INFO", ""), environ.get("REMOTE_ADDR"))
        if as_json:
            return failure.status, *_json_body(protocol.JsonErrorReply(failure.reason), encoding)
        payload, content_type = xml_error_body(failure.reason, encoding, self._services.reply_style)
        return failure.status, payload, content_type


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _json_body(reply: protocol.JsonReply, encoding: str) -> tuple[bytes, str]:
    """A JSON reply compressed like the request; uncompressed it is ``application/json``."""
    payload = protocol.write_json_reply(reply)
    if encoding == protocol.PLAIN:
        return payload, protocol.JSON_CONTENT_TYPE
    return protocol.encode_reply(payload, encoding)
