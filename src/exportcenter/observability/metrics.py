"""Prometheus metrics: the spec's four export metrics plus what an operator needs to run the service.

Two kinds, so that several processes never count one event twice:

- Event counters and histograms (requests, durations, sizes, failures, delivery attempts, storage
  retries, PDF fallbacks) are incremented by the one process where the event happens: the API (or
  scheduler) that records a request, the worker that runs the export. With several processes on one
  machine set ``PROMETHEUS_MULTIPROC_DIR`` (an empty folder, the same for all of them, before they start)
  and any of them serves the sum at /metrics; on several machines scrape each and sum in PromQL.
- State gauges (jobs by state, queue depth, age of the oldest queued job) are read from the database at
  scrape time, so every replica reports the same truth; aggregate them with ``max``, never ``sum``.

Label values are bounded: export types and formats from the enums, error codes, delivery methods, and
a few fallback reasons. Never ids, tenants or free text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from exportcenter.model import ExportFormat, ExportType

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from exportcenter.runtime import Runtime

disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double the output and nobody here queries them
_REGISTRY = CollectorRegistry(auto_describe=True)
_TYPE_FORMAT = ("type", "format")
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
SIZE_BUCKETS = (1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10)

EXPORT_REQUESTS = Counter("export_requests", "Export requests accepted (queued), by type and format.",
                          _TYPE_FORMAT, registry=_REGISTRY)
EXPORT_DURATION = Histogram("export_duration_seconds",
                            "Processing time of completed exports (claimed by a worker -> completed).",
                            _TYPE_FORMAT, buckets=DURATION_BUCKETS, registry=_REGISTRY)
EXPORT_SIZE = Histogram("export_size_bytes", "Total artifact bytes of completed exports (manifest excluded).",
                        _TYPE_FORMAT, buckets=SIZE_BUCKETS, registry=_REGISTRY)
EXPORT_FAILURES = Counter("export_failures", "Exports that ended failed, by type and error code.",
                          ("type", "reason"), registry=_REGISTRY)
DELIVERY_ATTEMPTS = Counter("export_delivery_attempts",
                            "Delivery attempts by method and outcome (delivered, retrying, failed).",
                            ("method", "outcome"), registry=_REGISTRY)
DELIVERY_FAILURES = Counter("export_delivery_failures", "Delivery attempts that did not deliver, by method.",
                            ("method",), registry=_REGISTRY)
STORAGE_RETRIES = Counter("export_storage_retries", "Artifact-store publish attempts that failed and were retried.",
                          registry=_REGISTRY)
PDF_FALLBACKS = Counter("export_pdf_fallbacks",
                        "PDF renders that fell back: simplified report after a timeout, or the default template.",
                        ("reason",), registry=_REGISTRY)

JOB_STATES = ("queued", "processing", "completed", "failed", "cancelled", "expired")
DELIVERY_METHODS = frozenset({"download", "email", "webhook", "s3"})
DELIVERY_OUTCOMES = frozenset({"delivered", "retrying", "failed"})
_TYPES = frozenset(t.value for t in ExportType)
_FORMATS = frozenset(f.value for f in ExportFormat)
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PDF_FALLBACK_REASONS = (("PDF generation timeout", "timeout_simplified"), ("Template error", "default_template"))


def _bounded(value: str, allowed: Iterable[str]) -> str:
    return value if value in allowed else "other"


def _type_format(export_type: str, export_format: str) -> tuple[str, str]:
    return _bounded(export_type, _TYPES), _bounded(export_format, _FORMATS)


def record_request(export_type: str, export_format: str) -> None:
    """One export accepted into the queue (call after the row is written, once per export)."""
    EXPORT_REQUESTS.labels(*_type_format(export_type, export_format)).inc()


def record_completion(export_type: str, export_format: str, *, seconds: float, size_bytes: int,
                      warnings: Iterable[str] = ()) -> None:
    labels = _type_format(export_type, export_format)
    EXPORT_DURATION.labels(*labels).observe(max(0.0, seconds))
    EXPORT_SIZE.labels(*labels).observe(max(0, size_bytes))
    for reason in pdf_fallback_reasons(warnings):
        PDF_FALLBACKS.labels(reason).inc()


def record_failure(export_type: str, reason: str | None) -> None:
    """An export ended ``failed``; ``reason`` is its error code (bounded: unknown shapes become "other")."""
    code = reason if reason and _CODE.match(reason) else "other"
    EXPORT_FAILURES.labels(_bounded(export_type, _TYPES), code).inc()


def record_delivery_attempt(method: str, outcome: str) -> None:
    method = _bounded(method, DELIVERY_METHODS)
    DELIVERY_ATTEMPTS.labels(method, _bounded(outcome, DELIVERY_OUTCOMES)).inc()
    if outcome != "delivered":
        DELIVERY_FAILURES.labels(method).inc()


def record_storage_retry() -> None:
    STORAGE_RETRIES.inc()


def pdf_fallback_reasons(warnings: Iterable[str]) -> list[str]:
    return [reason for warning in warnings for prefix, reason in PDF_FALLBACK_REASONS if warning.startswith(prefix)]


class JobStateCollector(Collector):
    """Gauges computed from the database at each scrape: the same answer from every replica."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        from sqlalchemy import func, select

        from exportcenter.db.engine import transaction
        from exportcenter.db.models import ExportRow
        from exportcenter.util.timeutil import utcnow

        with transaction(self.runtime.sessions) as session:
            counts = dict(session.execute(
                select(ExportRow.status, func.count()).group_by(ExportRow.status)).tuples().all())
            oldest = session.scalar(select(func.min(ExportRow.created_at))
                                    .where(ExportRow.status == "queued"))
        jobs = GaugeMetricFamily("export_jobs", "Exports in the database by state.", labels=["state"])
        for state in JOB_STATES:
            jobs.add_metric([state], float(counts.get(state, 0)))
        yield jobs
        yield GaugeMetricFamily("export_queue_depth", "Exports waiting in the queue (state queued).",
                                value=float(counts.get("queued", 0)))
        age = 0.0
        if oldest is not None:
            from datetime import UTC

            created = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = max(0.0, (utcnow() - created).total_seconds())
        yield GaugeMetricFamily("export_queue_oldest_age_seconds",
                                "Age of the oldest queued export (0 when the queue is empty).", value=age)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render_metrics(runtime: Runtime | None) -> tuple[bytes, str]:
    """The /metrics body and its content type: event metrics (summed over processes in multiprocess mode)
    followed by the database gauges."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        events = CollectorRegistry()
        multiprocess.MultiProcessCollector(events)  # type: ignore[no-untyped-call]
    else:
        events = _REGISTRY
    body = generate_latest(events)
    if runtime is not None:
        state = CollectorRegistry(auto_describe=False)
        state.register(JobStateCollector(runtime))
        body += generate_latest(state)
    return body, CONTENT_TYPE_LATEST
