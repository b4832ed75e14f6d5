"""SARIF renderer on real scanner output: schema, GitHub's upload rules, fingerprints, VEX profiles."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, validators

from exportcenter.config import SarifSettings, Settings
from exportcenter.model import (
    ExportOptions,
    ExportScope,
    ExportSnapshot,
    Severity,
    VexDecision,
    VexStatus,
)
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.sarif import SARIF_SCHEMA_URI, render, render_bytes
from exportcenter.renderers.sarif_locations import FINGERPRINT_KEY
from exportcenter.renderers.sarif_model import SEVERITY_LEVELS
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.sources.local.sniff import parse_document

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
SCANS = DATA / "scans"
CHECKER = Path("/work/shared/tools/check_artifacts.py")
JUICE_V10 = "trivy_json_juice-shop-v10.2.0.json"
JUICE_V12 = "trivy_json_juice-shop-v12.10.2.json"
MISCONFIG = "trivy_json_misconfig-and-secrets.json"
STRIMZI = "grype_json_issue-9618-strimzi.json"
DOJO = "grype_json_defectdojo-1.13.1-many.json"
STATUSES = "trivy_json_all-statuses.json"
SARIF_FILES = ("grype_sarif_nginx.sarif.json", "trivy_sarif_nginx.sarif.json",
               "trivy_sarif_alpine-310.sarif.json", "grype_sarif_presenter-image-golden.sarif.json")
ALL_SCANS = (JUICE_V10, MISCONFIG, STRIMZI, DOJO, STATUSES)


@cache
def parsed(name: str) -> ParsedDocument:
    return parse_document((SCANS / name).read_bytes(), name=name, tenant="default",
                          ingested_at=datetime(2024, 1, 1, tzinfo=UTC))


def snapshot(*names: str, export_type: str = "scan_report", **options: Any) -> ExportSnapshot:
    docs = [parsed(name) for name in names]
    return ExportSnapshot(
        export_id="exp-1", tenant="default", export_type=export_type, export_format="sarif",
        generated_at=datetime(2024, 6, 1, tzinfo=UTC), scope=ExportScope(), options=ExportOptions(**options),
        scans=tuple(doc.scan for doc in docs if doc.scan is not None),
        findings=tuple(f for doc in docs for f in doc.findings),
        code_guard_findings=tuple(f for doc in docs for f in doc.code_guard_findings),
    )


def context(**limits: Any) -> RenderContext:
    return RenderContext(settings=Settings(sarif=SarifSettings(**limits)))


def to_log(snap: ExportSnapshot, ctx: RenderContext | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render_bytes(snap, ctx or context()))
    return data


@cache
def validator() -> Draft7Validator:
    schema = json.loads((DATA / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    cls = validators.validator_for(schema, default=Draft7Validator)
    return cls(schema)


def assert_schema_valid(log: dict[str, Any]) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator().iter_errors(log)]
    assert errors == []


def results(log: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(run, result) for run in log["runs"] for result in run["results"]]


def uri_of(result: dict[str, Any]) -> str:
    uri: str = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    return uri


def test_scan_report_is_schema_valid_and_consistent() -> None:
    log = to_log(snapshot(*ALL_SCANS, include_remediation=True))
    assert_schema_valid(log)
    assert log["$schema"] == SARIF_SCHEMA_URI and log["version"] == "2.1.0"
    assert len(log["runs"]) == 5  # one per scanned subject
    for run in log["runs"]:
        rules = run["tool"]["driver"]["rules"]
        assert run["tool"]["driver"]["name"] == "ExportCenter"
        assert run["tool"]["driver"]["properties"]["scanners"][0]["name"] in ("trivy", "grype")
        ids = [rule["id"] for rule in rules]
        assert len(ids) == len(set(ids))
        assert set(ids) == {result["ruleId"] for result in run["results"]}
        for result in run["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            assert result["level"] == SEVERITY_LEVELS[Severity(result["properties"]["severity"])]
            assert "vex_status" in result["properties"] and "vex_justification" in result["properties"]
        for rule in rules:
            tags = rule["properties"]["tags"]
            assert len(tags) == len(set(tags)) and "security" in tags and len(tags) <= 10
            score = rule["properties"].get("security-severity")
            if score is not None:
                assert isinstance(score, str) and 0.0 < float(score) <= 10.0
                assert score == f"{float(score):.1f}"


def test_security_severity_absent_for_info_and_unknown_rules_only() -> None:
    log = to_log(snapshot(DOJO))  # 106 Negligible and 10 Unknown matches among 327
    seen = Counter[str]()
    for run in log["runs"]:
        for rule in run["tool"]["driver"]["rules"]:
            severities = {Severity(r["properties"]["severity"]) for r in run["results"] if r["ruleId"] == rule["id"]}
            has_score = "security-severity" in rule["properties"]
            if severities <= {Severity.INFO, Severity.UNKNOWN}:
                assert not has_score, rule["id"]
                seen["without"] += 1
            else:
                assert has_score, rule["id"]
                seen["with"] += 1
    assert seen["without"] > 0 and seen["with"] > 0


def test_severity_default_or_max_cvss() -> None:
    log = to_log(snapshot(JUICE_V10))
    rules = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    # CVE-2021-36159: CRITICAL in Trivy, NVD/Red Hat CVSS 3.1 score 9.1 -> the score, not the default 9.5
    assert rules["CVE-2021-36159"]["properties"]["security-severity"] == "9.1"
    assert "critical" in rules["CVE-2021-36159"]["properties"]["tags"]
    secret_rule = rules["secret/private-key"]  # HIGH, no CVSS -> the high default
    assert secret_rule["properties"]["security-severity"] == "8.0"
    assert secret_rule["defaultConfiguration"]["level"] == "error"


def test_checker_accepts_output(tmp_path: Path) -> None:
    if not CHECKER.exists():
        pytest.skip("shared check_artifacts.py not present")
    for name, snap in (("scan", snapshot(*ALL_SCANS, JUICE_V12)),
                       ("guard", snapshot(*SARIF_FILES, export_type="ai_code_guard_report"))):
        target = tmp_path / f"{name}.sarif"
        with target.open("wb") as out:
            render(snap, out, context())
        run = subprocess.run([sys.executable, str(CHECKER), "sarif", str(target)], capture_output=True,
                             text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_uris_are_relative_paths_never_image_labels() -> None:
    log = to_log(snapshot(*ALL_SCANS))
    uris = Counter(uri_of(result) for _, result in results(log))
    for uri in uris:
        assert uri and not uri.startswith("/") and "\\" not in uri and " " not in uri
        assert ":" not in uri.split("/")[0], uri  # no scheme, no image:tag
    assert uris["lib/apk/db/installed"] == 47  # juice-shop's alpine packages: their package database
    assert uris["var/lib/rpm/Packages"] == 32  # grype gave '/var/lib/rpm/Packages' as the location
    assert uris["usr/local/lib/node_modules/npm/node_modules/ajv/package.json"] == 1  # Trivy PkgPath
    assert uris["Dockerfile"] == 2 and uris["requirements.txt"] == 2


def test_fingerprints_survive_a_tag_change_and_separate_packages() -> None:
    v10, v12 = to_log(snapshot(JUICE_V10)), to_log(snapshot(JUICE_V12))
    assert v10["runs"][0]["automationDetails"]["id"] == "exportcenter/scan_report/bkimminich/juice-shop/"
    assert v12["runs"][0]["automationDetails"]["id"] == v10["runs"][0]["automationDetails"]["id"]

    def keyed(log: dict[str, Any]) -> dict[tuple[str, str, str], str]:
        out = {}
        for _, result in results(log):
            key = (result["ruleId"], result["properties"].get("package", ""), uri_of(result))
            out[key] = result["partialFingerprints"][FINGERPRINT_KEY]
        return out

    a, b = keyed(v10), keyed(v12)
    common = set(a) & set(b)
    assert len(common) >= 20  # e.g. the same npm advisories in the same node_modules paths
    assert all(a[key] == b[key] for key in common)
    for run in (v10["runs"][0], v12["runs"][0]):
        prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in run["results"]]
        assert len(prints) == len(set(prints))
    # one CVE in two packages: two fingerprints
    by_rule: dict[str, set[str]] = {}
    for (rule_id, _, _), value in a.items():
        by_rule.setdefault(rule_id, set()).add(value)
    assert max(len(values) for values in by_rule.values()) > 1


def test_two_tags_of_one_image_share_one_run() -> None:
    ctx = context()
    log = to_log(snapshot(JUICE_V10, JUICE_V12), ctx)
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    props = run["properties"]
    assert props["exportcenter/findings_in"] == len(parsed(JUICE_V10).findings) + len(parsed(JUICE_V12).findings)
    assert props["exportcenter/results"] + props["exportcenter/duplicates_dropped"] == props["exportcenter/findings_in"]
    assert any("share one run" in warning for warning in ctx.warnings)


def _with_vex(names: tuple[str, ...], statuses: dict[str, VexStatus]) -> ExportSnapshot:
    base = snapshot(*names)
    changed = []
    for finding in base.findings:
        status = statuses.get(finding.vuln_id)
        if status is None:
            changed.append(finding)
            continue
        decision = VexDecision(status=status, justification="vulnerable_code_not_in_execute_path",
                               statement_id="stmt-1", source="vex.json")
        changed.append(replace(finding, status=status, vex=decision))
    return replace(base, findings=tuple(changed))


def test_vex_github_profile_leaves_out_and_counts() -> None:
    statuses = {"CVE-2021-36159": VexStatus.NOT_AFFECTED, "CVE-2021-30139": VexStatus.FIXED}
    snap = _with_vex((JUICE_V10,), statuses)
    log = to_log(snap)
    run = log["runs"][0]
    expected = Counter(f.status.value for f in snap.findings if f.vuln_id in statuses)
    assert run["properties"]["exportcenter/vex_excluded"] == dict(expected)
    assert not {r["ruleId"] for r in run["results"]} & set(statuses)
    assert len(run["results"]) == len(snap.findings) - sum(expected.values())
    assert all("suppressions" not in r for r in run["results"])


@pytest.mark.parametrize("options", [{"sarif_profile": "developer-sarif"}, {"template": "developer-sarif"}])
def test_vex_developer_profile_keeps_with_suppression(options: dict[str, str]) -> None:
    snap = _with_vex((JUICE_V10,), {"CVE-2021-36159": VexStatus.NOT_AFFECTED})
    snap = replace(snap, options=ExportOptions(**options))  # type: ignore[arg-type]
    log = to_log(snap)
    assert_schema_valid(log)
    suppressed = [r for _, r in results(log) if r["ruleId"] == "CVE-2021-36159"]
    assert suppressed and all(r["suppressions"] == [{
        "kind": "external", "status": "accepted", "justification": "vulnerable_code_not_in_execute_path",
        "properties": {"source": "vex.json", "statement_id": "stmt-1", "vex_status": "not_affected"}}]
        for r in suppressed)
    assert all(r["properties"]["vex_status"] == "not_affected" for r in suppressed)
    assert len(results(log)) == len(snap.findings)


def test_trivy_not_affected_status_is_left_out_on_github() -> None:
    log = to_log(snapshot(STATUSES))
    found = parsed(STATUSES).findings
    closed = Counter(f.status.value for f in found if not f.is_open)
    assert closed  # the file has one finding per Trivy status
    assert log["runs"][0]["properties"]["exportcenter/vex_excluded"] == dict(closed)


def test_result_cut_is_most_severe_first_and_counted() -> None:
    ctx = context(max_results_per_run=10)
    log = to_log(snapshot(JUICE_V10), ctx)
    run = log["runs"][0]
    assert_schema_valid(log)
    assert len(run["results"]) == 10
    assert {r["properties"]["severity"] for r in run["results"]} == {"critical"}
    truncated = run["properties"]["exportcenter/truncated"]
    assert truncated["results_dropped"] == len(parsed(JUICE_V10).findings) - 10
    assert truncated["by_reason"]["max_results_per_run"] == {"dropped": truncated["results_dropped"], "limit": 10}
    assert sum(truncated["dropped_by_severity"].values()) == truncated["results_dropped"]
    assert len(run["tool"]["driver"]["rules"]) == len({r["ruleId"] for r in run["results"]})
    assert any("over the limit of 10" in warning for warning in ctx.warnings)


def test_runs_over_the_limit_are_merged_deterministically() -> None:
    ctx = context(max_runs=2)
    log = to_log(snapshot(*ALL_SCANS), ctx)
    assert_schema_valid(log)
    assert len(log["runs"]) == 2
    merged = next(run for run in log["runs"] if run["automationDetails"]["id"].endswith("/merged/"))
    assert len(merged["properties"]["exportcenter/merged_subjects"]) == 4
    total = sum(len(parsed(name).findings) for name in ALL_SCANS)
    emitted = sum(len(run["results"]) for run in log["runs"])
    excluded = sum(sum(run["properties"]["exportcenter/vex_excluded"].values()) for run in log["runs"])
    assert emitted + excluded == total
    assert any("exceed the limit of 2 runs" in warning for warning in ctx.warnings)


def test_gzip_limit_cuts_least_severe_and_counts() -> None:
    ctx = context(max_gzip_bytes=40_000)
    data = render_bytes(snapshot(DOJO, JUICE_V10), ctx)
    import gzip

    assert len(gzip.compress(data)) <= 40_000
    log = json.loads(data)
    dropped = sum(run["properties"].get("exportcenter/truncated", {}).get("results_dropped", 0)
                  for run in log["runs"])
    assert dropped > 0
    assert any("max_gzip_bytes" in run["properties"].get("exportcenter/truncated", {}).get("by_reason", {})
               for run in log["runs"])
    assert any("gzipped is over the limit" in warning for warning in ctx.warnings)


def test_a_log_far_over_the_gzip_limit_is_cut_on_the_estimate_and_fits() -> None:
    import gzip

    # juice-shop v10.2.0 alone is about 89 KB gzipped: more than 4x a 20,000-byte limit
    snap = snapshot(JUICE_V10)
    ctx = context(max_gzip_bytes=20_000)
    data = render_bytes(snap, ctx)
    assert len(gzip.compress(data, 6)) <= 20_000 and len(gzip.compress(data, 9)) <= 20_000
    assert any("gzipped is over the limit of 20000 by the sampled estimate" in w for w in ctx.warnings)
    shuffled = replace(snap, findings=tuple(reversed(snap.findings)))
    assert render_bytes(shuffled, context(max_gzip_bytes=20_000)) == data  # same input, same bytes
    run = json.loads(data)["runs"][0]
    cut = run["properties"]["exportcenter/truncated"]
    kept = Counter(result["properties"]["severity"] for result in run["results"])
    assert cut["by_reason"]["max_gzip_bytes"]["limit"] == 20_000
    assert cut["results_dropped"] == sum(cut["dropped_by_severity"].values()) > 0
    assert cut["results_dropped"] + sum(kept.values()) == len(parsed(JUICE_V10).findings)
    # most severe first: nothing kept is less severe than anything dropped
    assert min(Severity(s).rank for s in kept) >= max(Severity(s).rank for s in cut["dropped_by_severity"])
    assert "critical" in kept


def test_output_is_deterministic() -> None:
    snap = snapshot(*ALL_SCANS, custom_fields=(("team", "appsec"), ("cost_center", "42")))
    first = render_bytes(snap, context())
    shuffled = replace(snap, findings=tuple(reversed(snap.findings)), scans=tuple(reversed(snap.scans)))
    assert render_bytes(snap, context()) == first
    assert render_bytes(shuffled, context()) == first
    log = json.loads(first)
    assert all(run["properties"]["custom_fields"] == {"cost_center": "42", "team": "appsec"} for run in log["runs"])


def test_remediation_only_when_asked() -> None:
    plain = to_log(snapshot(JUICE_V10))
    guided = to_log(snapshot(JUICE_V10, include_remediation=True))
    rule = next(r for r in guided["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "CVE-2021-36159")
    assert "Upgrade apk-tools to 2.10.7-r0 or later." in rule["help"]["markdown"]
    assert "2.10.7-r0" in rule["help"]["text"]
    assert all("Remediation" not in r["help"]["text"] for r in plain["runs"][0]["tool"]["driver"]["rules"])


def test_ai_code_guard_report_from_real_sarif() -> None:
    snap = snapshot(*SARIF_FILES, export_type="ai_code_guard_report")
    log = to_log(snap)
    assert_schema_valid(log)
    assert len(results(log)) == len(snap.code_guard_findings)
    by_id = {f.id: f for f in snap.code_guard_findings}
    assert by_id
    source_rules = Counter(f.rule_id for f in snap.code_guard_findings)
    assert Counter(r["ruleId"] for _, r in results(log)) == source_rules
    for run, result in results(log):
        assert run["automationDetails"]["id"].startswith("exportcenter/ai_code_guard_report/")
        assert result["level"] in ("error", "warning", "note", "none")
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    uris = {uri_of(r) for _, r in results(log)}
    assert "image/usr/share/doc/tar/copyright" in uris  # grype's 'image//usr/...' normalised
    assert "library/nginx" in uris


def test_empty_snapshot_gives_a_valid_log_and_a_warning() -> None:
    ctx = context()
    log = to_log(snapshot(), ctx)
    assert_schema_valid(log)
    assert log["runs"] == [] and ctx.warnings
