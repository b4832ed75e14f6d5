"""Schedules are refused at creation for what POST /api/v1/exports refuses, and run-now exits with the error's code."""

from __future__ import annotations

from pathlib import Path

import pytest

from exportcenter.errors import exit_code_for
from tests.integration.cli_helpers import Cli
from tests.paths import SBOMS, SCANS


@pytest.fixture
def cli(ec_home: Path) -> Cli:
    return Cli(ec_home)


def _ingest(cli: Cli) -> tuple[str, str]:
    result = cli("ingest", "--json", SCANS / "trivy_json_alpine-310.json",
                 SBOMS / "cdx15_trivy-0.48.1_image-with-vulns.json")
    assert result.exit_code == 0, result.stderr
    scan, sbom = result.json()
    return str(scan["scan_id"]), str(sbom["sbom_id"])


def _entry(name: str, scope: str, delivery: str = "") -> str:
    return (f"  - name: {name}\n    cron: \"0 8 * * MON\"\n    export:\n      type: scan_report\n"
            f"      format: json\n      scope: {scope}\n{delivery}")


def test_every_bad_schedule_in_a_file_is_reported_and_none_stored(cli: Cli, tmp_path: Path) -> None:
    scan_id, _ = _ingest(cli)
    text = "schedules:\n" + "".join([
        _entry("empty-scope", "{}"),
        _entry("no-secret", f"{{scan_ids: [{scan_id}]}}",
               "    delivery:\n      method: webhook\n      config: {url: 'https://hooks.example.com/x'}\n"),
        _entry("metadata", f"{{scan_ids: [{scan_id}]}}",
               "    delivery:\n      method: webhook\n      config: {url: 'http://169.254.169.254/latest', "
               "secret: s3cr3t}\n"),
        _entry("no-to", f"{{scan_ids: [{scan_id}]}}", "    delivery:\n      method: email\n      config: {}\n"),
        _entry("ghost", "{scan_ids: [scan-doesnotexist]}"),
        _entry("good", f"{{scan_ids: [{scan_id}]}}"),
        _entry("last-week", "{date_range: {start: '-7d', end: now}}"),
    ])
    path = tmp_path / "schedules.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli("schedules", "add", "--file", path)
    assert result.exit_code == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    for name, reason in (("empty-scope", "scope names no data"), ("no-secret", "'secret'"),
                         ("metadata", "169.254.169.254"), ("no-to", "'to'"),
                         ("ghost", "scan ids not found: scan-doesnotexist")):
        assert f"schedule {name}:" in message and reason in message, (name, message)
    assert "schedule good:" not in message and "schedule last-week:" not in message
    assert cli("schedules", "list", "--json").json() == []  # all or nothing


def test_valid_file_is_stored_with_empty_relative_range(cli: Cli, tmp_path: Path) -> None:
    scan_id, _ = _ingest(cli)
    path = tmp_path / "ok.yaml"
    path.write_text("schedules:\n" + _entry("good", f"{{scan_ids: [{scan_id}]}}")
                    + _entry("future", "{date_range: {start: '-1h', end: now}, policy_sets: []}"), encoding="utf-8")
    result = cli("schedules", "add", "--file", path, "--json")
    assert result.exit_code == 0, result.stderr
    assert sorted(r["name"] for r in result.json()) == ["future", "good"]


def test_run_now_exits_with_the_errors_own_code(cli: Cli, tmp_path: Path) -> None:
    scan_id, sbom_id = _ingest(cli)
    path = tmp_path / "one.yaml"
    path.write_text("schedules:\n" + _entry("weekly", f"{{scan_ids: [{scan_id}]}}"), encoding="utf-8")
    assert cli("schedules", "add", "--file", path).exit_code == 0
    # Remove the scan behind the schedule's back: the fire now finds no data (exit 3, not 1).
    import sqlite3

    with sqlite3.connect(cli.home / "exportcenter.db") as db:
        assert db.execute("DELETE FROM scans WHERE id = ?", (scan_id,)).rowcount == 1
    missing = cli("schedules", "run-now", "weekly", "--json")
    assert missing.json()["error_code"] == "data_not_found"
    assert missing.exit_code == exit_code_for("data_not_found") == 3
    # A type/scope mismatch is refused as invalid input at creation (exit 2), with the reason.
    path.write_text("schedules:\n" + _entry("mismatch", f"{{scan_ids: [{sbom_id}]}}"), encoding="utf-8")
    wrong = cli("schedules", "add", "--file", path)
    assert wrong.exit_code == 2
    assert f"needs scan data, but these ids are not: {sbom_id}" in " ".join(wrong.stderr.split())
