"""PDF benchmark: executive report of the largest real scan, detailed report at 1k/10k (50k) findings.

Every figure is measured with a warm browser; the baseline is the same findings printed by Chromium as
ONE HTML document (no chunks), measured in the same run. Peak memory is sampled every 0.1 s over this
process and all its descendants (Playwright driver + every Chromium process): RSS summed, and PSS summed
(shared pages counted once, the honest total).

Usage: .venv/bin/python bench/bench_pdf.py [--with-50k] [--baseline-max 10000] [--chunk-rows 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from pypdf import PdfReader

from exportcenter.config import Settings
from exportcenter.model import ExportOptions, ExportScope, ExportSnapshot, Finding
from exportcenter.pipeline.snapshot import build_snapshot
from exportcenter.policy.loader import builtin_policy_sets
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.pdf import get_browser_host, render_pdf_bytes, shutdown_browsers
from exportcenter.renderers.pdf.browser import BrowserHost
from exportcenter.renderers.pdf.chunks import ordered_findings, plan_chunks, remediation
from exportcenter.renderers.pdf.render import PDF_OPTIONS
from exportcenter.renderers.pdf.templating import render_builtin
from exportcenter.renderers.pdf.viewmodel import build_view, scan_names
from exportcenter.sources.local.sniff import parse_document

DATA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "data" / "scans"
AT = datetime(2024, 5, 1, tzinfo=UTC)
LARGEST = "grype_json_python-3.7.10-1567matches.json"
POOL = (LARGEST, "trivy_json_juice-shop-v10.2.0.json", "trivy_json_juice-shop-v12.10.2.json")


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    todo.extend(int(x) for x in handle.read().split())
        except OSError:
            continue
    return found


def _memory(pid: int) -> tuple[int, int]:
    rss = pss = 0
    for child in _descendants(pid):
        try:
            with open(f"/proc/{child}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, pss


class PeakMemory:
    def __init__(self) -> None:
        self.rss = self.pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, pss = _memory(os.getpid())
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            time.sleep(0.1)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def snapshot(files: tuple[str, ...], export_type: str, findings_wanted: int | None = None) -> ExportSnapshot:
    docs = [parse_document((DATA / f).read_bytes(), name=f, tenant="acme", ingested_at=AT) for f in files]
    snap = build_snapshot(export_id="exp-bench", tenant="acme", export_type=export_type, export_format="pdf",
                          documents=docs, vex_statements=[], policy_sets=builtin_policy_sets(),
                          scope=ExportScope(), options=ExportOptions(), generated_at=AT)
    if findings_wanted is None:
        return snap
    real = list(snap.findings)
    grown: list[Finding] = []
    copy = 0
    while len(grown) < findings_wanted:
        for finding in real[: findings_wanted - len(grown)]:
            grown.append(finding if copy == 0 else replace(finding, id=f"{finding.id}-{copy}",
                                                           vuln_id=f"{finding.vuln_id}-{copy}"))
        copy += 1
    return replace(snap, findings=tuple(grown))


def single_table_html(snap: ExportSnapshot) -> str:
    view = build_view(snap, lambda _m: None)
    chunk = plan_chunks(ordered_findings(snap), len(snap.findings) or 1)[0]
    return render_builtin("_findings-chunk", chunk=chunk, report=view, remediation=remediation,
                          report_images=scan_names(snap.scans))


def baseline(host: BrowserHost, html: str) -> bytes:
    async def work(h: BrowserHost) -> bytes:
        context = await h.new_context()
        try:
            page = await context.new_page()
            await page.set_content(html, wait_until="load")
            return await page.pdf(**PDF_OPTIONS)
        finally:
            await context.close()

    return host.run(work, timeout=3600)


def measure(label: str, action: object) -> tuple[float, bytes, PeakMemory]:
    assert callable(action)
    with PeakMemory() as peak:
        start = time.perf_counter()
        data = action()
        elapsed = time.perf_counter() - start
    pages = len(PdfReader(io.BytesIO(data)).pages)
    print(f"| {label} | {elapsed:.2f} | {pages} | {len(data) / 1e6:.2f} | {peak.rss / 1e6:.0f} | "
          f"{peak.pss / 1e6:.0f} |", flush=True)
    return elapsed, data, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--with-50k", action="store_true")
    parser.add_argument("--baseline-max", type=int, default=10_000)
    parser.add_argument("--chunk-rows", type=int, default=None)
    args = parser.parse_args()
    settings = Settings(pdf_timeout_seconds=3600)
    if args.chunk_rows:
        settings = Settings(pdf_timeout_seconds=3600, pdf_chunk_rows=args.chunk_rows)
    host = get_browser_host(settings.chromium_path)
    print(f"Chromium {host.executable}; chunk rows {settings.pdf_chunk_rows}; python {sys.version.split()[0]}")
    print("| case | seconds | pages | MB | peak RSS MB (tree) | peak PSS MB (tree) |")
    print("|---|---|---|---|---|---|")
    warm = snapshot(("trivy_json_alpine-310.json",), "scan_summary")
    measure("warm-up (browser launch + tiny report)", lambda: render_pdf_bytes(warm, RenderContext(settings)))
    executive = snapshot((LARGEST,), "scan_summary")
    measure(f"executive, largest real scan ({len(executive.findings)} findings)",
            lambda: render_pdf_bytes(executive, RenderContext(settings)))
    sizes = [1_000, 10_000] + ([50_000] if args.with_50k else [])
    for size in sizes:
        detailed = snapshot(POOL, "vulnerability_report", size)
        measure(f"detailed, {size} findings (chunked)", lambda d=detailed: render_pdf_bytes(d, RenderContext(settings)))
        if size <= args.baseline_max:
            html = single_table_html(detailed)
            measure(f"baseline: one HTML table, {size} findings", lambda h=html: baseline(host, h))
    shutdown_browsers()
    asyncio.set_event_loop(None)


if __name__ == "__main__":
    main()
