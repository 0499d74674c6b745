"""The relay's settings, checked once from ``Config`` (``fusion_bridge/config.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from fusion_bridge.adapters.upstream_http import Upstream
from fusion_bridge.config import Config


@dataclass(frozen=True)
class Caps:
    """Queue caps: documents and bytes (as sent) it may hold."""

    max_documents: int
    max_bytes: int


@dataclass(frozen=True)
class RelaySettings:
    upstream: Upstream
    concurrency: int
    rate_per_minute: float
    caps: Caps
    max_attempts: int
    claim_seconds: float
    backoff_base: float
    backoff_cap: float
    poll_seconds: float

    @classmethod
    def from_config(cls, config: Config) -> "RelaySettings":
        """Raise ValueError with what to fix (never showing a credential)."""
        if not config.inventory_upstream:
            raise ValueError("no inventory upstream: set FUSION_BRIDGE_INVENTORY_UPSTREAM "
                             "(or serve --inventory-upstream URL)")
        upstream = Upstream.parse(
            config.inventory_upstream, ca_file=config.upstream_ca_file, verify=config.upstream_verify,
            user=config.upstream_user, password=config.upstream_password,
            connect_timeout=config.upstream_connect_timeout, read_timeout=config.upstream_read_timeout)
        _at_least(config.relay_concurrency, 1, "FUSION_BRIDGE_RELAY_CONCURRENCY")
        _at_least(config.relay_rate, 0, "FUSION_BRIDGE_RELAY_RATE")
        _at_least(config.relay_max_documents, 1, "FUSION_BRIDGE_RELAY_MAX_DOCUMENTS")
        _at_least(config.relay_max_bytes, 1, "FUSION_BRIDGE_RELAY_MAX_BYTES")
        _at_least(config.relay_max_attempts, 1, "FUSION_BRIDGE_RELAY_MAX_ATTEMPTS")
        _at_least(config.relay_backoff_base, 0.01, "FUSION_BRIDGE_RELAY_BACKOFF_BASE")
        _at_least(config.relay_backoff_cap, config.relay_backoff_base, "FUSION_BRIDGE_RELAY_BACKOFF_CAP")
        _at_least(config.relay_poll_seconds, 0.01, "FUSION_BRIDGE_RELAY_POLL_SECONDS")
        # A claim must outlive the longest send, or another forwarder would send the document
        # again while the first one still waits for the answer.
        longest = config.upstream_connect_timeout + config.upstream_read_timeout
        if config.relay_claim_seconds <= longest:
            raise ValueError(f"FUSION_BRIDGE_RELAY_CLAIM_SECONDS ({config.relay_claim_seconds:g}) must exceed "
                             f"the upstream connect + read time-outs ({longest:g} s)")
        return cls(upstream, config.relay_concurrency, config.relay_rate,
                   Caps(config.relay_max_documents, config.relay_max_bytes), config.relay_max_attempts,
                   config.relay_claim_seconds, config.relay_backoff_base, config.relay_backoff_cap,
                   config.relay_poll_seconds)


def relay_problem(config: Config) -> str | None:
    """Why the relay settings cannot work, or None (also None when no upstream is set)."""
    if not config.inventory_upstream:
        return None
    try:
        RelaySettings.from_config(config)
    except ValueError as error:
        return str(error)
    return None


def caps_of(config: Config) -> Caps:
    return Caps(config.relay_max_documents, config.relay_max_bytes)


def _at_least(value: float, minimum: float, name: str) -> None:
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, got {value:g}")
