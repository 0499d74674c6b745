"""The discovery task the dispatch tests hand out: agent 7 (its device id), a networkdiscovery
job on IP range 1, as the plugin stores their targets and actors."""

DEVICE = "agent-2024-01-01-00-00-00"
DISCOVERY_TARGETS = '[{"PluginFusioninventoryIPRange":"1"}]'
ACTOR = '[{"PluginFusioninventoryAgent":"7"}]'
