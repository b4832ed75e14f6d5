"""/api/v1/exports: submit, status, list, cancel, download links; /api/v1/downloads: the signed files."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import FileResponse

from exportcenter.api import export_service as service
from exportcenter.api.auth import Principal
from exportcenter.api.context import audited, client_address, context, record, requires
from exportcenter.api.schemas import DownloadLink, ExportJob, ExportList, ExportResponse, export_response
from exportcenter.api.signing import content_type_for
from exportcenter.db.engine import transaction
from exportcenter.errors import ConflictError, DataNotFoundError, ExportCenterError, InvalidInputError, StorageError
from exportcenter.jobs.state import ExportStatus
from exportcenter.model import ExportFormat, ExportType
from exportcenter.pipeline.request import ExportRequest
from exportcenter.pipeline.run import find_export
from exportcenter.storage import export_prefix
from exportcenter.util.ids import validate_artifact_name
from exportcenter.util.jsonio import dumps
from exportcenter.util.timeutil import iso_z

router = APIRouter(prefix="/api/v1", tags=["exports"])
Reader = Annotated[Principal, Depends(requires("export:read"))]
Writer = Annotated[Principal, Depends(requires("export:write"))]
PROBLEMS = {code: {"description": "problem+json", "content": {"application/problem+json": {}}}
            for code in (401, 403, 404, 409, 422, 429)}


@router.post("/exports", status_code=202, response_model=ExportJob, responses=PROBLEMS)  # type: ignore[arg-type]
def submit_export(body: ExportRequest, request: Request, response: Response, principal: Writer,
                  idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> ExportJob:
    """Queue an export (spec step 1-2). The same Idempotency-Key and body within 24 h return the first job."""
    ctx = context(request)
    try:
        submission = service.submit(ctx.runtime, tenant=principal.tenant, request=body, actor=principal.subject,
                                    idempotency_key=idempotency_key, source_address=client_address(request))
    except ExportCenterError as exc:
        record(ctx, tenant=principal.tenant, actor=principal.subject, action="export.create",
               resource=f"{body.type.value}/{body.format}", outcome="failure",
               detail=f"{exc.code}: {exc.message}"[:2000], source_address=client_address(request))
        raise
    row = submission.row
    if submission.replayed:
        response.headers["Idempotent-Replayed"] = "true"
        record(ctx, tenant=principal.tenant, actor=principal.subject, action="export.create", resource=row.id,
               outcome="replayed", source_address=client_address(request))
    else:
        ctx.wake_executor()
    response.headers["Location"] = f"/api/v1/exports/{row.id}"
    return ExportJob(export_id=row.id, status=row.status, type=row.type, format=row.format,  # type: ignore[arg-type]
                     created_at=iso_z(row.created_at) or "",
                     estimated_completion=service.iso_duration(submission.estimate_seconds))


def _format_filter(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return ExportFormat.parse(value).value
    except ValueError:
        known = ", ".join(f.value for f in ExportFormat)
        raise InvalidInputError(f"query parameter 'format': unknown format {value!r}; known formats: {known}",
                                parameter="format") from None


@router.get("/exports", response_model=ExportList, responses=PROBLEMS)  # type: ignore[arg-type]
def list_exports(request: Request, principal: Reader,
                 status: Annotated[ExportStatus | None, Query()] = None,
                 type: Annotated[ExportType | None, Query()] = None,
                 format: Annotated[str | None, Query(max_length=32)] = None,
                 created_after: Annotated[str | None, Query(max_length=64)] = None,
                 created_before: Annotated[str | None, Query(max_length=64)] = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50,
                 cursor: Annotated[str | None, Query(max_length=512)] = None) -> ExportList:
    """The tenant's exports, newest first, filtered; pass ``next_cursor`` back as ``cursor`` for more."""
    ctx = context(request)

    def run() -> ExportList:
        rows, next_cursor = service.list_exports(
            ctx.runtime, principal.tenant, status=status.value if status else None,
            export_type=type.value if type else None, export_format=_format_filter(format),
            created_after=created_after, created_before=created_before, limit=limit, cursor=cursor)
        errors = service.last_delivery_errors(ctx.runtime, rows)
        return ExportList(items=[export_response(r, errors.get(r.id)) for r in rows], next_cursor=next_cursor)

    result: ExportList = audited(request, principal, "export.list", "exports", run)
    return result


@router.get("/exports/{export_id}", response_model=ExportResponse, responses=PROBLEMS)  # type: ignore[arg-type]
def get_export(export_id: str, request: Request, principal: Reader) -> ExportResponse:
    """The spec's ExportResponse with progress, stage, warnings and the error reason."""
    ctx = context(request)
    row = audited(request, principal, "export.read", export_id,
                  lambda: service.get_export(ctx.runtime, principal.tenant, export_id))
    return export_response(row, service.last_delivery_errors(ctx.runtime, [row]).get(row.id))


@router.post("/exports/{export_id}/cancel", response_model=ExportResponse, responses=PROBLEMS)  # type: ignore[arg-type]
def cancel_export(export_id: str, request: Request, principal: Writer) -> ExportResponse:
    """Cancel: a queued export at once, a running one at its next stage (its partial artifacts removed)."""
    ctx = context(request)
    row = audited(request, principal, "export.cancel", export_id,
                  lambda: service.cancel(ctx.runtime, principal.tenant, export_id))
    return export_response(row)


@router.get("/exports/{export_id}/download", response_model=DownloadLink, responses=PROBLEMS)  # type: ignore[arg-type]
def download_link(export_id: str, request: Request, principal: Reader,
                  artifact: Annotated[str | None, Query(max_length=256)] = None) -> DownloadLink:
    """A signed, expiring URL for one artifact (default: the first), as in spec step 7."""
    ctx = context(request)

    def run() -> DownloadLink:
        if artifact is not None:
            validate_artifact_name(artifact)
        row = service.get_export(ctx.runtime, principal.tenant, export_id)
        if row.status != ExportStatus.COMPLETED.value:
            raise ConflictError(f"export {export_id} is {row.status}; only completed exports can be downloaded",
                                export_status=row.status)
        entries = {a["name"]: a for a in row.artifacts or []}
        name = artifact or next(iter(entries), None)
        if name == "manifest.json" and row.manifest is not None:
            data = dumps(row.manifest)
            entries[name] = {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        if name is None or name not in entries:
            raise DataNotFoundError(f"export {export_id} has no artifact {artifact!r}",
                                    artifacts=sorted(entries))
        ttl = ctx.runtime.settings.download_url_ttl_seconds
        key = f"{row.storage_prefix or export_prefix(row.tenant, row.created_at, row.id)}/{name}"
        native = ctx.runtime.store.presigned_get(key, ttl)
        if native is not None:
            url, expires = native, int(time.time()) + ttl
        else:
            url, expires = ctx.signer.sign_download(row.id, name, principal.tenant, ttl)
        return DownloadLink(download_url=url, expires_at=iso_z(datetime.fromtimestamp(expires, UTC)) or "",
                            artifact=name, size=entries[name]["size"], sha256=entries[name]["sha256"])

    link: DownloadLink = audited(request, principal, "export.download_link", export_id, run)
    return link


@router.get("/downloads/{export_id}/{name}", response_class=FileResponse,
            responses={403: PROBLEMS[403], 404: PROBLEMS[404]})
def signed_file(export_id: str, name: str, request: Request,
                tenant: Annotated[str | None, Query(max_length=128)] = None,
                expires: Annotated[str | None, Query(max_length=16)] = None,
                sig: Annotated[str | None, Query(max_length=128)] = None) -> FileResponse:
    """The artifact behind a signed link (filesystem store), with Range support. No bearer token needed."""
    ctx = context(request)
    ctx.signer.verify("GET", ctx.signer.download_path(export_id, name), tenant, expires, sig)
    assert tenant is not None
    validate_artifact_name(name)
    with transaction(ctx.runtime.sessions) as session:
        row = find_export(session, tenant, export_id)
    names = {a["name"] for a in (row.artifacts if row else None) or []} | {"manifest.json"}
    if row is None or row.status != ExportStatus.COMPLETED.value or name not in names:
        raise DataNotFoundError("artifact not found")
    key = f"{row.storage_prefix or export_prefix(row.tenant, row.created_at, row.id)}/{name}"
    path = ctx.runtime.store.local_path(key)
    if path is None or not path.is_file():
        raise StorageError("artifact is not available from this server")
    record(ctx, tenant=tenant, actor="signed-url", action="export.download", resource=f"{export_id}/{name}",
           outcome="success", source_address=client_address(request))
    return FileResponse(path, media_type=content_type_for(name), filename=name)
