"""Run the real FusionInventory agent 2.6 in the foreground (``run_agent``) or as a daemon with
its HTTP server (``start_daemon``, push mode), isolated.

Shared by the end-to-end tests (tests/e2e/test_agent_e2e.py) and the fixture recorder
(fixtures/record.py). Standard library only.

Isolation (the agent 2.6 has no ``--vardir`` option; Debian fixes its state folder to
``/var/lib/fusioninventory-agent``):

* ``unshare --mount --pid --fork --mount-proc``: a private mount namespace in which a temporary
  state folder is bind-mounted over ``/var/lib/fusioninventory-agent`` (the real one is never
  touched), and a private PID namespace so the inventory's PROCESSES section only shows the
  agent's own processes. ``--kill-child`` makes the whole namespace die with ``unshare``.
* a minimal environment (``env -i``), working directory ``/``, our own ``--conf-file`` (no
  ``include`` of /etc/fusioninventory/conf.d).
* the network namespace is inherited from the caller: the recorder runs its network scenarios
  inside ``unshare --net`` (only ``lo``), the inventory e2e tests use the host's loopback, the
  network-task e2e tests enter a private one with ``prefix`` (``nsenter``, tests/helpers/netns.py).

Needs root (namespaces, mount).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

AGENT = "fusioninventory-agent"
STATE_DIR = "/var/lib/fusioninventory-agent"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Same settings as the reference recordings' agent.cfg (fixtures/README.md); the
# debug level is a parameter (2 also dumps every XML message sent and received).
AGENT_CFG = """\
# FusionInventory agent configuration for fixture recording and e2e tests.
# Only local, explicit settings: no include of /etc/fusioninventory/conf.d.
logger = stderr
debug = {debug}
color = 0
no-ssl-check = {no_ssl_check}
no-httpd = {no_httpd}
lazy = 0
force = 0
timeout = 30
delaytime = 3600
backend-collect-timeout = 180
"""

# Lines that mean the agent did not accept a server reply (HTTP::Client::OCS, Agent.pm).
REPLY_PROBLEMS = re.compile(
    r"No answer from server|unexpected content|uncompressed content|unknown content format"
    r"|communication error|Can't use string|Can't locate object method|not an XML message"
    r"|invalid XML message|authentication required|Got empty response|Can't decode JSON"
)
ERROR_LINE = re.compile(r"^\[error\]")


class AgentMissing(RuntimeError):
    pass


def agent_binary() -> str:
    path = shutil.which(AGENT, path=os.environ.get("PATH", "") + os.pathsep + PATH)
    if not path:
        raise AgentMissing(
            f"{AGENT} is not installed: apt-get install -y fusioninventory-agent "
            "fusioninventory-agent-task-network fusioninventory-agent-task-deploy "
            "fusioninventory-agent-task-collect (.ci/run does it)"
        )
    return path


def agent_version() -> str:
    """The agent's version string as it puts it in User-Agent, e.g. ``2.6-3``."""
    out = subprocess.run([agent_binary(), "--version"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    match = re.search(r"FusionInventory Agent \(([^)]+)\)", out)
    if not match:
        raise RuntimeError(f"cannot read the agent version from: {out!r}")
    return match.group(1)


def user_agent() -> str:
    return f"FusionInventory-Agent_v{agent_version()}"


def problem_lines(log: str, allowed: re.Pattern[str] | None = None) -> list[str]:
    """``[error]`` lines and reply-rejection lines of an agent log (minus the allowed ones)."""
    found = []
    for line in log.splitlines():
        if ERROR_LINE.search(line) or REPLY_PROBLEMS.search(line):
            if allowed is not None and allowed.search(line):
                continue
            found.append(line)
    return found


@dataclass
class AgentRun:
    argv: list[str]
    env: dict[str, str]
    returncode: int
    stderr: bytes
    stdout: bytes
    wall_time: float
    deviceid: str | None
    state_files: list[str] = field(default_factory=list)

    @property
    def log(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def seed_deviceid(state_dir: Path, deviceid: str) -> None:
    """Write FusionInventory-Agent.dump (a Perl Storable hash) holding ``deviceid``."""
    subprocess.run(
        ["perl", "-MStorable=store", "-e", 'store({deviceid => $ARGV[1]}, $ARGV[0]) or die "store failed\\n"',
         str(state_dir / "FusionInventory-Agent.dump"), deviceid],
        check=True, timeout=60,
    )


def read_deviceid(state_dir: Path) -> str | None:
    dump = state_dir / "FusionInventory-Agent.dump"
    if not dump.exists():
        return None
    out = subprocess.run(
        ["perl", "-MStorable=retrieve", "-e", 'print retrieve($ARGV[0])->{deviceid} // ""', str(dump)],
        capture_output=True, text=True, timeout=60,
    )
    return out.stdout.strip() or None


def run_agent(
    server: str,
    tasks: str,
    *,
    extra_args: tuple[str, ...] = (),
    deviceid: str | None = None,
    perl5lib: str | None = None,
    timeout: float = 120,
    workdir: Path | None = None,
    debug: int = 1,
    prefix: tuple[str, ...] = (),
    ssl_check: bool = False,
) -> AgentRun:
    """Run ``fusioninventory-agent --server SERVER --tasks TASKS`` once in the foreground.

    ``deviceid`` seeds the state folder so the DEVICEID is deterministic (otherwise the agent
    makes one from the host name and the time). Raises ``subprocess.TimeoutExpired`` after
    killing the whole namespace if the agent runs longer than ``timeout`` seconds. ``debug``
    is the log level (1: ``[debug]``; 2: also every XML message, as ``--debug --debug``).
    ``prefix`` goes before the isolation command, e.g. ``nsenter --net=…`` to run the agent in
    an existing network namespace (tests/helpers/netns.py); it must exec its command (same pid).
    ``ssl_check``: verify the server's certificate and name (give ``--ca-cert-file`` in
    ``extra_args``) instead of ``--no-ssl-check``.
    """
    own_tmp = None
    if workdir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="fusion-agent-")
        workdir = Path(own_tmp.name)
    try:
        state = workdir / "state"
        argv, agent_argv, env = _isolated_command(server, tasks, workdir, state, extra_args=extra_args,
                                                  deviceid=deviceid, perl5lib=perl5lib, debug=debug,
                                                  prefix=prefix, no_httpd=1, ssl_check=ssl_check)
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            raise subprocess.TimeoutExpired(argv, timeout, output=stdout, stderr=stderr) from None
        wall = time.monotonic() - started
        files = sorted(str(path.relative_to(state)) for path in state.rglob("*") if path.is_file())
        return AgentRun(argv=agent_argv, env=env, returncode=proc.returncode, stderr=stderr, stdout=stdout,
                        wall_time=wall, deviceid=read_deviceid(state), state_files=files)
    finally:
        if own_tmp is not None:
            own_tmp.cleanup()


def _isolated_command(server: str, tasks: str, workdir: Path, state: Path, *, extra_args: tuple[str, ...],
                      deviceid: str | None, perl5lib: str | None, debug: int, prefix: tuple[str, ...],
                      no_httpd: int, ssl_check: bool = False) -> tuple[list[str], list[str], dict[str, str]]:
    """(full argv, the agent's own argv, its environment); writes the conf file and seeds the
    state folder."""
    binary = agent_binary()
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    cfg = workdir / "agent.cfg"
    cfg.write_text(AGENT_CFG.format(debug=debug, no_httpd=no_httpd, no_ssl_check=0 if ssl_check else 1))
    if deviceid:
        seed_deviceid(state, deviceid)
    env = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": "/root"}
    if perl5lib:
        env["PERL5LIB"] = perl5lib
    agent_argv = [binary, "--conf-file", str(cfg), "--server", server, "--logger", "stderr",
                  *(["--debug"] * debug), *([] if ssl_check else ["--no-ssl-check"]), "--tasks", tasks, *extra_args]
    os.makedirs(STATE_DIR, exist_ok=True)
    argv = [
        *prefix, "unshare", "--mount", "--pid", "--fork", "--mount-proc", "--kill-child", "--",
        "/bin/sh", "-c", f'mount --bind "$0" {STATE_DIR} && cd / && exec "$@"', str(state),
        "env", "-i", *(f"{key}={value}" for key, value in env.items()), *agent_argv,
    ]
    return argv, agent_argv, env


@dataclass
class AgentDaemon:
    """A daemon agent (``--daemon --no-fork``) started by ``start_daemon``; its stderr goes to
    ``log_path``. Use as a context manager, or call ``stop``."""

    process: subprocess.Popen
    argv: list[str]
    log_path: Path
    httpd_port: int

    @property
    def log(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace") if self.log_path.exists() else ""

    def wait_for(self, pattern: str, timeout: float, after: int = 0) -> re.Match[str] | None:
        """The first match of ``pattern`` in the log past offset ``after``, waiting up to
        ``timeout`` seconds; None if it does not show (or the agent exits)."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.log, after)
            if match or time.monotonic() > deadline or self.process.poll() is not None:
                return match or regex.search(self.log, after)
            time.sleep(0.05)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM to the whole namespace (``--kill-child``), SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "AgentDaemon":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_daemon(
    server: str,
    tasks: str,
    *,
    workdir: Path,
    httpd_port: int,
    httpd_ip: str = "127.0.0.1",
    httpd_trust: str | None = "127.0.0.1",
    extra_args: tuple[str, ...] = (),
    deviceid: str | None = None,
    debug: int = 1,
    prefix: tuple[str, ...] = (),
) -> AgentDaemon:
    """Start ``fusioninventory-agent --daemon --no-fork`` with its HTTP server on
    ``httpd_ip:httpd_port``, isolated as ``run_agent``. A fresh agent contacts its server only
    30-60 min after start (delaytime 3600), or at once when woken through ``/now``."""
    workdir.mkdir(parents=True, exist_ok=True)
    httpd = ["--daemon", "--no-fork", "--httpd-ip", httpd_ip, "--httpd-port", str(httpd_port)]
    if httpd_trust:
        httpd += ["--httpd-trust", httpd_trust]
    argv, agent_argv, _env = _isolated_command(server, tasks, workdir, workdir / "state",
                                               extra_args=(*httpd, *extra_args), deviceid=deviceid,
                                               perl5lib=None, debug=debug, prefix=prefix, no_httpd=0)
    log_path = workdir / "agent.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True)
    return AgentDaemon(process, agent_argv, log_path, httpd_port)
