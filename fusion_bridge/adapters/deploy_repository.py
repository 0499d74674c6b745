"""The Deploy file repository, laid out as the plugin's (docs/schema.md §6).

Under the repository root (the plugin's ``GLPI_PLUGIN_DOC_DIR/fusioninventory``):

* ``files/repository/<c1>/<c1c2>/<part sha512>``: the file cut in parts of at most 1 MiB, each
  part gzip-compressed; the part's name is the sha512 of the stored (compressed) bytes, which is
  what the agent checks after downloading it;
* ``files/manifests/<file sha512>``: the part names of the file, in order, one per line;
* a ``glpi_plugin_fusioninventory_deployfiles`` row (name, mimetype, size and sha512 of the whole,
  uncompressed file), so that the file shows in GLPI's UI and packages can use it.

So a repository shared with GLPI serves the packages made in GLPI's UI, and files added here show
there. Parts and manifests are written to a temporary name and renamed: a reader never sees half
a part, and two writers of the same file write the same bytes.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import mimetypes
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

import schema
from fusion_bridge.domain.text import local_now

log = logging.getLogger(__name__)

PART_SIZE = 1024 * 1024
STALE_STAGING_SECONDS = 24 * 3600  # a staging folder this old belongs to an add that died
SHA512_HEX = re.compile(r"^[0-9a-f]{128}$")

deployfiles = schema.deployfiles


@dataclass(frozen=True)
class StoredFile:
    id: int
    name: str
    sha512: str
    size: int
    parts: tuple[str, ...]
    added: bool  # False when the same content was already in the repository


def is_sha512(value: str | None) -> bool:
    return bool(value) and SHA512_HEX.match(value) is not None


class FileRepository:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.parts_dir = self.root / "files" / "repository"
        self.manifests_dir = self.root / "files" / "manifests"

    # -- reading ------------------------------------------------------------------------------

    def part_path(self, part_sha512: str) -> Path:
        """Where a part is stored; ValueError for anything but a lower-case sha512."""
        if not is_sha512(part_sha512):
            raise ValueError(f"not a sha512: {part_sha512[:140]!r}")
        return self.parts_dir / part_sha512[0] / part_sha512[:2] / part_sha512

    def manifest(self, file_sha512: str) -> list[str]:
        """The part hashes of a file, in order; [] when the repository has no such file."""
        if not is_sha512(file_sha512):
            return []
        try:
            text = (self.manifests_dir / file_sha512).read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return []
        parts = [line.strip().lower() for line in text.splitlines() if line.strip()]
        if not all(is_sha512(part) for part in parts):
            # Half a file would fail on the agent after its download: the file is unusable.
            log.warning("deploy repository: the manifest of %s is corrupt (a line is not a sha512)", file_sha512)
            return []
        return parts

    def has_file(self, file_sha512: str) -> bool:
        parts = self.manifest(file_sha512)
        return bool(parts) and all(self.part_path(p).is_file() for p in parts)

    def read_file(self, file_sha512: str) -> bytes:
        """The whole file, reassembled (for checks and tests; agents fetch parts)."""
        data = bytearray()
        for part in self.manifest(file_sha512):
            data += gzip.decompress(self.part_path(part).read_bytes())
        return bytes(data)

    # -- writing ------------------------------------------------------------------------------

    def add_file(self, engine: Engine, source: str | os.PathLike | BinaryIO, name: str | None = None, *,
                 entities_id: int = 0, is_recursive: bool = False, mimetype: str | None = None,
                 comment: str | None = None,
                 progress: Callable[[int], None] | None = None) -> StoredFile:
        """Store ``source`` (a path or a binary stream) and register it in ``_deployfiles``.

        Read in 1 MiB parts, never whole in memory; ``progress`` is called with the number of
        bytes read after each part. Adding the same content again stores nothing new and returns
        the existing row (``added`` False).
        """
        path = None
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            name = name or path.name
        if not name:
            raise ValueError("a file name is needed")
        whole = hashlib.sha512()
        parts: list[str] = []
        size = 0
        # Parts go to a staging folder first and into the repository only once the whole source
        # was read: an upload cut short leaves nothing behind (and a killed process only this
        # folder, swept by a later add).
        self._sweep_staging()
        staging = Path(tempfile.mkdtemp(prefix="add-", dir=self._staging_root()))
        staged: dict[str, Path] = {}
        stream = path.open("rb") if path is not None else source
        try:
            while True:
                chunk = _read_exactly(stream, PART_SIZE)
                if not chunk:
                    break
                whole.update(chunk)
                size += len(chunk)
                parts.append(self._stage_part(chunk, staging, staged))
                if progress is not None:
                    progress(len(chunk))
            for part, staged_path in staged.items():
                target = self.part_path(part)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged_path, target)
        finally:
            if path is not None:
                stream.close()
            shutil.rmtree(staging, ignore_errors=True)
        sha512 = whole.hexdigest()
        self._write_atomically(self.manifests_dir / sha512, "".join(p + "\n" for p in parts).encode("ascii"))
        mimetype = mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream"
        values = dict(name=name[:255], mimetype=mimetype[:255], filesize=size, comment=comment, sha512=sha512,
                      shortsha512=sha512[:6], entities_id=entities_id, is_recursive=int(is_recursive))
        for attempt in (1, 2):
            try:
                file_id, added = _register(engine, values)
                break
            except DBAPIError as error:
                # Two first adds of one file in one entity: InnoDB may pick one as a deadlock
                # victim (both held gap locks); its second look finds the other's row.
                if attempt == 2 or not _is_deadlock(error):
                    raise
        return StoredFile(file_id, name, sha512, size, tuple(parts), added=added)

    def rename(self, engine: Engine, file_id: int, name: str) -> None:
        with engine.begin() as conn:
            conn.execute(update(deployfiles).where(deployfiles.c.id == file_id)
                         .values(name=name[:255], date_mod=local_now()))

    def _stage_part(self, chunk: bytes, staging: Path, staged: dict[str, Path]) -> str:
        # mtime=0: the same content always gives the same bytes, hence the same part name.
        packed = gzip.compress(chunk, compresslevel=6, mtime=0)
        part = hashlib.sha512(packed).hexdigest()
        if part not in staged and not self.part_path(part).is_file():
            staged[part] = staging / part
            staged[part].write_bytes(packed)
            os.chmod(staged[part], 0o644)
        return part

    def _staging_root(self) -> Path:
        # Inside the repository's folder: on its file system, so parts move in with a rename.
        root = self.root / "files" / ".staging"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _sweep_staging(self, older_than: float = STALE_STAGING_SECONDS) -> None:
        root = self.root / "files" / ".staging"
        if not root.is_dir():
            return
        limit = time.time() - older_than
        for folder in root.iterdir():
            with contextlib.suppress(OSError):
                if folder.stat().st_mtime < limit:
                    shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _write_atomically(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".part-", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _register(engine: Engine, values: dict) -> tuple[int, bool]:
    """(id, added): the file's existing row in its entity, else a new one."""
    with engine.begin() as conn:
        existing = conn.execute(select(deployfiles.c.id).where(
            deployfiles.c.sha512 == values["sha512"], deployfiles.c.entities_id == values["entities_id"])
            .order_by(deployfiles.c.id).limit(1).with_for_update()).scalar()
        if existing is not None:
            return int(existing), False
        file_id = conn.execute(insert(deployfiles).values(**values, date_mod=local_now())).inserted_primary_key[0]
        return int(file_id), True


def _is_deadlock(error: DBAPIError) -> bool:
    code = getattr(error.orig, "args", (None,))[0] if error.orig is not None else None
    return code in (1213, 1205)  # ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes: a pipe or socket may return less per read before its end."""
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)
