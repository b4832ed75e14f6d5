"""One ``exportcenter worker`` process: procrastinate's worker plus the threads that keep exports safe.

- Heartbeat: refreshes ``heartbeat_at`` of the exports this process runs (the lease), every third of it.
- Sweeper (every quarter lease, one process at a time per database through an advisory lock):
  exports left ``processing`` by a dead process are handed back (and rung again in the same
  transaction) or failed after ``max_job_attempts``; queued exports with no live job are rung (covers
  every creator and the gap between a retryable failure and procrastinate's retry); procrastinate jobs
  stuck ``doing`` on a dead worker are closed; staging folders and half-copied store folders that
  nobody owns any more are removed.
- SIGTERM/SIGINT: stop taking jobs; running exports finish their current stage and are handed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, text, update

from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow
from exportcenter.jobs.procrastinate_executor import (
    DEFAULT_QUEUE,
    WorkerState,
    enqueue_export,
    make_app,
    require_queue_schema,
    set_worker_state,
)
from exportcenter.jobs.recovery import recover, stale_exports
from exportcenter.jobs.state import ExportStatus
from exportcenter.runtime import Runtime
from exportcenter.util.ids import new_id
from exportcenter.util.timeutil import utcnow

log = logging.getLogger("exportcenter.worker")
SWEEP_LOCK = 7406432
PROCRASTINATE_STALE_SECONDS = 30


class Heartbeat:
    def __init__(self, state: WorkerState) -> None:
        self.state = state
        lease = max(1, state.runtime.settings.job_lease_seconds)
        self.interval = max(0.2, lease / 3)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            ids = self.state.running_ids()
            if not ids:
                continue
            try:
                with transaction(self.state.runtime.sessions) as session:
                    session.execute(update(ExportRow).where(
                        ExportRow.id.in_(ids), ExportRow.worker_id == self.state.worker_id,
                        ExportRow.status == ExportStatus.PROCESSING.value)
                        .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False))
            except Exception:
                log.exception("heartbeat update failed")


class Sweeper:
    def __init__(self, runtime: Runtime, *, queue: str = DEFAULT_QUEUE) -> None:
        self.runtime = runtime
        self.queue = queue
        self.lease = timedelta(seconds=max(1, runtime.settings.job_lease_seconds))
        self.interval = max(0.5, self.lease.total_seconds() / 4)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.sweep()
            except Exception:
                log.exception("sweep failed; trying again")

    def sweep(self) -> dict[str, int]:
        counts = {"recovered": 0, "rung": 0, "closed_jobs": 0}
        with transaction(self.runtime.sessions) as session:
            if session.scalar(text(f"SELECT pg_try_advisory_xact_lock({SWEEP_LOCK})")):
                counts["recovered"] = self._recover_stale(session)
                counts["rung"] = self._ring_queued(session)
                counts["closed_jobs"] = self._close_dead_jobs(session)
        counts["cleaned"] = clean_orphans(self.runtime, older_than=2 * self.lease.total_seconds())
        if any(counts.values()):
            log.info("sweep: %s", counts)
        return counts

    def _recover_stale(self, session: object) -> int:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        stale = stale_exports(session, self.lease, lock=True)
        for row in stale:
            recover(self.runtime, session, row, actor="worker",
                    requeue=lambda r: enqueue_export(session, r.id, run_at=r.next_attempt_at, queue=self.queue))
        return len(stale)

    def _ring_queued(self, session: object) -> int:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        orphans = session.execute(text(
            "SELECT e.id, e.next_attempt_at FROM exports e WHERE e.status = 'queued' AND NOT e.cancel_requested"
            " AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w"
            "   ON w.id = j.worker_id WHERE j.queueing_lock = e.id AND (j.status = 'todo' OR"
            "   (j.status = 'doing' AND w.last_heartbeat > now() - make_interval(secs => :stale))))"
            " ORDER BY e.next_attempt_at LIMIT 500"), {"stale": PROCRASTINATE_STALE_SECONDS}).all()
        return sum(1 for export_id, run_at in orphans
                   if enqueue_export(session, export_id, run_at=run_at, queue=self.queue))

    def _close_dead_jobs(self, session: object) -> int:
        from sqlalchemy.orm import Session

        assert isinstance(session, Session)
        dead = session.scalars(text(
            "SELECT j.id FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id"
            " WHERE j.status = 'doing' AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :s))"
            " FOR UPDATE OF j SKIP LOCKED"), {"s": PROCRASTINATE_STALE_SECONDS}).all()
        for job_id in dead:
            session.execute(text("SELECT procrastinate_finish_job_v1(:id, 'failed', false)"), {"id": job_id})
        return len(dead)


def clean_orphans(runtime: Runtime, *, older_than: float) -> int:
    """Remove staging folders of exports nobody runs any more, and the store's abandoned copy folders."""
    removed = 0
    cutoff = time.time() - older_than
    staging = runtime.settings.home / "staging"
    candidates = [p for p in staging.iterdir() if p.is_dir() and p.stat().st_mtime < cutoff] \
        if staging.is_dir() else []
    if candidates:
        ids = {p.name.rsplit("-", 1)[0]: p for p in candidates}
        with transaction(runtime.sessions) as session:
            busy = set(session.scalars(select(ExportRow.id).where(
                ExportRow.id.in_(list(ids)), ExportRow.status == ExportStatus.PROCESSING.value,
                ExportRow.heartbeat_at >= utcnow() - timedelta(seconds=older_than))))
        for export_id, path in ids.items():
            if export_id not in busy:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    local = getattr(runtime.store, "root", None)
    incoming = Path(local) / ".incoming" if local is not None else None
    if incoming is not None and incoming.is_dir():
        for path in incoming.iterdir():
            if path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                removed += 1
    return removed


def run_worker(runtime: Runtime, *, concurrency: int, queues: Sequence[str] | None = None,
               run_schedules: bool = True, worker_id: str | None = None) -> None:
    """Run until SIGTERM/SIGINT. Needs PostgreSQL with `exportcenter db upgrade` applied."""
    require_queue_schema(runtime.engine)
    state = WorkerState(runtime=runtime, worker_id=worker_id or new_id("wrk"))
    set_worker_state(state)
    stop = threading.Event()
    from exportcenter.pipeline.events_pg import bridge_for

    bridge = bridge_for(runtime, listen=False)
    threads = [threading.Thread(target=Heartbeat(state).run, args=(stop,), name="heartbeat", daemon=True),
               threading.Thread(target=Sweeper(runtime, queue=(queues or [DEFAULT_QUEUE])[0]).run, args=(stop,),
                                name="sweeper", daemon=True)]
    if run_schedules:
        from exportcenter.scheduling import Scheduler

        threads.append(threading.Thread(target=Scheduler(runtime).run_forever, args=(stop, 5.0),
                                        name="scheduler", daemon=True))
    for thread in threads:
        thread.start()
    log.info("worker %s: concurrency %d, queues %s", state.worker_id, concurrency, list(queues or [DEFAULT_QUEUE]))
    try:
        asyncio.run(_serve(runtime, state, concurrency, list(queues or [DEFAULT_QUEUE])))
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        if bridge is not None:
            bridge.close()
        set_worker_state(None)


async def _serve(runtime: Runtime, state: WorkerState, concurrency: int, queues: list[str]) -> None:
    app = make_app(runtime.settings)
    settings = runtime.settings
    loop = asyncio.get_running_loop()
    async with app.open_async():
        worker = asyncio.create_task(app.run_worker_async(
            queues=queues, concurrency=max(1, concurrency), name=state.worker_id, install_signal_handlers=False,
            delete_jobs="successful", listen_notify=True,
            fetch_job_polling_interval=max(0.2, settings.job_poll_seconds * 4),
            shutdown_graceful_timeout=float(max(5, settings.job_lease_seconds)),
            update_heartbeat_interval=5.0, stalled_worker_timeout=float(PROCRASTINATE_STALE_SECONDS)))

        def request_stop() -> None:
            log.info("worker %s stopping: running exports stop after their current stage", state.worker_id)
            state.stopping.set()
            worker.cancel()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, request_stop)
        with contextlib.suppress(asyncio.CancelledError):
            await worker
