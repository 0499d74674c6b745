"""The SecretCodec of each schema flavour (docs/glpi-secrets.md §3, §4): clear for
fusioninventory, the GLPI key for glpiinventory, refusals with the setting's name without a key."""

from __future__ import annotations

import pytest

from fusion_bridge import errors
from fusion_bridge.adapters.glpi_key import GlpiKey
from fusion_bridge.adapters.secret_codec import (
    CLEAR, NOT_CONFIGURED, GlpiKeySecrets, NoGlpiKey, glpi_secrets, secret_codec,
)
from fusion_bridge.config import Config
from fusion_bridge.serve import check_settings

KEY = bytes(range(100, 132))
NOT_CONFIGURED_TEXT = ("GLPI key not configured: set FUSION_BRIDGE_GLPI_KEY_FILE to GLPI's "
                       "config/glpicrypt.key")


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "glpicrypt.key"
    path.write_bytes(KEY)
    return str(path)


def test_fusioninventory_stores_in_clear(key_file):
    for glpi in (glpi_secrets(""), glpi_secrets(key_file)):
        codec = secret_codec("fusioninventory", glpi)
        assert codec is CLEAR and codec.stores_in_clear
        assert codec.conceal("authpass") == "authpass" and codec.reveal("authpass") == "authpass"
        assert codec.reveal(None) == ""


def test_glpiinventory_goes_through_the_key(key_file):
    codec = secret_codec("glpiinventory", glpi_secrets(key_file))
    assert isinstance(codec, GlpiKeySecrets) and not codec.stores_in_clear
    stored = codec.conceal("authpass")
    assert stored != "authpass" and GlpiKey(KEY).decrypt(stored) == "authpass"
    assert codec.reveal(GlpiKey(KEY).encrypt("privpass")) == "privpass"
    assert "authpass" not in repr(codec) and KEY.hex() not in repr(codec)


def test_glpiinventory_refuses_a_value_it_cannot_decrypt(key_file):
    codec = secret_codec("glpiinventory", glpi_secrets(key_file))
    with pytest.raises(errors.UndecryptableSecret, match="^ESX credential 4 password is not a value encrypt"):
        codec.reveal("vmware", "ESX credential 4 password")  # a password left in clear by a migration


@pytest.mark.parametrize("empty", ["", None])
def test_an_empty_value_is_no_secret_whatever_the_key(key_file, empty):
    for codec in (glpi_secrets(key_file), glpi_secrets(""), glpi_secrets(key_file + ".missing")):
        assert codec.reveal(empty) == ""
        assert codec.conceal("") == ""


def test_without_a_key_file_secrets_are_refused_with_the_setting_to_set():
    assert NOT_CONFIGURED == NOT_CONFIGURED_TEXT
    codec = secret_codec("glpiinventory", glpi_secrets(""))
    assert isinstance(codec, NoGlpiKey)
    with pytest.raises(errors.GlpiKeyNotConfigured) as read:
        codec.reveal("c29tZXRoaW5n", "SNMP credential 3 auth passphrase")
    assert read.value.reason == f"cannot read SNMP credential 3 auth passphrase: {NOT_CONFIGURED_TEXT}"
    with pytest.raises(errors.GlpiKeyNotConfigured) as written:
        codec.conceal("authpass", "SNMP credential 3 priv passphrase")
    assert written.value.reason == f"cannot store SNMP credential 3 priv passphrase: {NOT_CONFIGURED_TEXT}"
    assert "authpass" not in written.value.detail


def test_an_unusable_key_file_is_refused_with_why(tmp_path):
    path = tmp_path / "glpicrypt.key"
    path.write_bytes(KEY + b"\n")
    codec = glpi_secrets(str(path))
    with pytest.raises(errors.GlpiKeyUnusable) as raised:
        codec.reveal("c29tZXRoaW5n", "ESX credential 1 password")
    assert raised.value.reason.startswith("cannot read ESX credential 1 password: GLPI key file "
                                          "(FUSION_BRIDGE_GLPI_KEY_FILE) must hold exactly 32 raw bytes")
    assert str(path) in raised.value.detail
    assert repr(codec) == "NoGlpiKey(GlpiKeyUnusable)"


def test_unknown_flavour():
    with pytest.raises(ValueError, match="unknown schema flavour"):
        secret_codec("ocs", glpi_secrets(""))


def test_setting_from_the_environment(key_file):
    assert Config().glpi_key_file == ""
    config = Config.from_env({"FUSION_BRIDGE_GLPI_KEY_FILE": key_file})
    assert config.glpi_key_file == key_file
    assert glpi_secrets(config.glpi_key_file).reveal(GlpiKey(KEY).encrypt("ok")) == "ok"


def test_serve_refuses_to_start_with_a_key_file_it_cannot_use(tmp_path, key_file):
    check_settings(Config(glpi_key_file=key_file))
    check_settings(Config())  # no key file: GLPI 9.5 sites need none
    missing = str(tmp_path / "missing.key")
    with pytest.raises(ValueError, match=r"file '.*missing\.key' \(FUSION_BRIDGE_GLPI_KEY_FILE\) does"):
        check_settings(Config(glpi_key_file=missing))
