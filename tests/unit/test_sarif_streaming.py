"""The SARIF log is written as it is serialised: the sink's gzip decisions are those of ``fits_gzip`` on the
same bytes, any output stream gets the same log, and results are built only for the entries that stay."""

from __future__ import annotations

import io
import random
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from exportcenter.config import SarifSettings, Settings
from exportcenter.errors import RenderError
from exportcenter.renderers import sarif_findings, sarif_sink
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.sarif import render, render_bytes
from exportcenter.renderers.sarif_limits import estimated_gzip_size, fits_gzip, gzip_size
from exportcenter.renderers.sarif_sink import EARLY_STOP_MIN_BYTES, FarOverLimit, LogSink, SampledEstimate
from tests.unit.test_render_streaming import real_snapshot


@pytest.fixture(scope="module")
def big_log() -> bytes:
    """Real SARIF, repeated past the size (8 MiB) from which the sampled estimate is used."""
    log = render_bytes(real_snapshot("sarif"), RenderContext(Settings()))
    data = log * (8 * 1024 * 1024 // len(log) + 2)
    assert len(data) > 8 * 1024 * 1024
    return data


def pieces(data: bytes, seed: int) -> Iterator[bytes]:
    """``data`` in pieces of random sizes (1 byte to 300 KiB), so that pieces straddle sampled windows."""
    rng = random.Random(seed)
    position = 0
    while position < len(data):
        size = rng.choice((1, 17, 4096, 65_536, 65_537, 300_000))
        yield data[position:position + size]
        position += size


def test_sampled_estimate_of_pieces_is_the_estimate_of_the_whole(big_log: bytes) -> None:
    for seed in (1, 2):
        meter = SampledEstimate()
        for piece in pieces(big_log, seed):
            meter.feed(piece)
        assert meter.length == len(big_log)
        assert meter.estimate() == estimated_gzip_size(big_log)


class WriteOnly(io.RawIOBase):
    """An output that can only be written, like a pipe or a file opened 'wb' without read access."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: Any) -> int:
        self.data += chunk
        return len(chunk)


@pytest.mark.parametrize("direct", [True, False])
def test_sink_decides_as_fits_gzip_on_the_bytes_written(big_log: bytes, direct: bool) -> None:
    real, estimate = gzip_size(big_log), estimated_gzip_size(big_log)
    quick = len(zlib.compress(big_log, 1)) + 12
    out: Any = io.BytesIO(b"prefix") if direct else WriteOnly()
    if direct:
        out.seek(0, 2)
    sink = LogSink(out, 10 * 1024 * 1024)
    for piece in pieces(big_log, 3):
        sink.write(piece)
    assert sink.compressed_size(6) == real and sink.compressed_size(1) == quick
    # every branch: under the raw size, estimate fits, near the limit (level 1, level 6), far over it
    for limit in (len(big_log) + 64, estimate, estimate - 1, quick, quick - 1, real - 1, real // 2):
        assert sink.fits(limit) == fits_gzip(big_log, limit), limit
    sink.commit()
    written = out.getvalue() if direct else bytes(out.data)
    assert written == (b"prefix" + big_log if direct else big_log)


@pytest.mark.parametrize("limit_kind", ["far", "near"])
def test_sizes_computed_alongside_are_the_real_ones(big_log: bytes, limit_kind: str) -> None:
    real, quick = gzip_size(big_log), len(zlib.compress(big_log, 1)) + 12
    # far over the limit (the estimate passes 1.25x it, not 2x, as the log is written), or a limit the
    # estimate passes only at the end so that the thread starts late and reads back what came before
    estimate = estimated_gzip_size(big_log)
    limit = int(estimate / 1.5) if limit_kind == "far" else int(estimate / 1.25) - 1
    sink = LogSink(WriteOnly(), limit)  # type: ignore[arg-type]
    for piece in pieces(big_log, 4):
        sink.write(piece)
    assert sink.sizing_alongside
    expected = fits_gzip(big_log, limit)
    assert expected[1] == real and expected[0] is (limit_kind == "near")
    assert sink.fits(limit) == expected
    assert not sink.sizing_alongside
    assert sink.compressed_size(1) == quick and sink.compressed_size(6) == real
    sink.restart()  # a new attempt: nothing left running, sizes start over
    sink.write(b"{}")
    assert sink.fits(limit) == (True, 2)


def test_a_log_far_over_the_limit_is_never_compressed_whole(big_log: bytes) -> None:
    estimate = estimated_gzip_size(big_log)
    limit = estimate // 3  # the estimate passes 2x the limit while the log is written
    sink = LogSink(WriteOnly(), limit)  # type: ignore[arg-type]
    with pytest.raises(FarOverLimit) as stopped:
        for piece in pieces(big_log, 4):
            sink.write(piece)
    assert not sink.sizing_alongside  # the sizing thread is stopped with it
    assert EARLY_STOP_MIN_BYTES <= sink.length < len(big_log)  # the rest is never written
    assert stopped.value.estimate > 2 * limit
    sink.restart()
    sink.write(b"{}")
    assert sink.far_over_estimate(limit) is None and sink.fits(limit) == (True, 2)
    # a log written whole (too short to stop early) reports its estimate only when it is that far over
    short = big_log[: EARLY_STOP_MIN_BYTES // 2]
    whole = LogSink(WriteOnly(), 1024)  # type: ignore[arg-type]
    whole.write(short)
    short_estimate = estimated_gzip_size(short)
    assert whole.far_over_estimate(1024) == short_estimate
    assert whole.far_over_estimate(short_estimate // 2 + 1) is None


def _plain_context() -> RenderContext:
    return RenderContext(Settings())


def _cut_context() -> RenderContext:
    return RenderContext(Settings(sarif=SarifSettings(max_gzip_bytes=40_000, max_results_per_run=400)))


def test_any_output_stream_gets_the_same_log(tmp_path: Path) -> None:
    snapshot = real_snapshot("sarif")
    for make_context in (_plain_context, _cut_context):
        expected_ctx = make_context()
        expected = render_bytes(snapshot, expected_ctx)
        target = tmp_path / "log.sarif"
        with target.open("wb") as handle:  # what the pipeline passes: not readable
            file_ctx = make_context()
            render(snapshot, handle, file_ctx)
        assert target.read_bytes() == expected and file_ctx.warnings == expected_ctx.warnings
        write_only = WriteOnly()
        render(snapshot, write_only, make_context())  # type: ignore[arg-type]
        assert bytes(write_only.data) == expected
        appended = io.BytesIO(b"before")
        appended.seek(0, 2)
        render(snapshot, appended, make_context())
        assert appended.getvalue() == b"before" + expected
    assert any("gzipped is over the limit" in warning for warning in expected_ctx.warnings)


def test_a_log_that_cannot_fit_leaves_the_output_as_it_was(tmp_path: Path) -> None:
    # every run carries the custom fields: 3 KB of random text cannot be gzipped under 1 KiB
    rng = random.Random(5)
    noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(3000))
    snapshot = real_snapshot("sarif")
    snapshot = replace(snapshot, options=replace(snapshot.options, custom_fields=(("noise", noise),)))
    ctx = RenderContext(Settings(sarif=SarifSettings(max_gzip_bytes=1024)))
    out = io.BytesIO(b"kept")
    out.seek(0, 2)
    with pytest.raises(RenderError, match="even after cutting results"):
        render(snapshot, out, ctx)
    assert out.getvalue() == b"kept"
    target = tmp_path / "log.sarif"
    with target.open("wb") as handle, pytest.raises(RenderError):
        render(snapshot, handle, RenderContext(Settings(sarif=SarifSettings(max_gzip_bytes=1024))))
    assert target.read_bytes() == b""


def test_results_are_built_only_for_the_entries_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    original = sarif_findings.FindingResults.result

    def counting(self: sarif_findings.FindingResults, entry: Any, rule_index: int) -> dict[str, Any]:
        built.append(entry.fingerprint)
        return original(self, entry, rule_index)

    monkeypatch.setattr(sarif_findings.FindingResults, "result", counting)
    snapshot = real_snapshot("sarif")
    ctx = RenderContext(Settings(sarif=SarifSettings(max_results_per_run=25)))
    log = render_bytes(snapshot, ctx)
    kept = log.count(b'"ruleIndex"')
    assert len(built) == kept and len(set(built)) == kept
    assert kept <= 25 * len(snapshot.scans) < len(snapshot.findings) // 10


def test_a_render_far_over_the_limit_stops_writing_and_cuts_on_the_estimate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip
    import json

    snapshot = real_snapshot("sarif")
    # the real threshold is 8 MiB written; a lower one lets a real multi-scan log stop early
    monkeypatch.setattr(sarif_sink, "EARLY_STOP_MIN_BYTES", 256 * 1024)
    stops: list[int] = []
    original_write = LogSink.write

    def counting_write(self: LogSink, data: bytes) -> None:
        try:
            original_write(self, data)
        except FarOverLimit:
            stops.append(self.length)
            raise

    monkeypatch.setattr(LogSink, "write", counting_write)
    ctx = RenderContext(Settings(sarif=SarifSettings(max_gzip_bytes=20_000)))
    data = render_bytes(snapshot, ctx)
    assert stops and stops[0] < len(render_bytes(snapshot, RenderContext(Settings())))
    assert len(gzip.compress(data, 6)) <= 20_000
    assert any("by the sampled estimate of the first" in warning for warning in ctx.warnings)
    again = RenderContext(Settings(sarif=SarifSettings(max_gzip_bytes=20_000)))
    assert render_bytes(snapshot, again) == data and again.warnings == ctx.warnings
    log = json.loads(data)
    dropped = sum(run["properties"]["exportcenter/truncated"]["by_reason"]["max_gzip_bytes"]["dropped"]
                  for run in log["runs"] if "exportcenter/truncated" in run["properties"])
    assert dropped > 0 and sum(len(run["results"]) for run in log["runs"]) > 0
