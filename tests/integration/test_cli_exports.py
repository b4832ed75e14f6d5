"""`exportcenter export`: every non-PDF type x format from real scans, the spec's store layout and
manifest, and the refusals (unsupported pair, empty scope) with their exit codes."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from exportcenter.model import SUPPORTED_FORMATS, ExportFormat
from tests.integration.cli_helpers import Cli
from tests.paths import CHECK_ARTIFACTS, SCANS, VEX

IMAGES = ["--image", "bkimminich/juice-shop", "--image", "defectdojo/defectdojo-django"]
CHECKER_KIND = {"sarif": "sarif", "cyclonedx": "cdx", "spdx": "spdx", "csv": "csv", "xlsx": "xlsx"}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, dict[str, str]]:
    home = tmp_path_factory.mktemp("ec") / "home"
    cli = Cli(home)
    result = cli("ingest", "--json", SCANS / "trivy_json_juice-shop-v10.2.0.json",
                 SCANS / "grype_json_defectdojo-1.13.1-many.json", SCANS / "grype_sarif_nginx.sarif.json",
                 VEX / "openvex_trivy-project.openvex.json")
    assert result.exit_code == 0, result.stderr
    ids = {r["name"]: r.get("scan_id") or r.get("code_guard_id") for r in result.json()}
    return cli, ids


def _pairs() -> list[tuple[str, str]]:
    skip = {ExportFormat.PDF, ExportFormat.ZIP, ExportFormat.TAR_GZ}  # covered by their own tests
    return [(t.value, f.value) for t, fmts in SUPPORTED_FORMATS.items() for f in fmts if f not in skip]


@pytest.mark.parametrize("export_type, export_format", _pairs())
def test_every_type_and_format_exports_with_the_spec_manifest(loaded: tuple[Cli, dict[str, str]], tmp_path: Path,
                                                               export_type: str, export_format: str) -> None:
    cli, ids = loaded
    if export_type == "ai_code_guard_report":
        scope = ["--scan", ids["grype_sarif_nginx.sarif.json"]]
    elif export_type == "audit_log":
        scope = ["--since", "-1d"]
    else:
        scope = IMAGES
    result = cli("export", "--type", export_type, "--format", export_format, *scope,
                 "--custom-field", "ticket=SEC-42", "-o", tmp_path, "--json")
    assert result.exit_code == 0, result.stderr
    body = result.json()
    manifest = body["manifest"]
    assert set(manifest) == {"export_id", "created_at", "artifacts", "expires_at"}
    assert manifest["export_id"] == body["export_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["created_at"])
    assert body["location"] == f"exports/default/{manifest['created_at'][:4]}/{manifest['created_at'][5:7]}/{body['export_id']}"
    (artifact,) = manifest["artifacts"]
    data = (tmp_path / artifact["name"]).read_bytes()
    assert artifact["size"] == len(data) and artifact["sha256"] == hashlib.sha256(data).hexdigest()
    assert artifact["name"].endswith(ExportFormat(export_format).extension)
    stored = cli.home / "blobs" / body["location"]
    assert sorted(p.name for p in stored.iterdir()) == sorted([artifact["name"], "manifest.json"])
    assert json.loads((stored / "manifest.json").read_text()) == manifest
    if export_format != "xlsx":
        assert b"SEC-42" in data, "custom_fields must appear in every format"
    kind = CHECKER_KIND.get(export_format)
    if kind and CHECK_ARTIFACTS.exists():
        check = subprocess.run([sys.executable, CHECK_ARTIFACTS, kind, tmp_path / artifact["name"]],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_include_sbom_adds_a_cyclonedx_artifact(loaded: tuple[Cli, dict[str, str]], tmp_path: Path) -> None:
    cli, _ = loaded
    result = cli("export", "--type", "scan_report", "--format", "json", "--image", "bkimminich/juice-shop:v10.2.0",
                 "--include-sbom", "-o", tmp_path, "--json")
    assert result.exit_code == 0, result.stderr
    names = [a["name"] for a in result.json()["manifest"]["artifacts"]]
    assert names == ["report.json", "sbom.cdx.json"]
    bom = json.loads((tmp_path / "sbom.cdx.json").read_text())
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6" and len(bom["components"]) > 100


def test_request_file_takes_the_spec_export_request(loaded: tuple[Cli, dict[str, str]], tmp_path: Path) -> None:
    cli, ids = loaded
    request = {"type": "scan_summary", "format": "Excel",
               "scope": {"scan_ids": [ids["trivy_json_juice-shop-v10.2.0.json"]], "date_range": None},
               "options": {"include_sbom": False, "template": "compliance-executive"}}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    result = cli("export", "--request", path, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    assert [a["name"] for a in result.json()["manifest"]["artifacts"]] == ["report.xlsx"]


def test_unsupported_pair_lists_the_supported_formats(loaded: tuple[Cli, dict[str, str]]) -> None:
    cli, _ = loaded
    result = cli("export", "--type", "sbom", "--format", "pdf", *IMAGES)
    assert result.exit_code == 2
    assert "supported formats: cyclonedx, spdx" in result.stderr


def test_scope_that_matches_nothing_names_what_found_nothing(loaded: tuple[Cli, dict[str, str]]) -> None:
    cli, _ = loaded
    result = cli("export", "--type", "scan_report", "--format", "json", "--scan", "scan-doesnotexist")
    assert result.exit_code == 3 and "scan-doesnotexist" in result.stderr
    result = cli("export", "--type", "scan_report", "--format", "json", "--image", "nginx:none")
    assert result.exit_code == 3 and "nginx:none" in result.stderr
    result = cli("export", "--type", "scan_summary", "--format", "csv", "--since", "2001-01-01", "--until", "2001-02-01")
    assert result.exit_code == 3 and "2001-01-01T00:00:00Z" in result.stderr
    result = cli("export", "--type", "scan_report", "--format", "json", "--image", "bkimminich/juice-shop",
                 "--policy-set", "no-such-set")
    assert result.exit_code == 3 and "no-such-set" in result.stderr


def test_tenants_do_not_see_each_other(loaded: tuple[Cli, dict[str, str]]) -> None:
    cli, ids = loaded
    scan = ids["trivy_json_juice-shop-v10.2.0.json"]
    result = cli("export", "--tenant", "other-team", "--type", "scan_report", "--format", "json", "--scan", scan)
    assert result.exit_code == 3 and scan in result.stderr


def test_input_ingests_and_exports_in_one_step(ec_home: Path, tmp_path: Path) -> None:
    cli = Cli(ec_home)
    result = cli("export", "--type", "scan_report", "--format", "sarif", "--input",
                 SCANS / "trivy_json_alpine-310.json", "-o", tmp_path, "--json")
    assert result.exit_code == 0, result.stderr
    sarif = json.loads((tmp_path / "report.sarif").read_text())
    assert sum(len(run["results"]) for run in sarif["runs"]) == 4  # the 4 MEDIUM vulnerabilities
