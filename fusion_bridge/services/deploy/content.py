"""The content of a Deploy package: its ``json`` column, entry by entry, as GLPI's UI writes it.

A package's ``json`` (docs/schema.md §6, docs/agent-protocol.md §5.2) is the order the agent runs:

    {"jobs":{"checks":[…],"associatedFiles":[sha512…],"actions":[…],"userinteractions":[…]},
     "associatedFiles":{sha512:{"name":…,"p2p":0,"p2p-retention-duration":0,"uncompress":0}}}

written by PHP's ``json_encode`` with ``JSON_UNESCAPED_SLASHES`` (so ``/`` stays as is, non-ASCII
characters become backslash-u escapes); an empty top-level ``associatedFiles`` is a PHP empty array, hence ``[]``.
The entries below have the keys, key order and value types of the plugin's forms:

* check: ``{"name","type","path","value","return"}``, ``value`` always a string (bytes for the
  file sizes, MB for ``freespaceGreater``, ``""`` for types without a value);
* action: ``{"<type>": {…}}`` with, in this order, ``list``, ``from``, ``to``, ``exec``, ``name``,
  ``logLineLimit`` (a string) for the fields of that type, then ``retChecks``
  (``[{"type":"okCode","values":["0"]}]``, values as strings);
* file: ``{"name","p2p","p2p-retention-duration","uncompress"}`` with integers.

Names and commands go through GLPI 9.5's input sanitising (``<``/``>`` stored as ``&lt;``/``&gt;``):
the UI shows them decoded and the plugin's ``getJobs`` HTML-decodes every ``exec`` before the
agent sees it. Paths, values and patterns are stored as given, since nothing decodes them for the
agent. The functions here validate and build entries; they touch no database.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from fusion_bridge.services.admin.base import DefinitionError, reject_unknown
from fusion_bridge.domain.text import php_json

CHECK_TYPES = (
    "directoryExists", "directoryMissing", "fileExists", "fileMissing", "fileSizeEquals", "fileSizeGreater",
    "fileSizeLower", "fileSHA512", "fileSHA512mismatch", "freespaceGreater",
    "winkeyExists", "winkeyMissing", "winkeyEquals", "winkeyNotEquals", "winvalueExists", "winvalueMissing",
    "winvalueType",
)
SIZE_CHECKS = ("fileSizeEquals", "fileSizeGreater", "fileSizeLower")
SHA512_CHECKS = ("fileSHA512", "fileSHA512mismatch")
FREE_SPACE_CHECK = "freespaceGreater"
REGISTRY_VALUE_CHECKS = ("winkeyEquals", "winkeyNotEquals")
REGISTRY_TYPE_CHECK = "winvalueType"
# What a failing check does (the agent's CheckProcessor): error/ko abort the job, skip skips it,
# startnow skips the remaining checks, info/warning only report.
CHECK_RETURNS = ("error", "ko", "skip", "info", "warning", "startnow")
REGISTRY_TYPES = ("REG_SZ", "REG_DWORD", "REG_BINARY", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_LINK",
                  "REG_DWORD_BIG_ENDIAN", "REG_NONE")
SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}
FREE_SPACE_UNITS = {"MB": 1, "GB": 1024}  # the agent reads freespaceGreater in MB

ACTION_TYPES = ("cmd", "move", "copy", "mkdir", "delete")
ACTION_FIELDS = {"cmd": ("exec", "name", "logLineLimit", "retChecks"), "move": ("from", "to", "name"),
                 "copy": ("from", "to", "name"), "mkdir": ("list", "name"), "delete": ("list", "name")}
RETCHECK_TYPES = ("okCode", "errorCode", "okPattern", "errorPattern")
DEFAULT_LOG_LINES = 10  # the agent's default, and the UI's

CHECK_FIELDS = ("type", "path", "value", "unit", "name", "return")
FILE_NAME_FORBIDDEN = re.compile(r"[/\\\x00]")
SHA512_HEX = re.compile(r"^[0-9a-fA-F]{128}$")


# --- the whole order --------------------------------------------------------------------------


def new_order() -> dict:
    """What the plugin's ``prepareInputForAdd`` stores for a new package."""
    return {"jobs": {"checks": [], "associatedFiles": [], "actions": [], "userinteractions": []},
            "associatedFiles": {}}


def encode_order(order: Mapping) -> str:
    """The ``json`` column text, byte for byte what the plugin's ``updateOrderJson`` writes."""
    files = order.get("associatedFiles")
    return php_json({**order, "associatedFiles": files or []}, escape_slashes=False)


def decode_order(text: str | None, package_id: int) -> dict:
    """The stored order; a package GLPI left without one reads as new. Broken JSON is an error:
    rewriting it would lose what an administrator may still want to repair in GLPI."""
    if text is None or not text.strip():
        return new_order()
    try:
        order = json.loads(text)
    except ValueError:
        raise DefinitionError(f"package {package_id} has invalid JSON content; repair it in GLPI first") from None
    if not isinstance(order, dict) or not isinstance(order.get("jobs"), dict):
        raise DefinitionError(f"package {package_id} has no 'jobs' object in its JSON content")
    jobs = order["jobs"]
    for key in ("checks", "associatedFiles", "actions", "userinteractions"):
        if not isinstance(jobs.get(key), list):
            # PHP may have stored a list whose first items were removed as an object.
            jobs[key] = list(jobs[key].values()) if isinstance(jobs.get(key), dict) else []
    if not isinstance(order.get("associatedFiles"), dict):
        order["associatedFiles"] = {}
    return order


# --- text and numbers -------------------------------------------------------------------------


def ui_encoded(value: str) -> str:
    """GLPI 9.5's input sanitising of ``<`` and ``>``."""
    return value.replace("<", "&lt;").replace(">", "&gt;")


def _text(value: Any, what: str, required: bool = False) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DefinitionError(f"{what} is required")
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise DefinitionError(f"{what} must be text, got {value!r}")
    return str(value).strip()


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise DefinitionError(f"{what} must be a number, got {value!r}")
    if isinstance(value, str):
        value = value.strip().replace(",", ".")  # the UI takes 5,5 for 5.5
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DefinitionError(f"{what} must be a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        raise DefinitionError(f"{what} must be a positive number, got {value!r}")
    return number


def _number_text(number: float) -> str:
    """PHP's ``strval`` of the value: no ``.0`` for whole numbers."""
    if number == int(number):
        return str(int(number))
    return f"{number:.6f}".rstrip("0").rstrip(".")


def _integer(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool):
        raise DefinitionError(f"{what} must be a whole number, got {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise DefinitionError(f"{what} must be a whole number, got {value!r}") from None
    if number < minimum or number > 2 ** 31 - 1:
        raise DefinitionError(f"{what} must be at least {minimum}, got {number}")
    return number


def _unit(value: Any, units: Mapping[str, int], default: str, what: str) -> int:
    key = default if value is None or value == "" else str(value).strip().upper()
    if key not in units:
        raise DefinitionError(f"unit of {what} must be one of {', '.join(units)}, got {value!r}")
    return units[key]


# --- checks -----------------------------------------------------------------------------------


def check_entry(given: Mapping[str, Any]) -> dict:
    """One check. ``given``: ``type``, ``path``, ``value`` (with ``unit`` B/KB/MB/GB for file sizes,
    default B; MB/GB for free space, default MB), ``name``, ``return`` (default ``error``)."""
    reject_unknown(given, CHECK_FIELDS, "check")
    kind = _text(given.get("type"), "check type", required=True)
    if kind not in CHECK_TYPES:
        raise DefinitionError(f"unknown check type {kind!r}, expected one of: {', '.join(CHECK_TYPES)}")
    path = _text(given.get("path"), f"path of the {kind} check", required=True)
    returned = _text(given.get("return"), "check return") or "error"
    if returned not in CHECK_RETURNS:
        raise DefinitionError(f"check return must be one of {', '.join(CHECK_RETURNS)}, got {returned!r}")
    value = _check_value(kind, given.get("value"), given.get("unit"))
    return {"name": ui_encoded(_text(given.get("name"), "check name")), "type": kind, "path": path,
            "value": value, "return": returned}


def _check_value(kind: str, value: Any, unit: Any) -> str:
    what = f"value of the {kind} check"
    missing = value is None or (isinstance(value, str) and not value.strip())
    if kind in SIZE_CHECKS:
        if missing:
            raise DefinitionError(f"{what} (a size) is required")
        size = _number(value, what) * _unit(unit, SIZE_UNITS, "B", what)
        return str(int(round(size)))
    if kind == FREE_SPACE_CHECK:
        if missing:
            raise DefinitionError(f"{what} (in MB) is required")
        return _number_text(_number(value, what) * _unit(unit, FREE_SPACE_UNITS, "MB", what))
    if unit not in (None, ""):
        raise DefinitionError(f"a {kind} check takes no unit")
    if kind in SHA512_CHECKS:
        text = _text(value, what, required=True)
        if not SHA512_HEX.match(text):
            raise DefinitionError(f"{what} must be a sha512 (128 hexadecimal digits)")
        return text.lower()
    if kind == REGISTRY_TYPE_CHECK:
        text = _text(value, what, required=True).upper()
        if text not in REGISTRY_TYPES:
            raise DefinitionError(f"{what} must be one of {', '.join(REGISTRY_TYPES)}")
        return text
    if kind in REGISTRY_VALUE_CHECKS:
        return "" if value is None else _text(value, what)
    if not missing:
        raise DefinitionError(f"a {kind} check takes no value")
    return ""


# --- actions ----------------------------------------------------------------------------------


def action_entry(given: Mapping[str, Any]) -> dict:
    """One action. ``given``: ``type`` plus, for ``cmd``: ``exec``, ``logLineLimit`` (-1 all,
    0 none; default 10), ``retChecks`` (``[{"type": "okCode", "values": [0, 3010]}]``);
    ``move``/``copy``: ``from``, ``to``; ``mkdir``/``delete``: ``list`` (paths); all: ``name``."""
    kind = _text(given.get("type"), "action type", required=True)
    if kind not in ACTION_TYPES:
        raise DefinitionError(f"unknown action type {kind!r}, expected one of: {', '.join(ACTION_TYPES)}")
    reject_unknown(given, ("type", *ACTION_FIELDS[kind]), f"{kind} action")
    body: dict[str, Any] = {}
    if kind in ("mkdir", "delete"):
        body["list"] = _paths(given.get("list"), f"list of the {kind} action")
    if kind in ("move", "copy"):
        body["from"] = _text(given.get("from"), f"'from' of the {kind} action", required=True)
        body["to"] = _text(given.get("to"), f"'to' of the {kind} action", required=True)
    if kind == "cmd":
        body["exec"] = ui_encoded(_text(given.get("exec"), "command (exec)", required=True))
    body["name"] = ui_encoded(_text(given.get("name"), "action name"))
    if kind == "cmd":
        limit = given.get("logLineLimit")
        body["logLineLimit"] = str(DEFAULT_LOG_LINES if limit is None else _integer(limit, "logLineLimit", -1))
        checks = ret_checks(given.get("retChecks"))
        if checks:
            body["retChecks"] = checks
    return {kind: body}


def _paths(values: Any, what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple)) or not values:
        raise DefinitionError(f"{what} needs at least one path")
    return [_text(value, f"path in the {what}", required=True) for value in values]


def ret_checks(values: Any) -> list[dict]:
    """How the agent judges a command: ``[{"type": okCode|errorCode|okPattern|errorPattern,
    "values": [...]}]``; codes are whole numbers, patterns non-empty. Stored as strings."""
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        raise DefinitionError("retChecks must be a list of {\"type\": ..., \"values\": [...]}")
    checks = []
    for value in values:
        if not isinstance(value, Mapping) or set(value) - {"type", "values", "value"} or "type" not in value:
            raise DefinitionError(f"a retCheck is {{\"type\": ..., \"values\": [...]}}, got {value!r}")
        kind = value["type"]
        if kind not in RETCHECK_TYPES:
            raise DefinitionError(f"retCheck type must be one of {', '.join(RETCHECK_TYPES)}, got {kind!r}")
        raw = value.get("values", value.get("value"))
        raw = list(raw) if isinstance(raw, (list, tuple)) else [raw]
        if not raw or raw == [None]:
            raise DefinitionError(f"a {kind} retCheck needs a value")
        if kind.endswith("Code"):
            texts = [str(_integer(code, f"{kind} value", -2 ** 31)) for code in raw]
        else:
            texts = [_text(pattern, f"{kind} value", required=True) for pattern in raw]
        checks.append({"type": kind, "values": texts})
    return checks


# --- files ------------------------------------------------------------------------------------


def file_entry(name: Any, *, p2p: Any = False, p2p_retention_minutes: Any = 0, uncompress: Any = False) -> dict:
    """A file's entry in the top-level ``associatedFiles``. ``name`` is the name the agent gives
    the assembled file in its work directory, hence a plain file name."""
    text = _text(name, "file name", required=True)
    if FILE_NAME_FORBIDDEN.search(text) or text in (".", ".."):
        raise DefinitionError(f"file name {text!r} must be a plain name, without / or \\")
    if len(text) > 255:
        raise DefinitionError("file name is longer than 255 characters")
    return {"name": text, "p2p": _flag(p2p, "p2p"),
            "p2p-retention-duration": _integer(p2p_retention_minutes, "p2p_retention (minutes)", 0),
            "uncompress": _flag(uncompress, "uncompress")}


def _flag(value: Any, what: str) -> int:
    if isinstance(value, bool) or value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false", "yes", "no"):
        return int(value.strip().lower() in ("1", "true", "yes"))
    raise DefinitionError(f"{what} must be true or false, got {value!r}")


def summary(order: Mapping) -> dict[str, int]:
    jobs = order["jobs"]
    return {key: len(jobs[key]) for key in ("checks", "associatedFiles", "actions")}
