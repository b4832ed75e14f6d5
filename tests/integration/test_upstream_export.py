"""Exports gathered from the upstream services (data_source=upstream) through the real pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from exportcenter.config import Settings, UpstreamSettings
from exportcenter.db.engine import transaction
from exportcenter.errors import DataNotFoundError, InvalidInputError
from exportcenter.pipeline.request import parse_request
from exportcenter.pipeline.run import create_export, run_export
from exportcenter.runtime import Runtime
from tests.integration.test_upstream_sources import DATA, FakeStellaOps, doc, serve_scan

SCAN = DATA / "scans" / "trivy_json_alpine-310.json"


@pytest.fixture()
def upstream() -> Iterator[FakeStellaOps]:
    fake = FakeStellaOps()
    yield fake
    fake.close()


@pytest.fixture()
def runtime(tmp_path: Path, upstream: FakeStellaOps) -> Iterator[Runtime]:
    settings = Settings(home=tmp_path / "home", data_source="upstream", upstream=UpstreamSettings(
        scanner_url=upstream.url, policy_url=upstream.url, vexlens_url=upstream.url, sbom_url=upstream.url,
        token="t", timeout_seconds=2, max_attempts=1))
    rt = Runtime.open(settings)
    yield rt
    rt.close()


def submit(runtime: Runtime, scan_ids: list[str], fmt: str = "json") -> str:
    request = parse_request({"type": "scan_report", "format": fmt, "scope": {"scan_ids": scan_ids}})
    with transaction(runtime.sessions) as session:
        return create_export(runtime, session, tenant="acme", request=request, requested_by="test").id


def test_export_from_upstream_matches_the_real_scan(runtime: Runtime, upstream: FakeStellaOps) -> None:
    serve_scan(upstream, "scan-a", SCAN, "trivy-json")
    export_id = submit(runtime, ["scan-a"])
    row = run_export(runtime, export_id)
    assert row is not None and row.status == "completed", row and row.error
    report = orjson.loads(runtime.store.open_read(f"{row.storage_prefix}/report.json").read())
    raw = doc(SCAN)
    expected = {v["VulnerabilityID"] for r in raw["Results"] for v in r.get("Vulnerabilities") or []}
    assert {f["vulnerability_id"] for f in report["findings"]} == expected
    assert len(report["findings"]) == sum(len(r.get("Vulnerabilities") or []) for r in raw["Results"])
    assert "vexlens service has no VEX for scan scan-a" in row.warnings
    assert "policy service has no verdicts for scan scan-a" in row.warnings


def test_unknown_scan_is_404_at_request_time(runtime: Runtime) -> None:
    with pytest.raises(DataNotFoundError) as caught:
        submit(runtime, ["nope"])
    assert caught.value.http_status == 404
    assert caught.value.message.startswith("scanner service has no scan nope")


def test_scope_without_scan_ids_is_refused(runtime: Runtime) -> None:
    request = parse_request({"type": "scan_report", "format": "json", "scope": {"image_refs": ["alpine:3.10"]}})
    with transaction(runtime.sessions) as session, pytest.raises(InvalidInputError) as caught:
        create_export(runtime, session, tenant="acme", request=request, requested_by="test")
    assert "select scans by scope.scan_ids" in caught.value.message


def test_scan_gone_at_gather_time_fails_the_export_naming_the_source(runtime: Runtime,
                                                                      upstream: FakeStellaOps) -> None:
    serve_scan(upstream, "scan-b", SCAN, "trivy-json")
    export_id = submit(runtime, ["scan-b"])
    upstream.routes.pop("/internal/scans/scan-b")
    row = run_export(runtime, export_id)
    assert row is not None and row.status == "failed" and row.attempts == 1
    assert row.error_code == "data_not_found"
    assert row.error is not None and row.error.startswith("scanner service has no scan scan-b")


def test_upstream_outage_requeues_the_export_for_a_retry(runtime: Runtime, upstream: FakeStellaOps) -> None:
    serve_scan(upstream, "scan-c", SCAN, "trivy-json")
    export_id = submit(runtime, ["scan-c"])
    upstream.routes["/internal/scans/scan-c"] = [(503, b"maintenance", 0.0)]
    row = run_export(runtime, export_id)
    assert row is not None and row.status == "queued" and row.next_attempt_at is not None
    assert row.error == "scanner service failed for scan scan-c after 1 attempts: HTTP 503 maintenance"


def test_upstream_queries_are_spans_under_data_gather(runtime: Runtime, upstream: FakeStellaOps) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from exportcenter.observability import tracing

    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    tracing.add_span_processor(processor)
    try:
        serve_scan(upstream, "scan-a", SCAN, "trivy-json")
        row = run_export(runtime, submit(runtime, ["scan-a"]))
        assert row is not None and row.status == "completed"
    finally:
        tracing.remove_span_processor(processor)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    gather_span = spans["data-gather"]
    for name in ("scanner-query", "policy-query", "vexlens-query"):
        assert spans[name].parent is not None and spans[name].parent.span_id == gather_span.context.span_id
        assert spans[name].attributes is not None and spans[name].attributes["source"] == "upstream"
