"""What ships: every module in the wheel, the systemd unit and its environment file."""

from __future__ import annotations

import configparser
import dataclasses
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from setuptools import find_packages

from fusion_bridge.config import Config
from fusion_bridge.ops.settings import OpsSettings

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "contrib" / "fusion-bridge.service"
ENV_FILE = ROOT / "contrib" / "fusion-bridge.env"


def test_every_folder_of_code_is_a_package_the_wheel_takes():
    """A folder of modules without ``__init__.py``, or outside the include patterns, would be
    missing from ``pip wheel .`` and from every installed copy."""
    pyproject_find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = set(find_packages(str(ROOT), include=pyproject_find["include"]))
    folders = {str(path.parent.relative_to(ROOT)).replace("/", ".")
               for top in ("protocol", "schema", "fusion_bridge") for path in (ROOT / top).rglob("*.py")
               if "__pycache__" not in path.parts}
    assert folders - packages == set()
    assert "fusion_bridge.ops" in packages


def unit_sections() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_the_unit_runs_serve_restarting_and_hardened():
    unit = unit_sections()
    service = unit["Service"]
    assert service["Type"] in ("notify", "exec")
    assert service["ExecStart"].split()[-2:] == ["fusion-bridge", "serve"] or service["ExecStart"].endswith(
        "fusion-bridge serve")
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/fusion-bridge/env"
    for key, wanted in (("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"), ("PrivateTmp", "yes"),
                        ("ProtectHome", "yes")):
        assert service[key] == wanted, key
    assert service["ReadWritePaths"] == service["WorkingDirectory"] == "/var/lib/fusion-bridge"
    assert service["Environment"] == "FUSION_BRIDGE_RUN_DIR=/run/fusion-bridge"
    assert service["RuntimeDirectory"] == "fusion-bridge"
    assert service["User"] != "root"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_accepts_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed to check the unit (apt-get install systemd)"
    # verify wants the ExecStart program to exist: an installed one stands in for the venv's.
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace("/opt/fusion-bridge/bin/fusion-bridge", sys.executable))
    done = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr  # unknown keys are only warnings


def known_variables() -> set[str]:
    from fusion_bridge import scheduler

    names = {f"FUSION_BRIDGE_{f.name.upper()}" for f in dataclasses.fields(Config)}
    names |= {f"FUSION_BRIDGE_{f.name.upper()}" for f in dataclasses.fields(OpsSettings)}
    names |= {scheduler.ENV_INTERVAL, scheduler.ENV_RUN_TIMEOUT, scheduler.ENV_RUNS_KEPT, scheduler.ENV_PUSH_CHECK}
    return names


def test_the_environment_file_names_only_real_settings():
    """Settings and commented-out settings (``#NAME=value``); prose comments start ``# ``."""
    given = []
    for number, line in enumerate(ENV_FILE.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("# "):
            continue
        match = re.fullmatch(r"#?([A-Z_]+)=(\S*)", line)
        assert match, f"line {number} is not NAME=value: {line!r}"
        given.append(match.group(1))
    assert given and set(given) <= known_variables(), set(given) - known_variables()
    assert "FUSION_BRIDGE_DATABASE_URL" in given
