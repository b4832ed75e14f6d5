"""`ingest`, `scans`, `formats` and `db` commands."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select

from exportcenter.catalog.documents import IngestResult, ingest_all, scan_summary
from exportcenter.cli.common import (
    JsonOption,
    TenantOption,
    err_console,
    handle_errors,
    open_runtime,
    out_console,
    print_json,
    table_with_ids,
    tenant_or_exit,
)
from exportcenter.db.models import ScanRow
from exportcenter.errors import InvalidInputError
from exportcenter.model import SUPPORTED_FORMATS, TYPE_DESCRIPTIONS

db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)


def read_input_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such file", file=str(path)) from None
    except IsADirectoryError:
        raise InvalidInputError(f"{path}: is a directory, not a file", file=str(path)) from None
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot be read ({exc.strerror})", file=str(path)) from None


def ingest_paths(runtime: object, tenant: str, paths: list[Path], actor: str = "cli") -> list[IngestResult]:
    """Read and ingest every file all or nothing: one missing or refused file stores none of them."""
    files = [(path.name, read_input_file(path)) for path in paths]
    return ingest_all(runtime.sessions, tenant=tenant, files=files, actor=actor)  # type: ignore[attr-defined]


@handle_errors
def ingest_command(
    files: list[Path] = typer.Argument(
        ..., help="Trivy/Grype JSON, CycloneDX, SPDX, OpenVEX, CSAF, SARIF or policy verdict (docs/policy.md) files."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Store scanner, SBOM and VEX files (format sniffed from content; re-ingesting is a no-op).

    All or nothing: every file is checked before any is stored, so when one is missing or refused
    (exit 2, naming the file and why) none of them is stored; fix it and run the same command again."""
    tenant = tenant_or_exit(tenant)
    runtime = open_runtime()
    results = ingest_paths(runtime, tenant, files)
    if as_json:
        print_json([r.as_dict() for r in results])
        return
    rows = [[r.name, r.source_format, ",".join(r.kinds), " ".join(r.ids.values()),
             " ".join(f"{k}={v}" for k, v in r.counts.items()), "yes" if r.created else "already stored"]
            for r in results]
    out_console.print(table_with_ids(["file", "format", "kinds", "ids", "counts", "new"], rows, {"ids"}))
    for r in results:
        for warning in r.warnings:
            err_console.print(f"[yellow]warning:[/] {r.name}: {warning}")


@handle_errors
def scans_command(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """List what a scope can name: scans, SBOMs and code-guard runs."""
    tenant = tenant_or_exit(tenant)
    runtime = open_runtime()
    with runtime.sessions() as session:
        rows = list(session.scalars(select(ScanRow).where(ScanRow.tenant == tenant)
                                    .order_by(ScanRow.created_at, ScanRow.id)))
        summaries = [scan_summary(r) for r in rows]
    if as_json:
        print_json(summaries)
        return
    rows = [[s["id"], s["kind"], s["artifact_name"], s["scanner"] or "", s["created_at"] or "",
             f"- ({s['components']} components)" if s["kind"] == "sbom" else str(s["findings"])] for s in summaries]
    out_console.print(table_with_ids(["id", "kind", "artifact", "scanner", "created", "findings"], rows, {"id"}))


@handle_errors
def formats_command(as_json: bool = JsonOption) -> None:
    """Print the export type x format table (the spec's "Export Types")."""
    if as_json:
        print_json({t.value: [f.value for f in fmts] for t, fmts in SUPPORTED_FORMATS.items()})
        return
    table = Table("type", "description", "formats")
    for export_type, formats in SUPPORTED_FORMATS.items():
        table.add_row(export_type.value, TYPE_DESCRIPTIONS[export_type], ", ".join(f.value for f in formats))
    out_console.print(table)


@db_app.command("upgrade")
@handle_errors
def db_upgrade() -> None:
    """Apply every schema migration (SQLite or PostgreSQL per EXPORTCENTER_DATABASE_URL)."""
    from exportcenter.config import get_settings
    from exportcenter.db.engine import current_revision, make_engine, upgrade

    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    out_console.print(f"database at revision {current_revision(engine)}")
    if engine.dialect.name == "postgresql":  # the procrastinate executor's job queue lives beside it
        from exportcenter.jobs.procrastinate_executor import apply_queue_schema

        out_console.print("job queue schema " + ("installed" if apply_queue_schema(engine) else "present"))
