"""GLPI 9.5 tables hanging off a network port: its type row and its links.

``glpi_networkports.instantiation_type`` names the class whose table holds the port's type
row (at most one per port: ``networkports_id`` is unique in each); a port may also be wired to
another port (``glpi_networkports_networkports``) and carry VLANs (``glpi_networkports_vlans``).
GLPI deletes all of them with the port (docs/schema.md §9.1); so does the bridge.
"""

from __future__ import annotations

from sqlalchemy import Index

from schema.base import flag_column, glpi_table, id_column, int_column, string_column, text_column
from schema.base import timestamp_column


def _type_table(name: str, *columns, indexes: tuple[str, ...] = ()):
    """A type table: id, the port (unique), its own columns, the two dates, then the keys."""
    return glpi_table(
        name,
        id_column(),
        int_column("networkports_id"),
        *columns,
        timestamp_column("date_mod"),
        timestamp_column("date_creation"),
        Index("networkports_id", "networkports_id", unique=True),
        *[Index(index, *columns_of) for index, *columns_of in indexes],
        Index("date_mod", "date_mod"),
        Index("date_creation", "date_creation"),
    )


glpi_networkportaggregates = _type_table(
    "glpi_networkportaggregates",
    text_column("networkports_id_list", comment="array of associated networkports_id"),
)

glpi_networkportaliases = _type_table(
    "glpi_networkportaliases",
    int_column("networkports_id_alias"),
    indexes=(("networkports_id_alias", "networkports_id_alias"),),
)

glpi_networkportdialups = _type_table("glpi_networkportdialups")

glpi_networkportethernets = _type_table(
    "glpi_networkportethernets",
    int_column("items_devicenetworkcards_id"),
    int_column("netpoints_id"),
    string_column("type", 10, default="", comment="T, LX, SX"),
    int_column("speed", "10", comment="Mbit/s: 10, 100, 1000, 10000"),
    indexes=(("card", "items_devicenetworkcards_id"), ("netpoint", "netpoints_id"), ("type", "type"),
             ("speed", "speed")),
)

glpi_networkportfiberchannels = _type_table(
    "glpi_networkportfiberchannels",
    int_column("items_devicenetworkcards_id"),
    int_column("netpoints_id"),
    string_column("wwn", 16, default=""),
    int_column("speed", "10", comment="Mbit/s: 10, 100, 1000, 10000"),
    indexes=(("card", "items_devicenetworkcards_id"), ("netpoint", "netpoints_id"), ("wwn", "wwn"),
             ("speed", "speed")),
)

glpi_networkportlocals = _type_table("glpi_networkportlocals")

glpi_networkportwifis = _type_table(
    "glpi_networkportwifis",
    int_column("items_devicenetworkcards_id"),
    int_column("wifinetworks_id"),
    int_column("networkportwifis_id", comment="only useful in case of Managed node"),
    string_column("version", 20, comment="a, a/b, a/b/g, a/b/g/n, a/b/g/n/y"),
    string_column("mode", 20, comment="ad-hoc, managed, master, repeater, secondary, monitor, auto"),
    indexes=(("card", "items_devicenetworkcards_id"), ("essid", "wifinetworks_id"), ("version", "version"),
             ("mode", "mode")),
)

# A cable between two ports (either side may be the asset's).
glpi_networkports_networkports = glpi_table(
    "glpi_networkports_networkports",
    id_column(),
    int_column("networkports_id_1"),
    int_column("networkports_id_2"),
    Index("unicity", "networkports_id_1", "networkports_id_2", unique=True),
    Index("networkports_id_2", "networkports_id_2"),
)

glpi_networkports_vlans = glpi_table(
    "glpi_networkports_vlans",
    id_column(),
    int_column("networkports_id"),
    int_column("vlans_id"),
    flag_column("tagged"),
    Index("unicity", "networkports_id", "vlans_id", unique=True),
    Index("vlans_id", "vlans_id"),
)

# instantiation_type -> its type table (GLPI 9.5's ``networkport_instantiations``).
TYPE_TABLES = {
    "NetworkPortAggregate": glpi_networkportaggregates,
    "NetworkPortAlias": glpi_networkportaliases,
    "NetworkPortDialup": glpi_networkportdialups,
    "NetworkPortEthernet": glpi_networkportethernets,
    "NetworkPortFiberchannel": glpi_networkportfiberchannels,
    "NetworkPortLocal": glpi_networkportlocals,
    "NetworkPortWifi": glpi_networkportwifis,
}

TABLES = [*TYPE_TABLES.values(), glpi_networkports_networkports, glpi_networkports_vlans]
