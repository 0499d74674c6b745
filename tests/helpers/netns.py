"""A private network namespace with only ``lo``, and a real ``snmpd`` inside it.

Used by tests/e2e/test_network_tasks_e2e.py: the bridge (``fusion-bridge serve``), ``snmpd`` and
the agent all run in one namespace made by ``unshare --net``, so SNMP on 127.0.0.1:161, pings,
ARP and Wake-on-LAN frames never leave it. The namespace is held open by a sleeping process;
every command is started in it with ``nsenter --net=/proc/<holder>/ns/net``. The test process
itself stays in the host's namespace (it reads the database over its usual URL).

Standard library only. Needs root (namespaces, snmpd on port 161).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PR_SET_PDEATHSIG = 1

# What snmpd answers; the tests compare the bridge's rows with these values.
SNMP_NAME = "e2e-switch"
SNMP_DESCR = "e2e switch 1.0 on fusion-bridge loopback"
SNMP_LOCATION = "e2e lab, loopback rack"
SNMP_CONTACT = "e2e@example.invalid"
# Net-SNMP's own sysObjectID makes the agent report TYPE COMPUTER (sysobject.ids: 8072 =
# Net-SNMP COMPUTER); an enterprise the agent's sysobject.ids lists as NETWORKING (Proteon GT 60,
# no vendor-specific MIB support module) makes the loopback snmpd a network device.
SNMP_OBJECT_ID = ".1.3.6.1.4.1.1.1.1.55"
SNMP_COMMUNITY = "public"

SNMPD_CONF = f"""\
# Read-only SNMP device for the e2e tests, reachable only inside their private network namespace.
agentAddress udp:127.0.0.1:161
rocommunity {SNMP_COMMUNITY} 127.0.0.1
sysName {SNMP_NAME}
sysDescr {SNMP_DESCR}
sysLocation {SNMP_LOCATION}
sysContact {SNMP_CONTACT}
sysObjectID {SNMP_OBJECT_ID}
"""


class ToolMissing(RuntimeError):
    """A program the network tests need is not installed (the tests fail, never skip)."""


def tool(name: str, package: str) -> str:
    path = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + PATH)
    if not path:
        raise ToolMissing(f"{name} is not installed: apt-get install -y {package} (.ci/run does it)")
    return path


def _die_with_parent() -> None:  # preexec_fn: no orphan left behind if pytest is killed
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def stop(process: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass


class NetNamespace:
    """``unshare --net`` with ``lo`` up and nothing else; ``close()`` ends it.

    Processes started with :meth:`popen`/:meth:`run` (or any argv passed through
    :meth:`command`) live in the namespace.
    """

    def __init__(self) -> None:
        self.unshare = tool("unshare", "util-linux")
        self.nsenter = tool("nsenter", "util-linux")
        self.ip = tool("ip", "iproute2")
        # unshare execs sleep after unshare(CLONE_NEWNET): the holder's pid is in the namespace.
        self.holder = subprocess.Popen([self.unshare, "--net", "--", "sleep", "3600"],
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       preexec_fn=_die_with_parent)
        try:
            self._wait_entered()
            self.run([self.ip, "link", "set", "lo", "up"], check=True)
            links = self.run([self.ip, "-o", "link"], check=True).stdout
            names = [line.split(":")[1].strip() for line in links.splitlines() if line.strip()]
            if names != ["lo"]:
                raise RuntimeError(f"the network namespace is not lo-only:\n{links}")
        except BaseException:
            self.close()
            raise

    def _wait_entered(self) -> None:
        mine = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.holder.poll() is not None:
                raise RuntimeError(f"unshare --net exited with {self.holder.returncode} (root needed)")
            try:
                if os.readlink(f"/proc/{self.holder.pid}/ns/net") != mine:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("unshare --net did not enter a new network namespace")

    @property
    def path(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    def command(self, argv: list[str] | tuple[str, ...]) -> list[str]:
        """``argv`` run inside the namespace (nsenter execs it: same pid)."""
        return [self.nsenter, f"--net={self.path}", "--", *argv]

    def run(self, argv, *, timeout: float = 60, check: bool = False, env: dict | None = None
            ) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout,
                              check=check, stdin=subprocess.DEVNULL, env=env)

    def popen(self, argv, *, log: Path, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
        """A long-running process in the namespace, in its own process group, output to ``log``."""
        with open(log, "ab") as out:
            return subprocess.Popen(self.command(argv), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=cwd)

    def wait_tcp(self, host: str, port: int, timeout: float, alive: subprocess.Popen | None = None) -> bool:
        """Whether ``host:port`` accepts connections (from inside) within ``timeout`` seconds."""
        probe = ("import socket, sys, time\n"
                 "deadline = time.monotonic() + float(sys.argv[3])\n"
                 "while time.monotonic() < deadline:\n"
                 "    try:\n"
                 "        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()\n"
                 "        sys.exit(0)\n"
                 "    except OSError:\n"
                 "        time.sleep(0.1)\n"
                 "sys.exit(1)\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if alive is not None and alive.poll() is not None:
                return False
            # Short probes so a server that died is noticed quickly.
            result = self.run(["python3", "-c", probe, host, str(port), "2"], timeout=30)
            if result.returncode == 0:
                return True
        return False

    def close(self) -> None:
        if self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait(10)

    def __enter__(self) -> "NetNamespace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Snmpd:
    """A foreground ``snmpd`` on udp 127.0.0.1:161 inside ``netns`` (config :data:`SNMPD_CONF`)."""

    def __init__(self, netns: NetNamespace, workdir: Path, timeout: float = 15) -> None:
        snmpd = tool("snmpd", "snmpd")
        self.snmpget = tool("snmpget", "snmp")
        self.netns = netns
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "snmpd.conf"
        self.conf.write_text(SNMPD_CONF)
        persist = workdir / "persist"
        persist.mkdir(exist_ok=True)
        self.env = {"PATH": PATH, "SNMP_PERSISTENT_DIR": str(persist), "MIBS": "", "HOME": str(workdir)}
        self.log = workdir / "snmpd.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                netns.command([snmpd, "-f", "-Lo", "-C", "-c", str(self.conf),
                               "-p", str(workdir / "snmpd.pid")]),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get(".1.3.6.1.2.1.1.5.0") == SNMP_NAME:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"snmpd did not answer on 127.0.0.1:161:\n{self.log.read_text(errors='replace')}")

    def get(self, oid: str) -> str | None:
        """The value of ``oid`` (``snmpget -Oqv``), or None without an answer."""
        result = self.netns.run([self.snmpget, "-v2c", "-c", SNMP_COMMUNITY, "-t", "1", "-r", "0", "-Oqv",
                                 "127.0.0.1", oid], env=self.env, timeout=30)
        if result.returncode != 0:
            return None
        return result.stdout.strip().strip('"')

    def stop(self) -> None:
        stop(self.process)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
