"""``fusion-bridge task executions`` and ``task wakeups``: per task execution, each run or
IP-range slice with its agent, state, attempt, progress and wake-ups; and the task's wake-up
history. Thin: ``services.operator_view`` reads and validates.
"""

from __future__ import annotations

import click

from fusion_bridge.cli.options import common
from fusion_bridge.cli.tasks.definitions import _run, item_text, table
from fusion_bridge.domain.text import plural
from fusion_bridge.services.views import operator_view

COMMENT_WIDTH = 60


def _states(states: dict) -> str:
    return ", ".join(f"{word} {count}" for word, count in states.items()) or "-"


def _short(text: str | None, width: int = COMMENT_WIDTH) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _addresses(addresses: dict | None) -> str:
    return f"{addresses['covered']}/{addresses['total']}" if addresses and addresses["total"] else "-"


def _slice_text(run: dict) -> str:
    piece = run["slice"]
    if piece is None:
        return "-"
    bounds = f" {piece['ip_start']}-{piece['ip_end']}" if piece["ip_start"] else ""
    return f"{piece['first']}+{piece['count']}{bounds}"


def _agent_text(agent: dict) -> str:
    name = agent["name"] or "?"
    return f"{agent['id']} {name}" + (f" ({agent['address']})" if agent["address"] else "")


def _attempt_text(run: dict) -> str:
    return str(run["attempt"]) + (f" after {run['previous_run']}" if run["previous_run"] else "")


def _progress_text(run: dict) -> str:
    progress = run["progress"]
    if progress is None:
        return "-"
    done = "?" if progress["done"] is None else progress["done"]
    return f"{done}/{'?' if progress['total'] is None else progress['total']}"


def _execution_lines(view: dict) -> list[str]:
    task = view["task"]
    lines = [f"task {task['id']}: {task['name']}  ({task['communication']}, current execution "
             f"{task['current_execution']}" + (f" since {task['execution_start']}" if task["execution_start"] else "")
             + ")"]
    lines += table(["EXECUTION", "RUNS", "ADDRESSES", "STATES"],
                   [[e["execution"], e["runs"], _addresses(e["addresses"]), _states(e["states"])]
                    for e in view["executions"]],
                   empty="no runs yet")
    summary = view["summary"]
    addresses = summary["addresses"]
    covered = f", addresses covered {_addresses(addresses)}" if addresses["total"] else ""
    lines.append("")
    lines.append(f"execution {view['execution']}: {plural(summary['runs'], 'run')} "
                 f"({_states(summary['states'])}){covered}")
    lines += table(
        ["RUN", "ACTION", "TARGET", "SLICE", "AGENT", "STATE", "ATTEMPT", "PROGRESS", "WAKE-UPS", "LAST LOG"],
        [[run["id"], f"{run['action']['id']} {run['action']['name'] or ''}".strip(), item_text(run["target"]),
          _slice_text(run), _agent_text(run["agent"]), run["state_word"], _attempt_text(run), _progress_text(run),
          run["wakeups_total"],
          "-" if run["last_log"] is None else f"{run['last_log']['date']} {run['last_log']['word']} "
                                             f"{_short(run['last_log']['comment'])}".rstrip()]
         for run in view["runs"]])
    if view["truncated"]:
        lines.append(f"... only the first {plural(len(view['runs']), 'run')} shown (--limit)")
    woken = [(run["id"], wakeup) for run in view["runs"] for wakeup in run["wakeups"]]
    if woken:
        lines.append("")
        lines.append("wake-ups of these runs' agents:")
        lines += table(["RUN", "DATE", "AGENT", "ADDRESS", "OUTCOME", "DETAIL"],
                       [[run_id, w["date"], w["agent"], w["address"] or "-", w["outcome"], _short(w["detail"])]
                        for run_id, w in woken])
    return lines


def _wakeup_lines(view: dict) -> list[str]:
    task = view["task"]
    scope = "" if view["execution"] is None else f", execution {view['execution']}"
    return [f"task {task['id']}: {task['name']}{scope}: wake-ups, newest first"] + table(
        ["DATE", "RUN", "EXECUTION", "AGENT", "ADDRESS", "OUTCOME", "DETAIL"],
        [[w["date"], w["run"], w["execution"], f"{w['agent']['id']} {w['agent']['name'] or '?'}",
          w["address"] or "-", w["outcome"], _short(w["detail"])] for w in view["wakeups"]],
        empty="no wake-up recorded")


@click.command("executions")
@click.argument("task_id", type=int)
@click.option("--execution", type=int, metavar="N", help="This execution (default: the latest; 0 = runs "
                                                         "prepared without the bridge's execution).")
@click.option("--limit", type=int, default=operator_view.DEFAULT_RUNS, show_default=True, help="Runs shown.")
@common
def task_executions(task_id: int, execution: int | None, limit: int, database_url: str | None,
                    as_json: bool) -> None:
    """Executions of a task, and each run or slice of one: agent, state, progress, wake-ups."""
    _run(database_url, as_json, lambda e: operator_view.task_executions(e, task_id, execution, limit),
         _execution_lines)


@click.command("wakeups")
@click.argument("task_id", type=int)
@click.option("--execution", type=int, metavar="N", help="Only this execution's runs.")
@click.option("--limit", type=int, default=operator_view.DEFAULT_WAKEUPS, show_default=True)
@common
def task_wakeups(task_id: int, execution: int | None, limit: int, database_url: str | None,
                 as_json: bool) -> None:
    """The wake-up attempts recorded for a task's runs: date, agent, outcome, detail."""
    _run(database_url, as_json, lambda e: operator_view.task_wakeups(e, task_id, execution, limit),
         _wakeup_lines)
