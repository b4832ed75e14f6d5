"""SARIF results and rules for ``ai_code_guard_report``: code-guard findings kept from ingested SARIF."""

from __future__ import annotations

from typing import Any

from exportcenter.model import CodeGuardFinding, Severity
from exportcenter.renderers.sarif_locations import FINGERPRINT_KEY, fingerprint
from exportcenter.renderers.sarif_model import (
    SARIF_LEVELS,
    SEVERITY_LEVELS,
    SarifEntry,
    security_severity,
)

MAX_TAGS = 10


def _declared_score(finding: CodeGuardFinding) -> float | None:
    """The ``security-severity`` the original tool declared, when it is a usable number."""
    raw = dict(finding.properties).get("security-severity")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0.0 < value <= 10.0 else None


def _is_web_uri(value: str | None) -> bool:
    return bool(value) and str(value).startswith(("https://", "http://")) and " " not in str(value)


def code_guard_entry(finding: CodeGuardFinding, subject: str, uri: str) -> SarifEntry:
    """The light entry of one code-guard finding (its result is built by ``code_guard_result``)."""
    line = finding.start_line if finding.start_line and finding.start_line >= 1 else 1
    # the source's own fingerprint when it has one (stable by its tool's rules), else where it points and
    # what it says: one rule (a CVE) often fires for several packages at the same place
    identity = finding.fingerprint or f"{uri}:{line}:{finding.message}"
    digest = fingerprint(subject, finding.tool_name, finding.rule_id, identity)
    score = security_severity(finding.severity, _declared_score(finding))
    return SarifEntry(rank=finding.severity.rank, rule_id=finding.rule_id, fingerprint=digest, source=finding,
                      severity=finding.severity, score=score, uri=uri)


def code_guard_result(entry: SarifEntry, rule_index: int) -> dict[str, Any]:
    finding = entry.source
    assert isinstance(finding, CodeGuardFinding)
    line = finding.start_line if finding.start_line and finding.start_line >= 1 else 1
    level = finding.level if finding.level in SARIF_LEVELS else SEVERITY_LEVELS[finding.severity]
    region: dict[str, Any] = {"startLine": line}
    if finding.end_line and finding.end_line >= line:
        region["endLine"] = finding.end_line
    properties: dict[str, Any] = {"severity": finding.severity.value, "tool": finding.tool_name,
                                  "scan_id": finding.scan_id, "vex_status": None, "vex_justification": None}
    if finding.tool_version:
        properties["tool_version"] = finding.tool_version
    for key, value in sorted(finding.properties):
        properties.setdefault(f"source/{key}", value)
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": finding.message or finding.rule_name or finding.rule_id},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": entry.uri}, "region": region}}],
        "partialFingerprints": {FINGERPRINT_KEY: entry.fingerprint},
        "properties": properties,
    }


def build_code_guard_rule(rule_id: str, entries: list[SarifEntry]) -> dict[str, Any]:
    findings = [entry.source for entry in entries if isinstance(entry.source, CodeGuardFinding)]
    lead = findings[0]
    worst: Severity = max((f.severity for f in findings), key=lambda s: s.rank)
    scores = [float(entry.score) for entry in entries if entry.score is not None]
    title = lead.rule_name or rule_id
    description = lead.message or title
    tags = list(dict.fromkeys(["security", "code-guard", worst.value]))[:MAX_TAGS]
    properties: dict[str, Any] = {"tags": tags, "source_tool": lead.tool_name}
    if scores:
        properties["security-severity"] = f"{max(scores):.1f}"
    text = f"{rule_id} ({worst.value}) reported by {lead.tool_name}\n{description}"
    markdown = f"**{rule_id}** ({worst.value}) reported by {lead.tool_name}\n\n{description}\n"
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": title,
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "defaultConfiguration": {"level": SEVERITY_LEVELS[worst]},
        "help": {"text": text, "markdown": markdown},
        "properties": properties,
    }
    if _is_web_uri(lead.help_uri):
        rule["helpUri"] = lead.help_uri
    return rule
