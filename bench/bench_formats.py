"""Every format at 1k, 10k, 50k and 200k findings (5k components), with the issue's baselines in the same run.

Usage: .venv/bin/python bench/bench_formats.py [--sizes 1000,10000,50000,200000] [--formats ...] [--lib-size 1000]

Each (case, size) runs in its own process, so its peak RSS (ru_maxrss) is its own. The snapshot is built
from the real juice-shop v10.2.0 Trivy findings, replicated over 10 images with distinct vulnerability ids,
plus 5,000 components (the real quarkus CycloneDX components, replicated with distinct versions). Baselines:
orjson dumping the same snapshot (the floor for JSON formats), plain XlsxWriter constant_memory writing the
same rows, cyclonedx-python-lib building and serialising the same BOM (at --lib-size findings: it is far
slower). Output goes to a temporary file, so output size does not count in RSS. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from exportcenter.config import Settings  # noqa: E402
from exportcenter.model import ExportFormat, ExportOptions, ExportScope, ExportSnapshot, ExportType  # noqa: E402
from exportcenter.sources.local.sniff import parse_document  # noqa: E402

DATA = REPO / "tests" / "fixtures" / "data"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
IMAGES = 10
CASES = {
    "json": (ExportType.SCAN_REPORT, ExportFormat.JSON),
    "sarif": (ExportType.SCAN_REPORT, ExportFormat.SARIF),
    "cyclonedx": (ExportType.SBOM, ExportFormat.CYCLONEDX),
    "spdx": (ExportType.SBOM, ExportFormat.SPDX),
    "csv": (ExportType.VULNERABILITY_REPORT, ExportFormat.CSV),
    "xlsx": (ExportType.VULNERABILITY_REPORT, ExportFormat.XLSX),
}
BASELINES = ("orjson", "plain-xlsxwriter", "cyclonedx-python-lib")


def make_snapshot(size: int, export_type: ExportType, export_format: ExportFormat) -> ExportSnapshot:
    trivy = DATA / "scans" / "trivy_json_juice-shop-v10.2.0.json"
    scan_doc = parse_document(trivy.read_bytes(), name=trivy.name, tenant="bench", ingested_at=WHEN)
    sbom_path = DATA / "sbom" / "cdx16_redhat_quarkus-camel-bom-1761-components.json"
    sbom_doc = parse_document(sbom_path.read_bytes(), name=sbom_path.name, tenant="bench", ingested_at=WHEN)
    assert scan_doc.scan is not None and sbom_doc.sbom is not None
    scans = tuple(replace(scan_doc.scan, id=f"scan-{i}", artifact_name=f"registry.example/app-{i}:1.{i}",
                          artifact_digest=f"sha256:{i:064x}") for i in range(IMAGES))
    templates = [f for f in scan_doc.findings if f.package is not None]
    findings = tuple(replace(templates[n % len(templates)], id=f"f-{n}", scan_id=f"scan-{n % IMAGES}",
                             vuln_id=f"CVE-2024-{n // 3:06d}") for n in range(size))
    base = sbom_doc.sbom.components
    components = tuple(replace(base[n % len(base)], bom_ref=f"{base[n % len(base)].bom_ref}-{n}",
                               version=f"{base[n % len(base)].version}.{n}", scan_id=f"scan-{n % IMAGES}")
                       for n in range(5000))
    return ExportSnapshot(export_id="exp-bench", tenant="bench", export_type=export_type.value,
                          export_format=export_format.value, generated_at=WHEN, scope=ExportScope(),
                          options=ExportOptions(), scans=scans, findings=findings, components=components)


def child(case: str, size: int) -> dict[str, float]:
    from exportcenter.pipeline.registry import renderer_for
    from exportcenter.renderers.base import RenderContext

    export_type, export_format = CASES.get(case, (ExportType.SCAN_REPORT, ExportFormat.JSON))
    if case == "plain-xlsxwriter":
        export_type, export_format = CASES["xlsx"]
    if case == "cyclonedx-python-lib":
        export_type, export_format = CASES["cyclonedx"]
    snapshot = make_snapshot(size, export_type, export_format)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    library_output_bytes = 0
    with tempfile.TemporaryFile() as sink:
        start = time.perf_counter()
        if case == "orjson":
            import orjson

            sink.write(orjson.dumps(snapshot, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        elif case == "plain-xlsxwriter":
            import xlsxwriter

            from exportcenter.renderers.columns import build_table

            table = build_table(export_type, snapshot)
            rows = list(table.rows)
            start = time.perf_counter()
            book = xlsxwriter.Workbook(sink, {"constant_memory": True})
            sheet = book.add_worksheet("Vulnerabilities")
            sheet.write_row(0, 0, table.headers)
            for number, row in enumerate(rows, start=1):
                sheet.write_row(number, 0, row)
            book.close()
        elif case == "cyclonedx-python-lib":
            sys.path.insert(0, str(REPO / "bench"))
            from bench_sbom import run_cyclonedx_lib

            from exportcenter.model import Component

            known = {c.purl for c in snapshot.components}
            extra = {f.package.purl: Component(bom_ref=f.package.purl, name=f.package.name, version=f.package.version,
                                               purl=f.package.purl)
                     for f in snapshot.findings if f.package and f.package.purl and f.package.purl not in known}
            snapshot = replace(snapshot, components=snapshot.components + tuple(extra.values()))
            start = time.perf_counter()  # the library's time only, as for our renderer
            library_output_bytes = run_cyclonedx_lib(snapshot)  # it builds the string; we keep its length
        else:
            renderer_for(export_type, export_format)(snapshot, sink, RenderContext(settings=Settings()))
        seconds = time.perf_counter() - start
        size_bytes = sink.seek(0, 2) if case != "cyclonedx-python-lib" else library_output_bytes
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(seconds, 3), "peak_rss_mb": round(peak, 1), "snapshot_rss_mb": round(rss_before, 1),
            "bytes": size_bytes}


def run_case(case: str, size: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", case, str(size)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}  # type: ignore[dict-item]
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000,200000")
    parser.add_argument("--formats", default=",".join([*CASES, "orjson", "plain-xlsxwriter"]))
    parser.add_argument("--lib-size", type=int, default=1000)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| case | findings | seconds | peak RSS MB | of which snapshot MB | output MB |")
    print("|---|---:|---:|---:|---:|---:|")
    cases = [(c, s) for s in sizes for c in args.formats.split(",")]
    cases += [("cyclonedx-python-lib", args.lib_size), ("cyclonedx", args.lib_size)]
    for case, size in cases:
        r = run_case(case, size)
        if "error" in r:
            print(f"| {case} | {size:,} | error: {r['error']} | | | |")
        else:
            print(f"| {case} | {size:,} | {r['seconds']:.2f} | {r['peak_rss_mb']:.0f} | {r['snapshot_rss_mb']:.0f} "
                  f"| {r['bytes'] / 1e6:.1f} |", flush=True)


if __name__ == "__main__":
    main()
