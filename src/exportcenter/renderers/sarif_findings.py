"""SARIF results for scanner findings (vulnerabilities, misconfigurations, secrets).

``FindingResults`` makes one light entry per finding for one render (rule id, fingerprint, score: what
ordering, cutting and rules need) and, when the log is written, the result of each kept entry. What
many results have in common (the ``locations`` list of a manifest and package, ``security-severity``
strings, enum words) is built once and shared: nothing mutates these parts once built. Rules are in
``sarif_finding_rules``.
"""

from __future__ import annotations

import re
from typing import Any

from exportcenter.model import Finding, FindingKind, Scan, Severity, VexStatus
from exportcenter.renderers.sarif_locations import FINGERPRINT_KEY, fingerprint
from exportcenter.renderers.sarif_model import SEVERITY_LEVELS, SarifEntry, security_severity

RULE_ID_PREFIX = {FindingKind.VULNERABILITY: "", FindingKind.MISCONFIGURATION: "misconfig/",
                  FindingKind.SECRET: "secret/"}
_WHITESPACE = re.compile(r"\s")
# plain str words of the enums (``.value`` on an enum member is a slow descriptor call)
_SEVERITY_WORD = {severity: severity.value for severity in Severity}
_SEVERITY_RANK = {severity: severity.rank for severity in Severity}
_STATUS_WORD = {status: status.value for status in VexStatus}
_OPEN_STATUSES = frozenset(status for status in VexStatus if status.is_open)

MAX_SHARED_LOCATIONS = 20_000
LocationKey = tuple[str, int, int | None, bool, str, str | None]


def rule_id_for(finding: Finding) -> str:
    return RULE_ID_PREFIX[finding.kind] + finding.vuln_id


def is_web_uri(value: str) -> bool:
    return value.startswith(("https://", "http://")) and _WHITESPACE.search(value) is None


class FindingResults:
    """Result entries for the findings of one render (one profile, one remediation setting)."""

    def __init__(self, developer_profile: bool, include_remediation: bool) -> None:
        self.developer_profile = developer_profile
        self.include_remediation = include_remediation
        self._locations: dict[LocationKey, list[dict[str, Any]]] = {}
        self._scores: dict[tuple[Severity, float | None], str | None] = {}

    def _location(self, key: LocationKey) -> list[dict[str, Any]]:
        uri, line, end_line, has_package, name, version = key
        region: dict[str, Any] = {"startLine": line}
        if end_line is not None:
            region["endLine"] = end_line
        location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}
        if has_package:
            location["message"] = {"text": f"{name}@{version}" if version else name}
        shared = [location]
        if len(self._locations) >= MAX_SHARED_LOCATIONS:
            self._locations.clear()  # sharing saves time, not bytes: a bounded cache is enough
        self._locations[key] = shared
        return shared

    def entry(self, finding: Finding, scan: Scan | None, subject: str, uri: str) -> SarifEntry:
        """The light entry of one finding (its result is built by ``result``). ``uri`` is already
        normalised and relative."""
        package = finding.package
        kind = finding.kind
        rule_id = RULE_ID_PREFIX[kind] + finding.vuln_id
        # tag-free identity: subject (image without tag), rule, package and where it lives; misconfigurations
        # and secrets have no package, so their line tells two of them in one file apart
        if kind is FindingKind.VULNERABILITY:
            where = uri
        else:
            start_line = finding.start_line
            where = f"{uri}:{start_line if start_line and start_line >= 1 else 1}"
        digest = fingerprint(subject, rule_id, package.name if package else "", where)
        scores = [c.score for c in finding.cvss if c.score is not None]
        cvss_max = max(scores) if scores else None
        severity = finding.severity
        score_key = (severity, cvss_max)
        score = self._scores[score_key] if score_key in self._scores else self._scores.setdefault(
            score_key, security_severity(severity, cvss_max))
        return SarifEntry(rank=_SEVERITY_RANK[severity], rule_id=rule_id, fingerprint=digest, source=finding,
                          severity=severity, score=score, uri=uri, scan=scan, cvss_max=cvss_max)

    def result(self, entry: SarifEntry, rule_index: int) -> dict[str, Any]:
        """The SARIF result of one entry made by ``entry``."""
        finding = entry.source
        assert isinstance(finding, Finding)
        package = finding.package
        scan = entry.scan
        start_line = finding.start_line
        line = start_line if start_line and start_line >= 1 else 1
        end_line = finding.end_line
        severity = finding.severity
        cvss_max = entry.cvss_max
        location_key: LocationKey = (
            entry.uri, line, end_line if end_line and end_line >= line else None, package is not None,
            package.name if package else "", package.version if package else None)
        locations = self._locations.get(location_key) or self._location(location_key)
        status = finding.status
        vex = finding.vex
        properties: dict[str, Any] = {
            "vex_status": _STATUS_WORD[status],
            "vex_justification": vex.justification if vex else None,
            "severity": _SEVERITY_WORD[severity],
            "scan_id": finding.scan_id,
        }
        # properties written only when known (explicit checks: this runs once per finding)
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
        if self.include_remediation:
            properties["remediation"] = remediation_text(finding)
        result: dict[str, Any] = {
            "ruleId": entry.rule_id,
            "ruleIndex": rule_index,
            "level": SEVERITY_LEVELS[severity],
            "message": {"text": result_message(finding)},
            "locations": locations,
            "partialFingerprints": {FINGERPRINT_KEY: entry.fingerprint},
            "properties": properties,
        }
        if self.developer_profile and status not in _OPEN_STATUSES:
            result["suppressions"] = [_suppression(finding)]
        return result


def _suppression(finding: Finding) -> dict[str, Any]:
    """An external, accepted suppression for a VEX-closed finding (developer profile)."""
    status = finding.status.value
    justification = (finding.vex.justification if finding.vex else None) or status
    suppression: dict[str, Any] = {"kind": "external", "status": "accepted", "justification": justification}
    if finding.vex is not None:
        suppression["properties"] = {"statement_id": finding.vex.statement_id,
                                     "source": finding.vex.source, "vex_status": status}
    return suppression


def result_message(finding: Finding) -> str:
    severity = _SEVERITY_WORD[finding.severity]
    kind = finding.kind
    if kind is FindingKind.VULNERABILITY and finding.package is not None:
        package = finding.package
        installed = f"{package.name} {package.version}" if package.version else package.name
        fix = f"fixed in {finding.fixed_version}" if finding.fixed_version else "no fixed version known"
        text = f"{installed} is affected by {finding.vuln_id} ({severity}); {fix}."
    elif kind is FindingKind.SECRET:
        text = f"Exposed secret: {finding.title or finding.vuln_id} ({severity})."
    else:
        text = f"{finding.title or finding.vuln_id} ({severity})."
    if kind is not FindingKind.VULNERABILITY and finding.description:
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
