"""Streaming SHA-256: constant memory whatever the size of the file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1024 * 1024


def sha256_stream(stream: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> tuple[str, int]:
    """(hex digest, size) of everything left in ``stream``, read in fixed-size chunks."""
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(chunk_bytes)
    view = memoryview(buffer)
    readinto = getattr(stream, "readinto", None)
    while True:
        if readinto is not None:
            count = readinto(view)
            if not count:
                break
            digest.update(view[:count])
        else:
            chunk = stream.read(chunk_bytes)
            if not chunk:
                break
            count = len(chunk)
            digest.update(chunk)
        size += count
    return digest.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as handle:
        return sha256_stream(handle)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
