"""The bridge's GLPI-key encryption against PHP's libsodium, both ways (docs/glpi-secrets.md §1,
§6): PHP (Debian's php-cli, sodium built in) encrypts as GLPI stores a secret — base64 of a
24-byte nonce and the XChaCha20-Poly1305-IETF ciphertext, the nonce as additional data — and
the bridge decrypts; the bridge encrypts and PHP decrypts. The PHP below is written from those
facts."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from fusion_bridge import errors
from fusion_bridge.adapters.glpi_key import new_key_file, read_key_file
from fusion_bridge.adapters.secret_codec import glpi_secrets

# Reads {"key_file", "new_key_file", "encrypt": [base64 plaintexts], "decrypt": [stored]} as
# JSON on stdin; writes {"encrypted": [stored], "decrypted": [base64 plaintext or null]}.
PHP = r"""
$job = json_decode(stream_get_contents(STDIN), true);
if (!empty($job['new_key_file'])) {
    file_put_contents($job['new_key_file'], sodium_crypto_aead_xchacha20poly1305_ietf_keygen());
}
$key = file_get_contents($job['key_file']);
$out = ['encrypted' => [], 'decrypted' => []];
foreach ($job['encrypt'] as $plain) {
    $nonce = random_bytes(SODIUM_CRYPTO_AEAD_XCHACHA20POLY1305_IETF_NPUBBYTES);
    $sealed = sodium_crypto_aead_xchacha20poly1305_ietf_encrypt(base64_decode($plain), $nonce, $nonce, $key);
    $out['encrypted'][] = base64_encode($nonce . $sealed);
}
foreach ($job['decrypt'] as $stored) {
    $raw = base64_decode($stored, true);
    $plain = false;
    if ($raw !== false && strlen($raw) >= SODIUM_CRYPTO_AEAD_XCHACHA20POLY1305_IETF_NPUBBYTES) {
        $nonce = substr($raw, 0, SODIUM_CRYPTO_AEAD_XCHACHA20POLY1305_IETF_NPUBBYTES);
        $sealed = substr($raw, SODIUM_CRYPTO_AEAD_XCHACHA20POLY1305_IETF_NPUBBYTES);
        try {
            $plain = sodium_crypto_aead_xchacha20poly1305_ietf_decrypt($sealed, $nonce, $nonce, $key);
        } catch (SodiumException $e) {
            $plain = false;
        }
    }
    $out['decrypted'][] = $plain === false ? null : base64_encode($plain);
}
echo json_encode($out);
"""

PLAINTEXTS = ["authpass123", "", "mötdepässe €漢字🔑", "with \"quotes\", 'apostrophes' & <angles>", "x" * 3000,
              "colon:and\nnewline"]


def php(key_file, encrypt=(), decrypt=(), new_key=None) -> dict:
    job = {"key_file": str(key_file), "new_key_file": str(new_key) if new_key else "",
           "encrypt": [base64.b64encode(text.encode()).decode() for text in encrypt],
           "decrypt": list(decrypt)}
    done = subprocess.run(["php", "-r", PHP], input=json.dumps(job), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    out["decrypted"] = [None if value is None else base64.b64decode(value).decode()
                        for value in out["decrypted"]]
    return out


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "glpicrypt.key"
    new_key_file(str(path))
    return path


def test_a_key_file_made_by_php_is_read_and_used_both_ways(tmp_path):
    path = tmp_path / "glpicrypt.key"
    out = php(path, encrypt=["public-v3"], new_key=path)
    key = read_key_file(str(path))
    assert key.decrypt(out["encrypted"][0]) == "public-v3"
    assert php(path, decrypt=[key.encrypt("priv-v3")])["decrypted"] == ["priv-v3"]


def test_php_encrypts_the_bridge_decrypts(key_file):
    stored = php(key_file, encrypt=PLAINTEXTS)["encrypted"]
    codec = glpi_secrets(str(key_file))
    key = read_key_file(str(key_file))
    assert [key.decrypt(value) for value in stored] == PLAINTEXTS
    assert [codec.reveal(value) for value in stored] == PLAINTEXTS


def test_the_bridge_encrypts_php_decrypts(key_file):
    key = read_key_file(str(key_file))
    assert php(key_file, decrypt=[key.encrypt(text) for text in PLAINTEXTS])["decrypted"] == PLAINTEXTS
    codec = glpi_secrets(str(key_file))
    # The codec stores an empty secret as '' (GLPI reads '' as ''); the rest as PHP reads them.
    assert php(key_file, decrypt=[codec.conceal(text) for text in PLAINTEXTS if text])["decrypted"] == \
        [text for text in PLAINTEXTS if text]


def tampered(stored: str) -> str:
    raw = bytearray(base64.b64decode(stored))
    raw[len(raw) // 2] ^= 0x80
    return base64.b64encode(bytes(raw)).decode()


def test_a_tampered_value_fails_on_both_sides(key_file):
    key = read_key_file(str(key_file))
    from_php = php(key_file, encrypt=["authpass123"])["encrypted"][0]
    with pytest.raises(errors.UndecryptableSecret, match="does not decrypt with the configured GLPI key"):
        key.decrypt(tampered(from_php))
    assert php(key_file, decrypt=[tampered(key.encrypt("authpass123"))])["decrypted"] == [None]


def test_a_wrong_key_fails_on_both_sides(key_file, tmp_path):
    other_file = tmp_path / "other.key"
    other = new_key_file(str(other_file))
    from_php = php(key_file, encrypt=["authpass123"])["encrypted"][0]
    with pytest.raises(errors.UndecryptableSecret, match="does not decrypt with the configured GLPI key"):
        other.decrypt(from_php, "SNMP credential 1 auth passphrase")
    assert php(key_file, decrypt=[other.encrypt("authpass123")])["decrypted"] == [None]
    assert php(other_file, decrypt=[from_php])["decrypted"] == [None]
