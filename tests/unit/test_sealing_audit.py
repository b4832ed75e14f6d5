"""Tamper-evident audit chain: any edit, removal, insertion, reorder or truncation is found."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from exportcenter.errors import VerificationError
from exportcenter.sealing import chain_hash, link_entry, verify_audit_chain


def make_chain(count: int = 6) -> list[dict]:
    entries, prev = [], None
    for index in range(count):
        entry = link_entry(prev, {"id": f"evt-{index}", "action": "export.created", "actor": "alice",
                                  "at": f"2024-12-29T10:3{index}:00Z", "tenant": "acme-corp"})
        entries.append(entry)
        prev = entry["hash"]
    return entries


def test_hash_is_sha256_of_canonical_json_with_prev() -> None:
    entry = {"b": 2, "a": "é"}
    body = orjson.dumps({"prev_hash": "sha256:00", "entry": {"a": "é", "b": 2}}, option=orjson.OPT_SORT_KEYS)
    assert chain_hash("sha256:00", entry) == "sha256:" + hashlib.sha256(body).hexdigest()
    assert chain_hash("sha256:00", entry) != chain_hash("sha256:01", entry)
    # the chain fields themselves are not part of the content
    assert chain_hash(None, {**entry, "hash": "x", "prev_hash": "y"}) == chain_hash(None, entry)


def test_intact_chain_returns_head() -> None:
    entries = make_chain()
    assert verify_audit_chain(entries) == entries[-1]["hash"]
    assert verify_audit_chain(entries, expected_head=entries[-1]["hash"]) == entries[-1]["hash"]
    assert verify_audit_chain(entries[3:], start_prev_hash=entries[2]["hash"]) == entries[-1]["hash"]
    assert verify_audit_chain([]) is None


@pytest.mark.parametrize("damage, pattern", [
    ("edit", r"entry #2 \(id evt-2\): content does not match"),
    ("remove", r"entry #2 \(id evt-3\): prev_hash"),
    ("swap", r"entry #1 \(id evt-2\): prev_hash"),
    ("insert", r"entry #4 \(id evt-3\): prev_hash"),
    ("truncate", r"head is .* the export says"),
])
def test_breaks_are_reported_where_they_happen(damage: str, pattern: str) -> None:
    entries = make_chain()
    head = entries[-1]["hash"]
    if damage == "edit":
        entries[2] = {**entries[2], "actor": "mallory"}
    elif damage == "remove":
        del entries[2]
    elif damage == "swap":
        entries[1], entries[2] = entries[2], entries[1]
    elif damage == "insert":
        entries.insert(3, link_entry(entries[2]["hash"], {"id": "evt-x", "action": "export.deleted"}))
    else:
        entries = entries[:-1]
    with pytest.raises(VerificationError, match=pattern):
        verify_audit_chain(entries, expected_head=head)
