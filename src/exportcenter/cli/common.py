"""What every CLI command shares: the runtime, clear errors instead of tracebacks, JSON output."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from exportcenter.errors import ExportCenterError
from exportcenter.util.ids import validate_tenant
from exportcenter.util.jsonio import dumps

P = ParamSpec("P")
R = TypeVar("R")

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)

TenantOption = typer.Option("default", "--tenant", "-t", envvar="EXPORTCENTER_TENANT", help="Tenant id.")
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn ExportCenterError into `error: <reason>` on stderr and the error's exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ExportCenterError as exc:
            err_console.print(f"[bold red]error:[/] {exc.message}", markup=True, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def tenant_or_exit(tenant: str) -> str:
    return validate_tenant(tenant)


def print_json(value: Any) -> None:
    sys.stdout.buffer.write(dumps(value))
    sys.stdout.flush()


def open_runtime() -> Any:
    """The CLI's runtime; its logs go to $EXPORTCENTER_HOME/logs/exportcenter.log as JSON lines."""
    from exportcenter.config import get_settings
    from exportcenter.observability.logging import configure_logging
    from exportcenter.runtime import Runtime

    settings = get_settings()
    configure_logging(log_file=settings.home / "logs" / "exportcenter.log")
    return Runtime.open(settings)
