"""Several worker processes, one /metrics: PROMETHEUS_MULTIPROC_DIR sums each event exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WORKER = """
import sys
from exportcenter.observability import metrics
n = int(sys.argv[1])
for _ in range(n):
    metrics.record_request("scan_report", "json")
    metrics.record_completion("scan_report", "json", seconds=0.5, size_bytes=1000)
metrics.record_failure("sbom", "storage_failure")
metrics.record_delivery_attempt("webhook", "retrying")
"""
SCRAPE = """
from exportcenter.observability.metrics import render_metrics
print(render_metrics(None)[0].decode())
"""


def run(code: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout


def test_counts_from_several_processes_are_summed_once(tmp_path: Path) -> None:
    folder = tmp_path / "prom"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(n)], env=env) for n in (2, 3)]
    assert [w.wait(60) for w in workers] == [0, 0]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(run(SCRAPE, env)) for s in family.samples}
    json_labels = (("format", "json"), ("type", "scan_report"))
    assert samples[("export_requests_total", json_labels)] == 5
    assert samples[("export_duration_seconds_count", json_labels)] == 5
    assert samples[("export_duration_seconds_sum", json_labels)] == 2.5
    assert samples[("export_size_bytes_sum", json_labels)] == 5000
    assert samples[("export_failures_total", (("reason", "storage_failure"), ("type", "sbom")))] == 2
    assert samples[("export_delivery_attempts_total", (("method", "webhook"), ("outcome", "retrying")))] == 2
    assert samples[("export_delivery_failures_total", (("method", "webhook"),))] == 2
    # Scraping twice does not count anything again.
    again = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for family in text_string_to_metric_families(run(SCRAPE, env)) for s in family.samples}
    assert again == samples


def test_label_values_are_bounded() -> None:
    from exportcenter.observability import metrics

    metrics.record_failure("scan_report", "Traceback: something exp-123 went wrong")
    metrics.record_delivery_attempt("ftp://exp-1", "exploded")
    metrics.record_request("not-a-type", "exp-42")
    body = metrics.render_metrics(None)[0].decode()
    assert 'export_failures_total{reason="other",type="scan_report"}' in body
    assert 'export_delivery_attempts_total{method="other",outcome="other"}' in body
    assert 'export_requests_total{format="other",type="other"}' in body
    assert "exp-" not in body
