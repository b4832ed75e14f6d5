"""Jinja2 environments: trusted built-in templates, and tenant templates in a time-limited sandbox.

Tenant templates run in an ``ImmutableSandboxedEnvironment`` that
- can load nothing but the built-in base layout (no file system, no imports of other templates),
- raises (instead of quietly printing nothing) on any unsafe attribute such as ``__class__``,
- caps ``range`` (Jinja's own limit), repetition (``'x' * n``), powers and the output size,
- is stopped once its time budget is spent, even inside a loop that never prints (a line tracer
  attached only to the tenant template's own compiled code).
Every failure becomes a ``TemplateError`` whose message says what went wrong.
"""

from __future__ import annotations

import operator
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from exportcenter.errors import TemplateError

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "pdf"
BUILTIN_TEMPLATES = ("compliance-executive", "compliance-detailed", "audit-evidence")
TENANT_ALLOWED_INCLUDES = ("base.html.j2",)
TENANT_SOURCE_NAME = "<template>"  # what Jinja names code compiled from a string
MAX_OUTPUT_CHARS = 64 * 1024 * 1024
MAX_SEQUENCE_REPEAT = 1_000_000
MAX_SOURCE_CHARS = 512 * 1024


def _filters() -> dict[str, Callable[..., Any]]:
    def shorten(text: object, limit: int = 300) -> str:
        value = "" if text is None else str(text)
        return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"

    return {"shorten": shorten}


@lru_cache(maxsize=1)
def builtin_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(_filters())
    return env


def render_builtin(name: str, **context: Any) -> str:
    """Render one of our own templates (``name`` without ``.html.j2``)."""
    try:
        template = builtin_environment().get_template(f"{name}.html.j2")
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"no built-in PDF template named {name!r}") from exc
    return template.render(**context)


class _TemplateTimeout(Exception):
    """Raised from the tracer inside the tenant template's frames when its budget is spent."""


class TenantSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} is not allowed")

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise SecurityError("exponent too large in tenant template")
            return operator.pow(left, right)
        for seq, times in ((left, right), (right, left)):
            if (isinstance(seq, str | list | tuple) and isinstance(times, int)
                    and len(seq) * times > MAX_SEQUENCE_REPEAT):
                raise SecurityError("repetition too large in tenant template")
        return operator.mul(left, right)


class _OnlyBaseLoader(jinja2.BaseLoader):
    """Serves the built-in base layout and nothing else."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template not in TENANT_ALLOWED_INCLUDES:
            raise jinja2.TemplateNotFound(template)
        path = TEMPLATE_DIR / template
        return path.read_text(encoding="utf-8"), None, lambda: True


@lru_cache(maxsize=1)
def tenant_environment() -> TenantSandbox:
    env = TenantSandbox(loader=_OnlyBaseLoader(), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(_filters())
    return env


def compile_tenant_template(source: str) -> jinja2.Template:
    if not isinstance(source, str) or not source.strip():
        raise TemplateError("tenant template is empty")
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateError(f"tenant template is larger than {MAX_SOURCE_CHARS} characters")
    try:
        return tenant_environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"tenant template syntax error at line {exc.lineno}: {exc.message}") from exc


class _Deadline:
    """A tracer that only watches frames of the tenant's compiled template code."""

    def __init__(self, seconds: float) -> None:
        self.expires = time.monotonic() + seconds
        self.seconds = seconds

    def expired(self) -> bool:
        return time.monotonic() > self.expires

    def on_call(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if frame.f_code.co_filename == TENANT_SOURCE_NAME:
            return self.on_line
        return None

    def on_line(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if self.expired():
            raise _TemplateTimeout
        return self.on_line


def render_tenant(source: str, time_limit: float, **context: Any) -> str:
    """Render a tenant template in the sandbox within ``time_limit`` seconds, or raise TemplateError."""
    template = compile_tenant_template(source)
    deadline = _Deadline(time_limit)
    previous = sys.gettrace()
    pieces: list[str] = []
    size = 0
    sys.settrace(deadline.on_call)
    try:
        for piece in template.generate(**context):
            size += len(piece)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateError(f"tenant template output exceeds {MAX_OUTPUT_CHARS} characters")
            if deadline.expired():
                raise _TemplateTimeout
            pieces.append(piece)
    except _TemplateTimeout as exc:
        raise TemplateError(f"tenant template exceeded its render time limit of {time_limit:g} s") from exc
    except SecurityError as exc:
        raise TemplateError(f"tenant template blocked by the sandbox: {exc}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"tenant template may not load {exc.name!r}: only the base layout") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(f"tenant template failed: {exc}") from exc
    except TemplateError:
        raise
    except (RecursionError, MemoryError) as exc:
        raise TemplateError(f"tenant template stopped: {type(exc).__name__}") from exc
    except Exception as exc:  # any error raised by template code is the tenant's, not ours
        raise TemplateError(f"tenant template failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.settrace(previous)
    return "".join(pieces)
