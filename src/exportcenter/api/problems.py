"""RFC 9457 problem+json for every error the API returns; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from exportcenter.errors import AuthError, ExportCenterError, RateLimitedError

log = logging.getLogger("exportcenter.api")
PROBLEM_TYPE = "application/problem+json"
_BASE = "https://exportcenter.dev/problems/"


def problem_response(status: int, code: str, detail: str, *, headers: dict[str, str] | None = None,
                     instance: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": _BASE + code, "title": code.replace("_", " ").capitalize(),
                            "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


async def export_center_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ExportCenterError)
    body = _json_safe(exc.to_problem())
    body["instance"] = request.url.path
    headers: dict[str, str] = {}
    if isinstance(exc, AuthError):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(int(exc.details.get("retry_after", 5)))
    return JSONResponse(body, status_code=exc.http_status, media_type=PROBLEM_TYPE, headers=headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    reasons = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":  # loc is ("body", <offset>): say where in words
            offset = next((p for p in error.get("loc", ()) if isinstance(p, int)), None)
            detail = (error.get("ctx") or {}).get("error", "invalid JSON")
            where = f" at character {offset}" if offset is not None else ""
            reasons.append(f"body is not valid JSON: {detail}{where}")
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        reasons.append(f"{where}: {error.get('msg', 'invalid')}")
    return problem_response(422, "invalid_input", "invalid request: " + "; ".join(reasons),
                            instance=request.url.path, errors=reasons)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden",
            413: "payload_too_large", 400: "bad_request"}.get(exc.status_code, "http_error")
    return problem_response(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}),
                            instance=request.url.path)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "internal", "internal server error", instance=request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ExportCenterError, export_center_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
