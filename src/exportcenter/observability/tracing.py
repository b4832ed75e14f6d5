"""OpenTelemetry traces: the spec's span tree, W3C traceparent in and out, OTLP export when configured.

One SDK TracerProvider per process, installed by :func:`configure_tracing`. Spans always get real ids (so
logs carry a trace_id and the traceparent travels API -> database -> worker -> upstream services), but
nothing leaves the process unless ``settings.otlp_endpoint`` is set: then a batch OTLP/HTTP exporter
sends them there. Extra processors (tests: an in-memory exporter) are added with :func:`add_span_processor`.

Span names (spec "Trace Context"): export-request > data-gather (scanner-query, policy-query,
vexlens-query) > template-render > artifact-storage > evidence-seal > delivery. The API adds one server
span per HTTP request ("POST /api/v1/exports"), which is the parent of the worker's export-request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from exportcenter.config import Settings

log = logging.getLogger("exportcenter.tracing")
TRACER_NAME = "exportcenter"
_PROPAGATOR = TraceContextTextMapPropagator()
_LOCK = threading.Lock()
AttributeValue = str | int | float | bool


class _Fanout(SpanProcessor):
    """Forwards to a list of processors that can grow and shrink while the process runs."""

    def __init__(self) -> None:
        self.processors: list[SpanProcessor] = []

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        for processor in list(self.processors):
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in list(self.processors):
            processor.on_end(span)

    def shutdown(self) -> None:
        for processor in list(self.processors):
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(p.force_flush(timeout_millis) for p in list(self.processors))


_FANOUT = _Fanout()
_PROVIDER: TracerProvider | None = None
_OTLP_ENDPOINT: str | None = None


def configure_tracing(settings: Settings | None = None) -> TracerProvider:
    """Install the SDK provider once per process; add the OTLP exporter once when an endpoint is set."""
    global _PROVIDER, _OTLP_ENDPOINT
    with _LOCK:
        if _PROVIDER is None:
            _PROVIDER = TracerProvider(resource=Resource.create({"service.name": "exportcenter"}))
            _PROVIDER.add_span_processor(_FANOUT)
            with contextlib.suppress(Exception):  # another library may own the global provider
                trace.set_tracer_provider(_PROVIDER)
        endpoint = settings.otlp_endpoint if settings is not None else None
        if endpoint and endpoint != _OTLP_ENDPOINT:
            _FANOUT.processors.append(_otlp_processor(endpoint))
            _OTLP_ENDPOINT = endpoint
        return _PROVIDER


def _otlp_processor(endpoint: str) -> SpanProcessor:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:  # pragma: no cover - optional extra "otlp"
        from exportcenter.errors import ConfigurationError

        raise ConfigurationError("otlp_endpoint is set but opentelemetry-exporter-otlp-proto-http is not "
                                 "installed (pip install 'exportcenter[otlp]')") from exc
    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    log.info("exporting traces over OTLP/HTTP to %s", url)
    return BatchSpanProcessor(OTLPSpanExporter(endpoint=url))


def add_span_processor(processor: SpanProcessor) -> None:
    configure_tracing()
    _FANOUT.processors.append(processor)


def remove_span_processor(processor: SpanProcessor) -> None:
    with contextlib.suppress(ValueError):
        _FANOUT.processors.remove(processor)


def tracer() -> trace.Tracer:
    return configure_tracing().get_tracer(TRACER_NAME)


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, AttributeValue | None] | None = None, *,
         parent: otel_context.Context | None = None,
         kind: trace.SpanKind = trace.SpanKind.INTERNAL) -> Iterator[trace.Span]:
    """A span around a block; an exception marks it as an error (with the error code when ours)."""
    clean = {k: v for k, v in (attributes or {}).items() if v is not None}
    with tracer().start_as_current_span(name, context=parent, kind=kind, attributes=clean,
                                        record_exception=False, set_status_on_exception=False) as current:
        try:
            yield current
        except BaseException as exc:
            code = getattr(exc, "code", None)
            current.set_attribute("error.type", str(code) if isinstance(code, str) else type(exc).__name__)
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def set_attributes(attributes: Mapping[str, AttributeValue | None]) -> None:
    """Add attributes to the current span (sizes, counts, outcome)."""
    current = trace.get_current_span()
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(key, value)


def mark_error(code: str | None) -> None:
    """Mark the current span failed with a bounded error code (the exception was handled elsewhere)."""
    current = trace.get_current_span()
    current.set_attribute("error.type", code or "internal")
    current.set_status(Status(StatusCode.ERROR, code or "internal"))


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to store with a job or send upstream."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> otel_context.Context | None:
    """The parent context a worker continues; None when there is no (valid) traceparent."""
    if not traceparent:
        return None
    extracted = _PROPAGATOR.extract({"traceparent": traceparent})
    if not trace.get_current_span(extracted).get_span_context().is_valid:
        return None
    return extracted


def context_from_headers(headers: Mapping[str, str]) -> otel_context.Context:
    return _PROPAGATOR.extract({k.lower(): v for k, v in headers.items()})


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """``headers`` plus ``traceparent`` (and ``tracestate``) of the current span, for outgoing HTTP."""
    carrier: dict[str, Any] = dict(headers or {})
    _PROPAGATOR.inject(carrier)
    return carrier


def trace_ids() -> tuple[str, str] | None:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def inject_trace_headers(request: Any) -> None:
    """An httpx ``request`` event hook: every upstream call carries the current W3C traceparent."""
    for key, value in inject_headers().items():
        request.headers[key] = value
