"""The Console (a static single-page UI at /console, no build step), GET /api/v1/formats (exactly which
type x format pairs are valid, for the Console's form and any client) and GET
/api/v1/exports/{id}/deliveries (an export's delivery receipts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel

from exportcenter.api.auth import Principal
from exportcenter.api.context import audited, context, requires
from exportcenter.db.engine import transaction
from exportcenter.errors import DataNotFoundError
from exportcenter.model import SUPPORTED_FORMATS, TYPE_DESCRIPTIONS
from exportcenter.pipeline.run import find_export
from exportcenter.util.timeutil import iso_z

router = APIRouter(tags=["console"])
CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"
_MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


class ExportTypeFormats(BaseModel):
    type: str
    description: str
    formats: list[str]


class FormatCatalog(BaseModel):
    types: list[ExportTypeFormats]


@router.get("/api/v1/formats", response_model=FormatCatalog, tags=["exports"])
def formats() -> FormatCatalog:
    """Every export type with its description and the formats it supports (the only valid pairs)."""
    return FormatCatalog(types=[
        ExportTypeFormats(type=t.value, description=TYPE_DESCRIPTIONS.get(t, ""), formats=[f.value for f in fs])
        for t, fs in SUPPORTED_FORMATS.items()])


class DeliveryReceipt(BaseModel):
    method: str
    attempt: int
    outcome: str
    started_at: str | None
    finished_at: str | None
    response_code: int | None = None
    error: str | None = None
    detail: str | None = None
    next_attempt_at: str | None = None


class DeliveryReceipts(BaseModel):
    export_id: str
    delivery_status: str | None
    items: list[DeliveryReceipt]


@router.get("/api/v1/exports/{export_id}/deliveries", response_model=DeliveryReceipts, tags=["exports"],
            responses={code: {"content": {"application/problem+json": {}}} for code in (401, 403, 404)})
def deliveries(export_id: str, request: Request,
               principal: Annotated[Principal, Depends(requires("export:read"))]) -> DeliveryReceipts:
    """Every delivery attempt of one export, oldest first: method, outcome, peer answer, next retry."""
    from exportcenter.delivery.attempts import attempts_for

    ctx = context(request)

    def run() -> DeliveryReceipts:
        with transaction(ctx.runtime.sessions) as session:
            row = find_export(session, principal.tenant, export_id)
            if row is None:
                raise DataNotFoundError(f"export {export_id} not found", export_id=export_id)
            items = [DeliveryReceipt(method=a.method, attempt=a.attempt, outcome=a.outcome,
                                     started_at=iso_z(a.started_at), finished_at=iso_z(a.finished_at),
                                     response_code=a.response_code, error=a.error, detail=a.detail,
                                     next_attempt_at=iso_z(a.next_attempt_at))
                     for a in attempts_for(session, export_id)]
            return DeliveryReceipts(export_id=export_id, delivery_status=row.delivery_status, items=items)

    result: DeliveryReceipts = audited(request, principal, "export.deliveries", export_id, run)
    return result


@router.get("/console", include_in_schema=False, response_model=None)
def console_index() -> FileResponse:
    return _static("index.html")


@router.get("/console/", include_in_schema=False, response_model=None)
def console_slash() -> RedirectResponse:
    return RedirectResponse("/console", status_code=308)


@router.get("/console/{name}", include_in_schema=False, response_model=None)
def console_file(name: str) -> FileResponse:
    return _static(name)


def _static(name: str) -> FileResponse:
    path = CONSOLE_DIR / name
    media = _MEDIA.get(path.suffix)
    if media is None or "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise DataNotFoundError(f"no console file {name!r}")
    return FileResponse(path, media_type=media, headers=_SECURITY_HEADERS)
