"""FusionInventory plugin deploy tables: packages and their visibility, files, mirrors,
computer groups and user-interaction templates."""

from __future__ import annotations

from sqlalchemy import Index

from schema.base import (
    class_names_column,
    bigint_column,
    char_column,
    flag_column,
    glpi_table,
    id_column,
    int_column,
    longtext_column,
    string_column,
    text_column,
    timestamp_column,
)

P = "glpi_plugin_fusioninventory_"

deploypackages = glpi_table(
    P + "deploypackages",
    id_column(),
    string_column("name", nullable=False),
    text_column("comment"),
    int_column("entities_id", None),
    flag_column("is_recursive"),
    timestamp_column("date_mod"),
    string_column("uuid"),
    longtext_column("json"),
    string_column("icon"),
    string_column("style", 10),
    int_column("plugin_fusioninventory_deploygroups_id"),
    Index("entities_id", "entities_id"),
    Index("date_mod", "date_mod"),
)


def _package_visibility(suffix: str, *columns):
    key = "plugin_fusioninventory_deploypackages_id"
    return glpi_table(
        P + "deploypackages_" + suffix,
        id_column(),
        int_column(key),
        *columns,
        Index(key, key),
        *[Index(column.name, column.name) for column in columns],
    )


deploypackages_entities = _package_visibility(
    "entities", int_column("entities_id"), flag_column("is_recursive"))
deploypackages_groups = _package_visibility(
    "groups", int_column("groups_id"), int_column("entities_id"), flag_column("is_recursive"))
deploypackages_profiles = _package_visibility(
    "profiles", int_column("profiles_id"), int_column("entities_id"), flag_column("is_recursive"))
deploypackages_users = _package_visibility("users", int_column("users_id"))

deployfiles = glpi_table(
    P + "deployfiles",
    id_column(),
    string_column("name", nullable=False),
    string_column("mimetype", nullable=False),
    bigint_column("filesize", None),
    text_column("comment"),
    char_column("sha512", 128, nullable=False),
    char_column("shortsha512", 6, nullable=False),
    int_column("entities_id", None),
    flag_column("is_recursive"),
    timestamp_column("date_mod"),
    Index("shortsha512", "shortsha512"),
    Index("entities_id", "entities_id"),
    Index("date_mod", "date_mod"),
)

deploymirrors = glpi_table(
    P + "deploymirrors",
    id_column(),
    int_column("entities_id", None),
    flag_column("is_active"),
    flag_column("is_recursive"),
    string_column("name", nullable=False),
    string_column("url", nullable=False, default=""),
    int_column("locations_id", None),
    text_column("comment"),
    timestamp_column("date_mod"),
    Index("entities_id", "entities_id"),
    Index("is_active", "is_active"),
    Index("is_recursive", "is_recursive"),
    Index("date_mod", "date_mod"),
)

deploygroups = glpi_table(
    P + "deploygroups",
    id_column(),
    string_column("name", nullable=False),
    text_column("comment"),
    string_column("type", nullable=False),
)

deploygroups_staticdatas = glpi_table(
    P + "deploygroups_staticdatas",
    id_column(),
    int_column("plugin_fusioninventory_deploygroups_id"),
    class_names_column(),
    int_column("items_id"),
    Index("plugin_fusioninventory_deploygroups_id", "plugin_fusioninventory_deploygroups_id"),
    Index("items_id", "items_id"),
)

deploygroups_dynamicdatas = glpi_table(
    P + "deploygroups_dynamicdatas",
    id_column(),
    int_column("plugin_fusioninventory_deploygroups_id"),
    text_column("fields_array"),
    flag_column("can_update_group"),
    longtext_column("computers_id_cache"),
    Index("plugin_fusioninventory_deploygroups_id", "plugin_fusioninventory_deploygroups_id"),
    Index("can_update_group", "can_update_group"),
)

deployuserinteractiontemplates = glpi_table(
    P + "deployuserinteractiontemplates",
    id_column(),
    string_column("name"),
    int_column("entities_id"),
    flag_column("is_recursive"),
    timestamp_column("date_creation"),
    timestamp_column("date_mod"),
    longtext_column("json"),
    Index("date_mod", "date_mod"),
    Index("date_creation", "date_creation"),
    Index("entities_id", "entities_id"),
    Index("is_recursive", "is_recursive"),
)

TABLES = [
    deploypackages, deploypackages_entities, deploypackages_groups, deploypackages_profiles,
    deploypackages_users, deployfiles, deploymirrors, deploygroups, deploygroups_staticdatas,
    deploygroups_dynamicdatas, deployuserinteractiontemplates,
]
