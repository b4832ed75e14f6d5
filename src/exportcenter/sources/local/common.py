"""Helpers every parser shares: safe accessors over untrusted JSON, stable ids, CVSS and licences.

Input files are untrusted: every accessor checks the type it gets and returns an empty value instead
of raising, so one odd field never aborts a whole document.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from exportcenter.errors import InvalidInputError
from exportcenter.model import Cvss, License

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DocumentContext:
    """What a format parser knows about the file besides its JSON."""

    name: str
    tenant: str
    ingested_at: datetime
    digest: str  # "sha256:<hex>"


@dataclass(slots=True)
class Warnings:
    """Collects warnings in order, without repeating the same text."""

    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)

    def as_tuple(self) -> tuple[str, ...]:
        return tuple(self.items)


def invalid(ctx_name: str, reason: str) -> InvalidInputError:
    return InvalidInputError(f"{ctx_name}: {reason}", file=ctx_name, reason=reason)


# --- safe accessors ---------------------------------------------------------------------------


def obj(value: object) -> JsonObject:
    return value if isinstance(value, dict) else {}


def objs(value: object) -> list[JsonObject]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def text(value: object) -> str | None:
    """A non-empty stripped string, or None. Numbers are turned into text."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def texts(value: object) -> tuple[str, ...]:
    """Non-empty strings of a list, de-duplicated, in first-seen order."""
    if not isinstance(value, list):
        single = text(value)
        return (single,) if single else ()
    seen: dict[str, None] = {}
    for item in value:
        found = text(item)
        if found:
            seen.setdefault(found, None)
    return tuple(seen)


def number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def unique(values: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return tuple(seen)


# --- ids --------------------------------------------------------------------------------------


def short_hash(*parts: object, length: int = 16) -> str:
    joined = "\0".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def document_id(prefix: str, ctx: DocumentContext) -> str:
    """``scan-``/``sbom-`` + first 16 hex of sha256(tenant NUL document digest)."""
    return f"{prefix}-{short_hash(ctx.tenant, ctx.digest)}"


class IdAllocator:
    """Stable ids from content; true duplicates get ``-2``, ``-3``... in document order."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._seen: Counter[str] = Counter()

    def next(self, *parts: object) -> str:
        base = f"{self._prefix}-{short_hash(*parts, length=20)}"
        self._seen[base] += 1
        count = self._seen[base]
        return base if count == 1 else f"{base}-{count}"


# --- CVSS -------------------------------------------------------------------------------------

_VECTOR_VERSION = re.compile(r"^CVSS:(\d\.\d)/")


def cvss_version_of(vector: str | None, hint: str | None = None) -> str:
    """"2.0", "3.0", "3.1" or "4.0" from the vector prefix, else from a hint like "CVSSv31" or "3"."""
    if vector:
        match = _VECTOR_VERSION.match(vector)
        if match:
            return match.group(1)
    if hint:
        digits = "".join(ch for ch in hint if ch.isdigit())
        known = {"2": "2.0", "20": "2.0", "3": "3.0", "30": "3.0", "31": "3.1", "4": "4.0", "40": "4.0"}
        if digits in known:
            return known[digits]
    if vector and "Au:" in vector:
        return "2.0"
    return hint or "unknown"


CVSS_RANGE = (0.0, 10.0)
EPSS_RANGE = (0.0, 1.0)  # EPSS probability and percentile are both fractions


def bounded_score(
    value: object, bounds: tuple[float, float], *, what: str, where: str, warnings: Warnings
) -> float | None:
    """``value`` as a float when it is a finite number (or a string holding one) within ``bounds``.

    Anything else that is present (out of range, inf, NaN, text that is no number, a boolean) is dropped
    with a warning naming ``where`` (file and vulnerability), ``what`` the score is and the bad value, so
    no renderer ever sees a score it would have to clamp, print as "inf" or turn into null."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    found = number(value)
    low, high = bounds
    if found is not None and math.isfinite(found) and low <= found <= high:
        return found
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    warnings.add(f"{where}: {what} {shown} is not a finite number in {low:g}-{high:g}; the score was dropped")
    return None


def make_cvss(
    version_hint: str | None, vector: object, score: object, source: str | None, *, where: str, warnings: Warnings
) -> Cvss | None:
    """One CVSS entry; a score outside 0-10 (or not finite) is dropped with a warning, the vector kept."""
    vector_text = text(vector)
    label = f"{source or 'unknown'} CVSS score"
    score_value = bounded_score(score, CVSS_RANGE, what=label, where=where, warnings=warnings)
    if vector_text is None and score_value is None:
        return None
    return Cvss(
        version=cvss_version_of(vector_text, version_hint),
        vector=vector_text,
        score=score_value,
        source=source or "unknown",
    )


def dedupe_cvss(entries: Iterable[Cvss | None]) -> tuple[Cvss, ...]:
    seen: dict[Cvss, None] = {}
    for entry in entries:
        if entry is not None:
            seen.setdefault(entry, None)
    return tuple(seen)


# --- licences ---------------------------------------------------------------------------------

_SPDX_OPERATORS = re.compile(r"\s(AND|OR|WITH)\s|[()]")
_SPDX_ID = re.compile(r"^[A-Za-z0-9.+-]+$")


def license_from_text(value: str) -> License:
    """Classify a free licence string: an SPDX expression, an id-like token, or a name."""
    stripped = value.strip()
    if _SPDX_OPERATORS.search(stripped):
        return License("expression", stripped)
    if _SPDX_ID.match(stripped) and not stripped.isdigit():
        return License("id", stripped)
    return License("name", stripped)


def licenses_unique(items: Iterable[License]) -> tuple[License, ...]:
    seen: dict[License, None] = {}
    for item in items:
        if item.value:
            seen.setdefault(item, None)
    return tuple(seen)


def first_text(mapping: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        found = text(mapping.get(key))
        if found:
            return found
    return None
