"""One HTTP client per upstream service: base URL, service token, timeouts, bounded retries.

Retried (with exponential backoff and jitter): timeouts, connection errors and 5xx answers.
Never retried: 4xx answers (404 becomes DataNotFoundError naming the service and the id) and bodies
that are not the JSON object the endpoint promises (refused with the reason).
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import httpx

from exportcenter.errors import ConfigurationError, DataNotFoundError, UpstreamError
from exportcenter.observability.tracing import inject_trace_headers
from exportcenter.util.jsonio import loads

log = logging.getLogger("exportcenter.upstream")


class UpstreamRefusedError(UpstreamError):
    """The service answered, but with a refusal (4xx) or a body we cannot use: retrying will not help."""

    code = "upstream_refused"
    retryable = False


class UpstreamClient:
    def __init__(self, service: str, base_url: str | None, *, token: str | None = None,
                 timeout_seconds: float = 10.0, max_attempts: int = 3, backoff_seconds: float = 0.2,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not base_url:
            raise ConfigurationError(f"no URL configured for the {service} service "
                                     f"(EXPORTCENTER_UPSTREAM__{service.upper()}_URL)")
        self.service = service
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = max(0.0, backoff_seconds)
        headers = {"Accept": "application/json", "User-Agent": "exportcenter"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, transport=transport,
                                  timeout=httpx.Timeout(timeout_seconds), follow_redirects=False,
                                  event_hooks={"request": [inject_trace_headers]})  # W3C traceparent

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> UpstreamClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get_json(self, path: str, *, what: str, ident: str) -> dict[str, Any]:
        """GET ``path`` and return its JSON object. ``what``/``ident`` name the resource in errors."""
        last_problem = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._http.get(path)
            except httpx.TimeoutException:
                last_problem = f"timed out after {self._http.timeout.read}s"
            except httpx.TransportError as exc:
                last_problem = f"could not connect ({type(exc).__name__}: {exc})"
            else:
                if response.status_code < 400:
                    return self._decode(response, what, ident)
                if response.status_code == 404:
                    raise DataNotFoundError(f"{self.service} service has no {what} {ident} (404 from GET {path})",
                                            service=self.service, id=ident)
                if response.status_code < 500:
                    raise UpstreamRefusedError(
                        f"{self.service} service refused GET {path} for {what} {ident}: HTTP "
                        f"{response.status_code} {_snippet(response.text)}", service=self.service, id=ident)
                last_problem = f"HTTP {response.status_code} {_snippet(response.text)}"
            if attempt < self.max_attempts:
                delay = self.backoff_seconds * 2 ** (attempt - 1) * (0.5 + random.random())
                log.warning("%s GET %s failed (%s); retry %d/%d in %.2fs", self.service, path, last_problem,
                            attempt, self.max_attempts - 1, delay)
                time.sleep(delay)
        raise UpstreamError(f"{self.service} service failed for {what} {ident} after {self.max_attempts} "
                            f"attempts: {last_problem}", service=self.service, id=ident)

    def _decode(self, response: httpx.Response, what: str, ident: str) -> dict[str, Any]:
        try:
            body = loads(response.content, name=f"{what} {ident}")
        except Exception as exc:
            raise UpstreamRefusedError(
                f"{self.service} service returned malformed JSON for {what} {ident}: {exc}",
                service=self.service, id=ident) from None
        if not isinstance(body, dict):
            raise UpstreamRefusedError(
                f"{self.service} service returned {type(body).__name__} for {what} {ident}, expected a JSON object",
                service=self.service, id=ident)
        return body


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def require(body: dict[str, Any], key: str, kind: type | tuple[type, ...], *, service: str, what: str,
            ident: str) -> Any:
    """A field the endpoint promises; its absence or wrong type is a refusal naming the field."""
    value = body.get(key)
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise UpstreamRefusedError(
            f"{service} service answer for {what} {ident} is invalid: field {key!r} must be {expected}",
            service=service, id=ident)
    return value
