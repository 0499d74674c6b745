"""A TLS reverse proxy in front of the bridge for the end-to-end tests: a throw-away CA and
server certificate (openssl CLI), a veth link between two private network namespaces (the
proxy and the bridge in one, the agent in the other, each with its own address), and nginx
running contrib/nginx-fusion-bridge.conf with its paths and ports replaced.

Standard library only. Needs root (namespaces, veth) and the Debian packages nginx, openssl,
iproute2.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers import netns as netnslib

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONTRIB = ROOT / "contrib" / "nginx-fusion-bridge.conf"

# The /30 between the namespaces: the proxy's side and the agent's side.
PROXY_ADDRESS = "10.213.77.1"
AGENT_ADDRESS = "10.213.77.2"
PROXY_PORT = 8443


def _openssl(*args: str, cwd: Path) -> None:
    openssl = netnslib.tool("openssl", "openssl")
    done = subprocess.run([openssl, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{done.stderr}")


def make_certificates(workdir: Path, ip: str) -> tuple[Path, Path, Path]:
    """A self-signed CA and a server certificate for ``ip`` (subjectAltName IP) signed by it:
    (CA certificate, server certificate, server key)."""
    workdir.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=fusion-bridge e2e CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=workdir)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", f"/CN={ip}", cwd=workdir)
    (workdir / "server.ext").write_text(f"subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\n"
                                        "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=workdir)
    return workdir / "ca.pem", workdir / "server.pem", workdir / "server.key"


def link(proxy_ns: netnslib.NetNamespace, agent_ns: netnslib.NetNamespace) -> None:
    """A veth pair: PROXY_ADDRESS in ``proxy_ns``, AGENT_ADDRESS in ``agent_ns``."""
    ip = proxy_ns.ip
    proxy_ns.run([ip, "link", "add", "fbproxy", "type", "veth", "peer", "name", "fbagent"], check=True)
    proxy_ns.run([ip, "link", "set", "fbagent", "netns", str(agent_ns.holder.pid)], check=True)
    proxy_ns.run([ip, "addr", "add", f"{PROXY_ADDRESS}/30", "dev", "fbproxy"], check=True)
    proxy_ns.run([ip, "link", "set", "fbproxy", "up"], check=True)
    agent_ns.run([ip, "addr", "add", f"{AGENT_ADDRESS}/30", "dev", "fbagent"], check=True)
    agent_ns.run([ip, "link", "set", "fbagent", "up"], check=True)


def nginx_config(workdir: Path, certificate: Path, key: Path, bridge: str) -> Path:
    """nginx.conf for a foreground nginx: contrib's server block on PROXY_ADDRESS:PROXY_PORT
    with ``certificate``/``key``, proxying to ``bridge`` (host:port); temporary files, pid and
    logs in ``workdir``."""
    server = NGINX_CONTRIB.read_text()
    replacements = {
        "listen 443 ssl;": f"listen {PROXY_ADDRESS}:{PROXY_PORT} ssl;",
        "listen [::]:443 ssl;": "",
        "/etc/ssl/fusion-bridge/fullchain.pem": str(certificate),
        "/etc/ssl/fusion-bridge/privkey.pem": str(key),
        "http://127.0.0.1:8080": f"http://{bridge}",
    }
    for old, new in replacements.items():
        assert old in server, f"{NGINX_CONTRIB} no longer has {old!r}: update this test"
        server = server.replace(old, new)
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (workdir / folder).mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(f"""\
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {workdir}/access.log;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
{server}
}}
""")
    return conf


def start_nginx(netns: netnslib.NetNamespace, conf: Path):
    """nginx in the foreground inside ``netns``, answering on PROXY_ADDRESS:PROXY_PORT."""
    nginx = netnslib.tool("nginx", "nginx")
    test = netns.run([nginx, "-t", "-c", str(conf), "-g", "daemon off;"])
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t refused {conf}:\n{test.stderr}")
    process = netns.popen([nginx, "-c", str(conf), "-g", "daemon off;"], log=conf.parent / "nginx.out")
    if not netns.wait_tcp(PROXY_ADDRESS, PROXY_PORT, 20, alive=process):
        netnslib.stop(process)
        raise RuntimeError(f"nginx not answering:\n{(conf.parent / 'error.log').read_text(errors='replace')}")
    return process
