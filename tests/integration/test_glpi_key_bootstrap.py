"""A worker reads GLPI's key file once, when its services are built (docs/glpi-secrets.md §2),
and keeps working without one: only secrets are refused."""

from __future__ import annotations

import pytest

from fusion_bridge import errors
from fusion_bridge.adapters.glpi_key import new_key_file
from fusion_bridge.adapters.secret_codec import secret_codec
from fusion_bridge.app import create_app


def test_the_key_is_read_once_per_worker(database_url, tmp_path):
    path = tmp_path / "glpicrypt.key"
    key = new_key_file(str(path))
    app = create_app({"DATABASE_URL": database_url, "GLPI_KEY_FILE": str(path)})
    services = app.extensions["fusion_bridge"]
    try:
        path.unlink()  # read at start: later changes of the file do not matter to this worker
        codec = secret_codec("glpiinventory", services.glpi_secrets)
        assert codec.reveal(key.encrypt("authpass")) == "authpass"
        assert key.decrypt(codec.conceal("privpass")) == "privpass"
        assert secret_codec("fusioninventory", services.glpi_secrets).reveal("public") == "public"
    finally:
        services.dispose()


def test_without_a_key_the_worker_starts_and_refuses_secrets(database_url, tmp_path):
    app = create_app({"DATABASE_URL": database_url, "GLPI_KEY_FILE": str(tmp_path / "missing.key")})
    services = app.extensions["fusion_bridge"]
    try:
        assert app.test_client().get("/healthz").status_code == 200
        codec = secret_codec("glpiinventory", services.glpi_secrets)
        with pytest.raises(errors.GlpiKeyUnusable, match=r"key file \(FUSION_BRIDGE_GLPI_KEY_FILE\) does not exist"):
            codec.reveal("c29tZXRoaW5n", "ESX credential 1 password")
    finally:
        services.dispose()
