"""The spec's ExportRequest (Data Contracts), validated with pydantic, and its conversion to the model."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from exportcenter.errors import InvalidInputError, UnsupportedFormatError
from exportcenter.model import SUPPORTED_FORMATS, ExportFormat, ExportOptions, ExportScope, ExportType
from exportcenter.util.timeutil import parse_time

_RELATIVE = re.compile(r"^-(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def resolve_time(value: str, now: datetime) -> datetime:
    """``now``, ``-7d``/``-24h``/``-1w``/``-30m``, or an RFC 3339 / ISO date, to an aware UTC datetime."""
    text = value.strip().lower()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    parsed = parse_time(value)
    if parsed is None:
        raise InvalidInputError(f"invalid time {value!r}: use an ISO 8601 date/time, 'now' or e.g. '-7d'")
    return parsed


class DateRange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str
    end: str


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scan_ids: list[str] | None = None
    image_refs: list[str] | None = None
    date_range: DateRange | None = None
    policy_sets: list[str] | None = None


class Options(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_sbom: bool = False
    include_evidence: bool = False
    include_remediation: bool = False
    template: str | None = Field(default=None, max_length=128)
    custom_fields: dict[str, str] | None = None


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["download", "email", "webhook", "s3"]
    config: dict[str, Any] | None = None


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: ExportType
    format: str
    scope: Scope = Field(default_factory=Scope)
    options: Options | None = None
    delivery: Delivery | None = None

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        try:
            return ExportFormat.parse(value).value
        except ValueError:
            known = ", ".join(f.value for f in ExportFormat)
            raise ValueError(f"unknown format {value!r}; known formats: {known}") from None

    @model_validator(mode="after")
    def _pair_supported(self) -> ExportRequest:
        check_pair(self.type, ExportFormat(self.format))
        return self


def check_pair(export_type: ExportType, export_format: ExportFormat) -> None:
    allowed = SUPPORTED_FORMATS[export_type]
    if export_format not in allowed:
        names = ", ".join(f.value for f in allowed)
        raise UnsupportedFormatError(
            f"export type {export_type.value} does not support format {export_format.value}; "
            f"supported formats: {names}", supported_formats=[f.value for f in allowed])


def to_scope(request: ExportRequest, now: datetime) -> ExportScope:
    scope = request.scope
    start = end = None
    if scope.date_range is not None:
        start = resolve_time(scope.date_range.start, now)
        end = resolve_time(scope.date_range.end, now)
        if start > end:
            raise InvalidInputError(
                f"date_range start {scope.date_range.start!r} is after end {scope.date_range.end!r}")
    return ExportScope(scan_ids=tuple(scope.scan_ids or ()), image_refs=tuple(scope.image_refs or ()),
                       date_start=start, date_end=end, policy_sets=tuple(scope.policy_sets or ()))


_KNOWN_OPTIONS = {"include_sbom", "include_evidence", "include_remediation", "template", "custom_fields"}


def to_options(request: ExportRequest) -> ExportOptions:
    options = request.options or Options()
    extra = {k: str(v) for k, v in (options.model_extra or {}).items() if k not in _KNOWN_OPTIONS}
    template = options.template
    cdx_version = extra.pop("cyclonedx_version", extra.pop("spec_version", "1.6"))
    if cdx_version not in ("1.5", "1.6"):
        raise InvalidInputError(f"cyclonedx_version {cdx_version!r} is not supported; use 1.5 or 1.6")
    profile = extra.pop("sarif_profile", "developer-sarif" if template == "developer-sarif" else "github")
    if profile not in ("github", "developer-sarif"):
        raise InvalidInputError(f"sarif_profile {profile!r} is not supported; use github or developer-sarif")
    csv_bom = extra.pop("csv_bom", "false").lower() in ("1", "true", "yes")
    return ExportOptions(
        include_sbom=options.include_sbom, include_evidence=options.include_evidence,
        include_remediation=options.include_remediation, template=template,
        custom_fields=tuple(sorted((options.custom_fields or {}).items())), cyclonedx_version=cdx_version,
        sarif_profile=profile, csv_bom=csv_bom, extra=tuple(sorted(extra.items())),
    )


def parse_request(body: dict[str, Any]) -> ExportRequest:
    """Validate a request dict, turning pydantic's errors into one clear InvalidInputError."""
    from pydantic import ValidationError

    try:
        return ExportRequest.model_validate(body)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "request"
            problems.append(f"{where}: {error['msg']}")
        raise InvalidInputError("invalid export request: " + "; ".join(problems), errors=problems) from None
