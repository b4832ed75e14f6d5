"""Audit entries of API reads and refusals, appended in batches by one thread (off the request path).

Writes that change state (export.create, ingest) are audited inside their own transaction; the many
read-side entries go through this buffer so a status GET does not wait on the database's write lock.
Each entry keeps the time of its request, and ``flush`` (called before any request that can change state)
writes every entry queued so far first, so the log stays in the order things happened.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from exportcenter.catalog import audit
from exportcenter.db.engine import transaction
from exportcenter.util.timeutil import utcnow

log = logging.getLogger("exportcenter.api.audit")
BATCH = 500


@dataclass(frozen=True)
class Entry:
    tenant: str
    actor: str
    action: str
    resource: str
    outcome: str
    detail: str | None
    source_address: str | None


class AuditBuffer:
    def __init__(self, sessions: sessionmaker[Session], flush_seconds: float = 0.05) -> None:
        self._sessions = sessions
        self._flush_seconds = flush_seconds
        self._queue: queue.Queue[tuple[Entry, datetime] | threading.Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="audit-writer", daemon=True)
        self._thread.start()

    def append(self, entry: Entry) -> None:
        self._queue.put((entry, utcnow()))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every entry appended before this call is written; False on timeout."""
        if not self._thread.is_alive():
            return False
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH and isinstance(batch[-1], tuple):  # a flush or close ends the batch
                try:
                    batch.append(self._queue.get(timeout=self._flush_seconds))
                except queue.Empty:
                    break
            entries = [item for item in batch if isinstance(item, tuple)]
            if entries:
                self._write(entries)
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
            if any(item is None for item in batch):
                return

    def _write(self, entries: list[tuple[Entry, datetime]]) -> None:
        try:
            with transaction(self._sessions) as session:
                for entry, when in entries:
                    audit.record(session, tenant=entry.tenant, actor=entry.actor, action=entry.action,
                                 resource=entry.resource, outcome=entry.outcome, detail=entry.detail,
                                 source_address=entry.source_address, time=when)
        except Exception:
            log.exception("could not append %d audit entries", len(entries))
