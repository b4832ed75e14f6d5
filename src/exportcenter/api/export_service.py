"""What the export routes do, without HTTP: submit (idempotent, rate-limited), estimate, list, cancel."""

from __future__ import annotations

import base64
import binascii
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow
from exportcenter.db.models_delivery import DeliveryAttemptRow
from exportcenter.delivery.validation import validate_delivery
from exportcenter.errors import ConflictError, DataNotFoundError, InvalidInputError, RateLimitedError
from exportcenter.jobs.state import ExportStatus, transition
from exportcenter.pipeline.events import BUS
from exportcenter.pipeline.request import ExportRequest, check_template
from exportcenter.pipeline.run import create_export, export_event, find_export, request_hash
from exportcenter.runtime import Runtime
from exportcenter.util.jsonio import dumps, loads
from exportcenter.util.timeutil import parse_time, utcnow

IDEMPOTENCY_WINDOW = timedelta(hours=24)
ACTIVE = (ExportStatus.QUEUED.value, ExportStatus.PROCESSING.value)
_DEFAULT_SECONDS = {"pdf": 30.0, "xlsx": 10.0}
MAX_NAMED_MISSING = 20  # a 404 names at most this many of the ids that found nothing


@dataclass
class Submission:
    row: ExportRow
    replayed: bool
    estimate_seconds: float


def iso_duration(seconds: float) -> str:
    """Whole seconds as an ISO 8601 duration: PT45S, PT2M, PT1H5M3S (at least PT1S)."""
    total = max(1, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}H" if hours else "", f"{minutes}M" if minutes else "", f"{secs}S" if secs else ""]
    return "PT" + "".join(parts)


def typical_run_seconds(session: Session, export_type: str, export_format: str) -> float:
    """Median processing time of the last 20 completed exports of this type and format."""
    rows = session.execute(
        select(ExportRow.started_at, ExportRow.completed_at)
        .where(ExportRow.type == export_type, ExportRow.format == export_format,
               ExportRow.status == ExportStatus.COMPLETED.value, ExportRow.started_at.is_not(None),
               ExportRow.completed_at.is_not(None))
        .order_by(ExportRow.completed_at.desc()).limit(20)
    ).all()
    durations = [(done - start).total_seconds() for start, done in rows if done and start and done >= start]
    if not durations:
        return _DEFAULT_SECONDS.get(export_format, 5.0)
    return float(statistics.median(durations))


def estimate_seconds(session: Session, runtime: Runtime, export_type: str, export_format: str) -> float:
    """This job's run time plus its share of the queue ahead of it."""
    per_job = typical_run_seconds(session, export_type, export_format)
    queued = session.scalar(select(func.count()).select_from(ExportRow)
                            .where(ExportRow.status.in_(ACTIVE))) or 0
    workers = max(1, runtime.settings.worker_concurrency)
    return per_job * (1 + queued / workers)


def _idempotent_match(session: Session, tenant: str, key: str, digest: str) -> ExportRow | None:
    existing = session.scalar(select(ExportRow).where(ExportRow.tenant == tenant,
                                                      ExportRow.idempotency_key == key))
    if existing is None:
        return None
    if existing.created_at < utcnow() - IDEMPOTENCY_WINDOW:
        existing.idempotency_key = None  # the key is free again after 24 h
        session.flush()
        return None
    if existing.request_hash != digest:
        raise ConflictError("Idempotency-Key was already used with a different request body",
                            export_id=existing.id)
    return existing


def _check_tenant_limit(session: Session, runtime: Runtime, tenant: str, per_job: float) -> None:
    limit = runtime.settings.tenant_max_concurrent_exports
    active = session.scalar(select(func.count()).select_from(ExportRow)
                            .where(ExportRow.tenant == tenant, ExportRow.status.in_(ACTIVE))) or 0
    if active >= limit:
        raise RateLimitedError(f"tenant {tenant} already has {active} exports queued or running (limit {limit})",
                               retry_after=max(1, round(per_job)))


def capped_not_found(exc: DataNotFoundError) -> DataNotFoundError:
    """The same 404 naming at most MAX_NAMED_MISSING of the ids or refs, plus how many more there are."""
    scope = exc.details.get("scope")
    if not isinstance(scope, dict):
        return exc
    long_lists = {k: v for k, v in scope.items() if isinstance(v, list) and len(v) > MAX_NAMED_MISSING}
    if not long_lists:
        return exc
    key, values = next(iter(long_lists.items()))
    head, _, _rest = exc.message.partition(": ")
    shown = values[:MAX_NAMED_MISSING]
    message = f"{head}: {', '.join(map(str, shown))} and {len(values) - len(shown)} more"
    return DataNotFoundError(message, **{**exc.details, "scope": {**scope, key: shown},
                                         "missing_count": len(values)})


def check_submission(runtime: Runtime, tenant: str, request: ExportRequest) -> None:
    """What the request model cannot know: the tenant's own template, and the delivery config."""
    check_template(request, tenant)
    if request.delivery is not None:
        validate_delivery(request.delivery.method, request.delivery.config, runtime.settings.webhook_allow_hosts)


def submit(runtime: Runtime, *, tenant: str, request: ExportRequest, actor: str, idempotency_key: str | None,
           source_address: str | None) -> Submission:
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 256):
        raise InvalidInputError("Idempotency-Key must be 1-256 characters")
    check_submission(runtime, tenant, request)
    try:
        return _submit(runtime, tenant=tenant, request=request, actor=actor, idempotency_key=idempotency_key,
                       source_address=source_address)
    except DataNotFoundError as exc:
        capped = capped_not_found(exc)
        if capped is exc:
            raise
        raise capped from None


def _submit(runtime: Runtime, *, tenant: str, request: ExportRequest, actor: str, idempotency_key: str | None,
            source_address: str | None) -> Submission:
    digest = request_hash(request)
    for attempt in range(2):
        try:
            with transaction(runtime.sessions) as session:
                if idempotency_key is not None:
                    first = _idempotent_match(session, tenant, idempotency_key, digest)
                    if first is not None:
                        estimate = estimate_seconds(session, runtime, first.type, first.format)
                        return Submission(first, True, estimate)
                estimate = estimate_seconds(session, runtime, request.type.value, request.format)
                _check_tenant_limit(session, runtime, tenant, typical_run_seconds(
                    session, request.type.value, request.format))
                row = create_export(runtime, session, tenant=tenant, request=request, requested_by=actor,
                                    idempotency_key=idempotency_key, source_address=source_address)
            BUS.publish(export_event(row, "queued"))
            return Submission(row, False, estimate)
        except IntegrityError:
            if attempt == 1 or idempotency_key is None:
                raise
    raise ConflictError("could not record the export; retry")  # pragma: no cover


def get_export(runtime: Runtime, tenant: str, export_id: str) -> ExportRow:
    with transaction(runtime.sessions) as session:
        row = find_export(session, tenant, export_id)
    if row is None:
        raise DataNotFoundError(f"export {export_id} not found", export_id=export_id)
    return row


def cancel(runtime: Runtime, tenant: str, export_id: str) -> ExportRow:
    """A queued job is cancelled at once; a running one stops at its next stage (partial artifacts removed)."""
    with transaction(runtime.sessions) as session:
        row = find_export(session, tenant, export_id)
        if row is None:
            raise DataNotFoundError(f"export {export_id} not found", export_id=export_id)
        now = utcnow()
        if transition(session, export_id, ExportStatus.CANCELLED, expect=ExportStatus.QUEUED,
                      completed_at=now, error="cancelled by request", error_code="cancelled",
                      cancel_requested=True):
            cancelled_now = True
        else:
            result = session.execute(update(ExportRow).where(
                ExportRow.id == export_id, ExportRow.status == ExportStatus.PROCESSING.value)
                .values(cancel_requested=True).execution_options(synchronize_session=False))
            cancelled_now = False
            if result.rowcount != 1:  # type: ignore[attr-defined]
                session.refresh(row)
                raise ConflictError(f"export {export_id} is already {row.status}", export_status=row.status)
        final = session.get(ExportRow, export_id, populate_existing=True)
        assert final is not None
    if cancelled_now:
        BUS.publish(export_event(final, "cancelled", error=final.error))
    return final


def last_delivery_errors(runtime: Runtime, rows: list[ExportRow]) -> dict[str, str]:
    """The error of each export's latest failed delivery attempt, for exports still retrying or failed."""
    wanted = [r.id for r in rows if r.delivery_status in ("retrying", "failed")]
    if not wanted:
        return {}
    errors: dict[str, str] = {}
    with transaction(runtime.sessions) as session:
        for export_id, error in session.execute(
                select(DeliveryAttemptRow.export_id, DeliveryAttemptRow.error)
                .where(DeliveryAttemptRow.export_id.in_(wanted)).order_by(DeliveryAttemptRow.attempt)):
            if error:
                errors[export_id] = error
            else:
                errors.pop(export_id, None)
    return errors


def encode_cursor(row: ExportRow) -> str:
    raw = dumps([row.created_at.isoformat(), row.id], indent=False)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, export_id = loads(raw, name="cursor")
        when = datetime.fromisoformat(created)
        if not isinstance(export_id, str):
            raise ValueError
        return when, export_id
    except (ValueError, TypeError, binascii.Error, InvalidInputError):
        raise InvalidInputError("invalid cursor") from None


def list_exports(runtime: Runtime, tenant: str, *, status: str | None = None, export_type: str | None = None,
                 export_format: str | None = None, created_after: str | None = None,
                 created_before: str | None = None, limit: int = 50,
                 cursor: str | None = None) -> tuple[list[ExportRow], str | None]:
    """Newest first; the cursor names the last row seen (created_at, id)."""
    query = select(ExportRow).where(ExportRow.tenant == tenant)
    if status:
        query = query.where(ExportRow.status == status)
    if export_type:
        query = query.where(ExportRow.type == export_type)
    if export_format:
        query = query.where(ExportRow.format == export_format)
    for value, newer in ((created_after, True), (created_before, False)):
        if value:
            when = parse_time(value)
            if when is None:
                raise InvalidInputError(f"invalid time {value!r}: use ISO 8601")
            query = query.where(ExportRow.created_at >= when if newer else ExportRow.created_at < when)
    if cursor:
        when, last_id = decode_cursor(cursor)
        query = query.where((ExportRow.created_at < when) | ((ExportRow.created_at == when) & (ExportRow.id < last_id)))
    query = query.order_by(ExportRow.created_at.desc(), ExportRow.id.desc()).limit(limit + 1)
    with transaction(runtime.sessions) as session:
        rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)
