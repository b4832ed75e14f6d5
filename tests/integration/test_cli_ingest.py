"""`exportcenter ingest`: real files in, idempotent, bad files refused with nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli_helpers import Cli
from tests.paths import SBOMS, SCANS, VEX


@pytest.fixture
def cli(ec_home: Path) -> Cli:
    return Cli(ec_home)


def test_ingest_reports_ids_kinds_and_counts(cli: Cli) -> None:
    result = cli("ingest", "--json", SCANS / "trivy_json_juice-shop-v10.2.0.json",
                 SBOMS / "cdx15_trivy-0.48.1_image-with-vulns.json", VEX / "openvex_trivy-project.openvex.json")
    assert result.exit_code == 0, result.stderr
    trivy, cdx, vex = result.json()
    assert trivy["format"] == "trivy-json" and trivy["kinds"] == ["scan"]
    assert trivy["counts"]["findings"] == 237  # 236 vulnerabilities + 1 secret (SOURCES.md)
    assert trivy["scan_id"].startswith("scan-") and trivy["new"] is True
    assert cdx["kinds"] == ["scan", "sbom"] and cdx["counts"]["components"] == 102
    assert vex["kinds"] == ["vex"] and vex["counts"]["vex_statements"] == 21
    listed = cli("scans", "--json").json()
    assert {s["id"] for s in listed} == {trivy["scan_id"], cdx["scan_id"], cdx["sbom_id"]}


def test_reingest_is_idempotent(cli: Cli) -> None:
    path = SCANS / "grype_json_busybox-epss.json"
    first = cli("ingest", "--json", path).json()[0]
    second = cli("ingest", "--json", path).json()[0]
    assert first["new"] is True and second["new"] is False
    assert first["document_id"] == second["document_id"] and first["scan_id"] == second["scan_id"]
    assert len(cli("scans", "--json").json()) == 1


@pytest.mark.parametrize("content, reason", [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not"),
    (b'{"SchemaVersion": 2, "Results": [', "JSON"),
    (b"{}", ""),
    (b"[1, 2, 3]", ""),
    (b"", ""),
])
def test_bad_file_is_refused_with_its_name_and_nothing_stored(cli: Cli, tmp_path: Path, content: bytes,
                                                              reason: str) -> None:
    cli("ingest", SCANS / "trivy_json_alpine-310.json")
    bad = tmp_path / "suspicious-upload.json"
    bad.write_bytes(content)
    result = cli("ingest", bad)
    assert result.exit_code == 2
    assert "suspicious-upload.json" in result.stderr and reason in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(cli("scans", "--json").json()) == 1  # the good scan is still there, nothing added


def test_missing_file_and_bad_tenant_are_clear_errors(cli: Cli, tmp_path: Path) -> None:
    result = cli("ingest", tmp_path / "nope.json")
    assert result.exit_code == 2 and "no such file" in result.stderr
    result = cli("ingest", "--tenant", "../etc", SCANS / "trivy_json_alpine-310.json")
    assert result.exit_code == 2 and "invalid tenant" in result.stderr


def test_refused_ingest_is_audited(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_bytes(b"not json at all")
    assert cli("ingest", bad).exit_code == 2
    cli("ingest", SCANS / "trivy_json_alpine-310.json")
    out = tmp_path / "audit"
    result = cli("export", "--type", "audit_log", "--format", "json", "--since", "-1d", "-o", out)
    assert result.exit_code == 0, result.stderr
    import json

    log = json.loads((out / "audit-log.json").read_text())
    events = log["events"]
    outcomes = [(e["action"], e["outcome"]) for e in events]
    assert ("ingest", "failure") in outcomes and ("ingest", "success") in outcomes
