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


# The REST task endpoints getConfig points agents to (http.rest_tasks), after any prefix.
REST_TASK_PATH = re.compile(r"(?:^|/)plugins/fusioninventory/b/(?:deploy|collect|esx)/?$")


def is_rest_task_path(path: str) -> bool:
    return REST_TASK_PATH.search(path) is not None
