"""`export` (request, run and print the manifest) and `exports` (list, show)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn
from sqlalchemy import select

from exportcenter.cli.common import (
    JsonOption,
    TenantOption,
    directory_problem,
    err_console,
    handle_errors,
    open_runtime,
    os_reason,
    out_console,
    print_json,
    table_with_ids,
    tenant_or_exit,
)
from exportcenter.cli.data_cmds import ingest_paths, read_input_file
from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow
from exportcenter.errors import DeliveryError, InvalidInputError, exit_code_for
from exportcenter.model import ExportType
from exportcenter.pipeline.request import parse_request
from exportcenter.pipeline.run import create_export, run_export
from exportcenter.pipeline.scope import KINDS_FOR_TYPE
from exportcenter.util.jsonio import loads
from exportcenter.util.timeutil import iso_z

exports_app = typer.Typer(help="List and inspect exports.", no_args_is_help=True)


def _key_values(pairs: list[str], what: str) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"{what} {pair!r} must look like KEY=VALUE")
        result[key.strip()] = value
    return result


def _request_from_flags(export_type: str | None, export_format: str | None, scan_ids: list[str],
                        image_refs: list[str], since: str | None, until: str | None, template: str | None,
                        options: dict[str, str], custom: dict[str, str], include_sbom: bool,
                        include_evidence: bool, include_remediation: bool,
                        policy_sets: list[str]) -> dict[str, Any]:
    if not export_type or not export_format:
        raise InvalidInputError("--type and --format are required (or give --request FILE)")
    scope: dict[str, Any] = {}
    if scan_ids:
        scope["scan_ids"] = scan_ids
    if image_refs:
        scope["image_refs"] = image_refs
    if since or until:
        scope["date_range"] = {"start": since or "1970-01-01", "end": until or "now"}
    if policy_sets:
        scope["policy_sets"] = policy_sets
    body: dict[str, Any] = {"include_sbom": include_sbom, "include_evidence": include_evidence,
                            "include_remediation": include_remediation, **options}
    if template:
        body["template"] = template
    if custom:
        body["custom_fields"] = custom
    return {"type": export_type, "format": export_format, "scope": scope, "options": body}


@handle_errors
def export_command(
    export_type: str = typer.Option(None, "--type", help="Export type (see `exportcenter formats`)."),
    export_format: str = typer.Option(None, "--format", help="Format for that type."),
    scan_ids: list[str] = typer.Option([], "--scan", help="Scan (or SBOM / SARIF) id; repeatable."),
    image_refs: list[str] = typer.Option([], "--image", help="Image reference; repeatable."),
    inputs: list[Path] = typer.Option([], "--input", help="Ingest these files (all or nothing), then export them."),
    since: str = typer.Option(None, "--since", help="Start of date range: ISO date/time, 'now' or '-7d'."),
    until: str = typer.Option(None, "--until", help="End of date range (default now)."),
    template: str = typer.Option(None, "--template", help="Report template name."),
    option: list[str] = typer.Option([], "--option", help="Extra option KEY=VALUE; repeatable."),
    custom_field: list[str] = typer.Option([], "--custom-field", help="Custom field KEY=VALUE; repeatable."),
    include_sbom: bool = typer.Option(False, "--include-sbom", help="Add sbom.cdx.json."),
    include_evidence: bool = typer.Option(False, "--include-evidence", help="Seal the artifacts."),
    include_remediation: bool = typer.Option(False, "--include-remediation", help="Add fix guidance."),
    policy_set: list[str] = typer.Option([], "--policy-set", help="Policy set name; repeatable."),
    request_file: Path = typer.Option(None, "--request", help="The spec's ExportRequest as a JSON file."),
    out_dir: Path = typer.Option(None, "-o", "--output", help="Also copy the artifacts (and manifest.json) "
                                 "into this directory; existing files of the same names are refused."),
    force: bool = typer.Option(False, "--force", help="With -o: replace files of the same names."),
    tenant: str = TenantOption,
    as_json: bool = JsonOption,
) -> None:
    """Export data: writes the artifacts into the store (and -o DIR) and prints the manifest."""
    tenant = tenant_or_exit(tenant)
    runtime = open_runtime()
    if request_file is not None:
        body = loads(read_input_file(request_file), name=str(request_file))
        if not isinstance(body, dict):
            raise InvalidInputError(f"{request_file}: an ExportRequest must be a JSON object")
    else:
        body = _request_from_flags(export_type, export_format, scan_ids, image_refs, since, until, template,
                                   _key_values(option, "--option"), _key_values(custom_field, "--custom-field"),
                                   include_sbom, include_evidence, include_remediation, policy_set)
    if inputs:
        results = ingest_paths(runtime, tenant, inputs)
        type_name = str(body.get("type"))
        kinds = KINDS_FOR_TYPE.get(ExportType(type_name), ()) if type_name in set(ExportType) else ()
        ids = [v for r in results for k, v in r.ids.items() if k.removesuffix("_id") in kinds]
        body.setdefault("scope", {}).setdefault("scan_ids", [])
        body["scope"]["scan_ids"] = list(dict.fromkeys([*body["scope"]["scan_ids"], *ids]))
    request = parse_request(body, tenant=tenant)
    with transaction(runtime.sessions) as session:
        row = create_export(runtime, session, tenant=tenant, request=request, requested_by="cli")
    final = _run_with_progress(runtime, row.id)
    if final is None or final.status != "completed":
        reason = final.error if final is not None else "export was taken over by another worker"
        err_console.print(f"[bold red]error:[/] export {row.id} {final.status if final else 'lost'}: {reason}")
        raise typer.Exit(exit_code_for(final.error_code if final else None))
    copied = _copy_out(runtime, final, out_dir, force) if out_dir else []
    for warning in final.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    if as_json:
        print_json({"export_id": final.id, "status": final.status, "manifest": final.manifest,
                    "location": final.storage_prefix, "files": [str(p) for p in copied], "warnings": final.warnings})
        return
    print_json(final.manifest)
    where = out_dir or runtime.store.local_path(final.storage_prefix or "") or final.storage_prefix
    err_console.print(f"export {final.id} completed: {len(final.artifacts)} artifact(s) in {where}")


def _run_with_progress(runtime: Any, export_id: str) -> ExportRow | None:
    if not sys.stderr.isatty():
        return run_export(runtime, export_id)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(f"{export_id}: queued", total=100)
        return run_export(runtime, export_id,
                          progress=lambda stage, pct: bar.update(task, completed=pct,
                                                                 description=f"{export_id}: {stage}"))


def _copy_out(runtime: Any, row: ExportRow, out_dir: Path, force: bool) -> list[Path]:
    """Copy a completed export's files into ``out_dir``. Every refusal says the export itself is stored."""
    location = runtime.store.local_path(row.storage_prefix or "") or row.storage_prefix
    stored = f"export {row.id} completed (stored at {location})"
    names = [a["name"] for a in row.artifacts] + ["manifest.json"]
    problem = directory_problem(out_dir)
    if problem is not None:
        raise DeliveryError(f"{stored}, but could not copy to {out_dir}: it {problem}")
    existing = [name for name in names if os.path.lexists(out_dir / name)]
    if existing and not force:
        raise InvalidInputError(f"{stored}, but {out_dir / existing[0]} already exists"
                                f"{f' (and {len(existing) - 1} more)' if len(existing) > 1 else ''}; "
                                "nothing was copied (use --force to replace)")
    copied = []
    for name in names:
        target = out_dir / name
        try:
            with runtime.store.open_read(f"{row.storage_prefix}/{name}") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        except OSError as exc:
            raise DeliveryError(f"{stored}, but could not copy to {out_dir}: {target}: {os_reason(exc)}") from None
        copied.append(target)
    return copied


def export_summary(row: ExportRow) -> dict[str, Any]:
    return {"export_id": row.id, "status": row.status, "type": row.type, "format": row.format,
            "created_at": iso_z(row.created_at), "completed_at": iso_z(row.completed_at),
            "artifacts": row.artifacts, "error": row.error, "warnings": row.warnings}


@exports_app.command("list")
@handle_errors
def exports_list(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """List this tenant's exports, newest first."""
    tenant = tenant_or_exit(tenant)
    runtime = open_runtime()
    with runtime.sessions() as session:
        rows = list(session.scalars(select(ExportRow).where(ExportRow.tenant == tenant)
                                    .order_by(ExportRow.created_at.desc()).limit(200)))
    if as_json:
        print_json([export_summary(r) for r in rows])
        return
    cells = [[r.id, r.status, r.type, r.format, iso_z(r.created_at) or "", r.error or ""] for r in rows]
    out_console.print(table_with_ids(["id", "status", "type", "format", "created", "error"], cells, {"id"}))


@exports_app.command("show")
@handle_errors
def exports_show(export_id: str, tenant: str = TenantOption) -> None:
    """Show one export with its manifest."""
    tenant = tenant_or_exit(tenant)
    runtime = open_runtime()
    with runtime.sessions() as session:
        row = session.scalar(select(ExportRow).where(ExportRow.id == export_id, ExportRow.tenant == tenant))
    if row is None:
        from exportcenter.errors import DataNotFoundError

        raise DataNotFoundError(f"export {export_id} not found")
    print_json({**export_summary(row), "manifest": row.manifest})
