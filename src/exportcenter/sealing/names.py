"""The fixed, safe member-name scheme of an evidence bundle.

Names are relative POSIX paths made only of ``[A-Za-z0-9._-]`` segments: no ``..``, no leading ``/``,
no drive letter, no backslash, no NUL, no colon. Anything taken from data (a scan id) goes through
:func:`safe_segment` first, and every name is checked again by :func:`assert_safe_member_name`.
"""

from __future__ import annotations

import hashlib
import re

from exportcenter.errors import InvalidInputError

MANIFEST = "manifest.json"
RECORD = "bundle.json"
ATTESTATION = "attestation.dsse.json"
SBOM = "sbom/sbom.cdx.json"
POLICY_VERDICTS = "policy/verdicts.json"
VEX_APPLIED = "vex/applied.json"
VEX_UNMATCHED = "vex/unmatched.json"
SEAL_FILES = frozenset({RECORD, ATTESTATION})

MAX_NAME_LENGTH = 200
MAX_SEGMENT_LENGTH = 80
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def member_name_problem(name: str) -> str | None:
    """Why ``name`` is not an acceptable member name, or None when it is."""
    if not name:
        return "empty name"
    if "\x00" in name:
        return "NUL byte in name"
    if "\\" in name:
        return "backslash in name"
    if name.startswith("/"):
        return "absolute path"
    if re.match(r"^[A-Za-z]:", name):
        return "drive letter"
    if len(name) > MAX_NAME_LENGTH:
        return f"name longer than {MAX_NAME_LENGTH} characters"
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            return "'..', '.' or empty path segment"
        if not _SEGMENT.fullmatch(segment):
            return "character outside [A-Za-z0-9._-]"
    return None


def assert_safe_member_name(name: str) -> str:
    problem = member_name_problem(name)
    if problem is not None:
        raise InvalidInputError(f"unsafe bundle member name {name!r}: {problem}")
    return name


def safe_segment(value: str) -> str:
    """A data-derived string turned into one safe path segment, stable and collision-resistant.

    Unsafe runs become ``_``; leading dots are dropped; when anything changed (or the value is long)
    a short hash of the original is appended, so two different ids never map to the same name.
    """
    cleaned = _UNSAFE_CHARS.sub("_", value).lstrip(".")
    changed = cleaned != value or len(cleaned) > MAX_SEGMENT_LENGTH or not cleaned
    if changed:
        tag = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        cleaned = f"{cleaned[: MAX_SEGMENT_LENGTH - 13]}-{tag}".lstrip("-.") or tag
    return cleaned


def scan_member_name(scan_id: str) -> str:
    return assert_safe_member_name(f"scans/{safe_segment(scan_id)}.json")
