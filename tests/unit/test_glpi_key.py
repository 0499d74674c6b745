"""GLPI's site key and the stored form of its secrets (docs/glpi-secrets.md §1, §2, §4): round
trips, the layout, and every refusal, with no byte of key or plaintext in a reason or repr."""

from __future__ import annotations

import base64

import pytest
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt

from fusion_bridge import errors
from fusion_bridge.adapters.glpi_key import GlpiKey, decrypt, encrypt, new_key_file, read_key_file
from fusion_bridge.http.errors import failure_of

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


@pytest.mark.parametrize("plain", ["", "s3cret", "pass phrase with spaces", "mötdepässe €漢字🔑", "x" * 5000,
                                   "a:b\x00c\n"])
def test_round_trip(plain):
    key = GlpiKey(KEY)
    stored = encrypt(plain, key)
    assert decrypt(stored, key) == plain
    assert key.decrypt(key.encrypt(plain)) == plain


def test_stored_layout_is_base64_of_nonce_then_ciphertext_with_the_nonce_as_additional_data():
    stored = GlpiKey(KEY).encrypt("public-v3")
    raw = base64.b64decode(stored, validate=True)
    nonce, sealed = raw[:24], raw[24:]
    assert len(sealed) == len("public-v3") + 16
    assert sealed == crypto_aead_xchacha20poly1305_ietf_encrypt(b"public-v3", nonce, nonce, KEY)


def test_empty_plaintext_is_a_nonce_and_a_tag():
    assert len(GlpiKey(KEY).encrypt("")) == 56  # base64 of 24 + 16 bytes


def test_a_value_made_directly_with_libsodium_decrypts():
    nonce = bytes(24)
    sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(b"authpass", nonce, nonce, KEY)
    stored = base64.b64encode(nonce + sealed)
    assert GlpiKey(KEY).decrypt(stored.decode() + "\n") == "authpass"  # trailing newline tolerated


def test_each_encryption_draws_a_new_nonce():
    key = GlpiKey(KEY)
    assert key.encrypt("same") != key.encrypt("same")


def flip(stored: str, index: int) -> str:
    raw = bytearray(base64.b64decode(stored))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("damage", [
    lambda stored: flip(stored, 30),  # ciphertext
    lambda stored: flip(stored, 3),  # nonce (also the additional data)
    lambda stored: flip(stored, -1),  # tag
    lambda stored: base64.b64encode(base64.b64decode(stored)[:-1]).decode(),  # truncated
])
def test_an_altered_value_is_refused(damage):
    key = GlpiKey(KEY)
    with pytest.raises(errors.UndecryptableSecret, match="does not decrypt|too short"):
        key.decrypt(damage(key.encrypt("authpass")))


def test_a_value_of_another_key_is_refused_and_names_what():
    stored = GlpiKey(OTHER_KEY).encrypt("authpass")
    with pytest.raises(errors.UndecryptableSecret) as raised:
        GlpiKey(KEY).decrypt(stored, "SNMP credential 3 auth passphrase")
    assert raised.value.reason.startswith(
        "SNMP credential 3 auth passphrase does not decrypt with the configured GLPI key")
    assert "authpass" not in raised.value.reason


@pytest.mark.parametrize("stored, why", [
    ("public", "not base64|too short"),  # a value left in clear
    ("not base64 at all!", "not base64"),
    ("c2hvcnQ=", "too short"),
    (base64.b64encode(bytes(39)).decode(), "too short"),
    (base64.b64encode(bytes(40)).decode(), "does not decrypt"),
])
def test_what_is_not_a_glpi_ciphertext_is_refused(stored, why):
    with pytest.raises(errors.UndecryptableSecret, match=why):
        GlpiKey(KEY).decrypt(stored)


def test_a_plaintext_that_is_not_utf8_is_refused():
    nonce = bytes(range(24))
    sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(b"\xff\xfe", nonce, nonce, KEY)
    stored = base64.b64encode(nonce + sealed)
    with pytest.raises(errors.UndecryptableSecret, match="not UTF-8"):
        GlpiKey(KEY).decrypt(stored.decode())


def test_secret_errors_answer_503_with_their_reason():
    error = errors.UndecryptableSecret("ESX credential 2 password does not decrypt")
    assert (failure_of(error).status, failure_of(error).reason) == (503, error.reason)
    assert failure_of(errors.GlpiKeyNotConfigured("GLPI key not configured")).status == 503


def test_the_key_never_shows(tmp_path):
    key = GlpiKey(KEY)
    assert repr(key) == "GlpiKey(<hidden>)" and KEY.hex() not in repr(key)
    with pytest.raises(AttributeError):
        key.__dict__  # noqa: B018 - slots only, so vars() shows nothing either


def test_key_file_written_and_read(tmp_path):
    path = tmp_path / "glpicrypt.key"
    written = new_key_file(str(path))
    assert path.stat().st_size == 32 and (path.stat().st_mode & 0o777) == 0o600
    assert read_key_file(str(path)).decrypt(written.encrypt("v3")) == "v3"
    with pytest.raises(FileExistsError):
        new_key_file(str(path))


def refusal(path) -> errors.GlpiKeyUnusable:
    with pytest.raises(errors.GlpiKeyUnusable) as raised:
        read_key_file(str(path))
    reason, detail = raised.value.reason, raised.value.detail
    assert "FUSION_BRIDGE_GLPI_KEY_FILE" in reason and str(path) not in reason and str(path) in detail
    return raised.value


def test_missing_key_file(tmp_path):
    assert "does not exist" in refusal(tmp_path / "nope.key").reason


def test_key_file_that_is_a_directory(tmp_path):
    assert "directory" in refusal(tmp_path).reason


def test_key_file_under_something_that_is_not_a_directory(tmp_path):
    (tmp_path / "config").write_bytes(b"")
    assert "cannot be read (Not a directory)" in refusal(tmp_path / "config" / "glpicrypt.key").reason


@pytest.mark.parametrize("content, said", [
    (b"", "holds 0 bytes"),
    (KEY + b"\n", "holds 33 bytes"),  # an editor's newline
    (base64.b64encode(KEY), "holds 44 bytes"),  # the key as text
    (KEY * 200, "holds larger"),
])
def test_key_file_of_the_wrong_length(tmp_path, content, said):
    path = tmp_path / "glpicrypt.key"
    path.write_bytes(content)
    error = refusal(path)
    assert said in error.reason and "exactly 32 raw bytes" in error.reason
    assert KEY.hex() not in error.detail and repr(KEY) not in error.detail


def test_a_key_of_the_wrong_length_is_refused():
    with pytest.raises(errors.GlpiKeyUnusable, match="32 bytes"):
        GlpiKey(KEY[:16])
