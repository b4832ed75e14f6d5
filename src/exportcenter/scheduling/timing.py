"""Fire times in a schedule's own time zone, and the per-fire values of templated fields."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from jinja2 import DebugUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from exportcenter.errors import InvalidInputError
from exportcenter.pipeline.request import resolve_time
from exportcenter.util.timeutil import iso_z


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def next_fire(cron: str, zone: str, after: datetime) -> datetime:
    """The first fire strictly after ``after``, as an aware UTC datetime (wall clock in ``zone``).

    When clocks go back, a wall time that occurs twice fires once (the first time), as cron does.
    """
    tz = ZoneInfo(zone)
    iterator = croniter(cron, after.astimezone(tz))
    previous_wall = _wall(after, tz)
    while True:
        fire: datetime = iterator.get_next(datetime)
        if fire.replace(tzinfo=None) != previous_wall:
            return fire.astimezone(UTC)


def fires_between(cron: str, zone: str, start: datetime, end: datetime, limit: int = 1000) -> Iterator[datetime]:
    """Fires ``start <= t <= end`` (``start`` itself counts when it is a fire time), at most ``limit``."""
    count = 0
    current = next_fire(cron, zone, start - timedelta(microseconds=1))
    while current <= end and count < limit:
        yield current
        count += 1
        current = next_fire(cron, zone, current)


def fire_variables(fire_time: datetime, zone: str, tenant: str, name: str) -> dict[str, str]:
    """``{{week}}`` (ISO week, e.g. 2025-W14), ``{{date}}``, ``{{tenant}}``, ``{{schedule}}``, ``{{fire_time}}``."""
    local = fire_time.astimezone(ZoneInfo(zone))
    iso = local.isocalendar()
    return {"week": f"{iso.year}-W{iso.week:02d}", "date": local.strftime("%Y-%m-%d"),
            "month": local.strftime("%Y-%m"), "year": f"{local.year}", "tenant": tenant, "schedule": name,
            "fire_time": iso_z(fire_time) or ""}


class _KeepUnknown(ImmutableSandboxedEnvironment):
    """Unknown names stay as written, so later stages (email: ``{{export_id}}``) can fill them."""


_ENV = _KeepUnknown(autoescape=False, undefined=DebugUndefined)


def render_fields(value: Any, variables: dict[str, str]) -> Any:
    """Render every string inside ``value`` (dicts, lists) with the fire's variables."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        try:
            return _ENV.from_string(value).render(**variables)
        except TemplateError as exc:
            raise InvalidInputError(f"template in schedule field {value[:60]!r} failed: {exc.message or exc}") from exc
    if isinstance(value, dict):
        return {k: render_fields(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_fields(v, variables) for v in value]
    return value


def pin_date_range(export: dict[str, Any], fire_time: datetime) -> dict[str, Any]:
    """Relative bounds ("-7d", "now") become absolute UTC times of this fire, so a late run covers the same span."""
    scope = export.get("scope") or {}
    date_range = scope.get("date_range")
    if not isinstance(date_range, dict):
        return export
    pinned = {key: iso_z(resolve_time(str(date_range[key]), fire_time)) if key in date_range else None
              for key in ("start", "end")}
    return {**export, "scope": {**scope, "date_range": {k: v for k, v in pinned.items() if v is not None}}}
