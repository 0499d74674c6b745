"""What the bridge refuses to do, said in its own words.

Services raise these errors; each class says what happened, not how a protocol answers it.
The HTTP entry points give each class its status in one table (``http/errors.py``); the CLI
prints the reason. ``reason`` is written for whoever asked (agent, API client, administrator)
and never holds a secret. This module imports nothing: any layer may raise its errors.
"""

from __future__ import annotations


class DomainError(Exception):
    """Something asked of the bridge that it will not do.

    ``reason``: what the caller is told. ``detail``: what the log line says, when it can say more
    than the caller needs (e.g. which machine id was unknown); the reason otherwise.
    """

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or reason


class InvalidRequest(DomainError):
    """A missing or malformed argument: the request cannot be carried out as written."""


class DefinitionError(InvalidRequest, ValueError):
    """Input that cannot be stored as a definition (task, action, IP range, credential,
    timeslot, deploy package or mirror); the reason says why, for the administrator."""


class NotFound(DomainError):
    """Nothing has that id (or name, or digest)."""


class UnknownAgent(DomainError):
    """No agent has that machine id, or it is locked in GLPI (the plugin's 400 either way)."""

    def __init__(self, machine_id: str):
        super().__init__("unknown or locked agent", f"unknown or locked agent, machineid {machine_id[:80]!r}")


class UnknownRun(DomainError):
    """The run a message names (uuid, PROCESSNUMBER) is not one the sending agent could report on."""


class NotYours(DomainError):
    """The caller may not act on this: another agent's run, a wrong or missing token, a file
    part of no job of its own."""


class Conflict(DomainError):
    """The request came at the wrong moment: what it acts on has changed or is gone."""


class NotHandedOut(Conflict):
    """The run is not in the agent's hands: not handed out yet, or already over."""


class Unavailable(DomainError):
    """Something the bridge needs (the deploy repository) cannot be used now; try again later."""


class SecretUnavailable(DomainError):
    """A stored secret (SNMP v3 passphrase, ESX password, GLPI 11's agent password) cannot be read
    or written as GLPI keeps it: no GLPI key configured, a key file that cannot be used, or a
    stored value that does not decrypt with the key (docs/glpi-secrets.md §4). Whatever needed
    the secret fails with this reason; nothing is sent or stored in its place."""


class GlpiKeyNotConfigured(SecretUnavailable):
    """The database keeps secrets encrypted with GLPI's key and no key file is configured."""


class GlpiKeyUnusable(SecretUnavailable):
    """The configured key file is missing, unreadable or not 32 bytes long."""


class UndecryptableSecret(SecretUnavailable):
    """A stored value that does not decrypt with the configured key (another site's key, a value
    left in clear, a truncated or altered value)."""
