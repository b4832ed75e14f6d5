"""Defects a new user found with `serve`, `token` and curl, each checked through a real Uvicorn."""

from __future__ import annotations

import json
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exportcenter.errors import InvalidInputError
from exportcenter.pipeline.request import parse_request, resolve_time
from exportcenter.util.timeutil import utcnow
from tests.integration.conftest import SMALL_SCAN, Server, export_body, start_server, upload, wait_status

READ_ONLY = ("export:read",)


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("trial"), webhook_allow_hosts='["127.0.0.1"]',
                            max_json_body_bytes=str(256 * 1024))


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("date_range", "reason"), [
    ({"start": "2026-13-45", "end": "now"}, "month must be in 1..12"),
    ({"start": "-99999999d", "end": "now"}, "past the year 1"),
    ({"start": "-7d", "end": "yesterday"}, "invalid time 'yesterday'"),
])
def test_bad_dates_are_422_with_the_reason(trial: Server, date_range: dict[str, str], reason: str) -> None:
    with trial.client("dates") as client:
        body = {"type": "scan_report", "format": "json", "scope": {"date_range": date_range}}
        assert reason in problem(client.post("/api/v1/exports", json=body), 422)["detail"]
    with pytest.raises(InvalidInputError, match="month must be in"):
        resolve_time("2026-13-45", utcnow())
    with pytest.raises(InvalidInputError, match="past the year 1"):
        resolve_time("-99999999d", utcnow())


@pytest.mark.parametrize(("scope", "reason"), [
    ({"scan_ids": ["\ud800"]}, "lone UTF-16 surrogate"),
    ({"scan_ids": ["a b;<script>"]}, "invalid id"),
    ({"scan_ids": ["x" * 300]}, "invalid id"),
    ({"image_refs": ["alpine\n:3"]}, "invalid image ref"),
    ({"scan_ids": [f"scan-{i}" for i in range(1001)]}, "at most 1000 items"),
])
def test_bad_ids_are_422(trial: Server, scope: dict[str, Any], reason: str) -> None:
    with trial.client("ids") as client:
        body = json.dumps({"type": "scan_report", "format": "json", "scope": scope})  # \ud800 stays escaped
        response = client.post("/api/v1/exports", content=body, headers={"Content-Type": "application/json"})
        assert reason in problem(response, 422)["detail"]


def test_download_links_use_the_served_port_without_public_base_url(tmp_path: Path) -> None:
    class PlainServer(Server):
        def env(self) -> dict[str, str]:
            env = super().env()
            del env["EXPORTCENTER_PUBLIC_BASE_URL"]
            return env

    server = PlainServer(tmp_path / "home", {})
    server.start()
    try:
        assert server.port != 8080
        with server.client("links") as client:
            export_id = client.post("/api/v1/exports", json=export_body(upload(client, SMALL_SCAN))).json()["export_id"]
            wait_status(client, export_id, {"completed"})
            url = client.get(f"/api/v1/exports/{export_id}/download").json()["download_url"]
            assert url.startswith(f"http://127.0.0.1:{server.port}/api/v1/downloads/")
            assert httpx.get(url).status_code == 200
        mode = stat.S_IMODE(os.stat(server.home / "exportcenter.db").st_mode)
        assert mode == 0o600, oct(mode)
        for suffix in ("-wal", "-shm"):
            side = server.home / f"exportcenter.db{suffix}"
            if side.exists():
                assert stat.S_IMODE(side.stat().st_mode) == 0o600, suffix
    finally:
        server.stop()


def test_secrets_are_redacted_and_delivery_failures_shown(trial: Server) -> None:
    hook = f"http://127.0.0.1:{closed_port()}/hook"
    delivery = {"method": "webhook", "config": {"url": hook, "secret": "s3cr3t-value", "timeout_seconds": 1,
                                                "headers": {"Authorization": "Bearer abc", "X-Team": "blue"},
                                                "api_key": "k-123", "secret_env": None}}
    with trial.client("redact") as writer, trial.client("redact", scopes=READ_ONLY) as reader:
        body = {**export_body(upload(writer, SMALL_SCAN)), "delivery": delivery}
        created = writer.post("/api/v1/exports", json=body)
        assert created.status_code == 202, created.text
        export_id = created.json()["export_id"]
        wait_status(writer, export_id, {"completed"})
        shown: dict[str, Any] = {}
        for _ in range(100):
            shown = reader.get(f"/api/v1/exports/{export_id}").json()
            if shown["delivery_status"] in ("retrying", "failed"):
                break
        assert shown["delivery_status"] in ("retrying", "failed"), shown
        assert "unreachable" in shown["delivery_error"]
        listed = reader.get("/api/v1/exports").json()["items"]
        for view in (shown, next(item for item in listed if item["export_id"] == export_id)):
            text = str(view)
            assert "s3cr3t-value" not in text and "Bearer abc" not in text and "k-123" not in text
            config = view["delivery"]["config"]
            assert config["secret"] == config["api_key"] == config["headers"]["Authorization"] == "[redacted]"
            assert config["url"] == hook and config["headers"]["X-Team"] == "blue"


def test_json_bodies_are_limited_and_typed(trial: Server) -> None:
    with trial.client("limits") as client:
        big = {"type": "scan_report", "format": "json", "scope": {"scan_ids": ["x" * 200] * 2000}}
        body = problem(client.post("/api/v1/exports", json=big), 413)
        assert body["limit"] == 256 * 1024 and "max_json_body_bytes" in body["detail"]
        chunked = problem(client.post("/api/v1/exports", content=iter([b'{"type": "' + b"x" * 300_000 + b'"}']),
                                      headers={"Content-Type": "application/json"}), 413)
        assert chunked["limit"] == 256 * 1024
        for media, content in (("text/plain", b'{"type": "sbom"}'), ("application/x-www-form-urlencoded", b"a=1")):
            refused = problem(client.post("/api/v1/exports", content=content, headers={"Content-Type": media}), 415)
            assert "application/json" in refused["detail"] and refused["accepted"] == ["application/json"]
        missing = [f"scan-missing-{i:03d}" for i in range(30)]
        not_found = problem(client.post("/api/v1/exports", json={"type": "scan_report", "format": "json",
                                                                 "scope": {"scan_ids": missing}}), 404)
        assert not_found["detail"].endswith("scan-missing-019 and 10 more")
        assert "scan-missing-020" not in not_found["detail"]
        assert not_found["scope"]["scan_ids"] == missing[:20] and not_found["missing_count"] == 30


def test_conflict_status_is_the_http_status(trial: Server) -> None:
    with trial.client("conflict") as client:
        export_id = client.post("/api/v1/exports", json=export_body(upload(client, SMALL_SCAN))).json()["export_id"]
        wait_status(client, export_id, {"completed"})
        body = problem(client.post(f"/api/v1/exports/{export_id}/cancel"), 409)
        assert body["export_status"] == "completed" and "already completed" in body["detail"]


@pytest.mark.parametrize(("delivery", "reason"), [
    ({"method": "webhook", "config": {"url": "https://hooks.example.com/in"}}, "needs 'secret' or 'secret_env'"),
    ({"method": "webhook", "config": {"url": "http://169.254.169.254/latest", "secret": "x"}},
     "cloud metadata address"),
    ({"method": "webhook", "config": {"url": "http://10.1.2.3/hook", "secret_env": "HOOK_SECRET"}},
     "a private address"),
    ({"method": "webhook", "config": {"url": "ftp://hooks.example.com/", "secret": "x"}}, "scheme 'ftp'"),
    ({"method": "webhook", "config": {"secret": "x"}}, "needs a non-empty 'url'"),
    ({"method": "email", "config": {"subject": "hi"}}, "at least one address in 'to'"),
    ({"method": "email", "config": {"to": ["not an address"]}}, "invalid email address"),
    ({"method": "s3", "config": {"prefix": "x"}}, "needs a non-empty 'bucket'"),
    ({"method": "s3", "config": {"bucket": "b", "access_key_id": "AK"}}, "both access_key_id"),
])
def test_delivery_config_is_checked_at_submit(trial: Server, delivery: dict[str, Any], reason: str) -> None:
    with trial.client("deliver-check") as client:
        body = {"type": "scan_report", "format": "json", "scope": {"scan_ids": ["scan-any"]}, "delivery": delivery}
        assert reason in problem(client.post("/api/v1/exports", json=body), 422)["detail"]


@pytest.mark.parametrize(("request_body", "reason"), [
    ({"type": "sbom", "format": "cyclonedx", "options": {"cyclonedx_version": 9}}, "use 1.5 or 1.6"),
    ({"type": "scan_report", "format": "json", "options": {"cyclonedx_version": "1.5"}},
     "applies only to format cyclonedx"),
    ({"type": "scan_report", "format": "json", "options": {"colour": "red"}}, "known options: include_sbom"),
    ({"type": "scan_report", "format": "pdf", "options": {"template": "fancy"}}, "unknown template 'fancy'"),
    ({"type": "scan_report", "format": "pdf", "options": {"template": "custom-someone-else"}},
     "or custom-opts"),
    ({"type": "scan_report", "format": "sarif", "options": {"template": "compliance-executive"}},
     "use developer-sarif"),
])
def test_options_are_checked_at_submit(trial: Server, request_body: dict[str, Any], reason: str) -> None:
    with trial.client("opts") as client:
        body = {**request_body, "scope": {"scan_ids": ["scan-any"]}}
        assert reason in problem(client.post("/api/v1/exports", json=body), 422)["detail"]
    if "custom-" not in reason:  # the CLI's parse_request refuses the same requests
        with pytest.raises(InvalidInputError, match=reason.split("'")[0]):
            parse_request({**request_body, "scope": {"scan_ids": ["scan-any"]}})


def test_good_options_still_pass(trial: Server) -> None:
    with trial.client("opts-ok") as client:
        scan_id = upload(client, SMALL_SCAN)
        for options in ({"cyclonedx_version": "1.5"}, {"template": "custom-opts-ok"},
                        {"template": "compliance-detailed"}):
            fmt = "cyclonedx" if "cyclonedx_version" in options else "json"
            export_type = "sbom" if fmt == "cyclonedx" else "scan_report"
            body = {"type": export_type, "format": fmt, "scope": {"scan_ids": [scan_id]}, "options": options}
            response = client.post("/api/v1/exports", json=body)
            assert response.status_code in (202, 404), response.text  # 404: the scan is not an SBOM
            if response.status_code == 404:
                assert "needs sbom data" in response.json()["detail"]


@pytest.mark.parametrize(("path", "parameter"), [
    ("/api/v1/exports?status=bogus", "status"),
    ("/api/v1/exports?type=bogus", "type"),
    ("/api/v1/exports?format=bogus", "format"),
    ("/api/v1/exports?created_after=garbage", "garbage"),
    ("/api/v1/scans?kind=bogus", "kind"),
    ("/api/v1/scans?after=garbage!!", "after"),
])
def test_every_list_filter_is_validated(trial: Server, path: str, parameter: str) -> None:
    with trial.client("filters") as client:
        assert parameter in problem(client.get(path), 422)["detail"]


def test_malformed_json_says_what_is_wrong_and_where(trial: Server) -> None:
    with trial.client("malformed") as client:
        body = problem(client.post("/api/v1/exports", content=b"{", headers={"Content-Type": "application/json"}), 422)
    assert body["detail"].startswith("invalid request: body is not valid JSON: ")
    assert "at character 1" in body["detail"]
