"""Entry point of the `exportcenter` command."""

from __future__ import annotations

import typer

from exportcenter.cli.data_cmds import db_app, formats_command, ingest_command, scans_command
from exportcenter.cli.evidence import keys_app, verify_command
from exportcenter.cli.export_cmds import export_command, exports_app
from exportcenter.cli.schedule_cmds import scheduler_command, schedules_app
from exportcenter.cli.serve_cmds import serve_command, token_command
from exportcenter.cli.tenant_cmds import branding_app, templates_app
from exportcenter.cli.worker_cmds import worker_command

app = typer.Typer(name="exportcenter", help="Exports of container-security data: reports, SBOMs, SARIF, evidence.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
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
app.command("token")(token_command)
app.command("worker")(worker_command)
app.add_typer(templates_app, name="templates")
app.add_typer(branding_app, name="branding")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
