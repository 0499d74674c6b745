"""Which request paths are the agent endpoint (docs/glpi10-protocol.md §2)."""

import re

# The plugin folders agents are given, after any prefix such as /glpi/: FusionInventory's, and
# glpiinventory's in GLPI 10/11's two plugin directories.
PLUGIN_DIRS = ("plugins/fusioninventory", "plugins/glpiinventory", "marketplace/glpiinventory")
_PLUGIN_DIR = "(?:" + "|".join(re.escape(each) for each in PLUGIN_DIRS) + ")"
# The plugin's own entry points under its folder (GLPI 11 adds the route "Communication").
_PLUGIN_ENTRY = (r"(?:|index\.php|Communication|front/communication\.php"
                 r"|front/plugin_fusioninventory\.communication\.php)")

# Where the plugin answers both XML POSTs and REST getConfig.
PLUGIN_AGENT_PATH = re.compile(rf"(?:^|/)(?:{_PLUGIN_DIR}/{_PLUGIN_ENTRY}|ocsinventory/?)$")
# GLPI's core inventory endpoint, and GLPI's root (its index.php forwards agent POSTs). The
# root only without a prefix: under a prefix it could not be told from other paths.
CORE_AGENT_PATH = re.compile(r"(?:^|/)front/inventory\.php$|^/?(?:index\.php)?$")


def is_agent_path(path: str) -> bool:
    """Where agent XML (and GLPI Agent JSON) POSTs are answered."""
    return PLUGIN_AGENT_PATH.search(path) is not None or CORE_AGENT_PATH.search(path) is not None


def is_plugin_agent_path(path: str) -> bool:
    """Where REST ``getConfig`` is answered (GLPI's core paths refuse it, docs/glpi10-protocol.md §2)."""
    return PLUGIN_AGENT_PATH.search(path) is not None


def is_core_agent_path(path: str) -> bool:
    return PLUGIN_AGENT_PATH.search(path) is None and CORE_AGENT_PATH.search(path) is not None


def plugin_dir_of(path: str) -> str:
    """The plugin folder ``path`` is under (``/plugins/glpiinventory``...), FusionInventory's
    when it names none: the REST ``remote`` URLs an answer gives follow it (docs/glpi10-protocol.md §6)."""
    for each in PLUGIN_DIRS:
        if f"/{each}/" in path or path.startswith(f"{each}/"):
            return f"/{each}"
    return f"/{PLUGIN_DIRS[0]}"


# The REST task endpoints getConfig points agents to (http.rest_tasks), after any prefix.
REST_TASK_PATH = re.compile(rf"(?:^|/){_PLUGIN_DIR}/b/(?:deploy|collect|esx)/?$")


def is_rest_task_path(path: str) -> bool:
    return REST_TASK_PATH.search(path) is not None
