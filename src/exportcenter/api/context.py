"""What every route shares: the runtime, the authenticator, the URL signer, and the audit helper."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from exportcenter.api.audit_buffer import AuditBuffer, Entry
from exportcenter.api.auth import Authenticator, Principal, bearer_from_header
from exportcenter.api.signing import UrlSigner
from exportcenter.catalog import audit
from exportcenter.db.engine import transaction
from exportcenter.errors import AuthError, ExportCenterError, ForbiddenError
from exportcenter.runtime import Runtime
from exportcenter.util.ids import TENANT_RE

log = logging.getLogger("exportcenter.api")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class ApiContext:
    runtime: Runtime
    authenticator: Authenticator
    signer: UrlSigner
    wake_executor: Callable[[], None]
    audit_buffer: AuditBuffer | None = None


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def record(ctx: ApiContext, *, tenant: str, actor: str, action: str, resource: str, outcome: str,
           detail: str | None = None, source_address: str | None = None) -> None:
    """Append one audit entry (batched by the audit writer when running); failures are logged, not raised."""
    if ctx.audit_buffer is not None:
        ctx.audit_buffer.append(Entry(tenant, actor, action, resource, outcome, detail, source_address))
        return
    try:
        with transaction(ctx.runtime.sessions) as session:
            audit.record(session, tenant=tenant, actor=actor, action=action, resource=resource,
                         outcome=outcome, detail=detail, source_address=source_address)
    except Exception:
        log.exception("could not append audit entry %s %s", action, resource)


def authenticate(request: Request, scope: str, *, token: str | None = None,
                 tenant: str | None = None) -> Principal:
    """Resolve the caller; refusals are audited under the claimed tenant when it is a valid name."""
    ctx = context(request)
    token = token or bearer_from_header(request.headers.get("authorization"))
    tenant = tenant or request.headers.get("x-tenant-id")
    try:
        principal = ctx.authenticator.principal(token, tenant)
        principal.require(scope)
    except (AuthError, ForbiddenError) as exc:
        if tenant and TENANT_RE.match(tenant):
            record(ctx, tenant=tenant, actor="anonymous", action="api.auth", resource=request.url.path,
                   outcome="denied", detail=exc.message, source_address=client_address(request))
        raise
    # Reads audited before a change must land before the change's own entry.
    if request.method not in SAFE_METHODS and ctx.audit_buffer is not None and not ctx.audit_buffer.flush():
        log.warning("audit buffer did not flush before %s %s", request.method, request.url.path)
    return principal


def requires(scope: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency that authenticates the caller and checks ``scope``."""

    def dependency(request: Request) -> Principal:
        return authenticate(request, scope)

    dependency.__name__ = f"requires_{scope.replace(':', '_')}"
    return dependency


def audited(request: Request, principal: Principal, action: str, resource: str,
            run: Callable[[], Any], detail: str | None = None) -> Any:
    """Run ``run`` and append the outcome (success, or failure with the reason) to the audit log."""
    ctx = context(request)
    try:
        result = run()
    except ExportCenterError as exc:
        record(ctx, tenant=principal.tenant, actor=principal.subject, action=action, resource=resource,
               outcome="failure", detail=f"{exc.code}: {exc.message}"[:2000],
               source_address=client_address(request))
        raise
    record(ctx, tenant=principal.tenant, actor=principal.subject, action=action, resource=resource,
           outcome="success", detail=detail, source_address=client_address(request))
    return result
