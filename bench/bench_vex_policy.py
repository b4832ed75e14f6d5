"""Benchmark: apply_vex and the policy engine on synthetic large inputs.

    .venv/bin/python bench/bench_vex_policy.py [--findings 200000] [--statements 1000]

Baseline measured in the same run: one plain pass over the findings doing a dict lookup per vuln id and
dataclasses.replace on the hits (the floor any VEX application has to pay).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import time
from datetime import UTC, datetime, timedelta

from exportcenter.model import Cvss, Finding, FindingKind, Package, Scan, Severity, VexStatement, VexStatus
from exportcenter.policy import builtin_policy_sets, evaluate_scans
from exportcenter.vex import apply_vex

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SEVERITIES = list(Severity)


def build(n_findings: int, n_statements: int, n_scans: int = 50, n_vulns: int = 20000, n_packages: int = 5000):
    rng = random.Random(42)
    scans = [
        Scan(id=f"scan-{i}", tenant="t", source_format="trivy-json", scanner_name="Trivy", scanner_version="0.50",
             artifact_name=f"registry.example.com/app{i}:1.{i}", artifact_type="container_image",
             artifact_digest=f"sha256:{i:064x}", os_family="debian", os_name="12", created_at=T0,
             document_digest=f"sha256:{i + 1000:064x}")
        for i in range(n_scans)
    ]
    findings = []
    for i in range(n_findings):
        p = rng.randrange(n_packages)
        v = rng.randrange(n_vulns)
        findings.append(Finding(
            id=f"f{i}", scan_id=f"scan-{i % n_scans}", kind=FindingKind.VULNERABILITY, vuln_id=f"CVE-2024-{v:05d}",
            aliases=(f"GHSA-{v:04x}-aaaa-bbbb",), severity=SEVERITIES[v % 6], raw_severity=None,
            package=Package(f"pkg{p}", f"1.{p % 7}.0", f"pkg:deb/debian/pkg{p}@1.{p % 7}.0?arch=amd64&distro=debian-12", "deb"),
            fixed_version="2.0" if v % 3 == 0 else None,
            cvss=(Cvss("3.1", None, (v % 100) / 10, "nvd"),), epss=(v % 1000) / 1000, kev=v % 97 == 0,
        ))
    statements = []
    for j in range(n_statements):
        f = findings[rng.randrange(n_findings)]
        kind = j % 3
        if kind == 0:  # image-level, by digest
            products: tuple[str, ...] = (f"sha256:{int(f.scan_id.split('-')[1]):064x}",)
            subs: tuple[str, ...] = ()
        elif kind == 1:  # versionless package purl
            products = (f.package.purl.split("@")[0],)  # type: ignore[union-attr]
            subs = ()
        else:  # OCI purl with subcomponent
            i = int(f.scan_id.split("-")[1])
            products = (f"pkg:oci/app{i}@sha256%3A{i:064x}?repository_url=registry.example.com/app{i}",)
            subs = (f.package.purl,)  # type: ignore[union-attr,assignment]
        statements.append(VexStatement(
            id=f"s{j}", document_id="bench", source_format="openvex", vuln_id=f.vuln_id if j % 2 else f.aliases[0],
            status=VexStatus.NOT_AFFECTED if j % 2 else VexStatus.FIXED, products=products, subcomponents=subs,
            timestamp=T0 + timedelta(minutes=j)))
    return scans, findings, statements


def baseline(findings, statements):
    index = {s.vuln_id: s for s in statements}
    return [dataclasses.replace(f, status=index[f.vuln_id].status) if f.vuln_id in index else f for f in findings]


def timed(label, fn):
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {elapsed:8.3f} s")
    return result, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=200_000)
    parser.add_argument("--statements", type=int, default=1000)
    args = parser.parse_args()
    scans, findings, statements = build(args.findings, args.statements)
    print(f"{len(findings)} findings, {len(statements)} statements, {len(scans)} scans")
    timed("baseline: dict lookup + replace (floor)", lambda: baseline(findings, statements))
    outcome, _ = timed("apply_vex", lambda: apply_vex(scans, findings, statements))
    print(f"  changed findings: {sum(f.vex is not None for f in outcome.findings)}, applied: {len(outcome.applied)}, "
          f"unmatched: {len(outcome.unmatched)}")
    sets = builtin_policy_sets()
    timed("policy evaluate_scans, default set (6 rules)", lambda: evaluate_scans(scans, outcome.findings, [sets["default"]], T0))
    timed("policy evaluate_scans, strict set (8 rules)", lambda: evaluate_scans(scans, outcome.findings, [sets["strict"]], T0))


if __name__ == "__main__":
    main()
