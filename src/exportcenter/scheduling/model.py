"""A schedule exactly in the spec's YAML form (name, cron, export, delivery) plus timezone, paused, catch_up."""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from exportcenter.pipeline.request import Delivery

CatchUp = Literal["all", "latest", "skip"]


class ScheduleSpec(BaseModel):
    """``catch_up`` says what happens to fires missed while no scheduler ran: run ``all`` of them, only the
    ``latest``, or ``skip`` them (a fire counts as missed when it is more than the grace period late)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    cron: str
    export: dict[str, Any]
    delivery: Delivery | None = None
    timezone: str = "UTC"
    paused: bool = False
    catch_up: CatchUp = "latest"
    tenant: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        text = " ".join(value.split())
        if len(text.split(" ")) != 5 or not croniter.is_valid(text):
            raise ValueError(f"invalid cron expression {value!r}: use five fields, e.g. '0 8 * * MON'")
        return text

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Amsterdam") from None
        return value

    @field_validator("export")
    @classmethod
    def _export_has_basics(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "delivery" in value:
            raise ValueError("put delivery next to export (the spec's form), not inside it")
        for key in ("type", "format"):
            if not value.get(key):
                raise ValueError(f"export needs {key!r}")
        return value
