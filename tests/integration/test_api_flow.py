"""End to end through a real Uvicorn: upload -> submit -> live events -> signed download -> sha256."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
import threading
import time
from typing import Any

import httpx
import websockets

from tests.integration.conftest import OTHER_SCAN, SMALL_SCAN, Server, export_body, upload, wait_status


async def _collect_events(url: str, export_ids: list[str], submit: Any, until: str = "completed") -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with websockets.connect(url) as socket:
        hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert hello["event"] == "subscribed"
        export_ids.append(await asyncio.to_thread(submit))
        while True:
            event = json.loads(await asyncio.wait_for(socket.recv(), 30))
            events.append(event)
            if event["export_id"] == export_ids[0] and event["event"] in (until, "failed"):
                return events


def test_submit_events_download_sha256(server: Server) -> None:
    tenant = "flow"
    with server.client(tenant) as client:
        scan_id = upload(client, SMALL_SCAN)
        created: list[str] = []

        def submit() -> str:
            response = client.post("/api/v1/exports", json=export_body(scan_id))
            assert response.status_code == 202, response.text
            job = response.json()
            assert response.headers["location"] == f"/api/v1/exports/{job['export_id']}"
            assert job["status"] == "queued" and job["type"] == "scan_report" and job["format"] == "json"
            assert re.fullmatch(r"PT(\d+H)?(\d+M)?(\d+S)?", job["estimated_completion"])
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", job["created_at"])
            return str(job["export_id"])

        token = server.token(tenant)
        ws_url = server.url.replace("http", "ws") + f"/api/v1/events?token={token}&tenant={tenant}"
        events = asyncio.run(_collect_events(ws_url, created, submit))
        export_id = created[0]
        kinds = [e["event"] for e in events if e["export_id"] == export_id]
        assert kinds[0] == "queued" and kinds[-1] == "completed" and "processing" in kinds
        assert all(e["tenant"] == tenant for e in events)
        progress = [e["progress"] for e in events if e["event"] == "progress"]
        assert progress == sorted(progress) and progress

        status = client.get(f"/api/v1/exports/{export_id}").json()
        assert status["status"] == "completed" and status["progress"] == 100
        assert events[-1]["artifacts"] == [{k: a[k] for k in ("name", "size", "sha256")} for a in status["artifacts"]]

        manifest_link = client.get(f"/api/v1/exports/{export_id}/download", params={"artifact": "manifest.json"}).json()
        manifest = httpx.get(manifest_link["download_url"]).json()
        assert manifest["export_id"] == export_id
        for artifact in manifest["artifacts"]:
            link = client.get(f"/api/v1/exports/{export_id}/download", params={"artifact": artifact["name"]})
            assert link.status_code == 200, link.text
            body = link.json()
            assert body["expires_at"].endswith("Z") and body["sha256"] == artifact["sha256"]
            downloaded = httpx.get(body["download_url"])  # no bearer token: the signature is the grant
            assert downloaded.status_code == 200
            assert downloaded.headers["content-type"].startswith("application/json")
            assert hashlib.sha256(downloaded.content).hexdigest() == artifact["sha256"]
            assert len(downloaded.content) == artifact["size"]
            partial = httpx.get(body["download_url"], headers={"Range": "bytes=10-109"})
            assert partial.status_code == 206 and partial.content == downloaded.content[10:110]
            assert partial.headers["content-range"] == f"bytes 10-109/{artifact['size']}"


def test_sse_stream_reports_completion(server: Server) -> None:
    tenant = "sse"
    with server.client(tenant) as client:
        scan_id = upload(client, SMALL_SCAN)
        seen: list[str] = []
        ready = threading.Event()

        def read_stream() -> None:
            with httpx.stream("GET", server.url + "/api/v1/events/stream", headers=server.headers(tenant),
                              timeout=30) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                for line in stream.iter_lines():
                    ready.set()
                    if line.startswith("event: "):
                        seen.append(line.removeprefix("event: "))
                        if seen[-1] == "completed":
                            return

        reader = threading.Thread(target=read_stream)
        reader.start()
        assert ready.wait(10)
        export_id = client.post("/api/v1/exports", json=export_body(scan_id, "sarif")).json()["export_id"]
        reader.join(30)
        assert seen[0] == "queued" and seen[-1] == "completed"
        assert wait_status(client, export_id, {"completed"})["artifacts"][0]["name"].endswith("sarif")


def test_idempotency_key(server: Server) -> None:
    with server.client("idem") as client:
        scan_id = upload(client, SMALL_SCAN)
        first = client.post("/api/v1/exports", json=export_body(scan_id), headers={"Idempotency-Key": "k-1"})
        again = client.post("/api/v1/exports", json=export_body(scan_id), headers={"Idempotency-Key": "k-1"})
        assert first.status_code == again.status_code == 202
        assert first.json()["export_id"] == again.json()["export_id"]
        assert again.headers["idempotent-replayed"] == "true"
        other = client.post("/api/v1/exports", json=export_body(scan_id, "sarif"), headers={"Idempotency-Key": "k-1"})
        assert other.status_code == 409
        assert other.headers["content-type"] == "application/problem+json"
        assert other.json()["export_id"] == first.json()["export_id"]
        fresh = client.post("/api/v1/exports", json=export_body(scan_id), headers={"Idempotency-Key": "k-2"})
        assert fresh.json()["export_id"] != first.json()["export_id"]


def test_list_filters_and_cursor_paging(server: Server) -> None:
    with server.client("paging") as client:
        scan_id = upload(client, SMALL_SCAN)
        ids = [client.post("/api/v1/exports", json=export_body(scan_id, fmt)).json()["export_id"]
               for fmt in ("json", "sarif", "json", "json", "sarif")]
        for export_id in ids:
            wait_status(client, export_id, {"completed"})
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/exports", params=params).json()
            assert len(page["items"]) <= 2
            seen += [item["export_id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == list(reversed(ids))
        sarif = client.get("/api/v1/exports", params={"format": "sarif", "status": "completed"}).json()["items"]
        assert [i["export_id"] for i in sarif] == [ids[4], ids[1]]
        created = client.get(f"/api/v1/exports/{ids[2]}").json()["created_at"]
        later = client.get("/api/v1/exports", params={"created_after": created}).json()["items"]
        assert set(ids[2:]) <= {i["export_id"] for i in later}
        assert client.get("/api/v1/exports", params={"cursor": "not-a-cursor"}).status_code == 422


def test_validation_and_data_not_found(server: Server) -> None:
    with server.client("valid") as client:
        scan_id = upload(client, OTHER_SCAN)
        unsupported = client.post("/api/v1/exports", json=export_body(scan_id, "xlsx"))
        assert unsupported.status_code == 422
        assert unsupported.json()["supported_formats"] == ["pdf", "json", "sarif"]
        unknown = client.post("/api/v1/exports", json={"type": "scan_report", "format": "docx", "scope": {}})
        assert unknown.status_code == 422 and "unknown format 'docx'" in unknown.json()["detail"]
        missing = client.post("/api/v1/exports", json={"type": "scan_report", "format": "json",
                                                       "scope": {"scan_ids": [scan_id, "scan-nope", "scan-gone"]}})
        assert missing.status_code == 404
        assert missing.json()["scope"] == {"scan_ids": ["scan-nope", "scan-gone"]}
        extra = client.post("/api/v1/exports", json={**export_body(scan_id), "colour": "red"})
        assert extra.status_code == 422 and "colour" in extra.json()["detail"]
        no_secret = client.post("/api/v1/exports", json={**export_body(scan_id), "delivery": {
            "method": "webhook", "config": {"url": "https://example.invalid/hook"}}})
        assert no_secret.status_code == 422 and "'secret' or 'secret_env'" in no_secret.json()["detail"]
        delivery = client.post("/api/v1/exports", json={**export_body(scan_id), "delivery": {
            "method": "webhook", "config": {"url": "https://example.invalid/hook", "secret_env": "HOOK_SECRET"}}})
        assert delivery.status_code == 202
        shown = client.get(f"/api/v1/exports/{delivery.json()['export_id']}").json()
        assert shown["delivery"]["method"] == "webhook"


def test_audit_log_records_api_actions(server: Server) -> None:
    with server.client("audited", subject="bob") as client:
        scan_id = upload(client, SMALL_SCAN)
        export_id = client.post("/api/v1/exports", json=export_body(scan_id)).json()["export_id"]
        wait_status(client, export_id, {"completed"})
        assert client.get("/api/v1/exports/exp-doesnotexist").status_code == 404
    deadline = time.monotonic() + 5
    while True:  # read-side entries are appended by the audit writer within ~50 ms
        with sqlite3.connect(server.home / "exportcenter.db") as db:
            rows = db.execute("SELECT actor, action, resource, outcome, source_address FROM audit_log "
                              "WHERE tenant = 'audited' ORDER BY seq").fetchall()
        if ("export.read", "failure") in {(r[1], r[3]) for r in rows} or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    actions = {(r[1], r[3]) for r in rows if r[0] == "bob"}
    assert {("scan.upload", "success"), ("export.create", "success"), ("export.read", "success"),
            ("export.read", "failure")} <= actions
    assert ("bob", "export.create", export_id, "success", "127.0.0.1") in rows


def test_health_and_readiness(server: Server) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok", "detail": None}
    assert httpx.get(server.url + "/readyz").json()["status"] == "ready"
    schema = httpx.get(server.url + "/openapi.json").json()
    assert {"/api/v1/exports", "/api/v1/exports/{export_id}", "/api/v1/exports/{export_id}/cancel",
            "/api/v1/exports/{export_id}/download", "/api/v1/scans"} <= set(schema["paths"])
