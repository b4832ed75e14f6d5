"""The spec's ExportRequest (Data Contracts), validated with pydantic, and its conversion to the model."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from exportcenter.errors import InvalidInputError, UnsupportedFormatError
from exportcenter.model import SUPPORTED_FORMATS, ExportFormat, ExportOptions, ExportScope, ExportType
from exportcenter.util.timeutil import parse_time

_RELATIVE = re.compile(r"^-(\d{1,12})([smhdw])$")
_SURROGATE = re.compile("[\ud800-\udfff]")
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+/-]*")
IMAGE_REF_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+/*-]*")
MAX_SCOPE_ITEMS = 1000
MAX_ID_CHARS = 256
MAX_IMAGE_REF_CHARS = 512
BUILTIN_PDF_TEMPLATES = ("compliance-executive", "compliance-detailed", "audit-evidence")
SARIF_TEMPLATES = ("developer-sarif",)
KNOWN_OPTIONS = ("include_sbom", "include_evidence", "include_remediation", "template", "custom_fields",
                 "cyclonedx_version", "spec_version", "sarif_profile", "csv_bom", "spdx_vulnerabilities")
_CDX_VERSIONS = ("1.5", "1.6")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def resolve_time(value: str, now: datetime) -> datetime:
    """``now``, ``-7d``/``-24h``/``-1w``/``-30m``, or an RFC 3339 / ISO date, to an aware UTC datetime.

    Anything else (a month 13, an offset past year 1, text) raises InvalidInputError with the reason."""
    text = value.strip().lower()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        try:
            return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except (OverflowError, ValueError):
            raise InvalidInputError(f"invalid time {value!r}: the offset reaches past the year 1") from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError as exc:
            raise InvalidInputError(f"invalid date {value!r}: {exc}") from None
    try:
        parsed = parse_time(value)
    except (OverflowError, ValueError):
        parsed = None
    if parsed is None:
        raise InvalidInputError(f"invalid time {value!r}: use an ISO 8601 date/time, 'now' or e.g. '-7d'")
    return parsed


def _no_surrogates(value: Any, where: str = "request") -> None:
    """JSON can carry lone UTF-16 surrogates (\\ud800) that no UTF-8 store or serializer accepts."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise ValueError(f"{where} contains a lone UTF-16 surrogate; send valid Unicode text")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_surrogates(key, where)
            _no_surrogates(item, f"{where}.{key}" if isinstance(key, str) and not _SURROGATE.search(key) else where)
    elif isinstance(value, list | tuple):
        for item in value:
            _no_surrogates(item, where)


def _check_names(values: list[str] | None, what: str, pattern: re.Pattern[str], limit: int) -> list[str] | None:
    for value in values or []:
        if len(value) > limit or not pattern.fullmatch(value):
            raise ValueError(f"invalid {what} {value[:80]!r}: use 1-{limit} printable characters "
                             "(letters, digits and . _ : / @ + -)")
    return values


class DateRange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str = Field(max_length=64)
    end: str = Field(max_length=64)

    @field_validator("start", "end")
    @classmethod
    def _parseable(cls, value: str) -> str:
        try:
            resolve_time(value, datetime.now(UTC))
        except InvalidInputError as exc:
            raise ValueError(exc.message) from None
        return value


class Scope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scan_ids: list[str] | None = Field(default=None, max_length=MAX_SCOPE_ITEMS)
    image_refs: list[str] | None = Field(default=None, max_length=MAX_SCOPE_ITEMS)
    date_range: DateRange | None = None
    policy_sets: list[str] | None = Field(default=None, max_length=MAX_SCOPE_ITEMS)

    @field_validator("scan_ids", "policy_sets")
    @classmethod
    def _sane_ids(cls, values: list[str] | None) -> list[str] | None:
        return _check_names(values, "id", ID_PATTERN, MAX_ID_CHARS)

    @field_validator("image_refs")
    @classmethod
    def _sane_refs(cls, values: list[str] | None) -> list[str] | None:
        return _check_names(values, "image ref", IMAGE_REF_PATTERN, MAX_IMAGE_REF_CHARS)


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

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, body: Any) -> Any:
        _no_surrogates(body)
        return body

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
        check_options(self)
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


_MODEL_OPTIONS = {"include_sbom", "include_evidence", "include_remediation", "template", "custom_fields"}


def check_options(request: ExportRequest, tenant: str | None = None) -> None:
    """Refuse what would fail (or be ignored) later: unknown keys, versions, templates for the type.

    Without ``tenant`` any ``custom-<name>`` template passes; with it only the tenant's own."""
    options = request.options
    if options is None:
        return
    extra = options.model_extra or {}
    unknown = sorted(k for k in extra if k not in KNOWN_OPTIONS)
    if unknown:
        raise InvalidInputError(f"unknown option(s) {', '.join(map(repr, unknown))}; known options: "
                                f"{', '.join(KNOWN_OPTIONS)}", known_options=list(KNOWN_OPTIONS))
    for key in ("cyclonedx_version", "spec_version"):
        if key not in extra:
            continue
        version = str(extra[key]).strip().lower().removeprefix("v")
        if version not in _CDX_VERSIONS:
            raise InvalidInputError(f"{key} {extra[key]!r} is not supported; use 1.5 or 1.6")
        if not (request.format == ExportFormat.CYCLONEDX.value or options.include_sbom
                or request.type is ExportType.EVIDENCE_BUNDLE):
            raise InvalidInputError(f"{key} applies only to format cyclonedx or with include_sbom, "
                                    f"not to {request.type.value}/{request.format}")
    check_template(request, tenant)


def check_template(request: ExportRequest, tenant: str | None = None) -> None:
    template = request.options.template if request.options else None
    if template is None:
        return
    builtin = SARIF_TEMPLATES if request.format == ExportFormat.SARIF.value else BUILTIN_PDF_TEMPLATES
    if template in builtin:
        return
    if template.startswith("custom-") and (tenant is None or template == f"custom-{tenant}"):
        return
    names = list(builtin)
    if request.format == ExportFormat.PDF.value:  # tenant templates are PDF templates: name them for PDF only
        names.append(f"custom-{tenant}" if tenant else "custom-<tenant>")
    choices = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
    raise InvalidInputError(f"unknown template {template!r} for {request.type.value}/{request.format}; use "
                            f"{choices}", templates=names)


def to_options(request: ExportRequest) -> ExportOptions:
    options = request.options or Options()
    extra = {k: str(v) for k, v in (options.model_extra or {}).items() if k not in _MODEL_OPTIONS}
    template = options.template
    cdx_version = extra.pop("cyclonedx_version", extra.pop("spec_version", "1.6")).strip().lower().removeprefix("v")
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


def parse_request(body: dict[str, Any], tenant: str | None = None) -> ExportRequest:
    """Validate a request dict, turning pydantic's errors into one clear InvalidInputError.

    With ``tenant``, a custom template must be that tenant's own (``custom-<tenant>``)."""
    from pydantic import ValidationError

    try:
        request = ExportRequest.model_validate(body)
        if tenant is not None:
            check_template(request, tenant)
        return request
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "request"
            problems.append(f"{where}: {error['msg']}")
        raise InvalidInputError("invalid export request: " + "; ".join(problems), errors=problems) from None
