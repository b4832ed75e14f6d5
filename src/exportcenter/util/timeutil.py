"""UTC time helpers. Every timestamp we write is UTC and labelled ``Z``."""

from __future__ import annotations

import os
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def build_time() -> datetime:
    """The time an artifact claims to be generated: SOURCE_DATE_EPOCH when set, else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return datetime.fromtimestamp(int(epoch.strip()), UTC)
    return utcnow().replace(microsecond=0)


def iso_z(value: datetime | None) -> str | None:
    """``YYYY-MM-DDThh:mm:ssZ`` in UTC (naive datetimes are taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> datetime | None:
    """Parse the timestamps scanners write (RFC 3339 with any fraction length or offset). Never raises."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Python < 3.12 refuses fractions that are not 3 or 6 digits long
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tail = rest[len(digits):]
        text = f"{head}.{(digits + '000000')[:6]}{tail}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.strptime(value.strip()[:19], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
