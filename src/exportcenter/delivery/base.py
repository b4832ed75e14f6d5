"""What every delivery method shares: the context it delivers, its failure type, secrets and templates."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from exportcenter.config import Settings
from exportcenter.errors import DeliveryError
from exportcenter.util.timeutil import iso_z


@dataclass(frozen=True)
class Artifact:
    name: str
    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class DeliveryContext:
    """One completed export, ready to hand over: its files on local disk and a way to link to them."""

    settings: Settings
    export_id: str
    tenant: str
    export_type: str
    export_format: str
    created_at: datetime
    expires_at: datetime | None
    manifest: dict[str, Any]
    artifacts: list[Artifact]
    manifest_path: Path | None
    link_for: Callable[[str, int], str]  # (artifact name, expires_in seconds) -> URL
    link_ttl_seconds: int
    extra_vars: dict[str, str] = field(default_factory=dict)

    @property
    def total_size(self) -> int:
        return sum(a.size for a in self.artifacts)

    def links(self, ttl: int | None = None) -> dict[str, str]:
        return {a.name: self.link_for(a.name, ttl or self.link_ttl_seconds) for a in self.artifacts}

    def template_vars(self) -> dict[str, Any]:
        """Variables that subjects, bodies and names may use (``{{export_id}}``, ``{{date}}`` ...)."""
        iso = self.created_at.isocalendar()
        return {
            "export_id": self.export_id, "tenant": self.tenant, "type": self.export_type,
            "format": self.export_format, "created_at": iso_z(self.created_at),
            "expires_at": iso_z(self.expires_at), "date": self.created_at.strftime("%Y-%m-%d"),
            "week": f"{iso.year}-W{iso.week:02d}",
            "artifacts": [{"name": a.name, "size": a.size, "sha256": a.sha256} for a in self.artifacts],
            **self.extra_vars,
        }


@dataclass(frozen=True)
class DeliveryReceipt:
    """What a successful attempt reports: the peer's response code and a short human detail."""

    response_code: int | None
    detail: str


class DeliveryFailure(DeliveryError):
    """An attempt that did not deliver. ``permanent`` failures (bad config, refused address, 4xx) are not retried."""

    def __init__(self, message: str, *, permanent: bool = False, response_code: int | None = None) -> None:
        super().__init__(message, response_code=response_code)
        self.permanent = permanent
        self.response_code = response_code
        self.retryable = not permanent


class DeliveryMethod(Protocol):
    def __call__(self, ctx: DeliveryContext, config: Mapping[str, Any]) -> DeliveryReceipt: ...


class _TextSandbox(ImmutableSandboxedEnvironment):
    """Plain-text templates from users (subjects, bodies, names): sandboxed, strict about unknown names."""


_TEXT_ENV = _TextSandbox(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)


def render_text(template: str, variables: Mapping[str, Any], *, what: str) -> str:
    """Render a user template; a syntax error, unknown variable or sandbox refusal is a permanent failure."""
    try:
        return _TEXT_ENV.from_string(template).render(**variables)
    except TemplateError as exc:
        raise DeliveryFailure(f"{what} template failed: {exc.message or exc}", permanent=True) from exc
    except Exception as exc:  # SecurityError subclasses TemplateError; anything else is still the template's
        raise DeliveryFailure(f"{what} template failed: {type(exc).__name__}: {exc}", permanent=True) from exc


def secret_from(config: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    """``key`` inline, or ``{key}_env`` naming an environment variable (keeps secrets out of the DB)."""
    env_name = config.get(f"{key}_env")
    if env_name:
        value = os.environ.get(str(env_name))
        if not value:
            raise DeliveryFailure(f"environment variable {env_name} (from {key}_env) is not set", permanent=True)
        return value
    value = config.get(key)
    if value in (None, ""):
        if required:
            raise DeliveryFailure(f"delivery config needs {key!r} or {key + '_env'!r}", permanent=True)
        return None
    return str(value)


def config_str(config: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = config.get(key, default)
    if value is None or not isinstance(value, (str, int, float)) or str(value).strip() == "":
        raise DeliveryFailure(f"delivery config needs a non-empty {key!r}", permanent=True)
    return str(value)


def config_number(config: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = config.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DeliveryFailure(f"delivery config {key!r} must be a number, got {value!r}", permanent=True) from None
    if not low <= number <= high:
        raise DeliveryFailure(f"delivery config {key!r} must be between {low:g} and {high:g}", permanent=True)
    return number
