"""The relay's upstream over HTTPS: certificates verified by default, against a CA file when given,
not at all when turned off; a clear reason when the certificate is not trusted."""

import ssl
import subprocess

import pytest

from fusion_bridge.adapters.upstream_http import UpstreamClient
from fusion_bridge.services.relay.forwarder import Forwarder
from tests.helpers.relay import add_agents, document, queue_inventory
from tests.helpers.relay_upstream import ScriptedUpstream, relay_settings


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
def https_upstream(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server = ScriptedUpstream(tls=context)
    yield server
    server.close()


def forward(engine, database_url, url, **settings):
    forwarder = Forwarder(engine, relay_settings(database_url, url, **settings))
    client = UpstreamClient(forwarder.settings.upstream)
    try:
        return forwarder.forward_one(client)
    finally:
        client.close()


def test_an_untrusted_certificate_is_refused_with_the_reason(engine, database_url, https_upstream):
    add_agents(engine, 1)
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00")
    assert forward(engine, database_url, https_upstream.url) == "retry"
    assert "TLS certificate of 127.0.0.1" in document(engine)["last_error"]
    assert https_upstream.requests == []


def test_a_ca_file_makes_it_trusted(engine, database_url, https_upstream, certificate):
    add_agents(engine, 1)
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00")
    assert forward(engine, database_url, https_upstream.url, UPSTREAM_CA_FILE=str(certificate[0])) == "delivered"
    assert len(https_upstream.delivered) == 1


def test_verification_can_be_turned_off(engine, database_url, https_upstream):
    add_agents(engine, 1)
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00")
    assert forward(engine, database_url, https_upstream.url, UPSTREAM_VERIFY="no") == "delivered"


def test_a_missing_ca_file_is_a_settings_error(database_url, tmp_path):
    with pytest.raises(ValueError, match="cannot read the upstream CA file"):
        relay_settings(database_url, "https://glpi.example/", UPSTREAM_CA_FILE=str(tmp_path / "none.pem"))
