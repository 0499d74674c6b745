"""FusionInventory plugin collect tables: collect definitions (registry, WMI, file) and the
values agents sent back."""

from __future__ import annotations

from sqlalchemy import Index

from schema.base import flag_column, glpi_table, id_column, int_column, string_column, text_column

P = "glpi_plugin_fusioninventory_"

collects = glpi_table(
    P + "collects",
    id_column(),
    string_column("name"),
    int_column("entities_id"),
    flag_column("is_recursive"),
    string_column("type"),
    flag_column("is_active"),
    text_column("comment"),
)

collects_registries = glpi_table(
    P + "collects_registries",
    id_column(),
    string_column("name"),
    int_column("plugin_fusioninventory_collects_id"),
    string_column("hive"),
    text_column("path"),
    string_column("key"),
)

collects_registries_contents = glpi_table(
    P + "collects_registries_contents",
    id_column(),
    int_column("computers_id"),
    int_column("plugin_fusioninventory_collects_registries_id"),
    string_column("key"),
    string_column("value"),
    Index("computers_id", "computers_id"),
)

collects_wmis = glpi_table(
    P + "collects_wmis",
    id_column(),
    string_column("name"),
    int_column("plugin_fusioninventory_collects_id"),
    string_column("moniker"),
    string_column("class"),
    string_column("properties"),
)

collects_wmis_contents = glpi_table(
    P + "collects_wmis_contents",
    id_column(),
    int_column("computers_id"),
    int_column("plugin_fusioninventory_collects_wmis_id"),
    string_column("property"),
    string_column("value"),
)

collects_files = glpi_table(
    P + "collects_files",
    id_column(),
    string_column("name"),
    int_column("plugin_fusioninventory_collects_id"),
    string_column("dir"),
    int_column("limit", "50", width=4),
    flag_column("is_recursive"),
    string_column("filter_regex"),
    int_column("filter_sizeequals"),
    int_column("filter_sizegreater"),
    int_column("filter_sizelower"),
    string_column("filter_checksumsha512"),
    string_column("filter_checksumsha2"),
    string_column("filter_name"),
    string_column("filter_iname"),
    flag_column("filter_is_file", "1"),
    flag_column("filter_is_dir"),
)

collects_files_contents = glpi_table(
    P + "collects_files_contents",
    id_column(),
    int_column("computers_id"),
    int_column("plugin_fusioninventory_collects_files_id"),
    text_column("pathfile"),
    int_column("size"),
)

TABLES = [
    collects, collects_registries, collects_registries_contents, collects_wmis,
    collects_wmis_contents, collects_files, collects_files_contents,
]
