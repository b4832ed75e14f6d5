"""Entry point of the `exportcenter` command."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer

from exportcenter.cli.common import handle_errors
from exportcenter.cli.data_cmds import db_app, formats_command, ingest_command, scans_command
from exportcenter.cli.evidence import keys_app, verify_command
from exportcenter.cli.export_cmds import export_command, exports_app
from exportcenter.cli.schedule_cmds import scheduler_command, schedules_app
from exportcenter.cli.serve_cmds import serve_command, token_command
from exportcenter.cli.tenant_cmds import branding_app, templates_app
from exportcenter.cli.worker_cmds import worker_command
from exportcenter.errors import ConfigurationError

MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600  # a local token lives at most 30 days

app = typer.Typer(name="exportcenter", help="Exports of container-security data: reports, SBOMs, SARIF, evidence.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def package_version() -> str:
    try:
        return version("exportcenter")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"exportcenter {package_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                      help="Print the version and exit."),
) -> None:
    """Exports of container-security data: reports, SBOMs, SARIF, evidence."""


@handle_errors
@functools.wraps(token_command)
def capped_token_command(**kwargs: Any) -> None:
    """`token` with its lifetime capped: a mistyped --ttl must not mint a token that never expires."""
    ttl = kwargs.get("ttl")
    if isinstance(ttl, int) and ttl > MAX_TOKEN_TTL_SECONDS:
        raise ConfigurationError(f"--ttl {ttl} is longer than the {MAX_TOKEN_TTL_SECONDS} seconds (30 days) a "
                                 "local token may live; mint a new one when it expires")
    token_command(**kwargs)


capped_token_command.__doc__ = f"{token_command.__doc__} --ttl is at most 30 days ({MAX_TOKEN_TTL_SECONDS} s)."

app.command("ingest")(ingest_command)
app.command("export")(export_command)
app.command("formats")(formats_command)
app.command("scans")(scans_command)
app.add_typer(exports_app, name="exports")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.command("verify")(verify_command)
app.add_typer(schedules_app, name="schedules")
app.command("scheduler")(scheduler_command)
app.command("serve")(serve_command)
app.command("token")(capped_token_command)
app.command("worker")(worker_command)
app.add_typer(templates_app, name="templates")
app.add_typer(branding_app, name="branding")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
