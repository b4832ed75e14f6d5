"""Build the one frozen snapshot an export renders: a pure function of parsed documents, VEX and policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from exportcenter.model import (
    AuditEvent,
    CodeGuardFinding,
    Component,
    Dependency,
    ExportOptions,
    ExportScope,
    ExportSnapshot,
    Finding,
    PolicyVerdict,
    Sbom,
    Scan,
    VexStatement,
)
from exportcenter.sources.local.parsed import ParsedDocument

if TYPE_CHECKING:
    from exportcenter.policy import PolicySet

MAX_LISTED_WARNINGS = 20


def build_snapshot(*, export_id: str, tenant: str, export_type: str, export_format: str,
                   documents: Sequence[ParsedDocument], vex_statements: Sequence[VexStatement],
                   policy_sets: Mapping[str, PolicySet], scope: ExportScope, options: ExportOptions,
                   generated_at: datetime, audit_events: Sequence[AuditEvent] = (),
                   metadata: Mapping[str, Any] | None = None, requested_by: str = "cli",
                   extra_warnings: Sequence[str] = ()) -> ExportSnapshot:
    from exportcenter.policy import evaluate
    from exportcenter.vex import apply_vex

    scans: list[Scan] = []
    findings: list[Finding] = []
    guard: list[CodeGuardFinding] = []
    sboms: list[Sbom] = []
    verdicts: list[PolicyVerdict] = []
    warnings: list[str] = list(extra_warnings)
    for doc in documents:
        if doc.scan is not None and doc.source_format != "sarif":
            scans.append(doc.scan)
        findings.extend(doc.findings)
        guard.extend(doc.code_guard_findings)
        if doc.sbom is not None:
            sboms.append(doc.sbom)
        verdicts.extend(doc.policy_verdicts)
        warnings.extend(f"{doc.name}: {w}" for w in doc.warnings)
    if doc_sarif_scans := [d.scan for d in documents if d.scan is not None and d.source_format == "sarif"]:
        scans.extend(doc_sarif_scans)

    components, dependencies = _merge_inventory(sboms)
    outcome = apply_vex(scans, findings, vex_statements, components=components)
    findings = list(outcome.findings)
    warnings.extend(_unmatched_warnings(findings, outcome.unmatched))

    order = {scan.id: index for index, scan in enumerate(scans)}
    findings.sort(key=lambda f: (order.get(f.scan_id, 0), -f.severity.rank, f.vuln_id,
                                 f.package.name if f.package else "", f.id))
    by_scan: dict[str, list[Finding]] = {}
    for finding in findings:
        by_scan.setdefault(finding.scan_id, []).append(finding)
    for scan in scans:
        if scan.source_format == "sarif":
            continue
        for policy_set in policy_sets.values():
            verdicts.append(evaluate(scan, by_scan.get(scan.id, []), policy_set, generated_at))

    return ExportSnapshot(
        export_id=export_id, tenant=tenant, export_type=export_type, export_format=export_format,
        generated_at=generated_at, scope=scope, options=options, scans=tuple(scans), findings=tuple(findings),
        components=components, dependencies=dependencies, sboms=tuple(sboms),
        policy_verdicts=tuple(sorted(verdicts, key=lambda v: (order.get(v.scan_id, 0), v.policy_set, v.id))),
        vex_applied=outcome.applied, vex_unmatched=outcome.unmatched, audit_events=tuple(audit_events),
        code_guard_findings=tuple(guard), warnings=tuple(dict.fromkeys(warnings)), requested_by=requested_by,
        metadata=dict(metadata or {}),
    )


def _unmatched_warnings(findings: Sequence[Finding], unmatched: Sequence[VexStatement]) -> list[str]:
    """Warn one by one about statements on vulnerabilities in scope that matched none of their products
    (likely a wrong product id), and count the rest (statements about other images) in one line."""
    in_scope = {v.upper() for f in findings for v in (f.vuln_id, *f.aliases)}
    near_misses = [s for s in unmatched if {v.upper() for v in (s.vuln_id, *s.aliases)} & in_scope]
    messages = [f"VEX statement {s.id} ({s.vuln_id}, {s.status.value}) matched no finding: none of its products "
                f"({', '.join(s.products[:3]) or 'none'}) is in scope" for s in near_misses]
    others = len(unmatched) - len(near_misses)
    if others:
        messages.append(f"{others} VEX statement(s) of this tenant concern no vulnerability in scope; "
                        "they are listed as unmatched in the export")
    return _capped(messages, "VEX statements matched no finding in scope")


def _capped(messages: Sequence[str], summary: str) -> list[str]:
    """Keep warnings readable: list the first few and count the rest."""
    if len(messages) <= MAX_LISTED_WARNINGS:
        return list(messages)
    rest = len(messages) - MAX_LISTED_WARNINGS
    return [*messages[:MAX_LISTED_WARNINGS], f"... and {rest} more: {summary}"]


def _merge_inventory(sboms: Sequence[Sbom]) -> tuple[tuple[Component, ...], tuple[Dependency, ...]]:
    components: dict[str, Component] = {}
    dependencies: dict[str, set[str]] = {}
    for sbom in sboms:
        for component in sbom.components:
            components.setdefault(component.bom_ref, component)
        for dependency in sbom.dependencies:
            dependencies.setdefault(dependency.ref, set()).update(dependency.depends_on)
    return (tuple(components.values()),
            tuple(Dependency(ref, tuple(sorted(on))) for ref, on in sorted(dependencies.items())))
