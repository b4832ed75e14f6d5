"""Tables of delivery attempts and scheduled exports (migration 0003)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from exportcenter.db.models import Base, UTCDateTime


class DeliveryAttemptRow(Base):
    """One try at delivering one export: when, how it ended, what the peer answered."""

    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    export_id: Mapped[str] = mapped_column(ForeignKey("exports.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    method: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | retrying | failed
    response_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    __table_args__ = (Index("ux_delivery_attempts_export_attempt", "export_id", "attempt", unique=True),)


class ScheduleRow(Base):
    """A recurring export in the spec's YAML form, kept whole in ``spec``; ``next_fire_at`` is the cursor."""

    __tablename__ = "schedules"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(128))
    cron: Mapped[str] = mapped_column(String(128))
    timezone: Mapped[str] = mapped_column(String(64))
    catch_up: Mapped[str] = mapped_column(String(8))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(256), default="cli")
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    last_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    __table_args__ = (Index("ux_schedules_tenant_name", "tenant", "name", unique=True),)


class ScheduleFireRow(Base):
    """One fire of one schedule. The unique (schedule_id, fire_time) pair makes every fire happen once."""

    __tablename__ = "schedule_fires"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    fire_time: Mapped[datetime] = mapped_column(UTCDateTime())
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16))  # cron | catch_up | manual
    outcome: Mapped[str] = mapped_column(String(16))  # created | skipped | failed
    export_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    scheduler_id: Mapped[str | None] = mapped_column(String(128))
    __table_args__ = (Index("ux_schedule_fires_schedule_time", "schedule_id", "fire_time", unique=True),)
