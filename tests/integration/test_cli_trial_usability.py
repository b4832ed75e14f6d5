"""New-user trial defects 2-8: verify without --key, all-or-nothing ingest, audit_log scope, messages,
copyable ids, -o overwrite, help and option gaps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exportcenter.cli.main import MAX_TOKEN_TTL_SECONDS, app
from tests.integration.cli_helpers import Cli
from tests.paths import SCANS

SMALL_SCAN = SCANS / "trivy_json_alpine-310.json"
OTHER_SCAN = SCANS / "trivy_json_debian-stretch.json"


@pytest.fixture
def cli(ec_home: Path) -> Cli:
    return Cli(ec_home)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_verify_without_key_uses_the_home_trusted_directory(cli: Cli, ec_home: Path, tmp_path: Path) -> None:
    scan_id = cli("ingest", "--json", SMALL_SCAN).json()[0]["scan_id"]
    out = tmp_path / "demo-out"
    assert cli("export", "--type", "evidence_bundle", "--format", "zip", "--scan", scan_id, "-o", out).exit_code == 0
    published = list((ec_home / "keys" / "trusted").glob("*.pem"))
    assert len(published) == 1
    result = cli("verify", "--json", out / "evidence.zip")
    assert result.exit_code == 0, result.stderr
    assert result.json()["valid"] is True
    other_home = tmp_path / "auditor-home"
    result = cli("verify", out / "evidence.zip", env={"EXPORTCENTER_HOME": str(other_home)})
    assert result.exit_code == 12
    assert f"no trusted public key: pass --key PUB.pem (repeatable), or put the signer's public key in " \
           f"{other_home / 'keys' / 'trusted'}" in _flat(result.stderr)
    assert not other_home.exists()  # verifying creates nothing
    assert cli("verify", out / "evidence.zip", "--key", published[0],
               env={"EXPORTCENTER_HOME": str(other_home)}).exit_code == 0


@pytest.mark.parametrize("command", ["ingest", "export"])
def test_a_refused_file_stores_none_of_the_files_given_with_it(cli: Cli, tmp_path: Path, command: str) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    args: list[str | Path] = ["ingest", SMALL_SCAN, OTHER_SCAN, empty]
    if command == "export":
        args = ["export", "--type", "vulnerability_report", "--format", "csv", "--input", SMALL_SCAN,
                "--input", OTHER_SCAN, "--input", empty]
    result = cli(*args)
    assert result.exit_code == 2
    assert ("empty.json: the file is empty (nothing was stored: the 2 other files given with it were not "
            "ingested either)") in _flat(result.stderr)
    assert cli("scans", "--json").json() == []
    assert cli("exports", "list", "--json").json() == []
    assert cli("ingest", SMALL_SCAN, OTHER_SCAN).exit_code == 0
    assert len(cli("scans", "--json").json()) == 2


def test_ingest_help_says_all_or_nothing(cli: Cli) -> None:
    assert "All or nothing" in _flat(cli("ingest", "--help", env={"COLUMNS": "250"}).stdout)


def test_audit_log_refuses_scan_ids_and_image_refs(cli: Cli) -> None:
    for flag, value in (("--scan", "nonexistent-id"), ("--image", "alpine:3.10")):
        result = cli("export", "--type", "audit_log", "--format", "json", flag, value)
        assert result.exit_code == 2, result.stdout
        assert "audit_log takes only a date range" in _flat(result.stderr)
    assert cli("exports", "list", "--json").json() == []
    assert cli("export", "--type", "audit_log", "--format", "json", "--since", "-1d").exit_code == 0


@pytest.mark.parametrize("content, expected", [
    (b"[" * 5000, "arrays or objects nested too deeply to read"),
    (b'{"a": ' + b"7" * 5000 + b"}", "a number too large to read (an integer of more than 4300 digits)"),
    (b" \n\t" * 100_000, "the file contains only whitespace (300000 bytes), not a JSON document"),
    (b"{", "truncated JSON (the document ends early): unexpected end of data at line 1 column 2"),
])
def test_unreadable_json_is_explained_in_words(cli: Cli, tmp_path: Path, content: bytes, expected: str) -> None:
    bad = tmp_path / "upload.json"
    bad.write_bytes(content)
    result = cli("ingest", bad)
    assert result.exit_code == 2
    message = _flat(result.stderr)
    assert f"upload.json: {expected}" in message
    for leak in ("RecursionError", "set_int_max_str_digits", "ValueError"):
        assert leak not in message


def test_warnings_name_the_file_once(cli: Cli, tmp_path: Path) -> None:
    document = json.loads(SMALL_SCAN.read_text())
    document["ArtifactName"] = "surrogate\\ud800-image"
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps(document).replace("\\\\ud800", "\\ud800"))
    shown = cli("ingest", path)
    assert shown.exit_code == 0, shown.stderr
    assert "surrogate.json: text with lone UTF-16 surrogates" in _flat(shown.stderr)
    assert "surrogate.json: surrogate.json" not in _flat(shown.stderr)
    result = cli("ingest", "--json", path)
    warnings = result.json()[0]["warnings"]
    assert warnings and all(not w.startswith("surrogate.json") for w in warnings)
    scan_id = result.json()[0]["scan_id"]
    exported = cli("export", "--json", "--type", "vulnerability_report", "--format", "csv", "--scan", scan_id)
    assert exported.exit_code == 0, exported.stderr
    named = [w for w in exported.json()["warnings"] if "surrogates" in w]
    assert named and all(w.startswith("surrogate.json: ") and w.count("surrogate.json") == 1 for w in named)


def test_tables_never_cut_ids(cli: Cli) -> None:
    ingested = cli("ingest", "--json", SMALL_SCAN, OTHER_SCAN).json()
    runner = CliRunner()
    listed = runner.invoke(app, ["scans"], env={"COLUMNS": "60", "EXPORTCENTER_HOME": str(cli.home)})
    assert listed.exit_code == 0, listed.output
    for item in ingested:
        assert item["scan_id"] in listed.stdout
    assert "…" not in listed.stdout.split("\n")[4]


def test_output_directory_is_not_overwritten_without_force(cli: Cli, tmp_path: Path) -> None:
    scan_id = cli("ingest", "--json", SMALL_SCAN).json()[0]["scan_id"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.csv").write_text("mine")
    args = ["export", "--type", "vulnerability_report", "--format", "csv", "--scan", scan_id, "-o", out]
    result = cli(*args)
    assert result.exit_code == 2
    message = _flat(result.stderr)
    assert f"{out / 'report.csv'} already exists" in message and "--force" in message
    assert "completed (stored at " in message
    assert (out / "report.csv").read_text() == "mine" and not (out / "manifest.json").exists()
    result = cli(*args, "--force")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert (out / "report.csv").read_text() != "mine"
    assert manifest == result.json()  # the manifest printed is the one copied
    assert len(cli("exports", "list", "--json").json()) == 2


def test_version_and_help_gaps(cli: Cli) -> None:
    from importlib.metadata import version

    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"exportcenter {version('exportcenter')}"
    wide = {"COLUMNS": "250"}
    assert "List every tenant's schedules" in _flat(cli("schedules", "list", "--help", env=wide).stdout)
    worker_help = _flat(cli("worker", "--help", env=wide).stdout)
    assert "default: the worker_concurrency setting, 2 unless set" in worker_help
    assert "[default: 0]" not in worker_help


def test_token_lifetime_is_capped(cli: Cli) -> None:
    result = cli("token", "--tenant", "acme", "--ttl", "99999999999999")
    assert result.exit_code == 12
    assert f"longer than the {MAX_TOKEN_TTL_SECONDS} seconds (30 days)" in _flat(result.stderr)
    assert cli("token", "--tenant", "acme", "--ttl", str(MAX_TOKEN_TTL_SECONDS)).exit_code == 0
    assert "at most 30 days" in _flat(cli("token", "--help", env={"COLUMNS": "250"}).stdout)
