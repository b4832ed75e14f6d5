"""Webhook delivery: POST a JSON event signed with HMAC-SHA256, and the helper receivers use to verify it.

Signature scheme (v1): ``X-ExportCenter-Timestamp: <unix seconds>``, ``X-ExportCenter-Delivery: <unique id>``
and ``X-ExportCenter-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>``. A receiver checks
the signature over the raw bytes, refuses timestamps outside its tolerance (stale or replayed later) and
remembers delivery ids inside the tolerance window (replayed within it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from exportcenter.delivery.base import (
    DeliveryContext,
    DeliveryFailure,
    DeliveryReceipt,
    config_number,
    config_str,
    secret_from,
)
from exportcenter.delivery.netguard import Resolver, check_url, system_resolver
from exportcenter.errors import VerificationError
from exportcenter.util.jsonio import dumps, loads
from exportcenter.util.timeutil import iso_z, utcnow

TIMESTAMP_HEADER = "X-ExportCenter-Timestamp"
SIGNATURE_HEADER = "X-ExportCenter-Signature"
DELIVERY_HEADER = "X-ExportCenter-Delivery"
EVENT_HEADER = "X-ExportCenter-Event"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_FORBIDDEN_EXTRA_HEADERS = frozenset({"host", "content-length", "content-type", "transfer-encoding", "connection",
                                      TIMESTAMP_HEADER.lower(), SIGNATURE_HEADER.lower(), DELIVERY_HEADER.lower()})


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, *, timestamp: int | None = None,
                   delivery_id: str | None = None) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, stamp, body),
            DELIVERY_HEADER: delivery_id or f"dlv-{secrets.token_hex(12)}"}


class ReplayCache:
    """Delivery ids seen within the tolerance window (thread-safe, in memory; one per receiver)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def remember(self, key: str, expires: float, now: float) -> bool:
        """Record ``key``; False when it was already seen and has not expired."""
        with self._lock:
            for old in [k for k, until in self._seen.items() if until < now]:
                del self._seen[old]
            if key in self._seen:
                return False
            self._seen[key] = expires
            return True


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    raise VerificationError(f"missing header {name}")


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes, tolerance: int = DEFAULT_TOLERANCE, *,
                   replay_cache: ReplayCache | None = None, now: float | None = None) -> dict[str, Any]:
    """Check a received webhook and return its event. Raises VerificationError saying why it is refused.

    Refused: a missing or malformed header, a wrong signature, a timestamp further than ``tolerance`` seconds
    from now (stale), and, when a ``replay_cache`` is given, a delivery id already accepted (replay).
    """
    current = time.time() if now is None else now
    stamp_text = _header(headers, TIMESTAMP_HEADER).strip()
    if not stamp_text.isdigit():
        raise VerificationError(f"malformed {TIMESTAMP_HEADER}: {stamp_text[:40]!r}")
    stamp = int(stamp_text)
    offered = [p.strip() for p in _header(headers, SIGNATURE_HEADER).split(",")]
    expected = sign(secret, stamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise VerificationError("webhook signature does not match the body and timestamp")
    if abs(current - stamp) > tolerance:
        raise VerificationError(f"webhook timestamp is {int(current - stamp)} s away from now "
                                f"(tolerance {tolerance} s)")
    if replay_cache is not None:
        delivery_id = _header(headers, DELIVERY_HEADER)
        if not replay_cache.remember(f"{delivery_id}:{stamp}", stamp + tolerance, current):
            raise VerificationError(f"webhook {delivery_id} was already received (replay)")
    try:
        event = loads(body)
    except Exception as exc:
        raise VerificationError(f"webhook body is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise VerificationError("webhook body is not a JSON object")
    return event


def build_event(ctx: DeliveryContext, link_ttl: int) -> dict[str, Any]:
    links = ctx.links(link_ttl)
    return {"event": "export.completed", "export_id": ctx.export_id, "tenant": ctx.tenant,
            "type": ctx.export_type, "format": ctx.export_format, "created_at": iso_z(ctx.created_at),
            "expires_at": iso_z(ctx.expires_at), "sent_at": iso_z(utcnow()),
            "artifacts": [{"name": a.name, "size": a.size, "sha256": a.sha256, "download_url": links[a.name]}
                          for a in ctx.artifacts],
            "manifest": ctx.manifest}


def deliver_webhook(ctx: DeliveryContext, config: Mapping[str, Any], *,
                    resolver: Resolver = system_resolver) -> DeliveryReceipt:
    url = config_str(config, "url")
    secret = secret_from(config, "secret", required=True)
    assert secret is not None
    timeout = config_number(config, "timeout_seconds", 10.0, 0.5, 60.0)
    link_ttl = int(config_number(config, "link_expires_in", ctx.link_ttl_seconds, 60, 7 * 24 * 3600))
    target = check_url(url, ctx.settings.webhook_allow_hosts, resolver=resolver)
    body = dumps(build_event(ctx, link_ttl), indent=False)
    headers = {"Content-Type": "application/json", "User-Agent": "ExportCenter-Webhook/1",
               "Host": target.host_header, EVENT_HEADER: "export.completed", **signed_headers(secret, body)}
    for name, value in dict(config.get("headers") or {}).items():
        if str(name).lower() in _FORBIDDEN_EXTRA_HEADERS or "\n" in str(value) or "\r" in str(value):
            raise DeliveryFailure(f"webhook header {name!r} may not be set in the delivery config", permanent=True)
        headers[str(name)] = str(value)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False) as client:
            response = client.post(target.pinned_url, content=body, headers=headers, extensions=extensions)
    except httpx.TimeoutException as exc:
        raise DeliveryFailure(f"webhook {target.host} timed out after {timeout:g} s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise DeliveryFailure(f"webhook {target.host} unreachable: {type(exc).__name__}: {exc}") from exc
    code = response.status_code
    if 200 <= code < 300:
        return DeliveryReceipt(code, f"POST {target.host}{target.path_and_query.split('?')[0]} -> {code}")
    snippet = response.text[:200].replace("\n", " ")
    if 300 <= code < 400:
        raise DeliveryFailure(f"webhook answered a redirect ({code}); redirects are not followed", permanent=True,
                              response_code=code)
    raise DeliveryFailure(f"webhook answered HTTP {code}: {snippet}", permanent=code not in _RETRYABLE_STATUS,
                          response_code=code)
