"""/api/v1/templates (a tenant's own PDF template, ``custom-<tenant>``) and /api/v1/tenant/branding.

Reads need ``export:read``; changes need ``export:admin`` (they alter every report of the tenant).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from exportcenter.api.auth import Principal
from exportcenter.api.context import audited, client_address, context, record, requires
from exportcenter.db.engine import transaction
from exportcenter.errors import ExportCenterError, InvalidInputError, PayloadTooLargeError
from exportcenter.renderers.pdf.templating import BUILTIN_TEMPLATES
from exportcenter.tenancy import (
    delete_template,
    describe_template,
    get_branding,
    get_template,
    list_templates,
    put_template,
    set_branding,
    template_name_for,
)
from exportcenter.tenancy.templates import MAX_TEMPLATE_BYTES, decode_source

router = APIRouter(prefix="/api/v1", tags=["templates"])
Reader = Annotated[Principal, Depends(requires("export:read"))]
Admin = Annotated[Principal, Depends(requires("export:admin"))]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": "problem+json", "content": {"application/problem+json": {}}}
    for code in (401, 403, 404, 413, 422)}
TEMPLATE_BODY = {"requestBody": {"required": True, "content": {
    "text/html": {"schema": {"type": "string", "description": "Jinja2 template source (UTF-8)"}}}}}
BRANDING_EXAMPLE = {"title": "Acme Security Report", "company": "Acme Corp", "primary_color": "#1e3a5f",
                    "accent_color": "#0ea5e9", "logo": "data:image/png;base64,iVBORw0KGgo..."}


async def _read_source(request: Request) -> str:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_TEMPLATE_BYTES:
        raise PayloadTooLargeError(f"template is larger than {MAX_TEMPLATE_BYTES} bytes", limit=MAX_TEMPLATE_BYTES)
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_TEMPLATE_BYTES:
            raise PayloadTooLargeError(f"template is larger than {MAX_TEMPLATE_BYTES} bytes",
                                       limit=MAX_TEMPLATE_BYTES)
    return decode_source(bytes(raw))


@router.get("/templates", responses=PROBLEMS)
def list_tenant_templates(request: Request, principal: Reader) -> dict[str, object]:
    """Built-in PDF templates and the tenant's own (its name is always ``custom-<tenant>``)."""
    ctx = context(request)

    def run() -> dict[str, object]:
        with transaction(ctx.runtime.sessions) as session:
            custom = [describe_template(row) for row in list_templates(session, principal.tenant)]
        return {"builtin": list(BUILTIN_TEMPLATES), "custom": custom,
                "custom_name": template_name_for(principal.tenant)}

    result: dict[str, object] = audited(request, principal, "template.list", "templates", run)
    return result


@router.get("/templates/{name}", responses=PROBLEMS)
def get_tenant_template(name: str, request: Request, principal: Reader) -> dict[str, object]:
    """The tenant's template with its source and sha256 (another tenant's template is simply not found)."""
    ctx = context(request)

    def run() -> dict[str, object]:
        with transaction(ctx.runtime.sessions) as session:
            return describe_template(get_template(session, principal.tenant, name), with_source=True)

    result: dict[str, object] = audited(request, principal, "template.read", name, run)
    return result


@router.put("/templates/{name}", responses={**PROBLEMS, 201: {"description": "created"}},
            openapi_extra=TEMPLATE_BODY)
async def put_tenant_template(name: str, request: Request, response: Response, principal: Admin) -> dict[str, object]:
    """Upload (create or replace) the tenant's template; it must compile and render a sample report in the
    sandbox, else 422 with the reason. Use it with ``options.template = "custom-<tenant>"``."""
    ctx = context(request)
    address = client_address(request)
    try:
        source = await _read_source(request)
    except InvalidInputError as exc:
        _audit_failure(request, principal, "template.upload", name, exc)
        raise

    def run() -> tuple[dict[str, object], bool]:
        with transaction(ctx.runtime.sessions) as session:
            row, created = put_template(session, principal.tenant, name, source, actor=principal.subject,
                                        source_address=address)
            return describe_template(row), created

    described, created = await run_in_threadpool(_change, request, principal, "template.upload", name, run)
    if created:
        response.status_code = 201
        response.headers["Location"] = f"/api/v1/templates/{name}"
    return described  # type: ignore[no-any-return]


def _audit_failure(request: Request, principal: Principal, action: str, resource: str,
                   exc: ExportCenterError) -> None:
    record(context(request), tenant=principal.tenant, actor=principal.subject, action=action, resource=resource,
           outcome="failure", detail=f"{exc.code}: {exc.message}"[:2000], source_address=client_address(request))


def _change(request: Request, principal: Principal, action: str, resource: str, run: Callable[[], Any]) -> Any:
    """Run a change: the tenancy functions audit successes in their transaction; failures are audited here."""
    try:
        return run()
    except ExportCenterError as exc:
        _audit_failure(request, principal, action, resource, exc)
        raise


@router.delete("/templates/{name}", status_code=204, responses=PROBLEMS)
def delete_tenant_template(name: str, request: Request, principal: Admin) -> Response:
    """Remove the tenant's template; exports asking for it then fall back to the default with a warning."""
    ctx = context(request)

    def run() -> None:
        with transaction(ctx.runtime.sessions) as session:
            delete_template(session, principal.tenant, name, actor=principal.subject,
                            source_address=client_address(request))

    _change(request, principal, "template.delete", name, run)
    return Response(status_code=204)


@router.get("/tenant/branding", responses=PROBLEMS)
def get_tenant_branding(request: Request, principal: Reader) -> dict[str, object]:
    """The tenant's PDF branding (unset fields are null: the house defaults apply)."""
    ctx = context(request)

    def run() -> dict[str, object]:
        with transaction(ctx.runtime.sessions) as session:
            return dict(get_branding(session, principal.tenant).model_dump())

    result: dict[str, object] = audited(request, principal, "tenant.branding.read", "branding", run)
    return result


@router.put("/tenant/branding", responses=PROBLEMS)
def put_tenant_branding(request: Request, principal: Admin,
                        body: Annotated[dict[str, Any], Body(examples=[BRANDING_EXAMPLE])]) -> dict[str, object]:
    """Replace the branding: title, company, logo (``data:image/...;base64,...``), primary/accent colour."""
    ctx = context(request)

    def run() -> dict[str, object]:
        with transaction(ctx.runtime.sessions) as session:
            return dict(set_branding(session, principal.tenant, body, actor=principal.subject,
                                     source_address=client_address(request)).model_dump())

    result: dict[str, object] = _change(request, principal, "tenant.branding.set", "branding", run)
    return result
