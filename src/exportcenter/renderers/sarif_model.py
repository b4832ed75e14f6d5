"""The intermediate shapes the SARIF renderer works with before it writes the log.

A ``SarifEntry`` is one result-to-be: what is needed to order it, cut it and describe its rule, and the
finding it comes from. Its SARIF ``result`` object is built only when the log is written, and only for
the entries that survived GitHub's limits (``RunDraft.build_result``), then serialised and dropped. A
``RunDraft`` is one run-to-be: one GitHub analysis category (one scanned subject) and its entries,
sorted most severe first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exportcenter.model import CodeGuardFinding, Finding, Scan, Severity

SEVERITY_DEFAULT_SCORES: dict[Severity, float] = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.MEDIUM: 5.5,
    Severity.LOW: 2.0,
}

SEVERITY_LEVELS: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
    Severity.UNKNOWN: "note",
}

SARIF_LEVELS = frozenset({"error", "warning", "note", "none"})


def security_severity(severity: Severity, score: float | None) -> str | None:
    """GitHub's ``security-severity``: a number in (0, 10] as a string, or None (info / unknown).

    The highest CVSS score wins; without one the severity's default stands in. Never "0.0", never a word.
    """
    if severity not in SEVERITY_DEFAULT_SCORES:
        return None
    value = score if score is not None and score > 0.0 else SEVERITY_DEFAULT_SCORES[severity]
    return f"{min(value, 10.0):.1f}"


@dataclass(slots=True)
class SarifEntry:
    rank: int  # Severity.rank of the finding: higher is worse
    rule_id: str
    fingerprint: str
    source: Finding | CodeGuardFinding
    severity: Severity
    score: str | None  # security-severity of this one finding
    uri: str  # normalised, relative artifact URI
    scan: Scan | None = None  # the scan of a scanner finding, when the snapshot has it
    cvss_max: float | None = None  # highest CVSS score the finding carries

    @property
    def order_key(self) -> tuple[int, str, str]:
        """Most severe first, then rule id, then fingerprint: stable across re-scans and tags."""
        return (-self.rank, self.rule_id, self.fingerprint)


RuleBuilder = Callable[[str, list[SarifEntry]], dict[str, Any]]
ResultBuilder = Callable[[SarifEntry, int], dict[str, Any]]  # (entry, ruleIndex) -> SARIF result


@dataclass(slots=True)
class RunDraft:
    category: str  # automationDetails.id
    subject: str  # what was scanned, without tag
    entries: list[SarifEntry]
    build_rule: RuleBuilder
    build_result: ResultBuilder
    properties: dict[str, Any] = field(default_factory=dict)
    driver_properties: dict[str, Any] = field(default_factory=dict)
    merged_subjects: list[str] = field(default_factory=list)

    @property
    def worst_rank(self) -> int:
        return max((entry.rank for entry in self.entries), default=-1)

    def sort(self) -> None:
        self.entries.sort(key=lambda entry: entry.order_key)
