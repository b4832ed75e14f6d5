"""Email delivery to a real SMTP server (aiosmtpd) on loopback: attachment or link, auth, retry."""

from __future__ import annotations

import email
import hashlib
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from exportcenter.config import SmtpSettings
from exportcenter.db.models_delivery import DeliveryAttemptRow
from exportcenter.delivery import retry_due_deliveries
from exportcenter.delivery.attempts import attempts_for
from exportcenter.pipeline.events import BUS
from exportcenter.runtime import Runtime
from exportcenter.util.timeutil import utcnow
from tests.integration.test_delivery_support import (
    completed_export,
    free_port,
    ingest_small_scan,
    make_runtime,
    moto_url,
    s3_settings,
)

__all__ = ["moto_url"]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture()
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_authenticate,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    yield inbox, port
    controller.stop()


def _smtp_settings(port: int, **extra: Any) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, username="mailer", password="s3cret",
                        sender="exports@acme.test", **extra)


def _delivery(**config: Any) -> dict[str, Any]:
    return {"method": "email", "config": {"to": ["security-leads@acme.test"], **config}}


def test_small_export_is_attached_and_matches_the_manifest(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    runtime = make_runtime(tmp_path, smtp=_smtp_settings(port))
    scan_id = ingest_small_scan(runtime)
    row = completed_export(runtime, "acme", scan_id, _delivery(subject="Weekly {{ type }} - {{ week }}"))
    assert row.delivery_status == "delivered"
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["security-leads@acme.test"]
    iso = row.created_at.isocalendar()
    assert message["Subject"] == f"Weekly scan_report - {iso.year}-W{iso.week:02d}"
    attachments = {part.get_filename(): part.get_payload(decode=True) for part in message.walk()
                   if part.get_filename()}
    manifest = {a["name"]: a["sha256"] for a in row.artifacts}
    assert set(attachments) == set(manifest)
    for name, data in attachments.items():
        assert hashlib.sha256(data).hexdigest() == manifest[name]
    with runtime.sessions() as session:
        [attempt] = attempts_for(session, row.id)
    assert (attempt.outcome, attempt.response_code, attempt.method) == ("delivered", 250, "email")
    runtime.close()


def test_large_export_is_linked_and_the_link_downloads(tmp_path: Path, smtp: tuple[Inbox, int],
                                                       moto_url: str) -> None:
    inbox, port = smtp
    runtime = make_runtime(tmp_path, smtp=_smtp_settings(port, attach_max_bytes=100), storage_backend="s3",
                           s3=s3_settings(moto_url, "mail-links"))
    runtime.store.ensure_bucket()  # type: ignore[attr-defined]
    scan_id = ingest_small_scan(runtime)
    row = completed_export(runtime, "acme", scan_id, _delivery())
    assert row.delivery_status == "delivered"
    _, message = inbox.messages[0]
    assert not [p for p in message.walk() if p.get_filename()]
    body = message.get_body(preferencelist=("plain",)) if hasattr(message, "get_body") else message
    text = str(body.get_payload(decode=True), "utf-8") if body.is_multipart() is False else message.as_string()
    urls = [w for w in text.split() if w.startswith("http://")]
    assert len(urls) == len(row.artifacts)
    for artifact, url in zip(row.artifacts, urls, strict=True):
        data = httpx.get(url, timeout=30).content
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
    runtime.close()


def test_smtp_down_keeps_the_export_completed_and_retries(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    runtime = make_runtime(tmp_path, smtp=_smtp_settings(port))
    scan_id = ingest_small_scan(runtime)
    token, events = BUS.subscribe("acme")
    try:
        row = completed_export(runtime, "acme", scan_id, _delivery())
        seen = []
        while not events.empty():
            seen.append(events.get_nowait())
    finally:
        BUS.unsubscribe(token)
    assert (row.status, row.delivery_status) == ("completed", "retrying")
    retry_event = [e for e in seen if e["event"] == "delivery_retrying"]
    assert retry_event and "unreachable" in retry_event[0]["error"] and retry_event[0]["next_attempt_at"]
    with runtime.sessions() as session:
        [first] = attempts_for(session, row.id)
    assert first.outcome == "retrying" and first.error and first.next_attempt_at is not None
    assert timedelta(seconds=20) <= first.next_attempt_at - first.finished_at <= timedelta(seconds=40)
    assert retry_due_deliveries(runtime, utcnow()) == []  # not due yet
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        assert retry_due_deliveries(runtime, utcnow() + timedelta(minutes=5)) == [(row.id, "delivered")]
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    with runtime.sessions() as session:
        outcomes = [(a.attempt, a.outcome) for a in attempts_for(session, row.id)]
    assert outcomes == [(1, "retrying"), (2, "delivered")]
    runtime.close()


def test_wrong_password_fails_permanently(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    runtime = make_runtime(tmp_path, smtp=SmtpSettings(host="127.0.0.1", port=port, username="mailer",
                                                       password="wrong"))
    row = completed_export(runtime, "acme", ingest_small_scan(runtime), _delivery())
    assert (row.status, row.delivery_status) == ("completed", "failed")
    with runtime.sessions() as session:
        attempt: DeliveryAttemptRow = attempts_for(session, row.id)[0]
    assert attempt.response_code == 535 and "authentication failed" in (attempt.error or "")
    assert inbox.messages == []
    runtime.close()


def test_bad_template_and_bad_address_are_refused(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    runtime: Runtime = make_runtime(tmp_path, smtp=_smtp_settings(port))
    scan_id = ingest_small_scan(runtime)
    sandboxed = completed_export(runtime, "acme", scan_id,
                                 _delivery(subject="{{ ''.__class__.__mro__[1].__subclasses__() }}"))
    bad_to = completed_export(runtime, "acme", scan_id, {"method": "email", "config": {"to": ["x\n@evil"]}})
    with runtime.sessions() as session:
        errors = [attempts_for(session, r.id)[0].error or "" for r in (sandboxed, bad_to)]
    assert sandboxed.delivery_status == bad_to.delivery_status == "failed"
    assert "subject template failed" in errors[0] and "invalid email address" in errors[1]
    assert inbox.messages == []
    runtime.close()
