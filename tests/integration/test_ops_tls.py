"""``serve --certfile --keyfile``: HTTPS without a proxy, with a certificate made by the test."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import sys
import zlib

import pytest

from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.serve_process import free_port, running_serve, self_signed_certificate, serve_env

AGENT_PATH = "/plugins/fusioninventory/"


@pytest.fixture
def certificate(tmp_path):
    return self_signed_certificate(tmp_path)


def test_https_prolog(tmp_path, certificate):
    cert, key = certificate
    trusting = ssl.create_default_context(cafile=str(cert))  # verifies the certificate and the address
    with running_serve(tmp_path, "--json", "--workers", "1", "--no-scheduler", "--certfile", str(cert),
                       "--keyfile", str(key), tls_context=trusting) as serve:
        status, headers, body = serve.request("POST", AGENT_PATH, prolog("tls-2026-01-01-00-00-00"), ZLIB_HEADERS)
        ready = serve.json("/readyz")
        plain = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=5)
        with pytest.raises((http.client.HTTPException, OSError)):  # plain HTTP gets no HTTP answer
            plain.request("GET", "/healthz")
            plain.getresponse().read()
        plain.close()
        banner = json.loads(serve.stdout.read_text().splitlines()[0])
    assert status == 200 and body[:2] == b"\x78\x9c"
    assert b"<PROLOG_FREQ>" in zlib.decompress(body)
    assert ready[0] == 200
    assert banner["tls"] is True and banner["agent_url"] == f"https://127.0.0.1:{serve.port}{AGENT_PATH}"
    assert banner["metrics"]["url"].startswith("https://")


def test_getconfig_over_https_names_an_https_remote(tmp_path, certificate):
    """What an agent is told to call back comes from the request: https here."""
    cert, key = certificate
    context = ssl.create_default_context(cafile=str(cert))
    with running_serve(tmp_path, "--workers", "1", "--no-scheduler", tls_context=context,
                       FUSION_BRIDGE_CERTFILE=str(cert), FUSION_BRIDGE_KEYFILE=str(key)) as serve:
        serve.request("POST", AGENT_PATH, prolog("tls-2026-01-01-00-00-00"), ZLIB_HEADERS)
        status, _, body = serve.request("GET", AGENT_PATH + "?action=getConfig&machineid=tls-2026-01-01-00-00-00")
        banner = serve.stdout.read_text()
    assert status == 200 and json.loads(body)["configValidityPeriod"] == 600
    assert f"--server https://127.0.0.1:{serve.port}{AGENT_PATH}" in banner and "(TLS)" in banner


@pytest.mark.parametrize("options, message", [
    (["--certfile", "{cert}"], "TLS needs both --certfile and --keyfile"),
    (["--certfile", "{cert}", "--keyfile", "{tmp}/missing.pem"], "cannot use certificate"),
    (["--certfile", "{key}", "--keyfile", "{key}"], "cannot use certificate"),
])
def test_unusable_tls_files_are_said_at_start(tmp_path, certificate, options, message):
    cert, key = certificate
    filled = [o.format(cert=cert, key=key, tmp=tmp_path) for o in options]
    done = subprocess.run([sys.executable, "-m", "fusion_bridge", "serve", "--bind", f"127.0.0.1:{free_port()}",
                           "--no-scheduler", *filled], cwd=tmp_path, env=serve_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
