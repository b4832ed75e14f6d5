"""CLI side of the user-trial fixes: `branding set` lists every problem and refuses URLs; `scans` shows
an SBOM's components, not findings."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.integration.cli_helpers import Cli
from tests.paths import SBOMS


@pytest.fixture
def cli(ec_home: Path) -> Cli:
    return Cli(ec_home)


def test_branding_set_refuses_urls_and_lists_every_problem(cli: Cli) -> None:
    result = cli("branding", "set", "--tenant", "acme", "--logo", "https://evil.example/logo.png",
                 "--primary-color", "red", "--accent-color", "#12")
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "URLs are not accepted" in message and "data:image/...;base64 URI" in message
    assert "No such file" not in message
    assert "primary_color: 'red' is not a #rgb or #rrggbb colour" in message
    assert "accent_color: '#12' is not a #rgb or #rrggbb colour" in message
    assert cli("branding", "show", "--tenant", "acme", "--json").json()["logo"] is None


def test_branding_set_refuses_a_data_uri_that_is_not_an_image(cli: Cli) -> None:
    fake = "data:image/png;base64," + base64.b64encode(b"#!/bin/sh\nrm -rf /\n").decode("ascii")
    result = cli("branding", "set", "--tenant", "acme", "--logo", fake)
    assert result.exit_code == 2
    assert "not a PNG, JPEG, GIF, WebP or SVG image" in " ".join(result.stderr.split())


def test_scans_table_shows_sbom_components(cli: Cli) -> None:
    sbom = SBOMS / "cdx15_trivy-0.48.1_image-with-vulns.json"
    assert cli("ingest", sbom).exit_code == 0
    listed = {row["kind"]: row for row in cli("scans", "--json").json()}
    assert (listed["sbom"]["findings"], listed["sbom"]["components"]) == (0, 102)  # SOURCES.md: 102 components
    assert listed["scan"]["components"] == 0 and listed["scan"]["findings"] > 0
    table = cli("scans", env={"COLUMNS": "250"}).stdout
    assert "(102 components)" in table
