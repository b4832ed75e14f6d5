"""The scheduler loop: find due fires, create each export exactly once, advance the cursor.

Exactly once: every fire first inserts a ``schedule_fires`` row, unique on (schedule_id, fire_time), in the
same transaction that creates the export. Of several scheduler processes racing for one fire, one insert
wins; the others hit the unique constraint, roll back, and move on. The clock is injected, so tests step it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from exportcenter.db.engine import transaction
from exportcenter.db.models_delivery import ScheduleFireRow, ScheduleRow
from exportcenter.errors import ExportCenterError
from exportcenter.pipeline.events import BUS
from exportcenter.pipeline.request import parse_request
from exportcenter.runtime import Runtime
from exportcenter.scheduling.service import build_request_body, spec_of
from exportcenter.scheduling.timing import fires_between, next_fire
from exportcenter.util.ids import new_id
from exportcenter.util.timeutil import iso_z, utcnow

log = logging.getLogger("exportcenter.scheduler")
Clock = Callable[[], datetime]
MAX_CATCH_UP = 1000


@dataclass(frozen=True)
class FireResult:
    schedule_id: str
    schedule: str
    fire_time: datetime
    outcome: str  # created | skipped | failed | lost (another scheduler recorded it)
    export_id: str | None = None
    error: str | None = None
    error_code: str | None = None  # the ExportCenterError code of a failed fire (errors.exit_code_for maps it)


class Scheduler:
    def __init__(self, runtime: Runtime, *, clock: Clock = utcnow, scheduler_id: str | None = None,
                 grace: timedelta = timedelta(minutes=5),
                 on_created: Callable[[str], None] | None = None) -> None:
        self.runtime = runtime
        self.clock = clock
        self.scheduler_id = scheduler_id or new_id("sched")
        self.grace = grace
        self.on_created = on_created  # e.g. run the export inline when no worker pool runs

    def tick(self) -> list[FireResult]:
        """Handle every fire due at ``clock()``; returns what this instance did."""
        now = self.clock()
        with transaction(self.runtime.sessions) as session:
            due = list(session.scalars(select(ScheduleRow).where(ScheduleRow.paused.is_(False),
                                                                 ScheduleRow.next_fire_at <= now)
                                       .order_by(ScheduleRow.next_fire_at)))
        results: list[FireResult] = []
        for row in due:
            try:
                results.extend(self._handle(row, now))
            except Exception:  # one broken schedule must not stop the others
                log.exception("schedule %s (%s) could not be handled", row.name, row.id)
        return results

    def _handle(self, row: ScheduleRow, now: datetime) -> list[FireResult]:
        assert row.next_fire_at is not None
        times = list(fires_between(row.cron, row.timezone, row.next_fire_at, now, limit=MAX_CATCH_UP))
        plan = plan_fires(times, now, row.catch_up, self.grace)
        results = [self.fire(row, moment, kind) if run else self._record_skip(row, moment) for moment, run, kind
                   in plan]
        cursor = next_fire(row.cron, row.timezone, times[-1] if times else now)
        with transaction(self.runtime.sessions) as session:  # guarded: only the first instance moves it
            session.execute(update(ScheduleRow).where(ScheduleRow.id == row.id,
                                                      ScheduleRow.next_fire_at == row.next_fire_at)
                            .values(next_fire_at=cursor, last_fire_at=times[-1] if times else row.last_fire_at))
        return results

    def fire(self, row: ScheduleRow, fire_time: datetime, kind: str = "cron") -> FireResult:
        """Create the export of one fire, once. ``kind`` is cron, catch_up or manual."""
        spec = spec_of(row)
        try:
            body = build_request_body(spec, row.tenant, fire_time)
            request = parse_request(body, tenant=row.tenant)
        except ExportCenterError as exc:
            return self._record(row, fire_time, kind, "failed", error=exc.message, error_code=exc.code)
        from exportcenter.pipeline.run import create_export

        try:
            with transaction(self.runtime.sessions) as session:
                fire_row = ScheduleFireRow(schedule_id=row.id, fire_time=fire_time, fired_at=self.clock(),
                                           kind=kind, outcome="created", scheduler_id=self.scheduler_id)
                session.add(fire_row)
                session.flush()  # the unique (schedule_id, fire_time) row: losing here means someone else fired
                export = create_export(self.runtime, session, tenant=row.tenant, request=request,
                                       requested_by=f"schedule:{row.name}"[:256])
                fire_row.export_id = export.id
                export_id = export.id
        except IntegrityError:
            return FireResult(row.id, row.name, fire_time, "lost")
        except ExportCenterError as exc:
            return self._record(row, fire_time, kind, "failed", error=exc.message, error_code=exc.code)
        log.info("schedule %s fired for %s: export %s", row.name, iso_z(fire_time), export_id)
        BUS.publish({"event": "queued", "export_id": export_id, "tenant": row.tenant, "type": request.type.value,
                     "format": request.format, "status": "queued", "schedule": row.name,
                     "fire_time": iso_z(fire_time), "time": iso_z(utcnow())})
        if self.on_created is not None:
            self.on_created(export_id)
        return FireResult(row.id, row.name, fire_time, "created", export_id=export_id)

    def _record_skip(self, row: ScheduleRow, fire_time: datetime) -> FireResult:
        return self._record(row, fire_time, "catch_up", "skipped", error="missed while no scheduler ran")

    def _record(self, row: ScheduleRow, fire_time: datetime, kind: str, outcome: str, *,
                error: str | None, error_code: str | None = None) -> FireResult:
        try:
            with transaction(self.runtime.sessions) as session:
                session.add(ScheduleFireRow(schedule_id=row.id, fire_time=fire_time, fired_at=self.clock(),
                                            kind=kind, outcome=outcome, error=error,
                                            scheduler_id=self.scheduler_id))
        except IntegrityError:
            return FireResult(row.id, row.name, fire_time, "lost")
        if outcome == "failed":
            log.warning("schedule %s fire %s failed: %s", row.name, iso_z(fire_time), error)
            BUS.publish({"event": "schedule_failed", "tenant": row.tenant, "schedule": row.name,
                         "fire_time": iso_z(fire_time), "error": error, "time": iso_z(utcnow())})
        return FireResult(row.id, row.name, fire_time, outcome, error=error, error_code=error_code)

    def run_now(self, row: ScheduleRow) -> FireResult:
        return self.fire(row, self.clock(), "manual")

    def run_forever(self, stop: threading.Event, interval: float = 30.0,
                    also: Callable[[datetime], object] | None = None) -> None:
        """Tick until ``stop`` is set; ``also(now)`` runs after each tick (e.g. delivery retries)."""
        while not stop.is_set():
            try:
                self.tick()
                if also is not None:
                    also(self.clock())
            except Exception:
                log.exception("scheduler tick failed")
            stop.wait(interval)


def plan_fires(times: list[datetime], now: datetime, catch_up: str,
               grace: timedelta) -> list[tuple[datetime, bool, str]]:
    """(fire time, run it?, kind) per due fire. On time = at most ``grace`` late; the rest were missed."""
    plan = []
    for index, moment in enumerate(times):
        late = now - moment > grace
        if not late:
            plan.append((moment, True, "cron"))
        elif catch_up == "all":
            plan.append((moment, True, "catch_up"))
        elif catch_up == "latest":
            plan.append((moment, index == len(times) - 1, "catch_up"))
        else:
            plan.append((moment, False, "catch_up"))
    return plan
