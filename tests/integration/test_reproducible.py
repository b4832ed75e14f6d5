"""Same input + SOURCE_DATE_EPOCH -> byte-identical artifacts, in every format, whatever the input order."""

from __future__ import annotations

import hashlib
import io
import random
from datetime import UTC, datetime

import pytest

from exportcenter.config import Settings
from exportcenter.model import SUPPORTED_FORMATS, ExportFormat, ExportOptions, ExportScope, ExportType
from exportcenter.pipeline.registry import renderer_for
from exportcenter.pipeline.snapshot import build_snapshot
from exportcenter.policy import builtin_policy_sets
from exportcenter.renderers.base import RenderContext
from exportcenter.sources.local.sniff import parse_document
from tests.paths import SCANS, VEX

FILES = [SCANS / "trivy_json_juice-shop-v10.2.0.json", SCANS / "grype_json_issue-9618-strimzi.json",
         SCANS / "trivy_json_misconfig-and-secrets.json", SCANS / "grype_sarif_nginx.sarif.json",
         VEX / "openvex_trivy-project.openvex.json"]
PAIRS = [(t, f) for t, fmts in SUPPORTED_FORMATS.items() for f in fmts
         if t is not ExportType.EVIDENCE_BUNDLE and f is not ExportFormat.PDF]


def _render_all(order_seed: int, epoch: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    files = list(FILES)
    random.Random(order_seed).shuffle(files)
    ingested = datetime(2026, 1, 1, tzinfo=UTC)
    docs = [parse_document(p.read_bytes(), name=p.name, tenant="acme", ingested_at=ingested) for p in files]
    statements = [s for d in docs for s in d.vex_statements]
    scans = [d for d in docs if d.scan is not None]
    guard = [d for d in docs if d.source_format == "sarif"]
    digests = {}
    for export_type, export_format in PAIRS:
        chosen = guard if export_type is ExportType.AI_CODE_GUARD_REPORT else scans
        snapshot = build_snapshot(
            export_id="exp-reproducible", tenant="acme", export_type=export_type.value,
            export_format=export_format.value, documents=chosen, vex_statements=statements,
            policy_sets={"default": builtin_policy_sets()["default"]}, scope=ExportScope(),
            options=ExportOptions(custom_fields=(("ticket", "SEC-1"),)),
            generated_at=datetime.fromtimestamp(int(epoch), UTC))
        out = io.BytesIO()
        renderer_for(export_type, export_format)(snapshot, out, RenderContext(settings=Settings()))
        digests[f"{export_type.value}/{export_format.value}"] = hashlib.sha256(out.getvalue()).hexdigest()
    return digests


def test_shuffled_inputs_give_byte_identical_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    first = _render_all(1, "1767225600", monkeypatch)
    second = _render_all(7, "1767225600", monkeypatch)
    assert first == second
    assert len(first) == len(PAIRS) == 13  # every pair but PDF (below) and evidence (tests/unit/test_sealing*)
    later = _render_all(1, "1767312000", monkeypatch)
    changed = [k for k in first if first[k] != later[k]]
    assert changed, "a different SOURCE_DATE_EPOCH must show in the artifacts' timestamps"


@pytest.mark.chromium
def test_pdf_is_byte_identical_under_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    path = SCANS / "trivy_json_alpine-310.json"
    doc = parse_document(path.read_bytes(), name=path.name, tenant="acme", ingested_at=datetime(2026, 1, 1, tzinfo=UTC))
    outputs = []
    for _ in range(2):
        snapshot = build_snapshot(
            export_id="exp-reproducible", tenant="acme", export_type="scan_report", export_format="pdf",
            documents=[doc], vex_statements=[], policy_sets={"default": builtin_policy_sets()["default"]},
            scope=ExportScope(), options=ExportOptions(), generated_at=datetime.fromtimestamp(1767225600, UTC))
        out = io.BytesIO()
        renderer_for(ExportType.SCAN_REPORT, ExportFormat.PDF)(snapshot, out, RenderContext(settings=Settings()))
        outputs.append(out.getvalue())
    assert outputs[0][:5] == b"%PDF-"
    assert outputs[0] == outputs[1]
