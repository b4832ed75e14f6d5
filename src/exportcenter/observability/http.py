"""The API side of observability: a server span per request (continuing an incoming W3C traceparent),
one redacted JSON log line per request, and the /metrics endpoint."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exportcenter.config import Settings
from exportcenter.observability import tracing
from exportcenter.observability.logging import configure_logging, log_context, redact_foreign_loggers
from exportcenter.observability.metrics import render_metrics

log = logging.getLogger("exportcenter.api.access")
UNTRACED_PREFIXES = ("/metrics", "/healthz", "/readyz", "/console", "/favicon.ico")
metrics_router = APIRouter(tags=["observability"])


@metrics_router.get("/metrics", response_class=Response, include_in_schema=True,
                    responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus exposition: export counters and histograms, then database gauges (jobs by state, queue)."""
    ctx = getattr(request.app.state, "ctx", None)
    body, content_type = render_metrics(ctx.runtime if ctx is not None else None)
    return Response(body, media_type=content_type)


class TracingMiddleware:
    """Pure ASGI (so streaming and WebSockets pass untouched): one SERVER span per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(UNTRACED_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        parent = tracing.context_from_headers(headers)
        method: str = scope.get("method", "GET")
        status = {"code": 500}
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        with tracing.tracer().start_as_current_span(
                method, context=parent, kind=trace.SpanKind.SERVER,
                attributes={"http.request.method": method, "url.path": path},
                record_exception=False, set_status_on_exception=False) as span:
            tenant = headers.get("x-tenant-id")
            with log_context(tenant=tenant[:128] if tenant else None):
                try:
                    await self.app(scope, receive, send_wrapper)
                finally:
                    route = _route_template(scope)
                    span.update_name(f"{method} {route or path}")
                    if route:
                        span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status["code"])
                    if status["code"] >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                    log.info("%s %s %d %.1fms", method, route or path, status["code"],
                             (time.perf_counter() - started) * 1000)


def _route_template(scope: Scope) -> str | None:
    route: Any = scope.get("route")
    template = getattr(route, "path", None)
    return template if isinstance(template, str) else None


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Tracing provider (OTLP when configured), request spans, /metrics, JSON logs on stderr when the
    process has not configured logging itself, and redaction on Uvicorn's loggers."""
    tracing.configure_tracing(settings)
    _disable_native_fastapi_tracing(app)
    root = logging.getLogger("exportcenter")
    if not root.handlers:
        configure_logging(stream=sys.stderr, json_lines=settings.log_json)
    redact_foreign_loggers()
    app.add_middleware(TracingMiddleware)
    app.include_router(metrics_router)


def _disable_native_fastapi_tracing(app: FastAPI) -> None:
    """FastAPI >= 0.16x traces requests by itself once a provider is installed. Ours replaces it: one
    server span per request, no duplicate, and no query strings in attributes (``?token=`` on the SSE
    stream would otherwise land in a span). Older FastAPI versions have no such config: nothing to do."""
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict):
        config.update({"tracing": False, "operation_spans": False, "logs": False, "metrics": False})
