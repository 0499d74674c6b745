"""The Deploy file repository: the plugin's on-disk layout and its ``_deployfiles`` row."""

from __future__ import annotations

import gzip
import hashlib
import io
import os

from sqlalchemy import select

import schema
from fusion_bridge.adapters.deploy_repository import PART_SIZE, FileRepository


def test_a_file_is_cut_in_gzip_parts_named_by_their_hash(engine, tmp_path):
    content = os.urandom(PART_SIZE) + b"tail of the file\n"
    source = tmp_path / "app.bin"
    source.write_bytes(content)
    repository = FileRepository(tmp_path / "repo")
    seen = []
    stored = repository.add_file(engine, source, progress=seen.append)

    assert stored.sha512 == hashlib.sha512(content).hexdigest()
    assert stored.size == len(content) and len(stored.parts) == 2 and stored.added
    assert seen == [PART_SIZE, len(b"tail of the file\n")]
    for part in stored.parts:
        path = tmp_path / "repo" / "files" / "repository" / part[0] / part[:2] / part
        packed = path.read_bytes()
        assert hashlib.sha512(packed).hexdigest() == part
        assert packed[:2] == b"\x1f\x8b"
        assert len(gzip.decompress(packed)) <= PART_SIZE
    manifest = (tmp_path / "repo" / "files" / "manifests" / stored.sha512).read_text()
    assert manifest == "".join(p + "\n" for p in stored.parts)
    assert repository.read_file(stored.sha512) == content
    with engine.connect() as conn:
        row = conn.execute(select(schema.deployfiles)).one()
    assert (row.name, row.filesize, row.sha512, row.shortsha512) == ("app.bin", len(content), stored.sha512,
                                                                    stored.sha512[:6])
    assert row.mimetype == "application/octet-stream"


def test_adding_the_same_content_again_adds_nothing(engine, tmp_path):
    repository = FileRepository(tmp_path)
    first = repository.add_file(engine, io.BytesIO(b"hello\n"), "hello.txt")
    again = repository.add_file(engine, io.BytesIO(b"hello\n"), "hello.txt")
    assert not again.added and again.id == first.id and again.parts == first.parts
    assert first.size == 6
    with engine.connect() as conn:
        assert conn.execute(select(schema.deployfiles.c.id)).scalars().all() == [first.id]


def test_a_corrupt_manifest_makes_the_file_unusable_not_an_error(engine, tmp_path):
    repository = FileRepository(tmp_path)
    stored = repository.add_file(engine, io.BytesIO(b"hello\n"), "hello.txt")
    manifest = tmp_path / "files" / "manifests" / stored.sha512
    manifest.write_text(stored.parts[0].upper() + "\n")  # upper case is still the same part
    assert repository.manifest(stored.sha512) == list(stored.parts) and repository.has_file(stored.sha512)
    manifest.write_text(stored.parts[0] + "\n../../etc/passwd\n")
    assert repository.manifest(stored.sha512) == [] and not repository.has_file(stored.sha512)


class _CutShort(io.RawIOBase):
    """An upload whose connection drops after its first part."""

    def __init__(self):
        self.sent = 0

    def readable(self):
        return True

    def read(self, size=-1):
        if self.sent >= PART_SIZE:
            raise ConnectionResetError("client gone")
        data = os.urandom(min(size, PART_SIZE - self.sent))
        self.sent += len(data)
        return data


def test_an_upload_cut_short_leaves_nothing_in_the_repository(engine, tmp_path):
    repository = FileRepository(tmp_path)
    try:
        repository.add_file(engine, _CutShort(), "big.iso")
    except ConnectionResetError:
        pass
    else:
        raise AssertionError("the broken stream was not noticed")
    left = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    assert left == []
    assert list((tmp_path / "files" / ".staging").iterdir()) == []
    with engine.connect() as conn:
        assert conn.execute(select(schema.deployfiles.c.id)).all() == []


def test_stale_staging_folders_of_dead_adds_are_swept(engine, tmp_path):
    repository = FileRepository(tmp_path)
    dead = tmp_path / "files" / ".staging" / "add-dead"
    dead.mkdir(parents=True)
    (dead / "half-a-part").write_bytes(b"x")
    os.utime(dead, (0, 0))
    repository.add_file(engine, io.BytesIO(b"hello\n"), "hello.txt")
    assert not dead.exists()
