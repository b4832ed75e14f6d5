"""Secret-looking values in stored requests are kept for delivery but never shown in an API response."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(secret|password|passwd|passphrase|token|credential|authorization|cookie|private|signature"
    r"|(^|[_-])key$|^key$|api[_-]?key|access[_-]?key)", re.IGNORECASE)


def is_secret_key(key: str) -> bool:
    """``secret``, ``password``, ``token``, ``credentials``, any ``*_key``...; ``*_env`` names are not secrets."""
    return bool(_SECRET_KEY.search(key)) and not key.lower().endswith("_env")


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-looking key's value replaced by ``[redacted]``."""
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and is_secret_key(k) and v not in (None, "") else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value
