"""Shared peers for the S3 and delivery tests: moto's S3 server, a fault-injecting proxy, a runtime, an export."""

from __future__ import annotations

import http.client
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from exportcenter.catalog.documents import ingest
from exportcenter.config import S3Settings, Settings
from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow
from exportcenter.delivery import deliver_export, fetch_artifacts
from exportcenter.pipeline.request import parse_request
from exportcenter.pipeline.run import create_export, run_export
from exportcenter.runtime import Runtime

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
SMALL_SCAN = DATA / "scans" / "trivy_json_alpine-310.json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class FaultProxy:
    """Forwards HTTP to ``upstream``; ``rule(method, path)`` may answer 500 or stall instead (one request)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.log: list[tuple[str, str, int]] = []
        self.rule: Callable[[str, str], str | None] = lambda method, path: None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                action = proxy.rule(self.command, self.path)
                if action == "500":
                    proxy.log.append((self.command, self.path, 500))
                    payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if action == "stall":
                    proxy.log.append((self.command, self.path, 0))
                    time.sleep(2.5)
                    self.close_connection = True
                    return
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                proxy.log.append((self.command, self.path, reply.status))
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(key, value)
                upstream_length = reply.getheader("Content-Length") or "0"
                self.send_header("Content-Length", upstream_length if self.command == "HEAD" else str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_first(self, count: int, action: str = "500", methods: tuple[str, ...] = ("PUT", "POST")) -> None:
        remaining = [count]
        lock = threading.Lock()

        def rule(method: str, path: str) -> str | None:
            with lock:
                if method in methods and remaining[0] > 0:
                    remaining[0] -= 1
                    return action
            return None

        self.rule = rule

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def s3_settings(endpoint: str, bucket: str, **extra: Any) -> S3Settings:
    return S3Settings(endpoint_url=endpoint, bucket=bucket, access_key_id="testing", secret_access_key="testing",
                      **extra)


def make_runtime(home: Path, **settings: Any) -> Runtime:
    return Runtime.open(Settings(home=home, **settings))


def ingest_small_scan(runtime: Runtime, tenant: str = "acme") -> str:
    result = ingest(runtime.sessions, tenant=tenant, name=SMALL_SCAN.name, content=SMALL_SCAN.read_bytes())
    return result.ids["scan_id"]


def completed_export(runtime: Runtime, tenant: str, scan_id: str, delivery: dict[str, Any] | None,
                     fmt: str = "json") -> ExportRow:
    """Run a real export of ``scan_id`` through the pipeline, then deliver it (unless the pipeline did)."""
    body: dict[str, Any] = {"type": "scan_report", "format": fmt, "scope": {"scan_ids": [scan_id]}}
    if delivery is not None:
        body["delivery"] = delivery
    with transaction(runtime.sessions) as session:
        row = create_export(runtime, session, tenant=tenant, request=parse_request(body), requested_by="test")
        export_id = row.id
    final = run_export(runtime, export_id)
    assert final is not None and final.status == "completed", final and final.error
    if final.delivery_status is None:
        with tempfile.TemporaryDirectory() as work:
            deliver_export(runtime, final, fetch_artifacts(runtime, final, Path(work)))
    with runtime.sessions() as session:
        done = session.get(ExportRow, export_id)
        assert done is not None
        return done
