"""Tenant templates and branding through a real Uvicorn, down to a PDF rendered with both (pypdf reads it)."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from tests.integration.conftest import SMALL_SCAN, Server, start_server, upload, wait_status

ADMIN = ("export:admin",)
TEMPLATE = ('{% extends "base.html.j2" %}{% block body %}<h1>{{ report.title }}</h1>'
            "<p>Custom layout for {{ report.tenant }}: {{ report.total_findings }} findings in "
            "{{ report.scans | length }} scan(s)</p>"
            "{% for f in report.top_risks %}<p>{{ f.vuln_id }} {{ f.package.name }}</p>{% endfor %}{% endblock %}")
PNG_1PX = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
BRANDING = {"title": "Acme Container Risk Review", "company": "Acme Corp", "primary_color": "#123456",
            "accent_color": "#abc", "logo": "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()}


@pytest.fixture(scope="module")
def tpl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("templates"))


def problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return str(response.json()["detail"])


def put_template(client: httpx.Client, name: str, source: str | bytes) -> httpx.Response:
    return client.put(f"/api/v1/templates/{name}", content=source, headers={"Content-Type": "text/html"})


def test_upload_list_show_replace_delete(tpl_server: Server) -> None:
    with tpl_server.client("tpl-a", scopes=ADMIN) as client:
        created = put_template(client, "custom-tpl-a", TEMPLATE)
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["name"], body["tenant"], body["size"]) == ("custom-tpl-a", "tpl-a", len(TEMPLATE.encode()))
        assert created.headers["location"] == "/api/v1/templates/custom-tpl-a"
        listing = client.get("/api/v1/templates").json()
        assert listing["builtin"] == ["compliance-executive", "compliance-detailed", "audit-evidence"]
        assert [t["name"] for t in listing["custom"]] == ["custom-tpl-a"]
        shown = client.get("/api/v1/templates/custom-tpl-a").json()
        assert shown["source"] == TEMPLATE and shown["sha256"] == body["sha256"]

        replaced = put_template(client, "custom-tpl-a", TEMPLATE + "<!-- v2 -->")
        assert replaced.status_code == 200 and replaced.json()["sha256"] != body["sha256"]
        assert client.delete("/api/v1/templates/custom-tpl-a").status_code == 204
        problem(client.get("/api/v1/templates/custom-tpl-a"), 404)
        problem(client.delete("/api/v1/templates/custom-tpl-a"), 404)
    with sqlite3.connect(tpl_server.home / "exportcenter.db") as db:
        actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE tenant = 'tpl-a' AND outcome = "
                                            "'success' AND action LIKE 'template.%' ORDER BY seq")]
    # In the order the requests happened: reads are buffered, but flushed before any change is audited.
    assert actions == ["template.create", "template.list", "template.read", "template.update", "template.delete"]


@pytest.mark.parametrize(("source", "reason"), [
    ("{{ report.__class__ }}", "blocked by the sandbox"),
    ('{% include "/etc/passwd" %}', "may not load"),
    ("{% for x in %}", "syntax error at line 1"),
    ("   ", "empty"),
    (b"\xff\xfe<h1>", "not UTF-8"),
])
def test_bad_templates_are_refused_with_the_reason(tpl_server: Server, source: str | bytes, reason: str) -> None:
    with tpl_server.client("tpl-bad", scopes=ADMIN) as client:
        assert reason in problem(put_template(client, "custom-tpl-bad", source), 422)
        problem(client.get("/api/v1/templates/custom-tpl-bad"), 404)  # nothing stored


def test_names_scopes_and_tenancy(tpl_server: Server) -> None:
    with tpl_server.client("tpl-owner", scopes=ADMIN) as owner, \
            tpl_server.client("tpl-other", scopes=ADMIN) as other:
        assert put_template(owner, "custom-tpl-owner", TEMPLATE).status_code == 201
        assert "may upload only 'custom-tpl-other'" in problem(put_template(other, "custom-tpl-owner", TEMPLATE), 422)
        assert "may upload only" in problem(put_template(owner, "compliance-executive", TEMPLATE), 422)
        problem(other.get("/api/v1/templates/custom-tpl-owner"), 404)
        problem(other.delete("/api/v1/templates/custom-tpl-owner"), 404)
        assert other.get("/api/v1/templates").json()["custom"] == []
        assert owner.get("/api/v1/templates/custom-tpl-owner").status_code == 200
    with tpl_server.client("tpl-owner") as writer:  # read + write, not admin
        assert writer.get("/api/v1/templates/custom-tpl-owner").status_code == 200
        assert "export:admin" in problem(put_template(writer, "custom-tpl-owner", TEMPLATE), 403)
        problem(writer.delete("/api/v1/templates/custom-tpl-owner"), 403)
        problem(writer.put("/api/v1/tenant/branding", json=BRANDING), 403)
    too_big = "x" * (512 * 1024 + 1)
    with tpl_server.client("tpl-owner", scopes=ADMIN) as owner:
        problem(put_template(owner, "custom-tpl-owner", too_big), 413)


def test_branding_roundtrip_and_validation(tpl_server: Server) -> None:
    with tpl_server.client("brand", scopes=ADMIN) as client:
        empty = client.get("/api/v1/tenant/branding").json()
        assert empty == {"title": None, "company": None, "logo": None, "primary_color": None, "accent_color": None}
        saved = client.put("/api/v1/tenant/branding", json=BRANDING)
        assert saved.status_code == 200, saved.text
        assert client.get("/api/v1/tenant/branding").json() == BRANDING
        bad_cases: list[tuple[dict[str, Any], str]] = [
            ({"primary_color": "red"}, "primary_color"),
            ({"logo": "https://evil.example/logo.png"}, "logo must be a data:image"),
            ({"logo": "data:image/png;base64,@@@"}, "logo must be a data:image"),
            ({"title": "x" * 201}, "title"),
            ({"font": "Comic Sans"}, "font"),
        ]
        for values, reason in bad_cases:
            assert reason in problem(client.put("/api/v1/tenant/branding", json=values), 422)
        problem(client.put("/api/v1/tenant/branding", content=b"[1]", headers={"Content-Type": "application/json"}),
                422)
        assert client.get("/api/v1/tenant/branding").json() == BRANDING  # refused updates change nothing
    with tpl_server.client("brand-other") as other:
        assert other.get("/api/v1/tenant/branding").json()["title"] is None


def _pdf_text(client: httpx.Client, export_id: str) -> tuple[dict[str, Any], str, PdfReader]:
    done = wait_status(client, export_id, {"completed", "failed"}, timeout=120)
    assert done["status"] == "completed", done
    link = client.get(f"/api/v1/exports/{export_id}/download", params={"artifact": "report.pdf"}).json()
    reader = PdfReader(io.BytesIO(httpx.get(link["download_url"]).content))
    return done, "\n".join(page.extract_text() for page in reader.pages), reader


def test_pdf_export_uses_the_tenant_template_and_branding(tpl_server: Server) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium is not installed")
    with tpl_server.client("pdfco", scopes=ADMIN) as client:
        scan_id = upload(client, SMALL_SCAN)
        assert put_template(client, "custom-pdfco", TEMPLATE).status_code == 201
        assert client.put("/api/v1/tenant/branding", json=BRANDING).status_code == 200
        counts = client.post("/api/v1/exports", json={"type": "scan_report", "format": "json",
                                                       "scope": {"scan_ids": [scan_id]}}).json()["export_id"]
        json_done = wait_status(client, counts, {"completed"})
        link = client.get(f"/api/v1/exports/{counts}/download", params={"artifact": "report.json"}).json()
        report = json.loads(httpx.get(link["download_url"]).content)
        findings = len(report["findings"])
        assert findings > 0 and json_done["status"] == "completed"

        export_id = client.post("/api/v1/exports", json={
            "type": "scan_report", "format": "pdf", "scope": {"scan_ids": [scan_id]},
            "options": {"template": "custom-pdfco"}}).json()["export_id"]
        done, text, reader = _pdf_text(client, export_id)
        assert done["warnings"] == []
        assert f"Custom layout for pdfco: {findings} findings in 1 scan(s)" in text
        assert "Acme Container Risk Review" in text
        assert all("Acme Container Risk Review" in page.extract_text() for page in reader.pages)  # header
        assert reader.metadata is not None and reader.metadata.title == "Acme Container Risk Review"

    with tpl_server.client("pdf-stranger", scopes=ADMIN) as stranger:  # another tenant cannot use it
        scan_id = upload(stranger, SMALL_SCAN)
        refused = stranger.post("/api/v1/exports", json={
            "type": "scan_summary", "format": "pdf", "scope": {"scan_ids": [scan_id]},
            "options": {"template": "custom-pdfco"}})
        assert "unknown template 'custom-pdfco'" in problem(refused, 422)
        assert "custom-pdf-stranger" in refused.json()["detail"]
