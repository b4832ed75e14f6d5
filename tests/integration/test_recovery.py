"""Exports left `processing` by a dead worker: handed back with backoff, or failed (and counted) at the limit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from exportcenter.catalog.documents import ingest
from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow
from exportcenter.jobs.executor import EmbeddedExecutor
from exportcenter.observability.metrics import EXPORT_FAILURES
from exportcenter.pipeline.request import parse_request
from exportcenter.pipeline.run import create_export
from exportcenter.runtime import Runtime
from exportcenter.util.timeutil import utcnow
from tests.paths import SCANS


def _stale_export(runtime: Runtime, attempts: int) -> str:
    scan = ingest(runtime.sessions, tenant="t1", name="alpine.json",
                  content=(SCANS / "trivy_json_alpine-310.json").read_bytes()).ids["scan_id"]
    request = parse_request({"type": "scan_report", "format": "json", "scope": {"scan_ids": [scan]}})
    with transaction(runtime.sessions) as session:
        row = create_export(runtime, session, tenant="t1", request=request, requested_by="test")
        row.status, row.worker_id, row.attempts, row.stage = "processing", "wrk-dead", attempts, "render"
        row.heartbeat_at = utcnow() - timedelta(hours=1)
        return row.id


def test_stale_export_is_handed_back_then_failed_at_the_limit(ec_home: Path) -> None:
    runtime = Runtime.open()
    executor = EmbeddedExecutor(runtime)
    retried = _stale_export(runtime, attempts=1)
    given_up = _stale_export(runtime, attempts=runtime.settings.max_job_attempts)
    before = EXPORT_FAILURES.labels("scan_report", "worker_lost")._value.get()
    assert executor.recover_stale() == 2
    assert executor.recover_stale() == 0  # nothing is recovered twice
    with runtime.sessions() as session:
        queued = session.get(ExportRow, retried)
        failed = session.get(ExportRow, given_up)
        assert queued is not None and failed is not None
        assert queued.status == "queued" and queued.worker_id is None and queued.next_attempt_at > utcnow()
        assert "wrk-dead stopped during stage render" in (queued.error or "")
        assert failed.status == "failed" and failed.error_code == "worker_lost"
    assert EXPORT_FAILURES.labels("scan_report", "worker_lost")._value.get() == before + 1
    runtime.close()
