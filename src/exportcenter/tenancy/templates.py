"""A tenant's own PDF template, ``custom-<tenant>``: validated in the sandbox on upload, stored per tenant.

The source is only ever rendered by the PDF renderer's sandboxed environment; here it is checked
(compiles, renders a sample report within the time limit) and kept with its sha256.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exportcenter.catalog import audit
from exportcenter.db.models_tenancy import TenantTemplateRow
from exportcenter.errors import DataNotFoundError, InvalidInputError
from exportcenter.tenancy.branding import get_branding
from exportcenter.util.ids import validate_tenant
from exportcenter.util.timeutil import iso_z, utcnow

MAX_TEMPLATE_BYTES = 512 * 1024
TEMPLATE_PREFIX = "custom-"


def template_name_for(tenant: str) -> str:
    return TEMPLATE_PREFIX + validate_tenant(tenant)


def check_template_name(tenant: str, name: str) -> str:
    """A tenant may name its template only ``custom-<tenant>``."""
    expected = template_name_for(tenant)
    if name != expected:
        raise InvalidInputError(f"invalid template name {name!r}: tenant {tenant} may upload only {expected!r}",
                                expected=expected)
    return name


def decode_source(data: bytes) -> str:
    if len(data) > MAX_TEMPLATE_BYTES:
        raise InvalidInputError(f"template is larger than {MAX_TEMPLATE_BYTES} bytes", limit=MAX_TEMPLATE_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"template is not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise InvalidInputError("template contains a NUL character")
    return text.removeprefix("\ufeff")


def validate_source(source: str) -> None:
    """Compile and dry-run the template in the sandbox; InvalidInputError says why it was refused."""
    from exportcenter.errors import TemplateError
    from exportcenter.renderers.pdf import render_tenant_template_check

    try:
        render_tenant_template_check(source)
    except TemplateError as exc:
        raise InvalidInputError(f"template refused: {exc.message}") from None


def get_template(session: Session, tenant: str, name: str) -> TenantTemplateRow:
    row = session.scalar(select(TenantTemplateRow).where(TenantTemplateRow.tenant == validate_tenant(tenant),
                                                         TenantTemplateRow.name == name))
    if row is None:
        raise DataNotFoundError(f"template not found: {name}", template=name)
    return row


def list_templates(session: Session, tenant: str) -> list[TenantTemplateRow]:
    return list(session.scalars(select(TenantTemplateRow).where(TenantTemplateRow.tenant == validate_tenant(tenant))
                                .order_by(TenantTemplateRow.name)))


def put_template(session: Session, tenant: str, name: str, source: str, *, actor: str,
                 source_address: str | None = None, validate: bool = True) -> tuple[TenantTemplateRow, bool]:
    """Create or replace; returns (row, created). Refused templates are never stored."""
    tenant = validate_tenant(tenant)
    check_template_name(tenant, name)
    encoded = source.encode("utf-8")
    if len(encoded) > MAX_TEMPLATE_BYTES:
        raise InvalidInputError(f"template is larger than {MAX_TEMPLATE_BYTES} bytes", limit=MAX_TEMPLATE_BYTES)
    if validate:
        validate_source(source)
    row = session.scalar(select(TenantTemplateRow).where(TenantTemplateRow.tenant == tenant,
                                                         TenantTemplateRow.name == name))
    now = utcnow()
    created = row is None
    if row is None:
        row = TenantTemplateRow(tenant=tenant, name=name, created_at=now)
        session.add(row)
    row.source, row.sha256, row.size = source, hashlib.sha256(encoded).hexdigest(), len(encoded)
    row.updated_at, row.updated_by = now, actor[:256]
    session.flush()
    audit.record(session, tenant=tenant, actor=actor, action="template.create" if created else "template.update",
                 resource=name, outcome="success", detail=f"sha256:{row.sha256} {row.size} bytes",
                 source_address=source_address)
    return row, created


def delete_template(session: Session, tenant: str, name: str, *, actor: str,
                    source_address: str | None = None) -> None:
    row = get_template(session, tenant, name)
    session.delete(row)
    audit.record(session, tenant=row.tenant, actor=actor, action="template.delete", resource=name,
                 outcome="success", detail=f"sha256:{row.sha256}", source_address=source_address)


def describe_template(row: TenantTemplateRow, *, with_source: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"name": row.name, "tenant": row.tenant, "sha256": row.sha256, "size": row.size,
                            "created_at": iso_z(row.created_at), "updated_at": iso_z(row.updated_at),
                            "updated_by": row.updated_by}
    if with_source:
        body["source"] = row.source
    return body


def snapshot_metadata(session: Session, tenant: str) -> dict[str, object]:
    """``branding`` and ``custom_templates`` ({name: source}) for a PDF snapshot; empty keys are left out."""
    metadata: dict[str, object] = {}
    branding = get_branding(session, tenant).stored()
    if branding:
        metadata["branding"] = branding
    templates = {row.name: row.source for row in list_templates(session, tenant)}
    if templates:
        metadata["custom_templates"] = templates
    return metadata
