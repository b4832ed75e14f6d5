"""The ONE column schema per export type, shared by the CSV and the XLSX renderer.

``build_table(export_type, snapshot)`` returns a :class:`Table`: its columns, a one-pass iterator of
rows (already cleaned, see ``tabular_cells``) and, once the rows are consumed, the summary figures the
XLSX summary sheet shows. Both writers walk the same iterator, so their values agree cell for cell.

Schemas (column keys, in order):

- ``scan_summary``: one row per scan - scan_id, image, artifact_type, digest, scanner, created_at, then
  ``<severity>_open`` / ``<severity>_total`` for critical..unknown, open_total, vex_suppressed,
  findings_total, fixable_open, policy_outcome, policy_sets - and a final ``TOTAL`` row whose counts
  are the column sums. For every row: the per-severity totals add up to findings_total, and
  open_total + vex_suppressed == findings_total (suppressed = status not_affected or fixed).
- ``vulnerability_report``: one row per (vulnerability id, finding kind), worst first - vulnerability_id,
  kind, aliases, severity, raw_severity, max_cvss, cvss_version, cvss_vector, epss, epss_percentile, kev,
  title, affected_images, image_count, affected_packages, package_count, findings_total, open_findings,
  fixed_versions, vex_status, vex_justification, published, references (+ remediation when
  ``options.include_remediation``). ``severity`` is the HIGHEST severity among the row's findings: one
  CVE can be rated differently in different scans or by different scanners (CVE-2019-15847 is high in
  one image and medium in another), and the row takes the worst; ``raw_severity`` lists every word the
  scanners used. So the per-severity row counts ("<severity> vulnerabilities" in the XLSX summary, and
  the PDF's "Vulnerabilities by highest severity" table, see ``vulnerability_severity_counts``) count
  vulnerabilities by their highest severity, while per-finding counts ("findings by severity") count each
  finding at its own severity; the two differ whenever a CVE has mixed severities.
- ``audit_log``: seq, time, tenant, actor, action, resource, outcome, detail, source_address,
  prev_hash, hash.

Custom fields (``options.custom_fields``) are appended as extra columns named ``custom:<key>`` with the
same value on every row, so a CSV (which has no second sheet) carries them too; the XLSX summary sheet
lists them again. Lists inside a cell are joined with ``"; "``; times are ``YYYY-MM-DDThh:mm:ssZ``;
booleans are ``yes``/``no``; an unknown value is an empty cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from exportcenter.errors import RenderError
from exportcenter.model import (
    SEVERITY_ORDER,
    ExportSnapshot,
    ExportType,
    Finding,
    PolicyOutcome,
    Severity,
)
from exportcenter.renderers.tabular_cells import Cell, CellCleaner
from exportcenter.renderers.tabular_vulns import vulnerability_columns, vulnerability_rows
from exportcenter.util.timeutil import iso_z

EXCEL_MAX_COLUMNS = 16_384


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    width: int = 14
    severity: Severity | None = None  # count columns: the header is coloured with this severity
    holds_severity: bool = False  # cells are severity words, coloured per value


@dataclass
class Table:
    """One export type laid out as rows. ``rows`` can be iterated once; ``summary`` fills as it runs."""

    sheet_name: str
    title: str
    columns: tuple[Column, ...]
    rows: Iterator[tuple[Cell, ...]]
    summary: list[tuple[str, Cell]] = field(default_factory=list)
    cleaner: CellCleaner = field(default_factory=CellCleaner)

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)


def yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def joined(values: object) -> str | None:
    items = [str(v) for v in values] if isinstance(values, list | tuple | set | frozenset) else []
    return "; ".join(items) if items else None


# --------------------------------------------------------------------------- scan_summary

def scan_summary_columns() -> tuple[Column, ...]:
    columns = [Column("scan_id", 20), Column("image", 40), Column("artifact_type", 16), Column("digest", 30),
               Column("scanner", 18), Column("created_at", 21)]
    for severity in SEVERITY_ORDER:
        columns.append(Column(f"{severity.value}_open", 10, severity=severity))
        columns.append(Column(f"{severity.value}_total", 10, severity=severity))
    columns += [Column("open_total", 11), Column("vex_suppressed", 14), Column("findings_total", 14),
                Column("fixable_open", 12), Column("policy_outcome", 14), Column("policy_sets", 30)]
    return tuple(columns)


_COUNT_KEYS = (*(f"{s.value}_{kind}" for s in SEVERITY_ORDER for kind in ("open", "total")),
               "open_total", "vex_suppressed", "findings_total", "fixable_open")


def _count_findings(findings: tuple[Finding, ...]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for finding in findings:
        row = counts.get(finding.scan_id)
        if row is None:
            row = counts[finding.scan_id] = dict.fromkeys(_COUNT_KEYS, 0)
        sev = finding.severity.value
        row[f"{sev}_total"] += 1
        row["findings_total"] += 1
        if finding.status.is_open:
            row[f"{sev}_open"] += 1
            row["open_total"] += 1
            if finding.fixed_version:
                row["fixable_open"] += 1
        else:
            row["vex_suppressed"] += 1
    return counts


def _policy_cells(snapshot: ExportSnapshot) -> dict[str, tuple[str, str]]:
    by_scan: dict[str, list[tuple[str, PolicyOutcome]]] = {}
    for verdict in snapshot.policy_verdicts:
        by_scan.setdefault(verdict.scan_id, []).append((verdict.policy_set, verdict.outcome))
    cells: dict[str, tuple[str, str]] = {}
    for scan_id, verdicts in by_scan.items():
        worst = max((outcome for _, outcome in verdicts), key=lambda o: o.rank)
        sets = "; ".join(f"{name}={outcome.value}" for name, outcome in sorted(verdicts))
        cells[scan_id] = (worst.value, sets)
    return cells


def _scan_summary_rows(snapshot: ExportSnapshot, table: Table) -> Iterator[tuple[Cell, ...]]:
    counts = _count_findings(snapshot.findings)
    policy = _policy_cells(snapshot)
    totals = dict.fromkeys(_COUNT_KEYS, 0)
    known = {scan.id for scan in snapshot.scans}
    orphans = sorted(set(counts) - known)
    if orphans:
        table.summary.append(("findings without a scan (not counted)", sum(
            counts[s]["findings_total"] for s in orphans)))
    custom = tuple(snapshot.custom_fields.values())
    worst_outcome: PolicyOutcome | None = None
    scans = sorted(snapshot.scans, key=lambda s: (s.artifact_name, iso_z(s.created_at) or "", s.id))
    for scan in scans:
        row_counts = counts.get(scan.id) or dict.fromkeys(_COUNT_KEYS, 0)
        for key in _COUNT_KEYS:
            totals[key] += row_counts[key]
        outcome, sets = policy.get(scan.id, (None, None))
        if outcome is not None:
            candidate = PolicyOutcome(outcome)
            if worst_outcome is None or candidate.rank > worst_outcome.rank:
                worst_outcome = candidate
        scanner = f"{scan.scanner_name} {scan.scanner_version}" if scan.scanner_version else scan.scanner_name
        values: tuple[Cell, ...] = (scan.id, scan.artifact_name, scan.artifact_type, scan.artifact_digest,
                                    scanner, iso_z(scan.created_at),
                                    *(row_counts[k] for k in _COUNT_KEYS), outcome, sets, *custom)
        yield table.cleaner.row(values, scan.id)
    yield table.cleaner.row(("TOTAL", f"{len(scans)} scans", None, None, None, None,
                             *(totals[k] for k in _COUNT_KEYS),
                             worst_outcome.value if worst_outcome else None, None, *custom))
    table.summary += [("scans", len(scans))]
    table.summary += [(key.replace("_", " "), totals[key]) for key in _COUNT_KEYS]
    table.summary.append(("worst policy outcome", worst_outcome.value if worst_outcome else None))


# --------------------------------------------------------------------------- vulnerability_report


@dataclass(frozen=True, slots=True)
class VulnerabilityCount:
    """Vulnerabilities (vulnerability_report rows) whose highest severity is one severity."""

    severity: Severity
    total: int  # rows
    still_open: int  # rows with at least one open finding


def highest_severity(findings: Iterable[Finding]) -> Severity:
    """The severity a vulnerability_report row shows: the worst among its findings."""
    return max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.UNKNOWN)


def vulnerability_severity_counts(findings: Iterable[Finding]) -> list[VulnerabilityCount]:
    """Per severity (critical first), how many vulnerability_report rows - one per (vulnerability id,
    finding kind) - have it as their highest severity, and how many of those are still open. These
    are the "<severity> vulnerabilities" / "<severity> still open" figures of the CSV/XLSX export."""
    worst: dict[tuple[str, str], Severity] = {}
    still_open: set[tuple[str, str]] = set()
    for finding in findings:
        key = (finding.vuln_id, finding.kind.value)
        seen = worst.get(key)
        if seen is None or finding.severity.rank > seen.rank:
            worst[key] = finding.severity
        if finding.status.is_open:
            still_open.add(key)
    totals = dict.fromkeys(SEVERITY_ORDER, 0)
    open_counts = dict.fromkeys(SEVERITY_ORDER, 0)
    for key, severity in worst.items():
        totals[severity] += 1
        if key in still_open:
            open_counts[severity] += 1
    return [VulnerabilityCount(s, totals[s], open_counts[s]) for s in SEVERITY_ORDER]


# --------------------------------------------------------------------------- audit_log

def audit_log_columns() -> tuple[Column, ...]:
    return (Column("seq", 8), Column("time", 21), Column("tenant", 14), Column("actor", 20),
            Column("action", 18), Column("resource", 36), Column("outcome", 10), Column("detail", 50),
            Column("source_address", 16), Column("prev_hash", 66), Column("hash", 66))


def _audit_rows(snapshot: ExportSnapshot, table: Table) -> Iterator[tuple[Cell, ...]]:
    custom = tuple(snapshot.custom_fields.values())
    outcomes: dict[str, int] = {}
    events = sorted(snapshot.audit_events, key=lambda e: (e.seq, e.id))
    for event in events:
        outcomes[event.outcome] = outcomes.get(event.outcome, 0) + 1
        yield table.cleaner.row((event.seq, iso_z(event.time), event.tenant, event.actor, event.action,
                                 event.resource, event.outcome, event.detail, event.source_address,
                                 event.prev_hash, event.hash, *custom), f"seq {event.seq}")
    table.summary.append(("events", len(events)))
    table.summary += [(f"outcome {name}", count) for name, count in sorted(outcomes.items())]
    head = snapshot.metadata.get("audit_chain_head")
    if head is not None:
        table.summary.append(("audit chain head", str(head)))


# --------------------------------------------------------------------------- dispatch

_LAYOUTS = {
    ExportType.SCAN_SUMMARY: ("Scans", "Scan summary"),
    ExportType.VULNERABILITY_REPORT: ("Vulnerabilities", "Vulnerability report"),
    ExportType.AUDIT_LOG: ("Audit log", "Audit log"),
}


def build_table(export_type: ExportType, snapshot: ExportSnapshot, cleaner: CellCleaner | None = None) -> Table:
    """The rows of one tabular export. Raises RenderError for a type that has no tabular layout."""
    if export_type not in _LAYOUTS:
        raise RenderError(f"{export_type.value} has no CSV/XLSX layout "
                          f"(tabular types: {', '.join(t.value for t in _LAYOUTS)})")
    sheet_name, title = _LAYOUTS[export_type]
    if export_type is ExportType.SCAN_SUMMARY:
        base = scan_summary_columns()
    elif export_type is ExportType.VULNERABILITY_REPORT:
        base = tuple(Column(key, width, holds_severity=(key == "severity"))
                     for key, width in vulnerability_columns(snapshot.options.include_remediation))
    else:
        base = audit_log_columns()
    custom = tuple(Column(f"custom:{key}", 18) for key in snapshot.custom_fields)
    columns = base + custom
    if len(columns) > EXCEL_MAX_COLUMNS:
        raise RenderError(f"{len(columns)} columns exceed the spreadsheet limit of {EXCEL_MAX_COLUMNS}; "
                          f"use fewer custom fields")
    table = Table(sheet_name, title, columns, iter(()), cleaner=cleaner or CellCleaner())
    if export_type is ExportType.SCAN_SUMMARY:
        table.rows = _scan_summary_rows(snapshot, table)
    elif export_type is ExportType.VULNERABILITY_REPORT:
        table.rows = vulnerability_rows(snapshot, table.cleaner, table.summary)
    else:
        table.rows = _audit_rows(snapshot, table)
    return table
