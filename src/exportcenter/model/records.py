"""The format-neutral data model. Parsers produce these records; renderers read only these.

Everything is a frozen dataclass with tuple fields, so a snapshot cannot change once gathered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from exportcenter.model.enums import FindingKind, PolicyOutcome, Severity, VexStatus


@dataclass(frozen=True, slots=True)
class Cvss:
    """One CVSS entry as a source published it. ``version`` is "2.0", "3.0", "3.1" or "4.0"."""

    version: str
    vector: str | None
    score: float | None
    source: str  # e.g. "nvd", "ghsa", "redhat"


@dataclass(frozen=True, slots=True)
class License:
    """A licence as found: an SPDX id, an SPDX expression, or a free-text name."""

    kind: str  # "id" | "expression" | "name"
    value: str


@dataclass(frozen=True, slots=True)
class Package:
    name: str
    version: str | None = None
    purl: str | None = None
    type: str | None = None  # ecosystem: "npm", "deb", "apk", "maven", "golang", ...
    licenses: tuple[License, ...] = ()
    path: str | None = None  # file the package was found in (lockfile, jar, manifest)


@dataclass(frozen=True, slots=True)
class VexDecision:
    """The VEX statement that decided a finding's status."""

    status: VexStatus
    justification: str | None
    statement_id: str
    source: str  # document id / file name the statement came from
    impact_statement: str | None = None
    action_statement: str | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One vulnerability (or misconfiguration / secret) in one package of one scan target."""

    id: str  # stable within a scan: derived from scan_id + kind + vuln_id + package + target
    scan_id: str
    kind: FindingKind
    vuln_id: str
    severity: Severity
    raw_severity: str | None
    package: Package | None = None
    fixed_version: str | None = None
    aliases: tuple[str, ...] = ()
    cvss: tuple[Cvss, ...] = ()
    epss: float | None = None
    epss_percentile: float | None = None
    kev: bool | None = None
    title: str | None = None
    description: str | None = None
    references: tuple[str, ...] = ()
    cwes: tuple[str, ...] = ()
    target: str | None = None  # Trivy "Target" / Grype location: where in the artifact
    location: str | None = None  # file path for misconfigurations and secrets
    start_line: int | None = None
    end_line: int | None = None
    first_seen: datetime | None = None
    published: datetime | None = None
    status: VexStatus = VexStatus.AFFECTED
    scanner_status: str | None = None  # the scanner's own status word (Trivy "fixed", "will_not_fix", ...)
    vex: VexDecision | None = None

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def max_score(self) -> float | None:
        scores = [c.score for c in self.cvss if c.score is not None]
        return max(scores) if scores else None

    @property
    def has_fix(self) -> bool:
        return bool(self.fixed_version)


@dataclass(frozen=True, slots=True)
class Scan:
    """One ingested scan of one artifact (an image, a filesystem, a repository)."""

    id: str
    tenant: str
    source_format: str  # "trivy-json", "grype-json", "cyclonedx", ...
    scanner_name: str
    scanner_version: str | None
    artifact_name: str  # image reference as scanned, e.g. "bkimminich/juice-shop:v10.2.0"
    artifact_type: str  # "container_image", "filesystem", "repository", "sbom"
    artifact_digest: str | None  # "sha256:..." (image id or repo digest) where known
    os_family: str | None
    os_name: str | None
    created_at: datetime  # when the scanner ran (or when ingested, when the file does not say)
    document_digest: str  # sha256 of the ingested file
    findings_count: int = 0
    repo_digests: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Component:
    bom_ref: str
    name: str
    version: str | None = None
    purl: str | None = None
    type: str = "library"  # CycloneDX component type
    group: str | None = None
    licenses: tuple[License, ...] = ()
    hashes: tuple[tuple[str, str], ...] = ()  # (algorithm, hex)
    supplier: str | None = None
    cpe: str | None = None
    description: str | None = None
    scan_id: str | None = None


@dataclass(frozen=True, slots=True)
class Dependency:
    ref: str
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sbom:
    """An ingested SBOM document (or the component inventory a scanner reported)."""

    id: str
    tenant: str
    source_format: str  # "cyclonedx" | "spdx"
    spec_version: str
    name: str
    digest: str  # sha256 of the document, "sha256:..."
    subject_digest: str | None  # the image digest it describes, where known
    created_at: datetime
    components: tuple[Component, ...] = ()
    dependencies: tuple[Dependency, ...] = ()


@dataclass(frozen=True, slots=True)
class VexStatement:
    id: str  # unique: document id + index
    document_id: str
    source_format: str  # "openvex" | "csaf" | "cyclonedx-vex"
    vuln_id: str
    status: VexStatus
    products: tuple[str, ...]  # purls, image digests, CPEs or bom-refs
    aliases: tuple[str, ...] = ()
    subcomponents: tuple[str, ...] = ()
    justification: str | None = None
    impact_statement: str | None = None
    action_statement: str | None = None
    timestamp: datetime | None = None
    author: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyRuleResult:
    rule_id: str
    name: str
    outcome: PolicyOutcome
    message: str
    matched_finding_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyVerdict:
    id: str
    scan_id: str
    policy_set: str
    outcome: PolicyOutcome
    evaluated_at: datetime
    source: str  # "builtin" or the ingested document's name
    rules: tuple[PolicyRuleResult, ...] = ()


@dataclass(frozen=True, slots=True)
class CodeGuardFinding:
    """A SARIF result kept for ``ai_code_guard_report``."""

    id: str
    scan_id: str
    tool_name: str
    tool_version: str | None
    rule_id: str
    rule_name: str | None
    message: str
    level: str  # SARIF level: error | warning | note | none
    severity: Severity
    uri: str | None
    start_line: int | None = None
    end_line: int | None = None
    fingerprint: str | None = None
    help_uri: str | None = None
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AuditEvent:
    seq: int
    id: str
    time: datetime
    tenant: str
    actor: str
    action: str  # "ingest", "export.create", "export.complete", "api.request", ...
    resource: str
    outcome: str  # "success" | "failure" | "denied"
    detail: str | None = None
    source_address: str | None = None
    prev_hash: str | None = None
    hash: str | None = None


@dataclass(frozen=True, slots=True)
class ExportScope:
    scan_ids: tuple[str, ...] = ()
    image_refs: tuple[str, ...] = ()
    date_start: datetime | None = None
    date_end: datetime | None = None
    policy_sets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExportOptions:
    include_sbom: bool = False
    include_evidence: bool = False
    include_remediation: bool = False
    template: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()
    cyclonedx_version: str = "1.6"
    sarif_profile: str = "github"  # "github" | "developer-sarif"
    csv_bom: bool = False
    extra: tuple[tuple[str, str], ...] = ()  # any other --option KEY=VALUE

    def get(self, key: str, default: str | None = None) -> str | None:
        return dict(self.extra).get(key, default)


@dataclass(frozen=True, slots=True)
class ExportSnapshot:
    """Everything one export renders, frozen before rendering starts (VEX already applied)."""

    export_id: str
    tenant: str
    export_type: str
    export_format: str
    generated_at: datetime  # UTC; SOURCE_DATE_EPOCH honoured
    scope: ExportScope
    options: ExportOptions
    scans: tuple[Scan, ...] = ()
    findings: tuple[Finding, ...] = ()
    components: tuple[Component, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    sboms: tuple[Sbom, ...] = ()
    policy_verdicts: tuple[PolicyVerdict, ...] = ()
    vex_applied: tuple[VexStatement, ...] = ()
    vex_unmatched: tuple[VexStatement, ...] = ()
    audit_events: tuple[AuditEvent, ...] = ()
    code_guard_findings: tuple[CodeGuardFinding, ...] = ()
    warnings: tuple[str, ...] = ()
    requested_by: str = "cli"
    metadata: dict[str, Any] = field(default_factory=dict)  # e.g. audit chain head

    @property
    def custom_fields(self) -> dict[str, str]:
        return dict(self.options.custom_fields)
