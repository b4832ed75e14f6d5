"""JSON renderers on real inputs: strict-parser valid, every field present, counts that add up."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pytest

from exportcenter.config import Settings
from exportcenter.model import SEVERITY_ORDER, ExportFormat, ExportOptions, ExportSnapshot, ExportType
from exportcenter.renderers import json_reports
from exportcenter.renderers.base import RenderContext
from tests.unit.tabular_data import audit_events, snapshot_of

SCANS = ["scans/trivy_json_juice-shop-v12.10.2.json", "scans/grype_json_busybox-epss.json",
         "scans/trivy_json_misconfig-and-secrets.json", "scans/trivy_json_cvssv4-filesystem.json"]
SARIF = ["scans/trivy_sarif_nginx.sarif.json", "scans/grype_sarif_nginx.sarif.json"]
CUSTOM = ExportOptions(custom_fields=(("ticket", "SEC-42"),), include_remediation=True)


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


def render(export_type: ExportType, snapshot: ExportSnapshot) -> tuple[dict[str, Any], RenderContext, bytes]:
    ctx = RenderContext(Settings())
    out = io.BytesIO()
    json_reports.RENDERERS[(export_type, ExportFormat.JSON)](snapshot, out, ctx)
    data = out.getvalue()
    document = json.loads(data.decode("utf-8", errors="strict"), parse_constant=_reject_constant)
    assert document["schema_version"] == json_reports.SCHEMA_VERSION
    assert document["schema"].endswith(f"/{export_type.value}/1")
    assert document["export"]["generated_at"] == "2024-05-01T12:00:00Z"
    return document, ctx, data


def test_scan_report_has_every_finding_field_and_counts_add_up() -> None:
    snapshot = snapshot_of(SCANS, export_type="scan_report", export_format="json", options=CUSTOM)
    document, _, data = render(ExportType.SCAN_REPORT, snapshot)
    findings = document["findings"]
    assert len(findings) == len(snapshot.findings) > 200
    by_id = {f.id: f for f in snapshot.findings}
    for entry in findings:
        model = by_id[entry["id"]]
        assert len(entry["cvss"]) == len(model.cvss)
        assert entry["aliases"] == list(model.aliases)
        assert entry["epss"] == model.epss and entry["kev"] == model.kev
        assert entry["severity"] == model.severity.value and entry["raw_severity"] == model.raw_severity
        assert (entry["vex"] is None) == (model.vex is None)
        assert "remediation" in entry
    assert any(e["epss"] for e in findings), "busybox Grype file has EPSS"
    assert any(c["version"] == "4.0" for e in findings for c in e["cvss"]), "the CVSS v4 file keeps v4"
    assert {e["kind"] for e in findings} == {"vulnerability", "secret", "misconfiguration"}
    summary = document["summary"]
    assert sum(v["total"] for v in summary["by_severity"].values()) == summary["total"] == len(findings)
    assert sum(v["open"] for v in summary["by_severity"].values()) == summary["open"]
    assert summary["open"] + summary["vex_suppressed"] == summary["total"]
    assert sum(s["counts"]["total"] for s in document["scans"]) == summary["total"]
    assert summary["vex_suppressed"] == sum(1 for f in snapshot.findings if not f.is_open) > 0
    assert document["custom_fields"] == {"ticket": "SEC-42"}
    assert len(document["policy_verdicts"]) == len(snapshot.policy_verdicts) == 2 * len(SCANS)
    assert document["vex"] == {"applied": [], "unmatched": []}
    assert render(ExportType.SCAN_REPORT, snapshot)[2] == data, "byte-identical for the same snapshot"


def test_awkward_text_round_trips_and_lone_surrogates_are_replaced_with_a_warning() -> None:
    snapshot = snapshot_of(SCANS[:1], export_type="scan_report", export_format="json")
    tricky = 'back\\slash "quote" \x00\x1f line\u2028sep \U0001f512'
    findings = list(snapshot.findings)
    findings[0] = replace(findings[0], title=tricky, description="broken \ud800 surrogate")
    document, ctx, _ = render(ExportType.SCAN_REPORT, replace(snapshot, findings=tuple(findings)))
    titles = {f["id"]: f for f in document["findings"]}
    assert titles[findings[0].id]["title"] == tricky
    assert titles[findings[0].id]["description"] == "broken \ufffd surrogate"
    assert any("surrogate" in w for w in ctx.warnings)
    clean_ctx = render(ExportType.SCAN_REPORT, snapshot)[1]
    assert clean_ctx.warnings == []


def test_policy_compliance_lists_rules_with_matched_findings() -> None:
    snapshot = snapshot_of(SCANS, export_type="policy_compliance", export_format="json")
    document, _, _ = render(ExportType.POLICY_COMPLIANCE, snapshot)
    results = document["results"]
    assert len(results) == len(snapshot.policy_verdicts)
    ids = {f.id for f in snapshot.findings}
    for result in results:
        verdict = next(v for v in snapshot.policy_verdicts if v.id == result["id"])
        assert [r["rule_id"] for r in result["rules"]] == [r.rule_id for r in verdict.rules]
        for rule, model_rule in zip(result["rules"], verdict.rules, strict=True):
            assert [m["id"] for m in rule["matched_findings"]] == list(model_rule.matched_finding_ids)
            assert all(m["id"] in ids and "severity" in m for m in rule["matched_findings"])
        assert result["counts"]["rules"] == sum(result["counts"][o] for o in ("pass", "warn", "fail"))
        assert result["image"]
    summary = document["summary"]
    assert sum(summary["by_outcome"].values()) == summary["verdicts"] == len(results)
    worst = max((r["outcome"] for r in results), key=["pass", "warn", "fail"].index)
    assert summary["overall_outcome"] == worst
    assert any(rule["matched_count"] for r in results for rule in r["rules"]), "juice-shop trips a rule"


def test_code_guard_report_groups_real_sarif_by_tool_and_rule() -> None:
    snapshot = snapshot_of(SARIF, export_type="ai_code_guard_report", export_format="json")
    assert len(snapshot.code_guard_findings) == 99 + 99
    document, _, _ = render(ExportType.AI_CODE_GUARD_REPORT, snapshot)
    summary = document["summary"]
    assert summary["findings"] == 198 == sum(summary["by_severity"].values()) == sum(summary["by_level"].values())
    tools = document["tools"]
    assert sorted(t["name"].lower() for t in tools) == ["grype", "trivy"]
    for tool in tools:
        assert tool["count"] == sum(r["count"] for r in tool["rules"]) == 99
        for rule in tool["rules"]:
            assert rule["count"] == len(rule["findings"]) == sum(rule["levels"].values())
            assert {f["id"] for f in rule["findings"]} <= {g.id for g in snapshot.code_guard_findings}
    assert summary["rules"] == sum(len(t["rules"]) for t in tools)


def test_audit_log_keeps_chain_order_and_head() -> None:
    events = audit_events(7)
    base = snapshot_of([], export_type="audit_log", export_format="json")
    snapshot = replace(base, audit_events=events[::-1], metadata={"audit_chain_head": events[-1].hash})
    document, _, _ = render(ExportType.AUDIT_LOG, snapshot)
    assert [e["seq"] for e in document["events"]] == list(range(1, 8))
    assert document["chain"] == {"head": events[-1].hash, "events": 7, "first_seq": 1, "last_seq": 7}
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(document["events"], document["events"][1:], strict=False))
    assert document["summary"]["by_outcome"] == {"failure": 1, "success": 6}
    assert set(document["events"][0]) == {"seq", "id", "time", "tenant", "actor", "action", "resource", "outcome",
                                          "detail", "source_address", "prev_hash", "hash"}


@pytest.mark.parametrize("export_type", [ExportType.SCAN_REPORT, ExportType.POLICY_COMPLIANCE])
def test_severity_keys_are_complete_even_when_empty(export_type: ExportType) -> None:
    snapshot = snapshot_of(["scans/trivy_json_no-vulns.json"], export_type=export_type.value, export_format="json")
    document, _, _ = render(export_type, snapshot)
    if export_type is ExportType.SCAN_REPORT:
        assert set(document["summary"]["by_severity"]) == {s.value for s in SEVERITY_ORDER}  # keys sorted
        assert document["summary"]["total"] == 0 and document["findings"] == []
    else:
        assert document["summary"]["overall_outcome"] == "pass"
