"""Benchmark the SBOM renderers (CycloneDX 1.6, SPDX 2.3): time, CPU, peak RSS, output size and digest.

Usage:
  .venv/bin/python bench/bench_sbom.py [--sizes 10000,50000,200000] [--cases cyclonedx,spdx,orjson]
      [--snapshot formats|synthetic] [--components 5000] [--lib-size 1000] [--baseline-src DIR]

Every case runs in its own process, so its peak RSS (ru_maxrss) is its own; output goes to a temporary
file, so the output's size does not count in RSS. ``--snapshot formats`` (default) is the issue's
benchmark snapshot as bench/bench_formats.py builds it (real juice-shop findings over 10 images, 5k real
quarkus components, three findings per vulnerability id); ``synthetic`` is a smaller-text snapshot
(npm components with licences, CVSS v3.1 + v2, a third VEX'd). ``--baseline-src DIR`` runs every
renderer case a second time against another source tree (e.g. ``git archive <commit> src | tar -x -C
DIR``; pass DIR/src), interleaved, so before and after are measured under the same machine load, and
prints whether both wrote the same bytes. The cyclonedx-python-lib baseline builds and serialises the
same BOM at --lib-size findings; our renderer is timed at that size too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _use_source(src: str | None) -> None:
    """Import ``exportcenter`` from ``src`` (default: this checkout) before anything else imports it."""
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, src or str(REPO / "src"))
    import exportcenter  # noqa: F401  (bench_formats then reuses this package, whatever path it adds)


NOW = datetime(2024, 5, 1, tzinfo=UTC)
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "GPL-2.0-only OR MIT", "Custom licence")


def make_snapshot(components: int, findings: int) -> Any:
    from exportcenter.model import (
        Component,
        Cvss,
        ExportOptions,
        ExportScope,
        ExportSnapshot,
        Finding,
        FindingKind,
        License,
        Package,
        Scan,
        Severity,
        VexDecision,
        VexStatus,
    )

    scan = Scan(id="scan-1", tenant="bench", source_format="trivy-json", scanner_name="trivy", scanner_version="0.50",
                artifact_name="registry.example/app:1.0", artifact_type="container_image",
                artifact_digest="sha256:" + "a" * 64, os_family="debian", os_name="12", created_at=NOW,
                document_digest="sha256:" + "b" * 64)
    comps = [Component(bom_ref=f"pkg:npm/pkg-{i}@1.{i % 7}.0", name=f"pkg-{i}", version=f"1.{i % 7}.0",
                       purl=f"pkg:npm/pkg-{i}@1.{i % 7}.0",
                       licenses=(License("expression" if " " in LICENSES[i % 5] else "id", LICENSES[i % 5]),),
                       scan_id="scan-1") for i in range(components)]
    found = []
    for j in range(findings):
        c = comps[(j * 7919) % components]
        vex = VexDecision(VexStatus.NOT_AFFECTED, "vulnerable_code_not_present", f"st-{j}", "vex.json") \
            if j % 3 == 0 else None
        found.append(Finding(
            id=f"f-{j}", scan_id="scan-1", kind=FindingKind.VULNERABILITY, vuln_id=f"CVE-2024-{j // 2:05d}",
            severity=Severity.HIGH, raw_severity="HIGH", package=Package(c.name, c.version, c.purl),
            fixed_version="9.9.9", cvss=(Cvss("3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "nvd"),
                                         Cvss("2.0", "AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5, "nvd")),
            title=f"Issue {j}", description="A long enough description of the problem. " * 3,
            references=(f"https://nvd.nist.gov/vuln/detail/CVE-2024-{j // 2:05d}",),
            status=VexStatus.NOT_AFFECTED if vex else VexStatus.AFFECTED, vex=vex))
    return ExportSnapshot(export_id="bench", tenant="bench", export_type="sbom", export_format="cyclonedx",
                          generated_at=NOW, scope=ExportScope(), options=ExportOptions(), scans=(scan,),
                          findings=tuple(found), components=tuple(comps))


def run_cyclonedx_lib(snapshot: Any) -> int:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component as LibComponent
    from cyclonedx.model.component import ComponentType
    from cyclonedx.model.impact_analysis import ImpactAnalysisState
    from cyclonedx.model.vulnerability import (
        BomTarget,
        Vulnerability,
        VulnerabilityAnalysis,
        VulnerabilityRating,
        VulnerabilityScoreSource,
        VulnerabilitySeverity,
    )
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    bom = Bom()
    by_purl = {}
    for c in snapshot.components:
        comp = LibComponent(name=c.name, version=c.version, type=ComponentType.LIBRARY, bom_ref=c.bom_ref,
                            purl=PackageURL.from_string(c.purl) if c.purl else None)
        bom.components.add(comp)
        by_purl[c.purl] = comp
    grouped: dict[str, list[Any]] = {}
    for f in snapshot.findings:
        grouped.setdefault(f.vuln_id, []).append(f)
    methods = {"3.1": VulnerabilityScoreSource.CVSS_V3_1, "3.0": VulnerabilityScoreSource.CVSS_V3,
               "2.0": VulnerabilityScoreSource.CVSS_V2, "4.0": VulnerabilityScoreSource.CVSS_V4}
    for vuln_id, group in grouped.items():
        ratings = {(c.version, c.vector): VulnerabilityRating(score=c.score, severity=VulnerabilitySeverity.HIGH,
                                                               method=methods[c.version], vector=c.vector)
                   for f in group for c in f.cvss}
        vuln = Vulnerability(id=vuln_id, description=group[0].description, ratings=list(ratings.values()),
                             affects=[BomTarget(ref=str(by_purl[f.package.purl].bom_ref.value)) for f in group
                                      if f.package],
                             analysis=VulnerabilityAnalysis(state=ImpactAnalysisState.NOT_AFFECTED)
                             if group[0].vex else None)
        bom.vulnerabilities.add(vuln)
    return len(JsonV1Dot6(bom).output_as_string(indent=2))


def _snapshot(kind: str, components: int, findings: int) -> Any:
    if kind == "synthetic":
        return make_snapshot(components, findings)
    sys.path.insert(0, str(REPO / "bench"))
    from bench_formats import make_snapshot as formats_snapshot

    from exportcenter.model import ExportFormat, ExportType

    return formats_snapshot(findings, ExportType.SBOM, ExportFormat.CYCLONEDX)


def _with_finding_packages(snapshot: Any) -> Any:
    """cyclonedx-python-lib needs every affected package as a component (our inventory adds them)."""
    from dataclasses import replace

    from exportcenter.model import Component

    known = {c.purl for c in snapshot.components}
    extra = {f.package.purl: Component(bom_ref=f.package.purl, name=f.package.name, version=f.package.version,
                                       purl=f.package.purl)
             for f in snapshot.findings if f.package and f.package.purl and f.package.purl not in known}
    return replace(snapshot, components=snapshot.components + tuple(extra.values()))


def child(case: str, kind: str, components: int, findings: int) -> dict[str, Any]:
    snapshot = _snapshot(kind, components, findings)
    from exportcenter.config import get_settings
    from exportcenter.renderers.base import RenderContext
    from exportcenter.renderers.cyclonedx import render_cyclonedx
    from exportcenter.renderers.licenses import normalize_expression
    from exportcenter.renderers.spdx import render_spdx

    normalize_expression("MIT")  # the licence list loads before the clock starts, for every case alike
    if case == "cyclonedx-python-lib":
        import cyclonedx.output.json  # noqa: F401

        snapshot = _with_finding_packages(snapshot)
    snapshot_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as sink:
        wall, cpu = time.perf_counter(), time.process_time()
        if case == "orjson":
            import orjson

            sink.write(orjson.dumps(snapshot, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        elif case == "cyclonedx-python-lib":
            size = run_cyclonedx_lib(snapshot)
        else:
            render = render_cyclonedx if case == "cyclonedx" else render_spdx
            render(snapshot, sink, RenderContext(settings=get_settings()))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if case != "cyclonedx-python-lib":
            size = sink.seek(0, 2)
            sink.seek(0)
            while block := sink.read(1 << 20):
                digest.update(block)
    return {"seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "bytes": size,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "snapshot_rss_mb": round(snapshot_rss, 1),
            "sha256": "" if case == "cyclonedx-python-lib" else digest.hexdigest()[:12]}


def _run(case: str, kind: str, components: int, findings: int, src: str | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", case, kind, str(components), str(findings)]
    if src:
        command += ["--src", src]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {done.returncode}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--cases", default="cyclonedx,spdx,orjson")
    parser.add_argument("--snapshot", choices=("formats", "synthetic"), default="formats")
    parser.add_argument("--components", type=int, default=5000, help="components of the synthetic snapshot")
    parser.add_argument("--lib-size", type=int, default=1000, help="findings for cyclonedx-python-lib (0: skip)")
    parser.add_argument("--baseline-src", help="another source tree to run the renderer cases against too")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _use_source(args.src)
    if args.child:
        case, kind, components, findings = args.child
        print(json.dumps(child(case, kind, int(components), int(findings))))
        return
    plan: list[tuple[str, int, str | None]] = []
    for size in map(int, args.sizes.split(",")):
        for case in args.cases.split(","):
            if args.baseline_src and case in ("cyclonedx", "spdx"):
                plan.append((case, size, args.baseline_src))
            plan.append((case, size, None))
    if args.lib_size:
        plan += [("cyclonedx-python-lib", args.lib_size, None), ("cyclonedx", args.lib_size, None)]
    print("| case | source | findings | wall s | CPU s | peak RSS MB | of which snapshot MB | MB out | sha256 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for case, size, src in plan:
        row = _run(case, args.snapshot, args.components, size, src)
        source = "baseline" if src else "this tree"
        if "error" in row:
            print(f"| {case} | {source} | {size:,} | error: {row['error']} | | | | | |", flush=True)
            continue
        print(f"| {case} | {source} | {size:,} | {row['seconds']:.2f} | {row['cpu_seconds']:.2f} "
              f"| {row['peak_rss_mb']:.0f} | {row['snapshot_rss_mb']:.0f} | {row['bytes'] / 1e6:.1f} "
              f"| {row['sha256'] or '-'} |", flush=True)


if __name__ == "__main__":
    main()
