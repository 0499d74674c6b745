"""Class names stored as values — ``itemtype`` columns, task targets and actors — in the
spelling of each schema flavour (docs/schema-layouts.md §5).

The services think in FusionInventory's spelling (``schema.constants.ItemType``). A glpiinventory
database gets its own spelling written (``PluginGlpiinventoryIPRange``; the agent and unmanaged
device classes became GLPI's ``Agent`` and ``Unmanaged``), and either spelling reads back as
FusionInventory's. ``ClassNames`` does it per engine, through the flavour its dialect was given
(``fusion_bridge.adapters.db_layout``); on a fusioninventory engine it adds no processing at all.
"""

from __future__ import annotations

import re

from sqlalchemy import String, Text, TypeDecorator

FUSIONINVENTORY = "fusioninventory"
GLPIINVENTORY = "glpiinventory"

# Plugin classes that became GLPI core classes.
CORE_CLASSES = {"PluginFusioninventoryAgent": "Agent", "PluginFusioninventoryUnmanaged": "Unmanaged"}
_CORE_BACK = {new: old for old, new in CORE_CLASSES.items()}
_FI_CLASS = re.compile(r"\bPluginFusioninventory(\w*)")
_GI_CLASS = re.compile(r"\bPluginGlpiinventory(\w*)")
# In JSON (targets, actors) a core class name is recognised as an object key only.
_CORE_KEY = re.compile(r'"(%s)"(?=\s*:)' % "|".join(_CORE_BACK))


def _to_glpiinventory(match: re.Match) -> str:
    return CORE_CLASSES.get(match.group(0)) or "PluginGlpiinventory" + match.group(1)


def written(flavour: str, value: str) -> str:
    """``value`` (a class name, JSON holding class names, or a LIKE pattern of either) as
    ``flavour``'s database spells it."""
    if flavour != GLPIINVENTORY or "PluginFusioninventory" not in value:
        return value
    return _FI_CLASS.sub(_to_glpiinventory, value)


def read(flavour: str, value: str, json: bool = False) -> str:
    """``value`` read from ``flavour``'s database, in FusionInventory's spelling."""
    if flavour != GLPIINVENTORY:
        return value
    if "PluginGlpiinventory" in value:
        value = _GI_CLASS.sub(lambda match: "PluginFusioninventory" + match.group(1), value)
    if json:
        return _CORE_KEY.sub(lambda match: '"%s"' % _CORE_BACK[match.group(1)], value) if '"' in value else value
    return _CORE_BACK.get(value, value)


def flavour_of_dialect(dialect) -> str:
    """The flavour an engine's dialect was given (``adapters.db_layout.install_layout``)."""
    current = getattr(dialect, "schema_layout", None)
    return current.flavour if current is not None else FUSIONINVENTORY


class ClassNames(TypeDecorator):
    """A string column holding class names: converted to and from the database's spelling on
    engines of the glpiinventory layout, passed through (no processor added) on the others."""

    impl = String
    cache_ok = True
    json = False

    def bind_processor(self, dialect):
        flavour = flavour_of_dialect(dialect)
        if flavour == FUSIONINVENTORY:
            return self.impl_instance.bind_processor(dialect)
        return lambda value: value if value is None else written(flavour, value)

    def result_processor(self, dialect, coltype):
        flavour = flavour_of_dialect(dialect)
        if flavour == FUSIONINVENTORY:
            return self.impl_instance.result_processor(dialect, coltype)
        json = self.json
        return lambda value: value if value is None else read(flavour, value, json)

    def literal_processor(self, dialect):
        processor = self.impl_instance.literal_processor(dialect)
        flavour = flavour_of_dialect(dialect)
        if flavour == FUSIONINVENTORY or processor is None:
            return processor
        return lambda value: processor(written(flavour, value))


class ClassNamesJson(ClassNames):
    """A text column holding JSON whose object keys are class names (taskjob targets, actors)."""

    impl = Text
    cache_ok = True
    json = True
