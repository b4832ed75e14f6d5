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
(only needed near or far over the limit) by compressing what was written, block by block. A log far over
the limit (up to 2x) needs its level-6 size (the cut is proportional to it), the slowest part of a large
render: once the bytes written so far are over the limit by the sampled estimate, a second thread starts
compressing them at levels 6 and 1 (level 1 only while the log is not far over) on the other core, reading
the file itself so that the writer never waits for it (zlib releases the GIL). Once the estimate passes
``FAR_OVER_FACTOR`` times the limit (with at least ``EARLY_STOP_MIN_BYTES`` written), ``write`` raises
``FarOverLimit``: such a log is cut on its estimate, and the rest of it is never written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import zlib
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

from exportcenter.renderers.sarif_limits import (
    FAR_OVER_FACTOR,
    MIN_SAMPLES,
    QUICK_CHECK_CEILING,
    SAMPLE_BLOCK,
    SAMPLE_EVERY,
)

COPY_BLOCK = 1024 * 1024
EARLY_STOP_MIN_BYTES = SAMPLE_BLOCK * SAMPLE_EVERY * MIN_SAMPLES  # enough samples to trust the estimate


class FarOverLimit(Exception):  # a signal to the renderer, always caught there
    """Raised by ``LogSink.write`` once what is written is, by the sampled estimate, more than
    ``FAR_OVER_FACTOR`` times the limit: the rest of that log would be thrown away."""

    def __init__(self, estimate: int) -> None:
        super().__init__(estimate)
        self.estimate = estimate
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

    def running_estimate(self) -> int:
        """The estimate from the windows closed so far, scaled to the length so far."""
        return self._compressed * self.length // max(self._raw, 1) + GZIP_FRAME

    def estimate(self) -> int:
        self._close_window()
        return self._compressed * self.length // max(self._raw, 1) + GZIP_FRAME


class BackgroundGzip:
    """Gzip sizes of a file's bytes from ``start`` at levels 1 and 6, computed in another thread that
    reads the file itself (``os.pread``, which leaves the file position alone) up to the end announced
    by ``advance``. The writer never waits for it (it only flushes and announces how far it wrote); the
    thread catches up when ``finish`` is called. Level 1 is only needed near the limit; once the log is
    far over it, ``drop_quick`` stops that compressor (its size is then None)."""

    def __init__(self, fileno: int, start: int, written: int) -> None:
        self._sizes: dict[int, int] = {}
        self._end = start + written
        self._finished = False
        self._cancelled = False
        self._changed = threading.Condition()
        self._quick_dropped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fileno, start), daemon=True,
                                        name="sarif-gzip-size")
        self._thread.start()

    def _compress(self, compressors: dict[int, Any], sizes: dict[int, int], data: bytes) -> None:
        if 1 in compressors and self._quick_dropped.is_set():
            del compressors[1]
        for level, compressor in compressors.items():
            sizes[level] += len(compressor.compress(data))

    def _next_end(self, position: int) -> int | None:
        """Where the written bytes end once there is more than ``position`` (None: stop, cancelled)."""
        with self._changed:
            while self._end <= position and not self._finished and not self._cancelled:
                self._changed.wait()
            return None if self._cancelled else self._end

    def _run(self, fileno: int, start: int) -> None:
        compressors = {level: zlib.compressobj(level) for level in (1, 6)}
        sizes = dict.fromkeys(compressors, 0)
        position = start
        try:
            while (end := self._next_end(position)) is not None:
                if position >= end:  # finished and caught up
                    self._sizes = {level: sizes[level] + len(compressor.flush()) + GZIP_FRAME
                                   for level, compressor in compressors.items()}
                    return
                while position < end:
                    block = os.pread(fileno, min(COPY_BLOCK, end - position), position)
                    if not block:
                        raise OSError("the log file is shorter than what was written to it")
                    self._compress(compressors, sizes, block)
                    position += len(block)
        except OSError:
            return  # no sizes: the caller compresses the written bytes itself

    def advance(self, written: int) -> None:
        """The file now holds ``written`` bytes from ``start`` (flushed)."""
        with self._changed:
            self._end += written
            self._changed.notify()

    def drop_quick(self) -> None:
        self._quick_dropped.set()

    def finish(self, cancel: bool = False) -> dict[int, int]:
        """{level: size} once everything written is compressed (empty when the file could not be read);
        with ``cancel``, the thread stops compressing and nothing is returned."""
        with self._changed:
            self._finished = True
            self._cancelled = cancel
            self._changed.notify()
        self._thread.join()
        return {} if cancel else self._sizes


def _usable_directly(out: BinaryIO) -> bool:
    try:
        return out.seekable() and out.readable() and out.tell() >= 0
    except (AttributeError, OSError, ValueError):
        return False


def _fileno(stream: IO[bytes]) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


class LogSink:
    """The log's bytes as they are written, with their length and sampled gzip estimate."""

    def __init__(self, out: BinaryIO, max_gzip_bytes: int) -> None:
        self._out = out
        self._direct = _usable_directly(out)
        self._stream: IO[bytes] = out if self._direct else tempfile.TemporaryFile()  # noqa: SIM115 (closed by commit/abandon)
        self._start = out.tell() if self._direct else 0
        self._meter = SampledEstimate()
        # the real sizes are computed alongside once the estimate of the log so far is over the limit
        self._limit = max_gzip_bytes
        self._background: BackgroundGzip | None = None
        self._measured: dict[int, int] = {}
        self._fileno = _fileno(self._stream)

    @property
    def length(self) -> int:
        return self._meter.length

    @property
    def sizing_alongside(self) -> bool:
        """Whether the level-6 size is being computed in another thread while the log is written."""
        return self._background is not None

    def restart(self) -> None:
        """Forget what was written: the next log starts where the first one did."""
        self._stop_background()
        self._measured = {}
        self._stream.seek(self._start)
        self._stream.truncate()
        self._meter = SampledEstimate()

    def write(self, data: bytes) -> None:
        self._stream.write(data)
        meter = self._meter
        meter.feed(data)
        background = self._background
        if meter.length >= EARLY_STOP_MIN_BYTES and meter.running_estimate() > self._limit * FAR_OVER_FACTOR:
            self._stop_background()
            raise FarOverLimit(meter.running_estimate())
        if background is not None:
            self._stream.flush()  # the thread reads the file itself
            background.advance(len(data))
            if meter.running_estimate() > self._limit * QUICK_CHECK_CEILING:
                background.drop_quick()  # far over: only the level-6 size will be asked for
        elif (self._fileno is not None and meter.length >= SAMPLE_BLOCK * SAMPLE_EVERY * MIN_SAMPLES
              and meter.running_estimate() > self._limit):
            self._stream.flush()  # the thread reads what is written so far from the file itself
            self._background = BackgroundGzip(self._fileno, self._start, meter.length)

    def _stop_background(self, cancel: bool = True) -> None:
        background, self._background = self._background, None
        if background is not None:
            self._measured = background.finish(cancel)

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
        if self._background is not None:
            self._stop_background(cancel=False)
        if level in self._measured:
            return self._measured[level]
        compressor = zlib.compressobj(level)
        size = sum(len(compressor.compress(block)) for block in self._written())
        return size + len(compressor.flush()) + GZIP_FRAME

    def far_over_estimate(self, max_gzip_bytes: int) -> int | None:
        """The sampled estimate of what was written when it is more than ``FAR_OVER_FACTOR`` times
        ``max_gzip_bytes`` (nothing is compressed beyond the samples), else None."""
        if self._meter.length + 64 <= max_gzip_bytes:
            return None
        estimate = self._meter.estimate()
        return estimate if estimate > max_gzip_bytes * FAR_OVER_FACTOR else None

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
        self._stop_background()
        if self._direct:
            return
        self._stream.seek(0)
        shutil.copyfileobj(self._stream, self._out, COPY_BLOCK)
        self._stream.close()

    def abandon(self) -> None:
        """No log after all (an error): leave ``out`` as it was found."""
        self._stop_background()
        if self._direct:
            self.restart()
        else:
            self._stream.close()
