"""The procrastinate executor on the local PostgreSQL: schema, same-transaction enqueue, retries, cancel,
SIGTERM hand-back, and the API's refusal of an unmigrated schema."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from exportcenter.config import Settings
from exportcenter.db.engine import make_engine, session_factory, transaction
from exportcenter.db.models import ExportRow
from exportcenter.errors import ConfigurationError
from exportcenter.jobs.procrastinate_executor import enqueue_export
from exportcenter.pipeline.request import parse_request
from exportcenter.pipeline.run import create_export
from exportcenter.runtime import Runtime
from tests.integration.conftest import SMALL_SCAN, export_body, upload
from tests.integration.pg_cluster import WorkerProcess, api_server, fresh_database, run_cli, shared_settings
from tests.integration.test_upstream_sources import FakeStellaOps, serve_scan

pytestmark = pytest.mark.pg


@pytest.fixture()
def database() -> Iterator[str]:
    yield from fresh_database()


def jobs_for(database: str, export_id: str) -> list[tuple[str, int]]:
    engine = make_engine(database)
    try:
        with engine.connect() as connection:
            return [(r[0], r[1]) for r in connection.execute(text(
                "SELECT status::text, attempts FROM procrastinate_jobs WHERE queueing_lock = :id"), {"id": export_id})]
    finally:
        engine.dispose()


def test_unmigrated_schema_is_refused_then_upgrade_installs_both_schemas(database: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", database_url=database, executor="procrastinate")
    with pytest.raises(ConfigurationError, match=r"database schema is empty.*exportcenter db upgrade"):
        Runtime.open(settings, migrate=False)
    shared = shared_settings(database, tmp_path / "store")
    worker = WorkerProcess(tmp_path / "w", shared)
    worker.start()
    worker.process.wait(20)  # type: ignore[union-attr]
    assert worker.process.returncode == 12  # type: ignore[union-attr]
    assert "run `exportcenter db upgrade` first" in worker.log.read_text()
    upgraded = run_cli(tmp_path / "cli", shared, "db", "upgrade")
    assert upgraded.returncode == 0 and "job queue schema installed" in upgraded.stdout
    again = run_cli(tmp_path / "cli", shared, "db", "upgrade")
    assert "job queue schema present" in again.stdout
    Runtime.open(settings, migrate=False).close()


def test_job_row_commits_and_rolls_back_with_the_export(database: str, tmp_path: Path) -> None:
    shared = shared_settings(database, tmp_path / "store")
    assert run_cli(tmp_path / "cli", shared, "db", "upgrade").returncode == 0
    assert run_cli(tmp_path / "cli", shared, "ingest", "--tenant", "acme", str(SMALL_SCAN)).returncode == 0
    runtime = Runtime.open(Settings(home=tmp_path / "h", database_url=database, executor="procrastinate",
                                    storage_dir=tmp_path / "store"), migrate=False)
    try:
        with runtime.sessions() as session:
            scan_id = session.scalar(text("SELECT id FROM scans LIMIT 1"))
        request = parse_request(export_body(str(scan_id)))
        with transaction(runtime.sessions) as session:
            kept = create_export(runtime, session, tenant="acme", request=request, requested_by="t").id
            assert enqueue_export(session, kept) is False  # one waiting job per export
        with pytest.raises(RuntimeError), transaction(runtime.sessions) as session:
            lost = create_export(runtime, session, tenant="acme", request=request, requested_by="t").id
            raise RuntimeError("the request fails after recording")
        assert jobs_for(database, kept) == [("todo", 0)]
        assert jobs_for(database, lost) == []
        with runtime.sessions() as session:
            assert session.get(ExportRow, lost) is None
    finally:
        runtime.close()


def test_retryable_failure_is_retried_permanent_is_not_and_cancel_reaches_a_running_job(
        database: str, tmp_path: Path) -> None:
    upstream = FakeStellaOps()
    shared = shared_settings(database, tmp_path / "store", data_source="upstream", upstream__scanner_url=upstream.url,
                             upstream__max_attempts="1", job_stage_delay_seconds="0.4")
    assert run_cli(tmp_path / "cli", shared, "db", "upgrade").returncode == 0
    api = api_server(tmp_path / "api", shared)
    worker = WorkerProcess(tmp_path / "w", shared)
    try:
        worker.start()
        client = api.client("acme")
        serve_scan(upstream, "flaky", SMALL_SCAN, "trivy-json")
        serve_scan(upstream, "gone", SMALL_SCAN, "trivy-json")
        serve_scan(upstream, "slow", SMALL_SCAN, "trivy-json")
        flaky = client.post("/api/v1/exports", json=export_body("flaky")).json()["export_id"]
        ok_reply = upstream.routes["/internal/scans/flaky"][0]
        upstream.routes["/internal/scans/flaky"] = [(503, b"down", 0.0), ok_reply]  # gather fails once
        gone = client.post("/api/v1/exports", json=export_body("gone")).json()["export_id"]
        upstream.routes.pop("/internal/scans/gone")
        missing = client.post("/api/v1/exports", json=export_body("never-existed"))
        assert missing.status_code == 404 and "scanner service has no scan never-existed" in missing.text
        slow = client.post("/api/v1/exports", json=export_body("slow")).json()["export_id"]

        def status(export_id: str) -> dict[str, object]:
            return dict(client.get(f"/api/v1/exports/{export_id}").json())

        deadline = time.monotonic() + 60
        while status(slow)["status"] != "processing" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.post(f"/api/v1/exports/{slow}/cancel").status_code == 200
        while time.monotonic() < deadline and not all(
                status(e)["status"] in ("completed", "failed", "cancelled") for e in (flaky, gone, slow)):
            time.sleep(0.2)
        flaky_row, gone_row, slow_row = status(flaky), status(gone), status(slow)
        assert flaky_row["status"] == "completed" and flaky_row["attempts"] == 2
        assert gone_row["status"] == "failed" and gone_row["attempts"] == 1
        assert str(gone_row["error"]).startswith("scanner service has no scan gone")
        assert slow_row["status"] == "cancelled"
        assert list((tmp_path / "store").rglob("*.json")) == [p for p in (tmp_path / "store").rglob("*.json")
                                                              if flaky in str(p)]
        assert jobs_for(database, gone) == [("succeeded", 1)] or jobs_for(database, gone) == []
    finally:
        worker.kill()
        api.stop()
        upstream.close()


def test_sigterm_finishes_the_stage_and_hands_the_export_back(database: str, tmp_path: Path) -> None:
    shared = shared_settings(database, tmp_path / "store", job_stage_delay_seconds="1.0")
    assert run_cli(tmp_path / "cli", shared, "db", "upgrade").returncode == 0
    api = api_server(tmp_path / "api", shared)
    first = WorkerProcess(tmp_path / "w1", shared)
    second = WorkerProcess(tmp_path / "w2", shared)
    try:
        first.start()
        client = api.client("acme")
        scan_id = upload(client, SMALL_SCAN)
        export_id = client.post("/api/v1/exports", json=export_body(scan_id)).json()["export_id"]
        deadline = time.monotonic() + 30
        while client.get(f"/api/v1/exports/{export_id}").json()["status"] != "processing":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        started = time.monotonic()
        assert first.terminate(timeout=30) == 0
        assert time.monotonic() - started < 5  # it did not run the remaining stages
        engine = make_engine(database)
        with session_factory(engine)() as session:
            row = session.scalar(select(ExportRow).where(ExportRow.id == export_id))
            assert row is not None and row.status == "queued" and row.worker_id is None and row.attempts == 0
        engine.dispose()
        assert ("todo", 0) in jobs_for(database, export_id)
        second.start()
        while client.get(f"/api/v1/exports/{export_id}").json()["status"] != "completed":
            assert time.monotonic() < deadline + 30
            time.sleep(0.1)
        assert client.get(f"/api/v1/exports/{export_id}").json()["attempts"] == 1
    finally:
        first.kill()
        second.kill()
        api.stop()
