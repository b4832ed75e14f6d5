"""Scheduled exports: the spec's YAML schedules, cron in a time zone, each fire exactly once."""

from __future__ import annotations

from exportcenter.scheduling.loader import load_schedules, parse_schedules
from exportcenter.scheduling.model import ScheduleSpec
from exportcenter.scheduling.scheduler import FireResult, Scheduler, plan_fires
from exportcenter.scheduling.service import (
    delete_schedule,
    describe,
    find_schedule,
    list_schedules,
    set_paused,
    upsert_schedule,
)

__all__ = ["FireResult", "ScheduleSpec", "Scheduler", "delete_schedule", "describe", "find_schedule",
           "list_schedules", "load_schedules", "parse_schedules", "plan_fires", "set_paused", "upsert_schedule"]
