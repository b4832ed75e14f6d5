"""Recovery of exports whose worker stopped sending heartbeats (crash, SIGKILL, lost machine).

One rule for every executor: a cancel request wins; past the attempt limit the export fails with
``worker_lost``; otherwise it is handed back to the queue with exponential backoff. The change is a
guarded UPDATE on (status, heartbeat), so an owner that wakes up, or another recovering process, wins
the race cleanly and nothing is recovered twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from exportcenter.catalog import audit
from exportcenter.db.models import ExportRow
from exportcenter.jobs.state import ExportStatus
from exportcenter.observability import metrics
from exportcenter.pipeline.events import BUS
from exportcenter.pipeline.run import export_event
from exportcenter.runtime import Runtime
from exportcenter.storage import export_prefix
from exportcenter.util.timeutil import utcnow


def stale_exports(session: Session, lease: timedelta, *, lock: bool = False) -> list[ExportRow]:
    query = select(ExportRow).where(ExportRow.status == ExportStatus.PROCESSING.value,
                                    ExportRow.heartbeat_at < utcnow() - lease)
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _decide(row: ExportRow, max_attempts: int, now: datetime) -> tuple[ExportStatus, dict[str, Any]]:
    reason = f"worker {row.worker_id} stopped during stage {row.stage or 'unknown'}"
    if row.cancel_requested:
        return ExportStatus.CANCELLED, {"completed_at": now, "error": "cancelled by request", "error_code": "cancelled"}
    if row.attempts >= max_attempts:
        return ExportStatus.FAILED, {"completed_at": now, "error_code": "worker_lost",
                                     "error": f"{reason}; gave up after {row.attempts} attempts"}
    backoff = timedelta(seconds=min(300, 2 ** max(0, row.attempts - 1)))
    return ExportStatus.QUEUED, {"next_attempt_at": now + backoff, "error": f"{reason}; retrying",
                                 "worker_id": None, "stage": None}


def recover(runtime: Runtime, session: Session, row: ExportRow, *, actor: str,
            requeue: Callable[[ExportRow], object] | None = None) -> ExportStatus | None:
    """Recover one stale export in the caller's transaction; None when someone else already did."""
    target, values = _decide(row, runtime.settings.max_job_attempts, utcnow())
    result = session.execute(
        update(ExportRow).where(ExportRow.id == row.id, ExportRow.status == ExportStatus.PROCESSING.value,
                                ExportRow.heartbeat_at == row.heartbeat_at)
        .values(status=target.value, **values).execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    if target is ExportStatus.QUEUED:
        row.next_attempt_at = values["next_attempt_at"]
        if requeue is not None:
            requeue(row)
    else:
        runtime.store.delete_prefix(row.storage_prefix or export_prefix(row.tenant, row.created_at, row.id))
        if target is ExportStatus.FAILED:
            metrics.record_failure(row.type, "worker_lost")
    audit.record(session, tenant=row.tenant, actor=actor, action="export.recover", resource=row.id,
                 outcome=target.value, detail=str(values["error"]))
    row.status = target.value
    BUS.publish(export_event(row, "retrying" if target is ExportStatus.QUEUED else target.value,
                             error=str(values["error"])))
    return target
