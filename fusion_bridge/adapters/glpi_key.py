"""GLPI's site key (``config/glpicrypt.key``) and the values GLPI 10/11 encrypt with it.

GLPI keeps SNMP v3 passphrases, the plugin's ESX passwords and GLPI 11's agent password as
``base64(nonce || XChaCha20-Poly1305-IETF(plaintext, additional data = nonce, key))`` with a
fresh 24-byte nonce per value and the key file's 32 raw bytes (docs/glpi-secrets.md §1). This
module reads the key file once and turns values both ways, byte-compatible with GLPI: a value
written here is read by GLPI and the other way round (checked against PHP's libsodium in
``tests/integration/test_glpi_key_php.py``).

Where GLPI turns a value it cannot decrypt into an empty string, ``decrypt`` raises
``UndecryptableSecret``: an empty or garbled password is never passed on silently
(docs/glpi-secrets.md §4). Neither the key nor a plaintext ever appears in a reason, a log line or
a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import errno
import os

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_ABYTES as TAG_BYTES,
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_KEYBYTES as KEY_BYTES,
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES as NONCE_BYTES,
)
from nacl.exceptions import CryptoError
from nacl.utils import random as random_bytes

from fusion_bridge.errors import GlpiKeyUnusable, UndecryptableSecret

SETTING = "FUSION_BRIDGE_GLPI_KEY_FILE"
# A key file is 32 bytes; reading a little more tells a wrong file from a right one without
# reading a huge file whole.
_READ_LIMIT = 4096


class GlpiKey:
    """The 32 bytes of a GLPI key, and the two directions of GLPI's encryption with it."""

    __slots__ = ("_key",)

    def __init__(self, raw: bytes):
        if len(raw) != KEY_BYTES:
            raise GlpiKeyUnusable(f"a GLPI key is {KEY_BYTES} bytes, this one is {len(raw)}")
        self._key = bytes(raw)

    def __repr__(self) -> str:
        return "GlpiKey(<hidden>)"

    def encrypt(self, plain: str) -> str:
        """``plain`` as GLPI stores it: base64 of a fresh nonce and the ciphertext with its tag."""
        nonce = random_bytes(NONCE_BYTES)
        sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(plain.encode("utf-8"), nonce, nonce, self._key)
        return base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, stored: str, what: str = "secret") -> str:
        """The text GLPI stored as ``stored``; ``UndecryptableSecret`` (naming ``what``, e.g.
        "SNMP credential 3 auth passphrase") when it is not base64, too short to hold a nonce and
        a tag, fails authentication with this key, or is not UTF-8 text (docs/glpi-secrets.md §4)."""
        try:
            raw = base64.b64decode(stored.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise UndecryptableSecret(f"{what} is not a value encrypted with the GLPI key (not base64)") \
                from None
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise UndecryptableSecret(f"{what} is not a value encrypted with the GLPI key (too short)")
        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        try:
            plain = crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, nonce, nonce, self._key)
        except CryptoError:
            raise UndecryptableSecret(
                f"{what} does not decrypt with the configured GLPI key "
                "(encrypted with another site's key, stored in clear, or altered)") from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise UndecryptableSecret(f"{what} decrypts to bytes that are not UTF-8 text") from None


def encrypt(plain: str, key: GlpiKey) -> str:
    """``key.encrypt(plain)``."""
    return key.encrypt(plain)


def decrypt(stored: str, key: GlpiKey, what: str = "secret") -> str:
    """``key.decrypt(stored, what)``."""
    return key.decrypt(stored, what)


def read_key_file(path: str) -> GlpiKey:
    """The key in GLPI's ``config/glpicrypt.key`` at ``path``; ``GlpiKeyUnusable`` saying why not
    (missing, not readable, not a file, not 32 bytes). The reason names the setting, the log
    detail the path too; neither holds a byte of the key (docs/glpi-secrets.md §2)."""
    def unusable(why: str) -> GlpiKeyUnusable:
        return GlpiKeyUnusable(f"GLPI key file ({SETTING}) {why}",
                               f"GLPI key file {path!r} ({SETTING}) {why}")

    try:
        with open(path, "rb") as key_file:
            raw = key_file.read(_READ_LIMIT)
    except FileNotFoundError:
        raise unusable("does not exist") from None
    except PermissionError:
        raise unusable("is not readable by this user (permission denied)") from None
    except IsADirectoryError:
        raise unusable("is a directory") from None
    except OSError as error:
        raise unusable(f"cannot be read ({os.strerror(error.errno or errno.EIO)})") from None
    if len(raw) != KEY_BYTES:
        size = f"{len(raw)} bytes" if len(raw) < _READ_LIMIT else "larger"
        raise unusable(f"must hold exactly {KEY_BYTES} raw bytes (GLPI's config/glpicrypt.key); "
                       f"it holds {size}")
    return GlpiKey(raw)


def new_key_file(path: str) -> GlpiKey:
    """A fresh random key written to ``path`` (mode 0600, never over an existing file), as GLPI's
    own key generation leaves it: 32 raw bytes. For tests and new sites."""
    raw = random_bytes(KEY_BYTES)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(raw)
    return GlpiKey(raw)
