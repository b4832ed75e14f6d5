"""No log line of a real server ever holds a token, a private key or a URL signature; lines are JSON
with trace_id, and export lines carry export_id and tenant."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import SMALL_SCAN, Server, export_body, start_server, upload, wait_status


@pytest.fixture(scope="module")
def json_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("logs"), log_json="true", max_job_attempts="1")


def test_no_secrets_in_any_log_line(json_server: Server) -> None:
    token = json_server.token("acme")
    client = json_server.client("acme")
    scan = upload(client, SMALL_SCAN)
    done = client.post("/api/v1/exports", json={**export_body(scan), "delivery": {"method": "download"},
                                                "options": {"include_evidence": True}}).json()["export_id"]
    wait_status(client, done, {"completed"})
    link = client.get(f"/api/v1/exports/{done}/download").json()["download_url"]
    signature = re.search(r"[?&]sig=([^&]+)", link)
    assert signature is not None
    assert httpx.get(link).status_code == 200
    assert httpx.get(link.replace(signature.group(1), "0" * len(signature.group(1)))).status_code == 403
    # Secrets offered in every place a client can put them: header, query, path, body.
    with httpx.Client(base_url=json_server.url, timeout=10) as raw:
        raw.get("/api/v1/exports", params={"token": token}, headers={"X-Tenant-Id": "acme"})
        raw.get(f"/api/v1/{token}", headers={"Authorization": f"Bearer {token}"})
        raw.post("/api/v1/exports", headers={"Authorization": f"Bearer {token}x", "X-Tenant-Id": "acme"},
                 json=export_body(scan))
        raw.post("/api/v1/exports", headers={"Authorization": f"Bearer {token}", "X-Tenant-Id": "acme"},
                 json={"type": "scan_report", "format": "json", "scope": {"scan_ids": [token]}})
    failing = client.post("/api/v1/exports", json={"type": "scan_report", "format": "json",
                                                   "scope": {"scan_ids": ["scan-does-not-exist"]}})
    assert failing.status_code == 404

    secrets = [token, token.split(".")[2], signature.group(1), json_server.settings().url_signing_key or "-"]
    home = json_server.home
    private_keys = [p.read_text() for p in home.rglob("*") if p.is_file() and "PRIVATE KEY" in _head(p)]
    assert private_keys, "the server made a signing key; it must never be logged"
    key_bodies = [line for key in private_keys for line in key.splitlines() if len(line) > 40]
    lines = [line for path in [json_server.log, *home.rglob("*.log")] for line in path.read_text().splitlines()]
    assert len(lines) > 10
    for line in lines:
        for secret in [*secrets, *key_bodies]:
            if secret and secret != "-":
                assert secret not in line, f"secret in log line: {line[:200]}"
        assert "PRIVATE KEY-----" not in line
    records = [json.loads(line) for line in lines if line.startswith("{")]
    access = [r for r in records if r.get("logger") == "exportcenter.api.access"]
    assert access and all(len(r["trace_id"]) == 32 for r in access)
    assert all("?" not in r["message"] for r in access)  # paths only, never query strings


def _head(path: Path) -> str:
    try:
        return path.read_bytes()[:200].decode("utf-8", "replace")
    except OSError:
        return ""


def test_export_lines_carry_export_and_tenant(json_server: Server) -> None:
    import logging

    from exportcenter.observability.logging import JsonFormatter, log_context
    from exportcenter.observability.tracing import span

    record = logging.LogRecord("exportcenter.pipeline", logging.WARNING, __file__, 1,
                               "storage retry with Authorization: Bearer %s and url %s", None, None)
    record.args = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl", "https://h/x?tenant=a&expires=1&sig=abcdef")
    with log_context(export_id="exp-1", tenant="acme"), span("export-request") as current:
        line = json.loads(JsonFormatter().format(record))
        trace_id = f"{current.get_span_context().trace_id:032x}"
    assert line["export_id"] == "exp-1" and line["tenant"] == "acme" and line["trace_id"] == trace_id
    assert "eyJ" not in line["message"] and "abcdef" not in line["message"]
    assert "sig=[REDACTED]" in line["message"]
