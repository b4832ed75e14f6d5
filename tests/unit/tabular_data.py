"""Snapshots for the tabular and JSON renderer tests, built from the real files in tests/fixtures/data
with the project's own parsers (``exportcenter.sources.local.sniff.parse_document``)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exportcenter.model import (
    AuditEvent,
    CodeGuardFinding,
    ExportOptions,
    ExportScope,
    ExportSnapshot,
    Finding,
    PolicyVerdict,
    Scan,
    VexDecision,
    VexStatus,
)
from exportcenter.policy.engine import evaluate_scans
from exportcenter.policy.loader import builtin_policy_sets
from exportcenter.sources.local.sniff import parse_document

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
GENERATED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def load_scan(relative: str, tenant: str = "acme") -> tuple[Scan | None, list[Finding], list[CodeGuardFinding]]:
    path = DATA / relative
    content = path.read_bytes()
    parsed = parse_document(content, name=path.name, tenant=tenant, ingested_at=GENERATED_AT)
    return parsed.scan, list(parsed.findings), list(parsed.code_guard_findings)


def with_vex(findings: list[Finding], every: int = 5) -> list[Finding]:
    """Mark every n-th finding not_affected by a VEX statement (the renderers only read the result)."""
    out = []
    for index, finding in enumerate(findings):
        if index % every == 0:
            decision = VexDecision(VexStatus.NOT_AFFECTED, "vulnerable_code_not_in_execute_path",
                                   f"stmt-{index}", "vex/test.json", action_statement=None)
            finding = replace(finding, status=VexStatus.NOT_AFFECTED, vex=decision)
        out.append(finding)
    return out


def verdicts_for(scan: Scan, findings: list[Finding]) -> tuple[PolicyVerdict, ...]:
    """Verdicts of the built-in ``default`` and ``strict`` policy sets (the project's policy engine)."""
    sets = builtin_policy_sets()
    return evaluate_scans([scan], findings, [sets["default"], sets["strict"]], GENERATED_AT)


def snapshot_of(files: list[str], *, export_type: str, export_format: str, options: ExportOptions | None = None,
                vex_every: int = 5, **extra: Any) -> ExportSnapshot:
    scans, findings, guards, verdicts = [], [], [], []
    for relative in files:
        scan, scan_findings, code_guard = load_scan(relative)
        scan_findings = with_vex(scan_findings, vex_every)
        if scan is not None:
            scans.append(scan)
            verdicts.extend(verdicts_for(scan, scan_findings))
        findings.extend(scan_findings)
        guards.extend(code_guard)
    return ExportSnapshot(
        export_id="exp-test-0001", tenant="acme", export_type=export_type, export_format=export_format,
        generated_at=GENERATED_AT, scope=ExportScope(), options=options or ExportOptions(),
        scans=tuple(scans), findings=tuple(findings), policy_verdicts=tuple(verdicts),
        code_guard_findings=tuple(guards), **extra)


def audit_events(count: int = 5) -> tuple[AuditEvent, ...]:
    events = []
    prev = None
    for seq in range(1, count + 1):
        digest = hashlib.sha256(f"{prev}-{seq}".encode()).hexdigest()
        events.append(AuditEvent(seq, f"ev-{seq}", GENERATED_AT, "acme", "alice@example.com",
                                 "ingest" if seq % 2 else "export.create", f"scan/{seq}",
                                 "success" if seq != 3 else "failure", detail=f"event {seq}",
                                 source_address="10.0.0.1", prev_hash=prev, hash=digest))
        prev = digest
    return tuple(events)
