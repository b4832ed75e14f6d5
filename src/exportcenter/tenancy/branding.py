"""Tenant branding for PDF reports: title, company, logo (a data:image/...;base64 URI) and two colours.

Values are checked on the way in, so a stored branding is always one the PDF renderer accepts as is.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from exportcenter.catalog import audit
from exportcenter.db.models_tenancy import TenantSettingsRow
from exportcenter.errors import InvalidInputError
from exportcenter.util.ids import validate_tenant
from exportcenter.util.timeutil import utcnow

MAX_LOGO_BYTES = 512 * 1024
_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_LOGO = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml);base64,([A-Za-z0-9+/=\s]+)$")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"))
_SVG_PROLOGUE = re.compile(r"^(?:\s+|<\?xml[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<svg[\s>/]", re.DOTALL | re.IGNORECASE)


def image_kind(data: bytes) -> str | None:
    """The data: URI subtype of an image by its first bytes (png, jpeg, gif, webp, svg+xml), else None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    head = data[:4096].decode("utf-8", errors="ignore").removeprefix("\ufeff")
    if _SVG_PROLOGUE.match(head):
        return "svg+xml"
    return None


class BrandingSettings(BaseModel):
    """Every field is optional; a missing colour means the house default."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    logo: str | None = None
    primary_color: str | None = None
    accent_color: str | None = None

    @field_validator("title", "company")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if any(ord(ch) < 32 for ch in value):
            raise ValueError("control characters are not allowed")
        return value.strip() or None

    @field_validator("primary_color", "accent_color")
    @classmethod
    def _colour(cls, value: str | None) -> str | None:
        if value is not None and not _COLOUR.match(value):
            raise ValueError(f"{value!r} is not a #rgb or #rrggbb colour")
        return value

    @field_validator("logo")
    @classmethod
    def _logo(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _LOGO.match(value)
        if match is None:
            raise ValueError("logo must be a data:image/(png|jpeg|gif|webp|svg+xml);base64,... URI")
        try:
            decoded = base64.b64decode("".join(match.group(2).split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("logo is not valid base64") from None
        if not decoded:
            raise ValueError("logo is empty")
        if len(decoded) > MAX_LOGO_BYTES:
            raise ValueError(f"logo is larger than {MAX_LOGO_BYTES} bytes")
        actual = image_kind(decoded)
        if actual is None:
            raise ValueError(f"logo says image/{match.group(1)} but its bytes are not a PNG, JPEG, GIF, WebP "
                             "or SVG image")
        if actual != match.group(1):
            raise ValueError(f"logo says image/{match.group(1)} but its bytes are image/{actual}")
        return value

    def stored(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


def branding_problems(values: dict[str, Any]) -> list[str]:
    """Every problem of a branding object, one ``field: reason`` line each (empty when it is valid)."""
    try:
        BrandingSettings.model_validate(values)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc']) or 'branding'}: {str(e['msg']).removeprefix('Value error, ')}"
                for e in exc.errors()]
    return []


def raise_branding_problems(reasons: list[str]) -> None:
    if reasons:
        raise InvalidInputError("invalid branding: " + "; ".join(reasons), errors=reasons)


def parse_branding(values: Any) -> BrandingSettings:
    """Validate a branding object; InvalidInputError lists every problem."""
    if not isinstance(values, dict):
        raise InvalidInputError("branding must be a JSON object")
    raise_branding_problems(branding_problems(values))
    return BrandingSettings.model_validate(values)


def get_branding(session: Session, tenant: str) -> BrandingSettings:
    row = session.get(TenantSettingsRow, validate_tenant(tenant))
    if row is None:
        return BrandingSettings()
    return BrandingSettings.model_validate(row.branding)


def set_branding(session: Session, tenant: str, values: Any, *, actor: str,
                 source_address: str | None = None) -> BrandingSettings:
    """Replace the tenant's branding (fields left out are cleared)."""
    branding = parse_branding(values)
    tenant = validate_tenant(tenant)
    row = session.get(TenantSettingsRow, tenant)
    now = utcnow()
    if row is None:
        row = TenantSettingsRow(tenant=tenant, branding={}, updated_at=now, updated_by=actor[:256])
        session.add(row)
    row.branding, row.updated_at, row.updated_by = branding.stored(), now, actor[:256]
    session.flush()
    audit.record(session, tenant=tenant, actor=actor, action="tenant.branding.set", resource="branding",
                 outcome="success", detail=", ".join(sorted(branding.stored())) or "cleared",
                 source_address=source_address)
    return branding
