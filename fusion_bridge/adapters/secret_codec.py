"""How a schema flavour stores secrets: the one value services use to read and write them.

FusionInventory 9.5 keeps SNMP passphrases and ESX passwords in clear; GLPI 10/11 with
glpiinventory encrypt them with the site's GLPI key (docs/glpi-secrets.md §1, §3). Services do not
ask which: they hold a ``SecretCodec`` and call ``reveal`` on what they read and ``conceal`` on
what they write.

- ``CLEAR``: the fusioninventory flavour; values pass unchanged.
- ``GlpiKeySecrets``: glpiinventory with a usable key file.
- ``NoGlpiKey``: glpiinventory without one (not configured, or the file cannot be used): reading
  or writing a secret raises the reason, so a run needing it fails with that reason and nothing
  is stored in clear where GLPI expects a ciphertext.

An empty stored value (``''`` or NULL) is "no secret set" in every flavour: it reads as ``''``
without a key, as GLPI reads it; writing ``''`` stores ``''`` (docs/glpi-secrets.md §4).
Whether an empty secret is acceptable (an SNMP v3 authPriv credential without a passphrase) is for
the caller to say.
"""

from __future__ import annotations

from typing import Protocol

from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.adapters.glpi_key import SETTING, GlpiKey, read_key_file
from fusion_bridge.errors import GlpiKeyNotConfigured, SecretUnavailable

FUSIONINVENTORY = "fusioninventory"
GLPIINVENTORY = "glpiinventory"

NOT_CONFIGURED = f"GLPI key not configured: set {SETTING} to GLPI's config/glpicrypt.key"


class SecretCodec(Protocol):
    #: True when values are stored as written (no key involved).
    stores_in_clear: bool

    def reveal(self, stored: str | None, what: str = "secret") -> str:
        """The secret behind a stored value; ``SecretUnavailable`` naming ``what`` when it
        cannot be read."""

    def conceal(self, plain: str, what: str = "secret") -> str:
        """The value to store for ``plain``; ``SecretUnavailable`` when it cannot be written as
        GLPI would read it."""


class ClearSecrets:
    """Secrets stored as they are (FusionInventory 9.5)."""

    stores_in_clear = True

    def reveal(self, stored: str | None, what: str = "secret") -> str:
        return stored or ""

    def conceal(self, plain: str, what: str = "secret") -> str:
        return plain

    def __repr__(self) -> str:
        return "ClearSecrets()"


CLEAR = ClearSecrets()


class GlpiKeySecrets:
    """Secrets encrypted with the GLPI key (GLPI 10/11)."""

    stores_in_clear = False

    def __init__(self, key: GlpiKey):
        self._key = key

    def reveal(self, stored: str | None, what: str = "secret") -> str:
        if not stored:
            return ""
        return self._key.decrypt(stored, what)

    def conceal(self, plain: str, what: str = "secret") -> str:
        return self._key.encrypt(plain) if plain else ""

    def __repr__(self) -> str:
        return "GlpiKeySecrets(<key hidden>)"


class NoGlpiKey:
    """Secrets encrypted with a GLPI key the bridge does not have: every non-empty secret refused
    with ``error``'s reason."""

    stores_in_clear = False

    def __init__(self, error: SecretUnavailable):
        self.error = error

    def _refuse(self, doing: str) -> SecretUnavailable:
        return type(self.error)(f"{doing}: {self.error.reason}", f"{doing}: {self.error.detail}")

    def reveal(self, stored: str | None, what: str = "secret") -> str:
        if not stored:
            return ""
        raise self._refuse(f"cannot read {what}")

    def conceal(self, plain: str, what: str = "secret") -> str:
        if not plain:
            return ""
        raise self._refuse(f"cannot store {what}")

    def __repr__(self) -> str:
        return f"NoGlpiKey({type(self.error).__name__})"


def glpi_secrets(key_file: str) -> GlpiKeySecrets | NoGlpiKey:
    """The GLPI-key codec of a process, from ``FUSION_BRIDGE_GLPI_KEY_FILE`` (read once, here):
    ``GlpiKeySecrets``, or ``NoGlpiKey`` holding why not (no file configured; the file missing,
    unreadable or of the wrong size). Never raises: what does not need a secret keeps working
    (docs/glpi-secrets.md §2)."""
    if not key_file:
        return NoGlpiKey(GlpiKeyNotConfigured(NOT_CONFIGURED))
    try:
        return GlpiKeySecrets(read_key_file(key_file))
    except SecretUnavailable as error:
        return NoGlpiKey(error)


def secret_codec(flavour: str, glpi: GlpiKeySecrets | NoGlpiKey) -> SecretCodec:
    """The codec of a schema flavour: ``CLEAR`` for ``fusioninventory``, ``glpi`` (from
    ``glpi_secrets``) for ``glpiinventory``."""
    if flavour == FUSIONINVENTORY:
        return CLEAR
    if flavour == GLPIINVENTORY:
        return glpi
    raise ValueError(f"unknown schema flavour {flavour!r}")


# --- the codec of an engine ----------------------------------------------------------------------
# Each process reads its GLPI key once (``glpi_secrets``) and gives it to the engines it makes
# (``use_glpi_secrets``); whoever reads or writes a secret asks a connection for its codec
# (``codec_of``), which follows the layout the engine found at its first connection.

_ATTRIBUTE = "fusion_bridge_glpi_secrets"


def use_glpi_secrets(engine, glpi: GlpiKeySecrets | NoGlpiKey):
    """Make ``glpi`` the GLPI-key codec of ``engine`` (its process's key); returns ``engine``."""
    setattr(engine.dialect, _ATTRIBUTE, glpi)
    return engine


def codec_of(bind) -> SecretCodec:
    """The ``SecretCodec`` of an engine's or connection's database: ``CLEAR`` on the
    fusioninventory layout; the key given with ``use_glpi_secrets`` on glpiinventory, or a codec
    refusing every secret when none was given. Ask a connection (the layout of an ``auto``
    engine is known after its first connection)."""
    glpi = getattr(bind.dialect, _ATTRIBUTE, None) or NoGlpiKey(GlpiKeyNotConfigured(NOT_CONFIGURED))
    return secret_codec(layout_of(bind).flavour, glpi)
