"""Tamper-evident audit log: each entry carries the hash of the one before it.

``hash_n = sha256(canonical_json({"prev_hash": hash_{n-1} or null, "entry": entry_n}))`` where
``entry_n`` is the entry without its own ``hash`` and ``prev_hash`` fields, and canonical JSON is
compact with sorted keys (values must already be JSON types: timestamps as ``...Z`` strings).
Exporting the chain head lets ``verify`` prove an exported log is complete and unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from exportcenter.errors import InvalidInputError, VerificationError

HASH_FIELD = "hash"
PREV_FIELD = "prev_hash"
_CHAIN_FIELDS = frozenset({HASH_FIELD, PREV_FIELD})


def _content(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key not in _CHAIN_FIELDS}


def chain_hash(prev_hash: str | None, entry: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` linking ``entry`` to the previous hash (None for the first entry)."""
    try:
        body = orjson.dumps({"prev_hash": prev_hash, "entry": _content(entry)}, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise InvalidInputError(f"audit entry is not plain JSON data: {exc}") from None
    return "sha256:" + hashlib.sha256(body).hexdigest()


def link_entry(prev_hash: str | None, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry with ``prev_hash`` and ``hash`` filled in, ready to store."""
    content = _content(entry)
    return {**content, PREV_FIELD: prev_hash, HASH_FIELD: chain_hash(prev_hash, content)}


def verify_audit_chain(
    entries: Iterable[Mapping[str, Any]],
    *,
    start_prev_hash: str | None = None,
    expected_head: str | None = None,
) -> str | None:
    """Walk the chain in order and return its head hash; raise at the first break.

    ``start_prev_hash`` lets a slice of a longer log be checked; ``expected_head`` (the head exported
    with the log) proves that nothing was cut from the end.
    """
    prev = start_prev_hash
    for index, entry in enumerate(entries):
        label = f"audit entry #{index}" + (f" (id {entry['id']})" if "id" in entry else "")
        if entry.get(PREV_FIELD) != prev:
            raise VerificationError(
                f"audit chain broken at {label}: prev_hash {entry.get(PREV_FIELD)!r} does not match the "
                f"previous entry's hash {prev!r} (entry removed, inserted or reordered)"
            )
        computed = chain_hash(prev, entry)
        if entry.get(HASH_FIELD) != computed:
            raise VerificationError(f"audit chain broken at {label}: content does not match its hash (altered)")
        prev = computed
    if expected_head is not None and prev != expected_head:
        raise VerificationError(f"audit chain head is {prev!r}, the export says {expected_head!r} (log truncated)")
    return prev


def verify_audit_export(document: Mapping[str, Any], *, allow_slice: bool = False) -> dict[str, Any]:
    """Check an ``audit_log`` JSON export: every entry links to the one before it and matches its hash,
    and (unless ``allow_slice``, for an export of a past window) the log ends at the chain head recorded
    at export time, so nothing was cut from the end. Raises VerificationError with the reason."""
    events = document.get("events")
    chain = document.get("chain")
    if not isinstance(events, list) or not isinstance(chain, Mapping):
        raise VerificationError("not an audit_log export: 'events' and 'chain' are missing")
    entries = [{k: v for k, v in e.items() if k != "seq"} for e in events if isinstance(e, Mapping)]
    if len(entries) != len(events):
        raise VerificationError("audit_log export: an entry is not an object")
    head = chain.get("head")
    head_hash = head.get("hash") if isinstance(head, Mapping) else head
    start = entries[0].get(PREV_FIELD) if entries else None
    last = verify_audit_chain(entries, start_prev_hash=start)
    complete = last is not None and last == head_hash
    if not complete and not allow_slice:
        raise VerificationError(
            f"audit log ends at {last!r} but the chain head at export time was {head_hash!r}: entries after the "
            "last one are missing (an export of a past window is a slice: allow it explicitly)")
    return {"valid": True, "entries": len(entries), "first_prev_hash": start, "last_hash": last,
            "chain_head": head_hash, "ends_at_head": complete}
