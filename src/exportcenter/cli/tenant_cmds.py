"""`templates` (upload, list, show, delete a tenant's PDF template) and `branding` (set, show).

Mounted by the main CLI::

    app.add_typer(templates_app, name="templates")
    app.add_typer(branding_app, name="branding")
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from exportcenter.cli.common import JsonOption, TenantOption, handle_errors, open_runtime, out_console, print_json
from exportcenter.db.engine import transaction
from exportcenter.errors import InvalidInputError
from exportcenter.renderers.pdf.templating import BUILTIN_TEMPLATES
from exportcenter.tenancy import (
    delete_template,
    describe_template,
    get_branding,
    get_template,
    list_templates,
    put_template,
    set_branding,
    template_name_for,
)
from exportcenter.tenancy.branding import MAX_LOGO_BYTES, branding_problems, image_kind, raise_branding_problems
from exportcenter.tenancy.templates import MAX_TEMPLATE_BYTES, decode_source
from exportcenter.util.ids import validate_tenant

templates_app = typer.Typer(help="A tenant's own PDF template (custom-<tenant>), run in the sandbox.",
                            no_args_is_help=True)
branding_app = typer.Typer(help="A tenant's PDF branding: title, company, logo, colours.", no_args_is_help=True)


def _read_file(path: Path, limit: int, what: str) -> bytes:
    try:
        if path.stat().st_size > limit:
            raise InvalidInputError(f"{what} {path} is larger than {limit} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


@templates_app.command("upload")
@handle_errors
def upload_command(file: Path = typer.Argument(..., help="Jinja2 template (UTF-8)."),
                   tenant: str = TenantOption,
                   name: str | None = typer.Option(None, "--name", help="Default and only choice: custom-<tenant>."),
                   as_json: bool = JsonOption) -> None:
    """Check the template in the sandbox (compile + sample render), then store it for the tenant."""
    tenant = validate_tenant(tenant)
    source = decode_source(_read_file(file, MAX_TEMPLATE_BYTES, "template"))
    runtime = open_runtime()
    with transaction(runtime.sessions) as session:
        row, created = put_template(session, tenant, name or template_name_for(tenant), source, actor="cli")
        described = describe_template(row)
    if as_json:
        print_json({**described, "created": created})
        return
    out_console.print(f"{described['name']}: {'stored' if created else 'replaced'} (sha256 {described['sha256']}); "
                      f'use it with options.template = "{described["name"]}"')


@templates_app.command("list")
@handle_errors
def list_command(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """Built-in templates and the tenant's own."""
    tenant = validate_tenant(tenant)
    runtime = open_runtime()
    with runtime.sessions() as session:
        custom = [describe_template(row) for row in list_templates(session, tenant)]
    if as_json:
        print_json({"builtin": list(BUILTIN_TEMPLATES), "custom": custom})
        return
    table = Table("name", "kind", "size", "sha256", "updated (UTC)", "by")
    for builtin in BUILTIN_TEMPLATES:
        table.add_row(builtin, "built-in", "-", "-", "-", "-")
    for item in custom:
        table.add_row(str(item["name"]), "tenant", str(item["size"]), str(item["sha256"])[:16],
                      str(item["updated_at"]), str(item["updated_by"]))
    out_console.print(table)


@templates_app.command("show")
@handle_errors
def show_command(name: str = typer.Argument(None, help="Default: custom-<tenant>."), tenant: str = TenantOption,
                 as_json: bool = JsonOption) -> None:
    """Print the tenant's template source (or its details with --json)."""
    tenant = validate_tenant(tenant)
    runtime = open_runtime()
    with runtime.sessions() as session:
        described = describe_template(get_template(session, tenant, name or template_name_for(tenant)),
                                      with_source=True)
    if as_json:
        print_json(described)
        return
    typer.echo(str(described["source"]), nl=False)


@templates_app.command("delete")
@handle_errors
def delete_command(name: str = typer.Argument(None, help="Default: custom-<tenant>."),
                   tenant: str = TenantOption) -> None:
    """Remove the tenant's template (exports asking for it fall back to the default, with a warning)."""
    tenant = validate_tenant(tenant)
    runtime = open_runtime()
    chosen = name or template_name_for(tenant)
    with transaction(runtime.sessions) as session:
        delete_template(session, tenant, chosen, actor="cli")
    out_console.print(f"{chosen}: deleted")


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def logo_data_uri(value: str) -> str:
    """A data: URI as given (checked later), or one made from an image file (PNG, JPEG, GIF, WebP, SVG)."""
    if value.startswith("data:"):
        return value
    if _URL.match(value):
        raise InvalidInputError(f"logo {value}: URLs are not accepted (nothing is fetched); give an image file "
                                "path or a data:image/...;base64 URI")
    data = _read_file(Path(value), MAX_LOGO_BYTES, "logo")
    kind = image_kind(data)
    if kind is None:
        raise InvalidInputError(f"logo {value}: not a PNG, JPEG, GIF, WebP or SVG image")
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


@branding_app.command("set")
@handle_errors
def branding_set_command(
    tenant: str = TenantOption,
    title: str | None = typer.Option(None, "--title", help="Report title (any script)."),
    company: str | None = typer.Option(None, "--company", help="Company name."),
    logo: str | None = typer.Option(None, "--logo", help="Image file, or a data:image/...;base64 URI."),
    primary_color: str | None = typer.Option(None, "--primary-color", help="#rgb or #rrggbb."),
    accent_color: str | None = typer.Option(None, "--accent-color", help="#rgb or #rrggbb."),
    replace: bool = typer.Option(False, "--replace", help="Clear the fields not given (default: keep them)."),
    as_json: bool = JsonOption,
) -> None:
    """Set the tenant's branding; fields not given are kept unless --replace."""
    tenant = validate_tenant(tenant)
    problems: list[str] = []
    logo_uri = None
    if logo:
        try:
            logo_uri = logo_data_uri(logo)
        except InvalidInputError as exc:
            problems.append(f"logo: {exc.message}")
    given: dict[str, Any] = {"title": title, "company": company, "primary_color": primary_color,
                             "accent_color": accent_color, "logo": logo_uri}
    runtime = open_runtime()
    with transaction(runtime.sessions) as session:
        values = {} if replace else get_branding(session, tenant).stored()
        values.update({k: v for k, v in given.items() if v is not None})
        raise_branding_problems(problems + branding_problems(values))  # every problem, as the API lists them
        branding = set_branding(session, tenant, values, actor="cli")
    _print_branding(branding.model_dump(), as_json)


@branding_app.command("show")
@handle_errors
def branding_show_command(tenant: str = TenantOption, as_json: bool = JsonOption) -> None:
    """Print the tenant's branding (unset fields use the house defaults)."""
    tenant = validate_tenant(tenant)
    runtime = open_runtime()
    with runtime.sessions() as session:
        branding = get_branding(session, tenant)
    _print_branding(branding.model_dump(), as_json)


def _print_branding(values: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(values)
        return
    for key, value in values.items():
        shown = "-" if value is None else (f"{value[:40]}... ({len(value)} chars)" if key == "logo" else value)
        out_console.print(f"{key}: {shown}")
