"""Write one top-level JSON object member by member, byte-identical to ``jsonio.dumps(whole)``.

``jsonio.dumps`` writes orjson's two-space indentation with sorted keys and a final newline. A member's
value serialised on its own is the same text one level shallower, so every raw newline of it (orjson
escapes the newlines inside strings, so every raw one is structural) gets two more spaces. A list can be
given as chunks: each chunk is serialised alone and its items are spliced in, so the whole list never
exists at once, as objects or as bytes.

While writing, the compact form of the members (``jsonio.dumps(whole, indent=False)``, as bytes) goes
into a hash, so a content digest is known once the last member is written without serialising twice.

One member can be deferred: a fixed-width string whose value depends on that digest (the CycloneDX
serial number sorts before ``vulnerabilities``). On a seekable stream it is written as spaces and
overwritten in place at the end; on any other stream what follows it waits in a spooled temporary file
(memory up to 4 MB, then disk) and is copied out after it.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable
from typing import Any, BinaryIO

from exportcenter.errors import RenderError
from exportcenter.util import jsonio

SPOOL_MEMORY_BYTES = 4 * 1024 * 1024


def _indented(value: Any) -> bytes:
    """``value`` as it appears as a member of the top-level object (without the final newline)."""
    return jsonio.dumps(value)[:-1].replace(b"\n", b"\n  ")


def _compact(value: Any) -> bytes:
    return jsonio.dumps(value, indent=False)


class StreamedObject:
    """Members must be added in sorted key order (as ``jsonio.dumps`` sorts them); ``close`` ends the
    object. ``digest`` is the sha256 of the compact object without the deferred member."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._sink: BinaryIO = out
        self._hash = hashlib.sha256(b"{")
        self._hashed_members = 0
        self._members = 0
        self._last_key: str | None = None
        self._deferred_at: int | None = None
        self._deferred_width = 0
        self._spool: BinaryIO | None = None

    def _start(self, key: str) -> bytes:
        if self._last_key is not None and key <= self._last_key:
            raise RenderError(f"JSON members out of order: {key!r} after {self._last_key!r}")
        self._last_key = key
        opening = b",\n  " if self._members else b"{\n  "
        self._members += 1
        return opening + _compact(key) + b": "

    def _hash_member(self, key: str, compact_value: bytes) -> None:
        self._hash.update((b"," if self._hashed_members else b"") + _compact(key) + b":" + compact_value)
        self._hashed_members += 1

    def member(self, key: str, value: Any) -> None:
        """A member written whole (small values)."""
        self._sink.write(self._start(key) + _indented(value))
        self._hash_member(key, _compact(value))

    def list_member(self, key: str, chunks: Iterable[list[Any]]) -> None:
        """A list member whose items come chunk by chunk; each chunk is serialised and dropped."""
        self._sink.write(self._start(key) + b"[")
        self._hash.update((b"," if self._hashed_members else b"") + _compact(key) + b":[")
        self._hashed_members += 1
        written = 0
        for chunk in chunks:
            if not chunk:
                continue
            # '[\n  item,\n  item\n]\n' -> 'item,\n    item', one level deeper, without the brackets
            items = jsonio.dumps(chunk)[4:-3].replace(b"\n", b"\n  ")
            self._sink.write((b",\n    " if written else b"\n    ") + items)
            compact = _compact(chunk)
            self._hash.update((b"," if written else b"") + compact[1:-1])
            written += 1
        self._sink.write(b"\n  ]" if written else b"]")
        self._hash.update(b"]")

    def defer_string(self, key: str, width: int) -> None:
        """Reserve a string member of exactly ``width`` ASCII characters that need no escaping; it is
        left out of the digest and given by ``close``."""
        if self._deferred_at is not None:
            raise RenderError("only one JSON member can be deferred")
        self._out.write(self._start(key) + b'"')
        self._deferred_width = width
        if self._seekable():
            self._deferred_at = self._out.tell()
            self._out.write(b" " * width + b'"')
        else:
            self._deferred_at = -1
            spool: Any = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
            self._spool = self._sink = spool

    def _seekable(self) -> bool:
        try:
            # append mode writes at the end whatever the position, so it cannot be patched in place
            return self._out.seekable() and "a" not in getattr(self._out, "mode", "")
        except (AttributeError, OSError, ValueError):
            return False

    @property
    def digest(self) -> str:
        """Hex sha256 of the compact object, without the deferred member."""
        final = self._hash.copy()
        final.update(b"}")
        return final.hexdigest()

    def close(self, deferred: str | None = None) -> None:
        """End the object; ``deferred`` is the deferred member's value (required when one was reserved)."""
        self._sink.write(b"\n}\n" if self._members else b"{}\n")
        if self._deferred_at is None:
            return
        value = (deferred or "").encode("ascii")
        if len(value) != self._deferred_width or _compact(deferred) != b'"' + value + b'"':
            raise RenderError(f"deferred JSON value {deferred!r} does not fit its {self._deferred_width} characters")
        if self._spool is None:
            end = self._out.tell()
            self._out.seek(self._deferred_at)
            self._out.write(value)
            self._out.seek(end)
            return
        self._out.write(value + b'"')
        self._spool.seek(0)
        shutil.copyfileobj(self._spool, self._out, 1024 * 1024)
        self._spool.close()
