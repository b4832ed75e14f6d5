"""Schedules with a controlled clock: DST-correct fire instants, exactly once across schedulers, catch-up."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from exportcenter.catalog.documents import ingest
from exportcenter.config import Settings
from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow, ScanRow
from exportcenter.db.models_delivery import ScheduleFireRow, ScheduleRow
from exportcenter.errors import DataNotFoundError, InvalidInputError
from exportcenter.runtime import Runtime
from exportcenter.scheduling import Scheduler, parse_schedules, set_paused, upsert_schedule
from exportcenter.scheduling.service import build_request_body
from exportcenter.scheduling.timing import fires_between

SCAN = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "scans" / "trivy_json_alpine-310.json"

SPEC_YAML = """
schedules:
  - name: weekly-executive-summary
    cron: "0 8 * * MON"   # Every Monday at 8 AM
    timezone: Europe/Amsterdam
    export:
      type: scan_summary
      format: csv
      scope:
        scan_ids: [{scan_id}]
      options:
        template: compliance-executive
    delivery:
      method: email
      config:
        to: ["security-leads@acme.com"]
        subject: "Weekly Security Summary - {{{{week}}}} ({{{{tenant}}}})"
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


@pytest.fixture()
def runtime(tmp_path: Path) -> Any:
    rt = Runtime.open(Settings(home=tmp_path))
    yield rt
    rt.close()


def _scan(runtime: Runtime) -> str:
    return ingest(runtime.sessions, tenant="acme", name=SCAN.name, content=SCAN.read_bytes()).ids["scan_id"]


def _add(runtime: Runtime, text: str, now: datetime) -> ScheduleRow:
    [spec] = parse_schedules(text)
    with transaction(runtime.sessions) as session:
        return upsert_schedule(session, spec, tenant="acme", actor="test", now=now)


def _exports(runtime: Runtime) -> list[ExportRow]:
    with runtime.sessions() as session:
        return list(session.scalars(select(ExportRow).order_by(ExportRow.created_at)))


def _daily(scan_id: str, catch_up: str) -> str:
    return f"""
name: nightly-{catch_up}
cron: "0 6 * * *"
catch_up: {catch_up}
export: {{type: scan_report, format: json, scope: {{scan_ids: [{scan_id}]}}}}
"""


def test_weekly_schedule_fires_at_the_right_utc_instants_across_dst(runtime: Runtime) -> None:
    row = _add(runtime, SPEC_YAML.format(scan_id=_scan(runtime)), utc(2025, 3, 20))
    assert row.next_fire_at == utc(2025, 3, 24, 7)  # 08:00 CET = 07:00Z
    clock = Clock(utc(2025, 3, 24, 6, 59))
    scheduler = Scheduler(runtime, clock=clock)
    assert scheduler.tick() == []
    fired = []
    for moment in (utc(2025, 3, 24, 7, 0, 20), utc(2025, 3, 31, 5, 59), utc(2025, 3, 31, 6, 0, 5),
                   utc(2025, 10, 20, 6, 1), utc(2025, 10, 27, 7, 1)):
        clock.now = moment
        fired += [(r.fire_time, r.outcome) for r in scheduler.tick()]
    # clocks went forward on 30 March (08:00 CEST = 06:00Z) and back on 26 October (08:00 CET = 07:00Z)
    assert fired[:2] == [(utc(2025, 3, 24, 7), "created"), (utc(2025, 3, 31, 6), "created")]
    assert fired[2][0] == utc(2025, 4, 7, 6) and fired[2][1] == "skipped"  # downtime until October: latest only
    assert (utc(2025, 10, 20, 6), "created") in fired and fired[-1] == (utc(2025, 10, 27, 7), "created")
    exports = _exports(runtime)
    assert len(exports) == 4
    first = exports[0].request
    assert first["delivery"]["config"]["subject"] == "Weekly Security Summary - 2025-W13 (acme)"
    assert exports[1].request["delivery"]["config"]["subject"] == "Weekly Security Summary - 2025-W14 (acme)"
    assert first["type"] == "scan_summary" and first["options"]["template"] == "compliance-executive"
    assert exports[0].requested_by == "schedule:weekly-executive-summary"


def test_fire_instants_in_the_ambiguous_and_missing_hours() -> None:
    daily = list(fires_between("30 2 * * *", "Europe/Amsterdam", utc(2025, 10, 25), utc(2025, 10, 27)))
    assert daily == [utc(2025, 10, 25, 0, 30), utc(2025, 10, 26, 0, 30)]  # 02:30 happens twice: fires once
    spring = list(fires_between("30 2 * * *", "Europe/Amsterdam", utc(2025, 3, 29), utc(2025, 3, 31)))
    assert spring == [utc(2025, 3, 29, 1, 30), utc(2025, 3, 30, 1, 0)]  # 02:30 does not exist: at 03:00 CEST


def test_two_schedulers_racing_fire_each_instant_exactly_once(tmp_path: Path) -> None:
    first = Runtime.open(Settings(home=tmp_path))
    second = Runtime.open(Settings(home=tmp_path))
    try:
        _add(first, _daily(_scan(first), "all"), utc(2025, 1, 1, 12))
        clock = Clock(utc(2025, 1, 6, 6, 0, 30))  # 5 fires due (2nd..6th January)
        schedulers = [Scheduler(first, clock=clock, scheduler_id="a"), Scheduler(second, clock=clock,
                                                                                 scheduler_id="b")]
        barrier = threading.Barrier(2)
        results: dict[str, list[Any]] = {}

        def run(s: Scheduler) -> None:
            barrier.wait()
            results[s.scheduler_id] = s.tick() + s.tick()

        threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        created = [r for rs in results.values() for r in rs if r.outcome == "created"]
        assert sorted(r.fire_time for r in created) == [utc(2025, 1, d, 6) for d in range(2, 7)]
        assert len(_exports(first)) == 5
        with first.sessions() as session:
            assert session.scalar(select(func.count()).select_from(ScheduleFireRow)) == 5
            row = session.scalar(select(ScheduleRow))
            assert row is not None and row.next_fire_at == utc(2025, 1, 7, 6)
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(("catch_up", "created", "skipped"), [("all", 3, 0), ("latest", 1, 2), ("skip", 0, 3)])
def test_catch_up_after_downtime(runtime: Runtime, catch_up: str, created: int, skipped: int) -> None:
    _add(runtime, _daily(_scan(runtime), catch_up), utc(2025, 2, 1, 12))
    clock = Clock(utc(2025, 2, 4, 7))  # down from before the 2nd 06:00 until an hour after the 4th 06:00
    results = Scheduler(runtime, clock=clock).tick()
    assert [r.fire_time for r in results] == [utc(2025, 2, d, 6) for d in (2, 3, 4)]
    assert sum(r.outcome == "created" for r in results) == created
    assert sum(r.outcome == "skipped" for r in results) == skipped
    if catch_up == "latest":
        assert [r.fire_time for r in results if r.outcome == "created"] == [utc(2025, 2, 4, 6)]
    clock.now = utc(2025, 2, 5, 6, 1)  # back to normal: on time fires run whatever the catch-up mode
    assert [(r.fire_time, r.outcome) for r in Scheduler(runtime, clock=clock).tick()] == [
        (utc(2025, 2, 5, 6), "created")]
    assert len(_exports(runtime)) == created + 1


def test_pause_resume_and_run_now(runtime: Runtime) -> None:
    _add(runtime, _daily(_scan(runtime), "all"), utc(2025, 5, 1))
    with transaction(runtime.sessions) as session:
        set_paused(session, "acme", "nightly-all", True, actor="test", now=utc(2025, 5, 1))
    clock = Clock(utc(2025, 5, 3, 7))
    scheduler = Scheduler(runtime, clock=clock)
    assert scheduler.tick() == []
    with transaction(runtime.sessions) as session:
        row = set_paused(session, "acme", "nightly-all", False, actor="test", now=clock.now)
    assert row.next_fire_at == utc(2025, 5, 4, 6)  # missed fires while paused are not caught up
    manual = scheduler.run_now(row)
    assert manual.outcome == "created" and manual.export_id is not None
    assert [e.id for e in _exports(runtime)] == [manual.export_id]


def test_relative_ranges_are_pinned_to_the_fire_time() -> None:
    [spec] = parse_schedules("""
name: weekly
cron: "0 8 * * MON"
timezone: Europe/Amsterdam
export:
  type: vulnerability_report
  format: csv
  scope: {date_range: {start: "-7d", end: "now"}}
  options: {custom_fields: {title: "Report {{date}} for {{tenant}}"}}
""")
    body: dict[str, Any] = build_request_body(spec, "acme", utc(2025, 3, 31, 6))
    assert body["scope"] == {"date_range": {"start": "2025-03-24T06:00:00Z", "end": "2025-03-31T06:00:00Z"}}
    assert body["options"] == {"custom_fields": {"title": "Report 2025-03-31 for acme"}}


def test_a_schedule_naming_a_missing_scan_is_refused_at_creation(runtime: Runtime) -> None:
    with pytest.raises(DataNotFoundError, match="scan ids not found: scan-does-not-exist"):
        _add(runtime, _daily("scan-does-not-exist", "all"), utc(2025, 6, 1, 12))


def test_a_fire_whose_scope_finds_nothing_is_recorded_as_failed(runtime: Runtime) -> None:
    scan_id = _scan(runtime)
    _add(runtime, _daily(scan_id, "all"), utc(2025, 6, 1, 12))
    with transaction(runtime.sessions) as session:  # the scan goes away after the schedule was created
        session.query(ScanRow).filter(ScanRow.id == scan_id).delete()
    [result] = Scheduler(runtime, clock=Clock(utc(2025, 6, 2, 6, 0, 1))).tick()
    assert result.outcome == "failed" and "scan ids not found" in (result.error or "")
    assert result.error_code == "data_not_found"
    assert _exports(runtime) == []


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\ncron: '0 8 * *'\nexport: {type: sbom, format: spdx}", "invalid cron"),
    ("name: x\ncron: '0 8 * * MON'\ntimezone: Mars/Olympus\nexport: {type: sbom, format: spdx}", "unknown time zone"),
    ("name: x\ncron: '0 8 * * MON'\ncatch_up: sometimes\nexport: {type: sbom, format: spdx}", "catch_up"),
    ("name: x\ncron: '0 8 * * MON'\nexport: {format: spdx}", "needs 'type'"),
    ("schedules: [", "not valid YAML"),
])
def test_invalid_schedule_files_say_why(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_schedules(text, "schedules.yaml")
