"""Plain-dict forms of the model records, as the JSON reports publish them (see ``json_reports``).

Every key is always present (``null`` when unknown) so consumers never need to guess; times are
``YYYY-MM-DDThh:mm:ssZ`` UTC strings; enums are their lower-case values.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from exportcenter.model import (
    SEVERITY_ORDER,
    AuditEvent,
    CodeGuardFinding,
    ExportSnapshot,
    Finding,
    FindingKind,
    Package,
    PolicyVerdict,
    Scan,
    Severity,
    VexDecision,
    VexStatement,
    VexStatus,
)
from exportcenter.util.timeutil import iso_z

JsonDict = dict[str, Any]


@lru_cache(maxsize=8192)
def _time(value: datetime | None) -> str | None:
    """``iso_z`` memoised: findings of one scan share a handful of timestamps."""
    return iso_z(value)


def export_header(snapshot: ExportSnapshot) -> JsonDict:
    scope, options = snapshot.scope, snapshot.options
    return {
        "id": snapshot.export_id,
        "tenant": snapshot.tenant,
        "type": snapshot.export_type,
        "format": snapshot.export_format,
        "generated_at": iso_z(snapshot.generated_at),
        "requested_by": snapshot.requested_by,
        "scope": {
            "scan_ids": list(scope.scan_ids),
            "image_refs": list(scope.image_refs),
            "date_start": iso_z(scope.date_start),
            "date_end": iso_z(scope.date_end),
            "policy_sets": list(scope.policy_sets),
        },
        "options": {
            "include_sbom": options.include_sbom,
            "include_evidence": options.include_evidence,
            "include_remediation": options.include_remediation,
            "template": options.template,
        },
    }


def scan_dict(scan: Scan) -> JsonDict:
    return {
        "id": scan.id,
        "tenant": scan.tenant,
        "source_format": scan.source_format,
        "scanner": {"name": scan.scanner_name, "version": scan.scanner_version},
        "artifact": {"name": scan.artifact_name, "type": scan.artifact_type, "digest": scan.artifact_digest,
                     "repo_digests": list(scan.repo_digests)},
        "os": {"family": scan.os_family, "name": scan.os_name},
        "created_at": iso_z(scan.created_at),
        "document_digest": scan.document_digest,
        "findings_count": scan.findings_count,
    }


def remediation_text(finding: Finding) -> str:
    steps = []
    if finding.fixed_version and finding.package is not None:
        current = finding.package.version or "the current version"
        steps.append(f"upgrade {finding.package.name} from {current} to {finding.fixed_version}")
    if finding.vex is not None and finding.vex.action_statement:
        steps.append(finding.vex.action_statement)
    return "; ".join(steps) if steps else "no fixed version published; monitor the advisory or mitigate"


# plain str words of the enums: ``.value`` on an enum member is a slow descriptor call, and
# finding_dict runs once per finding
_KIND_WORD = {kind: kind.value for kind in FindingKind}
_SEVERITY_WORD = {severity: severity.value for severity in Severity}
_STATUS_WORD = {status: status.value for status in VexStatus}
_OPEN_STATUSES = frozenset(status for status in VexStatus if status.is_open)


def _package_dict(package: Package) -> JsonDict:
    return {"name": package.name, "version": package.version, "purl": package.purl, "type": package.type,
            "path": package.path,
            "licenses": [{"kind": lic.kind, "value": lic.value} for lic in package.licenses]}


def _vex_dict(vex: VexDecision) -> JsonDict:
    return {"status": _STATUS_WORD[vex.status], "justification": vex.justification,
            "statement_id": vex.statement_id, "source": vex.source,
            "impact_statement": vex.impact_statement, "action_statement": vex.action_statement,
            "timestamp": _time(vex.timestamp)}


def finding_dict(finding: Finding, include_remediation: bool = False) -> JsonDict:
    """Every field of a finding. Tuples are left as tuples: the serializer writes them as arrays."""
    package = finding.package
    vex = finding.vex
    cvss = finding.cvss
    status = finding.status
    scores = [c.score for c in cvss if c.score is not None]
    out: JsonDict = {
        "id": finding.id,
        "scan_id": finding.scan_id,
        "kind": _KIND_WORD[finding.kind],
        "vulnerability_id": finding.vuln_id,
        "aliases": finding.aliases,
        "severity": _SEVERITY_WORD[finding.severity],
        "raw_severity": finding.raw_severity,
        "max_cvss": max(scores) if scores else None,
        "cvss": [{"version": c.version, "vector": c.vector, "score": c.score, "source": c.source}
                 for c in cvss],
        "epss": finding.epss,
        "epss_percentile": finding.epss_percentile,
        "kev": finding.kev,
        "package": None if package is None else _package_dict(package),
        "fixed_version": finding.fixed_version,
        "title": finding.title,
        "description": finding.description,
        "references": finding.references,
        "cwes": finding.cwes,
        "target": finding.target,
        "location": finding.location,
        "start_line": finding.start_line,
        "end_line": finding.end_line,
        "first_seen": _time(finding.first_seen),
        "published": _time(finding.published),
        "status": _STATUS_WORD[status],
        "open": status in _OPEN_STATUSES,
        "scanner_status": finding.scanner_status,
        "vex": None if vex is None else _vex_dict(vex),
    }
    if include_remediation:
        out["remediation"] = remediation_text(finding)
    return out


def vex_statement_dict(statement: VexStatement) -> JsonDict:
    return {
        "id": statement.id,
        "document_id": statement.document_id,
        "source_format": statement.source_format,
        "vulnerability_id": statement.vuln_id,
        "aliases": list(statement.aliases),
        "status": statement.status.value,
        "justification": statement.justification,
        "products": list(statement.products),
        "subcomponents": list(statement.subcomponents),
        "impact_statement": statement.impact_statement,
        "action_statement": statement.action_statement,
        "timestamp": iso_z(statement.timestamp),
        "author": statement.author,
    }


def verdict_dict(verdict: PolicyVerdict, finding_refs: dict[str, JsonDict] | None = None) -> JsonDict:
    """A verdict rule by rule; with ``finding_refs`` each rule lists its matched findings in brief."""
    rules = []
    for rule in verdict.rules:
        entry: JsonDict = {"rule_id": rule.rule_id, "name": rule.name, "outcome": rule.outcome.value,
                           "message": rule.message, "matched_finding_ids": list(rule.matched_finding_ids),
                           "matched_count": len(rule.matched_finding_ids)}
        if finding_refs is not None:
            entry["matched_findings"] = [finding_refs.get(fid, {"id": fid, "missing": True})
                                         for fid in rule.matched_finding_ids]
        rules.append(entry)
    return {"id": verdict.id, "scan_id": verdict.scan_id, "policy_set": verdict.policy_set,
            "outcome": verdict.outcome.value, "evaluated_at": iso_z(verdict.evaluated_at),
            "source": verdict.source, "rules": rules}


def finding_brief(finding: Finding) -> JsonDict:
    package = finding.package
    return {"id": finding.id, "vulnerability_id": finding.vuln_id, "severity": finding.severity.value,
            "package": package.name if package else None, "version": package.version if package else None,
            "fixed_version": finding.fixed_version, "status": finding.status.value,
            "max_cvss": finding.max_score, "kev": finding.kev}


def audit_event_dict(event: AuditEvent) -> JsonDict:
    return {"seq": event.seq, "id": event.id, "time": iso_z(event.time), "tenant": event.tenant,
            "actor": event.actor, "action": event.action, "resource": event.resource,
            "outcome": event.outcome, "detail": event.detail, "source_address": event.source_address,
            "prev_hash": event.prev_hash, "hash": event.hash}


def code_guard_dict(finding: CodeGuardFinding) -> JsonDict:
    return {"id": finding.id, "scan_id": finding.scan_id, "message": finding.message, "level": finding.level,
            "severity": finding.severity.value, "uri": finding.uri, "start_line": finding.start_line,
            "end_line": finding.end_line, "fingerprint": finding.fingerprint,
            "properties": dict(finding.properties)}


def severity_counts(findings: tuple[Finding, ...] | list[Finding]) -> JsonDict:
    """Open and total per severity plus the totals; the per-severity figures add up to the totals."""
    by_severity = {s.value: {"open": 0, "total": 0} for s in SEVERITY_ORDER}
    buckets = {severity: by_severity[word] for severity, word in _SEVERITY_WORD.items()}
    open_total = fixable_open = 0
    for finding in findings:
        bucket = buckets[finding.severity]
        bucket["total"] += 1
        if finding.status in _OPEN_STATUSES:
            bucket["open"] += 1
            open_total += 1
            if finding.fixed_version:
                fixable_open += 1
    total = len(findings)
    return {"by_severity": by_severity, "total": total, "open": open_total,
            "vex_suppressed": total - open_total, "fixable_open": fixable_open}
