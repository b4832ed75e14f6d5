"""Webhook delivery to a loopback receiver that verifies the signature; replays, staleness and SSRF refused."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from exportcenter.delivery.attempts import attempts_for
from exportcenter.delivery.base import DeliveryFailure
from exportcenter.delivery.netguard import check_url
from exportcenter.delivery.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayCache,
    signed_headers,
    verify_webhook,
)
from exportcenter.errors import VerificationError
from exportcenter.runtime import Runtime
from tests.integration.test_delivery_support import completed_export, ingest_small_scan, make_runtime

SECRET = "whsec-test-0123456789"


class Receiver:
    """Verifies every POST with verify_webhook (one replay cache) and answers 204 or 400 with the reason."""

    def __init__(self, answer: int = 204) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.raw: list[tuple[dict[str, str], bytes]] = []
        self.answer = answer
        cache = ReplayCache()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = dict(self.headers.items())
                receiver.raw.append((headers, body))
                try:
                    receiver.accepted.append(verify_webhook(SECRET, headers, body, 300, replay_cache=cache))
                    status, reply = receiver.answer, b""
                except VerificationError as exc:
                    receiver.refused.append(exc.message)
                    status, reply = 400, exc.message.encode()
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/exports?source=ec"


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    instance = Receiver()
    yield instance
    instance.server.shutdown()
    instance.server.server_close()


def _runtime(tmp_path: Path, allow: list[str]) -> Runtime:
    return make_runtime(tmp_path, webhook_allow_hosts=allow)


def _hook(url: str, **extra: Any) -> dict[str, Any]:
    return {"method": "webhook", "config": {"url": url, "secret": SECRET, "timeout_seconds": 2, **extra}}


def test_signed_event_is_verified_and_a_replay_is_refused(tmp_path: Path, receiver: Receiver) -> None:
    runtime = _runtime(tmp_path, ["127.0.0.1"])
    row = completed_export(runtime, "acme", ingest_small_scan(runtime), _hook(receiver.url))
    assert row.delivery_status == "delivered"
    [event] = receiver.accepted
    assert (event["event"], event["export_id"], event["tenant"]) == ("export.completed", row.id, "acme")
    assert [(a["name"], a["sha256"]) for a in event["artifacts"]] == [(a["name"], a["sha256"]) for a in row.artifacts]
    assert all(a["download_url"].startswith("http") for a in event["artifacts"])
    headers, body = receiver.raw[0]
    assert headers[SIGNATURE_HEADER].startswith("v1=")
    replay = httpx.post(receiver.url, content=body, headers={k: v for k, v in headers.items()
                                                             if k.lower() not in ("content-length", "host")})
    assert replay.status_code == 400 and "replay" in replay.text
    tampered = httpx.post(receiver.url, content=body.replace(b"acme", b"evil"),
                          headers={k: v for k, v in headers.items() if k.lower() not in ("content-length", "host")})
    assert tampered.status_code == 400 and "signature" in tampered.text
    with runtime.sessions() as session:
        [attempt] = attempts_for(session, row.id)
    assert (attempt.outcome, attempt.response_code) == ("delivered", 204)
    runtime.close()


def test_verify_refuses_stale_and_accepts_fresh() -> None:
    body = b'{"event":"export.completed"}'
    old = signed_headers(SECRET, body, timestamp=int(time.time()) - 3600)
    with pytest.raises(VerificationError, match="tolerance"):
        verify_webhook(SECRET, old, body, 300)
    fresh = signed_headers(SECRET, body)
    assert verify_webhook(SECRET, fresh, body, 300) == {"event": "export.completed"}
    with pytest.raises(VerificationError, match="signature"):
        verify_webhook("other-secret", fresh, body, 300)
    with pytest.raises(VerificationError, match="missing header"):
        verify_webhook(SECRET, {TIMESTAMP_HEADER: fresh[TIMESTAMP_HEADER]}, body, 300)


def test_loopback_is_refused_unless_allow_listed_and_nothing_is_sent(tmp_path: Path, receiver: Receiver) -> None:
    runtime = _runtime(tmp_path, [])
    row = completed_export(runtime, "acme", ingest_small_scan(runtime), _hook(receiver.url))
    assert (row.status, row.delivery_status) == ("completed", "failed")
    assert receiver.raw == []
    with runtime.sessions() as session:
        [attempt] = attempts_for(session, row.id)
    assert "127.0.0.1 is a loopback address" in (attempt.error or "")
    runtime.close()


@pytest.mark.parametrize(("address", "reason"), [
    ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"), ("10.1.2.3", "private"),
    ("192.168.0.10", "private"), ("172.16.5.4", "private"), ("127.0.0.1", "loopback"), ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"), ("169.254.10.10", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"), ("240.0.0.1", "reserved"), ("100.64.1.1", "shared"),
])
def test_internal_addresses_are_refused_at_resolution(address: str, reason: str) -> None:
    def resolver(host: str, port: int) -> list[str]:
        return [address]

    with pytest.raises(DeliveryFailure, match=reason) as refused:
        check_url("https://hooks.example.com/in", [], resolver=resolver)
    assert refused.value.permanent


def test_mixed_answers_allow_list_and_literals() -> None:
    with pytest.raises(DeliveryFailure, match="private"):  # one internal answer is enough to refuse
        check_url("https://a.example/", [], resolver=lambda h, p: ["93.184.215.14", "10.0.0.1"])
    target = check_url("https://a.example:8443/x?y=1", [], resolver=lambda h, p: ["93.184.215.14"])
    assert (target.pinned_url, target.host_header) == ("https://93.184.215.14:8443/x?y=1", "a.example:8443")
    allowed = check_url("http://hooks.internal/", ["10.0.0.0/8"], resolver=lambda h, p: ["10.2.3.4"])
    assert allowed.address == "10.2.3.4"
    with pytest.raises(DeliveryFailure, match="metadata"):
        check_url("http://169.254.169.254/latest/meta-data/", ["hooks.internal"])
    with pytest.raises(DeliveryFailure, match="scheme"):
        check_url("file:///etc/passwd", [])
    with pytest.raises(DeliveryFailure, match="credentials"):
        check_url("https://user:pw@a.example/", [], resolver=lambda h, p: ["93.184.215.14"])


def test_redirects_are_not_followed_and_5xx_is_retried(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, ["127.0.0.1"])
    scan_id = ingest_small_scan(runtime)
    redirecting, failing = Receiver(answer=302), Receiver(answer=503)
    try:
        moved = completed_export(runtime, "acme", scan_id, _hook(redirecting.url))
        down = completed_export(runtime, "acme", scan_id, _hook(failing.url))
    finally:
        for server in (redirecting, failing):
            server.server.shutdown()
            server.server.server_close()
    assert len(redirecting.raw) == 1 and moved.delivery_status == "failed"
    assert len(failing.raw) == 1 and down.delivery_status == "retrying"
    with runtime.sessions() as session:
        codes = [attempts_for(session, r.id)[0].response_code for r in (moved, down)]
    assert codes == [302, 503]
    runtime.close()


def test_missing_secret_is_a_configuration_failure(tmp_path: Path, receiver: Receiver) -> None:
    runtime = _runtime(tmp_path, ["127.0.0.1"])
    row = completed_export(runtime, "acme", ingest_small_scan(runtime),
                           {"method": "webhook", "config": {"url": receiver.url, "secret_env": "NO_SUCH_VAR_EC"}})
    assert row.delivery_status == "failed" and receiver.raw == []
    runtime.close()
