"""The ground every definition stands on: errors (from ``fusion_bridge.errors``), values as GLPI
stores them, run/log words, and the items (targets and actors) of actions with the methods that
accept them.

Storage conventions (docs/schema.md §1, §3): ``targets``/``actors`` are PHP
``json_encode`` lists of one-key objects with string ids
(``[{"PluginFusioninventoryIPRange":"1"}]``, compact, ``/`` escaped); booleans 0/1; dates in
local time; names and comments with ``<``/``>`` HTML-encoded as GLPI 9.5's input sanitizing
stores them (decoded again when read back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import Table, literal, select
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.errors import DefinitionError, NotFound  # noqa: F401 - re-exported for the admin services
from fusion_bridge.services import runs as runs_service
from fusion_bridge.domain.text import fit_utf8mb3, php_json
from schema.constants import ItemType, Method, TaskjobLogState as Log, TaskjobState as State
from schema.plugin_agents import credentialips
from schema.plugin_collect import collects
from schema.plugin_deploy import deploygroups, deploypackages
from schema.plugin_network import unmanageds

# Rows per statement (IN lists, bulk updates).
CHUNK = 500


# --- values as GLPI stores them -------------------------------------------------------------


def given_text(value: Any, what: str, required: bool) -> str | None:
    """``value`` when it is non-blank text; None when missing or blank (refused when
    ``required``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DefinitionError(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise DefinitionError(f"{what} must be text")
    return value


def glpi_text(value: Any, what: str, max_chars: int | None = 255, required: bool = False) -> str | None:
    """A name or comment as GLPI 9.5's UI stores it: ``<``/``>`` HTML-encoded."""
    value = given_text(value, what, required)
    if value is None:
        return None
    stored = fit_utf8mb3(value.strip().replace("<", "&lt;").replace(">", "&gt;"))
    if max_chars is not None and len(stored) > max_chars:
        raise DefinitionError(f"{what} is too long ({len(stored)} characters stored, at most {max_chars})")
    return stored


def ui_text(stored: str | None) -> str | None:
    """What GLPI's UI shows for a stored name or comment."""
    if stored is None:
        return None
    return stored.replace("&lt;", "<").replace("&gt;", ">")


def positive_id(value: Any, what: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool):
        raise DefinitionError(f"{what} must be a number")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise DefinitionError(f"{what} must be a number, got {value!r}") from None
    if number < 0 or (number == 0 and not allow_zero) or number > 2**31 - 1:
        raise DefinitionError(f"{what} must be a positive number, got {number}")
    return number


def flag(value: Any, what: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false", "yes", "no"):
        return int(value.strip().lower() in ("1", "true", "yes"))
    raise DefinitionError(f"{what} must be true or false, got {value!r}")


def parse_datetime(value: Any, what: str) -> datetime | None:
    """``YYYY-MM-DD[ HH:MM[:SS]]`` (or ISO 8601) in local time; an aware value is converted."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise DefinitionError(f"{what} must be a date like 2024-05-31 18:00, got {value!r}") from None
    else:
        raise DefinitionError(f"{what} must be a date like 2024-05-31 18:00")
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    if not 1970 < moment.year < 2038:
        # GLPI 9.5 stores dates in TIMESTAMP columns.
        raise DefinitionError(f"{what} must be between 1971 and 2037")
    return moment.replace(microsecond=0)


def date_text(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def reject_unknown(values: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise DefinitionError(f"unknown {what} field(s): {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(allowed))})")


def user_fields(given: Mapping[str, Any], names: Mapping[str, str], what: str,
                aliases: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``given`` keyed by user-facing names, the values keyed by the names the code uses.

    The user-facing name of a field is the CLI option's, ``-`` written ``_`` (``--max-agents``
    is ``max_agents``): the API takes the same names, so an error can name the field the way
    the administrator wrote it. ``names`` maps user-facing names to the code's; the code's own
    names (``pool_max_agents``, ``entities_id``), and ``aliases`` (old name → user-facing
    name), are still accepted. A field given under two of its names is refused.
    """
    accepted: dict[str, str] = {internal: user for user, internal in names.items() if internal != user}
    accepted.update(aliases or {})
    accepted.update({user: user for user in names})
    unknown = sorted(key for key in given if key not in accepted)
    if unknown:
        raise DefinitionError(f"unknown {what} field(s): {', '.join(unknown)} "
                              f"(known: {', '.join(sorted(names))})")
    values: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in given.items():
        user = accepted[key]
        if user in seen:
            raise DefinitionError(f"{user} is given twice (as {seen[user]} and {key})")
        seen[user] = key
        values[names[user]] = value
    return values


def row_by_id(conn: Connection, table: Table, row_id: Any, what: str, *, lock: bool = False,
              id_what: str | None = None, where: Iterable[Any] = ()):
    """The row of ``table`` with id ``row_id`` (checked as ``"<id_what or what> id"``), locked
    for update with ``lock``; ``NotFound`` ("<what> <id> does not exist") when there is none or
    it fails one of the extra ``where`` conditions."""
    row_id = positive_id(row_id, f"{id_what or what} id")
    query = select(table).where(table.c.id == row_id, *where)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"{what} {row_id} does not exist")
    return row


def refuse_if_used(used_by: list[int], what: str, how: str = "is a target of",
                   advice: str = "remove it from them first") -> None:
    """Refuse to delete ``what`` (e.g. ``"IP range 3"``) while the actions ``used_by`` use it."""
    if used_by:
        raise DefinitionError(f"{what} {how} action(s) {', '.join(map(str, used_by))}: {advice}")


def entity_exists(conn: Connection, entities_id: int) -> None:
    entities = schema.glpi_entities
    if conn.execute(select(entities.c.id).where(entities.c.id == entities_id)).first() is None:
        raise DefinitionError(f"entity {entities_id} does not exist")


# Words for run states (``taskjobstates.state``) and log states (``taskjoblogs.state``).
RUN_WORDS = {State.PREPARED: "Prepared", State.SERVER_HAS_SENT_DATA: "Started",
             State.AGENT_HAS_SENT_DATA: "Running", State.FINISHED: "Ok", State.IN_ERROR: "Error",
             State.CANCELLED: "Cancelled", State.POSTPONED: "Postponed"}
LOG_WORDS = {state: state.label for state in Log}


def state_word(state: int) -> str:
    return RUN_WORDS.get(state, f"state {state}")


def log_word(state: int) -> str:
    return LOG_WORDS.get(state, f"state {state}")


# --- items in targets and actors ------------------------------------------------------------

# The short names the CLI and API accept, besides the full item type names.
ITEM_ALIASES = {
    "iprange": ItemType.IP_RANGE,
    "networkequipment": ItemType.NETWORK_EQUIPMENT,
    "printer": ItemType.PRINTER,
    "computer": ItemType.COMPUTER,
    "agent": ItemType.AGENT,
    "group": ItemType.GROUP,
    "deploygroup": ItemType.DEPLOY_GROUP,
    "package": ItemType.DEPLOY_PACKAGE,
    "deploypackage": ItemType.DEPLOY_PACKAGE,
    "collect": ItemType.COLLECT,
    "credentialip": ItemType.CREDENTIAL_IP,
}

# Where an item type's rows live, for existence checks and names.
ITEM_TABLES = {
    ItemType.IP_RANGE: schema.ipranges,
    ItemType.NETWORK_EQUIPMENT: schema.glpi_networkequipments,
    ItemType.PRINTER: schema.glpi_printers,
    ItemType.COMPUTER: schema.glpi_computers,
    ItemType.AGENT: schema.agents,
    ItemType.GROUP: schema.glpi_groups,
    ItemType.DEPLOY_GROUP: deploygroups,
    ItemType.DEPLOY_PACKAGE: deploypackages,
    ItemType.COLLECT: collects,
    ItemType.CREDENTIAL_IP: credentialips,
    ItemType.UNMANAGED: unmanageds,
}

# Item types each method accepts as targets and as actors, as the plugin's UI offers them
# (docs/schema.md §3.2). ``inventory`` is the plugin's hidden method: not a task action.
METHODS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Method.WAKEONLAN: ((ItemType.COMPUTER, ItemType.DEPLOY_GROUP), (ItemType.AGENT,)),
    Method.NETWORK_DISCOVERY: ((ItemType.IP_RANGE,), (ItemType.AGENT,)),
    Method.NETWORK_INVENTORY: ((ItemType.IP_RANGE, ItemType.NETWORK_EQUIPMENT, ItemType.PRINTER),
                               (ItemType.AGENT,)),
    Method.ESX: ((ItemType.CREDENTIAL_IP,), (ItemType.AGENT,)),
    Method.DEPLOY: ((ItemType.DEPLOY_PACKAGE,),
                    (ItemType.AGENT, ItemType.COMPUTER, ItemType.DEPLOY_GROUP, ItemType.GROUP)),
    Method.COLLECT: ((ItemType.COLLECT,),
                     (ItemType.AGENT, ItemType.COMPUTER, ItemType.DEPLOY_GROUP, ItemType.GROUP)),
}
# Old method names the plugin's migrations rename.
METHOD_ALIASES = {"netdiscovery": Method.NETWORK_DISCOVERY, "snmpinventory": Method.NETWORK_INVENTORY,
                  "esx": Method.ESX, "deploy": Method.DEPLOY}


def method_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(f"method is required, one of: {', '.join(METHODS)}")
    key = value.strip().lower()
    for method in METHODS:
        if method.lower() == key:
            return method
    if key in METHOD_ALIASES:
        return METHOD_ALIASES[key]
    if key == Method.INVENTORY:
        raise DefinitionError("the inventory method is the agent's own computer inventory, not a task action")
    raise DefinitionError(f"unknown method {value!r}, expected one of: {', '.join(METHODS)}")


def item_type(name: str) -> str:
    key = name.strip().lower()
    if key in ITEM_ALIASES:
        return ITEM_ALIASES[key]
    for itemtype in ITEM_TABLES:
        if itemtype.lower() == key:
            return itemtype
    raise DefinitionError(f"unknown item type {name!r}, expected one of: "
                          f"{', '.join(ITEM_ALIASES)} or a full item type name")


def parse_item(value: Any) -> tuple[str, int]:
    """One target or actor: ``("Itemtype", id)``, ``"iprange:1"``, ``{"itemtype": .., "id": ..}``
    or the plugin's own ``{"PluginFusioninventoryIPRange": "1"}``."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        kind, item_id = value
    elif isinstance(value, str) and ":" in value:
        kind, item_id = value.rsplit(":", 1)
    elif isinstance(value, Mapping) and set(value) == {"itemtype", "id"}:
        kind, item_id = value["itemtype"], value["id"]
    elif isinstance(value, Mapping) and len(value) == 1:
        [(kind, item_id)] = value.items()
    else:
        raise DefinitionError(f"an item is written type:id (e.g. iprange:1), got {value!r}")
    if not isinstance(kind, str):
        raise DefinitionError(f"an item type is a name, got {kind!r}")
    return item_type(kind), positive_id(item_id, f"id of {kind}")


def encode_items(items: Iterable[tuple[str, int]]) -> str:
    """The plugin's ``targets``/``actors`` text: ``[{"Itemtype":"id"},...]``."""
    return php_json([{itemtype: str(item_id)} for itemtype, item_id in items])


def check_items(conn: Connection, items: list[tuple[str, int]], allowed: tuple[str, ...], what: str,
                method: str) -> None:
    """Refuse an empty list, item types the method does not take, and missing or trashed items."""
    if not items:
        raise DefinitionError(f"a {method} action needs at least one {what[:-1]}")
    for itemtype, item_id in items:
        if itemtype not in allowed:
            article = "an" if what.startswith("a") else "a"
            raise DefinitionError(f"{itemtype} cannot be {article} {what[:-1]} of a {method} action "
                                  f"(allowed: {', '.join(allowed)})")
    found = item_names(conn, items, with_flags=True)
    for itemtype, item_id in items:
        if (itemtype, item_id) not in found:
            raise DefinitionError(f"{what[:-1]} {itemtype} {item_id} does not exist")
        if found[(itemtype, item_id)][1]:
            raise DefinitionError(f"{what[:-1]} {itemtype} {item_id} is in the trash")


def item_names(conn: Connection, items: Iterable[tuple[str, int]], with_flags: bool = False) -> dict:
    """``{(itemtype, id): name}`` for the items that exist, one query per item type and chunk;
    with ``with_flags``, ``{(itemtype, id): (name, in_trash)}``."""
    wanted: dict[str, set[int]] = {}
    for itemtype, item_id in items:
        if itemtype in ITEM_TABLES:
            wanted.setdefault(itemtype, set()).add(item_id)
    names: dict = {}
    for itemtype, ids in wanted.items():
        table = ITEM_TABLES[itemtype]
        trash = table.c.is_deleted if "is_deleted" in table.c else literal(0)
        id_list = sorted(ids)
        for start in range(0, len(id_list), CHUNK):
            query = select(table.c.id, table.c.name, trash.label("trash")).where(
                table.c.id.in_(id_list[start:start + CHUNK]))
            for row in conn.execute(query):
                name = ui_text(row.name)
                names[(itemtype, row.id)] = (name, bool(row.trash)) if with_flags else name
    return names


def describe_items(conn: Connection, raw: str | None) -> list[dict]:
    items = runs_service.parse_item_list(raw)
    names = item_names(conn, items)
    return [{"itemtype": t, "id": i, "name": names.get((t, i))} for t, i in items]
