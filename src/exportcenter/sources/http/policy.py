"""Policy engine: ``GET /internal/verdicts/{scan_id}`` mapped to PolicyVerdict records."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from exportcenter.errors import DataNotFoundError
from exportcenter.model import Finding, PolicyOutcome, PolicyRuleResult, PolicyVerdict, Scan
from exportcenter.sources.http.client import UpstreamClient, UpstreamRefusedError, require
from exportcenter.util.timeutil import parse_time


def fetch_verdicts(client: UpstreamClient, scan_id: str, scan: Scan,
                   findings: Sequence[Finding]) -> tuple[tuple[PolicyVerdict, ...], list[str]]:
    """Verdicts for ``scan`` (the upstream id ``scan_id``). Rules name vulnerabilities; they are tied to
    this scan's findings with those ids. No verdicts (404) is reported as a warning."""
    what = "verdicts for scan"
    try:
        body = client.get_json(f"/internal/verdicts/{quote(scan_id, safe='')}", what=what, ident=scan_id)
    except DataNotFoundError:
        return (), [f"{client.service} service has no verdicts for scan {scan_id}"]
    items = require(body, "verdicts", list, service=client.service, what=what, ident=scan_id)
    by_vuln: dict[str, list[str]] = {}
    for finding in findings:
        for vuln in (finding.vuln_id, *finding.aliases):
            by_vuln.setdefault(vuln.upper(), []).append(finding.id)
    verdicts = []
    for index, item in enumerate(items):
        ident = f"{scan_id}#{index}"
        if not isinstance(item, dict):
            raise _invalid(client, ident, "a verdict must be an object")
        evaluated = parse_time(str(item.get("evaluated_at", "")))
        if evaluated is None:
            raise _invalid(client, ident, "evaluated_at must be an RFC 3339 time")
        rules = []
        for rule in item.get("rules") or []:
            if not isinstance(rule, dict) or not isinstance(rule.get("rule_id"), str):
                raise _invalid(client, ident, "each rule needs a rule_id")
            matched = [fid for vuln in rule.get("vulnerabilities") or [] for fid in by_vuln.get(str(vuln).upper(), [])]
            rules.append(PolicyRuleResult(rule_id=rule["rule_id"], name=str(rule.get("name", rule["rule_id"])),
                                          outcome=_outcome(client, ident, rule.get("outcome")),
                                          message=str(rule.get("message", "")),
                                          matched_finding_ids=tuple(dict.fromkeys(matched))))
        verdicts.append(PolicyVerdict(
            id=str(item.get("id") or f"{scan_id}-verdict-{index}"), scan_id=scan.id,
            policy_set=str(require(item, "policy_set", str, service=client.service, what="verdict", ident=ident)),
            outcome=_outcome(client, ident, item.get("outcome")), evaluated_at=evaluated,
            source=f"{client.service}-service", rules=tuple(rules)))
    return tuple(verdicts), []


def _outcome(client: UpstreamClient, ident: str, value: object) -> PolicyOutcome:
    try:
        return PolicyOutcome(str(value).lower())
    except ValueError:
        raise _invalid(client, ident, f"outcome {value!r} is not pass, warn or fail") from None


def _invalid(client: UpstreamClient, ident: str, reason: str) -> UpstreamRefusedError:
    return UpstreamRefusedError(f"{client.service} service answer for verdict {ident} is invalid: {reason}",
                                service=client.service, id=ident)
