"""Rows of the CVE-focused ``vulnerability_report`` table (one row per vulnerability id and kind).

Used by ``columns.build_table``; see its docstring for the column list and conventions.
"""

from __future__ import annotations

from collections.abc import Iterator

from exportcenter.model import SEVERITY_ORDER, Cvss, ExportSnapshot, Finding, FindingKind, Severity
from exportcenter.renderers.tabular_cells import Cell, CellCleaner
from exportcenter.util.timeutil import iso_z

MAX_REFERENCES = 10

_BASE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("vulnerability_id", 20), ("kind", 14), ("aliases", 24), ("severity", 11), ("raw_severity", 13),
    ("max_cvss", 9), ("cvss_version", 12), ("cvss_vector", 44), ("epss", 9), ("epss_percentile", 14),
    ("kev", 6), ("title", 50), ("affected_images", 40), ("image_count", 11), ("affected_packages", 40),
    ("package_count", 13), ("findings_total", 13), ("open_findings", 13), ("fixed_versions", 24),
    ("vex_status", 18), ("vex_justification", 30), ("published", 21), ("references", 50),
)


def vulnerability_columns(include_remediation: bool) -> tuple[tuple[str, int], ...]:
    return _BASE_COLUMNS + ((("remediation", 50),) if include_remediation else ())


def _package_label(finding: Finding) -> str | None:
    package = finding.package
    if package is None:
        return finding.location or finding.target
    return f"{package.name}@{package.version}" if package.version else package.name


def _best_cvss(findings: list[Finding]) -> Cvss | None:
    """The highest-scoring CVSS entry; ties go to the newest version, then the source name."""
    entries = [c for f in findings for c in f.cvss if c.score is not None]
    if not entries:
        return None
    return max(entries, key=lambda c: (c.score or 0.0, c.version, c.source, c.vector or ""))


def _max_or_none(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _kev(findings: list[Finding]) -> str | None:
    flags = [f.kev for f in findings if f.kev is not None]
    if not flags:
        return None
    return "yes" if any(flags) else "no"


def _distinct(values: list[str | None]) -> list[str]:
    """Sorted unique non-empty values."""
    return sorted({v for v in values if v})


def _joined(values: list[str]) -> str | None:
    return "; ".join(values) if values else None


def _remediation(findings: list[Finding]) -> str:
    steps: dict[str, None] = {}
    for finding in sorted(findings, key=lambda f: (_package_label(f) or "", f.fixed_version or "")):
        if finding.fixed_version and finding.package is not None:
            current = finding.package.version or "current version"
            steps.setdefault(f"upgrade {finding.package.name} from {current} to {finding.fixed_version}",
                             None)
        if finding.vex is not None and finding.vex.action_statement:
            steps.setdefault(finding.vex.action_statement, None)
    if not steps:
        return "no fixed version published; monitor the advisory or mitigate"
    return "; ".join(steps)


def _group(findings: tuple[Finding, ...]) -> dict[tuple[str, FindingKind], list[Finding]]:
    groups: dict[tuple[str, FindingKind], list[Finding]] = {}
    for finding in findings:
        key = (finding.vuln_id, finding.kind)
        bucket = groups.get(key)
        if bucket is None:
            groups[key] = [finding]
        else:
            bucket.append(finding)
    return groups


def _row(findings: list[Finding], images: dict[str, str], include_remediation: bool) -> tuple[Cell, ...]:
    first = findings[0]
    severity = max((f.severity for f in findings), key=lambda s: s.rank)
    best = _best_cvss(findings)
    image_names = _distinct([images.get(f.scan_id) or f.scan_id for f in findings])
    packages = _distinct([_package_label(f) for f in findings])
    aliases = _distinct([a for f in findings for a in f.aliases if a != first.vuln_id])
    titles = _distinct([f.title for f in findings])
    vex = sorted({(f.vex.status.value, f.vex.justification or "") for f in findings if f.vex is not None})
    published = min((f.published for f in findings if f.published is not None), default=None)
    references = _distinct([r for f in findings for r in f.references])
    row: tuple[Cell, ...] = (
        first.vuln_id, first.kind.value, _joined(aliases), severity.value,
        _joined(_distinct([f.raw_severity for f in findings])),
        best.score if best else None, best.version if best else None, best.vector if best else None,
        _max_or_none([f.epss for f in findings]), _max_or_none([f.epss_percentile for f in findings]),
        _kev(findings), titles[0] if titles else None,
        _joined(image_names), len(image_names), _joined(packages), len(packages),
        len(findings), sum(1 for f in findings if f.status.is_open),
        _joined(_distinct([f.fixed_version for f in findings])),
        _joined(_distinct([f.status.value for f in findings])),
        _joined([j for _, j in vex if j]), iso_z(published), _joined(references[:MAX_REFERENCES]),
    )
    if include_remediation:
        row += (_remediation(findings),)
    return row


def vulnerability_rows(snapshot: ExportSnapshot, cleaner: CellCleaner,
                       summary: list[tuple[str, Cell]]) -> Iterator[tuple[Cell, ...]]:
    """Rows worst first (severity, then max CVSS, then id); fills ``summary`` with counts."""
    images = {scan.id: scan.artifact_name for scan in snapshot.scans}
    include_remediation = snapshot.options.include_remediation
    custom = tuple(snapshot.custom_fields.values())
    groups = _group(snapshot.findings)

    def sort_key(item: tuple[tuple[str, FindingKind], list[Finding]]) -> tuple[int, float, str, str]:
        (vuln_id, kind), bucket = item
        worst = max(f.severity.rank for f in bucket)
        score = _max_or_none([f.max_score for f in bucket]) or 0.0
        return (-worst, -score, vuln_id, kind.value)

    by_severity = dict.fromkeys(SEVERITY_ORDER, 0)
    open_by_severity = dict.fromkeys(SEVERITY_ORDER, 0)
    findings_total = 0
    for (vuln_id, _), bucket in sorted(groups.items(), key=sort_key):
        row = _row(bucket, images, include_remediation)
        severity = Severity(str(row[3]))
        by_severity[severity] += 1
        if any(f.status.is_open for f in bucket):
            open_by_severity[severity] += 1
        findings_total += len(bucket)
        yield cleaner.row(row + custom, vuln_id)
    summary.append(("vulnerabilities", len(groups)))
    summary += [(f"{s.value} vulnerabilities", by_severity[s]) for s in SEVERITY_ORDER]
    summary += [(f"{s.value} still open", open_by_severity[s]) for s in SEVERITY_ORDER]
    summary.append(("findings (vulnerability x package x image)", findings_total))
    summary.append(("images", len({f.scan_id for f in snapshot.findings})))
