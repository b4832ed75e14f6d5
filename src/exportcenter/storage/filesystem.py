"""Filesystem artifact store: the embedded default."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from exportcenter.errors import StorageError


class FilesystemArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._incoming = self.root / ".incoming"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()) or key.startswith((".", "/")):
            raise StorageError(f"refused key outside the store: {key!r}")
        return path

    def publish(self, prefix: str, files: Sequence[tuple[str, Path]]) -> None:
        """Copy into a private folder on the same filesystem, then rename it into place in one step."""
        final = self._path(prefix)
        work = self._incoming / uuid.uuid4().hex
        try:
            work.mkdir(parents=True)
            for name, source in files:
                shutil.copyfile(source, work / name)
                with open(work / name, "rb") as handle:
                    os.fsync(handle.fileno())
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():  # a retried job replaces its earlier set whole
                trash = self._incoming / f"old-{uuid.uuid4().hex}"
                os.replace(final, trash)
                shutil.rmtree(trash, ignore_errors=True)
            os.replace(work, final)
        except OSError as exc:
            shutil.rmtree(work, ignore_errors=True)
            raise StorageError(f"could not store artifacts under {prefix}: {exc.strerror or exc}") from exc

    def open_read(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise StorageError(f"artifact not found: {key}") from exc

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> int:
        path = self._path(prefix)
        if not path.exists():
            return 0
        count = sum(1 for p in path.rglob("*") if p.is_file())
        shutil.rmtree(path)
        return count

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and ".incoming" not in path.parts:
                yield path.relative_to(self.root).as_posix()

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def presigned_get(self, key: str, expires_in: int) -> str | None:
        return None
