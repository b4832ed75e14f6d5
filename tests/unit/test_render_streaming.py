"""The fast paths of the JSON and SARIF renderers give the very bytes of the plain paths, on real files."""

from __future__ import annotations

import io
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from exportcenter.config import Settings
from exportcenter.model import ExportOptions, ExportScope, ExportSnapshot
from exportcenter.renderers import json_reports
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.sarif import render_bytes
from exportcenter.renderers.sarif_limits import estimated_gzip_size, fits_gzip, gzip_size
from exportcenter.sources.local.sniff import parse_document
from exportcenter.util import jsonio

SCANS = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "scans"
NAMES = ("grype_json_python-3.7.10-1567matches.json", "trivy_json_juice-shop-v12.10.2.json",
         "trivy_json_misconfig-and-secrets.json")


def real_snapshot(export_format: str) -> ExportSnapshot:
    docs = [parse_document((SCANS / name).read_bytes(), name=name, tenant="default",
                           ingested_at=datetime(2024, 1, 1, tzinfo=UTC)) for name in NAMES]
    return ExportSnapshot(
        export_id="exp-1", tenant="default", export_type="scan_report", export_format=export_format,
        generated_at=datetime(2024, 6, 1, tzinfo=UTC), scope=ExportScope(),
        options=ExportOptions(include_remediation=True, custom_fields=(("ticket", "SEC-42"),)),
        scans=tuple(doc.scan for doc in docs if doc.scan is not None),
        findings=tuple(f for doc in docs for f in doc.findings))


def streamed_and_plain(snapshot: ExportSnapshot) -> tuple[bytes, bytes, RenderContext, RenderContext]:
    streamed_ctx, plain_ctx = RenderContext(Settings()), RenderContext(Settings())
    out = io.BytesIO()
    json_reports.render_scan_report_json(snapshot, out, streamed_ctx)
    plain = io.BytesIO()
    json_reports.write_document(json_reports.scan_report_document(snapshot), plain, plain_ctx)
    return out.getvalue(), plain.getvalue(), streamed_ctx, plain_ctx


def test_streamed_scan_report_is_the_plain_document_byte_for_byte() -> None:
    snapshot = real_snapshot("json")
    assert len(snapshot.findings) > json_reports.FINDINGS_PER_CHUNK  # several chunks
    streamed, plain, streamed_ctx, _ = streamed_and_plain(snapshot)
    assert streamed == plain
    assert streamed == jsonio.dumps(json_reports.scan_report_document(snapshot))
    document = jsonio.loads(streamed)
    assert len(document["findings"]) == len(snapshot.findings)
    assert streamed_ctx.warnings == []


def test_lone_surrogate_in_a_later_chunk_is_replaced_and_warned_about_once() -> None:
    snapshot = real_snapshot("json")
    ordered = sorted(snapshot.findings, key=lambda f: (f.scan_id, -f.severity.rank, f.vuln_id, f.id))
    late = ordered[json_reports.FINDINGS_PER_CHUNK + 3]
    findings = tuple(replace(f, title="bad \ud83d text") if f is late else f for f in snapshot.findings)
    streamed, plain, streamed_ctx, plain_ctx = streamed_and_plain(replace(snapshot, findings=findings))
    assert streamed == plain
    assert "bad \ufffd text".encode() in streamed
    assert len(streamed_ctx.warnings) == 1 and streamed_ctx.warnings == plain_ctx.warnings


def test_scan_report_without_findings_is_still_complete() -> None:
    snapshot = replace(real_snapshot("json"), findings=())
    streamed, plain, _, _ = streamed_and_plain(snapshot)
    assert streamed == plain and jsonio.loads(streamed)["findings"] == []


def test_sampled_gzip_estimate_overestimates_real_sarif() -> None:
    log = render_bytes(real_snapshot("sarif"), RenderContext(Settings()))
    data = log * 5  # big enough to be sampled (the estimate is only used for logs over 8 MB)
    real, estimate = gzip_size(data), estimated_gzip_size(data)
    assert real < estimate < 2 * real
    # when the estimate fits it decides; near the limit the log is really compressed
    assert fits_gzip(data, estimate) == (True, estimate)
    fits, size = fits_gzip(data, estimate - 1)
    assert fits and size <= estimate - 1 and size >= real
    assert fits_gzip(data, real - 1) == (False, real)
    assert fits_gzip(data, real // 2) == (False, real)  # far over: straight to the real size
    assert len(zlib.compress(data, 1)) + 12 >= real
