"""Failures a user causes from outside (paths, environment, database) are one clear line and a documented
exit code, never a traceback (new-user trial, defect 1)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.cli_helpers import Cli
from tests.paths import REPO, SCANS

EXPORTCENTER = REPO / ".venv" / "bin" / "exportcenter"
SMALL_SCAN = SCANS / "trivy_json_alpine-310.json"


@pytest.fixture
def cli(ec_home: Path) -> Cli:
    return Cli(ec_home)


def run_exportcenter(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed command in a fresh process: settings and EXPORTCENTER_HOME are read as a user's are."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EXPORTCENTER_")}
    return subprocess.run([str(EXPORTCENTER), *args], env={**clean, **env}, capture_output=True, text=True,
                          timeout=60, check=False)


def _scan_id(cli: Cli) -> str:
    result = cli("ingest", "--json", SMALL_SCAN)
    assert result.exit_code == 0, result.stderr
    return str(result.json()[0]["scan_id"])


@pytest.mark.parametrize("target, reason", [
    ("afile", "exists and is not a directory"),
    ("/dev/null", "is a device, not a directory"),
    ("/proc/nope", "cannot be created"),
    ("afile/sub", "Not a directory"),
    ("loop1", "symbolic link loop"),
])
def test_unusable_output_directory_says_the_export_is_stored(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             target: str, reason: str) -> None:
    scan_id = _scan_id(cli)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a directory")
    (tmp_path / "loop1").symlink_to("loop1")
    result = cli("export", "--type", "vulnerability_report", "--format", "csv", "--scan", scan_id, "-o", target)
    assert result.exit_code == 9, result.stderr  # delivery failure: the export itself completed
    message = " ".join(result.stderr.split())
    assert f"but could not copy to {target}" in message and reason in message
    assert "completed (stored at " in message and "Traceback" not in message
    exports = cli("exports", "list", "--json").json()
    assert [e["status"] for e in exports] == ["completed"]
    assert exports[0]["export_id"] in message
    assert (tmp_path / "afile").read_text() == "not a directory"


def test_keys_generate_into_a_file_is_a_clear_error(tmp_path: Path, ec_home: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = Cli(ec_home)("keys", "generate", "--out", afile)
    assert result.exit_code == 12
    assert f"--out {afile} exists and is not a directory" in " ".join(result.stderr.split())


@pytest.mark.parametrize("env, code, expected", [
    ({"EXPORTCENTER_HOME": "{tmp}/afile"}, 12, "EXPORTCENTER_HOME {tmp}/afile exists and is not a directory"),
    ({"EXPORTCENTER_HOME": "/proc/foo"}, 12, "EXPORTCENTER_HOME /proc/foo cannot be created: No such file"),
    ({"EXPORTCENTER_DATABASE_URL": "bogus://x"}, 7,
     "EXPORTCENTER_DATABASE_URL is not a usable database URL: Can't load plugin: sqlalchemy.dialects:bogus"),
    ({"EXPORTCENTER_DATABASE_URL": "postgresql://u:p@127.0.0.1:1/db"}, 7,
     "database unavailable (EXPORTCENTER_DATABASE_URL): connection failed"),
    ({"EXPORTCENTER_WORKER_CONCURRENCY": "abc"}, 12,
     "invalid setting: EXPORTCENTER_WORKER_CONCURRENCY='abc': Input should be a valid integer"),
    ({"EXPORTCENTER_S3__MAX_ATTEMPTS": "many"}, 12, "EXPORTCENTER_S3__MAX_ATTEMPTS='many'"),
])
def test_bad_environment_is_named_with_its_exit_code(tmp_path: Path, env: dict[str, str], code: int,
                                                     expected: str) -> None:
    (tmp_path / "afile").write_text("x")
    env = {"EXPORTCENTER_HOME": str(tmp_path / "home"), **{k: v.replace("{tmp}", str(tmp_path))
                                                          for k, v in env.items()}}
    result = run_exportcenter("scans", env=env)
    assert result.returncode == code, result.stderr
    assert expected.replace("{tmp}", str(tmp_path)) in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_bad_setting_is_named_by_commands_that_read_settings_directly(tmp_path: Path) -> None:
    result = run_exportcenter("worker", env={"EXPORTCENTER_HOME": str(tmp_path),
                                             "EXPORTCENTER_WORKER_CONCURRENCY": "abc"})
    assert result.returncode == 12 and "EXPORTCENTER_WORKER_CONCURRENCY" in result.stderr
    assert "Traceback" not in result.stderr
