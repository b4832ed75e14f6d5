"""The ``procrastinate`` executor: export jobs in PostgreSQL, run by ``exportcenter worker`` processes.

The export row stays the one truth about a job (state, attempts, owner, lease); the procrastinate job is
the doorbell that makes some worker call ``run_export`` for it:

- ``enqueue_export`` inserts the procrastinate job through the caller's own database connection, so it
  commits or rolls back together with the export row it rings for.
- One queued job per export at a time (procrastinate's ``queueing_lock`` is the export id).
- A retryable failure leaves the export queued with ``next_attempt_at``; the task then asks procrastinate
  to retry the same job at that time. A permanent failure ends the export and the job.
- A worker that stops at a stage boundary (SIGTERM) hands its export back and rings again.
- What a killed worker leaves behind is recovered by ``jobs.worker.Sweeper`` (lease + re-ring).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from exportcenter.config import Settings
from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow
from exportcenter.errors import CancelledError, ConfigurationError
from exportcenter.jobs.state import ExportStatus
from exportcenter.util.timeutil import utcnow

log = logging.getLogger("exportcenter.worker")

TASK_NAME = "exportcenter.run_export"
DEFAULT_QUEUE = "exports"

if TYPE_CHECKING:  # procrastinate is imported lazily: the embedded default never loads it
    import procrastinate


def conninfo(database_url: str) -> str:
    """The libpq URI psycopg understands, from a SQLAlchemy-style PostgreSQL URL."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql://" + database_url.removeprefix(prefix)
    if not database_url.startswith("postgresql://"):
        raise ConfigurationError(
            "the procrastinate executor needs PostgreSQL: set EXPORTCENTER_DATABASE_URL=postgresql://...")
    return database_url


def require_postgres(settings: Settings) -> str:
    return conninfo(settings.resolved_database_url)


class ExportRequeued(Exception):
    """Raised by the task so procrastinate retries the same job when the export is due again."""

    def __init__(self, export_id: str, retry_at: dt.datetime) -> None:
        super().__init__(f"export {export_id} re-queued until {retry_at.isoformat()}")
        self.retry_at = retry_at


def _retry_strategy() -> Any:
    """Retry only what run_export re-queued (retryable failures), at the export's own next_attempt_at.

    The export row counts attempts and computes the exponential backoff; permanent failures never reach
    procrastinate as exceptions, so they are never retried."""
    from procrastinate.retry import BaseRetryStrategy, RetryDecision

    class RetryAtExportTime(BaseRetryStrategy):
        def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
            if isinstance(exception, ExportRequeued):
                return RetryDecision(retry_at=exception.retry_at)
            return None

    return RetryAtExportTime()


@dataclass
class WorkerState:
    """What the task needs inside a worker process (set by ``jobs.worker.run_worker``)."""

    runtime: Any  # exportcenter.runtime.Runtime (kept Any to avoid an import cycle at module load)
    worker_id: str
    stopping: threading.Event = field(default_factory=threading.Event)
    running: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def running_ids(self) -> list[str]:
        with self.lock:
            return sorted(self.running)


_STATE: WorkerState | None = None


def set_worker_state(state: WorkerState | None) -> None:
    global _STATE
    _STATE = state


def make_app(settings: Settings) -> procrastinate.App:
    """A procrastinate App on the configured database with the export task registered."""
    import procrastinate

    connector = procrastinate.PsycopgConnector(conninfo=require_postgres(settings), min_size=1, max_size=4)
    app = procrastinate.App(connector=connector)
    app.task(name=TASK_NAME, queue=DEFAULT_QUEUE, retry=_retry_strategy())(run_export_task)
    return app


_DEFER_APP: Any = None
_DEFER_LOCK = threading.Lock()


def _defer_app() -> Any:
    """A never-opened App: deferring through a caller's connection needs no pool of its own."""
    global _DEFER_APP
    with _DEFER_LOCK:
        if _DEFER_APP is None:
            import procrastinate

            app = procrastinate.App(connector=procrastinate.PsycopgConnector())
            app.task(name=TASK_NAME, queue=DEFAULT_QUEUE)(run_export_task)
            _DEFER_APP = app
        return _DEFER_APP


def enqueue_export(session: Session, export_id: str, *, run_at: dt.datetime | None = None,
                   queue: str = DEFAULT_QUEUE) -> bool:
    """Ring for ``export_id`` inside the session's current transaction. False if a job already waits.

    The job row is written by procrastinate's own ``defer`` on the session's psycopg connection, inside
    a savepoint (plain SQL: the session's own savepoints are lazy), so a duplicate (same queueing lock)
    leaves the caller's transaction usable."""
    from procrastinate import exceptions

    connection = session.connection()
    if connection.dialect.name != "postgresql":
        raise ConfigurationError("the procrastinate executor needs PostgreSQL (EXPORTCENTER_DATABASE_URL)")
    raw: Any = connection.connection.driver_connection
    task = _defer_app().tasks[TASK_NAME]
    options: dict[str, Any] = {"connection": raw, "queueing_lock": export_id, "queue": queue}
    if run_at is not None and run_at > utcnow():
        options["schedule_at"] = run_at
    raw.execute("SAVEPOINT exportcenter_enqueue")
    try:
        task.configure(**options).defer(export_id=export_id)
    except exceptions.AlreadyEnqueued:
        raw.execute("ROLLBACK TO SAVEPOINT exportcenter_enqueue")
        return False
    except exceptions.ConnectorException as exc:
        raw.execute("ROLLBACK TO SAVEPOINT exportcenter_enqueue")
        if "procrastinate_" in str(exc) and "does not exist" in str(exc):
            raise ConfigurationError("the job queue schema is missing: run `exportcenter db upgrade`") from exc
        raise
    raw.execute("RELEASE SAVEPOINT exportcenter_enqueue")
    return True


def queue_schema_present(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql" and "procrastinate_jobs" in inspect(engine).get_table_names()


def apply_queue_schema(engine: Engine) -> bool:
    """Install procrastinate's tables and functions once (part of `exportcenter db upgrade`).

    Returns True when it installed them now. A no-op on SQLite."""
    if engine.dialect.name != "postgresql":
        return False
    from procrastinate.schema import SchemaManager

    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(7406431)"))  # two upgraders: one installs
        if "procrastinate_jobs" in inspect(connection).get_table_names():
            return False
        raw: Any = connection.connection.driver_connection
        raw.execute(SchemaManager.get_schema())  # no parameters: '%' in the SQL stays literal
    return True


def require_queue_schema(engine: Engine) -> None:
    if not queue_schema_present(engine):
        raise ConfigurationError("the job queue schema is missing: run `exportcenter db upgrade`")


# -- the task ---------------------------------------------------------------------------------------
def run_export_task(export_id: str) -> str:
    """Run one export in this worker process; returns the final status (procrastinate logs it)."""
    from exportcenter.pipeline.run import run_export

    state = _STATE
    if state is None:
        raise ConfigurationError("run_export_task runs inside `exportcenter worker` only")
    with state.lock:
        state.running.add(export_id)
    try:
        result = run_export(state.runtime, export_id, worker_id=state.worker_id,
                            progress=_stage_gate(state))
        if result is None:
            return hand_back_if_owned(state, export_id)
        if result.status == ExportStatus.QUEUED and result.next_attempt_at is not None:
            raise ExportRequeued(export_id, result.next_attempt_at)
        return str(result.status)
    finally:
        with state.lock:
            state.running.discard(export_id)


def _stage_gate(state: WorkerState) -> Callable[[str, int], None]:
    """Called after every stage is recorded: demo pause, then stop here if this worker is stopping."""
    delay = float(state.runtime.settings.job_stage_delay_seconds)

    def gate(stage: str, _percent: int) -> None:
        if delay > 0:
            state.stopping.wait(delay)
        if state.stopping.is_set():
            raise CancelledError(f"worker {state.worker_id} is stopping before stage {stage}")

    return gate


def hand_back_if_owned(state: WorkerState, export_id: str) -> str:
    """After a stop at a stage boundary: processing -> queued (attempt not counted) and ring again."""
    from exportcenter.pipeline.events import BUS
    from exportcenter.pipeline.run import export_event

    runtime = state.runtime
    with transaction(runtime.sessions) as session:
        if not _hand_back(session, export_id, state.worker_id):
            return "not-owned"
        enqueue_export(session, export_id)
        row = session.get(ExportRow, export_id, populate_existing=True)
    if row is not None:
        BUS.publish(export_event(row, "queued", reason="worker stopping; handed back"))
    log.info("export %s handed back by stopping worker %s", export_id, state.worker_id)
    return "handed-back"


def _hand_back(session: Session, export_id: str, worker_id: str) -> bool:
    from sqlalchemy import update

    result = session.execute(
        update(ExportRow).where(ExportRow.id == export_id, ExportRow.status == ExportStatus.PROCESSING.value,
                                ExportRow.worker_id == worker_id)
        .values(status=ExportStatus.QUEUED.value, worker_id=None, next_attempt_at=utcnow(),
                attempts=ExportRow.attempts - 1, stage=None)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
