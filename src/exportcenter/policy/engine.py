"""The built-in policy engine: evaluate a policy set against one scan's findings.

Each rule selects the findings that satisfy all of its conditions; when more than ``max_count`` are
selected the rule takes its outcome (warn or fail), otherwise it passes. The verdict's outcome is the
worst rule outcome. Evaluation is pure and deterministic: the same scan, findings and set give the same
verdict id, rule order and matched finding ids.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import lru_cache

from exportcenter.model import (
    Finding,
    Package,
    PolicyOutcome,
    PolicyRuleResult,
    PolicyVerdict,
    Scan,
    Severity,
    VexStatus,
)
from exportcenter.policy.model import PolicyRule, PolicySet, RuleCondition
from exportcenter.vex.purl import try_parse_purl

Predicate = Callable[[Finding], bool]
_GLOB_CHARS = frozenset("*?[")
_PURL_BOUNDARY = frozenset("/@?#")
_OPEN = frozenset(s for s in VexStatus if s.is_open)


def verdict_id(scan_id: str, set_name: str, set_digest: str) -> str:
    """Deterministic verdict id: ``verdict-`` + hash of scan id, set name and set digest."""
    material = "\n".join((scan_id, set_name, set_digest)).encode()
    return "verdict-" + hashlib.sha256(material).hexdigest()[:32]


def evaluate(
    scan: Scan,
    findings: Sequence[Finding],
    policy_set: PolicySet,
    evaluated_at: datetime,
    *,
    source: str = "builtin",
) -> PolicyVerdict:
    """Evaluate ``policy_set`` on the findings of ``scan`` (findings of other scans are ignored)."""
    own = [f for f in findings if f.scan_id == scan.id]
    results = tuple(_evaluate_rule(rule, own) for rule in policy_set.rules)
    outcome = max((r.outcome for r in results), key=lambda o: o.rank, default=PolicyOutcome.PASS)
    return PolicyVerdict(
        id=verdict_id(scan.id, policy_set.name, policy_set.digest),
        scan_id=scan.id,
        policy_set=policy_set.name,
        outcome=outcome,
        evaluated_at=evaluated_at,
        source=source,
        rules=results,
    )


def evaluate_scans(
    scans: Sequence[Scan],
    findings: Sequence[Finding],
    policy_sets: Iterable[PolicySet],
    evaluated_at: datetime,
) -> tuple[PolicyVerdict, ...]:
    """One verdict per (scan, policy set), scans in the given order, sets in the given order."""
    by_scan: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_scan[finding.scan_id].append(finding)
    sets = list(policy_sets)
    return tuple(
        evaluate(scan, by_scan.get(scan.id, []), policy_set, evaluated_at)
        for scan in scans
        for policy_set in sets
    )


def _evaluate_rule(rule: PolicyRule, findings: Sequence[Finding]) -> PolicyRuleResult:
    selected: Sequence[Finding] = findings
    for check in compile_checks(rule.when):  # filter pass by pass: the set shrinks quickly
        selected = [f for f in selected if check(f)]
    matched = sorted(f.id for f in selected)
    count = len(matched)
    triggered = count > rule.max_count
    if triggered:
        outcome = PolicyOutcome(rule.outcome)
        template = rule.message or "{count} finding(s) match rule {rule} (at most {max_count} allowed)"
        message = template.format(count=count, max_count=rule.max_count, rule=rule.display_name)
    else:
        outcome = PolicyOutcome.PASS
        message = f"passed: {count} matching finding(s), at most {rule.max_count} allowed"
    return PolicyRuleResult(
        rule_id=rule.id,
        name=rule.display_name,
        outcome=outcome,
        message=message,
        matched_finding_ids=tuple(matched),
    )


def compile_condition(condition: RuleCondition) -> Predicate:
    """Turn a rule's conditions into one predicate over findings (all checks must hold)."""
    checks = compile_checks(condition)

    def predicate(finding: Finding) -> bool:
        return all(check(finding) for check in checks)

    return predicate


def compile_checks(condition: RuleCondition) -> list[Predicate]:
    """One predicate per condition given; a finding matches the rule when it passes all of them."""
    checks: list[Predicate] = [_status_check(condition.status)]
    if condition.kinds is not None:
        kinds = frozenset(condition.kinds)
        checks.append(lambda f: f.kind in kinds)
    if condition.severity_at_least is not None:
        floor = condition.severity_at_least.rank
        severe = frozenset(s for s in Severity if s.rank >= floor)
        checks.append(lambda f: f.severity in severe)
    if condition.fix_available is not None:
        want_fix = condition.fix_available
        checks.append(lambda f: bool(f.fixed_version) == want_fix)
    if condition.cvss_at_least is not None:
        cvss_floor = condition.cvss_at_least
        checks.append(lambda f: (score := f.max_score) is not None and score >= cvss_floor)
    if condition.kev is not None:
        want_kev = condition.kev
        checks.append(lambda f: f.kev is not None and f.kev == want_kev)
    if condition.epss_at_least is not None:
        epss_floor = condition.epss_at_least
        checks.append(lambda f: f.epss is not None and f.epss >= epss_floor)
    if condition.epss_percentile_at_least is not None:
        pct_floor = condition.epss_percentile_at_least
        checks.append(lambda f: f.epss_percentile is not None and f.epss_percentile >= pct_floor)
    if condition.vuln_ids is not None:
        wanted = frozenset(v.strip().upper() for v in condition.vuln_ids)
        checks.append(lambda f: f.vuln_id.upper() in wanted or any(a.upper() in wanted for a in f.aliases))
    if condition.package_deny is not None:
        deny = PackageMatcher(condition.package_deny)
        checks.append(deny.matches)
    if condition.package_allow is not None:
        allow = PackageMatcher(condition.package_allow)
        checks.append(lambda f: not allow.matches(f))
    return checks


def _status_check(status: str | list[VexStatus]) -> Predicate:
    if status == "open":
        return lambda f: f.status in _OPEN
    if status == "closed":
        return lambda f: f.status not in _OPEN
    if status == "all":
        return lambda f: True
    wanted = frozenset(VexStatus(s) for s in status)
    return lambda f: f.status in wanted


class PackageMatcher:
    """Package patterns for allow/deny lists.

    * ``pkg:`` patterns without wildcards are purl prefixes, cut at a purl boundary:
      ``pkg:npm/lodash`` matches ``pkg:npm/lodash@4.17.21`` but not ``pkg:npm/lodash.merge@1.0``;
      ``pkg:maven/org.apache.logging.log4j`` matches every artifact of that group.
    * ``pkg:`` patterns with ``*``, ``?`` or ``[...]`` are globs over the whole canonical purl.
    * anything else is a glob over the package name (``openssl*``, ``log4j-core``).
    All comparisons ignore case.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self._prefixes: list[str] = []
        self._purl_globs: list[str] = []
        self._name_globs: list[str] = []
        self._memo: dict[tuple[str, str | None], bool] = {}  # many findings share one package
        for raw in patterns:
            pattern = raw.strip()
            globbed = bool(_GLOB_CHARS & set(pattern))
            if pattern[:4].lower() == "pkg:":
                if globbed:
                    self._purl_globs.append(pattern.lower())
                else:
                    parsed = try_parse_purl(pattern)
                    self._prefixes.append((parsed.to_string() if parsed else pattern).lower())
            else:
                self._name_globs.append(pattern.lower())

    def matches(self, finding: Finding) -> bool:
        package = finding.package
        if package is None:
            return False
        key = (package.name, package.purl)
        known = self._memo.get(key)
        if known is None:
            known = self._memo[key] = self._matches(package.name, package.purl)
        return known

    def _matches(self, name: str, purl: str | None) -> bool:
        package = Package(name=name, purl=purl)
        if self._name_globs:
            name = package.name.lower()
            if any(fnmatch.fnmatchcase(name, g) for g in self._name_globs):
                return True
        if not (self._prefixes or self._purl_globs) or not package.purl:
            return False
        canonical = _canonical_purl(package.purl)
        for prefix in self._prefixes:
            if canonical.startswith(prefix) and (
                len(canonical) == len(prefix) or canonical[len(prefix)] in _PURL_BOUNDARY or prefix.endswith("/")
            ):
                return True
        return any(fnmatch.fnmatchcase(canonical, g) for g in self._purl_globs)


@lru_cache(maxsize=65536)
def _canonical_purl(text: str) -> str:
    parsed = try_parse_purl(text)
    return (parsed.to_string() if parsed else text.strip()).lower()
