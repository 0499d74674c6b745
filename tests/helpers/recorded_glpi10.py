"""The GLPI 10 recordings in ``fixtures/recorded-glpi10`` (real GLPI Agent 1.11 and agent 2.6
with GLPI 10.0.19 + glpiinventory 1.5.8): exchanges by folder or kind, and the recorded
PROLOG replies read back into reply values (docs/glpi10-protocol.md §3)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import protocol

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "recorded-glpi10"
DEVICE = "vm-2026-12-04-19-51-29"  # GLPI Agent's deviceid in every scenario
FI_DEVICE = "vm-2026-12-04-19-54-17"  # FusionInventory agent 2.6's
AGENT_ID = "1903c578-f01c-11f1-b211-40c4cdfbdc0e"
# What GLPI 10.0.19 + glpiinventory 1.5.8 announced: the policy that reproduces its replies.
GLPI_VERSION = "10.0.19"
PLUGIN_VERSION = "1.5.8"


@dataclass(frozen=True)
class Exchange:
    folder: Path

    @cached_property
    def meta(self) -> dict:
        return json.loads((self.folder / "exchange.json").read_text())

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    @property
    def status(self) -> int:
        return self.meta["reply"]["status"]

    def _read(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    @property
    def request_raw(self) -> bytes:
        return self._read("request.raw")

    @property
    def request_decoded(self) -> bytes:
        return self._read("request.decoded")

    @property
    def reply_raw(self) -> bytes:
        return self._read("reply.raw")

    @property
    def reply_decoded(self) -> bytes:
        return self._read("reply.decoded")

    def request_header(self, name: str) -> str | None:
        return _header(self.meta["request"]["headers"], name)

    def reply_header(self, name: str) -> str | None:
        return _header(self.meta["reply"]["headers"], name)

    def request_headers(self, *names: str) -> dict[str, str]:
        """The named request headers the agent sent (for a test client)."""
        return {name: value for name in names if (value := self.request_header(name)) is not None}

    @property
    def path(self) -> str:
        return self.meta["request"]["path"]

    def __str__(self) -> str:
        return str(self.folder.relative_to(ROOT))


def _header(headers: list, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


def exchanges(kind: str | None = None) -> list[Exchange]:
    """Every recorded exchange (of ``kind``), in folder order."""
    found = [Exchange(path.parent) for path in sorted(ROOT.glob("**/exchange.json"))]
    return [each for each in found if kind is None or each.kind == kind]


def exchange(folder: str) -> Exchange:
    """One exchange by its folder under the recordings, e.g. ``07-…/001-POST-CONTACT``."""
    return Exchange(ROOT / folder)


def is_xml_reply(each: Exchange) -> bool:
    return each.reply_decoded.startswith(b"<?xml")


# --- recorded PROLOG replies as values ------------------------------------------------------


def prolog_reply_of(xml: bytes) -> protocol.PrologReply:
    """A recorded GLPI 10 PROLOG reply read back into the value our writer takes."""
    root = ET.fromstring(xml)
    options = tuple(_option(each) for each in root.findall("OPTION"))
    return protocol.PrologReply(options=options, send_inventory=root.find("RESPONSE") is not None,
                                prolog_freq=root.findtext("PROLOG_FREQ"))


def _option(element) -> protocol.ReplyOption:
    name = element.findtext("NAME")
    param = element.find("PARAM").attrib
    authentications = tuple(_authentication(each) for each in element.findall("AUTHENTICATION"))
    if name == "NETDISCOVERY":
        return protocol.NetDiscoveryOption(
            pid=int(param["PID"]), threads=param["THREADS_DISCOVERY"], timeout=param["TIMEOUT"],
            ranges=tuple(protocol.IpRange(int(r.get("ID")), r.get("IPSTART"), r.get("IPEND"), int(r.get("ENTITY")))
                         for r in element.findall("RANGEIP")),
            authentications=authentications)
    if name == "SNMPQUERY":
        return protocol.SnmpQueryOption(
            pid=int(param["PID"]), threads=param["THREADS_QUERY"], timeout=param["TIMEOUT"],
            devices=tuple(protocol.SnmpTarget(d.get("TYPE"), int(d.get("ID")), d.get("IP"), int(d.get("AUTHSNMP_ID")))
                          for d in element.findall("DEVICE")),
            authentications=authentications)
    if name == "WAKEONLAN":  # the bridge's own (GLPI 10 has none), in GLPI 10's form
        return protocol.WakeOnLanOption(macs=tuple(each.get("MAC") for each in element.findall("PARAM")))
    raise AssertionError(f"no OPTION {name} in the GLPI 10 recordings")


def _authentication(element) -> protocol.SnmpAuthentication:
    fields = {child.tag: child.text or "" for child in element}
    return protocol.SnmpAuthentication(
        id=int(fields["ID"]), version=fields["VERSION"], community=fields.get("COMMUNITY", ""),
        username=fields.get("USERNAME", ""), auth_protocol=fields.get("AUTHPROTOCOL"),
        auth_passphrase=fields.get("AUTHPASSPHRASE", ""), priv_protocol=fields.get("PRIVPROTOCOL"),
        priv_passphrase=fields.get("PRIVPASSPHRASE", ""))
