"""/api/v1/schedules: recurring exports in the spec's YAML form (JSON or YAML body), run by the scheduler.

Also the in-process loop ``serve`` runs: schedule ticks (unless ``scheduler_enabled`` is off) and delivery
retries, every ``scheduler_interval_seconds``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from exportcenter.api.auth import Principal
from exportcenter.api.context import ApiContext, audited, client_address, context, record, requires
from exportcenter.api.redaction import redact
from exportcenter.db.engine import transaction
from exportcenter.db.models_delivery import ScheduleRow
from exportcenter.errors import ConflictError, ExportCenterError, InvalidInputError, PayloadTooLargeError
from exportcenter.runtime import Runtime
from exportcenter.scheduling import (
    Scheduler,
    ScheduleSpec,
    delete_schedule,
    describe,
    find_schedule,
    list_schedules,
    set_paused,
    upsert_schedule,
)
from exportcenter.scheduling.service import fires_of
from exportcenter.util.jsonio import loads
from exportcenter.util.timeutil import iso_z, utcnow

log = logging.getLogger("exportcenter.api")
router = APIRouter(prefix="/api/v1", tags=["schedules"])
Reader = Annotated[Principal, Depends(requires("export:read"))]
Writer = Annotated[Principal, Depends(requires("export:write"))]
PROBLEMS = {code: {"description": "problem+json", "content": {"application/problem+json": {}}}
            for code in (401, 403, 404, 409, 413, 415, 422)}
MAX_BODY_BYTES = 256 * 1024
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
_SPEC_SCHEMA = {"type": "object", "required": ["name", "cron", "export"], "properties": {
    "name": {"type": "string"}, "cron": {"type": "string", "example": "0 8 * * MON"},
    "timezone": {"type": "string", "example": "Europe/Amsterdam"}, "catch_up": {"enum": ["all", "latest", "skip"]},
    "paused": {"type": "boolean"}, "export": {"type": "object"}, "delivery": {"type": "object"}}}
SPEC_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _SPEC_SCHEMA}, "application/yaml": {"schema": {"type": "string"}}}}}


async def read_spec(request: Request, name: str | None = None) -> ScheduleSpec:
    """One schedule from a JSON or YAML body (the YAML may also be a one-entry ``schedules:`` list)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"schedule body exceeds {MAX_BODY_BYTES} bytes", limit=MAX_BODY_BYTES)
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLargeError(f"schedule body exceeds {MAX_BODY_BYTES} bytes", limit=MAX_BODY_BYTES)
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    document: Any
    if media in YAML_TYPES:
        try:
            document = yaml.safe_load(bytes(raw).decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"body is not valid YAML: {exc}") from None
    elif media in ("application/json", ""):
        try:
            document = loads(bytes(raw))
        except Exception as exc:
            raise InvalidInputError(f"body is not valid JSON: {exc}") from None
    else:
        raise InvalidInputError(f"unsupported content type {media!r}: send application/json or application/yaml")
    if isinstance(document, dict) and "schedules" in document:
        entries = document["schedules"]
        if not isinstance(entries, list) or len(entries) != 1:
            raise InvalidInputError("send exactly one schedule per request")
        document = entries[0]
    if not isinstance(document, dict):
        raise InvalidInputError("a schedule is an object with name, cron, export and optional delivery")
    if name is not None:
        document.setdefault("name", name)
    return _validate(document)


def _validate(document: dict[str, Any]) -> ScheduleSpec:
    try:
        return ScheduleSpec.model_validate(document)
    except ValidationError as exc:
        reasons = [f"{'.'.join(str(p) for p in e['loc']) or 'schedule'}: {e['msg']}" for e in exc.errors()]
        raise InvalidInputError("invalid schedule: " + "; ".join(reasons), errors=reasons) from None



def shown(row: ScheduleRow) -> dict[str, object]:
    """A schedule as the API shows it: secrets in its delivery config are [redacted]."""
    return redact(describe(row))  # type: ignore[no-any-return]

def _own_tenant(spec: ScheduleSpec, principal: Principal) -> ScheduleSpec:
    if spec.tenant not in (None, principal.tenant):
        raise InvalidInputError(f"schedule tenant {spec.tenant!r} is not the caller's tenant {principal.tenant!r}")
    return spec


def _audit_failure(request: Request, principal: Principal, action: str, resource: str,
                   exc: ExportCenterError) -> None:
    record(context(request), tenant=principal.tenant, actor=principal.subject, action=action,
           resource=resource, outcome="failure", detail=f"{exc.code}: {exc.message}"[:2000],
           source_address=client_address(request))


def _write(request: Request, principal: Principal, action: str, resource: str, run: Callable[[], Any]) -> Any:
    """Run a change; the scheduling service audits successes in its transaction, failures are audited here."""
    try:
        return run()
    except ExportCenterError as exc:
        _audit_failure(request, principal, action, resource, exc)
        raise


async def _read_body(request: Request, principal: Principal, action: str, resource: str,
                     name: str | None = None) -> ScheduleSpec:
    try:
        return _own_tenant(await read_spec(request, name), principal)
    except ExportCenterError as exc:
        _audit_failure(request, principal, action, resource, exc)
        raise


def _upsert(ctx: ApiContext, principal: Principal, spec: ScheduleSpec, *, must_exist: bool) -> dict[str, object]:
    with transaction(ctx.runtime.sessions) as session:
        existing = find_schedule(session, principal.tenant, spec.name, required=must_exist)
        if existing is not None and not must_exist:
            raise ConflictError(f"schedule {spec.name} already exists: update it with PUT", schedule=spec.name)
        row = upsert_schedule(session, spec, tenant=principal.tenant, actor=principal.subject, now=utcnow(),
                              settings=ctx.runtime.settings)
        return shown(row)


@router.post("/schedules", status_code=201, responses=PROBLEMS, openapi_extra=SPEC_BODY)  # type: ignore[arg-type]
async def create_schedule(request: Request, response: Response, principal: Writer) -> dict[str, object]:
    """Create a schedule: ``{name, cron, timezone, catch_up, paused, export, delivery}`` as JSON or YAML."""
    ctx = context(request)
    spec = await _read_body(request, principal, "schedule.create", "schedules")
    from starlette.concurrency import run_in_threadpool

    body: dict[str, object] = await run_in_threadpool(
        _write, request, principal, "schedule.create", spec.name,
        lambda: _upsert(ctx, principal, spec, must_exist=False))
    response.headers["Location"] = f"/api/v1/schedules/{body['name']}"
    return body


@router.get("/schedules", responses=PROBLEMS)  # type: ignore[arg-type]
def list_tenant_schedules(request: Request, principal: Reader) -> dict[str, object]:
    """The tenant's schedules with their next fire time (UTC)."""
    ctx = context(request)

    def run() -> dict[str, object]:
        with transaction(ctx.runtime.sessions) as session:
            return {"items": [shown(r) for r in list_schedules(session, principal.tenant)]}

    result: dict[str, object] = audited(request, principal, "schedule.list", "schedules", run)
    return result


@router.get("/schedules/{name}", responses=PROBLEMS)  # type: ignore[arg-type]
def get_schedule(name: str, request: Request, principal: Reader) -> dict[str, object]:
    """One schedule (by name or id) and its latest fires."""
    ctx = context(request)

    def run() -> dict[str, object]:
        with transaction(ctx.runtime.sessions) as session:
            row = find_schedule(session, principal.tenant, name)
            assert row is not None
            fires = [{"fire_time": iso_z(f.fire_time), "fired_at": iso_z(f.fired_at), "kind": f.kind,
                      "outcome": f.outcome, "export_id": f.export_id, "error": f.error}
                     for f in fires_of(session, row.id)]
            return {**shown(row), "fires": fires}

    result: dict[str, object] = audited(request, principal, "schedule.read", name, run)
    return result


@router.put("/schedules/{name}", responses=PROBLEMS, openapi_extra=SPEC_BODY)  # type: ignore[arg-type]
async def update_schedule(name: str, request: Request, principal: Writer) -> dict[str, object]:
    """Replace a schedule (fire history kept); the body's name, when given, must be the path's."""
    ctx = context(request)
    spec = await _read_body(request, principal, "schedule.update", name, name)

    def run() -> dict[str, object]:
        with transaction(ctx.runtime.sessions) as session:
            row = find_schedule(session, principal.tenant, name)
            assert row is not None
            if spec.name != row.name:
                raise InvalidInputError(f"body names schedule {spec.name!r}, the path {row.name!r}: rename by "
                                        "creating a new schedule and deleting this one")
        return _upsert(ctx, principal, spec, must_exist=True)

    from starlette.concurrency import run_in_threadpool

    result: dict[str, object] = await run_in_threadpool(_write, request, principal, "schedule.update", name, run)
    return result


def _pause(request: Request, principal: Principal, name: str, paused: bool) -> dict[str, object]:
    ctx = context(request)

    def run() -> dict[str, object]:
        with transaction(ctx.runtime.sessions) as session:
            return shown(set_paused(session, principal.tenant, name, paused, actor=principal.subject,
                                       now=utcnow()))

    result: dict[str, object] = _write(request, principal, "schedule.pause" if paused else "schedule.resume",
                                       name, run)
    return result


@router.post("/schedules/{name}/pause", responses=PROBLEMS)  # type: ignore[arg-type]
def pause_schedule(name: str, request: Request, principal: Writer) -> dict[str, object]:
    """Stop firing until resumed."""
    return _pause(request, principal, name, True)


@router.post("/schedules/{name}/resume", responses=PROBLEMS)  # type: ignore[arg-type]
def resume_schedule(name: str, request: Request, principal: Writer) -> dict[str, object]:
    """Fire again from now on (fires missed while paused are not caught up)."""
    return _pause(request, principal, name, False)


@router.delete("/schedules/{name}", status_code=204, responses=PROBLEMS)  # type: ignore[arg-type]
def remove_schedule(name: str, request: Request, principal: Writer) -> Response:
    """Delete a schedule and its fire history (exports it created are kept)."""
    ctx = context(request)

    def run() -> None:
        with transaction(ctx.runtime.sessions) as session:
            delete_schedule(session, principal.tenant, name, actor=principal.subject)

    _write(request, principal, "schedule.delete", name, run)
    return Response(status_code=204)


@router.post("/schedules/{name}/run-now", status_code=202, responses=PROBLEMS)  # type: ignore[arg-type]
def run_schedule_now(name: str, request: Request, response: Response, principal: Writer) -> dict[str, object]:
    """Fire the schedule once, now, outside its cron: queues its export (202 + Location)."""
    ctx = context(request)

    def run() -> dict[str, object]:
        with transaction(ctx.runtime.sessions) as session:
            row = find_schedule(session, principal.tenant, name)
        assert row is not None
        result = Scheduler(ctx.runtime).run_now(row)
        if result.outcome == "failed":
            raise InvalidInputError(f"schedule {row.name} could not fire: {result.error}", schedule=row.name)
        return {"schedule": result.schedule, "fire_time": iso_z(result.fire_time), "outcome": result.outcome,
                "export_id": result.export_id}

    body: dict[str, object] = audited(request, principal, "schedule.run_now", name, run)
    if body["export_id"]:
        ctx.wake_executor()
        response.headers["Location"] = f"/api/v1/exports/{body['export_id']}"
    return body


class ScheduleLoop:
    """The scheduler (when enabled) and the delivery retry task, in one daemon thread of the API process."""

    def __init__(self, runtime: Runtime, *, wake: Callable[[], None] | None = None, schedules: bool = True) -> None:
        self.runtime = runtime
        self.schedules = schedules
        self.scheduler = Scheduler(runtime, on_created=(lambda _export_id: wake()) if wake else None)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="exportcenter-scheduler", daemon=True)

    def _retries(self, now: datetime) -> None:
        from exportcenter.delivery import retry_due_deliveries

        retry_due_deliveries(self.runtime, now)

    def _run(self) -> None:
        interval = self.runtime.settings.scheduler_interval_seconds
        if self.schedules:
            self.scheduler.run_forever(self.stop_event, interval, also=self._retries)
            return
        while not self.stop_event.is_set():
            try:
                self._retries(utcnow())
            except Exception:
                log.exception("delivery retry pass failed")
            self.stop_event.wait(interval)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=30)
