"""FusionInventory plugin task tables: tasks, jobs, runs (jobstates), run logs, timeslots."""

from __future__ import annotations

from sqlalchemy import Index

from schema.base import (
    class_names_column,
    class_names_json_column,
    bigint_id_column,
    flag_column,
    glpi_table,
    id_column,
    int_column,
    string_column,
    text_column,
    timestamp_column,
)

P = "glpi_plugin_fusioninventory_"

tasks = glpi_table(
    P + "tasks",
    id_column(),
    int_column("entities_id"),
    string_column("name"),
    timestamp_column("date_creation"),
    text_column("comment"),
    flag_column("is_active"),
    timestamp_column("datetime_start"),
    timestamp_column("datetime_end"),
    int_column("plugin_fusioninventory_timeslots_prep_id"),
    int_column("plugin_fusioninventory_timeslots_exec_id"),
    timestamp_column("last_agent_wakeup"),
    int_column("wakeup_agent_counter"),
    int_column("wakeup_agent_time"),
    flag_column("reprepare_if_successful", "1"),
    flag_column("is_deploy_on_demand"),
    Index("entities_id", "entities_id"),
    Index("plugin_fusioninventory_timeslots_prep_id", "plugin_fusioninventory_timeslots_prep_id"),
    Index("plugin_fusioninventory_timeslots_exec_id", "plugin_fusioninventory_timeslots_exec_id"),
    Index("is_active", "is_active"),
    Index("reprepare_if_successful", "reprepare_if_successful"),
    Index("is_deploy_on_demand", "is_deploy_on_demand"),
    Index("wakeup_agent_counter", "wakeup_agent_counter"),
)

taskjobs = glpi_table(
    P + "taskjobs",
    id_column(),
    int_column("plugin_fusioninventory_tasks_id"),
    int_column("entities_id"),
    string_column("name"),
    timestamp_column("date_creation"),
    string_column("method"),
    class_names_json_column("targets"),
    class_names_json_column("actors"),
    text_column("comment"),
    int_column("rescheduled_taskjob_id"),
    text_column("statuscomments"),
    text_column("enduser"),
    Index("plugin_fusioninventory_tasks_id", "plugin_fusioninventory_tasks_id"),
    Index("entities_id", "entities_id"),
    Index("method", "method"),
)

taskjobstates = glpi_table(
    P + "taskjobstates",
    bigint_id_column(),
    int_column("plugin_fusioninventory_taskjobs_id"),
    int_column("items_id"),
    class_names_column(),
    int_column("state"),
    int_column("plugin_fusioninventory_agents_id"),
    text_column("specificity"),
    string_column("uniqid"),
    timestamp_column("date_start"),
    int_column("nb_retry"),
    int_column("max_retry", "1"),
    Index("plugin_fusioninventory_taskjobs_id", "plugin_fusioninventory_taskjobs_id"),
    Index("plugin_fusioninventory_agents_id", "plugin_fusioninventory_agents_id", "state"),
    Index("plugin_fusioninventory_taskjob_2", "plugin_fusioninventory_taskjobs_id", "state"),
    Index("plugin_fusioninventory_agents_ids_states", "plugin_fusioninventory_agents_id",
          "plugin_fusioninventory_taskjobs_id", "items_id", "itemtype", "id", "state"),
    Index("uniqid", "uniqid", "state"),
)

taskjoblogs = glpi_table(
    P + "taskjoblogs",
    bigint_id_column(),
    int_column("plugin_fusioninventory_taskjobstates_id"),
    timestamp_column("date"),
    int_column("items_id"),
    class_names_column(),
    int_column("state"),
    text_column("comment"),
    Index("plugin_fusioninventory_taskjobstates_id", "plugin_fusioninventory_taskjobstates_id", "state"),
)

timeslots = glpi_table(
    P + "timeslots",
    id_column(),
    int_column("entities_id"),
    flag_column("is_recursive"),
    string_column("name"),
    text_column("comment"),
    timestamp_column("date_mod"),
)

timeslotentries = glpi_table(
    P + "timeslotentries",
    id_column(),
    int_column("plugin_fusioninventory_timeslots_id"),
    int_column("entities_id"),
    flag_column("is_recursive"),
    flag_column("day", "1"),
    int_column("begin", None, nullable=True),
    int_column("end", None, nullable=True),
    # The plugin kept the index name from when timeslots were called calendars.
    Index("plugin_fusioninventory_calendars_id", "plugin_fusioninventory_timeslots_id"),
    Index("day", "day"),
)

TABLES = [tasks, taskjobs, taskjobstates, taskjoblogs, timeslots, timeslotentries]
