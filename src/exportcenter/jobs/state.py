"""Job states as an enum and the table of allowed transitions.

Every transition is one guarded UPDATE (``... WHERE id = :id AND status IN (allowed sources)``), so two
workers can never both claim or both finish the same job: the loser sees rowcount 0.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from exportcenter.db.models import ExportRow


class ExportStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in (ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED,
                        ExportStatus.EXPIRED)


ALLOWED_TRANSITIONS: dict[ExportStatus, frozenset[ExportStatus]] = {
    ExportStatus.QUEUED: frozenset({ExportStatus.PROCESSING, ExportStatus.CANCELLED, ExportStatus.FAILED}),
    # processing -> queued: handed back (SIGTERM, crash recovery, retryable failure)
    ExportStatus.PROCESSING: frozenset({ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELLED,
                                        ExportStatus.QUEUED}),
    ExportStatus.COMPLETED: frozenset({ExportStatus.EXPIRED}),
    ExportStatus.FAILED: frozenset({ExportStatus.EXPIRED}),
    ExportStatus.CANCELLED: frozenset({ExportStatus.EXPIRED}),
    ExportStatus.EXPIRED: frozenset(),
}


def sources_of(target: ExportStatus) -> list[str]:
    return [src.value for src, targets in ALLOWED_TRANSITIONS.items() if target in targets]


def transition(session: Session, export_id: str, target: ExportStatus, *,
               expect: ExportStatus | None = None, worker_id: str | None = None,
               **values: Any) -> bool:
    """Move one export to ``target`` if the transition table allows it from its current state.

    ``expect`` narrows the allowed source to one state; ``worker_id`` additionally requires that the
    job is still owned by that worker (so a worker that lost its claim cannot finish the job).
    Returns whether this call made the change.
    """
    allowed = sources_of(target)
    if expect is not None:
        if target not in ALLOWED_TRANSITIONS[expect]:
            return False
        allowed = [expect.value]
    statement = update(ExportRow).where(ExportRow.id == export_id, ExportRow.status.in_(allowed))
    if worker_id is not None:
        statement = statement.where(ExportRow.worker_id == worker_id)
    result = session.execute(
        statement.values(status=target.value, **values).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def claim(session: Session, export_id: str, worker_id: str, now: datetime) -> bool:
    """queued -> processing, taking ownership (and counting the attempt)."""
    result = session.execute(
        update(ExportRow)
        .where(ExportRow.id == export_id, ExportRow.status == ExportStatus.QUEUED.value,
               ExportRow.cancel_requested.is_(False))
        .values(status=ExportStatus.PROCESSING.value, worker_id=worker_id, started_at=now,
                heartbeat_at=now, attempts=ExportRow.attempts + 1, stage="gather", progress=0)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
