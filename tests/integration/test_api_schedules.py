"""/api/v1/schedules through a real Uvicorn: CRUD in JSON and YAML, pause/resume, run-now, tenancy, and the
scheduler loop that `serve` runs in-process."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.conftest import SMALL_SCAN, Server, start_server, upload, wait_status

YAML_SCHEDULE = """\
schedules:
  - name: weekly-executive-summary
    cron: "0 8 * * MON"
    timezone: Europe/Amsterdam
    export:
      type: scan_summary
      format: csv
      scope:
        date_range: {start: "-7d", end: "now"}
    delivery:
      method: download
"""


@pytest.fixture(scope="module")
def sched_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("sched"), scheduler_interval_seconds="0.3")


def spec(scan_id: str, name: str = "nightly", cron: str = "0 2 * * *", **extra: Any) -> dict[str, Any]:
    return {"name": name, "cron": cron, "timezone": "UTC",
            "export": {"type": "scan_report", "format": "json", "scope": {"scan_ids": [scan_id]}}, **extra}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_create_list_get_update_delete(sched_server: Server) -> None:
    with sched_server.client("sch-crud") as client:
        scan_id = upload(client, SMALL_SCAN)
        created = client.post("/api/v1/schedules", json=spec(scan_id))
        assert created.status_code == 201, created.text
        body = created.json()
        assert created.headers["location"] == "/api/v1/schedules/nightly"
        assert (body["name"], body["cron"], body["timezone"], body["paused"]) == ("nightly", "0 2 * * *", "UTC", False)
        next_fire = datetime.fromisoformat(body["next_fire_at"].replace("Z", "+00:00"))
        now = datetime.now(UTC)
        assert now < next_fire <= now + timedelta(days=1) and (next_fire.hour, next_fire.minute) == (2, 0)

        listed = client.get("/api/v1/schedules").json()["items"]
        assert [s["name"] for s in listed] == ["nightly"]
        one = client.get(f"/api/v1/schedules/{body['id']}").json()  # by id as well as by name
        assert one["name"] == "nightly" and one["fires"] == []

        problem(client.post("/api/v1/schedules", json=spec(scan_id)), 409)

        updated = client.put("/api/v1/schedules/nightly", json=spec(scan_id, cron="30 6 * * 1-5",
                                                                     timezone="Asia/Tokyo"))
        assert updated.status_code == 200, updated.text
        changed = updated.json()
        assert changed["id"] == body["id"] and changed["cron"] == "30 6 * * 1-5"
        fire = datetime.fromisoformat(changed["next_fire_at"].replace("Z", "+00:00"))
        assert (fire.hour, fire.minute) == (21, 30)  # 06:30 in Tokyo (UTC+9) is 21:30 UTC the day before
        assert fire.astimezone(UTC).weekday() in (6, 0, 1, 2, 3)
        assert "the path 'nightly'" in problem(client.put("/api/v1/schedules/nightly",
                                                    json=spec(scan_id, name="other")), 422)["detail"]
        problem(client.put("/api/v1/schedules/missing", json=spec(scan_id, name="missing")), 404)

        assert client.delete("/api/v1/schedules/nightly").status_code == 204
        problem(client.get("/api/v1/schedules/nightly"), 404)
        problem(client.delete("/api/v1/schedules/nightly"), 404)
    with sqlite3.connect(sched_server.home / "exportcenter.db") as db:
        actions = [r[0] for r in db.execute("SELECT action FROM audit_log WHERE tenant = 'sch-crud' AND actor = "
                                            "'alice' AND action LIKE 'schedule.%' AND outcome = 'success' ORDER BY seq")]
    assert {"schedule.create", "schedule.update", "schedule.delete"} <= set(actions)


def test_yaml_body_in_the_spec_form(sched_server: Server) -> None:
    with sched_server.client("sch-yaml") as client:
        upload(client, SMALL_SCAN)
        created = client.post("/api/v1/schedules", content=YAML_SCHEDULE,
                              headers={"Content-Type": "application/yaml"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["timezone"] == "Europe/Amsterdam" and body["spec"]["delivery"] == {"method": "download"}
        fire = datetime.fromisoformat(body["next_fire_at"].replace("Z", "+00:00"))
        local = fire.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Amsterdam"))
        assert (local.weekday(), local.hour, local.minute) == (0, 8, 0)


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    ({"cron": "61 * * * *"}, "application/json", "invalid cron expression"),
    ({"cron": "0 8 * *"}, "application/json", "invalid cron expression"),
    ({"timezone": "Mars/Olympus"}, "application/json", "unknown time zone"),
    ({"export": {"type": "scan_report"}}, "application/json", "export needs 'format'"),
    ({"export": {"type": "nope", "format": "json"}}, "application/json", "type"),
    ({"tenant": "someone-else"}, "application/json", "not the caller's tenant"),
    ("schedules: [name: x\n", "application/yaml", "not valid YAML"),
    ("{not json", "application/json", "not valid JSON"),
    ("name: x", "text/csv", "unsupported content type"),
])
def test_bad_schedules_are_refused(sched_server: Server, body: Any, content_type: str, reason: str) -> None:
    with sched_server.client("sch-bad") as client:
        if isinstance(body, dict):
            content = httpx.Request("POST", "/", json={**spec("scan-x", name="bad"), **body}).content
        else:
            content = body.encode()
        response = client.post("/api/v1/schedules", content=content, headers={"Content-Type": content_type})
        assert reason in problem(response, 422)["detail"]
        assert client.get("/api/v1/schedules").json()["items"] == []


def test_pause_resume_run_now_and_scopes(sched_server: Server) -> None:
    with sched_server.client("sch-run") as client:
        scan_id = upload(client, SMALL_SCAN)
        assert client.post("/api/v1/schedules", json=spec(scan_id, name="weekly")).status_code == 201
        paused = client.post("/api/v1/schedules/weekly/pause").json()
        assert paused["paused"] is True and paused["spec"]["paused"] is True
        resumed = client.post("/api/v1/schedules/weekly/resume").json()
        assert resumed["paused"] is False and resumed["next_fire_at"]

        fired = client.post("/api/v1/schedules/weekly/run-now")
        assert fired.status_code == 202, fired.text
        run = fired.json()
        assert run["outcome"] == "created" and fired.headers["location"] == f"/api/v1/exports/{run['export_id']}"
        done = wait_status(client, run["export_id"], {"completed", "failed"})
        assert done["status"] == "completed", done
        fires = client.get("/api/v1/schedules/weekly").json()["fires"]
        assert [(f["kind"], f["outcome"], f["export_id"]) for f in fires] == [("manual", "created", run["export_id"])]

    reader = sched_server.client("sch-run", scopes=("export:read",))
    with reader:
        assert reader.get("/api/v1/schedules").status_code == 200
        assert "export:write" in problem(reader.post("/api/v1/schedules/weekly/pause"), 403)["detail"]
        problem(reader.delete("/api/v1/schedules/weekly"), 403)
    problem(httpx.get(sched_server.url + "/api/v1/schedules", headers={"X-Tenant-Id": "sch-run"}), 401)


def test_another_tenants_schedule_is_not_found(sched_server: Server) -> None:
    with sched_server.client("sch-owner") as owner, sched_server.client("sch-intruder") as intruder:
        scan_id = upload(owner, SMALL_SCAN)
        schedule_id = owner.post("/api/v1/schedules", json=spec(scan_id, name="private")).json()["id"]
        assert intruder.get("/api/v1/schedules").json()["items"] == []
        for target in ("private", schedule_id):
            problem(intruder.get(f"/api/v1/schedules/{target}"), 404)
            problem(intruder.post(f"/api/v1/schedules/{target}/pause"), 404)
            problem(intruder.post(f"/api/v1/schedules/{target}/run-now"), 404)
            problem(intruder.put(f"/api/v1/schedules/{target}", json=spec(scan_id, name=target)), 404)
            problem(intruder.delete(f"/api/v1/schedules/{target}"), 404)
        assert owner.get("/api/v1/schedules/private").json()["paused"] is False


def test_serve_runs_the_scheduler_loop(sched_server: Server) -> None:
    """A due schedule is fired by the loop inside `serve` (no CLI scheduler running), once."""
    with sched_server.client("sch-loop") as client:
        scan_id = upload(client, SMALL_SCAN)
        schedule_id = client.post("/api/v1/schedules", json=spec(scan_id, name="due")).json()["id"]
        now = datetime.now(UTC).replace(tzinfo=None)
        due = now.replace(hour=2, minute=0, second=0, microsecond=0)  # the latest "0 2 * * *" instant
        if due > now:
            due -= timedelta(days=1)
        with sqlite3.connect(sched_server.home / "exportcenter.db") as db:
            db.execute("UPDATE schedules SET next_fire_at = ? WHERE id = ?", (due.isoformat(sep=" "), schedule_id))
        deadline = time.monotonic() + 20
        fires: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not fires:
            fires = client.get("/api/v1/schedules/due").json()["fires"]
            time.sleep(0.2)
        assert [f["outcome"] for f in fires] == ["created"], fires
        assert fires[0]["fire_time"] == due.strftime("%Y-%m-%dT%H:%M:%SZ") and fires[0]["kind"] in ("cron", "catch_up")
        assert wait_status(client, fires[0]["export_id"], {"completed", "failed"})["status"] == "completed"
        time.sleep(1)  # several more ticks: still one fire
        assert len(client.get("/api/v1/schedules/due").json()["fires"]) == 1


def test_scheduler_can_be_turned_off(tmp_path: Any) -> None:
    """EXPORTCENTER_SCHEDULER_ENABLED=false: the API still manages schedules, but `serve` fires none."""
    for server in start_server(tmp_path / "off", scheduler_enabled="false", scheduler_interval_seconds="0.2"):
        with server.client("sch-off") as client:
            scan_id = upload(client, SMALL_SCAN)
            schedule_id = client.post("/api/v1/schedules", json=spec(scan_id, name="due")).json()["id"]
            past = (datetime.now(UTC) - timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
            with sqlite3.connect(server.home / "exportcenter.db") as db:
                db.execute("UPDATE schedules SET next_fire_at = ? WHERE id = ?",
                           (past.replace(tzinfo=None).isoformat(sep=" "), schedule_id))
            time.sleep(1.5)
            assert client.get("/api/v1/schedules/due").json()["fires"] == []
            assert client.get("/api/v1/exports").json()["items"] == []


def test_schedules_are_checked_like_export_requests(sched_server: Server) -> None:
    """What POST /api/v1/exports refuses is refused when the schedule is created, with the same status."""
    with sched_server.client("sch-checks") as client:
        scan_id = upload(client, SMALL_SCAN)
        webhook = {"method": "webhook", "config": {"url": "https://hooks.example.com/x"}}
        metadata = {"method": "webhook", "config": {"url": "http://169.254.169.254/latest", "secret": "s"}}
        for body, status, reason in (
                ({**spec(scan_id), "export": {"type": "scan_report", "format": "json", "scope": {}}}, 422,
                 "scope names no data"),
                (spec(scan_id, delivery=webhook), 422, "'secret'"),
                (spec(scan_id, delivery=metadata), 422, "169.254.169.254"),
                (spec(scan_id, delivery={"method": "email", "config": {}}), 422, "'to'"),
                (spec("scan-nope"), 404, "scan ids not found: scan-nope")):
            assert reason in problem(client.post("/api/v1/schedules", json=body), status)["detail"]
            export = client.post("/api/v1/exports", json={**body["export"], "delivery": body.get("delivery")})
            assert export.status_code == status, export.text  # the export endpoint answers the same
        assert client.get("/api/v1/schedules").json()["items"] == []
        relative = {**spec(scan_id, name="weekly"),
                    "export": {"type": "scan_report", "format": "json",
                               "scope": {"date_range": {"start": "-1h", "end": "now"}}}}
        with sched_server.client("sch-checks-empty") as empty_tenant:  # nothing in range now: still accepted
            assert empty_tenant.post("/api/v1/schedules", json=relative).status_code == 201
