"""The PDF renderer: snapshot -> HTML parts (Jinja2) -> PDF parts (Chromium, in parallel) -> one PDF.

Flow for one export:
1. choose the template (options.template, else the type's default); a tenant template that fails to
   load or render falls back to the default with a warning (spec: "Template error");
2. render HTML: a front part from the template and, for the detailed report, the findings in chunks of
   ``settings.pdf_chunk_rows`` rows (each chunk its own small document, which keeps layout linear);
3. print every part with Chromium (a few pages in parallel, one isolated browser context per export);
4. print a header/footer overlay of exactly M pages ("Page N of M") and merge everything with pypdf.
A render that exceeds ``settings.pdf_timeout_seconds`` is retried once as a simplified report
(summary + top findings) with a warning (spec: "PDF generation timeout").
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from exportcenter.errors import PdfTimeoutError, TemplateError
from exportcenter.model import ExportSnapshot, ExportType
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.pdf import charts
from exportcenter.renderers.pdf.browser import BrowserHost, get_browser_host
from exportcenter.renderers.pdf.chunks import ordered_findings, plan_chunks, remediation
from exportcenter.renderers.pdf.merge import PartPdf, merge, page_count
from exportcenter.renderers.pdf.templating import BUILTIN_TEMPLATES, render_builtin, render_tenant
from exportcenter.renderers.pdf.viewmodel import ReportView, build_view, scan_names

DEFAULT_TEMPLATES = {
    ExportType.SCAN_REPORT.value: "compliance-detailed",
    ExportType.SCAN_SUMMARY.value: "compliance-executive",
    ExportType.VULNERABILITY_REPORT.value: "compliance-detailed",
    ExportType.POLICY_COMPLIANCE.value: "audit-evidence",
}
SIMPLIFIED_TOP_N = 50
SIMPLIFIED_MIN_BUDGET = 30.0
TENANT_TIME_LIMIT = 10.0
OVERLAY_PAGES_PER_PART = 400
PDF_OPTIONS: dict[str, Any] = {
    "format": "A4",
    "margin": {"top": "1cm", "bottom": "1cm", "left": "1cm", "right": "1cm"},
    "print_background": True,
    "outline": True,
    "tagged": True,
}


@dataclass(frozen=True)
class HtmlPart:
    html: str
    kind: str  # "front" | "findings"


def parallel_pages() -> int:
    return max(1, min(3, os.cpu_count() or 1))


def custom_templates(snapshot: ExportSnapshot) -> dict[str, str]:
    """Tenant templates the pipeline put in ``snapshot.metadata["custom_templates"]`` (name -> source)."""
    found = snapshot.metadata.get("custom_templates")
    if not isinstance(found, dict):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, str)}


def _context(view: ReportView, snapshot: ExportSnapshot) -> dict[str, Any]:
    artifacts = snapshot.metadata.get("artifacts")
    evidence = [(str(k), str(v)) for k, v in sorted(snapshot.metadata.items())
                if isinstance(v, str | int | float) and k not in ("branding",)]
    return {
        "report": view,
        "report_images": scan_names(snapshot.scans),
        "remediation": remediation,
        "artifacts": artifacts if isinstance(artifacts, list) else [],
        "evidence_metadata": evidence,
        "vex_findings": [f for f in snapshot.findings if f.vex is not None][:2000],
    }


def _with_charts(view: ReportView) -> ReportView:
    view.charts = {
        "severity": charts.severity_distribution(view.severity_rows),
        "fixable": charts.fixable_donut(view.fixable, view.not_fixable),
        "images": charts.findings_by_image(view.images, view.branding.accent_color),
        "policy": charts.policy_results(view.verdicts),
        "trend": charts.trend_over_scans(view.scans),
    }
    return view


def build_parts(snapshot: ExportSnapshot, ctx: RenderContext, simplified: bool = False) -> list[HtmlPart]:
    default = DEFAULT_TEMPLATES.get(snapshot.export_type, "compliance-detailed")
    wanted = snapshot.options.template or default
    view = _with_charts(build_view(snapshot, ctx.warn, top_n=SIMPLIFIED_TOP_N if simplified else 10))
    view.simplified = simplified
    context = _context(view, snapshot)
    if simplified:
        view.template_name = "compliance-executive"
        return [HtmlPart(render_builtin("compliance-executive", **context), "front")]
    if wanted not in BUILTIN_TEMPLATES:
        source = custom_templates(snapshot).get(wanted)
        if source is None:
            ctx.warn(f"Template error: PDF template {wanted!r} was not found; the default template "
                     f"{default!r} was used instead")
        else:
            try:
                view.template_name = wanted
                return [HtmlPart(render_tenant(source, TENANT_TIME_LIMIT, **context), "front")]
            except TemplateError as exc:
                ctx.warn(f"Template error: {exc.message}; the default template {default!r} was used instead")
        wanted = default
    view.template_name = wanted
    parts = [HtmlPart(render_builtin(wanted, **context), "front")]
    if wanted == "compliance-detailed":
        rows = ordered_findings(snapshot)
        for chunk in plan_chunks(rows, ctx.settings.pdf_chunk_rows):
            parts.append(HtmlPart(render_builtin("_findings-chunk", chunk=chunk, **context), "findings"))
    return parts


async def _print_all(host: BrowserHost, documents: Sequence[str], prefer_css: bool) -> list[bytes]:
    context = await host.new_context()
    limit = asyncio.Semaphore(parallel_pages())

    async def one(html: str) -> bytes:
        async with limit:
            page = await context.new_page()
            try:
                await page.set_content(html, wait_until="load")
                options = dict(PDF_OPTIONS)
                if prefer_css:
                    options.update(prefer_css_page_size=True, margin={}, outline=False)
                return await page.pdf(**options)
            finally:
                await page.close()

    try:
        return list(await asyncio.gather(*(one(html) for html in documents)))
    finally:
        await context.close()


def _overlay_documents(view: ReportView, total: int) -> list[str]:
    documents = []
    for start in range(1, total + 1, OVERLAY_PAGES_PER_PART):
        numbers = range(start, min(total, start + OVERLAY_PAGES_PER_PART - 1) + 1)
        documents.append(render_builtin(
            "_overlay", numbers=numbers, total=total, title=view.title, tenant=view.tenant,
            generated=f"Generated {view.generated_at}", primary=view.branding.primary_color,
            accent=view.branding.accent_color,
        ))
    return documents


def _render_once(snapshot: ExportSnapshot, ctx: RenderContext, host: BrowserHost, budget: float,
                 simplified: bool) -> bytes:
    deadline = time.monotonic() + budget
    parts = build_parts(snapshot, ctx, simplified=simplified)
    view = build_view(snapshot, lambda _message: None)

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise PdfTimeoutError(f"PDF rendering exceeded its budget of {budget:g} s")
        return left

    async def print_parts(h: BrowserHost) -> list[bytes]:
        return await _print_all(h, [p.html for p in parts], prefer_css=False)

    printed = host.run(print_parts, remaining())
    total = sum(page_count(data) for data in printed)
    overlays = _overlay_documents(view, total)

    async def print_overlays(h: BrowserHost) -> list[bytes]:
        return await _print_all(h, overlays, prefer_css=True)

    overlay_pdfs = host.run(print_overlays, remaining())
    result = merge(
        [PartPdf(data, part.kind) for data, part in zip(printed, parts, strict=True)],
        overlay_pdfs,
        title=view.title,
        author=snapshot.tenant,
        subject=view.subtitle,
        created=snapshot.generated_at,
    )
    remaining()
    return result


def render_pdf_bytes(snapshot: ExportSnapshot, ctx: RenderContext) -> bytes:
    """The whole PDF for one snapshot, with the timeout -> simplified retry rule applied."""
    host = get_browser_host(ctx.settings.chromium_path)
    budget = ctx.settings.pdf_timeout_seconds
    try:
        return _render_once(snapshot, ctx, host, budget, simplified=False)
    except PdfTimeoutError:
        ctx.warn(
            f"PDF generation timeout: the full report did not render within {budget:g} s; a simplified "
            f"report (summary and top {SIMPLIFIED_TOP_N} open findings) was produced instead. Export the "
            "same scope as CSV or XLSX for the complete list."
        )
    return _render_once(snapshot, ctx, host, max(budget, SIMPLIFIED_MIN_BUDGET), simplified=True)


def render(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    """Renderer entry point (see ``exportcenter.renderers.base``)."""
    out.write(render_pdf_bytes(snapshot, ctx))

