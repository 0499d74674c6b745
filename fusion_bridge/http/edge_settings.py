"""The settings of what stands between the agents and the app (trusted proxies, agent
authentication), checked before anything starts: ``serve`` refuses them with a clear message
rather than letting every gunicorn worker fail to boot. No Flask here (the CLI imports it)."""

from __future__ import annotations

from fusion_bridge.config import Config
from fusion_bridge.http.forwarded import HEADER_FAMILIES, parse_networks


def check_edge_settings(config: Config) -> None:
    """Raise ValueError naming the setting that cannot work."""
    parse_networks(config.trusted_proxies)
    family = config.forwarded_header.strip().lower()
    if family not in HEADER_FAMILIES:
        raise ValueError(f"FUSION_BRIDGE_FORWARDED_HEADER must be one of {', '.join(HEADER_FAMILIES)}, "
                         f"got {config.forwarded_header!r}")
    if config.agent_auth:
        try:
            with open(config.agent_auth, "rb"):
                pass
        except OSError as error:
            raise ValueError(f"FUSION_BRIDGE_AGENT_AUTH: cannot read {config.agent_auth!r}: "
                             f"{error.strerror or error}") from None
