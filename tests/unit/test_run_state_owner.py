"""Only ``fusion_bridge.services.runs`` writes a run's state (``taskjobstates.state``).

The check reads the source of every module of ``fusion_bridge/`` (no import, no database) and
reports each write of the runs table's state elsewhere:
- ``insert(<runs>)`` / ``<runs>.insert()`` at all: a new run always gets a state;
- ``update(<runs>)`` / ``<runs>.update()`` whose ``.values(...)`` sets ``state`` (or passes a
  mapping it cannot see into);
- SQL text that inserts into ``...taskjobstates`` or updates it with ``SET ... state =``.
``<runs>`` is ``schema.taskjobstates`` or any name a module binds to it (``runs = schema.taskjobstates``,
``a, runs = ..., schema.taskjobstates``, ``runs_module.runs``). The log table (``taskjoblogs``)
has a ``state`` column too — the log level — whose writes are not concerned.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "fusion_bridge"
OWNER = PACKAGE / "services" / "runs.py"
RUNS_TABLE = "taskjobstates"
OWNER_MODULE = "fusion_bridge.services.runs"

SQL_INSERT = re.compile(r"\b(INSERT|REPLACE)\s+(INTO\s+)?[`\"]?\w*" + RUNS_TABLE + r"[`\"]?(\s|\(|$)", re.I)
SQL_UPDATE = re.compile(r"\bUPDATE\s+[`\"]?\w*" + RUNS_TABLE + r"[`\"]?\s.*?\bSET\b(.*)", re.I | re.S)
SQL_SETS_STATE = re.compile(r"(^|,)\s*(\w+\.)?[`\"]?state[`\"]?\s*=", re.I)


class _Checker(ast.NodeVisitor):
    """Finds the writes of the runs table's ``state`` in one module's syntax tree."""

    def __init__(self, tree: ast.AST):
        self.aliases: set[str] = set()  # names bound to the runs table
        self.owner_modules: set[str] = set()  # names bound to the owner module (its ``runs``)
        self.found: list[tuple[int, str]] = []
        self._bind_names(tree)

    # -- which expressions are the runs table

    def _bind_names(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for name in node.names:
                    if node.module == "fusion_bridge.services" and name.name == "runs":
                        self.owner_modules.add(name.asname or name.name)
                    if name.name == RUNS_TABLE or (node.module == OWNER_MODULE and name.name == "runs"):
                        self.aliases.add(name.asname or name.name)
            elif isinstance(node, ast.Import):
                for name in node.names:
                    if name.name == OWNER_MODULE and name.asname:
                        self.owner_modules.add(name.asname)
        changed = True
        while changed:  # aliases of aliases, in any order
            changed = False
            for node in ast.walk(tree):
                for target, value in self._assignments(node):
                    if isinstance(target, ast.Name) and target.id not in self.aliases and self.is_runs(value):
                        self.aliases.add(target.id)
                        changed = True

    @staticmethod
    def _assignments(node: ast.AST):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple) \
                        and len(target.elts) == len(node.value.elts):
                    yield from zip(target.elts, node.value.elts)
                else:
                    yield target, node.value

    def is_runs(self, node: ast.AST | None) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.aliases
        if isinstance(node, ast.Attribute):
            if node.attr == RUNS_TABLE:
                return True
            return (node.attr == "runs" and isinstance(node.value, ast.Name)
                    and node.value.id in self.owner_modules)
        return False

    # -- the writes

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in ("insert", "update"):
            if isinstance(func, ast.Attribute) and self.is_runs(func.value):
                table = func.value  # runs.insert(), runs.update()
            else:
                table = node.args[0] if node.args else None  # insert(runs), sqlalchemy.update(runs)
            if self.is_runs(table):
                if name == "insert":
                    self.found.append((node.lineno, "inserts runs"))
                elif self._update_sets_state(node):
                    self.found.append((node.lineno, "updates the state of runs"))
        self.generic_visit(node)

    def _update_sets_state(self, update_call: ast.Call) -> bool:
        """Whether a ``.values(...)`` chained on this ``update(runs)`` may set ``state``."""
        for call in self._chained_calls(update_call):
            if call.func.attr != "values":
                continue
            for keyword in call.keywords:
                if keyword.arg in (None, "state"):  # state=..., or **mapping
                    return True
            for arg in call.args:
                if not isinstance(arg, ast.Dict) or any(
                        key is None or (isinstance(key, ast.Constant) and key.value == "state")
                        or not isinstance(key, ast.Constant) for key in arg.keys):
                    return True
        return False

    def _chained_calls(self, inner: ast.Call):
        parents = self._parents
        node: ast.AST = inner
        while True:
            attribute = parents.get(id(node))
            if not isinstance(attribute, ast.Attribute) or attribute.value is not node:
                return
            call = parents.get(id(attribute))
            if not isinstance(call, ast.Call) or call.func is not attribute:
                return
            yield call
            node = call

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self._check_sql(node.lineno, node.value)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        # An f-string: its text with ``{runs.name}`` read as the table's name.
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                inner = value.value
                is_table_name = isinstance(inner, ast.Attribute) and inner.attr in ("name", "fullname") \
                    and self.is_runs(inner.value)
                parts.append(RUNS_TABLE if is_table_name or self.is_runs(inner) else "{}")
        self._check_sql(node.lineno, "".join(parts))
        self.generic_visit(node)

    def _check_sql(self, line: int, sql: str) -> None:
        if SQL_INSERT.search(sql):
            self.found.append((line, "inserts runs in SQL text"))
        match = SQL_UPDATE.search(sql)
        if match and SQL_SETS_STATE.search(match.group(1)):
            self.found.append((line, "updates the state of runs in SQL text"))

    def check(self, tree: ast.AST) -> list[tuple[int, str]]:
        self._parents = {id(child): parent
                         for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        self.visit(tree)
        return sorted(set(self.found))


def state_writes(source: str) -> list[tuple[int, str]]:
    """(line, what) of each write of a run's state in this module's source."""
    tree = ast.parse(source)
    return _Checker(tree).check(tree)


def test_only_the_owner_writes_a_runs_state():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == OWNER:
            continue
        for line, what in state_writes(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not offenders, ("a run's state moves only through fusion_bridge/services/runs.py:\n"
                           + "\n".join(offenders))


def test_the_owner_is_where_the_writes_are():
    # The check finds the owner's own writes: it would find them anywhere else.
    found = {what for _line, what in state_writes(OWNER.read_text(encoding="utf-8"))}
    assert {"inserts runs", "updates the state of runs"} <= found


@pytest.mark.parametrize("source", [
    "import schema\nfrom sqlalchemy import update\n"
    "conn.execute(update(schema.taskjobstates).where(x).values(state=3))",
    "import schema\nruns = schema.taskjobstates\nconn.execute(update(runs).values(state=3))",
    "import schema\ntasks, _runs = schema.tasks, schema.taskjobstates\n"
    "def f(conn):\n    conn.execute(update(_runs).where(_runs.c.id == 1).values({'state': 4}))",
    "import schema\ndef f(conn, v):\n    runs = schema.taskjobstates\n"
    "    conn.execute(update(runs).values(**v))",
    "import schema\nruns = schema.taskjobstates\nconn.execute(runs.update().values(state=5))",
    "import schema\nruns = schema.taskjobstates\nconn.execute(insert(runs), rows)",
    "import schema\nrows = schema.taskjobstates\nalias = rows\nconn.execute(insert(alias).values(x=1))",
    "from fusion_bridge.services import runs as run_service\n"
    "conn.execute(update(run_service.runs).values(state=1))",
    "from fusion_bridge.services.runs import runs as r\nconn.execute(update(r).values(state=1))",
    "conn.execute(text('UPDATE glpi_plugin_fusioninventory_taskjobstates SET state = 4 WHERE id = 1'))",
    "conn.execute(text('update glpi_plugin_fusioninventory_taskjobstates r "
    "set r.date_start = NULL, r.state=0'))",
    "conn.execute(text('INSERT INTO glpi_plugin_fusioninventory_taskjobstates (state) VALUES (0)'))",
    "import schema\nruns = schema.taskjobstates\nconn.execute(text(f'UPDATE {runs.name} SET state = 5'))",
])
def test_the_check_finds_a_write_of_the_state(source):
    assert state_writes(source)


@pytest.mark.parametrize("source", [
    # The log table's state is the log level.
    "import schema\nlogs = schema.taskjoblogs\nconn.execute(insert(logs).values(state=7))",
    "import schema\nconn.execute(update(schema.taskjoblogs).values(state=1))",
    # Other columns of runs, other tables' updates, reads.
    "import schema\nruns = schema.taskjobstates\nconn.execute(update(runs).values(date_start=None))",
    "import schema\nconn.execute(update(schema.bridge_runs).values(pushes=0))",
    "import schema\nruns = schema.taskjobstates\nconn.execute(select(runs.c.state).where(runs.c.state == 0))",
    "import schema\nruns = schema.taskjobstates\nconn.execute(delete(runs).where(runs.c.id == 1))",
    "conn.execute(text('UPDATE glpi_plugin_fusioninventory_agents SET last_contact = NOW() WHERE EXISTS("
    "SELECT 1 FROM glpi_plugin_fusioninventory_taskjobstates r WHERE r.state IN (0, 1, 2))'))",
    "conn.execute(text('UPDATE glpi_plugin_fusioninventory_taskjobstates SET date_start = NULL'))",
    "values.update(state=1)",
])
def test_the_check_leaves_other_writes_alone(source):
    assert state_writes(source) == []


# ---------------------------------------------------------------------------------------------
# The groups of states are named once, in fusion_bridge/domain/run_states.py

GROUPS_HOME = PACKAGE / "domain" / "run_states.py"
SQL_STATE_LIST = re.compile(r"\bstate\s+(NOT\s+)?IN\s*\(\s*\d", re.I)


def _unwrap_int(node: ast.AST) -> ast.AST:
    """``int(State.X)`` -> ``State.X``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "int" and node.args:
        return node.args[0]
    return node


def state_groups(source: str) -> list[int]:
    """Lines of a tuple, list or set of two or more run states spelled out (``State.X``), or of
    SQL text listing state numbers (``state IN (0, 1, 2)``)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            members = [element for element in map(_unwrap_int, node.elts)
                       if isinstance(element, ast.Attribute) and isinstance(element.value, ast.Name)
                       and element.value.id in ("State", "TaskjobState")]
            if len(members) >= 2:
                lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and SQL_STATE_LIST.search(node.value):
            lines.append(node.lineno)
    return lines


def test_no_module_spells_a_group_of_states_of_its_own():
    offenders = [f"{path.relative_to(ROOT)}:{line}"
                 for path in sorted(PACKAGE.rglob("*.py")) if path != GROUPS_HOME
                 for line in state_groups(path.read_text(encoding="utf-8"))]
    assert not offenders, ("use the groups of fusion_bridge/domain/run_states.py (through runs):\n"
                           + "\n".join(offenders))


@pytest.mark.parametrize("source, found", [
    ("LIVE = (int(State.PREPARED), int(State.SERVER_HAS_SENT_DATA))", [1]),
    ("HANDED_OUT = (State.SERVER_HAS_SENT_DATA, State.AGENT_HAS_SENT_DATA)", [1]),
    ("x = u.state in [State.CANCELLED, State.IN_ERROR]", [1]),
    ("sql = ' AND r.state IN (0, 1, 2)'", [1]),
    ("sql = ' AND r.state IN (:a)'", []),
    ("words = {State.PREPARED: 'Prepared', State.FINISHED: 'Ok'}", []),
])
def test_the_group_check(source, found):
    assert state_groups(source) == found
