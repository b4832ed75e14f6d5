"""Delivery attempts: record each one, decide retry or give up, and find the retries that are due."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from exportcenter.db.models import ExportRow
from exportcenter.db.models_delivery import DeliveryAttemptRow

MAX_ATTEMPTS = 6
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
CLAIM_LEASE = timedelta(minutes=15)  # a "delivering" claim older than this is taken over (crashed worker)


class DeliveryStatus:
    NOT_REQUESTED = "not_requested"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"


def backoff(attempt: int, rng: random.Random | None = None) -> timedelta:
    """Exponential (30 s, 2 min, 8 min, 32 min, then 1 h) with +-20 % jitter, after attempt ``attempt``."""
    base = min(MAX_DELAY.total_seconds(), BASE_DELAY.total_seconds() * 4 ** max(0, attempt - 1))
    jitter = 0.8 + 0.4 * (rng or random).random()
    return timedelta(seconds=base * jitter)


@dataclass(frozen=True)
class Decision:
    outcome: str  # delivered | retrying | failed
    next_attempt_at: datetime | None


def decide(attempt: int, *, delivered: bool, permanent: bool, finished: datetime,
           max_attempts: int = MAX_ATTEMPTS) -> Decision:
    if delivered:
        return Decision(DeliveryStatus.DELIVERED, None)
    if permanent or attempt >= max_attempts:
        return Decision(DeliveryStatus.FAILED, None)
    return Decision(DeliveryStatus.RETRYING, finished + backoff(attempt))


def next_attempt_number(session: Session, export_id: str) -> int:
    current = session.scalar(select(func.max(DeliveryAttemptRow.attempt))
                             .where(DeliveryAttemptRow.export_id == export_id))
    return int(current or 0) + 1


def record_attempt(session: Session, *, export_id: str, tenant: str, method: str, attempt: int,
                   started_at: datetime, finished_at: datetime, decision: Decision, response_code: int | None,
                   error: str | None, detail: str | None) -> DeliveryAttemptRow:
    row = DeliveryAttemptRow(export_id=export_id, tenant=tenant, method=method, attempt=attempt,
                             started_at=started_at, finished_at=finished_at, outcome=decision.outcome,
                             response_code=response_code, error=error, detail=detail,
                             next_attempt_at=decision.next_attempt_at)
    session.add(row)
    session.flush()
    return row


def attempts_for(session: Session, export_id: str) -> list[DeliveryAttemptRow]:
    return list(session.scalars(select(DeliveryAttemptRow).where(DeliveryAttemptRow.export_id == export_id)
                                .order_by(DeliveryAttemptRow.attempt)))


def due_exports(session: Session, now: datetime, limit: int = 50) -> list[tuple[str, str]]:
    """(export id, its delivery status) whose latest attempt asked for a retry by ``now``."""
    latest = (select(DeliveryAttemptRow.export_id, func.max(DeliveryAttemptRow.attempt).label("attempt"))
              .group_by(DeliveryAttemptRow.export_id).subquery())
    query = (select(ExportRow.id, ExportRow.delivery_status, DeliveryAttemptRow.next_attempt_at)
             .join(latest, latest.c.export_id == ExportRow.id)
             .join(DeliveryAttemptRow, (DeliveryAttemptRow.export_id == latest.c.export_id)
                   & (DeliveryAttemptRow.attempt == latest.c.attempt))
             .where(ExportRow.delivery_status.in_([DeliveryStatus.RETRYING, DeliveryStatus.DELIVERING]))
             .where(DeliveryAttemptRow.next_attempt_at.is_not(None))
             .order_by(DeliveryAttemptRow.next_attempt_at).limit(limit))
    found = []
    for export_id, status, next_at in session.execute(query):
        if next_at is None:
            continue
        lease = CLAIM_LEASE if status == DeliveryStatus.DELIVERING else timedelta(0)
        if next_at <= now - lease:
            found.append((export_id, str(status)))
    return found


def claim(session: Session, export_id: str, seen_status: str) -> bool:
    """Guarded update: only one worker moves an export from ``seen_status`` to delivering."""
    result = session.execute(update(ExportRow).where(ExportRow.id == export_id,
                                                     ExportRow.delivery_status == seen_status)
                             .values(delivery_status=DeliveryStatus.DELIVERING))
    return bool(getattr(result, "rowcount", 0) == 1)
