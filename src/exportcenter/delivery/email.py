"""Email delivery over SMTP (plain, STARTTLS or implicit TLS, optional auth): attachments or links by size."""

from __future__ import annotations

import mimetypes
import re
import smtplib
import ssl
from collections.abc import Mapping
from datetime import UTC, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from exportcenter.delivery.base import (
    DeliveryContext,
    DeliveryFailure,
    DeliveryReceipt,
    config_number,
    render_text,
)
from exportcenter.util.timeutil import iso_z, utcnow

_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*$")
DEFAULT_SUBJECT = "ExportCenter: {{ type }} export {{ export_id }} is ready"
DEFAULT_BODY = """Your {{ type }} export ({{ format }}) for tenant {{ tenant }} is ready.

Export id: {{ export_id }}
Created:   {{ created_at }}
Expires:   {{ expires_at }}

{% for a in artifacts %}- {{ a.name }} ({{ a.size }} bytes, sha256 {{ a.sha256 }}){% if a.url %}
  {{ a.url }}{% endif %}
{% endfor %}{% if attached %}The files are attached.{% else %}The links expire at {{ links_expire_at }}.{% endif %}
"""


# Compound suffixes mimetypes gets wrong or too vague (it calls .tar.gz "application/x-tar" + gzip encoding).
_MEDIA_TYPES = (
    (".tar.gz", "application/gzip"), (".tgz", "application/gzip"), (".gz", "application/gzip"),
    (".cdx.json", "application/vnd.cyclonedx+json"), (".cdx.xml", "application/vnd.cyclonedx+xml"),
    (".spdx.json", "application/spdx+json"), (".sarif.json", "application/sarif+json"),
    (".sarif", "application/sarif+json"),
)


def attachment_type(name: str) -> str:
    """The media type an attachment is sent with: what the bytes are, not what they unpack to."""
    lower = name.lower()
    for suffix, media_type in _MEDIA_TYPES:
        if lower.endswith(suffix):
            return media_type
    kind, encoding = mimetypes.guess_type(name)
    if encoding is not None:
        return "application/octet-stream"
    return kind or "application/octet-stream"


def _recipients(config: Mapping[str, Any], key: str) -> list[str]:
    value = config.get(key) or []
    items = [value] if isinstance(value, str) else list(value)
    result = []
    for item in items:
        address = str(item).strip()
        if not _ADDRESS.match(address):
            raise DeliveryFailure(f"invalid email address in {key!r}: {address!r}", permanent=True)
        result.append(address)
    return result


def _mode(config: Mapping[str, Any]) -> str:
    mode = str(config.get("attach", "auto")).lower()
    if mode not in ("auto", "always", "never"):
        raise DeliveryFailure(f"email 'attach' must be auto, always or never, got {mode!r}", permanent=True)
    return mode


def build_message(ctx: DeliveryContext, config: Mapping[str, Any]) -> tuple[EmailMessage, list[str], bool]:
    """The message, its envelope recipients, and whether the artifacts are attached (else linked)."""
    to, cc, bcc = _recipients(config, "to"), _recipients(config, "cc"), _recipients(config, "bcc")
    if not to:
        raise DeliveryFailure("email delivery needs at least one address in 'to'", permanent=True)
    limit = ctx.settings.smtp.attach_max_bytes
    mode = _mode(config)
    attach = mode == "always" or (mode == "auto" and ctx.total_size <= limit)
    if mode == "always" and ctx.total_size > limit:
        raise DeliveryFailure(f"artifacts are {ctx.total_size} bytes, above smtp.attach_max_bytes ({limit})",
                              permanent=True)
    ttl = int(config_number(config, "link_expires_in", ctx.link_ttl_seconds, 60, 7 * 24 * 3600))
    links = {} if attach else ctx.links(ttl)
    variables = ctx.template_vars()
    variables["artifacts"] = [{**a, "url": links.get(a["name"])} for a in variables["artifacts"]]
    variables["attached"] = attach
    variables["links_expire_at"] = iso_z(utcnow() + timedelta(seconds=ttl))
    subject = render_text(str(config.get("subject") or DEFAULT_SUBJECT), variables, what="email subject")
    subject = " ".join(subject.split())[:900]
    body = render_text(str(config.get("body") or DEFAULT_BODY), variables, what="email body")
    message = EmailMessage()
    message["From"] = str(config.get("from") or ctx.settings.smtp.sender)
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow().astimezone(UTC))  # "+0000": the time zone is known
    message["Message-ID"] = make_msgid(domain="exportcenter")
    message["X-ExportCenter-Export-Id"] = ctx.export_id
    message.set_content(body)
    if attach:
        for artifact in ctx.artifacts:
            kind = attachment_type(artifact.name)
            maintype, _, subtype = kind.partition("/")
            message.add_attachment(artifact.path.read_bytes(), maintype=maintype, subtype=subtype,
                                   filename=artifact.name)
    return message, [*to, *cc, *bcc], attach


def _connect(ctx: DeliveryContext, timeout: float) -> smtplib.SMTP:
    smtp = ctx.settings.smtp
    context = ssl.create_default_context()
    if smtp.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    try:
        client.ehlo()
        if smtp.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
    except BaseException:
        client.close()
        raise
    return client


def deliver_email(ctx: DeliveryContext, config: Mapping[str, Any]) -> DeliveryReceipt:
    timeout = config_number(config, "timeout_seconds", 30.0, 1.0, 300.0)
    message, recipients, attached = build_message(ctx, config)
    smtp = ctx.settings.smtp
    try:
        client = _connect(ctx, timeout)
        try:
            refused = client.send_message(message, from_addr=str(config.get("from") or smtp.sender),
                                          to_addrs=recipients)
        finally:
            try:
                client.quit()
            except smtplib.SMTPException:
                client.close()
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryFailure(f"SMTP authentication failed: {exc.smtp_code} {_text(exc.smtp_error)}",
                              permanent=True, response_code=exc.smtp_code) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        code = max(codes) if codes else None
        raise DeliveryFailure(f"SMTP refused every recipient: {', '.join(exc.recipients)}",
                              permanent=bool(code and code >= 500), response_code=code) from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailure(f"SMTP error {exc.smtp_code}: {_text(exc.smtp_error)}",
                              permanent=exc.smtp_code >= 500, response_code=exc.smtp_code) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailure(f"SMTP server {smtp.host}:{smtp.port} unreachable: {type(exc).__name__}: {exc}") from exc
    sent = len(recipients) - len(refused)
    how = "attached" if attached else "linked"
    detail = f"sent to {sent} recipient(s), artifacts {how}"
    if refused:
        detail += f"; refused: {', '.join(sorted(refused))}"
    return DeliveryReceipt(250, detail)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
