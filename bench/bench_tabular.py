"""Benchmark the CSV and XLSX renderers against plain XlsxWriter on synthetic snapshots.

    .venv/bin/python bench/bench_tabular.py [--sizes 1000,10000,50000,200000]

Each measurement runs in a fresh subprocess so peak RSS (ru_maxrss) is its own; output goes to a
temporary file; the best of 3 (<=10k), 2 (50k) or 1 (200k) interleaved runs is kept. The snapshot is built
from the real juice-shop Trivy findings, replicated over 20 images with one distinct vulnerability id
per two findings (so vulnerability_report has N/2 rows of 24 columns). Measured per size:

- ``xlsx``: ``xlsx.write_xlsx(vulnerability_report)`` end to end (grouping, cleaning, writing);
- ``plain``: the baseline - the same rows (materialised before the clock starts) written by a plain
  XlsxWriter constant_memory workbook with ``write_row``; ratio = xlsx / plain;
- ``csv``: ``csv_writer.write_csv(vulnerability_report)`` end to end;
- ``snapshot``: building the snapshot only (the RSS floor every other figure includes).
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from exportcenter.config import Settings
from exportcenter.model import ExportOptions, ExportScope, ExportSnapshot, ExportType, Finding, Scan
from exportcenter.renderers import csv_writer, xlsx
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.columns import build_table
from exportcenter.sources.local.sniff import parse_document

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "tests" / "fixtures" / "data" / "scans" / "trivy_json_juice-shop-v12.10.2.json"
IMAGES = 20


def make_snapshot(size: int) -> ExportSnapshot:
    from datetime import UTC, datetime

    when = datetime(2024, 5, 1, tzinfo=UTC)
    parsed = parse_document(SOURCE.read_bytes(), name=SOURCE.name, tenant="bench", ingested_at=when)
    assert parsed.scan is not None
    templates = [f for f in parsed.findings if f.package is not None]
    scans: list[Scan] = [replace(parsed.scan, id=f"scan-{i}", artifact_name=f"registry.example/app-{i}:1.{i}")
                         for i in range(IMAGES)]
    findings: list[Finding] = []
    for index in range(size):
        template = templates[index % len(templates)]
        findings.append(replace(template, id=f"f-{index}", scan_id=f"scan-{index % IMAGES}",
                                vuln_id=f"CVE-2024-{index // 2:06d}"))
    return ExportSnapshot(export_id="bench", tenant="bench", export_type="vulnerability_report",
                          export_format="xlsx", generated_at=when, scope=ExportScope(),
                          options=ExportOptions(custom_fields=(("ticket", "SEC-1"),)),
                          scans=tuple(scans), findings=tuple(findings))


def measure(kind: str, size: int) -> dict[str, float]:
    snapshot = make_snapshot(size)
    ctx = RenderContext(Settings())
    sink = tempfile.TemporaryFile()  # noqa: SIM115 - a file, so the output is not counted in RSS
    rows = 0
    if kind == "plain":
        import xlsxwriter

        table = build_table(ExportType.VULNERABILITY_REPORT, snapshot)
        materialised = list(table.rows)
        start = time.perf_counter()
        book = xlsxwriter.Workbook(sink, {"constant_memory": True})
        sheet = book.add_worksheet("Vulnerabilities")
        sheet.write_row(0, 0, table.headers)
        for number, row in enumerate(materialised, start=1):
            sheet.write_row(number, 0, row)
        book.close()
        rows = len(materialised)
    else:
        start = time.perf_counter()
        if kind == "xlsx":
            rows = xlsx.write_xlsx(ExportType.VULNERABILITY_REPORT, snapshot, sink, ctx)
        elif kind == "csv":
            rows = csv_writer.write_csv(ExportType.VULNERABILITY_REPORT, snapshot, sink, ctx)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(elapsed, 3), "peak_rss_mb": round(peak_mb, 1), "rows": rows,
            "bytes": sink.seek(0, io.SEEK_END)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000,200000")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return
    print("| findings | rows | snapshot RSS MB | XLSX s | plain XlsxWriter s | ratio | XLSX RSS MB | CSV s | CSV RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        results: dict[str, dict[str, float]] = {}
        repeats = 3 if size <= 10_000 else 2 if size <= 50_000 else 1
        for _ in range(repeats):  # interleaved, best time kept: the machine is shared and noisy
            for kind in ("snapshot", "plain", "xlsx", "csv"):
                done = subprocess.run([sys.executable, __file__, "--one", kind, str(size)], capture_output=True,
                                      text=True, check=True)
                run = json.loads(done.stdout)
                if kind not in results or run["seconds"] < results[kind]["seconds"]:
                    results[kind] = run
        x, p, c, s = results["xlsx"], results["plain"], results["csv"], results["snapshot"]
        ratio = x["seconds"] / p["seconds"] if p["seconds"] else float("nan")
        print(f"| {size:,} | {x['rows']:,} | {s['peak_rss_mb']} | {x['seconds']} | {p['seconds']} | "
              f"{ratio:.2f}x | {x['peak_rss_mb']} | {c['seconds']} | {c['peak_rss_mb']} |", flush=True)


if __name__ == "__main__":
    main()
