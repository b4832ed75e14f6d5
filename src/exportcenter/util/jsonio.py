"""JSON is always written by a serializer (orjson), never by string templates.

Text with lone surrogates cannot be encoded as UTF-8; ``clean_text`` replaces them with U+FFFD and
the caller records a warning. Backslashes, control characters and U+2028 are escaped by orjson.
orjson writes a non-finite float (inf, -inf, NaN) as ``null`` without complaint; ``encoding_problems``
names both cases (and any other value orjson cannot serialise) so a caller can warn with the true reason.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from exportcenter.errors import InvalidInputError


def dumps(value: Any, *, indent: bool = True, sort_keys: bool = True) -> bytes:
    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    if sort_keys:
        option |= orjson.OPT_SORT_KEYS
    if indent:
        option |= orjson.OPT_INDENT_2
    try:
        return orjson.dumps(value, option=option) + (b"\n" if indent else b"")
    except TypeError as exc:
        problems = encoding_problems(value)
        if LONE_SURROGATES not in problems:
            # not a text problem: scrubbing would change nothing, so say what orjson refused
            raise TypeError(f"value is not JSON-serialisable ({'; '.join(problems) or exc})") from exc
        # lone surrogates: replace them with U+FFFD and try once more
        return orjson.dumps(scrub(value), option=option) + (b"\n" if indent else b"")


def loads(data: bytes | str, *, name: str = "input") -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"{name}: not valid JSON ({exc})", file=name) from None


LONE_SURROGATES = "lone UTF-16 surrogates in text (not encodable as UTF-8)"
NON_FINITE_NUMBERS = "non-finite numbers (inf, -inf or NaN, which JSON cannot represent)"
HUGE_INTEGERS = "integers beyond the 64-bit range"
_INT_RANGE = (-(2**63), 2**64 - 1)  # what orjson writes


def encoding_problems(value: Any) -> tuple[str, ...]:
    """Every reason, in words, why orjson would refuse ``value`` or write it differently: lone surrogates
    (``LONE_SURROGATES``, refused), non-finite floats (``NON_FINITE_NUMBERS``, written as null), integers
    beyond 64 bits (``HUGE_INTEGERS``, refused) or a type it cannot serialise (refused).
    Empty when ``value`` serialises as it is."""
    found: dict[str, None] = {}
    _collect_problems(value, found)
    return tuple(found)


def _collect_problems(value: Any, found: dict[str, None]) -> None:
    if isinstance(value, str):
        if has_lone_surrogate(value):
            found.setdefault(LONE_SURROGATES, None)
    elif isinstance(value, float):
        if not math.isfinite(value):
            found.setdefault(NON_FINITE_NUMBERS, None)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            found.setdefault(HUGE_INTEGERS, None)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect_problems(key, found)
            _collect_problems(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_problems(item, found)
    elif value is not None and not isinstance(value, bool | int):
        try:
            orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError:
            found.setdefault(f"a value of type {type(value).__name__} that JSON cannot represent", None)


def has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(text: str) -> str:
    """Replace lone surrogates with U+FFFD; everything else is kept."""
    if not has_lone_surrogate(text):
        return text
    return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def scrub(value: Any) -> Any:
    """Recursively apply ``clean_text`` to every string in a JSON-like structure."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value
