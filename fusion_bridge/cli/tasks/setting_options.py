"""The options of the bridge's task and action settings, shared by ``task create|update|settings``
and ``action add|update|settings``: one spelling everywhere, and the same names as the API's
fields (``--max-agents`` is ``max_agents``).

Every option defaults to None (not given), so a command changes only what it is given.
"""

from __future__ import annotations

from typing import Any

import click

from fusion_bridge.services.admin import task_settings as settings

TASK_SETTINGS = ("communication", "push_timeout", "push_retries", "period")
ACTION_SETTINGS = ("pool", "max_agents", "balance", "slice_retries", "retries", "retry_delay", "wait_previous")


def _stack(*decorators):
    def apply(function):
        for decorator in reversed(decorators):
            function = decorator(function)
        return function
    return apply


task_setting_options = _stack(
    click.option("--communication", type=click.Choice(settings.COMMUNICATIONS),
                 help="pull: agents take their runs at their next contact; push: woken at the task's start."),
    click.option("--push-timeout", type=int, metavar="SECONDS", help="Time a woken agent has to call in."),
    click.option("--push-retries", type=int, metavar="N", help="Wake-ups after the first before the run fails."),
    click.option("--period", metavar="PERIOD", help="Repeat every PERIOD (30m, 2h, 1d, 1mo); 0 = not periodic."),
)

action_setting_options = _stack(
    click.option("--pool", type=click.Choice(["none", "module", "subnet"]),
                 help="Agents: the listed actors (none), every agent allowed to run the module, or the "
                      "agents in the target's subnet."),
    click.option("--max-agents", type=int, metavar="N", help="Cap of the pool (0 = none)."),
    click.option("--balance/--no-balance", default=None, help="Split the targets between the agents."),
    click.option("--slice-retries", type=int, metavar="N", help="Times a failed slice moves to another agent."),
    click.option("--retries", type=int, metavar="N", help="Times a failed run is prepared again."),
    click.option("--retry-delay", type=int, metavar="MINUTES", help="Wait before preparing a failed run again."),
    click.option("--wait-previous", type=int, metavar="MINUTES",
                 help="Start after the previous action ended on shared items, plus MINUTES (-1: do not wait)."),
)


def given(options: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The settings among ``options`` that were given, removed from ``options``."""
    return {name: value for name in names if (value := options.pop(name, None)) is not None}
