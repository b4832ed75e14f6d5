"""User-trial defects: scope kind mismatch, SBOM counts, template messages, email types/date, logos, PDF header."""

from __future__ import annotations

import base64
import email
import re
import struct
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from exportcenter.api.schemas import scan_info
from exportcenter.catalog.documents import ingest, scan_summary
from exportcenter.config import Settings
from exportcenter.db.models import ScanRow
from exportcenter.delivery.base import Artifact, DeliveryContext
from exportcenter.delivery.email import attachment_type, build_message
from exportcenter.errors import InvalidInputError
from exportcenter.model import ExportScope, ExportType
from exportcenter.pipeline.request import parse_request
from exportcenter.pipeline.scope import resolve_scans
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.pdf.render import build_parts
from exportcenter.runtime import Runtime
from exportcenter.tenancy.branding import image_kind, parse_branding
from tests.paths import SBOMS, SCANS
from tests.unit.pdf_support import JUICE_SHOP, juice_shop_snapshot

SBOM = SBOMS / "cdx16_redhat_openssl-3.0.7-18.el9_2.json"


@pytest.fixture()
def runtime(tmp_path: Path) -> Any:
    rt = Runtime.open(Settings(home=tmp_path))
    yield rt
    rt.close()


def _sbom_row(runtime: Runtime) -> ScanRow:
    result = ingest(runtime.sessions, tenant="acme", name=SBOM.name, content=SBOM.read_bytes())
    with runtime.sessions() as session:
        row = session.get(ScanRow, result.ids["sbom_id"])
        assert row is not None and row.kind == "sbom"
        session.expunge(row)
        return row


def test_a_type_asking_for_another_kind_is_invalid_input(runtime: Runtime) -> None:
    row = _sbom_row(runtime)
    with runtime.sessions() as session, pytest.raises(InvalidInputError) as caught:
        resolve_scans(session, "acme", ExportType.SCAN_REPORT, ExportScope(scan_ids=(row.id,)), set())
    assert caught.value.http_status == 422 and caught.value.exit_code == 2
    assert caught.value.message == f"scan_report needs scan data, but these ids are not: {row.id}"


def test_an_sbom_lists_components_not_findings(runtime: Runtime) -> None:
    import json

    row = _sbom_row(runtime)
    expected = len(json.loads(SBOM.read_bytes())["components"])
    assert expected > 0
    summary = scan_summary(row)
    assert (summary["findings"], summary["components"]) == (0, expected)
    info = scan_info(row)
    assert (info.findings, info.components) == (0, expected)
    trivy = SCANS / "trivy_json_alpine-310.json"
    scan_id = ingest(runtime.sessions, tenant="acme", name=trivy.name, content=trivy.read_bytes()).ids["scan_id"]
    with runtime.sessions() as session:
        scan = session.get(ScanRow, scan_id)
        assert scan is not None
        assert scan_summary(scan)["findings"] == scan.findings_count > 0 and scan_summary(scan)["components"] == 0


@pytest.mark.parametrize(("export_format", "listed", "not_listed"), [
    ("csv", "compliance-executive, compliance-detailed or audit-evidence", "custom-"),
    ("sarif", "use developer-sarif", "compliance-"),
    ("pdf", "audit-evidence or custom-acme", "developer-sarif"),
])
def test_unknown_template_lists_only_that_formats_names(export_format: str, listed: str, not_listed: str) -> None:
    export_type = "vulnerability_report" if export_format == "csv" else "scan_report"
    body = {"type": export_type, "format": export_format, "scope": {"scan_ids": ["scan-1"]},
            "options": {"template": "custom-other"}}
    with pytest.raises(InvalidInputError) as caught:
        parse_request(body, tenant="acme")
    assert listed in caught.value.message and not_listed not in caught.value.message.split("; use ")[1]


@pytest.mark.parametrize(("name", "media_type"), [
    ("evidence.tar.gz", "application/gzip"), ("sbom.cdx.json", "application/vnd.cyclonedx+json"),
    ("sbom.spdx.json", "application/spdx+json"), ("report.sarif", "application/sarif+json"),
    ("report.sarif.json", "application/sarif+json"), ("report.pdf", "application/pdf"),
    ("findings.csv", "text/csv"), ("data.bin.bz2", "application/octet-stream"),
])
def test_attachment_media_types(name: str, media_type: str) -> None:
    assert attachment_type(name) == media_type


def test_email_date_is_utc_plus_zero_and_tarball_is_gzip(tmp_path: Path) -> None:
    tarball = tmp_path / "evidence.tar.gz"
    tarball.write_bytes(zlib.compress(b"x"))
    ctx = DeliveryContext(
        settings=Settings(home=tmp_path), export_id="exp-1", tenant="acme", export_type="evidence_bundle",
        export_format="tar.gz", created_at=datetime(2026, 1, 1, tzinfo=UTC), expires_at=None, manifest={},
        artifacts=[Artifact(name=tarball.name, path=tarball, size=tarball.stat().st_size, sha256="0" * 64)],
        manifest_path=None, link_for=lambda name, ttl: f"https://x/{name}", link_ttl_seconds=60)
    message, _, attached = build_message(ctx, {"to": ["a@example.com"], "attach": "always"})
    assert attached
    assert message["Date"].endswith(" +0000") and parsedate_to_datetime(message["Date"]).tzinfo is not None
    parsed = email.message_from_bytes(message.as_bytes())
    parts = [p for p in parsed.walk() if p.get_filename() == "evidence.tar.gz"]
    assert [p.get_content_type() for p in parts] == ["application/gzip"]


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")


def _uri(kind: str, data: bytes) -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


def test_logo_bytes_must_be_the_image_they_claim() -> None:
    assert image_kind(_png()) == "png"
    assert image_kind(b'<?xml version="1.0"?>\n<!-- x --><svg xmlns="http://www.w3.org/2000/svg"/>') == "svg+xml"
    assert image_kind(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert image_kind(b"#!/bin/sh\necho hi") is None
    assert parse_branding({"logo": _uri("png", _png())}).logo is not None
    with pytest.raises(InvalidInputError) as caught:
        parse_branding({"logo": _uri("png", b"<html>not an image</html>"), "primary_color": "red"})
    reasons = caught.value.details["errors"]
    assert len(reasons) == 2 and "not a PNG, JPEG, GIF, WebP or SVG image" in reasons[1 if "primary" in reasons[0]
                                                                                        else 0]
    with pytest.raises(InvalidInputError, match="says image/jpeg but its bytes are image/png"):
        parse_branding({"logo": _uri("jpeg", _png())})


def test_pdf_header_keeps_the_export_id_whole_and_names_a_single_scan_summary() -> None:
    one = replace(juice_shop_snapshot("scan_summary", files=JUICE_SHOP[:1]), export_id="exp-89b00645f6d9")
    two = juice_shop_snapshot("scan_summary")
    ctx = RenderContext(settings=Settings())
    single = build_parts(one, ctx)[0].html
    assert '<span class="export-id">export exp-89b00645f6d9</span>' in single
    assert re.search(r"\.export-id\s*\{\s*white-space:\s*nowrap", single)
    assert "· Scan summary" in single and "Multiple scans summary" not in single
    assert "Multiple scans summary" in build_parts(two, ctx)[0].html
