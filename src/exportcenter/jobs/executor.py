"""The embedded executor: a small in-process thread pool that runs queued exports from the database.

- A dispatcher thread picks queued jobs whose ``next_attempt_at`` has come (woken early on submit).
- Jobs it runs get their heartbeat refreshed every third of the lease, even inside a long stage.
- Jobs left ``processing`` by a dead process (heartbeat older than ``job_lease_seconds``) are handed
  back to the queue with exponential backoff, or failed with the reason after ``max_job_attempts``.
Every state change is a guarded UPDATE, so several processes may run this against one database.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, update

from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow
from exportcenter.jobs.recovery import recover, stale_exports
from exportcenter.jobs.state import ExportStatus
from exportcenter.pipeline.run import run_export
from exportcenter.runtime import Runtime
from exportcenter.util.ids import new_id
from exportcenter.util.timeutil import utcnow

log = logging.getLogger("exportcenter.executor")


class EmbeddedExecutor:
    def __init__(self, runtime: Runtime, *, concurrency: int | None = None) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.concurrency = max(1, concurrency or settings.worker_concurrency)
        self.lease = timedelta(seconds=max(1, settings.job_lease_seconds))
        self.poll_seconds = max(0.05, settings.job_poll_seconds)
        self.worker_id = new_id("wrk")
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="export-worker")
        self._running: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.recover_stale()
        for target, name in ((self._dispatch_loop, "export-dispatch"), (self._heartbeat_loop, "export-heartbeat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; running ones finish their current stage or are recovered after restart."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- dispatch --------------------------------------------------------------------------------
    def _dispatch_loop(self) -> None:
        last_recovery = time.monotonic()
        while not self._stop.is_set():
            try:
                self.dispatch_due()
                if time.monotonic() - last_recovery > self.lease.total_seconds() / 2:
                    self.recover_stale()
                    last_recovery = time.monotonic()
            except Exception:
                log.exception("executor dispatch failed; retrying")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def dispatch_due(self) -> int:
        """Submit as many due queued jobs as there are free workers; return how many."""
        with self._lock:
            for export_id in [k for k, f in self._running.items() if f.done()]:
                del self._running[export_id]
            free = self.concurrency - len(self._running)
            busy = set(self._running)
        if free <= 0:
            return 0
        with transaction(self.runtime.sessions) as session:
            due = list(session.scalars(
                select(ExportRow.id)
                .where(ExportRow.status == ExportStatus.QUEUED.value, ExportRow.cancel_requested.is_(False),
                       ExportRow.next_attempt_at <= utcnow())
                .order_by(ExportRow.next_attempt_at, ExportRow.created_at).limit(free + len(busy))))
        submitted = 0
        for export_id in due:
            if export_id in busy or submitted >= free:
                continue
            with self._lock:
                self._running[export_id] = self._pool.submit(self._run_one, export_id)
            submitted += 1
        return submitted

    def _run_one(self, export_id: str) -> None:
        delay = self.runtime.settings.job_stage_delay_seconds

        def pause(_stage: str, _percent: int) -> None:
            if delay > 0:
                self._stop.wait(delay)

        try:
            run_export(self.runtime, export_id, worker_id=self.worker_id, progress=pause if delay > 0 else None)
        except Exception:
            log.exception("export %s crashed the worker", export_id)
        finally:
            self._wake.set()  # a slot is free: look for the next job now

    # -- leases ----------------------------------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        interval = max(0.2, self.lease.total_seconds() / 3)
        while not self._stop.wait(interval):
            with self._lock:
                ids = [k for k, f in self._running.items() if not f.done()]
            if not ids:
                continue
            try:
                with transaction(self.runtime.sessions) as session:
                    session.execute(update(ExportRow).where(
                        ExportRow.id.in_(ids), ExportRow.worker_id == self.worker_id,
                        ExportRow.status == ExportStatus.PROCESSING.value)
                        .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False))
            except Exception:
                log.exception("heartbeat update failed")

    def recover_stale(self) -> int:
        """Hand back (or fail) jobs whose owner stopped sending heartbeats. Returns how many."""
        recovered = 0
        with transaction(self.runtime.sessions) as session:
            for row in stale_exports(session, self.lease):
                if recover(self.runtime, session, row, actor="executor") is not None:
                    recovered += 1
        if recovered:
            log.warning("recovered %d export(s) left by a stopped worker", recovered)
            self._wake.set()
        return recovered

    def running(self) -> list[str]:
        with self._lock:
            return [k for k, f in self._running.items() if not f.done()]


def _prefix(row: ExportRow) -> str:
    from exportcenter.storage import export_prefix

    return row.storage_prefix or export_prefix(row.tenant, row.created_at, row.id)
