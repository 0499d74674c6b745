"""Only ``fusion_bridge/http/`` (and ``fusion_bridge/app.py``, which assembles it) may import
Flask or werkzeug: the services, the scheduler, the pure code, the adapters, the CLI and the
codec must load without them, so a CLI command or the scheduler's child process never pays for
a web framework and a service can be called from anywhere.

All the modules are imported together in a fresh interpreter: when that loads neither package,
no module does. Otherwise each module is imported in a process of its own, forked from that
interpreter, so that the offenders are named. To keep it quick that interpreter first loads what
nearly every module needs, SQLAlchemy and the table definitions (``schema``), and checks that
these import neither: what they load hides nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ["fusion_bridge/services", "fusion_bridge/domain", "fusion_bridge/adapters", "fusion_bridge/scheduler.py",
           "fusion_bridge/ops",
           "fusion_bridge/cli/__init__.py", "fusion_bridge/cli/main.py", "fusion_bridge/serve.py",
           "fusion_bridge/errors.py", "fusion_bridge/bootstrap.py", "fusion_bridge/config.py",
           "fusion_bridge/__init__.py", "protocol", "schema"]

IMPORT_EACH = r"""
import importlib, json, os, sys
import sqlalchemy, sqlalchemy.engine, sqlalchemy.exc, schema

FORBIDDEN = ("flask", "werkzeug")

def loaded():
    return sorted({name.split(".")[0] for name in sys.modules} & set(FORBIDDEN))

def in_fork(modules):
    # What importing ``modules`` loads of FORBIDDEN, in a child forked from this interpreter.
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        try:
            for module in modules:
                importlib.import_module(module)
            answer = loaded()
        except BaseException as error:
            answer = [f"import failed: {error!r}"]
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = json.loads(pipe.read() or b'["no answer"]')
    os.waitpid(child, 0)
    return answer

assert not loaded(), loaded()
modules = sys.argv[1:]
# All of them together first: if that loads no forbidden package, no single module does. Only
# otherwise is each imported alone, to name the offenders.
if not in_fork(modules):
    print(json.dumps({module: [] for module in modules}))
else:
    print(json.dumps({module: in_fork([module]) for module in modules}))
"""


def module_names() -> list[str]:
    names = []
    for entry in CHECKED:
        path = ROOT / entry
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            parts = file.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_the_modules_below_http_import_neither_flask_nor_werkzeug():
    names = module_names()
    assert "fusion_bridge.services.agent.exchange" in names and "fusion_bridge.scheduler" in names
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", IMPORT_EACH, *names], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert set(found) == set(names)
    offenders = {module: loaded for module, loaded in found.items() if loaded}
    assert offenders == {}, "\n".join(f"{module}: {', '.join(loaded)}" for module, loaded in offenders.items())
