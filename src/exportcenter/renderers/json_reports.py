"""JSON renderers: scan_report, policy_compliance, ai_code_guard_report and audit_log.

Every document is a JSON object written by ``util.jsonio.dumps`` (orjson, sorted keys, 2-space indent)
and starts with the same envelope::

    schema          "https://exportcenter.dev/schemas/<type>/<major>"   (stable id of the layout)
    schema_version  "1.0"   (minor bumps only add keys; a removed or renamed key bumps the major)
    export          id, tenant, type, format, generated_at (UTC "Z"), requested_by, scope, options
    custom_fields   {key: value} from options.custom_fields ({} when none)
    warnings        the snapshot's warnings (gathering, VEX, parsing), in order

Type-specific keys (record layouts are in ``json_records``):

- scan_report: ``summary`` (severity counts: by_severity[sev].open/.total, total, open, vex_suppressed,
  fixable_open; the per-severity totals add up to ``total``), ``scans`` (each with its own ``counts`` and
  ``policy`` outcome), ``findings`` (every model field: aliases, every CVSS entry, EPSS/KEV, VEX decision,
  status; ``remediation`` when requested), ``policy_verdicts``, ``vex.applied`` and ``vex.unmatched``.
- policy_compliance: ``summary`` (verdicts by outcome, overall outcome = worst), ``results`` one per
  scan and policy set with rule-by-rule outcomes, the findings each rule matched (in brief), and counts;
  ``scans_without_verdict``.
- ai_code_guard_report: ``summary`` (by severity, by level, tools, rules), ``tools`` -> ``rules`` ->
  ``findings``, each level with its count.
- audit_log: ``chain`` (head = metadata ``audit_chain_head``, first/last seq, event count), ``summary``
  (by outcome and action), ``events`` in sequence order with prev_hash and hash.

Text that cannot be encoded (lone surrogates) is replaced with U+FFFD and a warning is recorded;
backslashes, control characters and U+2028 are escaped by the serializer.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from exportcenter.model import (
    SEVERITY_ORDER,
    ExportFormat,
    ExportSnapshot,
    ExportType,
    Finding,
    PolicyOutcome,
)
from exportcenter.renderers.base import RenderContext, RenderFunction
from exportcenter.renderers.json_records import (
    JsonDict,
    audit_event_dict,
    code_guard_dict,
    export_header,
    finding_brief,
    finding_dict,
    scan_dict,
    severity_counts,
    verdict_dict,
    vex_statement_dict,
)
from exportcenter.util import jsonio

SCHEMA_VERSION = "1.0"
SCHEMA_BASE = "https://exportcenter.dev/schemas"
_REPLACEMENT_UTF8 = "\ufffd".encode()


def _envelope(snapshot: ExportSnapshot, export_type: ExportType) -> JsonDict:
    return {
        "schema": f"{SCHEMA_BASE}/{export_type.value}/{SCHEMA_VERSION.split('.')[0]}",
        "schema_version": SCHEMA_VERSION,
        "export": export_header(snapshot),
        "custom_fields": snapshot.custom_fields,
        "warnings": list(snapshot.warnings),
    }


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return jsonio.has_lone_surrogate(value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def write_document(document: JsonDict, out: BinaryIO, ctx: RenderContext) -> None:
    """Serialize with ``jsonio.dumps``; warn when text had to be replaced to be valid UTF-8."""
    data = jsonio.dumps(document)
    # jsonio scrubs lone surrogates silently; a U+FFFD in the output is the only sign, so only then
    # do we pay for the walk that tells a replaced character from one that was in the data already.
    if _REPLACEMENT_UTF8 in data and _has_lone_surrogate(document):
        ctx.warn("some text contained lone UTF-16 surrogates (not encodable as UTF-8); "
                 "they were replaced with U+FFFD")
    out.write(data)


def _sort_findings(findings: tuple[Finding, ...]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.scan_id, -f.severity.rank, f.vuln_id, f.id))


# --------------------------------------------------------------------------- documents

def scan_report_document(snapshot: ExportSnapshot) -> JsonDict:
    include_remediation = snapshot.options.include_remediation
    findings = _sort_findings(snapshot.findings)
    by_scan: dict[str, list[Finding]] = {}
    for finding in findings:
        by_scan.setdefault(finding.scan_id, []).append(finding)
    verdicts = sorted(snapshot.policy_verdicts, key=lambda v: (v.scan_id, v.policy_set, v.id))
    outcome_by_scan: dict[str, PolicyOutcome] = {}
    for verdict in verdicts:
        current = outcome_by_scan.get(verdict.scan_id)
        if current is None or verdict.outcome.rank > current.rank:
            outcome_by_scan[verdict.scan_id] = verdict.outcome
    scans = []
    for scan in sorted(snapshot.scans, key=lambda s: (s.artifact_name, s.id)):
        entry = scan_dict(scan)
        entry["counts"] = severity_counts(by_scan.get(scan.id, []))
        outcome = outcome_by_scan.get(scan.id)
        entry["policy_outcome"] = outcome.value if outcome else None
        scans.append(entry)
    document = _envelope(snapshot, ExportType.SCAN_REPORT)
    document.update({
        "summary": {"scans": len(scans), **severity_counts(findings)},
        "scans": scans,
        "findings": [finding_dict(f, include_remediation) for f in findings],
        "policy_verdicts": [verdict_dict(v) for v in verdicts],
        "vex": {"applied": [vex_statement_dict(s) for s in sorted(snapshot.vex_applied, key=lambda s: s.id)],
                "unmatched": [vex_statement_dict(s) for s in sorted(snapshot.vex_unmatched, key=lambda s: s.id)]},
    })
    return document


def policy_compliance_document(snapshot: ExportSnapshot) -> JsonDict:
    findings = {f.id: f for f in snapshot.findings}
    by_scan: dict[str, list[Finding]] = {}
    for finding in snapshot.findings:
        by_scan.setdefault(finding.scan_id, []).append(finding)
    scans = {s.id: s for s in snapshot.scans}
    briefs: dict[str, JsonDict] = {}
    results = []
    by_outcome = {o.value: 0 for o in PolicyOutcome}
    for verdict in sorted(snapshot.policy_verdicts, key=lambda v: (v.scan_id, v.policy_set, v.id)):
        for rule in verdict.rules:
            for fid in rule.matched_finding_ids:
                if fid not in briefs and fid in findings:
                    briefs[fid] = finding_brief(findings[fid])
        entry = verdict_dict(verdict, briefs)
        scan = scans.get(verdict.scan_id)
        entry["image"] = scan.artifact_name if scan else None
        entry["digest"] = scan.artifact_digest if scan else None
        rule_outcomes = [r.outcome.value for r in verdict.rules]
        entry["counts"] = {
            "rules": len(verdict.rules),
            **{o.value: rule_outcomes.count(o.value) for o in PolicyOutcome},
            "matched_findings": len({fid for r in verdict.rules for fid in r.matched_finding_ids}),
            "findings": severity_counts(by_scan.get(verdict.scan_id, [])),
        }
        by_outcome[verdict.outcome.value] += 1
        results.append(entry)
    overall = max((PolicyOutcome(r["outcome"]) for r in results), key=lambda o: o.rank, default=None)
    evaluated = {v.scan_id for v in snapshot.policy_verdicts}
    document = _envelope(snapshot, ExportType.POLICY_COMPLIANCE)
    document.update({
        "summary": {"scans": len(scans), "verdicts": len(results), "by_outcome": by_outcome,
                    "overall_outcome": overall.value if overall else None,
                    "policy_sets": sorted({v.policy_set for v in snapshot.policy_verdicts})},
        "results": results,
        "scans_without_verdict": sorted(sid for sid in scans if sid not in evaluated),
    })
    return document


def code_guard_document(snapshot: ExportSnapshot) -> JsonDict:
    tools: dict[tuple[str, str | None], dict[str, list[Any]]] = {}
    by_severity = {s.value: 0 for s in SEVERITY_ORDER}
    by_level: dict[str, int] = {}
    ordered = sorted(snapshot.code_guard_findings,
                     key=lambda f: (f.tool_name, f.rule_id, f.uri or "", f.start_line or 0, f.id))
    for item in ordered:
        tools.setdefault((item.tool_name, item.tool_version), {}).setdefault(item.rule_id, []).append(item)
        by_severity[item.severity.value] += 1
        by_level[item.level] = by_level.get(item.level, 0) + 1
    tool_entries = []
    rule_count = 0
    for (name, version), rules in sorted(tools.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        rule_entries = []
        for rule_id, items in sorted(rules.items()):
            worst = max((i.severity for i in items), key=lambda s: s.rank)
            rule_entries.append({
                "rule_id": rule_id, "rule_name": items[0].rule_name, "help_uri": items[0].help_uri,
                "severity": worst.value, "count": len(items),
                "levels": dict(sorted({lvl: sum(1 for i in items if i.level == lvl)
                                       for lvl in {i.level for i in items}}.items())),
                "findings": [code_guard_dict(i) for i in items],
            })
        rule_count += len(rule_entries)
        tool_entries.append({"name": name, "version": version, "rules": rule_entries,
                             "count": sum(r["count"] for r in rule_entries)})
    document = _envelope(snapshot, ExportType.AI_CODE_GUARD_REPORT)
    document.update({
        "summary": {"findings": len(ordered), "by_severity": by_severity,
                    "by_level": dict(sorted(by_level.items())), "tools": len(tool_entries), "rules": rule_count},
        "tools": tool_entries,
    })
    return document


def audit_log_document(snapshot: ExportSnapshot) -> JsonDict:
    events = sorted(snapshot.audit_events, key=lambda e: (e.seq, e.id))
    by_outcome: dict[str, int] = {}
    by_action: dict[str, int] = {}
    for event in events:
        by_outcome[event.outcome] = by_outcome.get(event.outcome, 0) + 1
        by_action[event.action] = by_action.get(event.action, 0) + 1
    head = snapshot.metadata.get("audit_chain_head")
    document = _envelope(snapshot, ExportType.AUDIT_LOG)
    document.update({
        "chain": {"head": head if head is None or isinstance(head, str | int | dict) else str(head),
                  "events": len(events), "first_seq": events[0].seq if events else None,
                  "last_seq": events[-1].seq if events else None},
        "summary": {"events": len(events), "by_outcome": dict(sorted(by_outcome.items())),
                    "by_action": dict(sorted(by_action.items()))},
        "events": [audit_event_dict(e) for e in events],
    })
    return document


# --------------------------------------------------------------------------- renderers

def render_scan_report_json(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    write_document(scan_report_document(snapshot), out, ctx)


def render_policy_compliance_json(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    write_document(policy_compliance_document(snapshot), out, ctx)


def render_ai_code_guard_report_json(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    write_document(code_guard_document(snapshot), out, ctx)


def render_audit_log_json(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    write_document(audit_log_document(snapshot), out, ctx)


RENDERERS: dict[tuple[ExportType, ExportFormat], RenderFunction] = {
    (ExportType.SCAN_REPORT, ExportFormat.JSON): render_scan_report_json,
    (ExportType.POLICY_COMPLIANCE, ExportFormat.JSON): render_policy_compliance_json,
    (ExportType.AI_CODE_GUARD_REPORT, ExportFormat.JSON): render_ai_code_guard_report_json,
    (ExportType.AUDIT_LOG, ExportFormat.JSON): render_audit_log_json,
}
