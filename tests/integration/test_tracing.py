"""Traces: the spec's span tree, continued from the API request through the database into the worker,
and out to upstream services as a W3C traceparent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from exportcenter.api.app import create_app
from exportcenter.api.auth import mint_token
from exportcenter.config import get_settings, reset_settings_cache
from exportcenter.observability import tracing
from exportcenter.runtime import Runtime
from tests.integration.conftest import SMALL_SCAN

INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    tracing.add_span_processor(processor)
    yield exporter
    tracing.remove_span_processor(processor)


@pytest.fixture
def api(ec_home: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = get_settings()
    runtime = Runtime.open(settings)
    token = mint_token(settings, tenant="acme", scopes=["export:read", "export:write"])
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": "acme"}
    try:
        with TestClient(create_app(runtime)) as client:
            yield client, headers
    finally:
        runtime.close()


def wait_done(client: TestClient, headers: dict[str, str], export_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body: dict[str, object] = client.get(f"/api/v1/exports/{export_id}", headers=headers).json()
        if body["status"] in ("completed", "failed") and body.get("delivery") is not None:
            return body
        time.sleep(0.05)
    raise AssertionError("export did not finish")


def test_span_tree_from_api_request_to_worker(api: tuple[TestClient, dict[str, str]],
                                              spans: InMemorySpanExporter) -> None:
    client, headers = api
    with open(SMALL_SCAN, "rb") as handle:
        scan_id = client.post("/api/v1/scans", headers=headers,
                              files={"file": (SMALL_SCAN.name, handle)}).json()["ids"]["scan_id"]
    body = {"type": "scan_report", "format": "json", "scope": {"scan_ids": [scan_id]},
            "options": {"include_evidence": True}, "delivery": {"method": "download"}}
    traceparent = f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01"
    export_id = client.post("/api/v1/exports", json=body, headers={**headers, "traceparent": traceparent}).json()[
        "export_id"]
    final = wait_done(client, headers, export_id)
    assert final["status"] == "completed"
    deadline = time.monotonic() + 5
    while not any(s.name == "export-request" for s in spans.get_finished_spans()) and time.monotonic() < deadline:
        time.sleep(0.02)

    trace_spans = [s for s in spans.get_finished_spans() if f"{s.context.trace_id:032x}" == INCOMING_TRACE]
    by_name: dict[str, ReadableSpan] = {}
    for span in trace_spans:
        assert span.name not in by_name, f"{span.name} twice in one trace"
        by_name[span.name] = span

    def parent_of(name: str) -> str | None:
        parent = by_name[name].parent
        if parent is None:
            return None
        if f"{parent.span_id:016x}" == INCOMING_SPAN:
            return "<client>"
        return next(s.name for s in trace_spans if s.context.span_id == parent.span_id)

    assert {name: parent_of(name) for name in by_name} == {
        "POST /api/v1/exports": "<client>",
        "export-request": "POST /api/v1/exports",  # across the API -> database -> worker boundary
        "data-gather": "export-request",
        "policy-query": "data-gather",
        "scanner-query": "data-gather",
        "vexlens-query": "data-gather",
        "template-render": "export-request",
        "evidence-seal": "export-request",
        "artifact-storage": "export-request",
        "delivery": "export-request",
    }
    root = by_name["export-request"].attributes or {}
    artifacts = final["artifacts"]
    assert isinstance(artifacts, list)
    assert dict(root) == {
        "export.id": export_id, "export.tenant": "acme", "export.type": "scan_report", "export.format": "json",
        "export.attempt": 1, "export.outcome": "completed",
        "export.size_bytes": sum(a["size"] for a in artifacts if a["name"] != "manifest.json"),
        "export.findings": 4}
    assert (by_name["data-gather"].attributes or {})["export.findings"] == 4
    assert (by_name["scanner-query"].attributes or {})["scanner.scans"] == 1
    assert (by_name["delivery"].attributes or {})["delivery.outcome"] == "delivered"
    http = by_name["POST /api/v1/exports"].attributes or {}
    assert http["http.route"] == "/api/v1/exports" and http["http.response.status_code"] == 202
    # The worker continues the trace from the context stored with the export (not from a shared thread):
    # the export row carries the request's traceparent. (No timing assertion: the worker may claim the job
    # in the instant between the commit and the end of the request span.)
    from exportcenter.db.models import ExportRow

    runtime = Runtime.open(get_settings())
    with runtime.sessions() as session:
        row = session.get(ExportRow, export_id)
        assert row is not None
        stored = row.traceparent
    runtime.close()
    request_span = by_name["POST /api/v1/exports"].context
    assert stored == f"00-{request_span.trace_id:032x}-{request_span.span_id:016x}-01"


def test_failed_export_marks_the_root_span(ec_home: Path, monkeypatch: pytest.MonkeyPatch,
                                           spans: InMemorySpanExporter) -> None:
    monkeypatch.setenv("EXPORTCENTER_MAX_JOB_ATTEMPTS", "1")
    monkeypatch.setenv("EXPORTCENTER_S3__MAX_ATTEMPTS", "1")
    reset_settings_cache()
    (ec_home / "blobs" / "exports").mkdir(parents=True)
    (ec_home / "blobs" / "exports" / "acme").write_text("a file where the tenant's folder must go")
    settings = get_settings()
    runtime = Runtime.open(settings)
    headers = {"Authorization": "Bearer " + mint_token(settings, tenant="acme", scopes=["export:write", "export:read"]),
               "X-Tenant-Id": "acme"}
    try:
        with TestClient(create_app(runtime)) as client:
            response = client.post("/api/v1/exports", headers=headers, json={
                "type": "audit_log", "format": "csv", "scope": {"date_range": {"start": "-1d", "end": "now"}}})
            assert response.status_code == 202
            export_id = response.json()["export_id"]
            deadline = time.monotonic() + 20
            while client.get(f"/api/v1/exports/{export_id}", headers=headers).json()["status"] != "failed":
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        runtime.close()
    deadline = time.monotonic() + 5
    while not [s for s in spans.get_finished_spans() if s.name == "export-request"] and time.monotonic() < deadline:
        time.sleep(0.02)
    root = next(s for s in spans.get_finished_spans() if s.name == "export-request")
    storage = next(s for s in spans.get_finished_spans() if s.name == "artifact-storage")
    assert root.status.status_code is StatusCode.ERROR and storage.status.status_code is StatusCode.ERROR
    assert dict(root.attributes or {})["export.outcome"] == "failed"
    assert dict(root.attributes or {})["error.type"] == "storage_failure"
    assert storage.parent is not None and storage.parent.span_id == root.context.span_id
    assert not [s for s in spans.get_finished_spans() if s.name == "delivery"]


def test_upstream_calls_carry_traceparent(spans: InMemorySpanExporter) -> None:
    from exportcenter.sources.http.client import UpstreamClient

    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("traceparent"))
        return httpx.Response(200, json={"id": "scan-1"})

    with tracing.span("data-gather") as current, \
            UpstreamClient("scanner", "http://scanner.invalid", transport=httpx.MockTransport(answer)) as upstream:
        upstream.get_json("/internal/scans/scan-1", what="scan", ident="scan-1")
        context = current.get_span_context()
    assert len(seen) == 1 and seen[0] is not None
    assert seen[0][:-2] == f"00-{context.trace_id:032x}-{context.span_id:016x}-"  # last: the trace flags
