"""GLPI 9.5 core tables for rules and history: ``glpi_rules`` with their criteria and actions
(the plugin's import, entity and location rules live there), and ``glpi_logs`` (an item's
Historical tab). Definitions as GLPI 9.5.5 creates them (docs/import-rules.md §1,
docs/history.md §1).
"""

from __future__ import annotations

from sqlalchemy import Index

from schema.base import (
    char_column,
    flag_column,
    glpi_table,
    id_column,
    int_column,
    string_column,
    text_column,
    timestamp_column,
)

glpi_rules = glpi_table(
    "glpi_rules",
    id_column(),
    int_column("entities_id"),
    string_column("sub_type", nullable=False, default=""),
    int_column("ranking"),
    string_column("name"),
    text_column("description"),
    char_column("match", 10),
    flag_column("is_active", "1"),
    text_column("comment"),
    timestamp_column("date_mod"),
    flag_column("is_recursive"),
    string_column("uuid"),
    int_column("condition"),
    timestamp_column("date_creation"),
    Index("entities_id", "entities_id"),
    Index("is_active", "is_active"),
    Index("sub_type", "sub_type"),
    Index("date_mod", "date_mod"),
    Index("is_recursive", "is_recursive"),
    Index("condition", "condition"),
    Index("date_creation", "date_creation"),
)

glpi_rulecriterias = glpi_table(
    "glpi_rulecriterias",
    id_column(),
    int_column("rules_id"),
    string_column("criteria"),
    int_column("condition"),
    text_column("pattern"),
    Index("rules_id", "rules_id"),
    Index("condition", "condition"),
)

glpi_ruleactions = glpi_table(
    "glpi_ruleactions",
    id_column(),
    int_column("rules_id"),
    string_column("action_type"),
    string_column("field"),
    string_column("value"),
    Index("rules_id", "rules_id"),
    Index("field_value", "field", "value", mysql_length={"field": 50, "value": 50}),
)

glpi_logs = glpi_table(
    "glpi_logs",
    id_column(),
    string_column("itemtype", 100, nullable=False, default=""),
    int_column("items_id"),
    string_column("itemtype_link", 100, nullable=False, default=""),
    int_column("linked_action"),
    string_column("user_name"),
    timestamp_column("date_mod"),
    int_column("id_search_option"),
    string_column("old_value"),
    string_column("new_value"),
    Index("date_mod", "date_mod"),
    Index("itemtype_link", "itemtype_link"),
    Index("item", "itemtype", "items_id"),
    Index("id_search_option", "id_search_option"),
)

TABLES = [glpi_rules, glpi_rulecriterias, glpi_ruleactions, glpi_logs]
