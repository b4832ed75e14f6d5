"""What the PDF templates see: figures computed once from the snapshot, plus the snapshot itself.

Templates never compute counts: every number shown comes from here, so tests can compare the PDF
text with the snapshot exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from exportcenter.model import (
    SEVERITY_ORDER,
    TYPE_DESCRIPTIONS,
    ExportSnapshot,
    ExportType,
    Finding,
    PolicyOutcome,
    Scan,
    Severity,
)
from exportcenter.renderers.columns import VulnerabilityCount, vulnerability_severity_counts
from exportcenter.util.timeutil import iso_z

DEFAULT_TITLES = {
    ExportType.SCAN_REPORT.value: "Scan Report",
    ExportType.SCAN_SUMMARY.value: "Scan Summary",
    ExportType.VULNERABILITY_REPORT.value: "Vulnerability Report",
    ExportType.POLICY_COMPLIANCE.value: "Policy Compliance Report",
}
SEVERITY_COLOURS = {
    Severity.CRITICAL: "#7f1d1d",
    Severity.HIGH: "#dc2626",
    Severity.MEDIUM: "#f59e0b",
    Severity.LOW: "#2563eb",
    Severity.INFO: "#64748b",
    Severity.UNKNOWN: "#a3a3a3",
}
_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_LOGO = re.compile(r"^data:image/(?:png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]+$")
UNKNOWN_IMAGE = "(unknown artifact)"


@dataclass(frozen=True)
class Branding:
    title: str | None = None
    company: str | None = None
    logo: str | None = None  # a data: URI (no network at render time)
    primary_color: str = "#1e3a5f"
    accent_color: str = "#0ea5e9"


def branding_from(metadata: dict[str, Any], warn: Callable[[str], None]) -> Branding:
    """Tenant branding from ``snapshot.metadata["branding"]``; bad values are dropped with a warning."""
    raw = metadata.get("branding")
    if raw is None:
        return Branding()
    if not isinstance(raw, dict):
        warn("PDF branding ignored: metadata 'branding' is not an object")
        return Branding()
    values: dict[str, str] = {}
    for key in ("title", "company"):
        if isinstance(raw.get(key), str) and raw[key].strip():
            values[key] = raw[key].strip()
    for key in ("primary_color", "accent_color"):
        colour = raw.get(key)
        if colour is None:
            continue
        if isinstance(colour, str) and _COLOUR.match(colour):
            values[key] = colour
        else:
            warn(f"PDF branding: {key} {colour!r} is not a #rgb/#rrggbb colour; default used")
    logo = raw.get("logo")
    if logo is not None:
        if isinstance(logo, str) and _LOGO.match(logo):
            values["logo"] = logo
        else:
            warn("PDF branding: logo must be a base64 data:image/... URI; logo left out")
    return Branding(**values)


@dataclass(frozen=True)
class SeverityRow:
    severity: Severity
    colour: str
    total: int
    open: int
    fixable: int


@dataclass(frozen=True)
class ScanRow:
    scan: Scan
    name: str
    total: int
    by_severity: dict[Severity, int]
    fixable: int

    def count(self, severity: str) -> int:
        return self.by_severity.get(Severity(severity), 0)


@dataclass(frozen=True)
class VerdictSummary:
    passed: int
    warned: int
    failed: int

    @property
    def total(self) -> int:
        return self.passed + self.warned + self.failed


@dataclass
class ReportView:
    snapshot: ExportSnapshot
    title: str
    subtitle: str
    tenant: str
    generated_at: str
    branding: Branding
    severity_rows: list[SeverityRow]
    total_findings: int
    open_findings: int
    fixable: int
    not_fixable: int
    kev: int
    suppressed: int
    scans: list[ScanRow]
    images: list[tuple[str, int]]
    verdicts: VerdictSummary
    top_risks: list[Finding]
    # vulnerability_report rows (one per vulnerability id and kind) by their HIGHEST severity, as the
    # CSV/XLSX count them; severity_rows count findings, each at its own severity
    vulnerability_rows: list[VulnerabilityCount] = field(default_factory=list)
    charts: dict[str, str] = field(default_factory=dict)
    simplified: bool = False
    template_name: str = ""

    @property
    def total_vulnerabilities(self) -> int:
        return sum(row.total for row in self.vulnerability_rows)

    @property
    def open_vulnerabilities(self) -> int:
        return sum(row.still_open for row in self.vulnerability_rows)

    def severity_count(self, name: str) -> int:
        for row in self.severity_rows:
            if row.severity.value == name:
                return row.total
        return 0


def scan_names(scans: Iterable[Scan]) -> dict[str, str]:
    return {scan.id: scan.artifact_name or scan.id for scan in scans}


def risk_key(finding: Finding) -> tuple[int, int, float, float, str]:
    """Sort key, worst first: severity, KEV, EPSS, CVSS, then id for a stable order."""
    return (
        -finding.severity.rank,
        0 if finding.kev else 1,
        -(finding.epss or 0.0),
        -(finding.max_score or 0.0),
        finding.vuln_id,
    )


def _verdicts(snapshot: ExportSnapshot) -> VerdictSummary:
    counts = Counter(v.outcome for v in snapshot.policy_verdicts)
    return VerdictSummary(counts[PolicyOutcome.PASS], counts[PolicyOutcome.WARN], counts[PolicyOutcome.FAIL])


def _scan_rows(snapshot: ExportSnapshot, findings: Sequence[Finding]) -> list[ScanRow]:
    by_scan: dict[str, list[Finding]] = {}
    for finding in findings:
        by_scan.setdefault(finding.scan_id, []).append(finding)
    rows = []
    for scan in sorted(snapshot.scans, key=lambda s: (s.created_at, s.artifact_name)):
        own = by_scan.get(scan.id, [])
        counts = Counter(f.severity for f in own)
        rows.append(
            ScanRow(scan, scan.artifact_name or scan.id, len(own), {s: counts[s] for s in SEVERITY_ORDER},
                    sum(1 for f in own if f.has_fix))
        )
    return rows


def build_view(snapshot: ExportSnapshot, warn: Callable[[str], None], top_n: int = 10) -> ReportView:
    findings = snapshot.findings
    branding = branding_from(snapshot.metadata, warn)
    severity_rows = []
    for severity in SEVERITY_ORDER:
        mine = [f for f in findings if f.severity is severity]
        severity_rows.append(
            SeverityRow(severity, SEVERITY_COLOURS[severity], len(mine), sum(1 for f in mine if f.is_open),
                        sum(1 for f in mine if f.has_fix))
        )
    names = scan_names(snapshot.scans)
    image_counts = Counter(names.get(f.scan_id, UNKNOWN_IMAGE) for f in findings)
    open_findings = [f for f in findings if f.is_open]
    fixable = sum(1 for f in findings if f.has_fix)
    title = branding.title or DEFAULT_TITLES.get(snapshot.export_type, "Security Report")
    try:
        subtitle = TYPE_DESCRIPTIONS[ExportType(snapshot.export_type)]
    except ValueError:
        subtitle = snapshot.export_type
    if snapshot.export_type == ExportType.SCAN_SUMMARY.value and len(snapshot.scans) == 1:
        subtitle = "Scan summary"  # "Multiple scans summary" would be wrong for one scan
    return ReportView(
        snapshot=snapshot,
        title=title,
        subtitle=subtitle,
        tenant=snapshot.tenant,
        generated_at=iso_z(snapshot.generated_at) or "",
        branding=branding,
        severity_rows=severity_rows,
        total_findings=len(findings),
        open_findings=len(open_findings),
        fixable=fixable,
        not_fixable=len(findings) - fixable,
        kev=sum(1 for f in findings if f.kev),
        suppressed=len(findings) - len(open_findings),
        scans=_scan_rows(snapshot, findings),
        images=sorted(image_counts.items(), key=lambda item: (-item[1], item[0])),
        verdicts=_verdicts(snapshot),
        top_risks=sorted(open_findings, key=risk_key)[:top_n],
        vulnerability_rows=vulnerability_severity_counts(findings),
    )
