"""Benchmark the SARIF renderer on synthetic snapshots, against the orjson floor of the same snapshot.

Usage: .venv/bin/python bench/bench_sarif.py [--sizes 1000,10000,50000] [--images 5] [--repeat 3]
Prints one line per size: findings, best render CPU time (``time.process_time``: what this process
spent, robust to other jobs on the machine) and wall time, the same for orjson.dumps(snapshot), the CPU
ratio, output size, gzipped size, results kept and warnings. Render and floor runs are interleaved. The orjson floor serialises the frozen snapshot as it is (no SARIF shaping).
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from exportcenter.config import Settings
from exportcenter.model import (
    Cvss,
    ExportOptions,
    ExportScope,
    ExportSnapshot,
    Finding,
    FindingKind,
    Package,
    Scan,
    Severity,
    VexStatus,
)
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.sarif import render, render_bytes

SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO, Severity.UNKNOWN)


def synthetic_snapshot(count: int, images: int, seed: int = 7) -> ExportSnapshot:
    rng = random.Random(seed)
    created = datetime(2024, 10, 28, tzinfo=UTC)
    scans = tuple(Scan(id=f"scan-{i}", tenant="bench", source_format="trivy-json", scanner_name="trivy",
                       scanner_version="0.50.0", artifact_name=f"registry.example/team/app-{i}:v1.{i}",
                       artifact_type="container_image", artifact_digest=f"sha256:{i:064x}", os_family="alpine",
                       os_name="3.19", created_at=created, document_digest=f"sha256:{i:064x}")
                  for i in range(images))
    vulns = [f"CVE-2024-{n:05d}" for n in range(max(50, count // 8))]
    packages = [Package(name=f"pkg-{n}", version=f"1.{n % 17}.{n % 5}", purl=f"pkg:npm/pkg-{n}@1.{n % 17}",
                        type="npm", path=f"app/node_modules/pkg-{n}/package.json") for n in range(max(20, count // 10))]
    os_packages = [Package(name=f"lib{n}", version="1.0-r0", purl=f"pkg:apk/alpine/lib{n}@1.0-r0", type="alpine")
                   for n in range(200)]
    findings = []
    for n in range(count):
        severity = SEVERITIES[rng.randrange(len(SEVERITIES))]
        package = rng.choice(os_packages) if n % 4 == 0 else rng.choice(packages)
        vuln = rng.choice(vulns)
        score = round(rng.uniform(0.1, 10.0), 1)
        findings.append(Finding(
            id=f"f-{n}", scan_id=scans[n % images].id, kind=FindingKind.VULNERABILITY, vuln_id=vuln,
            severity=severity, raw_severity=severity.value.upper(), package=package,
            fixed_version="2.0.0" if n % 3 else None,
            cvss=(Cvss("3.1", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", score, "nvd"),),
            title=f"{vuln}: synthetic issue in {package.name}",
            description="A crafted input can make the parser read past the end of a buffer. " * 3,
            references=(f"https://nvd.nist.gov/vuln/detail/{vuln}", f"https://github.com/advisories/{vuln}"),
            cwes=("CWE-125",), target="Node.js",
            status=VexStatus.NOT_AFFECTED if n % 50 == 0 else VexStatus.AFFECTED,
        ))
    return ExportSnapshot(export_id="bench", tenant="bench", export_type="scan_report", export_format="sarif",
                          generated_at=created, scope=ExportScope(), options=ExportOptions(include_remediation=True),
                          scans=scans, findings=tuple(findings))


Timing = tuple[float, float]  # (cpu seconds, wall seconds)


def timed(action: Callable[[], object]) -> Timing:
    cpu, wall = time.process_time(), time.perf_counter()
    action()
    return time.process_time() - cpu, time.perf_counter() - wall


def peak_rss_of_one_render(size: int, images: int, render_function: Callable[..., None] = render) -> None:
    """In this (fresh) process: RSS with the snapshot built, then peak RSS after one render to /dev/null."""
    snapshot = synthetic_snapshot(size, images)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = time.process_time()
    with open(os.devnull, "wb") as out:
        render_function(snapshot, out, RenderContext(settings=Settings()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{size:8d}  snapshot {before:.0f} MB  peak {peak:.0f} MB  render cpu {time.process_time() - cpu:.2f} s")


def rss_table(sizes: list[int], images: int, script: str = __file__) -> None:
    """One fresh subprocess of ``script`` per size, so that each peak is that render's alone."""
    for size in sizes:
        subprocess.run([sys.executable, script, "--rss-one", str(size), "--images", str(images)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rss", action="store_true", help="peak RSS per size, one subprocess each")
    parser.add_argument("--rss-one", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_one:
        peak_rss_of_one_render(args.rss_one, args.images)
        return
    if args.rss:
        rss_table([int(part) for part in args.sizes.split(",")], args.images)
        return
    settings = Settings()
    print("findings  render_cpu  render_wall  floor_cpu  floor_wall  ratio_cpu  bytes  gzip_bytes  results  warnings")
    for size in (int(part) for part in args.sizes.split(",")):
        snapshot = synthetic_snapshot(size, args.images)
        output: list[bytes] = []
        ctx = RenderContext(settings=settings)
        ours: list[Timing] = []
        floor: list[Timing] = []
        for _ in range(args.repeat):  # interleaved, so that load from other jobs hits both alike
            output.clear()
            ours.append(timed(lambda: output.append(render_bytes(snapshot, ctx))))  # noqa: B023
            floor.append(timed(lambda: orjson.dumps(snapshot)))  # noqa: B023
        cpu, wall = min(t[0] for t in ours), min(t[1] for t in ours)
        floor_cpu, floor_wall = min(t[0] for t in floor), min(t[1] for t in floor)
        data = output[-1]
        log = orjson.loads(data)
        emitted = sum(len(run["results"]) for run in log["runs"])
        print(f"{size:8d}  {cpu:10.3f}  {wall:11.3f}  {floor_cpu:9.3f}  {floor_wall:10.3f}  {cpu / floor_cpu:9.1f}  "
              f"{len(data):9d}  {len(gzip.compress(data)):9d}  {emitted:7d}  {len(ctx.warnings)}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the whole run: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
