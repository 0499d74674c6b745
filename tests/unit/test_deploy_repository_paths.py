"""The Deploy file repository answers only for sha512 names: no path leaves it."""

from __future__ import annotations

from fusion_bridge.adapters.deploy_repository import FileRepository


def test_paths_only_for_sha512_names(tmp_path):
    repository = FileRepository(tmp_path)
    assert repository.manifest("../../etc/passwd") == []
    assert repository.manifest("a" * 128) == []
    try:
        repository.part_path("../x")
    except ValueError:
        pass
    else:
        raise AssertionError("a path outside the repository was accepted")
