"""The criterion of a dynamic deploy group that the bridge evaluates itself, stored as GLPI's
search parameters so that GLPI's UI shows it (docs/schema.md §6).

GLPI keeps a dynamic group's criteria in ``_deploygroups_dynamicdatas.fields_array``: the PHP
``serialize()`` of the search form's ``{"criteria": [...], "metacriteria": ...}``, each
criterion ``{"link", "field", "searchtype", "value"}`` on search options of Computer. The
bridge writes, and reads back, only these criteria, ANDed:

* name — option 1 (the computer's name), ``contains`` with GLPI's text syntax: the value
  anywhere in the name, ``^`` anchors it at the start, ``$`` at the end, ``%`` is any text,
  letters in any case;
* entity — option 80, ``equals`` (that entity) or ``under`` (it and its sub-entities);
* location — option 3, ``equals`` (that location only);
* with agent — option 5160 (the plugin's agents' user agent) ``AND NOT`` ``contains NULL``:
  a computer that has an agent.

A group saved in GLPI's UI with anything else is not evaluated here (``parse`` answers None):
the bridge then uses the computers GLPI last cached for it, as it always did. Pure code: no
database; ``services/scheduling/dynamic_groups.py`` evaluates a criterion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NAME_FIELD, ENTITY_FIELD, LOCATION_FIELD, AGENT_FIELD = "1", "80", "3", "5160"


class CriterionError(ValueError):
    """A criterion that cannot be stored."""


@dataclass(frozen=True)
class GroupCriterion:
    name: str | None = None  # GLPI "contains" text
    entity: int | None = None
    entity_recursive: bool = False
    location: int | None = None
    with_agent: bool = False

    def __post_init__(self) -> None:
        if self.name is not None:
            core = self.name.strip().removeprefix("^").removesuffix("$").strip()
            if not core or set(core) <= {"%"}:
                raise CriterionError("the name criterion needs some text besides ^, $ and %")
            if "\\" in self.name:
                raise CriterionError("the name criterion cannot contain a backslash")
        if self.entity_recursive and self.entity is None:
            raise CriterionError("entity_recursive needs an entity")
        if self.name is None and self.entity is None and self.location is None and not self.with_agent:
            raise CriterionError("a dynamic group needs a criterion (name, entity, location or with_agent): "
                                 "without one it would hold every computer")

    def like_pattern(self) -> str | None:
        """The name criterion as an SQL LIKE pattern with ``\\`` as escape, as GLPI builds it."""
        if self.name is None:
            return None
        value = self.name.strip().replace("_", "\\_")
        start = not value.startswith("^")
        end = not value.endswith("$")
        value = value.removeprefix("^").removesuffix("$").strip()
        return ("%" if start else "") + value + ("%" if end else "")

    def search_criteria(self) -> list[dict[str, str]]:
        """GLPI's search criteria for this criterion."""
        found: list[dict[str, str]] = []
        if self.name is not None:
            found.append({"field": NAME_FIELD, "searchtype": "contains", "value": self.name.strip()})
        if self.entity is not None:
            found.append({"field": ENTITY_FIELD, "searchtype": "under" if self.entity_recursive else "equals",
                          "value": str(self.entity)})
        if self.location is not None:
            found.append({"field": LOCATION_FIELD, "searchtype": "equals", "value": str(self.location)})
        if self.with_agent:
            found.append({"link": "AND NOT", "field": AGENT_FIELD, "searchtype": "contains", "value": "NULL"})
        return [{"link": item.pop("link", "AND"), **item} for item in found]

    def fields_array(self) -> str:
        """``_deploygroups_dynamicdatas.fields_array`` as GLPI's UI saves it."""
        return php_serialize({"criteria": self.search_criteria(), "metacriteria": []})

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "entity": self.entity, "entity_recursive": self.entity_recursive,
                "location": self.location, "with_agent": self.with_agent}


def parse(fields_array: str | None) -> GroupCriterion | None:
    """The criterion of a stored ``fields_array``, or None when it holds anything else."""
    try:
        value = php_unserialize(fields_array or "")
    except ValueError:
        return None
    if not isinstance(value, dict) or set(value) - {"criteria", "metacriteria"}:
        return None
    if value.get("metacriteria") not in (None, "", [], {}):
        return None
    criteria = value.get("criteria")
    items = list(criteria.values()) if isinstance(criteria, dict) else criteria
    if not isinstance(items, list) or not items:
        return None
    found: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or set(item) - {"link", "field", "searchtype", "value"}:
            return None
        link, field = str(item.get("link", "AND")), str(item.get("field", ""))
        searchtype, text = str(item.get("searchtype", "")), str(item.get("value", ""))
        if field == AGENT_FIELD:
            if (link, searchtype, text) != ("AND NOT", "contains", "NULL") or "with_agent" in found:
                return None
            found["with_agent"] = True
            continue
        if link != "AND":
            return None
        if field == NAME_FIELD and searchtype == "contains" and "name" not in found:
            found["name"] = text
        elif field == ENTITY_FIELD and searchtype in ("equals", "under") and text.isdigit() and "entity" not in found:
            found["entity"], found["entity_recursive"] = int(text), searchtype == "under"
        elif field == LOCATION_FIELD and searchtype == "equals" and text.isdigit() and "location" not in found:
            found["location"] = int(text)
        else:
            return None
    try:
        return GroupCriterion(**found)
    except CriterionError:
        return None


# --- PHP serialize() of arrays of strings, as GLPI stores them --------------------------------


def php_serialize(value: Any) -> str:
    """PHP ``serialize()`` of dicts/lists (arrays), strings, ints, bools and None."""
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, str):
        return f's:{len(value.encode("utf-8"))}:"{value}";'
    if isinstance(value, (list, tuple)):
        value = dict(enumerate(value))
    if isinstance(value, dict):
        body = "".join(php_serialize(key) + php_serialize(item) for key, item in value.items())
        return f"a:{len(value)}:{{{body}}}"
    raise TypeError(f"cannot serialize {type(value).__name__}")


def php_unserialize(text: str) -> Any:
    """The value of a PHP ``serialize()`` of arrays, strings, numbers, booleans and null
    (arrays come back as dicts). Raises ValueError on anything else."""
    data = text.encode("utf-8")
    value, end = _value(data, 0)
    if end != len(data):
        raise ValueError("trailing data after the serialized value")
    return value


def _until(data: bytes, at: int, stop: bytes) -> tuple[bytes, int]:
    end = data.find(stop, at)
    if end < 0:
        raise ValueError(f"expected {stop!r} at {at}")
    return data[at:end], end + len(stop)


def _value(data: bytes, at: int) -> tuple[Any, int]:
    kind = data[at:at + 2]
    if data[at:at + 2] == b"N;":
        return None, at + 2
    if kind in (b"b:", b"i:", b"d:"):
        raw, at = _until(data, at + 2, b";")
        try:
            number = float(raw) if kind == b"d:" else int(raw)
        except ValueError:
            raise ValueError(f"bad number {raw!r}") from None
        return (bool(number) if kind == b"b:" else number), at
    if kind == b"s:":
        length, at = _until(data, at + 2, b":")
        if not length.isdigit() or data[at:at + 1] != b'"':
            raise ValueError("bad string")
        start = at + 1
        end = start + int(length)
        if data[end:end + 2] != b'";':
            raise ValueError("bad string length")
        return data[start:end].decode("utf-8", "replace"), end + 2
    if kind == b"a:":
        count, at = _until(data, at + 2, b":{")
        if not count.isdigit():
            raise ValueError("bad array")
        items: dict = {}
        for _ in range(int(count)):
            key, at = _value(data, at)
            if not isinstance(key, (int, str)):
                raise ValueError("bad array key")
            items[key], at = _value(data, at)
        if data[at:at + 1] != b"}":
            raise ValueError("bad array end")
        return items, at + 1
    raise ValueError(f"unsupported serialized value at {at}")
