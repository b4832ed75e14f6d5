"""What a parser returns for one ingested file."""

from __future__ import annotations

from dataclasses import dataclass

from exportcenter.model import CodeGuardFinding, Finding, PolicyVerdict, Sbom, Scan, VexStatement


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """One ingested file, normalised. A file may carry several things at once
    (a CycloneDX BOM with vulnerabilities is both an SBOM and a scan)."""

    name: str  # file name as given
    source_format: str  # "trivy-json", "grype-json", "cyclonedx", "cyclonedx-vex", "spdx", "openvex", "csaf", "sarif"
    spec_version: str | None
    digest: str  # "sha256:<hex>" of the raw bytes
    scan: Scan | None = None
    findings: tuple[Finding, ...] = ()
    sbom: Sbom | None = None
    vex_statements: tuple[VexStatement, ...] = ()
    code_guard_findings: tuple[CodeGuardFinding, ...] = ()
    policy_verdicts: tuple[PolicyVerdict, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def kinds(self) -> tuple[str, ...]:
        found = []
        if self.scan is not None:
            found.append("scan")
        if self.sbom is not None:
            found.append("sbom")
        if self.vex_statements:
            found.append("vex")
        if self.code_guard_findings or self.source_format == "sarif":
            found.append("code_guard")
        if self.policy_verdicts:
            found.append("policy_verdicts")
        return tuple(found)
