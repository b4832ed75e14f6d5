"""The artifact store contract and the spec's key layout."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol


def export_prefix(tenant: str, created_at: datetime, export_id: str) -> str:
    """``exports/{tenant}/{yyyy}/{mm}/{export_id}`` (spec step 5)."""
    return f"exports/{tenant}/{created_at:%Y}/{created_at:%m}/{export_id}"


class ArtifactStore(Protocol):
    """Artifacts are rendered to a local staging folder first, then published all at once.

    ``publish`` makes the whole set visible only when it is complete (manifest.json last); a set that
    was already published under the same prefix (a retried job) is replaced, never merged.
    """

    def publish(self, prefix: str, files: Sequence[tuple[str, Path]]) -> None: ...

    def open_read(self, key: str) -> BinaryIO: ...

    def size(self, key: str) -> int: ...

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> int: ...

    def list_keys(self, prefix: str) -> Iterator[str]: ...

    def local_path(self, key: str) -> Path | None:
        """A file path when the store is local (the API serves it itself), else None."""
        ...

    def presigned_get(self, key: str, expires_in: int) -> str | None:
        """A store-native signed URL (S3), or None when the API signs its own URLs."""
        ...
