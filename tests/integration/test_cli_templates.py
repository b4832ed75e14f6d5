"""`templates` and `branding` CLI commands against a fresh EXPORTCENTER_HOME, down to a branded PDF export."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import typer
from pypdf import PdfReader
from typer.testing import CliRunner

from exportcenter.cli import main as main_cli
from exportcenter.cli.tenant_cmds import branding_app, templates_app
from exportcenter.config import reset_settings_cache
from tests.integration.cli_helpers import Cli, CliResult

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
SCAN = DATA / "scans" / "trivy_json_alpine-310.json"
TEMPLATE = ('{% extends "base.html.j2" %}{% block body %}<h1>{{ report.title }}</h1>'
            "<p>CLI layout for {{ report.tenant }} with {{ report.total_findings }} findings</p>{% endblock %}")
PNG_1PX = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


class TenantCli(Cli):
    """The main CLI plus the two sub-apps (whether or not main already mounts them)."""

    def __init__(self, home: Path) -> None:
        super().__init__(home)
        self.app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        self.app.add_typer(templates_app, name="templates")
        self.app.add_typer(branding_app, name="branding")
        self.app.add_typer(main_cli.app, name="main")

    def __call__(self, *args: str | Path, env: dict[str, str] | None = None) -> CliResult:
        reset_settings_cache()
        result = CliRunner().invoke(self.app, [str(a) for a in args],
                                    env={"EXPORTCENTER_HOME": str(self.home), **(env or {})})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture()
def cli(tmp_path: Path) -> TenantCli:
    return TenantCli(tmp_path / "home")


def test_template_upload_list_show_delete(cli: TenantCli, tmp_path: Path) -> None:
    source = tmp_path / "acme.html.j2"
    source.write_text(TEMPLATE)
    uploaded = cli("templates", "upload", source, "--tenant", "acme", "--json")
    assert uploaded.exit_code == 0, uploaded.stderr
    assert uploaded.json()["name"] == "custom-acme" and uploaded.json()["created"] is True
    listed = cli("templates", "list", "--tenant", "acme", "--json").json()
    assert [t["name"] for t in listed["custom"]] == ["custom-acme"] and "compliance-detailed" in listed["builtin"]
    assert cli("templates", "list", "--tenant", "other", "--json").json()["custom"] == []
    shown = cli("templates", "show", "--tenant", "acme")
    assert shown.exit_code == 0 and shown.stdout == TEMPLATE
    assert cli("templates", "show", "custom-acme", "--tenant", "other").exit_code == 3  # not found elsewhere
    assert cli("templates", "delete", "--tenant", "acme").exit_code == 0
    missing = cli("templates", "show", "--tenant", "acme")
    assert missing.exit_code == 3 and "template not found: custom-acme" in missing.stderr


def test_bad_templates_and_names_are_refused(cli: TenantCli, tmp_path: Path) -> None:
    escape = tmp_path / "escape.html.j2"
    escape.write_text("{{ ''.__class__.__mro__ }}")
    refused = cli("templates", "upload", escape, "--tenant", "acme")
    assert refused.exit_code == 2 and "blocked by the sandbox" in refused.stderr
    good = tmp_path / "good.html.j2"
    good.write_text(TEMPLATE)
    wrong = cli("templates", "upload", good, "--tenant", "acme", "--name", "custom-globex")
    assert wrong.exit_code == 2 and "may upload only 'custom-acme'" in wrong.stderr
    absent = cli("templates", "upload", tmp_path / "nope.j2", "--tenant", "acme")
    assert absent.exit_code == 2 and "cannot read template" in absent.stderr
    assert cli("templates", "list", "--tenant", "acme", "--json").json()["custom"] == []


def test_branding_set_show_and_logo_file(cli: TenantCli, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG_1PX)
    first = cli("branding", "set", "--tenant", "acme", "--title", "Acme Weekly Risk", "--logo", logo,
                "--primary-color", "#112233", "--json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["logo"] == "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    kept = cli("branding", "set", "--tenant", "acme", "--company", "Acme Corp", "--json").json()
    assert (kept["title"], kept["company"], kept["primary_color"]) == ("Acme Weekly Risk", "Acme Corp", "#112233")
    replaced = cli("branding", "set", "--tenant", "acme", "--company", "Acme Corp", "--replace", "--json").json()
    assert replaced["title"] is None and replaced["logo"] is None
    bad = cli("branding", "set", "--tenant", "acme", "--accent-color", "blue")
    assert bad.exit_code == 2 and "accent_color" in bad.stderr
    not_image = tmp_path / "logo.txt"
    not_image.write_text("hello")
    assert "not a PNG" in cli("branding", "set", "--tenant", "acme", "--logo", not_image).stderr
    assert cli("branding", "show", "--tenant", "acme", "--json").json()["company"] == "Acme Corp"


def test_cli_pdf_export_with_template_and_branding(cli: TenantCli, tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium is not installed")
    ingested = cli("main", "ingest", SCAN, "--tenant", "acme", "--json")
    assert ingested.exit_code == 0, ingested.stderr
    scan_id = ingested.json()[0]["scan_id"]
    source = tmp_path / "acme.html.j2"
    source.write_text(TEMPLATE)
    assert cli("templates", "upload", source, "--tenant", "acme").exit_code == 0
    assert cli("branding", "set", "--tenant", "acme", "--title", "Acme Board Pack").exit_code == 0
    out = tmp_path / "out"
    result = cli("main", "export", "--type", "scan_report", "--format", "pdf", "--tenant", "acme",
                 "--scan", scan_id, "--template", "custom-acme", "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["warnings"] == []
    text = "\n".join(page.extract_text() for page in PdfReader(out / "report.pdf").pages)
    assert "Acme Board Pack" in text and "CLI layout for acme with 4 findings" in text
