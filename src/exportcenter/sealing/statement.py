"""The in-toto Statement v1 that the evidence seal signs (https://in-toto.io/Statement/v1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exportcenter.errors import VerificationError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://exportcenter.dev/attestations/evidence-bundle/v1"


@dataclass(frozen=True, order=True)
class Subject:
    name: str
    sha256: str
    size: int = 0


def build_statement(
    subjects: Sequence[Subject],
    *,
    bundle_id: str,
    sealed_at: str,
    manifest: Mapping[str, Any],
    subject_info: Mapping[str, Any],
) -> dict[str, Any]:
    """Subjects sorted by name; the predicate carries the export manifest and the policy outcome.

    ``subject_info`` may hold ``policy_outcome`` (kept as its own predicate field) and any other
    context (tenant, export_id, scan_ids, image refs ...), kept under ``context``.
    """
    context = {key: value for key, value in subject_info.items() if key != "policy_outcome"}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": s.name, "digest": {"sha256": s.sha256}} for s in sorted(subjects)],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "bundle_id": bundle_id,
            "sealed_at": sealed_at,
            "manifest": dict(manifest),
            "policy_outcome": subject_info.get("policy_outcome"),
            "context": context,
        },
    }


def statement_subjects(statement: object, what: str = "attestation") -> dict[str, str]:
    """name -> sha256 of a verified statement, checking its shape on the way."""
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise VerificationError(f"{what}: payload is not an in-toto Statement v1")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise VerificationError(f"{what}: predicateType is {statement.get('predicateType')!r}")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise VerificationError(f"{what}: statement has no subject")
    result: dict[str, str] = {}
    for entry in subjects:
        name = entry.get("name") if isinstance(entry, dict) else None
        digest = entry.get("digest", {}).get("sha256") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(digest, str) or len(digest) != 64:
            raise VerificationError(f"{what}: malformed subject {entry!r}")
        if name in result:
            raise VerificationError(f"{what}: subject {name} listed twice")
        result[name] = digest.lower()
    return result
