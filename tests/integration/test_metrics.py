"""/metrics of a real server after a known set of exports: exact names, types, labels and counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import SMALL_SCAN, Server, export_body, start_server, upload, wait_status

EXPECTED_FAMILIES = {
    "export_requests": ("counter", {"type", "format"}),
    "export_duration_seconds": ("histogram", {"type", "format"}),
    "export_size_bytes": ("histogram", {"type", "format"}),
    "export_failures": ("counter", {"type", "reason"}),
    "export_delivery_attempts": ("counter", {"method", "outcome"}),
    "export_delivery_failures": ("counter", {"method"}),
    "export_storage_retries": ("counter", set()),
    "export_pdf_fallbacks": ("counter", {"reason"}),
    "export_jobs": ("gauge", {"state"}),
    "export_queue_depth": ("gauge", set()),
    "export_queue_oldest_age_seconds": ("gauge", set()),
}


@pytest.fixture(scope="module")
def metrics_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("metrics")
    # Tenant "broken": a plain file where its storage folder must go, so its exports fail in the store
    # stage (after one storage retry); other tenants store normally.
    (home / "blobs" / "exports").mkdir(parents=True)
    (home / "blobs" / "exports" / "broken").write_text("not a folder")
    yield from start_server(home, max_job_attempts="1", s3__max_attempts="2")


def scrape(server: Server) -> dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]]:
    """{family: (type, {sorted label items of each sample (with the sample name): value})}."""
    text = httpx.get(server.url + "/metrics", timeout=10).text
    result: dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]] = {}
    for family in text_string_to_metric_families(text):
        samples = {(("__name__", s.name), *sorted(s.labels.items())): s.value for s in family.samples}
        result[family.name] = (family.type, samples)
    return result


def value(metrics: dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]], family: str, name: str,
          **labels: str) -> float:
    key = (("__name__", name), *sorted(labels.items()))
    return metrics[family][1].get(key, 0.0)


def test_metrics_after_exports_and_a_failure(metrics_server: Server) -> None:
    good, broken = metrics_server.client("good"), metrics_server.client("broken")
    good_scan, broken_scan = upload(good, SMALL_SCAN), upload(broken, SMALL_SCAN)
    before = scrape(metrics_server)
    assert value(before, "export_requests", "export_requests_total", type="scan_report", format="json") == 0

    ids = [good.post("/api/v1/exports", json=body, headers=headers).json()["export_id"] for body, headers in (
        (export_body(good_scan, "json"), {"Idempotency-Key": "k1"}),
        (export_body(good_scan, "json"), {"Idempotency-Key": "k1"}),  # replay: the same export, not counted
        (export_body(good_scan, "json"), {}),
        ({**export_body(good_scan, "csv", "scan_summary"), "delivery": {"method": "download"}}, {}),
    )]
    assert ids[0] == ids[1]
    refused = good.post("/api/v1/exports", json=export_body(good_scan, "xlsx", "scan_report"))
    assert refused.status_code == 422  # invalid pair: never an export request
    failing = broken.post("/api/v1/exports", json=export_body(broken_scan, "json")).json()["export_id"]

    finals = [wait_status(good, export_id, {"completed", "failed"}) for export_id in dict.fromkeys(ids)]
    assert [f["status"] for f in finals] == ["completed"] * 3
    failed = wait_status(broken, failing, {"completed", "failed"})
    assert failed["status"] == "failed" and failed["error_code"] == "storage_failure"
    deadline_body = good.get(f"/api/v1/exports/{ids[3]}").json()
    assert deadline_body["status"] == "completed"

    metrics = scrape(metrics_server)
    for family, (kind, label_names) in EXPECTED_FAMILIES.items():
        assert family in metrics, f"missing {family}"
        assert metrics[family][0] == kind, family
        for sample_key in metrics[family][1]:
            names = {k for k, _ in sample_key} - {"__name__", "le"}
            assert names == label_names, (family, sample_key)
    assert not [f for f in metrics if f.startswith("export_") and f not in EXPECTED_FAMILIES]

    # Exactly what happened: 3 accepted scan_report/json (2 good + 1 broken), 1 scan_summary/csv.
    requests = {k: v for k, v in metrics["export_requests"][1].items()}
    assert requests == {
        (("__name__", "export_requests_total"), ("format", "json"), ("type", "scan_report")): 3.0,
        (("__name__", "export_requests_total"), ("format", "csv"), ("type", "scan_summary")): 1.0}
    assert value(metrics, "export_duration_seconds", "export_duration_seconds_count",
                 type="scan_report", format="json") == 2
    assert value(metrics, "export_duration_seconds", "export_duration_seconds_count",
                 type="scan_summary", format="csv") == 1
    json_sizes = sum(a["size"] for f in finals if f["format"] == "json" for a in f["artifacts"])
    assert value(metrics, "export_size_bytes", "export_size_bytes_sum", type="scan_report", format="json") \
        == json_sizes
    assert value(metrics, "export_size_bytes", "export_size_bytes_count", type="scan_summary", format="csv") == 1
    assert metrics["export_failures"][1] == {
        (("__name__", "export_failures_total"), ("reason", "storage_failure"), ("type", "scan_report")): 1.0}
    assert value(metrics, "export_storage_retries", "export_storage_retries_total") == 1
    assert metrics["export_delivery_attempts"][1] == {
        (("__name__", "export_delivery_attempts_total"), ("method", "download"), ("outcome", "delivered")): 1.0}
    assert metrics["export_delivery_failures"][1] == {}
    assert metrics["export_pdf_fallbacks"][1] == {}
    jobs = {dict(k)["state"]: v for k, v in metrics["export_jobs"][1].items()}
    assert jobs == {"queued": 0, "processing": 0, "completed": 3, "failed": 1, "cancelled": 0, "expired": 0}
    assert value(metrics, "export_queue_depth", "export_queue_depth") == 0
    assert value(metrics, "export_queue_oldest_age_seconds", "export_queue_oldest_age_seconds") == 0

    # Bounded labels: no export, scan or tenant ids anywhere in the exposition.
    text = httpx.get(metrics_server.url + "/metrics").text
    for secret in (*ids, failing, good_scan, "good", "broken"):
        assert f'"{secret}"' not in text


def test_queue_gauges_count_waiting_jobs(tmp_path: Path) -> None:
    """A server without workers: queued exports show as queue depth with the age of the oldest."""
    import time

    home = tmp_path / "queue"
    server = Server(home, {"EXPORTCENTER_WORKER_CONCURRENCY": "1"})
    server.start()
    try:
        client = server.client("acme")
        scan = upload(client, SMALL_SCAN)
        # Pause each stage for a long time so the single worker holds one job and the rest stay queued.
        server.stop()
        server.extra_env["EXPORTCENTER_JOB_STAGE_DELAY_SECONDS"] = "30"
        server.start()
        client = server.client("acme")
        for _ in range(3):
            assert client.post("/api/v1/exports", json=export_body(scan)).status_code == 202
        time.sleep(1.2)
        metrics = scrape(server)
        jobs = {dict(k)["state"]: v for k, v in metrics["export_jobs"][1].items()}
        assert jobs["processing"] == 1 and jobs["queued"] == 2
        assert value(metrics, "export_queue_depth", "export_queue_depth") == 2
        assert value(metrics, "export_queue_oldest_age_seconds", "export_queue_oldest_age_seconds") >= 1.0
    finally:
        server.stop()
