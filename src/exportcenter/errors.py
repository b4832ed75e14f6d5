"""One error root for the whole package.

Every error carries a machine-readable ``code`` (used as the problem+json ``type`` suffix and as the
``reason`` label of ``export_failures_total``), an HTTP status for the API and an exit code for the CLI.
"""

from __future__ import annotations

from typing import Any


class ExportCenterError(Exception):
    """Root of every error ExportCenter raises on purpose."""

    code = "internal"
    http_status = 500
    exit_code = 1
    retryable = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_problem(self) -> dict[str, Any]:
        """RFC 9457 problem details body."""
        body: dict[str, Any] = {
            "type": f"https://exportcenter.dev/problems/{self.code}",
            "title": self.code.replace("_", " ").capitalize(),
            "status": self.http_status,
            "detail": self.message,
        }
        body.update(self.details)
        return body


class InvalidInputError(ExportCenterError):
    """A file or request that is not one of the accepted formats, or is corrupt."""

    code = "invalid_input"
    http_status = 422
    exit_code = 2


class UnsupportedFormatError(InvalidInputError):
    code = "unsupported_format"


class DataNotFoundError(ExportCenterError):
    """The scope matched no data (the spec's "Data not found" rule)."""

    code = "data_not_found"
    http_status = 404
    exit_code = 3


class ConflictError(ExportCenterError):
    code = "conflict"
    http_status = 409
    exit_code = 4


class AuthError(ExportCenterError):
    code = "unauthorized"
    http_status = 401
    exit_code = 5


class ForbiddenError(ExportCenterError):
    code = "forbidden"
    http_status = 403
    exit_code = 5


class RateLimitedError(ExportCenterError):
    code = "too_many_requests"
    http_status = 429
    exit_code = 6
    retryable = True


class PayloadTooLargeError(InvalidInputError):
    code = "payload_too_large"
    http_status = 413


class StorageError(ExportCenterError):
    code = "storage_failure"
    http_status = 503
    exit_code = 7
    retryable = True


class UpstreamError(ExportCenterError):
    """An upstream StellaOps service failed, timed out or returned nothing."""

    code = "upstream_failure"
    http_status = 502
    exit_code = 7
    retryable = True


class RenderError(ExportCenterError):
    code = "render_failure"
    exit_code = 8


class TemplateError(RenderError):
    code = "template_error"


class PdfUnavailableError(RenderError):
    code = "pdf_unavailable"


class PdfTimeoutError(RenderError):
    code = "pdf_timeout"
    retryable = True


class DeliveryError(ExportCenterError):
    code = "delivery_failure"
    exit_code = 9
    retryable = True


class VerificationError(ExportCenterError):
    """A sealed bundle or record failed verification; ``message`` says exactly why."""

    code = "verification_failed"
    http_status = 422
    exit_code = 10


class CancelledError(ExportCenterError):
    code = "cancelled"
    exit_code = 11


class ConfigurationError(ExportCenterError):
    code = "configuration"
    exit_code = 12


def _all_error_classes(root: type[ExportCenterError] = ExportCenterError) -> list[type[ExportCenterError]]:
    found = [root]
    for sub in root.__subclasses__():
        found.extend(_all_error_classes(sub))
    return found


def exit_code_for(code: str | None) -> int:
    """The CLI exit code of a stored error code (e.g. a failed export's ``error_code``)."""
    for cls in _all_error_classes():
        if cls.code == code:
            return cls.exit_code
    return 1
