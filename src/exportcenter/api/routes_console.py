"""The Console (a static single-page UI at /console, no build step) and GET /api/v1/formats, which tells
clients (the Console's form among them) exactly which type x format pairs are valid."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel

from exportcenter.errors import DataNotFoundError
from exportcenter.model import SUPPORTED_FORMATS, TYPE_DESCRIPTIONS

router = APIRouter(tags=["console"])
CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"
_MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


class ExportTypeFormats(BaseModel):
    type: str
    description: str
    formats: list[str]


class FormatCatalog(BaseModel):
    types: list[ExportTypeFormats]


@router.get("/api/v1/formats", response_model=FormatCatalog, tags=["exports"])
def formats() -> FormatCatalog:
    """Every export type with its description and the formats it supports (the only valid pairs)."""
    return FormatCatalog(types=[
        ExportTypeFormats(type=t.value, description=TYPE_DESCRIPTIONS.get(t, ""), formats=[f.value for f in fs])
        for t, fs in SUPPORTED_FORMATS.items()])


@router.get("/console", include_in_schema=False, response_model=None)
def console_index() -> FileResponse:
    return _static("index.html")


@router.get("/console/", include_in_schema=False, response_model=None)
def console_slash() -> RedirectResponse:
    return RedirectResponse("/console", status_code=308)


@router.get("/console/{name}", include_in_schema=False, response_model=None)
def console_file(name: str) -> FileResponse:
    return _static(name)


def _static(name: str) -> FileResponse:
    path = CONSOLE_DIR / name
    media = _MEDIA.get(path.suffix)
    if media is None or "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise DataNotFoundError(f"no console file {name!r}")
    return FileResponse(path, media_type=media, headers=_SECURITY_HEADERS)
