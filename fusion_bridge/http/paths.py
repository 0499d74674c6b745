"""Which request paths are the agent endpoint."""

import re

# The paths agents are given as --server, after any prefix such as /glpi/.
AGENT_PATH = re.compile(
    r"(?:^|/)(?:plugins/fusioninventory/"
    r"(?:|index\.php|front/communication\.php|front/plugin_fusioninventory\.communication\.php)"
    r"|ocsinventory/?)$"
)


def is_agent_path(path: str) -> bool:
    return AGENT_PATH.search(path) is not None
