"""PROLOG replies as the plugin writes them, byte for byte (docs/plugin-semantics.md §3)."""

PLUGIN_PROLOG_SEND = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<REPLY>\n"
    b"   <RESPONSE>SEND</RESPONSE>\n"
    b"   <PROLOG_FREQ>24</PROLOG_FREQ>\n"
    b"</REPLY>\n"
)

PLUGIN_PROLOG_WITH_JOBS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<REPLY>\n"
    b"   <OPTION>\n"
    b"      <NAME>NETDISCOVERY</NAME>\n"
    b'      <PARAM THREADS_DISCOVERY="20" TIMEOUT="1" PID="42"/>\n'
    b'      <RANGEIP ID="1" IPSTART="192.168.0.1" IPEND="192.168.0.254" ENTITY="0"/>\n'
    b'      <AUTHENTICATION ID="1" VERSION="1" COMMUNITY="public"/>\n'
    b"   </OPTION>\n"
    b"   <OPTION>\n"
    b"      <NAME>SNMPQUERY</NAME>\n"
    b'      <PARAM THREADS_QUERY="10" TIMEOUT="15" PID="43"/>\n'
    b'      <DEVICE TYPE="NETWORKING" ID="7" IP="10.0.0.2" AUTHSNMP_ID="2"/>\n'
    b'      <AUTHENTICATION ID="2" VERSION="2c" COMMUNITY="public"/>\n'
    b"   </OPTION>\n"
    b"   <OPTION>\n"
    b"      <NAME>WAKEONLAN</NAME>\n"
    b'      <PARAM MAC="00:11:22:33:44:55"/>\n'
    b"   </OPTION>\n"
    b"   <RESPONSE>SEND</RESPONSE>\n"
    b"   <PROLOG_FREQ>24</PROLOG_FREQ>\n"
    b"</REPLY>\n"
)
