"""Policy verdicts in the Policy service's JSON (docs/upstream-api.md), mapped to PolicyVerdict records.

One mapping for both places that JSON arrives: the upstream Policy service (sources/http/policy.py) and
an ingested ``policy_verdicts`` file (sources/local/verdicts.py). Rules name vulnerabilities; each is tied
to the scan's findings whose id or alias is that vulnerability (case-insensitive).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from exportcenter.errors import ExportCenterError
from exportcenter.model import Finding, PolicyOutcome, PolicyRuleResult, PolicyVerdict
from exportcenter.util.timeutil import parse_time

# (index of the verdict in "verdicts", reason naming the field) -> the error to raise
VerdictFailure = Callable[[int, str], ExportCenterError]


def finding_ids_by_vulnerability(findings: Sequence[Finding]) -> dict[str, list[str]]:
    """Upper-cased vulnerability id or alias -> ids of the findings that carry it, in order."""
    by_vuln: dict[str, list[str]] = {}
    for finding in findings:
        for vuln in (finding.vuln_id, *finding.aliases):
            ids = by_vuln.setdefault(vuln.upper(), [])
            if finding.id not in ids:
                ids.append(finding.id)
    return by_vuln


def map_verdicts(items: Sequence[object], *, scan_id: str, id_prefix: str, source: str,
                 findings: Sequence[Finding], fail: VerdictFailure) -> tuple[PolicyVerdict, ...]:
    """The ``verdicts`` list as records of the scan ``scan_id`` (ExportCenter's id). A verdict without an
    ``id`` gets ``{id_prefix}-verdict-{index}``. Raises ``fail(index, reason)`` for a malformed verdict."""
    by_vuln = finding_ids_by_vulnerability(findings)
    return tuple(_verdict(item, index, scan_id=scan_id, id_prefix=id_prefix, source=source,
                          by_vuln=by_vuln, fail=fail) for index, item in enumerate(items))


def parse_outcome(value: object) -> PolicyOutcome | None:
    try:
        return PolicyOutcome(str(value).lower())
    except ValueError:
        return None


def _verdict(item: object, index: int, *, scan_id: str, id_prefix: str, source: str,
             by_vuln: dict[str, list[str]], fail: VerdictFailure) -> PolicyVerdict:
    if not isinstance(item, dict):
        raise fail(index, "a verdict must be an object")
    policy_set = item.get("policy_set")
    if not isinstance(policy_set, str) or not policy_set.strip():
        raise fail(index, "policy_set must be a non-empty string")
    evaluated = parse_time(str(item.get("evaluated_at", "")))
    if evaluated is None:
        raise fail(index, "evaluated_at must be an RFC 3339 time")
    raw_rules = item.get("rules")
    if raw_rules is None:
        raw_rules = []
    if not isinstance(raw_rules, list):
        raise fail(index, "rules must be a list")
    verdict_id = item.get("id")
    if verdict_id is not None and (not isinstance(verdict_id, str) or not verdict_id.strip()):
        raise fail(index, "id, when given, must be a non-empty string")
    return PolicyVerdict(
        id=verdict_id or f"{id_prefix}-verdict-{index}", scan_id=scan_id, policy_set=policy_set,
        outcome=_outcome(item.get("outcome"), index, "outcome", fail), evaluated_at=evaluated, source=source,
        rules=tuple(_rule(rule, index, position, by_vuln, fail) for position, rule in enumerate(raw_rules)))


def _rule(rule: object, index: int, position: int, by_vuln: dict[str, list[str]],
          fail: VerdictFailure) -> PolicyRuleResult:
    where = f"rules[{position}]"
    if not isinstance(rule, dict) or not isinstance(rule.get("rule_id"), str) or not rule["rule_id"].strip():
        raise fail(index, f"{where}: each rule needs a rule_id (a non-empty string)")
    vulnerabilities = rule.get("vulnerabilities")
    if vulnerabilities is None:
        vulnerabilities = []
    if not isinstance(vulnerabilities, list) or not all(isinstance(v, str) for v in vulnerabilities):
        raise fail(index, f"{where}.vulnerabilities must be a list of vulnerability ids (strings)")
    matched = [fid for vuln in vulnerabilities for fid in by_vuln.get(vuln.upper(), [])]
    message = rule.get("message", "")
    return PolicyRuleResult(
        rule_id=rule["rule_id"], name=str(rule.get("name") or rule["rule_id"]),
        outcome=_outcome(rule.get("outcome"), index, f"{where}.outcome", fail),
        message="" if message is None else str(message), matched_finding_ids=tuple(dict.fromkeys(matched)))


def _outcome(value: object, index: int, field: str, fail: VerdictFailure) -> PolicyOutcome:
    outcome = parse_outcome(value)
    if outcome is None:
        raise fail(index, f"{field} {value!r} is not pass, warn or fail")
    return outcome
