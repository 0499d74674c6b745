"""Building blocks for the table definitions: one MetaData, GLPI's column types and table options.

Every type is a portable SQLAlchemy type carrying a MySQL/MariaDB variant, so the same
metadata renders GLPI's exact DDL on MariaDB (``int(11)``, ``tinyint(1)``, ``timestamp``,
``longblob``...) and plain types on SQLite. Integer primary keys stay ``INTEGER`` on SQLite
so that they alias the rowid and auto-increment there too.
"""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    BigInteger,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex

from schema.class_names import ClassNames, ClassNamesJson

metadata = MetaData()
# The MetaData whose index names get their table's name as prefix on SQLite (see below); the
# GLPI 10/11 definitions (schema/glpiinventory) add theirs.
SQLITE_PREFIXED_INDEXES: list[MetaData] = [metadata]

MYSQL_DIALECTS = ("mysql", "mariadb")

# GLPI 9.5 and the plugin create every table with these options.
TABLE_CHARSET = "utf8"
TABLE_COLLATION = "utf8_unicode_ci"


def int_type(width: int = 11, unsigned: bool = False):
    return Integer().with_variant(mysql.INTEGER(display_width=width, unsigned=unsigned), *MYSQL_DIALECTS)


def tinyint_type(width: int = 1, unsigned: bool = False):
    return Integer().with_variant(mysql.TINYINT(display_width=width, unsigned=unsigned), *MYSQL_DIALECTS)


def bigint_type(width: int = 20):
    return BigInteger().with_variant(mysql.BIGINT(display_width=width), *MYSQL_DIALECTS)


def bigint_key_type(width: int = 20):
    # SQLite only auto-increments a key declared exactly INTEGER.
    return Integer().with_variant(mysql.BIGINT(display_width=width), *MYSQL_DIALECTS)


def timestamp_type():
    return DateTime().with_variant(mysql.TIMESTAMP(), *MYSQL_DIALECTS)


def longtext_type():
    return Text().with_variant(mysql.LONGTEXT(), *MYSQL_DIALECTS)


def longblob_type():
    return LargeBinary().with_variant(mysql.LONGBLOB(), *MYSQL_DIALECTS)


def glpi_table(name: str, *items, engine: str = "InnoDB", comment: str | None = None) -> Table:
    # On SQLite an id key without AUTOINCREMENT hands the highest deleted id out again; InnoDB
    # never does (while the server runs), and a reused id would make a new task or run inherit
    # the rows other tables keep about the deleted one.
    counted = any(isinstance(item, Column) and item.primary_key and item.autoincrement is True for item in items)
    return Table(
        name,
        metadata,
        *items,
        mysql_engine=engine,
        mysql_charset=TABLE_CHARSET,
        mysql_collate=TABLE_COLLATION,
        sqlite_autoincrement=counted,
        comment=comment,
    )


def _server_default(default):
    if default is None:
        return None
    return default if not isinstance(default, int) else str(default)


def id_column(name: str = "id") -> Column:
    """``int(11) NOT NULL AUTO_INCREMENT`` primary key."""
    return Column(name, int_type(11), primary_key=True, autoincrement=True)


def bigint_id_column(name: str = "id") -> Column:
    """``bigint(20) NOT NULL AUTO_INCREMENT`` primary key."""
    return Column(name, bigint_key_type(20), primary_key=True, autoincrement=True)


def int_column(name: str, default="0", *, width: int = 11, nullable: bool = False,
               unsigned: bool = False, comment: str | None = None) -> Column:
    """``int(width)``; by default ``NOT NULL DEFAULT '0'`` like GLPI's foreign keys."""
    return Column(name, int_type(width, unsigned), nullable=nullable,
                  server_default=_server_default(default), comment=comment)


def flag_column(name: str, default="0", *, width: int = 1, nullable: bool = False,
                unsigned: bool = False, comment: str | None = None) -> Column:
    """``tinyint(width)``; by default ``NOT NULL DEFAULT '0'``."""
    return Column(name, tinyint_type(width, unsigned), nullable=nullable,
                  server_default=_server_default(default), comment=comment)


def bigint_column(name: str, default="0", *, width: int = 20, nullable: bool = False) -> Column:
    return Column(name, bigint_type(width), nullable=nullable, server_default=_server_default(default))


def string_column(name: str, length: int = 255, *, nullable: bool = True, default=None,
                  comment: str | None = None) -> Column:
    """``varchar(length)``; by default ``DEFAULT NULL``."""
    return Column(name, String(length), nullable=nullable, server_default=default, comment=comment)


def class_names_column(name: str = "itemtype", length: int = 100, *, nullable: bool = True,
                       default=None) -> Column:
    """``varchar(length)`` holding class names, spelled as the database's flavour spells them
    (``schema.class_names``)."""
    return Column(name, ClassNames(length), nullable=nullable, server_default=default)


def class_names_json_column(name: str) -> Column:
    """``text`` holding JSON keyed by class names (taskjob targets and actors)."""
    return Column(name, ClassNamesJson(), nullable=True)


def char_column(name: str, length: int, *, nullable: bool = True, comment: str | None = None) -> Column:
    return Column(name, CHAR(length), nullable=nullable, comment=comment)


def text_column(name: str, *, nullable: bool = True, comment: str | None = None) -> Column:
    return Column(name, Text(), nullable=nullable, comment=comment)


def longtext_column(name: str) -> Column:
    return Column(name, longtext_type(), nullable=True)


def longblob_column(name: str) -> Column:
    return Column(name, longblob_type(), nullable=True)


def timestamp_column(name: str, *, nullable: bool = True, comment: str | None = None) -> Column:
    """``timestamp NULL DEFAULT NULL`` (GLPI 9.5 dates)."""
    return Column(name, timestamp_type(), nullable=nullable, comment=comment)


def float_column(name: str, *, nullable: bool = False, comment: str | None = None) -> Column:
    return Column(name, Float(), nullable=nullable, comment=comment)


def decimal_column(name: str, precision: int = 20, scale: int = 4, default="0.0000",
                   *, nullable: bool = True) -> Column:
    return Column(name, Numeric(precision, scale), nullable=nullable, server_default=default)


CURRENT_TIMESTAMP = text("CURRENT_TIMESTAMP")


@compiles(CreateIndex, "sqlite")
def _sqlite_index_names(create, compiler, **kw):
    """Prefix our index names with their table on SQLite.

    MySQL scopes index names to a table and GLPI reuses names such as ``name`` or
    ``entities_id`` on every table; SQLite scopes them to the whole database.
    """
    sql = compiler.visit_create_index(create, **kw)
    index = create.element
    if index.table is None or not any(index.table.metadata is known for known in SQLITE_PREFIXED_INDEXES):
        return sql
    rendered = compiler._prepared_index_name(index, include_schema=False)
    # Both names as the engine's layout renders them (docs/schema-layouts.md §1).
    table = compiler.preparer.quote(index.table.name).strip('"')
    unique = compiler.preparer.quote(f"{table}__{rendered.strip(chr(34))}")
    return sql.replace(f" {rendered} ON ", f" {unique} ON ", 1)
