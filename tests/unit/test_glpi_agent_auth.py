"""GLPI 11's agent authentication as the bridge applies it to b/deploy, b/collect, b/esx
(docs/glpi-secrets.md §5): settings from glpi_configs rows, decisions on Authorization headers."""

from __future__ import annotations

import base64

import pytest

from fusion_bridge.adapters.glpi_key import GlpiKey
from fusion_bridge.adapters.secret_codec import GlpiKeySecrets, glpi_secrets
from fusion_bridge.domain import glpi_agent_auth as auth
from fusion_bridge.domain.glpi_agent_auth import (
    ALLOWED, AgentAuthSettings, agent_auth_settings, authorize_agent_request,
)

KEY = GlpiKey(bytes(range(7, 39)))
CODEC = GlpiKeySecrets(KEY)
CHALLENGE = ("WWW-Authenticate", 'Basic realm="basic"')


def basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def rows(mode="basic", login="agents", password="S3cr3t:é", codec=CODEC) -> dict:
    return {"auth_required": mode, "basic_auth_login": login, "basic_auth_password": codec.conceal(password),
            "enabled_inventory": "1"}


BASIC = agent_auth_settings(rows(), CODEC.reveal)


def test_glpi10_has_no_rows_and_glpi11_default_is_none():
    for found in ({}, {"auth_required": "none", "basic_auth_login": "", "basic_auth_password": ""},
                  {"auth_required": None}):
        settings = agent_auth_settings(found, CODEC.reveal)
        assert settings == auth.NO_AUTHENTICATION
        assert authorize_agent_request(settings, None) is ALLOWED
        assert authorize_agent_request(settings, "Basic garbage") is ALLOWED


def test_basic_settings_hold_the_decrypted_password_hidden():
    assert (BASIC.mode, BASIC.login, BASIC.password, BASIC.problem) == ("basic", "agents", "S3cr3t:é", None)
    assert "S3cr3t" not in repr(BASIC)


def test_the_right_credentials_pass():
    assert authorize_agent_request(BASIC, basic("agents", "S3cr3t:é")) is ALLOWED
    assert authorize_agent_request(BASIC, "  basic   " + basic("agents", "S3cr3t:é")[6:] + " ") is ALLOWED


def test_no_header_gets_the_challenge_agents_answer():
    decision = authorize_agent_request(BASIC, None)
    assert (decision.allowed, decision.status, decision.headers) == (False, 401, (CHALLENGE,))
    assert authorize_agent_request(BASIC, "").headers == (CHALLENGE,)


@pytest.mark.parametrize("header, reason", [
    (basic("agents", "wrong"), auth.REASON_WRONG),
    (basic("Agents", "S3cr3t:é"), auth.REASON_WRONG),  # exact, case-sensitive login
    (basic("agents", "S3cr3t:é "), auth.REASON_WRONG),
    (basic("agents", ""), auth.REASON_WRONG),
    (basic("", ""), auth.REASON_WRONG),
    ("Basic " + base64.b64encode(b"agents").decode(), auth.REASON_NOT_BASIC),  # no colon
    ("Basic not-base64!", auth.REASON_NOT_BASIC),
    ("Bearer eyJhbGciOi", auth.REASON_NOT_BASIC),
])
def test_wrong_or_malformed_credentials_are_refused_with_the_challenge(header, reason):
    decision = authorize_agent_request(BASIC, header)
    assert (decision.allowed, decision.status, decision.reason) == (False, 401, reason)
    assert decision.headers == (CHALLENGE,)
    assert "S3cr3t" not in decision.reason and "agents" not in decision.reason


def test_php_loose_equality_is_not_followed():
    settings = agent_auth_settings(rows(password="1000"), CODEC.reveal)  # PHP: "1e3" == "1000"
    assert not authorize_agent_request(settings, basic("agents", "1e3")).allowed
    assert authorize_agent_request(settings, basic("agents", "1000")).allowed


def test_client_credentials_are_refused_as_a_stated_limitation():
    settings = agent_auth_settings(rows(mode="client_credentials"), CODEC.reveal)
    decision = authorize_agent_request(settings, "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig")
    assert (decision.allowed, decision.status) == (False, 401)
    assert "client_credentials" in decision.reason and "not supported" in decision.reason
    assert authorize_agent_request(settings, basic("agents", "S3cr3t:é")).status == 401


def refused_for_the_server(settings: AgentAuthSettings) -> str:
    for header in (None, basic("agents", "S3cr3t:é"), basic("agents", "")):
        decision = authorize_agent_request(settings, header)
        assert (decision.allowed, decision.status, decision.headers) == (False, 503, ())
    return decision.reason


def test_a_password_that_does_not_decrypt_refuses_every_agent():
    other = GlpiKeySecrets(GlpiKey(bytes(32)))
    settings = agent_auth_settings(rows(codec=other), CODEC.reveal)
    assert refused_for_the_server(settings).startswith(
        "GLPI's agent authentication password does not decrypt with the configured GLPI key")


def test_without_a_key_the_setting_to_set_is_said():
    settings = agent_auth_settings(rows(), glpi_secrets("").reveal)
    assert "set FUSION_BRIDGE_GLPI_KEY_FILE" in refused_for_the_server(settings)


def test_an_empty_password_is_not_accepted_as_glpi_would():
    for stored in ("", None):
        found = {**rows(), "basic_auth_password": stored}
        assert "password is empty" in refused_for_the_server(agent_auth_settings(found, CODEC.reveal))
    encrypted_empty = {**rows(), "basic_auth_password": KEY.encrypt("")}
    assert "password is empty" in refused_for_the_server(agent_auth_settings(encrypted_empty, CODEC.reveal))


def test_an_unknown_mode_refuses_every_agent():
    reason = refused_for_the_server(agent_auth_settings(rows(mode="kerberos"), CODEC.reveal))
    assert "'kerberos'" in reason and "none, basic, client_credentials" in reason


def test_config_names():
    assert auth.CONFIG_CONTEXT == "inventory"
    assert auth.CONFIG_NAMES == ("auth_required", "basic_auth_login", "basic_auth_password")

