"""ORM tables. Alembic migrations under exportcenter/migrations create exactly these."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite returns naive ones, so tag them UTC on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        from datetime import UTC

        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        from datetime import UTC

        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    """An ingested file, kept byte for byte; everything else about it is re-derived by parsing."""

    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    digest: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(512))
    source_format: Mapped[str] = mapped_column(String(32))
    spec_version: Mapped[str | None] = mapped_column(String(32))
    is_scan: Mapped[bool] = mapped_column(Boolean, default=False)
    is_sbom: Mapped[bool] = mapped_column(Boolean, default=False)
    is_vex: Mapped[bool] = mapped_column(Boolean, default=False)
    is_code_guard: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ingested_by: Mapped[str] = mapped_column(String(256), default="cli")
    __table_args__ = (Index("ux_documents_tenant_digest", "tenant", "digest", unique=True),)


class ScanRow(Base):
    __tablename__ = "scans"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="scan")  # scan | sbom | code_guard
    artifact_name: Mapped[str] = mapped_column(String(1024))
    artifact_digest: Mapped[str | None] = mapped_column(String(128))
    artifact_type: Mapped[str] = mapped_column(String(64))
    scanner_name: Mapped[str] = mapped_column(String(128))
    scanner_version: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    findings_count: Mapped[int] = mapped_column(Integer, default=0)
    severity_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class ExportRow(Base):
    __tablename__ = "exports"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    type: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by: Mapped[str] = mapped_column(String(256), default="cli")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(256))
    request_hash: Mapped[str | None] = mapped_column(String(80))
    storage_prefix: Mapped[str | None] = mapped_column(String(512))
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    artifacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    findings_count: Mapped[int] = mapped_column(Integer, default=0)
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    traceparent: Mapped[str | None] = mapped_column(String(64))  # W3C trace context of the request
    __table_args__ = (
        Index("ux_exports_tenant_idem", "tenant", "idempotency_key", unique=True),
        Index("ix_exports_tenant_created", "tenant", "created_at"),
    )


class AuditRow(Base):
    """Append-only, hash-chained per tenant: each entry carries the hash of the previous one."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(512))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    source_address: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(80))
    hash: Mapped[str] = mapped_column(String(80))


class AuditHeadRow(Base):
    """The current chain head per tenant; updated in the same transaction as the append (serialises it)."""

    __tablename__ = "audit_heads"
    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    head_hash: Mapped[str] = mapped_column(String(80))
    count: Mapped[int] = mapped_column(Integer, default=0)
