"""Where the SARIF log is written while the renderer finds out whether it fits GitHub's gzip limit.

The log is written as it is serialised, run by run and a thousand results at a time, so that it is never
held in memory. Whether it fits under ``max_gzip_bytes`` is only known once all of it is written; when it
does not, results are cut and the log is written again. So the sink must be able to start over and to
read back what it wrote (to compress it when the sampled estimate cannot decide):

- an ``out`` that is seekable and readable (a ``BytesIO``, a file opened ``w+b``) is written directly and
  truncated back to where it started when the log is written again;
- any other ``out`` (a file opened ``wb``, a pipe) gets the log from a temporary file, copied to it in
  1 MiB blocks once the log is final.

``LogSink.fits`` takes the decisions of ``sarif_limits.fits_gzip`` on the bytes written, with the same
sizes: the length and the sampled estimate are measured while writing, the level-1 and level-6 sizes
(only needed near or far over the limit) by compressing what was written, block by block.
"""

from __future__ import annotations

import shutil
import tempfile
import zlib
from collections.abc import Iterator
from typing import IO, BinaryIO

from exportcenter.renderers.sarif_limits import MIN_SAMPLES, QUICK_CHECK_CEILING, SAMPLE_BLOCK, SAMPLE_EVERY

COPY_BLOCK = 1024 * 1024
GZIP_FRAME = 12  # gzip's header and trailer beyond zlib's, as ``sarif_limits.gzip_size`` counts them


class SampledEstimate:
    """``sarif_limits.estimated_gzip_size`` of a byte stream fed in pieces: the bytes of every sampled
    window (``SAMPLE_BLOCK`` bytes at the start of each ``SAMPLE_BLOCK * SAMPLE_EVERY``) are gathered and
    compressed on their own at level 1, wherever the pieces happen to start and end."""

    def __init__(self) -> None:
        self.length = 0
        self._raw = 0
        self._compressed = 0
        self._window = bytearray()

    def feed(self, data: bytes) -> None:
        stride = SAMPLE_BLOCK * SAMPLE_EVERY
        base = self.length
        position, end = base, base + len(data)
        while position < end:
            offset = position % stride
            if offset >= SAMPLE_BLOCK:
                position += stride - offset  # skip to the next sampled window
                continue
            take = min(SAMPLE_BLOCK - offset, end - position)
            self._window += data[position - base:position - base + take]
            position += take
            if len(self._window) == SAMPLE_BLOCK:
                self._close_window()
        self.length = end

    def _close_window(self) -> None:
        if self._window:
            self._raw += len(self._window)
            self._compressed += len(zlib.compress(self._window, 1))
            self._window = bytearray()

    def estimate(self) -> int:
        self._close_window()
        return self._compressed * self.length // max(self._raw, 1) + GZIP_FRAME


def _usable_directly(out: BinaryIO) -> bool:
    try:
        return out.seekable() and out.readable() and out.tell() >= 0
    except (AttributeError, OSError, ValueError):
        return False


class LogSink:
    """The log's bytes as they are written, with their length and sampled gzip estimate."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._direct = _usable_directly(out)
        self._stream: IO[bytes] = out if self._direct else tempfile.TemporaryFile()  # noqa: SIM115 (closed by commit/abandon)
        self._start = out.tell() if self._direct else 0
        self._meter = SampledEstimate()

    @property
    def length(self) -> int:
        return self._meter.length

    def restart(self) -> None:
        """Forget what was written: the next log starts where the first one did."""
        self._stream.seek(self._start)
        self._stream.truncate()
        self._meter = SampledEstimate()

    def write(self, data: bytes) -> None:
        self._stream.write(data)
        self._meter.feed(data)

    def _written(self) -> Iterator[bytes]:
        self._stream.seek(self._start)
        left = self._meter.length
        try:
            while left > 0:
                block = self._stream.read(min(COPY_BLOCK, left))
                if not block:
                    break
                left -= len(block)
                yield block
        finally:
            self._stream.seek(self._start + self._meter.length)

    def compressed_size(self, level: int) -> int:
        """The gzip size of what was written, compressed at ``level`` (as ``zlib.compress`` would)."""
        compressor = zlib.compressobj(level)
        size = sum(len(compressor.compress(block)) for block in self._written())
        return size + len(compressor.flush()) + GZIP_FRAME

    def fits(self, max_gzip_bytes: int) -> tuple[bool, int]:
        """``sarif_limits.fits_gzip(written bytes, max_gzip_bytes)``, without holding the bytes."""
        length = self._meter.length
        if length + 64 <= max_gzip_bytes:
            return True, length
        if length >= SAMPLE_BLOCK * SAMPLE_EVERY * MIN_SAMPLES:
            estimate = self._meter.estimate()
            if estimate <= max_gzip_bytes:
                return True, estimate
            if estimate > max_gzip_bytes * QUICK_CHECK_CEILING:
                size = self.compressed_size(6)
                return size <= max_gzip_bytes, size
        quick = self.compressed_size(1)
        if quick <= max_gzip_bytes:
            return True, quick
        size = self.compressed_size(6)
        return size <= max_gzip_bytes, size

    def commit(self) -> None:
        """The log is final: copy it to ``out`` when it went to a temporary file."""
        if self._direct:
            return
        self._stream.seek(0)
        shutil.copyfileobj(self._stream, self._out, COPY_BLOCK)
        self._stream.close()

    def abandon(self) -> None:
        """No log after all (an error): leave ``out`` as it was found."""
        if self._direct:
            self.restart()
        else:
            self._stream.close()
