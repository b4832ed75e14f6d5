"""Tables of tenant settings (branding) and tenant report templates (migration 0003_tenant_settings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from exportcenter.db.models import Base, UTCDateTime


class TenantSettingsRow(Base):
    """One row per tenant: its PDF branding (title, company, logo data URI, colours)."""

    __tablename__ = "tenant_settings"
    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    branding: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(256))


class TenantTemplateRow(Base):
    """A tenant's own PDF template (``custom-<tenant>``): Jinja2 source, rendered only in the sandbox."""

    __tablename__ = "tenant_templates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(160))
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(256))
    __table_args__ = (Index("ux_tenant_templates_tenant_name", "tenant", "name", unique=True),)
