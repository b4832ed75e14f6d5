"""Validate a tenant template at upload time: it must compile and render a sample report in the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

from exportcenter.config import get_settings
from exportcenter.model import (
    ExportOptions,
    ExportScope,
    ExportSnapshot,
    Finding,
    FindingKind,
    Package,
    Scan,
    Severity,
)
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.pdf.render import TENANT_TIME_LIMIT, _context, _with_charts
from exportcenter.renderers.pdf.templating import render_tenant
from exportcenter.renderers.pdf.viewmodel import build_view

_SAMPLE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def sample_snapshot(tenant: str = "sample-tenant") -> ExportSnapshot:
    """A small, realistic snapshot used to dry-run uploaded templates."""
    scan = Scan(
        id="scan-sample", tenant=tenant, source_format="trivy-json", scanner_name="trivy",
        scanner_version="0.50.0", artifact_name="registry.example/app:1.0", artifact_type="container_image",
        artifact_digest="sha256:" + "0" * 64, os_family="alpine", os_name="3.19",
        created_at=_SAMPLE_TIME, document_digest="sha256:" + "1" * 64, findings_count=1,
    )
    finding = Finding(
        id="f-1", scan_id=scan.id, kind=FindingKind.VULNERABILITY, vuln_id="CVE-2024-0001",
        severity=Severity.HIGH, raw_severity="HIGH", package=Package("openssl", "3.1.0"),
        fixed_version="3.1.5", title="Sample finding",
    )
    return ExportSnapshot(
        export_id="exp-sample", tenant=tenant, export_type="scan_report", export_format="pdf",
        generated_at=_SAMPLE_TIME, scope=ExportScope(), options=ExportOptions(), scans=(scan,),
        findings=(finding,),
    )


def render_tenant_template_check(source: str) -> None:
    """Raise TemplateError when ``source`` does not compile or fails to render a sample report."""
    snapshot = sample_snapshot()
    ctx = RenderContext(settings=get_settings())
    view = _with_charts(build_view(snapshot, ctx.warn))
    render_tenant(source, TENANT_TIME_LIMIT, **_context(view, snapshot))
