"""Retention: exports past ``expires_at`` lose their artifacts; their metadata stays, marked "expired"."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import select

from exportcenter.catalog import audit
from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow
from exportcenter.jobs.state import ExportStatus, transition
from exportcenter.pipeline.events import BUS
from exportcenter.pipeline.run import export_event
from exportcenter.runtime import Runtime
from exportcenter.storage import export_prefix
from exportcenter.util.timeutil import utcnow

log = logging.getLogger("exportcenter.retention")
BATCH = 200


def purge_expired(runtime: Runtime, now: datetime | None = None) -> list[str]:
    """Expire every finished export whose ``expires_at`` has passed. Returns the ids purged."""
    now = now or utcnow()
    finished = [ExportStatus.COMPLETED.value, ExportStatus.FAILED.value, ExportStatus.CANCELLED.value]
    purged: list[str] = []
    while True:
        with transaction(runtime.sessions) as session:
            rows = list(session.scalars(select(ExportRow).where(
                ExportRow.status.in_(finished), ExportRow.expires_at.is_not(None), ExportRow.expires_at <= now)
                .order_by(ExportRow.expires_at).limit(BATCH)))
            if not rows:
                return purged
            for row in rows:
                prefix = row.storage_prefix or export_prefix(row.tenant, row.created_at, row.id)
                if not transition(session, row.id, ExportStatus.EXPIRED, expect=ExportStatus(row.status)):
                    continue
                removed = runtime.store.delete_prefix(prefix)
                audit.record(session, tenant=row.tenant, actor="retention", action="export.expire",
                             resource=row.id, outcome="success", detail=f"{removed} artifact file(s) deleted")
                row.status = ExportStatus.EXPIRED.value
                purged.append(row.id)
                BUS.publish(export_event(row, "expired"))
        if len(rows) < BATCH:
            return purged


class RetentionTask:
    """Runs ``purge_expired`` every ``retention_interval_seconds`` on a daemon thread."""

    def __init__(self, runtime: Runtime, interval: float | None = None) -> None:
        self.runtime = runtime
        self.interval = max(1.0, float(interval or runtime.settings.retention_interval_seconds))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="export-retention", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                purged = purge_expired(self.runtime)
                if purged:
                    log.info("retention purged %d expired export(s)", len(purged))
            except Exception:
                log.exception("retention pass failed")
            if self._stop.wait(self.interval):
                return

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
