"""OPTION values built from the plugin's credential rows (docs/plugin-semantics.md §7.2, addAuth)."""

from fusion_bridge.services.agent.options import Credential, authentication
from protocol import SnmpAuthentication


def credential(**values) -> Credential:
    row = dict(id=1, snmpversion="1", community=None, username=None, authentication=None, auth_passphrase=None,
               encryption=None, priv_passphrase=None)
    return Credential(**{**row, **values})


def test_v1_and_v2c_send_their_community():
    assert authentication(credential(community="public")) == SnmpAuthentication(1, "1", community="public")
    assert authentication(credential(id=2, snmpversion="2", username="ignored")) == SnmpAuthentication(2, "2c")


def test_v3_sends_user_passphrases_and_only_the_protocols_it_has():
    assert authentication(credential(snmpversion="3", username="u", authentication="2", auth_passphrase="a",
                                     encryption="1", priv_passphrase="p")) == \
        SnmpAuthentication(1, "3", username="u", auth_protocol="SHA", auth_passphrase="a", priv_protocol="DES",
                           priv_passphrase="p")
    assert authentication(credential(snmpversion=3, authentication="0", encryption=0)) == \
        SnmpAuthentication(1, "3")


def test_protocol_codes():
    # 3 (the UI's Triple-DES, for which the plugin sends an empty protocol) and 5 send 3DES; an
    # unknown code sends an empty protocol.
    assert authentication(credential(snmpversion="3", encryption="3")).priv_protocol == "3DES"
    assert authentication(credential(snmpversion="3", encryption="5")).priv_protocol == "3DES"
    assert authentication(credential(snmpversion="3", encryption="9", authentication="7")) == \
        SnmpAuthentication(1, "3", auth_protocol="", priv_protocol="")
    # An unknown version is sent as it is, with the community.
    assert authentication(credential(snmpversion="4", community="c")) == SnmpAuthentication(1, "4", community="c")
