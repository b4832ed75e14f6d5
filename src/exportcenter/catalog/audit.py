"""Append-only audit log, hash-chained per tenant (tamper-evident)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exportcenter.db.models import AuditHeadRow, AuditRow
from exportcenter.model import AuditEvent
from exportcenter.sealing.audit import chain_hash, verify_audit_chain
from exportcenter.util.ids import new_id
from exportcenter.util.timeutil import iso_z, utcnow

HASHED_FIELDS = ("id", "tenant", "time", "actor", "action", "resource", "outcome", "detail", "source_address")


def hashed_content(row: AuditRow | AuditEvent) -> dict[str, Any]:
    """What an entry's hash covers: everything the audit_log export shows except seq and the chain fields."""
    values = {"id": row.id, "tenant": row.tenant, "time": iso_z(row.time), "actor": row.actor, "action": row.action,
              "resource": row.resource, "outcome": row.outcome, "detail": row.detail,
              "source_address": row.source_address}
    return {k: values[k] for k in HASHED_FIELDS}


def record(session: Session, *, tenant: str, actor: str, action: str, resource: str, outcome: str,
           detail: str | None = None, source_address: str | None = None, time: datetime | None = None) -> None:
    """Append one entry in the caller's transaction. The head row serialises concurrent appends."""
    head = session.get(AuditHeadRow, tenant, with_for_update=True)
    row = AuditRow(id=new_id("evt"), tenant=tenant, time=time or utcnow(), actor=actor, action=action,
                   resource=resource[:512], outcome=outcome, detail=detail, source_address=source_address,
                   prev_hash=head.head_hash if head else None)
    row.hash = chain_hash(row.prev_hash, hashed_content(row))
    session.add(row)
    if head is None:
        session.add(AuditHeadRow(tenant=tenant, head_hash=row.hash, count=1))
    else:
        head.head_hash = row.hash
        head.count += 1
    session.flush()


def events(session: Session, tenant: str, start: datetime | None = None,
           end: datetime | None = None) -> list[AuditEvent]:
    query = select(AuditRow).where(AuditRow.tenant == tenant).order_by(AuditRow.seq)
    if start is not None:
        query = query.where(AuditRow.time >= start)
    if end is not None:
        query = query.where(AuditRow.time <= end)
    return [
        AuditEvent(seq=r.seq, id=r.id, time=r.time, tenant=r.tenant, actor=r.actor, action=r.action,
                   resource=r.resource, outcome=r.outcome, detail=r.detail, source_address=r.source_address,
                   prev_hash=r.prev_hash, hash=r.hash)
        for r in session.scalars(query)
    ]


def verify_chain(entries: Sequence[AuditEvent], expected_head: str | None = None) -> str | None:
    """Recompute every hash; return the head, or raise VerificationError at the first break."""
    linked = [{**hashed_content(e), "prev_hash": e.prev_hash, "hash": e.hash} for e in entries]
    start = entries[0].prev_hash if entries else None
    return verify_audit_chain(linked, start_prev_hash=start, expected_head=expected_head)


def chain_head(session: Session, tenant: str) -> dict[str, Any] | None:
    head = session.get(AuditHeadRow, tenant)
    return {"hash": head.head_hash, "count": head.count} if head else None
