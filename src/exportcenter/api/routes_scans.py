"""/api/v1/scans: upload any file `ingest` accepts (multipart), and list what is stored."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exportcenter.api.auth import Principal
from exportcenter.api.context import audited, client_address, context, requires
from exportcenter.api.schemas import IngestResponse, ScanList, scan_info
from exportcenter.catalog.documents import ingest
from exportcenter.db.engine import transaction
from exportcenter.db.models import ScanRow
from exportcenter.errors import InvalidInputError, PayloadTooLargeError

router = APIRouter(prefix="/api/v1", tags=["scans"])
UPLOAD_PATH = "/api/v1/scans"
MULTIPART_OVERHEAD = 64 * 1024
PROBLEMS = {code: {"description": "problem+json", "content": {"application/problem+json": {}}}
            for code in (401, 403, 413, 422)}


class UploadLimit:
    """Stops reading an upload body as soon as it exceeds the limit (before it is buffered)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != UPLOAD_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes + MULTIPART_OVERHEAD
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            scope.setdefault("state", {})["upload_too_large"] = True
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLargeError(self._reason())
            return message

        await self.app(scope, limited_receive, send)

    def _reason(self) -> str:
        return f"upload exceeds the limit of {self.max_bytes} bytes"


UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


@router.post("/scans", status_code=201, response_model=IngestResponse, responses=PROBLEMS,  # type: ignore[arg-type]
             openapi_extra=UPLOAD_BODY)
async def upload_scan(request: Request,
                      principal: Annotated[Principal, Depends(requires("export:write"))]) -> IngestResponse:
    """Multipart upload (field ``file``) of a Trivy/Grype/CycloneDX/SPDX/OpenVEX/CSAF/SARIF document."""
    ctx = context(request)
    limit = ctx.runtime.settings.max_upload_bytes
    if getattr(request.state, "upload_too_large", False):
        raise PayloadTooLargeError(f"upload exceeds the limit of {limit} bytes", limit=limit)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidInputError("send the file as multipart/form-data in a field named 'file'")
    try:
        form = await request.form(max_files=1, max_fields=10)
    except PayloadTooLargeError:
        raise
    except Exception as exc:
        raise InvalidInputError(f"malformed multipart body: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInputError("multipart field 'file' is missing")
    content = await upload.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLargeError(f"upload exceeds the limit of {limit} bytes", limit=limit)
    name = (upload.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:255] or "upload"
    sessions = ctx.runtime.sessions

    def run() -> IngestResponse:
        result = ingest(sessions, tenant=principal.tenant, name=name, content=content,
                        actor=principal.subject, source_address=client_address(request))
        return IngestResponse(document_id=result.document_id, name=result.name, digest=result.digest,
                              format=result.source_format, kinds=result.kinds, new=result.created,
                              ids=result.ids, counts=result.counts, warnings=result.warnings)

    from starlette.concurrency import run_in_threadpool

    response: IngestResponse = await run_in_threadpool(
        audited, request, principal, "scan.upload", name, run, f"{len(content)} bytes")
    return response


@router.get("/scans", response_model=ScanList, responses=PROBLEMS)  # type: ignore[arg-type]
def list_scans(request: Request, principal: Annotated[Principal, Depends(requires("export:read"))],
               kind: Annotated[Literal["scan", "sbom", "code_guard"] | None, Query()] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100,
               after: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
                                                 description="last id of the previous page")] = None,
               ) -> ScanList:
    """Stored scans, SBOMs and code-guard runs of the tenant, by id."""
    ctx = context(request)

    def run() -> ScanList:
        query = select(ScanRow).where(ScanRow.tenant == principal.tenant)
        if kind:
            query = query.where(ScanRow.kind == kind)
        if after:
            query = query.where(ScanRow.id > after)
        with transaction(ctx.runtime.sessions) as session:
            rows = list(session.scalars(query.order_by(ScanRow.id).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return ScanList(items=[scan_info(r) for r in rows], next_cursor=rows[-1].id if more and rows else None)

    result: ScanList = audited(request, principal, "scan.list", "scans", run)
    return result
