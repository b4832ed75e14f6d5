"""Response bodies: the spec's job body and ExportResponse, plus the API's own listings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from exportcenter.api.redaction import redact
from exportcenter.db.models import ExportRow, ScanRow
from exportcenter.util.timeutil import iso_z

StatusName = Literal["queued", "processing", "completed", "failed", "cancelled", "expired"]


class ExportJob(BaseModel):
    """Spec step 2: what POST /api/v1/exports answers."""

    export_id: str
    status: StatusName
    type: str
    format: str
    created_at: str
    estimated_completion: str = Field(description="ISO 8601 duration, e.g. PT2M")


class ArtifactInfo(BaseModel):
    name: str
    size: int
    sha256: str
    download_url: str | None = None


class ExportResponse(BaseModel):
    """Spec's ExportResponse, plus progress, stage, warnings and expiry."""

    export_id: str
    status: StatusName
    type: str
    format: str
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None
    expires_at: str | None = None
    progress: int = 0
    stage: str | None = None
    attempts: int = 0
    artifacts: list[ArtifactInfo] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None
    error_code: str | None = None
    cancel_requested: bool = False
    delivery: dict[str, Any] | None = Field(default=None, description="as requested; secrets shown as [redacted]")
    delivery_status: str | None = Field(
        default=None, description="not_requested, delivered, retrying or failed; null until the export completes")
    delivery_error: str | None = Field(default=None, description="the last delivery attempt's error")


class ExportList(BaseModel):
    items: list[ExportResponse]
    next_cursor: str | None = None


class DownloadLink(BaseModel):
    download_url: str
    expires_at: str
    artifact: str
    size: int
    sha256: str


class ScanInfo(BaseModel):
    id: str
    kind: str
    artifact_name: str
    artifact_digest: str | None = None
    artifact_type: str
    scanner: str
    scanner_version: str | None = None
    created_at: str
    findings: int
    components: int = 0  # an SBOM's component count (its findings are 0)
    severity_counts: dict[str, int]


class ScanList(BaseModel):
    items: list[ScanInfo]
    next_cursor: str | None = None


class IngestResponse(BaseModel):
    document_id: str
    name: str
    digest: str
    format: str
    kinds: list[str]
    new: bool
    ids: dict[str, str]
    counts: dict[str, int]
    warnings: list[str]


class Health(BaseModel):
    status: str
    detail: str | None = None


def export_response(row: ExportRow, delivery_error: str | None = None) -> ExportResponse:
    return ExportResponse(
        export_id=row.id, status=row.status, type=row.type, format=row.format,  # type: ignore[arg-type]
        created_at=iso_z(row.created_at) or "", started_at=iso_z(row.started_at),
        completed_at=iso_z(row.completed_at), expires_at=iso_z(row.expires_at), progress=row.progress or 0,
        stage=row.stage, attempts=row.attempts or 0,
        artifacts=[ArtifactInfo(name=a["name"], size=a["size"], sha256=a["sha256"]) for a in row.artifacts or []],
        warnings=list(row.warnings or []), error=row.error, error_code=row.error_code,
        cancel_requested=bool(row.cancel_requested), delivery=redact((row.request or {}).get("delivery")),
        delivery_status=row.delivery_status, delivery_error=delivery_error,
    )


def scan_info(row: ScanRow) -> ScanInfo:
    from exportcenter.catalog.documents import item_counts

    findings, components = item_counts(row)
    return ScanInfo(id=row.id, kind=row.kind, artifact_name=row.artifact_name, artifact_digest=row.artifact_digest,
                    artifact_type=row.artifact_type, scanner=row.scanner_name, scanner_version=row.scanner_version,
                    created_at=iso_z(row.created_at) or "", findings=findings, components=components,
                    severity_counts=dict(row.severity_counts or {}))
