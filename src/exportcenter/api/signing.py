"""Signed download URLs: HMAC-SHA256 over method, path, tenant and expiry.

The API serves artifacts of the filesystem store itself at ``/api/v1/downloads/{export_id}/{name}``;
the link carries ``tenant``, ``expires`` (unix seconds) and ``sig``. A tampered and an expired link get
the same answer, so a caller cannot tell which check failed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from exportcenter.config import Settings
from exportcenter.errors import ForbiddenError

DOWNLOAD_PREFIX = "/api/v1/downloads"

CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".sarif": "application/sarif+json",
    ".sarif.json": "application/sarif+json",
    ".cdx.json": "application/vnd.cyclonedx+json",
    ".spdx.json": "application/spdx+json",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
    ".tar.gz": "application/gzip",
    ".tgz": "application/gzip",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


def content_type_for(name: str) -> str:
    lowered = name.lower()
    for suffix in sorted(CONTENT_TYPES, key=len, reverse=True):  # longest suffix wins (.cdx.json)
        if lowered.endswith(suffix):
            return CONTENT_TYPES[suffix]
    return "application/octet-stream"


def load_or_create_signing_key(settings: Settings) -> bytes:
    """settings.url_signing_key, else $EXPORTCENTER_HOME/url-signing-key (random, 0600, made once)."""
    if settings.url_signing_key:
        return settings.url_signing_key.encode("utf-8")
    path: Path = settings.home / "url-signing-key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    except FileExistsError:
        pass
    for _ in range(50):
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value.encode("utf-8")
        time.sleep(0.02)
    raise ForbiddenError("download signing key unavailable")


class UrlSigner:
    def __init__(self, key: bytes, base_url: str) -> None:
        self._key = key
        self._base = base_url.rstrip("/")

    def signature(self, method: str, path: str, tenant: str, expires: int) -> str:
        message = "\n".join((method.upper(), path, tenant, str(expires))).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def download_path(self, export_id: str, name: str) -> str:
        return f"{DOWNLOAD_PREFIX}/{quote(export_id, safe='')}/{quote(name, safe='')}"

    def sign_download(self, export_id: str, name: str, tenant: str, ttl_seconds: int,
                      now: float | None = None) -> tuple[str, int]:
        """Return (absolute URL, expiry as unix seconds)."""
        expires = int(now if now is not None else time.time()) + ttl_seconds
        path = self.download_path(export_id, name)
        query = urlencode({"tenant": tenant, "expires": expires,
                           "sig": self.signature("GET", path, tenant, expires)})
        return f"{self._base}{path}?{query}", expires

    def verify(self, method: str, path: str, tenant: str | None, expires: str | None, sig: str | None,
               now: float | None = None) -> None:
        """Raise ForbiddenError (one message for every cause) unless the link is genuine and current."""
        refused = ForbiddenError("download link is invalid or has expired")
        if not tenant or not expires or not sig or not expires.isdigit() or len(expires) > 12:
            raise refused
        expected = self.signature(method, path, tenant, int(expires))
        genuine = hmac.compare_digest(expected, sig)
        current = int(expires) >= int(now if now is not None else time.time())
        if not (genuine and current):
            raise refused
