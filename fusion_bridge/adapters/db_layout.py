"""An engine compiles ``schema``'s tables into its database's layout (docs/schema-layouts.md §1).

``install_layout(engine, flavour)`` gives the engine's dialect its own identifier preparer and
compilers: table, column and index names are rendered as ``schema.layout`` maps them, while the
Table objects and the result rows keep the FusionInventory names and keys the services use
(``row.device_id``, ``row._mapping[agents.c.device_id]``). SQLAlchemy caches compiled SQL per
engine, so an engine renders each statement once for its layout: nothing is paid per request.
On a fusioninventory engine nothing is installed at all.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy import Table, event, inspect, update
from sqlalchemy.sql.dml import Insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.selectable import Alias

from schema.base import metadata
from schema.detect import FLAVOUR_MARKERS
from schema.layout import (FLAVOURS, FUSIONINVENTORY, GLPIINVENTORY, INSERT_TABLES, MERGED_TABLES, Layout, layout,
                           physical_column)

log = logging.getLogger(__name__)

AUTO = "auto"

# A table only each flavour has (schema.detect's markers).
_MARKERS = tuple(FLAVOUR_MARKERS.items())


def apply_flavour(engine: Engine, wanted: str | None) -> Engine:
    """Give ``engine`` its layout: ``wanted`` is a flavour, or ``auto``/None to look at the
    database at the engine's first connection (once per engine; before that connection nothing
    is compiled for it). A database with no plugin tables yet (``db init`` to come) is taken as
    fusioninventory."""
    wanted = wanted or AUTO
    if wanted != AUTO:
        if wanted not in FLAVOURS:
            raise ValueError(f"unknown schema flavour {wanted!r} (auto, {', '.join(FLAVOURS)})")
        return install_layout(engine, wanted)

    @event.listens_for(engine, "first_connect")
    def _detect(dbapi_connection, _record):
        found = _detect_raw(engine.dialect.name, dbapi_connection)
        if found is not None and found != layout_of(engine).flavour:
            install_layout(engine, found, learn=False)
            learn_missing_columns(engine.dialect, dbapi_connection)
            log.debug("database tables are %s's", found)
    return engine


def _core_tables():
    """GLPI's core tables as the schema defines them (GLPI 9.5's columns): the ones whose columns a
    GLPI 10 or 11 database may lack (GLPI 11 dropped ``groups_id`` and ``groups_id_tech`` of assets)."""
    return [table for name, table in sorted(metadata.tables.items())
            if name.startswith("glpi_") and not name.startswith(("glpi_plugin_",))]


def learn_missing_columns(dialect, dbapi_connection) -> None:
    """Record on ``dialect`` the columns of GLPI's core tables the database lacks: the layout then
    reads them as NULL and never writes them, as the columns a layout lacks (docs/schema-layouts.md
    §3). Learnt once, at the engine's first connection; a table the database lacks is left out (the
    layout says which tables it has)."""
    tables = _core_tables()
    present: dict[str, set[str]] = {}
    cursor = dbapi_connection.cursor()
    try:
        if dialect.name == "sqlite":
            for table in tables:
                cursor.execute(f'PRAGMA table_info("{table.name}")')
                columns = {row[1] for row in cursor.fetchall()}
                if columns:
                    present[table.name] = columns
        else:
            names = [table.name for table in tables]
            cursor.execute("SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                           f"DATABASE() AND TABLE_NAME IN ({', '.join(['%s'] * len(names))})", names)
            for table_name, column_name in cursor.fetchall():
                present.setdefault(table_name, set()).add(column_name)
    finally:
        cursor.close()
    flavour = layout_of_dialect(dialect).flavour
    missing = set()
    for table in tables:
        columns = present.get(table.name)
        if columns is None:
            continue
        for column in table.c:
            physical = physical_column(flavour, table.name, column.name)
            if physical is not None and physical not in columns:
                missing.add((table.name, column.name))
    dialect.fusion_bridge_missing_columns = frozenset(missing)
    if missing:
        log.debug("columns the database lacks, read as NULL: %s", sorted(missing))


def layout_of_dialect(dialect) -> Layout:
    return getattr(dialect, "schema_layout", None) or layout(FUSIONINVENTORY)


def _detect_raw(dialect_name: str, dbapi_connection) -> str | None:
    """``schema.detect_flavour``'s answer on a DBAPI connection (the engine's first, before it is handed
    out): which plugin's task runs table is there."""
    names = [marker for _flavour, marker in _MARKERS]
    placeholders = ", ".join(["?" if dialect_name == "sqlite" else "%s"] * len(names))
    if dialect_name == "sqlite":
        sql = f"SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({placeholders})"
    else:
        sql = (f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
               f"AND TABLE_NAME IN ({placeholders})")
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, names)
        present = {row[0] for row in cursor.fetchall()}
    finally:
        cursor.close()
    return next((flavour for flavour, marker in _MARKERS if marker in present), None)


def has_table(bind: Engine | Connection, name: str) -> bool:
    """Whether the database has table ``name``, looked at once per engine (GLPI's tables do not
    come and go under a running bridge)."""
    known = bind.dialect.__dict__.setdefault("fusion_bridge_tables", {})
    if name not in known:
        known[name] = inspect(bind).has_table(name)
    return known[name]


def layout_of(bind: Engine | Connection) -> Layout:
    """The layout an engine (or a connection's engine) compiles into."""
    return layout_of_dialect(bind.dialect)


def install_layout(engine: Engine, flavour: str, learn: bool = True) -> Engine:
    """Make ``engine`` compile into ``flavour``'s layout. Call before it compiles anything.
    ``learn``: find out at the engine's first connection which core columns the database lacks
    (``learn_missing_columns``; the caller does it when it is that first connection)."""
    current = layout_of(engine)
    if current.flavour == flavour:
        return engine
    if current.flavour != FUSIONINVENTORY:
        raise ValueError(f"engine already compiles for {current.flavour}")
    dialect = engine.dialect
    dialect.schema_layout = layout(flavour)
    if flavour == FUSIONINVENTORY:
        return engine
    preparer_class, compiler_class, ddl_class = _classes(dialect.preparer, dialect.statement_compiler,
                                                         dialect.ddl_compiler, flavour)
    # The class too: MySQL's dialect makes a new preparer at its first connection.
    dialect.preparer = preparer_class
    dialect.identifier_preparer = preparer_class(dialect)
    dialect.statement_compiler = compiler_class
    dialect.ddl_compiler = ddl_class
    event.listen(engine, "before_execute", _extension_rows_are_asset_columns, retval=True)
    if learn:
        event.listen(engine, "first_connect", lambda dbapi_connection, _record: learn_missing_columns(
            engine.dialect, dbapi_connection))
    return engine


def _extension_rows_are_asset_columns(conn, statement, multiparams, params, execution_options):
    """An INSERT of a plugin extension row (``glpi_plugin_fusioninventory_networkequipments``…)
    becomes the UPDATE of the asset row that holds those columns in the glpiinventory layout
    (docs/schema-layouts.md §4). Single-row ``.values()`` inserts only, as the bridge writes them."""
    if not isinstance(statement, Insert) or MERGED_TABLES.get(statement.table.name) is None:
        return statement, multiparams, params
    table = statement.table
    key = next(column for column in table.c
               if column.name != "id" and physical_column(GLPIINVENTORY, table.name, column.name) == "id")
    values = {getattr(name, "key", name): getattr(value, "effective_value", value)
              for name, value in (statement._values or {}).items()}
    values.update((params or {}) if not multiparams else {})
    item_id = values.pop(key.key, None)
    values.pop("id", None)
    if item_id is None:
        raise ValueError(f"an INSERT into {table.name} needs {key.key} in this layout")
    values = {name: value for name, value in values.items()
              if physical_column(GLPIINVENTORY, table.name, table.c[name].name) is not None}
    return update(table).where(key == item_id).values(values), (), {}


def _table_name(column) -> str | None:
    """The name of the Table a column belongs to, directly or through an alias of it."""
    table = getattr(column, "table", None)
    if isinstance(table, Alias):
        table = table.element
    return table.name if isinstance(table, Table) else None


@lru_cache(maxsize=None)
def _classes(base_preparer, base_compiler, base_ddl, flavour: str):
    """The preparer, statement compiler and DDL compiler classes of one dialect class and flavour."""
    schema_layout = layout(flavour)

    def physical(dialect, table: str, name: str) -> str | None:
        """The column's physical name on this dialect's database; None: read as NULL, not written."""
        if (table, name) in getattr(dialect, "fusion_bridge_missing_columns", ()):
            return None
        return physical_column(flavour, table, name)

    class LayoutPreparer(base_preparer):
        # Names met without their table: table names, the foreign keys renamed in every table,
        # index names (docs/schema-layouts.md §2).
        def quote(self, ident, force=None):
            return super().quote(schema_layout.identifier(ident))

        def format_column(self, column, use_table=False, name=None, **kw):
            table = _table_name(column)
            if name is None and table is not None:
                name = physical(self.dialect, table, column.name) or column.name
            return super().format_column(column, use_table=use_table, name=name, **kw)

    clones: dict = {}

    class LayoutCompiler(base_compiler):
        def visit_column(self, column, add_to_result_map=None, include_table=True, result_map_targets=(), **kw):
            table = _table_name(column)
            if table is None:
                return super().visit_column(column, add_to_result_map, include_table, result_map_targets, **kw)
            physical_name = physical(self.dialect, table, column.name)
            if physical_name is None:
                # A column this layout (or this database) lacks reads as NULL (docs/schema-layouts.md §3).
                if add_to_result_map is not None:
                    add_to_result_map(column.key, column.name, (column, column.key), column.type)
                return "NULL"
            if physical_name == column.name or physical_name == schema_layout.identifier(column.name):
                return super().visit_column(column, add_to_result_map, include_table, result_map_targets, **kw)
            clone = clones.get(column)
            if clone is None:
                clone = clones[column] = ColumnClause(physical_name, type_=column.type, _selectable=column.table)
            if add_to_result_map is not None:
                keep = add_to_result_map

                # Known in the result by its FusionInventory name and key: the physical name
                # may be another selected column's (agents' items_id beside a run's).
                def add_to_result_map(keyname, name, objects, type_):
                    keep(column.key, column.name, objects + (column, column.key), type_)
            return super().visit_column(clone, add_to_result_map, include_table,
                                        result_map_targets=(column, *result_map_targets), **kw)

        def visit_table(self, table, asfrom=False, iscrud=False, **kw):
            core = MERGED_TABLES.get(table.name) if isinstance(table, Table) else None
            if core is not None and asfrom:
                # The plugin table's name stays as the alias of the core table (docs/schema-layouts.md §4).
                return f"{self.preparer.quote(core)} AS {self.preparer.quote(table.name)}"
            return super().visit_table(table, asfrom=asfrom, iscrud=iscrud, **kw)

        def visit_insert(self, insert_stmt, **kw):
            insert_stmt = self._without_absent(insert_stmt)
            target = INSERT_TABLES.get(insert_stmt.table.name)
            if target is not None:
                # Compiled into the core table, whose required columns have defaults
                # (schema.layout.glpi_agents, docs/schema-layouts.md §3).
                insert_stmt = insert_stmt._clone()
                insert_stmt.table = target
            return super().visit_insert(insert_stmt, **kw)

        def visit_update(self, update_stmt, **kw):
            return super().visit_update(self._without_absent(update_stmt), **kw)

        def _without_absent(self, statement):
            """``statement`` without the values of columns this layout lacks."""
            table = statement.table
            absent = {column.key for column in table.c if physical(self.dialect, table.name, column.name) is None} \
                if isinstance(table, Table) else ()
            if not absent:
                return statement
            if self.column_keys:
                self.column_keys = [key for key in self.column_keys if key not in absent]

            def keep(key) -> bool:
                return getattr(key, "key", key) not in absent
            statement = statement._clone()
            if statement._values:
                statement._values = {key: value for key, value in statement._values.items() if keep(key)}
            if getattr(statement, "_multi_values", None):
                statement._multi_values = tuple(
                    [{key: value for key, value in row.items() if keep(key)} if isinstance(row, dict) else row
                     for row in rows] for rows in statement._multi_values)
            if getattr(statement, "_ordered_values", None):
                statement._ordered_values = [(key, value) for key, value in statement._ordered_values if keep(key)]
            return statement

    class LayoutDDLCompiler(base_ddl):
        def visit_create_column(self, create, first_pk=False, **kw):
            column = create.element
            table = _table_name(column)
            if table is not None and physical_column(flavour, table, column.name) is None:
                return None
            return super().visit_create_column(create, first_pk=first_pk, **kw)

    return LayoutPreparer, LayoutCompiler, LayoutDDLCompiler
