"""What the imports write on a glpiinventory database, without a database: the run log lines in
GLPI 10's spelling (docs/glpi10-protocol.md §9) and where the imports' plugin tables are
(docs/schema-layouts.md §8)."""

from __future__ import annotations

from fusion_bridge.services.inventory import discovery_comment, snmp_update_comment
from schema.layout import layout

UNMANAGED = "PluginFusioninventoryUnmanaged"
P = "glpi_plugin_fusioninventory_"


def test_discovery_and_snmp_lines_as_glpi10_writes_them():
    assert discovery_comment(UNMANAGED, 3, True, glpiinventory=True) == \
        "[==detail==] ==addtheitem== Unmanaged assets [[Unmanaged::3]]"
    assert discovery_comment(UNMANAGED, 3, True) == \
        "[==detail==] ==addtheitem== Unmanaged device [[PluginFusioninventoryUnmanaged::3]]"
    assert snmp_update_comment("NetworkEquipment", 1, glpiinventory=True) == \
        "[==detail==] ==updatetheitem== Network devices [[NetworkEquipment::1]]"
    assert snmp_update_comment("NetworkEquipment", 1) == \
        "[==detail==] Update Network devices [[NetworkEquipment::1]]"


def test_the_imports_plugin_tables_in_the_glpiinventory_layout():
    gi, fi = layout("glpiinventory"), layout("fusioninventory")
    assert gi.table(P + "rulematchedlogs") == "glpi_rulematchedlogs"
    assert gi.column(P + "rulematchedlogs", "plugin_fusioninventory_agents_id") == "agents_id"
    assert gi.column(P + "rulematchedlogs", "criteria") is None
    assert gi.merged_into(P + "networkports") == "glpi_networkports"
    names = ("networkports_id", "ifinoctets", "ifoutoctets", "ifmtu")
    assert [gi.column(P + "networkports", name) for name in names] == ["id", "ifinbytes", "ifoutbytes", "ifmtu"]
    assert not gi.stores(P + "ignoredimportdevices") and gi.stores(P + "taskjobs")
    assert fi.stores(P + "ignoredimportdevices") and fi.merged_into(P + "networkports") is None
