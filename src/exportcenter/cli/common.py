"""What every CLI command shares: the runtime, clear errors instead of tracebacks, JSON output.

``handle_errors`` is the one place where the failures a user can cause from outside (a path that is not
a directory, a database that cannot be reached, a malformed ``EXPORTCENTER_*`` variable) become
ExportCenterError subclasses with the reason and their documented exit code. Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import ArgumentError, OperationalError

from exportcenter.errors import ConfigurationError, ExportCenterError, StorageError
from exportcenter.util.ids import validate_tenant
from exportcenter.util.jsonio import dumps

P = ParamSpec("P")
R = TypeVar("R")

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)

TenantOption = typer.Option("default", "--tenant", "-t", envvar="EXPORTCENTER_TENANT", help="Tenant id.")
JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def os_reason(exc: OSError) -> str:
    """The OS's reason for a failed file operation, without Python's ``[Errno N]`` decoration."""
    return exc.strerror or str(exc) or type(exc).__name__


def settings_error(exc: ValidationError) -> ConfigurationError:
    """Name each malformed EXPORTCENTER_* variable (nested groups use ``__``) and why it is refused."""
    problems = []
    for error in exc.errors():
        variable = "EXPORTCENTER_" + "__".join(str(part) for part in error["loc"]).upper()
        value = error.get("input")
        shown = f"={value!r}" if isinstance(value, str | int | float) else ""
        problems.append(f"{variable}{shown}: {error['msg']}")
    return ConfigurationError("invalid setting: " + "; ".join(problems))


def database_error(exc: OperationalError | ArgumentError) -> StorageError:
    if isinstance(exc, OperationalError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        return StorageError(f"database unavailable (EXPORTCENTER_DATABASE_URL): {reason}")
    return StorageError(f"EXPORTCENTER_DATABASE_URL is not a usable database URL: {exc}")


def as_export_center_error(exc: BaseException) -> ExportCenterError | None:
    """The user-facing error for an outside failure, or None when it is not one (a bug)."""
    if isinstance(exc, ExportCenterError):
        return exc
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return settings_error(exc)
    if isinstance(exc, OperationalError | ArgumentError):
        return database_error(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return StorageError(f"{where}{os_reason(exc)}")
    return None


def print_error(error: ExportCenterError) -> None:
    err_console.print(f"[bold red]error:[/] {error.message}", markup=True, soft_wrap=True)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn ExportCenterError (and OSError, database and settings failures) into `error: <reason>` on
    stderr and the error's exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ExportCenterError, OSError, OperationalError, ArgumentError, ValidationError) as exc:
            error = as_export_center_error(exc)
            if error is None:
                raise
            print_error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper


def tenant_or_exit(tenant: str) -> str:
    return validate_tenant(tenant)


def print_json(value: Any) -> None:
    sys.stdout.buffer.write(dumps(value))
    sys.stdout.flush()


def why_not_a_directory(path: Path) -> str:
    """Why ``path`` exists but cannot be used as a directory."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        return os_reason(exc)
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a directory"
    return "exists and is not a directory"


def directory_problem(path: Path) -> str | None:
    """Create ``path`` (and parents); None when it is a writable directory, else why it cannot be one."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return why_not_a_directory(path)
    except OSError as exc:
        return f"cannot be created: {os_reason(exc)}"
    if not os.access(path, os.W_OK | os.X_OK):
        return "is not writable"
    return None


def ensure_directory(path: Path, what: str, error: type[ExportCenterError] = ConfigurationError) -> None:
    """Create ``path`` (and parents) or raise ``error`` saying why it cannot be a directory."""
    problem = directory_problem(path)
    if problem is not None:
        raise error(f"{what} {path} {problem}")


def checked_settings() -> Any:
    """The settings, a malformed EXPORTCENTER_* variable refused with its name (nothing is created)."""
    from exportcenter.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        raise settings_error(exc) from None


def load_settings() -> Any:
    """The settings with $EXPORTCENTER_HOME created, or a clear error saying why it cannot be."""
    settings = checked_settings()
    ensure_directory(settings.home, "EXPORTCENTER_HOME")
    return settings


def open_runtime() -> Any:
    """The CLI's runtime; its logs go to $EXPORTCENTER_HOME/logs/exportcenter.log as JSON lines."""
    from exportcenter.observability.logging import configure_logging
    from exportcenter.runtime import Runtime

    settings = load_settings()
    configure_logging(log_file=settings.home / "logs" / "exportcenter.log")
    try:
        return Runtime.open(settings)
    except (OperationalError, ArgumentError) as exc:
        raise database_error(exc) from None


def table_with_ids(headers: list[str], rows: list[list[str]], id_columns: set[str]) -> Table:
    """A table whose id columns are never cut (ids are for copying): they are as wide as their longest id;
    the other columns wrap instead."""
    table = Table()
    for index, header in enumerate(headers):
        if header in id_columns:
            longest = max((len(word) for row in rows for word in row[index].split()), default=len(header))
            table.add_column(header, min_width=max(longest, len(header)), overflow="fold")
        else:
            table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table
