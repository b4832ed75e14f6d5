"""PDF reports (scan_report, scan_summary, vulnerability_report, policy_compliance) via Chromium.

Public API:
- ``RENDERERS``: the four (type, pdf) renderer functions;
- ``render(snapshot, out, ctx)``: the renderer itself;
- ``render_tenant_template_check(source)``: validate an uploaded tenant template (raises TemplateError);
- ``DEFAULT_TEMPLATES`` / ``BUILTIN_TEMPLATES``: template names;
- ``shutdown_browsers()``: close the warm browser (worker shutdown).
"""

from __future__ import annotations

from exportcenter.model import ExportFormat, ExportType
from exportcenter.renderers.base import RenderFunction
from exportcenter.renderers.pdf.browser import find_chromium, get_browser_host, shutdown_browsers
from exportcenter.renderers.pdf.check import render_tenant_template_check
from exportcenter.renderers.pdf.render import DEFAULT_TEMPLATES, render, render_pdf_bytes
from exportcenter.renderers.pdf.templating import BUILTIN_TEMPLATES

RENDERERS: dict[tuple[ExportType, ExportFormat], RenderFunction] = {
    (ExportType.SCAN_REPORT, ExportFormat.PDF): render,
    (ExportType.SCAN_SUMMARY, ExportFormat.PDF): render,
    (ExportType.VULNERABILITY_REPORT, ExportFormat.PDF): render,
    (ExportType.POLICY_COMPLIANCE, ExportFormat.PDF): render,
}

__all__ = [
    "BUILTIN_TEMPLATES",
    "DEFAULT_TEMPLATES",
    "RENDERERS",
    "find_chromium",
    "get_browser_host",
    "render",
    "render_pdf_bytes",
    "render_tenant_template_check",
    "shutdown_browsers",
]
