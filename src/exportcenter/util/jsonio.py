"""JSON is always written by a serializer (orjson), never by string templates.

Text with lone surrogates cannot be encoded as UTF-8; ``clean_text`` replaces them with U+FFFD and
the caller records a warning. Backslashes, control characters and U+2028 are escaped by orjson.
"""

from __future__ import annotations

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
    except TypeError:
        # lone surrogates (or other unencodable text): scrub and try once more
        return orjson.dumps(scrub(value), option=option) + (b"\n" if indent else b"")


def loads(data: bytes | str, *, name: str = "input") -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"{name}: not valid JSON ({exc})", file=name) from None


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
