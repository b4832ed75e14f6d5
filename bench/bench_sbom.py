"""Benchmark the SBOM renderers (CycloneDX 1.6, SPDX 2.3) against the orjson floor and cyclonedx-python-lib.

Usage: .venv/bin/python bench/bench_sbom.py [--sizes 1000,10000,50000] [--components 5000] [--lib-size 1000]

Every case runs in its own process so peak RSS (ru_maxrss) is that case's alone. Synthetic snapshots:
5k components (npm purls, licences), findings spread over them with CVSS v3.1 + v2, a third VEX'd.
The cyclonedx-python-lib baseline builds and serialises the same BOM (components, vulnerabilities with
affects and ratings) at --lib-size findings, and our renderer is timed at that same size too.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

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

NOW = datetime(2024, 5, 1, tzinfo=UTC)
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "GPL-2.0-only OR MIT", "Custom licence")


def make_snapshot(components: int, findings: int) -> ExportSnapshot:
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


def run_ours(kind: str, snapshot: ExportSnapshot) -> int:
    import io

    from exportcenter.config import get_settings
    from exportcenter.renderers.base import RenderContext
    from exportcenter.renderers.cyclonedx import render_cyclonedx
    from exportcenter.renderers.spdx import render_spdx

    out = io.BytesIO()
    (render_cyclonedx if kind == "cyclonedx" else render_spdx)(snapshot, out, RenderContext(get_settings()))
    return len(out.getvalue())


def run_orjson(snapshot: ExportSnapshot) -> int:
    import orjson
    return len(orjson.dumps(snapshot, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def run_cyclonedx_lib(snapshot: ExportSnapshot) -> int:
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
    grouped: dict[str, list[Finding]] = {}
    for f in snapshot.findings:
        grouped.setdefault(f.vuln_id, []).append(f)
    methods = {"3.1": VulnerabilityScoreSource.CVSS_V3_1, "3.0": VulnerabilityScoreSource.CVSS_V3,
               "2.0": VulnerabilityScoreSource.CVSS_V2, "4.0": VulnerabilityScoreSource.CVSS_V4}
    for vuln_id, group in grouped.items():
        ratings = {(c.version, c.vector): VulnerabilityRating(score=c.score, severity=VulnerabilitySeverity.HIGH,
                                                               method=methods[c.version], vector=c.vector)
                   for f in group for c in f.cvss}
        vuln = Vulnerability(id=vuln_id, description=group[0].description, ratings=list(ratings.values()),
                             affects=[BomTarget(ref=by_purl[f.package.purl].bom_ref.value) for f in group
                                      if f.package],
                             analysis=VulnerabilityAnalysis(state=ImpactAnalysisState.NOT_AFFECTED)
                             if group[0].vex else None)
        bom.vulnerabilities.add(vuln)
    return len(JsonV1Dot6(bom).output_as_string(indent=2))


def child(case: str, components: int, findings: int) -> None:
    snapshot = make_snapshot(components, findings)
    # imports (and the licence list load) happen before the clock starts, for every case alike
    if case == "cyclonedx-python-lib":
        import cyclonedx.output.json
    elif case != "orjson":
        from exportcenter.renderers import cyclonedx, spdx  # noqa: F401
        from exportcenter.renderers.licenses import normalize_expression
        normalize_expression("MIT")
    start = time.perf_counter()
    if case == "orjson":
        size = run_orjson(snapshot)
    elif case == "cyclonedx-python-lib":
        size = run_cyclonedx_lib(snapshot)
    else:
        size = run_ours(case, snapshot)
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"case": case, "components": components, "findings": findings, "seconds": round(seconds, 3),
                      "bytes": size, "peak_rss_mb": round(rss_mb, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--components", type=int, default=5000)
    parser.add_argument("--lib-size", type=int, default=1000, help="findings for the cyclonedx-python-lib baseline")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    plan = [(case, n) for n in map(int, args.sizes.split(",")) for case in ("orjson", "cyclonedx", "spdx")]
    plan += [("cyclonedx-python-lib", args.lib_size), ("cyclonedx", args.lib_size)]
    print(f"{'case':22} {'comps':>6} {'findings':>8} {'seconds':>8} {'MB out':>7} {'peak RSS MB':>11}")
    for case, n in plan:
        proc = subprocess.run([sys.executable, __file__, "--child", case, str(args.components), str(n)],
                              capture_output=True, text=True, check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{row['case']:22} {row['components']:>6} {row['findings']:>8} {row['seconds']:>8.3f} "
              f"{row['bytes'] / 1e6:>7.1f} {row['peak_rss_mb']:>11.1f}", flush=True)


if __name__ == "__main__":
    main()
