"""The scale-out bar on the local PostgreSQL: two API replicas, three procrastinate workers, 300 exports
submitted concurrently through both APIs, one worker SIGKILLed and one restarted during the run."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from exportcenter.db.engine import make_engine, session_factory
from exportcenter.db.models import AuditRow, ExportRow
from tests.integration.conftest import SMALL_SCAN, Server, export_body, upload
from tests.integration.pg_cluster import (
    WorkerProcess,
    api_server,
    fresh_database,
    run_cli,
    shared_settings,
)

pytestmark = pytest.mark.pg
TOTAL = 300
TENANT = "scale"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    yield from fresh_database()


def worker_id_of(worker: WorkerProcess) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = re.findall(r"ExportCenter worker (wrk-[0-9a-f]+)", worker.log.read_text(errors="replace"))
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"worker did not start: {worker.log.read_text()[-2000:]}")


class EventListener:
    """A WebSocket client on one API replica, collecting every event of the tenant."""

    def __init__(self, server: Server) -> None:
        from websockets.sync.client import connect

        url = server.url.replace("http://", "ws://") + f"/api/v1/events?tenant={TENANT}&token={server.token(TENANT)}"
        self.stack = ExitStack()
        self.socket = self.stack.enter_context(connect(url, open_timeout=10))
        assert orjson.loads(self.socket.recv(10))["event"] == "subscribed"
        self.events: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for message in self.socket:
                self.events.append(orjson.loads(message))
        except Exception:
            return

    def completed_ids(self) -> set[str]:
        return {e["export_id"] for e in self.events if e.get("event") == "completed"}

    def close(self) -> None:
        self.stack.close()


def test_300_exports_two_apis_three_workers_kill_and_restart(database: str, tmp_path: Path) -> None:
    storage = tmp_path / "store"
    shared = shared_settings(database, storage, job_lease_seconds="4", tenant_max_concurrent_exports="100000",
                             job_stage_delay_seconds="0.05", worker_concurrency="2")
    upgraded = run_cli(tmp_path / "cli", shared, "db", "upgrade")
    assert upgraded.returncode == 0 and "job queue schema installed" in upgraded.stdout, upgraded.stderr
    api_a, api_b = api_server(tmp_path / "api-a", shared), api_server(tmp_path / "api-b", shared)
    workers = [WorkerProcess(tmp_path / f"worker-{i}", shared) for i in range(3)]
    engine = make_engine(database)
    sessions = session_factory(engine)
    listener: EventListener | None = None
    try:
        for worker in workers:
            worker.start()
        killed_id = worker_id_of(workers[0])
        listener = EventListener(api_b)
        with api_a.client(TENANT) as client:
            scan_id = upload(client, SMALL_SCAN)
        clients = [api_a.client(TENANT), api_b.client(TENANT)]

        def submit(index: int) -> tuple[int, str]:
            response = clients[index % 2].post("/api/v1/exports", json=export_body(scan_id))
            assert response.status_code == 202, response.text
            return index % 2, str(response.json()["export_id"])

        def final_count() -> int:
            with sessions() as session:
                return int(session.scalar(select(func.count()).select_from(ExportRow).where(
                    ExportRow.status.in_(["completed", "failed", "cancelled"]))) or 0)

        with ThreadPoolExecutor(12) as pool:
            submitted = list(pool.map(submit, range(TOTAL)))
        by_api_a = {export_id for api, export_id in submitted if api == 0}
        # SIGKILL worker 0 while it holds exports; later restart it (same home) and restart worker 1 gently
        deadline = time.monotonic() + 60
        held: list[str] = []
        while time.monotonic() < deadline and not held:
            with sessions() as session:
                held = list(session.scalars(select(ExportRow.id).where(
                    ExportRow.worker_id == killed_id, ExportRow.status == "processing")))
        assert held, "worker 0 never held an export"
        workers[0].kill()
        time.sleep(1.0)
        assert workers[1].terminate() == 0  # SIGTERM: finish the stage, hand back, exit cleanly
        workers[1] = WorkerProcess(workers[1].home, shared)
        workers[1].start()
        workers[0] = WorkerProcess(workers[0].home, shared)
        workers[0].start()
        deadline = time.monotonic() + 240
        while final_count() < TOTAL and time.monotonic() < deadline:
            time.sleep(0.5)
        with sessions() as session:
            rows = list(session.scalars(select(ExportRow).where(ExportRow.tenant == TENANT)))
            completions = dict(session.execute(
                select(AuditRow.resource, func.count()).where(AuditRow.action == "export.complete")
                .group_by(AuditRow.resource)).all())
        assert len(rows) == TOTAL
        assert {r.status for r in rows} == {"completed"}, [(r.id, r.status, r.error) for r in rows
                                                           if r.status != "completed"][:5]
        assert all(completions.get(r.id) == 1 for r in rows), "an export completed more than once"
        recovered = [r for r in rows if r.id in held]
        assert recovered and all(r.attempts >= 2 for r in recovered), [(r.id, r.attempts) for r in recovered]

        expected_files: set[Path] = set()
        for row in rows:
            folder = storage / str(row.storage_prefix)
            manifest = orjson.loads((folder / "manifest.json").read_bytes())
            assert manifest == row.manifest and manifest["export_id"] == row.id
            for artifact in manifest["artifacts"]:
                data = (folder / artifact["name"]).read_bytes()
                assert len(data) == artifact["size"] and hashlib.sha256(data).hexdigest() == artifact["sha256"]
                expected_files.add(folder / artifact["name"])
            expected_files.add(folder / "manifest.json")
        deadline = time.monotonic() + 30  # the sweepers remove what the killed worker left half-done
        leftovers: set[Path] = set()
        while time.monotonic() < deadline:
            files = {p for p in storage.rglob("*") if p.is_file()}
            staging = [p for w in workers for p in (w.home / "staging").glob("*")]
            leftovers = (files - expected_files) | set(staging) | set((storage / ".incoming").glob("*"))
            if not leftovers:
                break
            time.sleep(1)
        assert not leftovers, sorted(leftovers)[:5]

        deadline = time.monotonic() + 10
        while not by_api_a <= listener.completed_ids() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert by_api_a <= listener.completed_ids(), f"{len(by_api_a - listener.completed_ids())} events missing"
        for client in clients:
            client.close()
    finally:
        if listener is not None:
            listener.close()
        for worker in workers:
            worker.kill()
        api_a.stop()
        api_b.stop()
        engine.dispose()
