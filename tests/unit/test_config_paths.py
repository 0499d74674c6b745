"""The Deploy repository setting: a relative path means the working directory at start.

Flask's ``send_file`` resolves a relative path against the package folder, so before the
setting was resolved every ``getFilePart`` of the default repository answered 500."""

from __future__ import annotations

import os

from fusion_bridge.config import Config


def test_default_repository_is_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Config().deploy_repository == str(tmp_path / "fusion-bridge-files")
    assert Config.from_env({}).deploy_repository == str(tmp_path / "fusion-bridge-files")


def test_relative_setting_is_resolved_once_at_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = Config.from_env({"FUSION_BRIDGE_DEPLOY_REPOSITORY": "shared/deploy"})
    assert config.deploy_repository == str(tmp_path / "shared" / "deploy")
    # A later change of directory (or a copy of the settings) does not move it.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert config.updated({"BIND": "127.0.0.1:9"}).deploy_repository == str(tmp_path / "shared" / "deploy")


def test_absolute_setting_is_kept(tmp_path):
    assert Config.from_env({"FUSION_BRIDGE_DEPLOY_REPOSITORY": str(tmp_path)}).deploy_repository == str(tmp_path)
    assert os.path.isabs(Config().updated({"deploy_repository": "x"}).deploy_repository)
