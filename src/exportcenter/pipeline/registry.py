"""Which renderer writes which (type, format), and what the artifact is called.

Renderers are imported on first use, so a missing optional system dependency (Chromium for PDF) never
stops the other formats from working.
"""

from __future__ import annotations

import importlib

from exportcenter.model import ExportFormat, ExportType
from exportcenter.renderers.base import RenderFunction

T, F = ExportType, ExportFormat
RENDERERS: dict[tuple[ExportType, ExportFormat], str] = {
    (T.SCAN_REPORT, F.JSON): "exportcenter.renderers.json_reports:render_scan_report_json",
    (T.SCAN_REPORT, F.SARIF): "exportcenter.renderers.sarif:render",
    (T.SCAN_REPORT, F.PDF): "exportcenter.renderers.pdf.render:render",
    (T.SCAN_SUMMARY, F.PDF): "exportcenter.renderers.pdf.render:render",
    (T.SCAN_SUMMARY, F.XLSX): "exportcenter.renderers.xlsx:render_scan_summary_xlsx",
    (T.SCAN_SUMMARY, F.CSV): "exportcenter.renderers.csv_writer:render_scan_summary_csv",
    (T.SBOM, F.CYCLONEDX): "exportcenter.renderers.cyclonedx:render_cyclonedx",
    (T.SBOM, F.SPDX): "exportcenter.renderers.spdx:render_spdx",
    (T.VULNERABILITY_REPORT, F.PDF): "exportcenter.renderers.pdf.render:render",
    (T.VULNERABILITY_REPORT, F.XLSX): "exportcenter.renderers.xlsx:render_vulnerability_report_xlsx",
    (T.VULNERABILITY_REPORT, F.CSV): "exportcenter.renderers.csv_writer:render_vulnerability_report_csv",
    (T.POLICY_COMPLIANCE, F.PDF): "exportcenter.renderers.pdf.render:render",
    (T.POLICY_COMPLIANCE, F.JSON): "exportcenter.renderers.json_reports:render_policy_compliance_json",
    (T.AI_CODE_GUARD_REPORT, F.JSON): "exportcenter.renderers.json_reports:render_ai_code_guard_report_json",
    (T.AI_CODE_GUARD_REPORT, F.SARIF): "exportcenter.renderers.sarif:render",
    (T.AUDIT_LOG, F.JSON): "exportcenter.renderers.json_reports:render_audit_log_json",
    (T.AUDIT_LOG, F.CSV): "exportcenter.renderers.csv_writer:render_audit_log_csv",
}

_STEMS = {ExportType.SBOM: "sbom", ExportType.EVIDENCE_BUNDLE: "evidence", ExportType.AUDIT_LOG: "audit-log"}


def artifact_name(export_type: ExportType, export_format: ExportFormat) -> str:
    return _STEMS.get(export_type, "report") + export_format.extension


def renderer_for(export_type: ExportType, export_format: ExportFormat) -> RenderFunction:
    target = RENDERERS.get((export_type, export_format))
    if target is None:
        raise LookupError(f"no renderer registered for {export_type.value}/{export_format.value}")
    module_name, _, function_name = target.partition(":")
    function: RenderFunction = getattr(importlib.import_module(module_name), function_name)
    return function
