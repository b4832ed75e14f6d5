"""`schedules` (list, add --file, pause, resume, delete, run-now) and `scheduler` (the loop on its own)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from exportcenter.cli.common import (
    JsonOption,
    TenantOption,
    err_console,
    handle_errors,
    open_runtime,
    out_console,
    print_json,
    tenant_or_exit,
)
from exportcenter.db.engine import transaction
from exportcenter.errors import exit_code_for
from exportcenter.scheduling import (
    Scheduler,
    delete_schedule,
    describe,
    find_schedule,
    list_schedules,
    set_paused,
    upsert_schedule,
)
from exportcenter.scheduling.loader import parse_schedule_entries, read_schedule_file
from exportcenter.scheduling.validation import raise_problems, schedule_problems
from exportcenter.util.timeutil import iso_z, utcnow

schedules_app = typer.Typer(help="Recurring exports (cron, time zone, delivery).", no_args_is_help=True)


@schedules_app.command("list")
@handle_errors
def list_command(tenant: str = TenantOption, all_tenants: bool = typer.Option(False, "--all-tenants",
                                                                  help="List every tenant's schedules "
                                                                       "(ignores --tenant)."),
                 as_json: bool = JsonOption) -> None:
    """List schedules with their next fire time (UTC)."""
    runtime = open_runtime()
    with runtime.sessions() as session:
        rows = [describe(r) for r in list_schedules(session, None if all_tenants else tenant_or_exit(tenant))]
    if as_json:
        print_json(rows)
        return
    table = Table("name", "tenant", "cron", "timezone", "catch_up", "paused", "next fire (UTC)")
    for row in rows:
        table.add_row(str(row["name"]), str(row["tenant"]), str(row["cron"]), str(row["timezone"]),
                      str(row["catch_up"]), "yes" if row["paused"] else "no", str(row["next_fire_at"] or "-"))
    out_console.print(table)


@schedules_app.command("add")
@handle_errors
def add_command(file: Path = typer.Option(..., "--file", "-f", help="YAML file with `schedules:`."),
                tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """Create or replace (same name) every schedule in the file; nothing is stored unless all are valid."""
    text = read_schedule_file(file)
    specs, problems = parse_schedule_entries(text, str(file))
    runtime = open_runtime()
    owner = tenant_or_exit(tenant)
    now = utcnow()
    with transaction(runtime.sessions) as session:
        problems += schedule_problems(session, runtime.settings, specs, owner, now)
        raise_problems(str(file), problems)
        rows = [describe(upsert_schedule(session, spec, tenant=owner, actor="cli", now=now,
                                         settings=runtime.settings)) for spec in specs]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        out_console.print(f"{row['name']}: next fire {row['next_fire_at']}")


def _set_paused(name: str, tenant: str, paused: bool) -> None:
    runtime = open_runtime()
    with transaction(runtime.sessions) as session:
        row = set_paused(session, tenant_or_exit(tenant), name, paused, actor="cli", now=utcnow())
        state = "paused" if paused else f"resumed; next fire {iso_z(row.next_fire_at)}"
    out_console.print(f"{name}: {state}")


@schedules_app.command("pause")
@handle_errors
def pause_command(name: str, tenant: str = TenantOption) -> None:
    """Stop firing until resumed."""
    _set_paused(name, tenant, True)


@schedules_app.command("resume")
@handle_errors
def resume_command(name: str, tenant: str = TenantOption) -> None:
    """Fire again from now on (fires missed while paused are not caught up)."""
    _set_paused(name, tenant, False)


@schedules_app.command("delete")
@handle_errors
def delete_command(name: str, tenant: str = TenantOption) -> None:
    """Delete a schedule and its fire history (exports it created are kept)."""
    runtime = open_runtime()
    with transaction(runtime.sessions) as session:
        delete_schedule(session, tenant_or_exit(tenant), name, actor="cli")
    out_console.print(f"{name}: deleted")


@schedules_app.command("run-now")
@handle_errors
def run_now_command(name: str, tenant: str = TenantOption, as_json: bool = JsonOption,
                    execute: bool = typer.Option(False, "--execute", help="Also run the export here.")) -> None:
    """Fire a schedule once, now, outside its cron."""
    runtime = open_runtime()
    with runtime.sessions() as session:
        row = find_schedule(session, tenant_or_exit(tenant), name)
    assert row is not None
    scheduler = Scheduler(runtime, on_created=_inline_runner(runtime) if execute else None)
    result = scheduler.run_now(row)
    body: dict[str, Any] = {"schedule": result.schedule, "fire_time": iso_z(result.fire_time),
                            "outcome": result.outcome, "export_id": result.export_id, "error": result.error,
                            "error_code": result.error_code}
    if as_json:
        print_json(body)
    else:
        out_console.print(f"{name}: {result.outcome} {result.export_id or result.error or ''}")
    if result.outcome == "failed":
        raise typer.Exit(exit_code_for(result.error_code))


def _inline_runner(runtime: Any) -> Any:
    def run(export_id: str) -> None:
        from exportcenter.pipeline.run import run_export

        final = run_export(runtime, export_id)
        if final is not None:
            err_console.print(f"export {export_id}: {final.status} (delivery: {final.delivery_status or '-'})")

    return run


@handle_errors
def scheduler_command(interval: float = typer.Option(30.0, "--interval", min=1.0, help="Seconds between ticks."),
                      execute: bool = typer.Option(False, "--execute",
                                                   help="Run fired exports in this process (no worker pool)."),
                      once: bool = typer.Option(False, "--once", help="One tick, then exit.")) -> None:
    """Run the scheduler loop on its own (and the delivery retry task); safe next to other schedulers."""
    from exportcenter.delivery import retry_due_deliveries

    runtime = open_runtime()
    scheduler = Scheduler(runtime, on_created=_inline_runner(runtime) if execute else None)

    def retries(now: Any) -> None:
        retry_due_deliveries(runtime, now)

    if once:
        for result in scheduler.tick():
            out_console.print(f"{result.schedule} {iso_z(result.fire_time)}: {result.outcome} "
                              f"{result.export_id or result.error or ''}")
        retries(utcnow())
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err_console.print(f"scheduler {scheduler.scheduler_id} running (every {interval:g} s); Ctrl-C stops it")
    scheduler.run_forever(stop, interval, also=retries)
