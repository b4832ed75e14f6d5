"""The built-in policy engine, evaluated on the real Grype busybox scan (EPSS, CVSS, fix states)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exportcenter.model import Cvss, Finding, FindingKind, Package, PolicyOutcome, Scan, VexStatus, severity_from_raw
from exportcenter.policy import PackageMatcher, PolicySet, builtin_policy_sets, evaluate, evaluate_scans, verdict_id

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
WHEN = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def busybox() -> tuple[Scan, list[Finding]]:
    doc = json.loads((DATA / "scans/grype_json_busybox-epss.json").read_text(encoding="utf-8"))
    target = doc["source"]["target"]
    scan = Scan(id="scan-busybox", tenant="default", source_format="grype-json", scanner_name="grype",
                scanner_version=doc["descriptor"]["version"], artifact_name=target["userInput"],
                artifact_type="container_image", artifact_digest=target["imageID"], os_family=None, os_name=None,
                created_at=WHEN, document_digest="sha256:" + "3" * 64)
    findings = []
    for index, match in enumerate(doc["matches"]):
        vuln, artifact = match["vulnerability"], match["artifact"]
        epss = vuln.get("epss") or []
        findings.append(Finding(
            id=f"f{index:02d}-{vuln['id']}", scan_id=scan.id, kind=FindingKind.VULNERABILITY, vuln_id=vuln["id"],
            severity=severity_from_raw(vuln["severity"]), raw_severity=vuln["severity"],
            package=Package(artifact["name"], artifact["version"], artifact["purl"], artifact["type"]),
            fixed_version=", ".join(vuln["fix"]["versions"]) or None,
            cvss=tuple(Cvss(c["version"], c["vector"], c["metrics"]["baseScore"], c["source"]) for c in vuln["cvss"]),
            epss=epss[0]["epss"] if epss else None, epss_percentile=epss[0]["percentile"] if epss else None,
        ))
    return scan, findings


def _set(rules: list[dict[str, object]], name: str = "t") -> PolicySet:
    return PolicySet.model_validate({"name": name, "rules": rules})


def _matched(findings: list[Finding], when: dict[str, object], max_count: int = 0) -> tuple[set[str], PolicyOutcome]:
    scan = Scan(**{**{n: getattr(busybox()[0], n) for n in Scan.__dataclass_fields__}})
    verdict = evaluate(scan, findings, _set([{"id": "r", "outcome": "fail", "when": when, "max_count": max_count}]), WHEN)
    (rule,) = verdict.rules
    return set(rule.matched_finding_ids), rule.outcome


def _ids(findings: list[Finding], keep: object) -> set[str]:
    return {f.id for f in findings if keep(f)}  # type: ignore[operator]


def test_severity_threshold_counts_that_level_and_worse() -> None:
    _, findings = busybox()
    high, outcome = _matched(findings, {"severity_at_least": "high"})
    assert high == _ids(findings, lambda f: f.raw_severity in ("High", "Critical"))
    assert len(high) == 11 and outcome is PolicyOutcome.FAIL
    critical, _ = _matched(findings, {"severity_at_least": "critical"})
    assert {i.split("-", 1)[1] for i in critical} == {"CVE-2022-48174"}


def test_fix_availability() -> None:
    _, findings = busybox()
    with_fix, _ = _matched(findings, {"fix_available": True})
    assert {i.split("-", 1)[1] for i in with_fix} == {"CVE-2021-42376"}  # the one match with fix.state=fixed
    without_fix, _ = _matched(findings, {"fix_available": False})
    assert len(without_fix) == len(findings) - 1


def test_cvss_uses_the_highest_score_of_every_entry() -> None:
    _, findings = busybox()
    at_least_9, _ = _matched(findings, {"cvss_at_least": 9.0})
    assert at_least_9 == _ids(findings, lambda f: max(c.score for c in f.cvss if c.score is not None) >= 9.0)
    assert at_least_9 and at_least_9 != _ids(findings, lambda f: True)
    no_scores = [dataclasses.replace(f, cvss=()) for f in findings]
    assert _matched(no_scores, {"cvss_at_least": 0.0})[0] == set()  # unknown never matches


def test_epss_and_percentile_thresholds() -> None:
    _, findings = busybox()
    likely, _ = _matched(findings, {"epss_at_least": 0.05})
    assert {i.split("-", 1)[1] for i in likely} == {"CVE-2022-28391"}  # EPSS 0.0719 in the real file
    top, _ = _matched(findings, {"epss_percentile_at_least": 0.5})
    assert top == _ids(findings, lambda f: f.epss_percentile is not None and f.epss_percentile >= 0.5)


def test_kev_unknown_never_matches_known_does() -> None:
    _, findings = busybox()
    assert _matched(findings, {"kev": True})[0] == set()  # Grype did not say: unknown
    flagged = [dataclasses.replace(f, kev=f.vuln_id == "CVE-2022-48174") for f in findings]
    assert {i.split("-", 1)[1] for i in _matched(flagged, {"kev": True})[0]} == {"CVE-2022-48174"}
    assert len(_matched(flagged, {"kev": False})[0]) == len(findings) - 1


def test_vex_status_filters() -> None:
    _, findings = busybox()
    closed = {findings[0].id, findings[1].id}
    vexed = [dataclasses.replace(f, status=VexStatus.NOT_AFFECTED if f.id in closed else f.status) for f in findings]
    assert _matched(vexed, {})[0] == {f.id for f in findings} - closed  # default: open findings only
    assert _matched(vexed, {"status": "closed"})[0] == closed
    assert len(_matched(vexed, {"status": "all"})[0]) == len(findings)
    assert _matched(vexed, {"status": ["not_affected"]})[0] == closed
    assert _matched(vexed, {"status": "not_affected"})[0] == closed


def test_package_deny_and_allow_lists() -> None:
    _, findings = busybox()
    assert len(_matched(findings, {"package_deny": ["pkg:generic/busybox"]})[0]) == len(findings)
    assert _matched(findings, {"package_deny": ["pkg:generic/busy"]})[0] == set()  # prefix stops at a purl boundary
    assert len(_matched(findings, {"package_deny": ["busy*"]})[0]) == len(findings)  # name glob
    assert len(_matched(findings, {"package_deny": ["pkg:generic/*@1.32.*"]})[0]) == len(findings)  # purl glob
    assert _matched(findings, {"package_deny": ["pkg:generic/busybox@1.33.0"]})[0] == set()
    assert _matched(findings, {"package_allow": ["BusyBox"]})[0] == set()  # allow-listed: exempt, any case
    assert len(_matched(findings, {"package_allow": ["openssl"]})[0]) == len(findings)


def test_package_matcher_purl_prefix_boundaries() -> None:
    def finding(purl: str) -> Finding:
        return Finding(id=purl, scan_id="s", kind=FindingKind.VULNERABILITY, vuln_id="CVE-1", severity=severity_from_raw("low"),
                       raw_severity="low", package=Package(purl.rsplit("/", 1)[-1].split("@")[0], None, purl))
    matcher = PackageMatcher(["pkg:maven/org.apache.logging.log4j", "pkg:npm/lodash"])
    assert matcher.matches(finding("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"))
    assert matcher.matches(finding("pkg:npm/lodash@4.17.20"))
    assert matcher.matches(finding("pkg:npm/Lodash@4.17.20"))  # npm names are case-insensitive
    assert not matcher.matches(finding("pkg:npm/lodash.merge@4.6.2"))
    assert not matcher.matches(finding("pkg:maven/org.apache.logging.log4jx/other@1"))


def test_max_count_turns_a_rule_into_a_budget() -> None:
    _, findings = busybox()
    matched, outcome = _matched(findings, {"severity_at_least": "high"}, max_count=11)
    assert len(matched) == 11 and outcome is PolicyOutcome.PASS
    assert _matched(findings, {"severity_at_least": "high"}, max_count=10)[1] is PolicyOutcome.FAIL


def test_kinds_filter() -> None:
    _, findings = busybox()
    secret = dataclasses.replace(findings[0], id="secret-1", kind=FindingKind.SECRET)
    assert _matched([*findings, secret], {"kinds": ["secret"]})[0] == {"secret-1"}


def test_verdict_outcome_is_the_worst_rule_and_messages_are_filled() -> None:
    scan, findings = busybox()
    policy = _set([
        {"id": "crit", "outcome": "fail", "when": {"severity_at_least": "critical", "fix_available": True},
         "message": "{count} fixable critical"},
        {"id": "high", "outcome": "warn", "when": {"severity_at_least": "high"}, "message": "{count} high (max {max_count})"},
        {"id": "budget", "outcome": "fail", "when": {"severity_at_least": "low"}, "max_count": 100},
    ])
    verdict = evaluate(scan, findings, policy, WHEN)
    assert [r.outcome for r in verdict.rules] == [PolicyOutcome.PASS, PolicyOutcome.WARN, PolicyOutcome.PASS]
    assert verdict.outcome is PolicyOutcome.WARN
    assert verdict.rules[1].message == "11 high (max 0)"
    assert verdict.rules[0].message.startswith("passed: 0 matching")
    assert verdict.evaluated_at == WHEN and verdict.source == "builtin" and verdict.policy_set == "t"


def test_builtin_default_set_on_the_real_scan() -> None:
    scan, findings = busybox()
    sets = builtin_policy_sets()
    assert {"default", "strict"} <= set(sets)
    verdict = evaluate(scan, findings, sets["default"], WHEN)
    by_rule = {r.rule_id: r for r in verdict.rules}
    # the one critical (CVE-2022-48174) has no fix: a warning, not a failure
    assert by_rule["critical-with-fix"].outcome is PolicyOutcome.PASS
    assert by_rule["critical-without-fix"].outcome is PolicyOutcome.WARN
    assert by_rule["known-exploited"].outcome is PolicyOutcome.PASS
    assert len(by_rule["high-open"].matched_finding_ids) == 11
    assert verdict.outcome is PolicyOutcome.WARN
    strict = evaluate(scan, findings, sets["strict"], WHEN)
    assert strict.outcome is PolicyOutcome.FAIL
    # VEX: closing every high/critical finding makes the default set pass its high-open rule
    closed = [dataclasses.replace(f, status=VexStatus.NOT_AFFECTED) if f.severity.rank >= 4 else f for f in findings]
    assert evaluate(scan, closed, sets["default"], WHEN).outcome is PolicyOutcome.PASS
    kev = [dataclasses.replace(f, kev=True) if f.vuln_id == "CVE-2021-28831" else f for f in findings]
    assert evaluate(scan, kev, sets["default"], WHEN).outcome is PolicyOutcome.FAIL


def test_determinism_ids_and_order() -> None:
    scan, findings = busybox()
    policy = builtin_policy_sets()["default"]
    first = evaluate(scan, findings, policy, WHEN)
    second = evaluate(scan, list(reversed(findings)), policy, WHEN)
    assert first == second
    assert first.id == verdict_id(scan.id, "default", policy.digest) and first.id.startswith("verdict-")
    assert len(first.id) == len("verdict-") + 32
    other_scan = dataclasses.replace(scan, id="scan-other")
    assert evaluate(other_scan, findings, policy, WHEN).id != first.id
    changed = PolicySet.model_validate({**policy.model_dump(), "description": "changed"})
    assert changed.digest != policy.digest and evaluate(scan, findings, changed, WHEN).id != first.id
    # findings of another scan are ignored
    assert evaluate(other_scan, findings, policy, WHEN).rules[0].matched_finding_ids == ()


def test_evaluate_scans_gives_one_verdict_per_scan_and_set() -> None:
    scan, findings = busybox()
    other = dataclasses.replace(scan, id="scan-empty")
    sets = builtin_policy_sets()
    verdicts = evaluate_scans([scan, other], findings, [sets["default"], sets["strict"]], WHEN)
    assert [(v.scan_id, v.policy_set) for v in verdicts] == [
        ("scan-busybox", "default"), ("scan-busybox", "strict"), ("scan-empty", "default"), ("scan-empty", "strict")]
    assert verdicts[2].outcome is PolicyOutcome.PASS and verdicts[3].outcome is PolicyOutcome.PASS


@pytest.mark.parametrize("name", ["default", "strict"])
def test_builtin_sets_have_messages_for_every_rule_and_unique_ids(name: str) -> None:
    policy = builtin_policy_sets()[name]
    assert len({r.id for r in policy.rules}) == len(policy.rules)
    assert all(r.name for r in policy.rules)
