"""Job lifecycle through the API: crash and restart mid-job, cancel, per-tenant limit, retention."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from exportcenter.db.engine import transaction
from exportcenter.jobs.retention import purge_expired
from exportcenter.pipeline.request import parse_request
from exportcenter.pipeline.run import create_export, run_export
from exportcenter.runtime import Runtime
from tests.integration.conftest import SMALL_SCAN, Server, export_body, start_server, upload, wait_status


def _audit(home: Path, export_id: str) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "exportcenter.db") as db:
        return db.execute("SELECT action, outcome FROM audit_log WHERE resource = ? ORDER BY seq",
                          (export_id,)).fetchall()


def test_restart_mid_job_completes_exactly_once(tmp_path: Path) -> None:
    # each stage pauses 1 s; a job whose heartbeat is 2 s old is taken back by the next process
    servers = start_server(tmp_path / "home", job_stage_delay_seconds="1.0", job_lease_seconds="2",
                           worker_concurrency="1")
    server = next(servers)
    with server.client("crash") as client:
        scan_id = upload(client, SMALL_SCAN)
        export_id = client.post("/api/v1/exports", json=export_body(scan_id)).json()["export_id"]
        wait_status(client, export_id, {"processing"}, timeout=10)
    server.kill()
    with sqlite3.connect(server.home / "exportcenter.db") as db:
        status, attempts = db.execute("SELECT status, attempts FROM exports WHERE id = ?", (export_id,)).fetchone()
    assert (status, attempts) == ("processing", 1)  # left behind by the dead process

    server.start()  # same home (database, secrets, blobs), same port
    try:
        with server.client("crash") as client:
            final = wait_status(client, export_id, {"completed", "failed"}, timeout=40)
            assert final["status"] == "completed", final
            assert final["attempts"] == 2
            link = client.get(f"/api/v1/exports/{export_id}/download").json()
            content = httpx.get(link["download_url"]).content
            assert hashlib.sha256(content).hexdigest() == final["artifacts"][0]["sha256"]
        actions = _audit(server.home, export_id)
        assert actions.count(("export.complete", "success")) == 1
        assert ("export.recover", "queued") in actions
        blobs = list((server.home / "blobs").rglob(f"{export_id}/*"))
        assert sorted(p.name for p in blobs) == ["manifest.json", "report.json"]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("slow"), job_stage_delay_seconds="0.7",
                            worker_concurrency="1", tenant_max_concurrent_exports="3")


def test_cancel_running_and_queued(slow: Server) -> None:
    with slow.client("cancel") as client:
        scan_id = upload(client, SMALL_SCAN)
        running = client.post("/api/v1/exports", json=export_body(scan_id)).json()["export_id"]
        queued = client.post("/api/v1/exports", json=export_body(scan_id, "sarif")).json()["export_id"]
        wait_status(client, running, {"processing"}, timeout=10)
        now = client.post(f"/api/v1/exports/{queued}/cancel")
        assert now.status_code == 200 and now.json()["status"] == "cancelled"
        later = client.post(f"/api/v1/exports/{running}/cancel")
        assert later.status_code == 200 and later.json()["cancel_requested"] is True
        final = wait_status(client, running, {"cancelled", "completed", "failed"}, timeout=15)
        assert final["status"] == "cancelled" and final["artifacts"] == []
        assert not list((slow.home / "blobs").rglob(f"{running}*"))
        again = client.post(f"/api/v1/exports/{running}/cancel")
        assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
        link = client.get(f"/api/v1/exports/{queued}/download")
        assert link.status_code == 409


def test_tenant_limit_answers_429_with_retry_after(slow: Server) -> None:
    with slow.client("busy") as client:
        scan_id = upload(client, SMALL_SCAN)
        accepted = [client.post("/api/v1/exports", json=export_body(scan_id)) for _ in range(3)]
        assert [r.status_code for r in accepted] == [202, 202, 202]
        refused = client.post("/api/v1/exports", json=export_body(scan_id))
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "limit 3" in refused.json()["detail"]
        with slow.client("calm") as other:  # the limit is per tenant
            other_scan = upload(other, SMALL_SCAN)
            assert other.post("/api/v1/exports", json=export_body(other_scan)).status_code == 202
        for response in accepted:
            client.post(f"/api/v1/exports/{response.json()['export_id']}/cancel")


def test_retention_purges_artifacts_and_marks_expired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORTCENTER_HOME", str(tmp_path))
    from exportcenter.config import Settings

    runtime = Runtime.open(Settings(home=tmp_path))
    try:
        from exportcenter.catalog.documents import ingest

        scan_id = ingest(runtime.sessions, tenant="keep", name=SMALL_SCAN.name, content=SMALL_SCAN.read_bytes()).ids["scan_id"]
        with transaction(runtime.sessions) as session:
            row = create_export(runtime, session, tenant="keep", request=parse_request(export_body(scan_id)),
                                requested_by="test")
        done = run_export(runtime, row.id)
        assert done is not None and done.status == "completed" and done.expires_at is not None
        prefix = done.storage_prefix or ""
        assert list(runtime.store.list_keys(prefix))
        assert purge_expired(runtime, now=done.expires_at - timedelta(seconds=1)) == []
        assert purge_expired(runtime, now=done.expires_at + timedelta(seconds=1)) == [row.id]
        assert list(runtime.store.list_keys(prefix)) == []
        with transaction(runtime.sessions) as session:
            from exportcenter.db.models import ExportRow

            expired = session.get(ExportRow, row.id)
            assert expired is not None and expired.status == "expired"
        assert purge_expired(runtime, now=done.expires_at + timedelta(days=1)) == []
    finally:
        runtime.close()
