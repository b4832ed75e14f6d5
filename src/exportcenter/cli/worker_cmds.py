"""`worker`: run procrastinate export workers against the shared PostgreSQL database (any machine)."""

from __future__ import annotations

import typer

from exportcenter.cli.common import err_console, handle_errors
from exportcenter.config import get_settings
from exportcenter.errors import ConfigurationError


@handle_errors
def worker_command(
    concurrency: int = typer.Option(0, "--concurrency", "-c", show_default=False,
                                    help="Exports run at once (default: the worker_concurrency setting, 2 "
                                         "unless set)."),
    queues: list[str] = typer.Option([], "--queues", "-q", help="Queues to take jobs from (repeatable; "
                                     "default: exports)."),
    schedules: bool = typer.Option(True, "--schedules/--no-schedules",
                                   help="Also fire due schedules (each fire is recorded exactly once)."),
) -> None:
    """Run export workers (executor `procrastinate`). SIGTERM lets running exports finish their current
    stage and hands them back to the queue."""
    from exportcenter.jobs.procrastinate_executor import require_postgres
    from exportcenter.jobs.worker import run_worker
    from exportcenter.observability.logging import configure_logging
    from exportcenter.runtime import Runtime
    from exportcenter.util.ids import new_id

    settings = get_settings()
    require_postgres(settings)
    if concurrency < 0:
        raise ConfigurationError("--concurrency must be positive (0 or omitted: the worker_concurrency setting)")
    names = [q for value in queues for q in value.replace(",", " ").split()]
    configure_logging(log_file=settings.home / "logs" / "worker.log")
    runtime = Runtime.open(settings, migrate=False)  # refuses an unmigrated schema with the reason
    worker_id = new_id("wrk")
    err_console.print(f"ExportCenter worker {worker_id}: concurrency {concurrency or settings.worker_concurrency}, "
                      f"queues {', '.join(names) or 'exports'}")
    try:
        run_worker(runtime, concurrency=concurrency or settings.worker_concurrency, queues=names or None,
                   run_schedules=schedules, worker_id=worker_id)
    finally:
        runtime.close()


app = typer.Typer(add_completion=False, no_args_is_help=False, pretty_exceptions_enable=False)
app.command("worker")(worker_command)


@app.callback()
def _group() -> None:
    """Run as `python -m exportcenter.cli.worker_cmds worker ...` when not mounted on the main CLI."""

if __name__ == "__main__":
    app()
