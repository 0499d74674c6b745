"""Settings, read from ``FUSION_BRIDGE_*`` environment variables with documented defaults.

``create_app`` also accepts a mapping of the same names without the prefix
(``{"DATABASE_URL": ...}``), which tests and embedding code use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

PREFIX = "FUSION_BRIDGE_"
SCHEMA_FLAVOURS = ("auto", "fusioninventory", "glpiinventory")
# Settings whose variable is not the field's name.
_ALIASES = {"schema": "schema_flavour"}


@dataclass(frozen=True)
class Config:
    # An embedded SQLite file in the working directory, created on first start.
    database_url: str = "sqlite:///fusion-bridge.sqlite"
    # Largest request body accepted as sent (compressed), and once decompressed.
    max_body_bytes: int = 32 * 1024 * 1024
    max_xml_bytes: int = 64 * 1024 * 1024
    max_xml_depth: int = 32
    # How long agent-module switches and plugin config values are cached per worker.
    settings_ttl: float = 10.0
    log_level: str = "INFO"
    bind: str = "127.0.0.1:8080"
    workers: int = 0  # 0 = 2 x cores + 1
    # Threads per worker process, each serving one connection at a time: a slow client holds
    # one thread, not a whole worker (fusion_bridge/worker.py).
    threads: int = 32
    # A client must send its request headers within ``client_timeout`` seconds of connecting,
    # and its body within ``client_timeout`` seconds plus one second per ``client_min_rate``
    # bytes received; else 408. Each write of the reply gets the same allowance.
    client_timeout: float = 20.0
    client_min_rate: int = 500
    # Bearer token of the JSON admin API under /api/; empty = the API refuses every call.
    admin_token: str = field(default="", repr=False)
    # Waking agents up (push): connections in flight at most, /status and /now timeouts (s).
    wakeup_concurrency: int = 50
    wakeup_status_timeout: float = 1.0
    wakeup_now_timeout: float = 2.0
    # Deploy file repository: the directory holding ``files/repository/<c1>/<c1c2>/<part sha512>``
    # and ``files/manifests/<file sha512>``, laid out as the plugin's
    # ``GLPI_PLUGIN_DOC_DIR/fusioninventory`` (point it there to share GLPI's repository).
    # A relative path is taken from the working directory when the settings are read (see
    # __post_init__), so that every process and library of one start uses the same folder.
    deploy_repository: str = "fusion-bridge-files"
    # Largest file accepted by the admin API's upload (POST /api/deploy/files), streamed to the
    # repository part by part. The whole upload must fit in the 120 s a request may last
    # (~56 MiB/s of gzip + sha512 per core; 1 GiB takes ~90 s over 100 Mbit/s): bigger files are
    # added with `fusion-bridge deploy file add`, which has no such limit.
    deploy_max_upload_bytes: int = 1024 * 1024 * 1024
    # Inventory relay (services/relay): with an upstream URL (GLPI's own import: the plugin's
    # .../plugins/fusioninventory/ or GLPI 10/11's .../front/inventory.php) INVENTORYs are
    # queued and forwarded there instead of imported here. TLS is verified (against
    # ``upstream_ca_file`` when given); credentials go in HTTP Basic, never in a log line.
    inventory_upstream: str = field(default="", repr=False)
    upstream_ca_file: str = ""
    upstream_verify: bool = True
    upstream_user: str = field(default="", repr=False)
    upstream_password: str = field(default="", repr=False)
    upstream_connect_timeout: float = 10.0
    upstream_read_timeout: float = 120.0
    # Forwarding: requests in flight per instance, documents per minute (0 = no limit).
    relay_concurrency: int = 2
    relay_rate: float = 0.0
    # Queue caps (documents, bytes as sent): beyond them an INVENTORY is answered 503.
    relay_max_documents: int = 10000
    relay_max_bytes: int = 1024 * 1024 * 1024
    # A document the upstream refuses (4xx, ERROR reply) this many times goes dead-letter.
    relay_max_attempts: int = 5
    # A claimed document whose forwarder vanished is taken over after this many seconds.
    relay_claim_seconds: float = 300.0
    relay_backoff_base: float = 2.0
    relay_backoff_cap: float = 300.0
    relay_poll_seconds: float = 1.0
    # How long a request waits on the database (seconds), so that a stuck database is a 503
    # within seconds (adapters.db.DbLimits): connecting, each read and write on the connection
    # (MySQL), each row-lock wait (innodb_lock_wait_timeout, whole seconds) and each statement
    # (MariaDB max_statement_time; 0 = no bound), kept below the read timeout so that the server
    # answers with an error first; SQLite: the wait for the write lock.
    db_connect_timeout: float = 3.0
    db_read_timeout: float = 4.0
    db_write_timeout: float = 4.0
    db_lock_wait_timeout: int = 2
    db_statement_timeout: float = 3.0
    sqlite_busy_timeout: float = 10.0
    # A request the database rolled back (deadlock, lock wait timeout, lost connection) is run
    # again this many times, never starting an attempt later than db_retry_budget seconds.
    db_retries: int = 2
    db_retry_budget: float = 4.0
    # Repeated failures and refusals: one log line per kind and interval (seconds), with a count.
    log_interval: float = 10.0
    # Reverse proxies whose forwarding headers are believed (addresses or networks, comma- or
    # space-separated; empty = none), and which headers they write: ``x-forwarded``
    # (X-Forwarded-For/-Proto/-Host) or ``forwarded`` (RFC 7239). See http/forwarded.py.
    trusted_proxies: str = ""
    forwarded_header: str = "x-forwarded"
    # HTTP Basic for the agent endpoints (XML and REST): an htpasswd file of bcrypt entries
    # (``htpasswd -B``); empty = agents are not asked to authenticate. See http/agent_auth.py.
    agent_auth: str = ""
    agent_auth_realm: str = "fusion-bridge"
    # GLPI 10/11: the site key GLPI encrypts SNMP v3 passphrases, ESX passwords and its agent
    # password with (GLPI's config/glpicrypt.key, 32 raw bytes); read once per process. Empty =
    # none: secrets of a glpiinventory database cannot be read or written (docs/glpi-secrets.md §2).
    glpi_key_file: str = ""
    # Which schema the database holds ($FUSION_BRIDGE_SCHEMA): ``auto`` (found out from the
    # database, schema/detect.py), ``fusioninventory`` (GLPI 9.5 + FusionInventory 9.5+4.2) or
    # ``glpiinventory`` (GLPI 10 + glpiinventory 1.5.x, GLPI 11 + 1.6.x). Engines compile into
    # that layout; ``auto`` finds it at each engine's first connection (docs/schema-layouts.md §1).
    schema_flavour: str = "auto"

    def __post_init__(self) -> None:
        flavour = str(self.schema_flavour).strip().lower()
        if flavour not in SCHEMA_FLAVOURS:
            raise ValueError(f"setting FUSION_BRIDGE_SCHEMA must be one of {', '.join(SCHEMA_FLAVOURS)}, "
                             f"got {self.schema_flavour!r}")
        object.__setattr__(self, "schema_flavour", flavour)
        # Resolved once, here: Flask's send_file resolves a relative path against the package
        # folder, not the working directory, so a relative repository served nothing.
        if not os.path.isabs(self.deploy_repository):
            object.__setattr__(self, "deploy_repository", os.path.abspath(self.deploy_repository))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        environ = os.environ if environ is None else environ
        return cls().updated({k[len(PREFIX):]: v for k, v in environ.items() if k.startswith(PREFIX)})

    def updated(self, values: Mapping[str, Any] | None) -> "Config":
        """A copy with ``values`` (names case-insensitive, prefix optional) applied."""
        if not values:
            return self
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for raw_name, value in values.items():
            name = raw_name.lower()
            if name.startswith(PREFIX.lower()):
                name = name[len(PREFIX):]
            name = _ALIASES.get(name, name)
            field = known.get(name)
            if field is None:
                continue
            changes[name] = _convert(field.type, value, raw_name)
        return replace(self, **changes)


def _convert(type_name: Any, value: Any, name: str) -> Any:
    if type_name in ("bool", bool):
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in ("1", "true", "yes", "on"):
            return True
        if word in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"setting {name} must be yes or no, got {value!r}")
    try:
        if type_name in ("int", int):
            return int(value)
        if type_name in ("float", float):
            return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"setting {name} must be a number, got {value!r}") from None
    return str(value)
