"""Evidence through the real CLI: a sealed bundle per format, a seal beside a plain export, offline verify."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.integration.cli_helpers import Cli
from tests.paths import SCANS, VEX


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    cli = Cli(tmp_path_factory.mktemp("ev") / "home")
    result = cli("ingest", SCANS / "trivy_json_juice-shop-v10.2.0.json", VEX / "openvex_trivy-project.openvex.json")
    assert result.exit_code == 0, result.stderr
    return cli


def _trusted_key(cli: Cli) -> Path:
    (key,) = sorted((cli.home / "keys" / "trusted").glob("*.pem"))
    return key


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_evidence_bundle_export_verifies_offline(cli: Cli, tmp_path: Path, fmt: str) -> None:
    result = cli("export", "--type", "evidence_bundle", "--format", fmt, "--image", "bkimminich/juice-shop",
                 "-o", tmp_path, "--json")
    assert result.exit_code == 0, result.stderr
    (artifact,) = result.json()["manifest"]["artifacts"]
    bundle = tmp_path / artifact["name"]
    assert artifact["name"] == f"evidence.{fmt}"
    ok = cli("verify", bundle, "--key", _trusted_key(cli), "--json")
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    summary = ok.json()
    assert summary["merkle_root"].startswith("sha256:")
    if fmt == "zip":
        with zipfile.ZipFile(bundle) as archive:
            members = sorted(archive.namelist())
        scans = [m for m in members if m.startswith("scans/")]
        assert len(scans) == 1
        assert members == sorted(["attestation.dsse.json", "bundle.json", "manifest.json", "policy/verdicts.json",
                                  "sbom/sbom.cdx.json", *scans, "vex/applied.json", "vex/unmatched.json"])


def test_changed_bundle_fails_verification_with_the_reason(cli: Cli, tmp_path: Path) -> None:
    result = cli("export", "--type", "evidence_bundle", "--format", "zip", "--image", "bkimminich/juice-shop",
                 "-o", tmp_path)
    assert result.exit_code == 0, result.stderr
    bundle = tmp_path / "evidence.zip"
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "policy/verdicts.json":
                data = data.replace(b'"fail"', b'"pass"')
            dst.writestr(info, data)
    bad = cli("verify", tampered, "--key", _trusted_key(cli))
    assert bad.exit_code == 10
    assert "policy/verdicts.json" in bad.stderr


def test_include_evidence_seals_a_plain_export(cli: Cli, tmp_path: Path) -> None:
    result = cli("export", "--type", "scan_report", "--format", "sarif", "--image", "bkimminich/juice-shop",
                 "--include-evidence", "--include-sbom", "-o", tmp_path, "--json")
    assert result.exit_code == 0, result.stderr
    names = [a["name"] for a in result.json()["manifest"]["artifacts"]]
    assert names == ["report.sarif", "sbom.cdx.json", "bundle.json", "attestation.dsse.json"]
    record = json.loads((tmp_path / "bundle.json").read_text())
    assert set(record) >= {"bundle_id", "sealed_at", "contents", "merkle_root", "signature"}
    assert {c["type"] for c in record["contents"]} >= {"scan_result", "sbom", "policy_verdict", "attestation"}
    ok = cli("verify", "--bundle-record", tmp_path / "bundle.json", "--key", _trusted_key(cli))
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    with open(tmp_path / "report.sarif", "ab") as handle:
        handle.write(b" ")
    bad = cli("verify", "--bundle-record", tmp_path / "bundle.json", "--key", _trusted_key(cli))
    assert bad.exit_code == 10 and "report.sarif" in bad.stderr


def test_exported_audit_log_proves_it_is_complete_and_unchanged(cli: Cli, tmp_path: Path) -> None:
    result = cli("export", "--type", "audit_log", "--format", "json", "--since", "-1d", "-o", tmp_path)
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "audit-log.json"
    ok = cli("verify", "--audit-log", path, "--json")
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    assert ok.json()["ends_at_head"] is True and ok.json()["entries"] >= 3
    log = json.loads(path.read_text())

    altered = json.loads(json.dumps(log))
    altered["events"][0]["outcome"] = "failure"
    (tmp_path / "altered.json").write_text(json.dumps(altered))
    bad = cli("verify", "--audit-log", tmp_path / "altered.json")
    assert bad.exit_code == 10 and "altered" in bad.stderr

    truncated = json.loads(json.dumps(log))
    truncated["events"].pop()
    (tmp_path / "truncated.json").write_text(json.dumps(truncated))
    bad = cli("verify", "--audit-log", tmp_path / "truncated.json")
    assert bad.exit_code == 10 and "chain head" in bad.stderr
    assert cli("verify", "--audit-log", tmp_path / "truncated.json", "--allow-slice").exit_code == 0

    removed = json.loads(json.dumps(log))
    del removed["events"][1]
    (tmp_path / "removed.json").write_text(json.dumps(removed))
    bad = cli("verify", "--audit-log", tmp_path / "removed.json", "--allow-slice")
    assert bad.exit_code == 10 and "removed, inserted or reordered" in bad.stderr
