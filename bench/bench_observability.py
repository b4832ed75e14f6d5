"""Cost of the observability hooks: one span (SDK provider, no exporter) vs the no-op API tracer, and one
export's metric observations. Usage: .venv/bin/python bench/bench_observability.py"""

import time

from opentelemetry import trace

from exportcenter.observability import metrics, tracing

N = 20_000


def per_call(fn) -> float:
    start = time.perf_counter()
    for _ in range(N):
        fn()
    return (time.perf_counter() - start) / N * 1e6


def noop_span() -> None:
    with trace.NoOpTracer().start_as_current_span("x"):
        pass


def sdk_span() -> None:
    with tracing.span("data-gather", {"export.id": "exp-1"}):
        pass


def observations() -> None:
    metrics.record_request("scan_report", "json")
    metrics.record_completion("scan_report", "json", seconds=1.2, size_bytes=20_000, warnings=())


tracing.configure_tracing()
for name, fn in (("no-op span (baseline)", noop_span), ("SDK span, no exporter", sdk_span),
                 ("metrics of one export", observations)):
    best = min(per_call(fn) for _ in range(3))
    print(f"{name:28s} {best:7.2f} us/call")
