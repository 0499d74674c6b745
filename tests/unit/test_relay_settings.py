"""Relay settings: the upstream URL, credentials kept out of every display, checks that fail early."""

import pytest

from fusion_bridge.adapters.upstream_http import Upstream
from fusion_bridge.config import Config
from fusion_bridge.services.relay.settings import RelaySettings, relay_problem


def settings(**values) -> RelaySettings:
    return RelaySettings.from_config(Config().updated(values))


def test_defaults():
    relay = settings(INVENTORY_UPSTREAM="https://glpi.example/front/inventory.php")
    assert (relay.concurrency, relay.rate_per_minute, relay.max_attempts) == (2, 0, 5)
    assert (relay.caps.max_documents, relay.caps.max_bytes) == (10000, 1024 ** 3)
    upstream = relay.upstream
    assert (upstream.scheme, upstream.host, upstream.port, upstream.path) == \
        ("https", "glpi.example", 443, "/front/inventory.php")
    assert upstream.ssl_context.verify_mode.name == "CERT_REQUIRED" and upstream.authorization is None


def test_credentials_from_the_url_or_the_settings_are_never_displayed():
    from_url = Upstream.parse("http://glpi%40site:p%3Ass@10.0.0.5:8080/glpi/plugins/fusioninventory/?x=1")
    assert from_url.display == "http://10.0.0.5:8080/glpi/plugins/fusioninventory/?x=1"
    assert from_url.authorization == "Basic Z2xwaUBzaXRlOnA6c3M="  # glpi@site:p:ss
    from_settings = settings(INVENTORY_UPSTREAM="https://glpi.example/", UPSTREAM_USER="u", UPSTREAM_PASSWORD="pw")
    assert from_settings.upstream.authorization == "Basic dTpwdw=="
    shown = repr(from_settings) + repr(Config().updated({"INVENTORY_UPSTREAM": "https://u:pw@glpi/",
                                                         "UPSTREAM_PASSWORD": "pw2"}))
    assert "pw" not in shown.replace("pwd", "")


@pytest.mark.parametrize("values, message", [
    ({}, "no inventory upstream"),
    ({"INVENTORY_UPSTREAM": "ftp://glpi/"}, "http:// or https://"),
    ({"INVENTORY_UPSTREAM": "glpi.example"}, "http:// or https://"),
    ({"INVENTORY_UPSTREAM": "http://glpi:99999/"}, "not a valid URL"),
    ({"INVENTORY_UPSTREAM": "http://glpi/", "RELAY_CONCURRENCY": 0}, "RELAY_CONCURRENCY must be at least 1"),
    ({"INVENTORY_UPSTREAM": "http://glpi/", "RELAY_CLAIM_SECONDS": 100}, "must exceed the upstream connect"),
    ({"INVENTORY_UPSTREAM": "http://glpi/", "UPSTREAM_READ_TIMEOUT": 0}, "time-outs must be positive"),
])
def test_bad_settings_are_refused_with_what_to_fix(values, message):
    with pytest.raises(ValueError, match=message):
        settings(**values)


def test_relay_problem_is_none_without_upstream_and_says_why_otherwise():
    assert relay_problem(Config()) is None
    assert "http:// or https://" in relay_problem(Config().updated({"INVENTORY_UPSTREAM": "glpi"}))


@pytest.mark.parametrize("word, value", [("1", True), ("yes", True), ("On", True), ("0", False), ("no", False),
                                         ("false", False)])
def test_yes_no_settings(word, value):
    assert Config().updated({"UPSTREAM_VERIFY": word}).upstream_verify is value


def test_a_yes_no_setting_refuses_other_words():
    with pytest.raises(ValueError, match="UPSTREAM_VERIFY must be yes or no"):
        Config().updated({"UPSTREAM_VERIFY": "maybe"})
