"""GLPI Agent's JSON protocol (docs/glpi10-protocol.md §4, §5): small immutable values and
pure read/write functions, beside the OCS/XML codec.

GLPI Agent posts JSON documents ``{"action": …}`` to the same URL as the XML messages, usually
zlib-compressed with the XML Content-Type (``application/x-compress-zlib``): a body is JSON
when its decompressed text starts with ``{`` (or ``[``), whatever the headers say
(docs/glpi10-protocol.md §4.1). ``decode_agent_request`` tells the two apart and decompresses
once. Replies are compact JSON with PHP's escaping (``/`` as
``\\/``, non-ASCII as ``\\u`` escapes), keys in GLPI 10's order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Collection, Mapping, Union

from . import compression
from .decode import MAX_DEVICE_ID, Decoded, Limits, xml_message
from .errors import ProtocolError


class JsonProtocolError(ProtocolError):
    """A JSON request the codec refuses: answered in JSON (``JsonErrorReply``)."""

JSON_CONTENT_TYPE = "application/json"
# Request headers a GLPI server sends back unchanged (docs/glpi10-protocol.md §4.3).
AGENT_ID_HEADER = "GLPI-Agent-ID"
REQUEST_ID_HEADER = "GLPI-Request-ID"
ECHOED_HEADERS = (AGENT_ID_HEADER, REQUEST_ID_HEADER)
MAX_ECHOED = 128
_ECHOABLE = re.compile(r"[A-Za-z0-9._:{}-]+")

# Bounds of a CONTACT (an agent sends a dozen short task names).
MAX_TASKS = 64
MAX_TASK_NAME = 64
MAX_TEXT = 255
_TASK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DEFAULT_EXPIRATION = "24"


# --- requests ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JsonRequest:
    """A JSON document posted by GLPI Agent: its ``action`` and the whole object."""

    action: str
    document: Mapping
    encoding: str


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """A CONTACT (docs/glpi10-protocol.md §4.2). Task names are lower case, in the agent's order (it sorts them)."""

    device_id: str
    enabled_tasks: tuple[str, ...] = ()
    installed_tasks: tuple[str, ...] = ()
    name: str | None = None  # the agent's program name, "GLPI-Agent"
    version: str | None = None  # the agent's version, "1.11"
    tag: str | None = None
    httpd_port: int | None = None
    httpd_plugins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JsonInventory:
    """A GLPI Agent inventory (docs/glpi10-protocol.md §4.6), as much as the bridge reads of it:
    who sent it and which machine it describes. ``content`` holds the machine's identity in the
    shape the XML reader gives an INVENTORY's CONTENT (``{"HARDWARE": [{"UUID": ["…"], "NAME":
    […]}], "BIOS": [{"SSN": […]}]}``), so that code naming the machine of an XML inventory names
    this one too."""

    device_id: str
    content: Mapping
    version_client: str | None = None  # "GLPI-Agent_v1.11"


def is_json_text(text: bytes, content_type: str | None = None) -> bool:
    """Whether a decompressed body is JSON rather than an XML document: it opens an object or
    an array, or it is declared JSON and does not open an element."""
    first = text.lstrip()[:1]
    if first in (b"{", b"["):
        return True
    return first != b"<" and JSON_CONTENT_TYPE in (content_type or "").lower()


def decode_agent_request(body: bytes, content_type: str | None = None, limits: Limits = Limits(),
                         inventory_sections: Collection[str] | None = None) -> Union[Decoded, JsonRequest]:
    """An agent's POST body as an XML message (``Decoded``, as ``decode_request``) or a
    ``JsonRequest``; raise ProtocolError with a reason otherwise."""
    if not body:
        raise ProtocolError("empty body: expected an XML REQUEST or a JSON document")
    encoding = compression.sniff_encoding(body, content_type)
    text = compression.decompress(body, encoding, limits.max_decompressed)
    if is_json_text(text, content_type):
        return read_json_request(text, encoding)
    return Decoded(xml_message(text, encoding, limits, inventory_sections), encoding)


def read_json_request(text: bytes, encoding: str = compression.PLAIN) -> JsonRequest:
    """A decompressed JSON body: an object with a string ``action``."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise JsonProtocolError(f"malformed JSON: {_short(error)}", encoding) from None
    if not isinstance(document, dict):
        raise JsonProtocolError("JSON request is not an object", encoding)
    action = document.get("action")
    if not isinstance(action, str) or not action:
        raise JsonProtocolError("JSON request has no \"action\"", encoding)
    if len(action) > MAX_TASK_NAME or _CONTROL.search(action):
        raise JsonProtocolError("JSON request has an invalid \"action\"", encoding)
    return JsonRequest(action.lower(), document, encoding)


def read_contact(request: JsonRequest) -> ContactRequest:
    """The CONTACT in ``request``; raise ProtocolError naming the field that is wrong."""
    document, encoding = request.document, request.encoding
    if request.action != "contact":
        raise JsonProtocolError(f"not a CONTACT: action {request.action!r}", encoding)
    device_id = _text(document, "deviceid", encoding, MAX_DEVICE_ID)
    if not device_id:
        raise JsonProtocolError("CONTACT has no deviceid", encoding)
    port = document.get("httpd-port")
    if port is not None:
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise JsonProtocolError("CONTACT httpd-port is not a port number", encoding)
    return ContactRequest(
        device_id=device_id,
        enabled_tasks=_task_names(document, "enabled-tasks", encoding),
        installed_tasks=_task_names(document, "installed-tasks", encoding),
        name=_text(document, "name", encoding),
        version=_text(document, "version", encoding),
        tag=_text(document, "tag", encoding),
        httpd_port=port,
        httpd_plugins=_plugin_names(document, encoding),
    )


def _text(document: Mapping, key: str, encoding: str, limit: int = MAX_TEXT, what: str = "CONTACT") -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a version or tag written as a number
    if not isinstance(value, str):
        raise JsonProtocolError(f"{what} {key} is not a string", encoding)
    if len(value) > limit:
        raise JsonProtocolError(f"{what} {key} longer than {limit} characters", encoding)
    if _CONTROL.search(value):
        raise JsonProtocolError(f"{what} {key} contains control characters", encoding)
    return value


def read_json_inventory(request: JsonRequest) -> JsonInventory:
    """The JSON inventory in ``request`` (docs/glpi10-protocol.md §4.6): a ``deviceid`` and a
    ``content`` object; raise ProtocolError naming what is wrong. Nothing else of the content is
    interpreted: GLPI's import reads it."""
    document, encoding = request.document, request.encoding
    if request.action != "inventory":
        raise JsonProtocolError(f"not an inventory: action {request.action!r}", encoding)
    device_id = _text(document, "deviceid", encoding, MAX_DEVICE_ID, what="inventory")
    if not device_id:
        raise JsonProtocolError("inventory has no deviceid", encoding)
    content = document.get("content")
    if not isinstance(content, dict) or not content:
        raise JsonProtocolError("inventory has no content object", encoding)
    hardware, bios = content.get("hardware"), content.get("bios")
    identity = {"HARDWARE": [_fields(hardware, ("uuid", "name"))], "BIOS": [_fields(bios, ("ssn",))]}
    version = content.get("versionclient")
    return JsonInventory(device_id, identity,
                         version[:MAX_TEXT] if isinstance(version, str) and not _CONTROL.search(version) else None)


def _fields(section, keys: tuple[str, ...]) -> dict:
    """Text fields of a JSON section in the XML reader's shape: ``{"UUID": ["…"]}``."""
    if not isinstance(section, dict):
        return {}
    return {key.upper(): [value] for key in keys
            if isinstance(value := section.get(key), str) and len(value) <= MAX_TEXT}


def _task_names(document: Mapping, key: str, encoding: str) -> tuple[str, ...]:
    value = document.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise JsonProtocolError(f"CONTACT {key} is not a list", encoding)
    if len(value) > MAX_TASKS:
        raise JsonProtocolError(f"CONTACT {key} lists more than {MAX_TASKS} tasks", encoding)
    names: list[str] = []
    for item in value:
        if not isinstance(item, str) or len(item) > MAX_TASK_NAME or not _TASK_NAME.fullmatch(item):
            raise JsonProtocolError(f"CONTACT {key} holds an invalid task name", encoding)
        if item.lower() not in names:
            names.append(item.lower())
    return tuple(names)


def _plugin_names(document: Mapping, encoding: str) -> tuple[str, ...]:
    """``httpd-plugins``: the names of the agent's HTTP server plugins (a list, or an object
    keyed by name)."""
    value = document.get("httpd-plugins")
    if value is None:
        return ()
    items = list(value) if isinstance(value, (list, dict)) else None
    if items is None or len(items) > MAX_TASKS or not all(
            isinstance(item, str) and 0 < len(item) <= MAX_TASK_NAME and not _CONTROL.search(item)
            for item in items):
        raise JsonProtocolError("CONTACT httpd-plugins is not a list of names", encoding)
    return tuple(items)


def _short(error: BaseException) -> str:
    return str(error)[:120] or type(error).__name__


# --- replies -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnnouncedTask:
    """One entry of a CONTACT reply's ``tasks``: which server runs ``name`` and its version."""

    name: str
    server: str  # "glpi" (core) or "glpiinventory" (the plugin's tasks)
    version: str


@dataclass(frozen=True, slots=True)
class ContactReply:
    """The answer to a CONTACT (docs/glpi10-protocol.md §4.2): the tasks this server runs, and those it does not run
    (``disabled``, each with a sentence in ``messages``)."""

    tasks: tuple[AnnouncedTask, ...] = ()
    disabled: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    expiration: str = DEFAULT_EXPIRATION  # hours, a string as GLPI stores its setting
    status: str = "ok"


@dataclass(frozen=True, slots=True)
class StatusReply:
    """The answer to a PROLOG sent with ``GLPI-Agent-ID`` (docs/glpi10-protocol.md §4.4) and to JSON inventories."""

    expiration: str = DEFAULT_EXPIRATION
    status: str = "ok"


@dataclass(frozen=True, slots=True)
class JsonErrorReply:
    """A refusal in the JSON protocol (docs/glpi10-protocol.md §4.5). GLPI writes ``expiration`` as a number here."""

    message: str
    expiration: int = 24


JsonReply = Union[ContactReply, StatusReply, JsonErrorReply]


def write_json_reply(reply: JsonReply) -> bytes:
    """The bytes of a JSON reply value, keys in GLPI 10's order."""
    if isinstance(reply, ContactReply):
        return _php_json(contact_document(reply))
    if isinstance(reply, StatusReply):
        return _php_json({"expiration": reply.expiration, "status": reply.status})
    if isinstance(reply, JsonErrorReply):
        return _php_json({"status": "error", "message": reply.message, "expiration": reply.expiration})
    raise TypeError(f"not a JSON reply: {type(reply).__name__}")


def contact_document(reply: ContactReply) -> dict:
    """GLPI 10 puts ``message`` and ``disabled`` first when there are any; a core task's entry
    is ``server`` then ``version``, a plugin task's ``version`` then ``server`` (docs/glpi10-protocol.md §4.2)."""
    document: dict = {}
    if reply.disabled or reply.messages:
        document["message"] = ";".join(reply.messages)
        document["disabled"] = list(reply.disabled)
    document["expiration"] = reply.expiration
    document["status"] = reply.status
    if reply.tasks:
        document["tasks"] = {task.name: ({"server": task.server, "version": task.version} if task.server == "glpi"
                                         else {"version": task.version, "server": task.server})
                             for task in reply.tasks}
    return document


def _php_json(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def echoed_headers(headers: Mapping[str, str | None]) -> list[tuple[str, str]]:
    """The ``GLPI-Agent-ID`` / ``GLPI-Request-ID`` request headers to send back (docs/glpi10-protocol.md §4.3), from
    ``headers`` keyed by those names. A value that is not a short token is not echoed."""
    echoed = []
    for name in ECHOED_HEADERS:
        value = headers.get(name)
        if value and len(value) <= MAX_ECHOED and _ECHOABLE.fullmatch(value):
            echoed.append((name, value))
    return echoed
