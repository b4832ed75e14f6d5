"""Upstream StellaOps sources against a real HTTP server on loopback serving the real fixture files."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from exportcenter.errors import DataNotFoundError, UpstreamError
from exportcenter.model import PolicyOutcome, VexStatus
from exportcenter.sources.http.client import UpstreamClient, UpstreamRefusedError
from exportcenter.sources.http.policy import fetch_verdicts
from exportcenter.sources.http.sbom import fetch_sbom
from exportcenter.sources.http.scanner import fetch_scan
from exportcenter.sources.http.vexlens import fetch_applied_vex

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
NOW = datetime(2024, 5, 1, tzinfo=UTC)
Reply = tuple[int, bytes, float]  # status, body, delay before answering


def doc(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


class FakeStellaOps:
    """Routes GET paths to scripted replies; a list is consumed one reply per request (last one repeats)."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.hits: dict[str, int] = {}
        self.auth: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                outer.auth.append(self.headers.get("Authorization"))
                replies = outer.routes.get(self.path, [(404, b'{"error":"not found"}', 0.0)])
                status, body, delay = replies.pop(0) if len(replies) > 1 else replies[0]
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def json(self, path: str, body: Any, status: int = 200) -> None:
        self.routes[path] = [(status, orjson.dumps(body), 0.0)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def upstream() -> Iterator[FakeStellaOps]:
    fake = FakeStellaOps()
    yield fake
    fake.close()


def client(fake: FakeStellaOps, service: str = "scanner", **kwargs: Any) -> UpstreamClient:
    options: dict[str, Any] = {"token": "svc-token", "timeout_seconds": 2.0, "max_attempts": 3,
                               "backoff_seconds": 0.01}
    options.update(kwargs)
    return UpstreamClient(service, fake.url, **options)


def serve_scan(fake: FakeStellaOps, scan_id: str, path: Path, fmt: str, **extra: Any) -> None:
    fake.json(f"/internal/scans/{scan_id}", {"id": scan_id, "format": fmt, "document": doc(path), **extra})


def test_scan_maps_real_trivy_json_and_sends_the_service_token(upstream: FakeStellaOps) -> None:
    path = DATA / "scans" / "trivy_json_alpine-310.json"
    serve_scan(upstream, "scan-1", path, "trivy-json")
    with client(upstream) as scanner:
        found = fetch_scan(scanner, "scan-1", tenant="acme", fetched_at=NOW)
    raw = doc(path)
    expected = sum(len(r.get("Vulnerabilities") or []) for r in raw["Results"])
    assert found.document.scan is not None
    assert found.document.scan.artifact_name == raw["ArtifactName"]
    assert len(found.document.findings) == expected
    assert {f.vuln_id for f in found.document.findings} == {v["VulnerabilityID"] for r in raw["Results"]
                                                            for v in r.get("Vulnerabilities") or []}
    assert upstream.auth == ["Bearer svc-token"]


def test_grype_scan_sbom_verdicts_and_vex(upstream: FakeStellaOps) -> None:
    grype = DATA / "scans" / "grype_json_fix-available.json"
    serve_scan(upstream, "g1", grype, "grype-json", sbom_digest="sha256:abc")
    sbom_path = DATA / "sbom" / "cdx15_trivy-0.48.1_image-with-vulns.json"
    upstream.json("/internal/sboms/sha256%3Aabc", {"digest": "sha256:abc", "format": "cyclonedx",
                                                    "document": doc(sbom_path)})
    vex_path = DATA / "vex" / "openvex_vexctl_nginx-sample-2vulns.openvex.json"
    upstream.json("/internal/vex/applied/g1", {"scan_id": "g1", "documents": [
        {"format": "openvex", "document": doc(vex_path)}]})
    with client(upstream) as scanner:
        found = fetch_scan(scanner, "g1", tenant="acme", fetched_at=NOW)
        sbom = fetch_sbom(scanner, "sha256:abc", tenant="acme", fetched_at=NOW)
        statements, notes = fetch_applied_vex(scanner, "g1", tenant="acme", fetched_at=NOW)
        assert found.sbom_digest == "sha256:abc"
        assert sbom.sbom is not None and len(sbom.sbom.components) == len(doc(sbom_path)["components"])
        assert all(n.startswith("scanner:VEX document/g1#0: ") for n in notes)
        assert [s.vuln_id for s in statements] == [s["vulnerability"]["name"] for s in doc(vex_path)["statements"]]
        assert all(isinstance(s.status, VexStatus) for s in statements)
        scan = found.document.scan
        assert scan is not None
        vuln = found.document.findings[0].vuln_id
        upstream.json("/internal/verdicts/g1", {"scan_id": "g1", "verdicts": [{
            "id": "v-1", "policy_set": "default", "outcome": "fail", "evaluated_at": "2024-04-30T10:00:00Z",
            "rules": [{"rule_id": "no-fixable", "name": "No fixable", "outcome": "fail", "message": "fix exists",
                       "vulnerabilities": [vuln]}]}]})
        verdicts, _ = fetch_verdicts(scanner, "g1", scan, found.document.findings)
    assert len(verdicts) == 1 and verdicts[0].outcome is PolicyOutcome.FAIL and verdicts[0].scan_id == scan.id
    matched = verdicts[0].rules[0].matched_finding_ids
    assert matched and all(f.vuln_id == vuln for f in found.document.findings if f.id in matched)


def test_5xx_then_success_is_retried(upstream: FakeStellaOps) -> None:
    body = orjson.dumps({"id": "s", "format": "trivy-json",
                         "document": doc(DATA / "scans" / "trivy_json_alpine-310.json")})
    upstream.routes["/internal/scans/s"] = [(503, b"busy", 0.0), (502, b"bad gateway", 0.0), (200, body, 0.0)]
    with client(upstream) as scanner:
        found = fetch_scan(scanner, "s", tenant="acme", fetched_at=NOW)
    assert found.document.scan is not None
    assert upstream.hits["/internal/scans/s"] == 3


def test_5xx_every_time_fails_after_bounded_attempts_naming_service_and_id(upstream: FakeStellaOps) -> None:
    upstream.routes["/internal/scans/s"] = [(500, b"boom", 0.0)]
    with client(upstream, max_attempts=2) as scanner, pytest.raises(UpstreamError) as caught:
        fetch_scan(scanner, "s", tenant="acme", fetched_at=NOW)
    assert caught.value.retryable
    assert caught.value.message == "scanner service failed for scan s after 2 attempts: HTTP 500 boom"
    assert upstream.hits["/internal/scans/s"] == 2


def test_timeout_is_retried_then_reported(upstream: FakeStellaOps) -> None:
    body = orjson.dumps({"id": "t", "format": "trivy-json",
                         "document": doc(DATA / "scans" / "trivy_json_alpine-310.json")})
    upstream.routes["/internal/scans/t"] = [(200, body, 1.5), (200, body, 0.0)]
    with client(upstream, timeout_seconds=0.5) as scanner:
        assert fetch_scan(scanner, "t", tenant="acme", fetched_at=NOW).document.scan is not None
    upstream.routes["/internal/scans/t2"] = [(200, body, 1.0)]
    started = time.monotonic()
    with client(upstream, timeout_seconds=0.3, max_attempts=2) as scanner, pytest.raises(UpstreamError) as caught:
        fetch_scan(scanner, "t2", tenant="acme", fetched_at=NOW)
    assert "timed out after 0.3s" in caught.value.message and "scan t2" in caught.value.message
    assert time.monotonic() - started < 3


def test_404_is_data_not_found_naming_the_service_and_id_without_retry(upstream: FakeStellaOps) -> None:
    with client(upstream, service="sbom") as sbom, pytest.raises(DataNotFoundError) as caught:
        fetch_sbom(sbom, "sha256:0000", tenant="acme", fetched_at=NOW)
    assert caught.value.message.startswith("sbom service has no SBOM sha256:0000 (404")
    assert caught.value.http_status == 404
    assert upstream.hits == {"/internal/sboms/sha256%3A0000": 1}


def test_4xx_is_refused_without_retry(upstream: FakeStellaOps) -> None:
    upstream.routes["/internal/scans/x"] = [(401, b'{"error":"bad token"}', 0.0)]
    with client(upstream) as scanner, pytest.raises(UpstreamRefusedError) as caught:
        fetch_scan(scanner, "x", tenant="acme", fetched_at=NOW)
    assert not caught.value.retryable and "HTTP 401" in caught.value.message
    assert upstream.hits["/internal/scans/x"] == 1


def test_malformed_json_is_refused_with_the_reason(upstream: FakeStellaOps) -> None:
    upstream.routes["/internal/scans/m"] = [(200, b'{"id": "m", "format": "trivy-json", "document": {', 0.0)]
    with client(upstream) as scanner, pytest.raises(UpstreamRefusedError) as caught:
        fetch_scan(scanner, "m", tenant="acme", fetched_at=NOW)
    assert "scanner service returned malformed JSON for scan m" in caught.value.message
    assert "not valid JSON" in caught.value.message
    upstream.json("/internal/scans/n", {"id": "n", "format": "trivy-json", "document": "oops"})
    with client(upstream) as scanner, pytest.raises(UpstreamRefusedError) as caught:
        fetch_scan(scanner, "n", tenant="acme", fetched_at=NOW)
    assert "field 'document' must be dict" in caught.value.message


def test_declared_format_must_match_the_document(upstream: FakeStellaOps) -> None:
    serve_scan(upstream, "w", DATA / "scans" / "grype_json_no-vulns.json", "trivy-json")
    with client(upstream) as scanner, pytest.raises(UpstreamRefusedError) as caught:
        fetch_scan(scanner, "w", tenant="acme", fetched_at=NOW)
    assert "declared scan w as 'trivy-json' but the document is 'grype-json'" in caught.value.message


def test_missing_vex_and_verdicts_are_warnings(upstream: FakeStellaOps) -> None:
    serve_scan(upstream, "q", DATA / "scans" / "trivy_json_alpine-310.json", "trivy-json")
    with client(upstream) as scanner:
        found = fetch_scan(scanner, "q", tenant="acme", fetched_at=NOW)
        statements, vex_notes = fetch_applied_vex(scanner, "q", tenant="acme", fetched_at=NOW)
        assert found.document.scan is not None
        verdicts, verdict_notes = fetch_verdicts(scanner, "q", found.document.scan, found.document.findings)
    assert statements == () and vex_notes == ["scanner service has no VEX for scan q"]
    assert verdicts == () and verdict_notes == ["scanner service has no verdicts for scan q"]
