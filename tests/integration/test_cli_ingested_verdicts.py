"""Ingested policy verdicts (the Policy service's JSON) kept as they are: stored for a scan of the tenant,
shown in policy_compliance beside the built-in sets' verdicts, with rules tied to the scan's findings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exportcenter.api.app import create_app
from exportcenter.api.auth import mint_token
from exportcenter.config import get_settings, reset_settings_cache
from exportcenter.runtime import Runtime
from tests.integration.cli_helpers import Cli
from tests.paths import REPO, SCANS

JUICE_SHOP = SCANS / "trivy_json_juice-shop-v10.2.0.json"
VERDICTS = REPO / "tests" / "fixtures" / "verdicts" / "juice-shop-release-gate.json"


@pytest.fixture
def cli(ec_home: Path) -> Cli:
    return Cli(ec_home)


def _trivy_finding_ids(cli: Cli, scan_id: str, vuln_ids: set[str]) -> set[str]:
    """Ids of the scan's findings for ``vuln_ids``, read from its own scan_report (not from the verdict)."""
    out = cli.home / "scan-report"
    result = cli("export", "--type", "scan_report", "--format", "json", "--scan", scan_id, "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    findings = [f for scan in report.get("scans", []) for f in scan.get("findings", [])] or report.get("findings", [])
    return {f["id"] for f in findings if str(f.get("vulnerability_id", f.get("vuln_id"))).upper() in vuln_ids}


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_ingested_verdict_appears_in_policy_compliance_with_its_matched_findings(cli: Cli) -> None:
    ingested = cli("ingest", "--json", JUICE_SHOP, VERDICTS)
    assert ingested.exit_code == 0, ingested.stderr
    scan, verdicts = ingested.json()
    assert scan["scan_id"] == "scan-c39e1419abe2f8c2"
    assert verdicts["format"] == "policy-verdicts" and verdicts["kinds"] == ["policy_verdicts"]
    assert verdicts["scan_id"] == scan["scan_id"] and verdicts["counts"] == {"policy_verdicts": 1}

    out = cli.home / "out"
    result = cli("export", "--type", "policy_compliance", "--format", "json", "--scan", scan["scan_id"],
                 "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    by_set = {r["policy_set"]: r for r in report["results"]}
    assert set(by_set) == {"default", "release-gate"}  # the built-in set stays beside it
    assert by_set["default"]["source"] == "builtin"
    gate = by_set["release-gate"]
    assert gate["source"] == "juice-shop-release-gate.json"
    assert gate["outcome"] == "fail" and gate["evaluated_at"] == "2026-11-30T09:15:00Z"  # as it was given
    assert gate["scan_id"] == scan["scan_id"]
    rules = {r["rule_id"]: r for r in gate["rules"]}
    assert rules["signed-image"]["outcome"] == "pass" and rules["signed-image"]["matched_finding_ids"] == []
    denied = rules["no-critical-os-packages"]
    assert denied["outcome"] == "fail"
    # CVE-2021-36159 (apk-tools) and CVE-2021-28831 (busybox and ssl_client); CVE-1999-0001 matches nothing.
    matched = {f["id"]: (f["vulnerability_id"], f["package"]) for f in denied["matched_findings"]}
    assert sorted(matched.values()) == [("CVE-2021-28831", "busybox"), ("CVE-2021-28831", "ssl_client"),
                                        ("CVE-2021-36159", "apk-tools")]
    assert set(denied["matched_finding_ids"]) == set(matched)
    expected = _trivy_finding_ids(cli, scan["scan_id"], {"CVE-2021-36159", "CVE-2021-28831"})
    assert expected and set(denied["matched_finding_ids"]) == expected
    assert report["summary"]["policy_sets"] == ["default", "release-gate"]

    again = cli("ingest", "--json", VERDICTS).json()[0]
    assert again["new"] is False and again["document_id"] == verdicts["document_id"]  # idempotent


def test_verdicts_for_a_scan_out_of_scope_are_left_out(cli: Cli) -> None:
    assert cli("ingest", JUICE_SHOP, VERDICTS).exit_code == 0
    other = cli("ingest", "--json", SCANS / "trivy_json_alpine-310.json").json()[0]["scan_id"]
    out = cli.home / "other"
    result = cli("export", "--type", "policy_compliance", "--format", "json", "--scan", other, "-o", out)
    assert result.exit_code == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert {r["policy_set"] for r in report["results"]} == {"default"}


def test_verdicts_for_an_unknown_scan_are_refused(cli: Cli, tmp_path: Path) -> None:
    result = cli("ingest", VERDICTS)  # the juice-shop scan was never ingested here
    assert result.exit_code == 3
    assert "juice-shop-release-gate.json" in result.stderr and "scan-c39e1419abe2f8c2" in result.stderr
    assert "not a stored scan" in result.stderr
    assert cli("ingest", JUICE_SHOP).exit_code == 0
    other_tenant = cli("ingest", "--tenant", "acme", VERDICTS)  # scans are per tenant
    assert other_tenant.exit_code == 3 and "'acme'" in other_tenant.stderr


def test_bad_shapes_are_refused_naming_file_and_field(cli: Cli, tmp_path: Path) -> None:
    assert cli("ingest", JUICE_SHOP).exit_code == 0
    good = json.loads(VERDICTS.read_text())
    verdict = good["verdicts"][0]
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "scan_id": ""}, "scan_id must be"),
        ({**good, "verdicts": []}, "verdicts must be a non-empty list"),
        ({**good, "verdicts": ["fail"]}, "verdicts[0]: a verdict must be an object"),
        ({**good, "verdicts": [{**verdict, "outcome": "maybe"}]}, "verdicts[0]: outcome 'maybe' is not pass"),
        ({**good, "verdicts": [{**verdict, "policy_set": 7}]}, "verdicts[0]: policy_set must be"),
        ({**good, "verdicts": [{**verdict, "evaluated_at": "yesterday"}]}, "verdicts[0]: evaluated_at must be"),
        ({**good, "verdicts": [{**verdict, "rules": "all"}]}, "verdicts[0]: rules must be a list"),
        ({**good, "verdicts": [{**verdict, "rules": [{"name": "x", "outcome": "pass"}]}]},
         "verdicts[0]: rules[0]: each rule needs a rule_id"),
        ({**good, "verdicts": [{**verdict, "rules": [{"rule_id": "r", "outcome": "pass", "vulnerabilities": "CVE"}]}]},
         "verdicts[0]: rules[0].vulnerabilities must be a list"),
        ({**good, "verdicts": [verdict, {**verdict, "rules": [{"rule_id": "r", "outcome": "bad"}]}]},
         "verdicts[1]: rules[0].outcome 'bad' is not pass"),
        ({**good, "verdicts": [{**verdict, "id": "v1"}, {**verdict, "id": "v1"}]}, "verdicts[1]: id 'v1' is used twice"),
    ]
    for index, (document, reason) in enumerate(cases):
        path = _write(tmp_path / f"bad-{index}.json", document)
        result = cli("ingest", path)
        assert result.exit_code == 2, (reason, result.stderr)
        assert f"bad-{index}.json" in result.stderr and reason in result.stderr, (reason, result.stderr)
    listed = cli("scans", "--json").json()
    assert len(listed) == 1  # nothing of the refused files was stored


def test_verdicts_given_before_their_scan_in_one_command_are_stored(cli: Cli) -> None:
    result = cli("ingest", "--json", VERDICTS, JUICE_SHOP)
    assert result.exit_code == 0, result.stderr
    verdicts, scan = result.json()
    assert verdicts["format"] == "policy-verdicts" and scan["format"] == "trivy-json"


@pytest.fixture
def api(ec_home: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    reset_settings_cache()
    settings = get_settings()
    runtime = Runtime.open(settings)
    token = mint_token(settings, tenant="default", scopes=["export:read", "export:write"])
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": "default"}
    try:
        with TestClient(create_app(runtime)) as client:
            yield client, headers
    finally:
        runtime.close()


def test_api_upload_refuses_unknown_scan_with_404_then_accepts(api: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = api

    def post(path: Path) -> Any:
        return client.post("/api/v1/scans", headers=headers,
                           files={"file": (path.name, path.read_bytes(), "application/json")})

    refused = post(VERDICTS)
    assert refused.status_code == 404, refused.text
    assert "scan-c39e1419abe2f8c2" in refused.json()["detail"]
    assert post(JUICE_SHOP).status_code == 201
    accepted = post(VERDICTS)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["kinds"] == ["policy_verdicts"] and accepted.json()["ids"]["scan_id"] == "scan-c39e1419abe2f8c2"
