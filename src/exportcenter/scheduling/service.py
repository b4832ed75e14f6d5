"""Schedule CRUD shared by the CLI and the API: add/update, list, pause, resume, delete, look up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exportcenter.catalog import audit
from exportcenter.config import Settings, get_settings
from exportcenter.db.models_delivery import ScheduleFireRow, ScheduleRow
from exportcenter.errors import DataNotFoundError, InvalidInputError
from exportcenter.pipeline.request import parse_request
from exportcenter.scheduling.model import ScheduleSpec
from exportcenter.scheduling.timing import fire_variables, next_fire, pin_date_range, render_fields
from exportcenter.util.ids import new_id, validate_tenant
from exportcenter.util.timeutil import iso_z


def check_request(spec: ScheduleSpec, tenant: str, at: datetime) -> None:
    """Fail now, not at 08:00 next Monday: the export must be a valid request once its fields are rendered."""
    build_request_body(spec, tenant, at)


def build_request_body(spec: ScheduleSpec, tenant: str, fire_time: datetime) -> dict[str, object]:
    variables = fire_variables(fire_time, spec.timezone, tenant, spec.name)
    body = pin_date_range(render_fields(dict(spec.export), variables), fire_time)
    if spec.delivery is not None:
        body["delivery"] = render_fields(spec.delivery.model_dump(mode="json", exclude_none=True), variables)
    parse_request(body, tenant=tenant)  # raises InvalidInputError with every problem
    return body


def upsert_schedule(session: Session, spec: ScheduleSpec, *, tenant: str, actor: str, now: datetime,
                    settings: Settings | None = None) -> ScheduleRow:
    """Create or replace a schedule after checking it as a submitted export would be (see validation.py)."""
    from exportcenter.scheduling.validation import check_schedule

    """Create the schedule, or replace the one with the same name (its fire history is kept)."""
    tenant = validate_tenant(spec.tenant or tenant)
    check_schedule(session, settings or get_settings(), spec, tenant, now)
    row = find_schedule(session, tenant, spec.name, required=False)
    stored = spec.model_dump(mode="json", exclude_none=True)
    upcoming = next_fire(spec.cron, spec.timezone, now)
    if row is None:
        row = ScheduleRow(id=new_id("sch"), tenant=tenant, name=spec.name, created_at=now, created_by=actor[:256])
        session.add(row)
        action = "schedule.create"
    else:
        action = "schedule.update"
    row.cron, row.timezone, row.catch_up, row.paused = spec.cron, spec.timezone, spec.catch_up, spec.paused
    row.spec, row.updated_at, row.next_fire_at = stored, now, upcoming
    session.flush()
    audit.record(session, tenant=tenant, actor=actor, action=action, resource=row.id,
                 outcome="success", detail=f"{spec.name} '{spec.cron}' {spec.timezone}")
    return row


def find_schedule(session: Session, tenant: str, name_or_id: str, *, required: bool = True) -> ScheduleRow | None:
    row = session.scalar(select(ScheduleRow).where(ScheduleRow.tenant == tenant,
                                                   (ScheduleRow.name == name_or_id) | (ScheduleRow.id == name_or_id)))
    if row is None and required:
        raise DataNotFoundError(f"schedule not found: {name_or_id}", scope={"schedule": name_or_id})
    return row


def list_schedules(session: Session, tenant: str | None = None) -> list[ScheduleRow]:
    query = select(ScheduleRow).order_by(ScheduleRow.tenant, ScheduleRow.name)
    if tenant is not None:
        query = query.where(ScheduleRow.tenant == tenant)
    return list(session.scalars(query))


def set_paused(session: Session, tenant: str, name_or_id: str, paused: bool, *, actor: str,
               now: datetime) -> ScheduleRow:
    """Pause, or resume from now on: fires missed while paused are not caught up."""
    row = find_schedule(session, tenant, name_or_id)
    assert row is not None
    row.paused = paused
    row.updated_at = now
    row.spec = {**row.spec, "paused": paused}
    if not paused:
        row.next_fire_at = next_fire(row.cron, row.timezone, now)
    audit.record(session, tenant=tenant, actor=actor, action="schedule.pause" if paused else "schedule.resume",
                 resource=row.id, outcome="success", detail=row.name)
    return row


def delete_schedule(session: Session, tenant: str, name_or_id: str, *, actor: str) -> None:
    row = find_schedule(session, tenant, name_or_id)
    assert row is not None
    session.query(ScheduleFireRow).filter(ScheduleFireRow.schedule_id == row.id).delete()
    session.delete(row)
    audit.record(session, tenant=tenant, actor=actor, action="schedule.delete", resource=row.id,
                 outcome="success", detail=row.name)


def fires_of(session: Session, schedule_id: str, limit: int = 50) -> list[ScheduleFireRow]:
    return list(session.scalars(select(ScheduleFireRow).where(ScheduleFireRow.schedule_id == schedule_id)
                                .order_by(ScheduleFireRow.fire_time.desc()).limit(limit)))


def spec_of(row: ScheduleRow) -> ScheduleSpec:
    try:
        return ScheduleSpec.model_validate(row.spec)
    except ValueError as exc:
        raise InvalidInputError(f"stored schedule {row.name} is no longer valid: {exc}") from exc


def describe(row: ScheduleRow) -> dict[str, object]:
    return {"id": row.id, "tenant": row.tenant, "name": row.name, "cron": row.cron, "timezone": row.timezone,
            "catch_up": row.catch_up, "paused": row.paused, "next_fire_at": iso_z(row.next_fire_at),
            "last_fire_at": iso_z(row.last_fire_at), "spec": row.spec}
