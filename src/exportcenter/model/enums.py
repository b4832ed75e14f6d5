"""Enumerations shared by every stage, and the spec's export type x format table."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Higher is worse; used for sorting (critical first)."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 5,
    Severity.HIGH: 4,
    Severity.MEDIUM: 3,
    Severity.LOW: 2,
    Severity.INFO: 1,
    Severity.UNKNOWN: 0,
}

SEVERITY_ORDER: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: -s.rank))

_SEVERITY_WORDS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.INFO,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "none": Severity.INFO,
    "note": Severity.INFO,
    "unknown": Severity.UNKNOWN,
    "unspecified": Severity.UNKNOWN,
}


def severity_from_raw(raw: object) -> Severity:
    """Map any scanner's severity word (or a CVSS score) to our six levels. Total: never raises."""
    if raw is None:
        return Severity.UNKNOWN
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return severity_from_score(float(raw))
    word = str(raw).strip().lower()
    if not word:
        return Severity.UNKNOWN
    if word in _SEVERITY_WORDS:
        return _SEVERITY_WORDS[word]
    try:
        return severity_from_score(float(word))
    except ValueError:
        return Severity.UNKNOWN


def severity_from_score(score: float) -> Severity:
    """CVSS v3/v4 qualitative rating scale."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.INFO


class VexStatus(StrEnum):
    AFFECTED = "affected"
    NOT_AFFECTED = "not_affected"
    FIXED = "fixed"
    UNDER_INVESTIGATION = "under_investigation"

    @property
    def is_open(self) -> bool:
        """not_affected and fixed leave the open counts."""
        return self in (VexStatus.AFFECTED, VexStatus.UNDER_INVESTIGATION)


class FindingKind(StrEnum):
    VULNERABILITY = "vulnerability"
    MISCONFIGURATION = "misconfiguration"
    SECRET = "secret"  # noqa: S105 - a kind name, not a secret


class PolicyOutcome(StrEnum):
    PASS = "pass"  # noqa: S105
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return {"pass": 0, "warn": 1, "fail": 2}[self.value]


class ExportType(StrEnum):
    SCAN_REPORT = "scan_report"
    SCAN_SUMMARY = "scan_summary"
    SBOM = "sbom"
    VULNERABILITY_REPORT = "vulnerability_report"
    POLICY_COMPLIANCE = "policy_compliance"
    AI_CODE_GUARD_REPORT = "ai_code_guard_report"
    EVIDENCE_BUNDLE = "evidence_bundle"
    AUDIT_LOG = "audit_log"


class ExportFormat(StrEnum):
    PDF = "pdf"
    XLSX = "xlsx"
    JSON = "json"
    SARIF = "sarif"
    CYCLONEDX = "cyclonedx"
    SPDX = "spdx"
    CSV = "csv"
    ZIP = "zip"
    TAR_GZ = "tar.gz"

    @property
    def extension(self) -> str:
        return FORMAT_EXTENSIONS[self]

    @classmethod
    def parse(cls, value: str) -> ExportFormat:
        """Accept the spec's display names too ("Excel", "CycloneDX", "TAR.GZ")."""
        key = value.strip().lower()
        return cls(FORMAT_ALIASES.get(key, key))


FORMAT_ALIASES = {"excel": "xlsx", "cdx": "cyclonedx", "cdx.json": "cyclonedx", "spdx.json": "spdx",
                  "targz": "tar.gz", "tgz": "tar.gz"}

FORMAT_EXTENSIONS = {
    ExportFormat.PDF: ".pdf",
    ExportFormat.XLSX: ".xlsx",
    ExportFormat.JSON: ".json",
    ExportFormat.SARIF: ".sarif",
    ExportFormat.CYCLONEDX: ".cdx.json",
    ExportFormat.SPDX: ".spdx.json",
    ExportFormat.CSV: ".csv",
    ExportFormat.ZIP: ".zip",
    ExportFormat.TAR_GZ: ".tar.gz",
}

# The spec's "Export Types" table, exactly.
SUPPORTED_FORMATS: dict[ExportType, tuple[ExportFormat, ...]] = {
    ExportType.SCAN_REPORT: (ExportFormat.PDF, ExportFormat.JSON, ExportFormat.SARIF),
    ExportType.SCAN_SUMMARY: (ExportFormat.PDF, ExportFormat.XLSX, ExportFormat.CSV),
    ExportType.SBOM: (ExportFormat.CYCLONEDX, ExportFormat.SPDX),
    ExportType.VULNERABILITY_REPORT: (ExportFormat.PDF, ExportFormat.XLSX, ExportFormat.CSV),
    ExportType.POLICY_COMPLIANCE: (ExportFormat.PDF, ExportFormat.JSON),
    ExportType.AI_CODE_GUARD_REPORT: (ExportFormat.JSON, ExportFormat.SARIF),
    ExportType.EVIDENCE_BUNDLE: (ExportFormat.ZIP, ExportFormat.TAR_GZ),
    ExportType.AUDIT_LOG: (ExportFormat.JSON, ExportFormat.CSV),
}

TYPE_DESCRIPTIONS: dict[ExportType, str] = {
    ExportType.SCAN_REPORT: "Single scan results",
    ExportType.SCAN_SUMMARY: "Multiple scans summary",
    ExportType.SBOM: "Software Bill of Materials",
    ExportType.VULNERABILITY_REPORT: "CVE-focused report",
    ExportType.POLICY_COMPLIANCE: "Policy compliance status",
    ExportType.AI_CODE_GUARD_REPORT: "AI code guard findings and evidence",
    ExportType.EVIDENCE_BUNDLE: "Sealed evidence package",
    ExportType.AUDIT_LOG: "Activity audit trail",
}
