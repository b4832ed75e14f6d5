"""Entry point of ingest parsing: sniff the format from the bytes (never from the file name) and hand the
document to the parser of that format. Pure and deterministic: same bytes, equal result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from types import ModuleType
from typing import Any

import orjson

from exportcenter.errors import InvalidInputError
from exportcenter.sources.local import csaf, cyclonedx, grype, openvex, sarif, spdx, trivy, verdicts
from exportcenter.sources.local.common import DocumentContext, JsonObject, invalid
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.util.jsonio import LONE_SURROGATES, NON_FINITE_NUMBERS, encoding_problems, scrub

# Most specific markers first: SARIF and SPDX have unmistakable keys, Trivy and Grype the loosest.
_PARSERS: tuple[ModuleType, ...] = (sarif, spdx, cyclonedx, csaf, openvex, verdicts, trivy, grype)

SUPPORTED = ("Trivy JSON, Grype JSON, CycloneDX JSON, SPDX 2.2/2.3 JSON, OpenVEX, CSAF 2.0, SARIF 2.1.0, "
             "policy verdicts JSON")


def parse_document(content: bytes, *, name: str, tenant: str, ingested_at: datetime) -> ParsedDocument:
    """Parse one ingested file. Raises InvalidInputError (naming the file and the reason) when the bytes
    are empty, binary, not JSON, truncated, or JSON of no supported shape."""
    doc, decode_warnings = _load(content, name)
    parser = detect(doc)
    if parser is None:
        raise invalid(name, _unknown_shape_reason(doc))
    ctx = DocumentContext(
        name=name,
        tenant=tenant,
        ingested_at=ingested_at,
        digest="sha256:" + hashlib.sha256(content).hexdigest(),
    )
    parse_format: Callable[[JsonObject, DocumentContext], ParsedDocument] = parser.parse
    try:
        parsed = parse_format(doc, ctx)
    except InvalidInputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # defensive: untrusted input
        raise invalid(name, f"could not be read as {parser.FORMAT}: {type(exc).__name__}: {exc}") from None
    # Format modules start warnings with the file name; the document carries its name, so whoever shows
    # a warning (ingest output, an export's snapshot) names the file once itself.
    prefix = f"{name}: "
    warnings = tuple(dict.fromkeys(w.removeprefix(prefix) for w in (*decode_warnings, *parsed.warnings)))
    return parsed if warnings == parsed.warnings else replace(parsed, warnings=warnings)


def detect(doc: JsonObject) -> ModuleType | None:
    """The parser module whose format this JSON object is, or None."""
    for parser in _PARSERS:
        if parser.looks_like(doc):
            return parser
    return None


def read_json_object(content: bytes, name: str) -> JsonObject:
    """The JSON object of an ingested file, read exactly as ``parse_document`` reads it."""
    return _load(content, name)[0]


def _load(content: bytes, name: str) -> tuple[JsonObject, tuple[str, ...]]:
    if not content:
        raise invalid(name, "the file is empty")
    if not content.strip():
        raise invalid(name, f"the file contains only whitespace ({len(content)} bytes), not a JSON document")
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    head = content[:8192]
    if b"\x00" in head:
        raise invalid(name, "binary content (NUL bytes), not a JSON document")
    try:
        decoded = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid(name, f"not UTF-8 text (invalid byte at offset {exc.start}); not a JSON document") from None
    warnings: tuple[str, ...] = ()
    try:
        value: Any = orjson.loads(decoded)
    except orjson.JSONDecodeError as exc:
        value, warnings = _load_with_fallback(decoded, name, exc)
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
            type(value), "null"
        )
        raise invalid(name, f"JSON top level is {kind}; every supported format ({SUPPORTED}) is a JSON object")
    if not value:
        raise invalid(name, f"empty JSON object {{}}: not one of {SUPPORTED}")
    return value, warnings


def _load_with_fallback(decoded: str, name: str, error: orjson.JSONDecodeError) -> tuple[Any, tuple[str, ...]]:
    """orjson refuses a few things the standard parser accepts: lone UTF-16 surrogate escapes (\\ud800),
    numbers beyond a double's range (1e999999) and the NaN/Infinity literals. The document is read with the
    standard parser and the warning gives the true reason: surrogates are kept as U+FFFD; non-finite numbers
    are left to the format parser, which drops such a score with its own warning naming the field."""
    try:
        value = json.loads(decoded)
    except RecursionError:
        raise invalid(name, "arrays or objects nested too deeply to read (orjson stops at 1024 levels: "
                            f"line {error.lineno} column {error.colno})") from None
    except json.JSONDecodeError:
        truncated = error.pos >= len(decoded.rstrip()) - 1
        reason = "truncated JSON (the document ends early)" if truncated else "not valid JSON"
        raise invalid(name, f"{reason}: {error.msg} at line {error.lineno} column {error.colno}") from None
    except ValueError as exc:  # Python's cap on the digits of an integer
        if "digits" not in str(exc):
            raise
        raise invalid(name, "a number too large to read (an integer of more than 4300 digits)") from None
    problems = encoding_problems(value)
    warnings = []
    if LONE_SURROGATES in problems:
        warnings.append(f"{name}: text with lone UTF-16 surrogates (orjson refused it) was kept with U+FFFD "
                        "in their place")
    if NON_FINITE_NUMBERS in problems:
        warnings.append(f"{name}: the JSON has numbers that are not finite (beyond a double's range, or NaN/"
                        f"Infinity literals; orjson refused them: {error.msg}); they were read as inf/NaN")
    if not warnings:
        warnings.append(f"{name}: orjson refused the JSON ({error.msg} at line {error.lineno} column "
                        f"{error.colno}); it was read with the standard parser")
    return scrub(value), tuple(warnings)


def _unknown_shape_reason(doc: JsonObject) -> str:
    keys = sorted(doc)[:8]
    more = ", ..." if len(doc) > 8 else ""
    return f"unrecognised JSON document (top-level keys: {', '.join(keys)}{more}); expected one of: {SUPPORTED}"
