"""Structured JSON logs with export_id / tenant / trace_id, and secrets redacted before they are written."""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TextIO

from exportcenter.util.jsonio import dumps
from exportcenter.util.timeutil import iso_z

_REDACTIONS = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[REDACTED]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[REDACTED-JWT]"),
    (re.compile(r"(?i)([?&](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|token)=)[^&\s\"']+"),
     r"\1[REDACTED]"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"), "[REDACTED-KEY]"),
    (re.compile(r"(?i)(password|secret|api[_-]?key)(\s*[=:]\s*)\S+"), r"\1\2[REDACTED]"),
)
_CONTEXT_FIELDS = ("export_id", "tenant", "trace_id", "span_id", "stage", "worker_id")
_LOG_CONTEXT: ContextVar[dict[str, str]] = ContextVar("exportcenter_log_context", default={})  # noqa: B039


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Every log line written inside (this thread or task) carries these fields, e.g. export_id, tenant."""
    merged = {**_LOG_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _LOG_CONTEXT.set(merged)
    try:
        yield
    finally:
        _LOG_CONTEXT.reset(token)


def current_log_context() -> dict[str, str]:
    return dict(_LOG_CONTEXT.get())


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        from datetime import UTC, datetime

        entry: dict[str, Any] = {
            "time": iso_z(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        scoped = _LOG_CONTEXT.get()
        for field in _CONTEXT_FIELDS:
            value = getattr(record, field, None)
            if value is None:
                value = scoped.get(field)
            if value is not None:
                entry[field] = value
        if "trace_id" not in entry:
            entry.update(_current_trace())
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return dumps(entry, indent=False).decode()


class PlainFormatter(logging.Formatter):
    """Human-readable lines (EXPORTCENTER_LOG_JSON=false), with the same context and the same redaction."""

    def format(self, record: logging.LogRecord) -> str:
        scoped = _LOG_CONTEXT.get()
        fields = {f: getattr(record, f, None) or scoped.get(f) for f in ("export_id", "tenant")}
        fields.update(_current_trace())
        context = " ".join(f"{k}={v}" for k, v in fields.items() if v and k != "span_id")
        text = f"{record.levelname.lower()} {record.name}: {record.getMessage()}"
        if context:
            text += f" [{context}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return redact(text)


def _current_trace() -> dict[str, str]:
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - opentelemetry is a dependency
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def configure_logging(*, log_file: Path | None = None, stream: TextIO | None = None,
                      level: int = logging.INFO, json_lines: bool = True) -> None:
    """JSON lines to ``log_file`` and/or ``stream``. The CLI logs to a file so users see clear messages
    on stderr, never tracebacks; the server logs to stderr."""
    root = logging.getLogger("exportcenter")
    root.setLevel(level)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handlers: list[logging.Handler] = []
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    if stream is not None or not handlers:
        handlers.append(logging.StreamHandler(stream or sys.stderr))
    for handler in handlers:
        handler.setFormatter(JsonFormatter() if json_lines else PlainFormatter())
        root.addHandler(handler)


class RedactingFilter(logging.Filter):
    """For handlers we do not format ourselves (Uvicorn's, third-party): scrub the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_foreign_loggers(names: tuple[str, ...] = ("uvicorn", "uvicorn.error", "uvicorn.access",
                                                     "httpx", "httpcore", "procrastinate")) -> None:
    """Attach the redacting filter to other libraries' loggers and their handlers (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        targets: list[logging.Filterer] = [logger, *logger.handlers]
        for target in targets:
            if not any(isinstance(f, RedactingFilter) for f in target.filters):
                target.addFilter(RedactingFilter())
