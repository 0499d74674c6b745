"""GLPI 11's agent authentication as pure code: the settings read from ``glpi_configs`` and the
decision on one request's ``Authorization`` header (docs/glpi-secrets.md §5).

GLPI 11 keeps three rows of context ``inventory``: ``auth_required`` (``none``, ``basic`` or
``client_credentials``), ``basic_auth_login`` and ``basic_auth_password`` (encrypted with the
GLPI key). The HTTP layer reads the rows (through its settings cache), builds the settings once
with ``agent_auth_settings(rows, reveal)`` — ``reveal`` being the ``SecretCodec.reveal`` of the
database — and calls ``authorize_agent_request(settings, header)`` for each REST task call
(``b/deploy``, ``b/collect``, ``b/esx``). The answer is an ``AgentAuthDecision``: allowed, or the
status, reason and headers of the refusal.

Where the bridge parts from GLPI, it refuses rather than lets in (docs/glpi-secrets.md §5.3): an
agent password that cannot be decrypted or is empty, an unknown mode, and ``client_credentials``
(OAuth access tokens the bridge cannot check without GLPI's OAuth keys). Login and password are
compared in constant time; neither, nor the header, is ever part of a reason.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field
from typing import Callable, Mapping

from fusion_bridge.errors import DomainError

CONFIG_CONTEXT = "inventory"
AUTH_REQUIRED = "auth_required"
BASIC_AUTH_LOGIN = "basic_auth_login"
BASIC_AUTH_PASSWORD = "basic_auth_password"
# The glpi_configs names (context CONFIG_CONTEXT) the settings are read from.
CONFIG_NAMES = (AUTH_REQUIRED, BASIC_AUTH_LOGIN, BASIC_AUTH_PASSWORD)

NONE = "none"
BASIC = "basic"
CLIENT_CREDENTIALS = "client_credentials"
MODES = (NONE, BASIC, CLIENT_CREDENTIALS)

# GLPI 11 challenges with this realm; agents replay their --user/--password after any Basic
# challenge (docs/agent-protocol.md §1.2).
REALM = "basic"
CHALLENGE = ("WWW-Authenticate", f'Basic realm="{REALM}"')

REASON_MISSING = "agent authentication required: send HTTP Basic credentials (GLPI 11 inventory settings)"
REASON_WRONG = "agent authentication failed: wrong login or password"
REASON_NOT_BASIC = "agent authentication failed: the Authorization header is not valid HTTP Basic"
REASON_OAUTH = ("agent authentication by OAuth client credentials (GLPI 11 'client_credentials') is not "
                "supported by fusion-bridge: it cannot check GLPI's access tokens; set GLPI's agent "
                "authentication to 'basic' or 'none'")


@dataclass(frozen=True)
class AgentAuthSettings:
    """GLPI 11's agent authentication as read from ``glpi_configs``.

    ``problem``: why no request can be checked (the password could not be read, is empty, or the
    mode is unknown); every request is then refused with it."""

    mode: str = NONE
    login: str = ""
    password: str = field(default="", repr=False)
    problem: str | None = None


@dataclass(frozen=True)
class AgentAuthDecision:
    """What to do with one request: ``allowed``, or answer ``status`` with ``headers`` and
    ``reason`` (for the agent and the log line; never holds a secret)."""

    allowed: bool
    status: int = 200
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()


ALLOWED = AgentAuthDecision(True)
# GLPI 10 and a GLPI 11 set to 'none': no row, or 'none'.
NO_AUTHENTICATION = AgentAuthSettings()


def agent_auth_settings(rows: Mapping[str, str | None],
                        reveal: Callable[[str | None, str], str]) -> AgentAuthSettings:
    """The settings of GLPI's ``glpi_configs`` rows of context ``inventory`` (``name -> value``;
    other names are ignored). No ``auth_required`` row (GLPI 10) is ``none``. ``reveal(stored,
    what)`` decrypts the stored password (``SecretCodec.reveal``); its ``DomainError`` becomes the
    settings' ``problem`` rather than an exception, so that the refusal says why."""
    mode = (rows.get(AUTH_REQUIRED) or NONE).strip()
    if mode == NONE:
        return NO_AUTHENTICATION
    if mode == CLIENT_CREDENTIALS:
        return AgentAuthSettings(mode=mode)
    if mode != BASIC:
        return AgentAuthSettings(mode=mode, problem=(
            f"GLPI's agent authentication setting {AUTH_REQUIRED} is {mode[:40]!r}, which fusion-bridge "
            f"does not know (expected one of {', '.join(MODES)})"))
    login = rows.get(BASIC_AUTH_LOGIN) or ""
    try:
        password = reveal(rows.get(BASIC_AUTH_PASSWORD), "GLPI's agent authentication password")
    except DomainError as error:
        return AgentAuthSettings(mode=mode, login=login, problem=error.reason)
    if not password:
        return AgentAuthSettings(mode=mode, login=login, problem=(
            "GLPI's agent authentication is 'basic' but its password is empty: set one in GLPI "
            "(fusion-bridge does not accept an empty password)"))
    return AgentAuthSettings(mode=mode, login=login, password=password)


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(login, password) of an ``Authorization: Basic`` header, or None when it is not one."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8", "surrogateescape")
    except (binascii.Error, ValueError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                               expected.encode("utf-8", "surrogateescape"))


def authorize_agent_request(settings: AgentAuthSettings, authorization: str | None) -> AgentAuthDecision:
    """Whether a REST task call (``b/deploy``, ``b/collect``, ``b/esx``) with this
    ``Authorization`` header (None when absent) may go on under GLPI 11's agent authentication
    (docs/glpi-secrets.md §5). Refusals: 401 with the Basic challenge for missing, malformed or
    wrong credentials and for ``client_credentials``; 503 when the settings cannot be used
    (``settings.problem``: the server, not the agent, is at fault)."""
    if settings.problem is not None:
        return AgentAuthDecision(False, 503, settings.problem)
    if settings.mode == NONE:
        return ALLOWED
    if settings.mode == CLIENT_CREDENTIALS:
        return AgentAuthDecision(False, 401, REASON_OAUTH)
    if not authorization:
        return AgentAuthDecision(False, 401, REASON_MISSING, (CHALLENGE,))
    credentials = basic_credentials(authorization)
    if credentials is None:
        return AgentAuthDecision(False, 401, REASON_NOT_BASIC, (CHALLENGE,))
    login, password = credentials
    # Both compared whatever the first gives: the time says nothing of which one was wrong.
    if _same(login, settings.login) & _same(password, settings.password):
        return ALLOWED
    return AgentAuthDecision(False, 401, REASON_WRONG, (CHALLENGE,))
