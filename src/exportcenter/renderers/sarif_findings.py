"""SARIF results and rules for scanner findings (vulnerabilities, misconfigurations, secrets)."""

from __future__ import annotations

import re
from typing import Any

from exportcenter.model import Finding, FindingKind, Scan, Severity
from exportcenter.renderers.sarif_locations import FINGERPRINT_KEY, fingerprint
from exportcenter.renderers.sarif_model import SEVERITY_LEVELS, SarifEntry, security_severity

RULE_ID_PREFIX = {FindingKind.VULNERABILITY: "", FindingKind.MISCONFIGURATION: "misconfig/",
                  FindingKind.SECRET: "secret/"}
RULE_NAMES = {FindingKind.VULNERABILITY: "PackageVulnerability",
              FindingKind.MISCONFIGURATION: "Misconfiguration", FindingKind.SECRET: "ExposedSecret"}
MAX_TAGS = 10  # GitHub shows 10 tags per rule and rejects more than 20
MAX_HELP_PACKAGES = 50
MAX_HELP_REFERENCES = 20
_WHITESPACE = re.compile(r"\s")


def rule_id_for(finding: Finding) -> str:
    return RULE_ID_PREFIX[finding.kind] + finding.vuln_id


def _is_web_uri(value: str) -> bool:
    return value.startswith(("https://", "http://")) and _WHITESPACE.search(value) is None


def finding_entry(finding: Finding, scan: Scan | None, subject: str, uri: str,
                  developer_profile: bool, include_remediation: bool) -> SarifEntry:
    """One result for one finding. ``uri`` is already normalised and relative."""
    package = finding.package
    rule_id = rule_id_for(finding)
    package_name = package.name if package else ""
    line = finding.start_line if finding.start_line and finding.start_line >= 1 else 1
    # tag-free identity: subject (image without tag), rule, package and where it lives; misconfigurations
    # and secrets have no package, so their line tells two of them in one file apart
    where = uri if finding.kind is FindingKind.VULNERABILITY else f"{uri}:{line}"
    digest = fingerprint(subject, rule_id, package_name, where)
    cvss_max = finding.max_score
    score = security_severity(finding.severity, cvss_max)
    region: dict[str, Any] = {"startLine": line}
    if finding.end_line and finding.end_line >= line:
        region["endLine"] = finding.end_line
    location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}
    if package is not None:
        location["message"] = {"text": f"{package.name}@{package.version}" if package.version else package.name}
    severity = finding.severity
    properties: dict[str, Any] = {
        "vex_status": finding.status.value,
        "vex_justification": finding.vex.justification if finding.vex else None,
        "severity": severity.value,
        "scan_id": finding.scan_id,
    }
    _add_optional(properties, finding, scan, include_remediation, cvss_max)
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "level": SEVERITY_LEVELS[severity],
        "message": {"text": result_message(finding)},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: digest},
        "properties": properties,
    }
    if developer_profile and not finding.is_open:
        justification = (finding.vex.justification if finding.vex else None) or finding.status.value
        suppression: dict[str, Any] = {"kind": "external", "status": "accepted",
                                       "justification": justification}
        if finding.vex is not None:
            suppression["properties"] = {"statement_id": finding.vex.statement_id,
                                         "source": finding.vex.source, "vex_status": finding.status.value}
        result["suppressions"] = [suppression]
    return SarifEntry(rank=severity.rank, rule_id=rule_id, fingerprint=digest, result=result,
                      source=finding, severity=severity, score=score, cvss_max=cvss_max)


def _add_optional(properties: dict[str, Any], finding: Finding, scan: Scan | None,
                  include_remediation: bool, cvss_max: float | None) -> None:
    """Properties that are only written when known (explicit checks: this runs once per finding)."""
    package = finding.package
    if finding.raw_severity is not None:
        properties["raw_severity"] = finding.raw_severity
    if package is not None:
        properties["package"] = package.name
        if package.version is not None:
            properties["installed_version"] = package.version
        if package.purl is not None:
            properties["purl"] = package.purl
    if finding.fixed_version is not None:
        properties["fixed_version"] = finding.fixed_version
    if cvss_max is not None:
        properties["cvss_score"] = cvss_max
    if finding.epss is not None:
        properties["epss"] = finding.epss
    if finding.kev is not None:
        properties["kev"] = finding.kev
    if finding.aliases:
        properties["aliases"] = sorted(finding.aliases)
    if scan is not None and scan.artifact_name:
        properties["image"] = scan.artifact_name
    if finding.scanner_status is not None:
        properties["scanner_status"] = finding.scanner_status
    if include_remediation:
        properties["remediation"] = remediation_text(finding)


def result_message(finding: Finding) -> str:
    severity = finding.severity.value
    if finding.kind is FindingKind.VULNERABILITY and finding.package is not None:
        package = finding.package
        installed = f"{package.name} {package.version}" if package.version else package.name
        fix = f"fixed in {finding.fixed_version}" if finding.fixed_version else "no fixed version known"
        text = f"{installed} is affected by {finding.vuln_id} ({severity}); {fix}."
    elif finding.kind is FindingKind.SECRET:
        text = f"Exposed secret: {finding.title or finding.vuln_id} ({severity})."
    else:
        text = f"{finding.title or finding.vuln_id} ({severity})."
    if finding.kind is not FindingKind.VULNERABILITY and finding.description:
        text += " " + finding.description
    return text


def remediation_text(finding: Finding) -> str:
    package = finding.package
    if finding.kind is FindingKind.SECRET:
        return "Remove the secret from the file and its history, and rotate it."
    if finding.kind is FindingKind.MISCONFIGURATION:
        return f"Change the configuration so that {finding.vuln_id} no longer applies."
    if package is not None and finding.fixed_version:
        return f"Upgrade {package.name} to {finding.fixed_version} or later."
    if package is not None:
        return (f"No fixed version of {package.name} is known; remove or replace it, "
                "or mitigate it and record a VEX statement.")
    return "No fixed version is known."


def _cell(value: str | None) -> str:
    return (value or "").replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def build_finding_rule(rule_id: str, entries: list[SarifEntry], include_remediation: bool) -> dict[str, Any]:
    """A rule describing every kept result of ``rule_id`` in one run (entries sorted, most severe first)."""
    findings = [entry.source for entry in entries if isinstance(entry.source, Finding)]
    lead = findings[0]
    worst = max((f.severity for f in findings), key=lambda s: s.rank)
    scores = [float(entry.score) for entry in entries if entry.score is not None]
    title = lead.title or lead.vuln_id
    description = next((f.description for f in findings if f.description), None) or title
    references = list(dict.fromkeys(ref for f in findings for ref in f.references))
    tags: list[str] = list(dict.fromkeys(["security", lead.kind.value, worst.value]))
    for cwe in dict.fromkeys(cwe for f in findings for cwe in f.cwes):
        number = cwe.upper().removeprefix("CWE-")
        if number.isdigit():
            tags.append(f"external/cwe/cwe-{number}")
    tags = list(dict.fromkeys(tags))[:MAX_TAGS]
    properties: dict[str, Any] = {"tags": tags, "precision": "very-high"}
    if scores:
        properties["security-severity"] = f"{max(scores):.1f}"
    cvss = [entry.cvss_max for entry in entries if entry.cvss_max]
    text, markdown = _help(rule_id, worst, max(cvss) if cvss else None, description, findings, references,
                           include_remediation)
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": RULE_NAMES[lead.kind],
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "defaultConfiguration": {"level": SEVERITY_LEVELS[worst]},
        "help": {"text": text, "markdown": markdown},
        "properties": properties,
    }
    help_uri = next((ref for ref in references if _is_web_uri(ref)), None)
    if help_uri:
        rule["helpUri"] = help_uri
    return rule


def _help(rule_id: str, worst: Severity, cvss_max: float | None, description: str, findings: list[Finding],
          references: list[str], include_remediation: bool) -> tuple[str, str]:
    score_note = f", CVSS {cvss_max:.1f}" if cvss_max else ""
    head = f"{rule_id} ({worst.value}{score_note})"
    text_lines = [head, description]
    md_lines = [f"**{_cell(head)}**", "", description, ""]
    packaged = [(f, f.package) for f in findings if f.package is not None]
    if packaged:
        md_lines += ["| Package | Installed | Fixed | Status |", "| --- | --- | --- | --- |"]
        seen: set[tuple[str, str, str, str]] = set()
        for finding, package in packaged:
            row = (package.name, package.version or "", finding.fixed_version or "", finding.status.value)
            if row in seen:
                continue
            seen.add(row)
            if len(seen) > MAX_HELP_PACKAGES:
                md_lines.append(f"| ... {len(packaged) - MAX_HELP_PACKAGES} more | | | |")
                break
            fixed = finding.fixed_version or "no fix"
            text_lines.append(f"Package: {row[0]} {row[1]}; fixed version: {fixed}; status: {row[3]}")
            md_lines.append("| " + " | ".join(_cell(value) for value in row) + " |")
        md_lines.append("")
    if include_remediation:
        remedies = list(dict.fromkeys(remediation_text(f) for f in findings))[:MAX_HELP_PACKAGES]
        text_lines += ["Remediation:", *remedies]
        md_lines += ["**Remediation**", "", *(f"- {_cell(r)}" for r in remedies), ""]
    if references:
        shown = references[:MAX_HELP_REFERENCES]
        text_lines += ["References:", *shown]
        md_lines += ["**References**", "", *(f"- <{ref}>" if _is_web_uri(ref) else f"- {_cell(ref)}"
                                            for ref in shown)]
    return "\n".join(text_lines), "\n".join(md_lines).rstrip() + "\n"
