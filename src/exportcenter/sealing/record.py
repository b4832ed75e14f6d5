"""The sealed bundle record (spec step 6) and its attestation, and how both are checked.

Record (``bundle.json``)::

    {"bundle_id": "bnd-...", "sealed_at": "...Z",
     "contents": [{"type": "scan_result", "id": "..."}, ..., {"type": "attestation", "digest": "sha256:..."}],
     "merkle_root": "sha256:<RFC 6962 root over the sorted artifact digests>",
     "keyid": "<sha256 of the signer's DER public key>", "signature": "base64:<sig>"}

``signature`` signs PAE(RECORD_PAYLOAD_TYPE, canonical JSON of the record without ``signature``), so it
covers the root, the contents and the digest of the attestation (``attestation.dsse.json``: a DSSE
envelope of an in-toto Statement v1 whose subjects are the artifacts).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from exportcenter.errors import InvalidInputError, VerificationError
from exportcenter.sealing import names
from exportcenter.sealing.dsse import IN_TOTO_PAYLOAD_TYPE, b64decode, b64encode, pae, sign_envelope, verify_envelope
from exportcenter.sealing.hashing import sha256_bytes, sha256_file
from exportcenter.sealing.keys import PublicKey, Signer, keys_by_id, verify_signature
from exportcenter.sealing.merkle import merkle_root_of_digests
from exportcenter.sealing.statement import Subject, build_statement, statement_subjects
from exportcenter.util import jsonio
from exportcenter.util.timeutil import iso_z

RECORD_PAYLOAD_TYPE = "application/vnd.exportcenter.sealed-record+json"
MAX_SEAL_FILE_BYTES = 64 * 1024 * 1024


def canonical_json(value: Any) -> bytes:
    """Compact JSON with sorted keys: the bytes that get hashed or signed."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _check_contents(contents: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    checked: list[dict[str, Any]] = []
    for entry in contents:
        kind = entry.get("type")
        if not isinstance(kind, str) or not kind or kind == "attestation":
            raise InvalidInputError(f"sealed contents entry needs a type other than 'attestation': {entry!r}")
        if ("id" in entry) == ("digest" in entry):
            raise InvalidInputError(f"sealed contents entry needs exactly one of id or digest: {entry!r}")
        checked.append(dict(entry))
    return checked


@dataclass(frozen=True)
class SealedRecord:
    record: dict[str, Any]
    envelope: dict[str, Any]
    statement: dict[str, Any]
    subjects: tuple[Subject, ...]
    record_bytes: bytes = field(repr=False)
    envelope_bytes: bytes = field(repr=False)

    @property
    def bundle_id(self) -> str:
        return str(self.record["bundle_id"])

    @property
    def merkle_root(self) -> str:
        return str(self.record["merkle_root"])

    @property
    def keyid(self) -> str:
        return str(self.record["keyid"])

    def write_beside(self, directory: Path) -> tuple[Path, Path]:
        """Store the seal next to a plain export's artifacts (``bundle.json``, ``attestation.dsse.json``)."""
        record_path, attestation_path = directory / names.RECORD, directory / names.ATTESTATION
        record_path.write_bytes(self.record_bytes)
        attestation_path.write_bytes(self.envelope_bytes)
        return record_path, attestation_path


def seal_subjects(
    subjects: Sequence[Subject],
    *,
    manifest: Mapping[str, Any],
    subject_info: Mapping[str, Any],
    signer: Signer,
    sealed_at: datetime,
    contents: Sequence[Mapping[str, Any]],
) -> SealedRecord:
    """Seal artifacts whose digests are already known."""
    ordered = tuple(sorted(subjects))
    if not ordered:
        raise InvalidInputError("nothing to seal: no artifacts")
    seen: set[str] = set()
    for subject in ordered:
        names.assert_safe_member_name(subject.name)
        if subject.name in seen or subject.name in names.SEAL_FILES:
            raise InvalidInputError(f"artifact name {subject.name!r} is duplicated or reserved")
        seen.add(subject.name)
    sealed_at_text = iso_z(sealed_at) or ""
    merkle_root = merkle_root_of_digests(s.sha256 for s in ordered)
    checked_contents = _check_contents(contents)
    identity = canonical_json([merkle_root, sealed_at_text, checked_contents, manifest, subject_info])
    bundle_id = "bnd-" + hashlib.sha256(identity).hexdigest()[:16]
    statement = build_statement(
        ordered, bundle_id=bundle_id, sealed_at=sealed_at_text, manifest=manifest, subject_info=subject_info
    )
    envelope = sign_envelope(jsonio.dumps(statement), IN_TOTO_PAYLOAD_TYPE, signer)
    envelope_bytes = jsonio.dumps(envelope)
    unsigned = {
        "bundle_id": bundle_id,
        "sealed_at": sealed_at_text,
        "contents": [*checked_contents, {"type": "attestation", "digest": "sha256:" + sha256_bytes(envelope_bytes)}],
        "merkle_root": merkle_root,
        "keyid": signer.keyid,
    }
    signature = signer.sign(pae(RECORD_PAYLOAD_TYPE, canonical_json(unsigned)))
    record = {**unsigned, "signature": "base64:" + b64encode(signature)}
    return SealedRecord(record, envelope, statement, ordered, jsonio.dumps(record), envelope_bytes)


def seal_artifacts(
    artifacts: Sequence[tuple[str, Path]],
    *,
    manifest: Mapping[str, Any],
    subject_info: Mapping[str, Any],
    signer: Signer,
    sealed_at: datetime,
    contents: Sequence[Mapping[str, Any]],
) -> SealedRecord:
    """Hash each (name, file) in one streaming pass and seal the lot."""
    subjects = []
    for name, path in artifacts:
        try:
            digest, size = sha256_file(path)
        except OSError as exc:
            raise InvalidInputError(f"cannot read artifact {name} ({path}): {exc.strerror or exc}") from None
        subjects.append(Subject(name, digest, size))
    return seal_subjects(subjects, manifest=manifest, subject_info=subject_info, signer=signer,
                         sealed_at=sealed_at, contents=contents)


# ------------------------------------------------------------------------------------------ verification


@dataclass(frozen=True)
class VerifiedBundle:
    """What a successful verification proves."""

    bundle_id: str
    sealed_at: str
    merkle_root: str
    keyid: str
    artifacts: dict[str, str]
    record: dict[str, Any]
    statement: dict[str, Any]
    source: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "valid": True,
            "bundle_id": self.bundle_id,
            "sealed_at": self.sealed_at,
            "merkle_root": self.merkle_root,
            "keyid": self.keyid,
            "artifacts": [{"name": name, "sha256": digest} for name, digest in sorted(self.artifacts.items())],
            "source": self.source,
        }


def _load_json(data: bytes, what: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise VerificationError(f"{what}: not valid JSON ({exc})") from None


def _verify_record_signature(record: dict[str, Any], trusted_keys: Sequence[PublicKey]) -> str:
    what = names.RECORD
    for key in ("bundle_id", "sealed_at", "contents", "merkle_root", "keyid", "signature"):
        if key not in record:
            raise VerificationError(f"{what}: sealed record has no {key!r}")
    signature_text = record["signature"]
    if not isinstance(signature_text, str) or not signature_text.startswith("base64:"):
        raise VerificationError(f"{what}: signature is not 'base64:...'")
    signature = b64decode(signature_text.removeprefix("base64:"), f"{what}: signature")
    key_id = str(record["keyid"])
    trusted = keys_by_id(trusted_keys)
    if key_id not in trusted:
        raise VerificationError(
            f"{what}: sealed by untrusted key {key_id}; trusted keys: {', '.join(sorted(trusted)) or 'none'}"
        )
    unsigned = {key: value for key, value in record.items() if key != "signature"}
    if not verify_signature(trusted[key_id], signature, pae(RECORD_PAYLOAD_TYPE, canonical_json(unsigned))):
        raise VerificationError(f"{what}: signature does not verify (record altered or signature replaced)")
    return key_id


@dataclass(frozen=True)
class SealCheck:
    record: dict[str, Any]
    statement: dict[str, Any]
    subjects: dict[str, str]
    keyid: str


def check_seal(record_bytes: bytes, envelope_bytes: bytes, trusted_keys: Sequence[PublicKey]) -> SealCheck:
    """Signatures, the record-attestation binding and the Merkle root; not yet the artifacts."""
    record = _load_json(record_bytes, names.RECORD)
    if not isinstance(record, dict):
        raise VerificationError(f"{names.RECORD}: sealed record is not a JSON object")
    key_id = _verify_record_signature(record, trusted_keys)
    envelope = _load_json(envelope_bytes, names.ATTESTATION)
    verified = verify_envelope(envelope, trusted_keys, expected_payload_type=IN_TOTO_PAYLOAD_TYPE,
                               what=names.ATTESTATION)
    attestation_digest = "sha256:" + sha256_bytes(envelope_bytes)
    recorded = [c.get("digest") for c in record["contents"] if isinstance(c, dict) and c.get("type") == "attestation"]
    if recorded != [attestation_digest]:
        raise VerificationError(
            f"{names.ATTESTATION} does not belong to this sealed record: the record lists {recorded or 'none'}, "
            f"the file hashes to {attestation_digest} (envelope swapped)"
        )
    statement = _load_json(verified.payload, f"{names.ATTESTATION} payload")
    subjects = statement_subjects(statement, names.ATTESTATION)
    subject_root = merkle_root_of_digests(subjects.values())
    if subject_root != record["merkle_root"]:
        raise VerificationError(
            f"Merkle root mismatch: {names.RECORD} says {record['merkle_root']}, "
            f"the attestation subjects give {subject_root}"
        )
    predicate = statement.get("predicate") if isinstance(statement, dict) else None
    if not isinstance(predicate, dict) or predicate.get("bundle_id") != record["bundle_id"]:
        raise VerificationError(f"{names.ATTESTATION} was made for another bundle than {record['bundle_id']}")
    return SealCheck(record, statement, subjects, key_id)


def compare_artifacts(expected: Mapping[str, str], actual: Mapping[str, str], record: Mapping[str, Any]) -> None:
    """Every sealed artifact present and unchanged, nothing added; then the root over what is there."""
    for name in sorted(expected):
        if name not in actual:
            raise VerificationError(f"missing file: {name} is sealed but absent", member=name)
        if actual[name] != expected[name]:
            raise VerificationError(
                f"changed file: {name} has sha256 {actual[name]}, sealed digest is {expected[name]}", member=name
            )
    extra = sorted(set(actual) - set(expected))
    if extra:
        raise VerificationError(f"extra file: {extra[0]} is not part of the seal", member=extra[0])
    actual_root = merkle_root_of_digests(actual.values())
    if actual_root != record["merkle_root"]:  # pragma: no cover - implied by the checks above
        raise VerificationError(f"Merkle root mismatch: files give {actual_root}, sealed {record['merkle_root']}")


def _read_small(path: Path, what: str) -> bytes:
    try:
        if path.is_symlink():
            raise VerificationError(f"{what}: {path} is a symbolic link")
        if path.stat().st_size > MAX_SEAL_FILE_BYTES:
            raise VerificationError(f"{what}: {path} is too large to be a seal file")
        return path.read_bytes()
    except FileNotFoundError:
        raise VerificationError(f"missing file: {what} ({path})") from None
    except OSError as exc:
        raise VerificationError(f"cannot read {what} ({path}): {exc.strerror or exc}") from None


def verify_record(
    record_path: Path,
    artifacts_dir: Path,
    trusted_keys: Sequence[PublicKey],
    *,
    attestation_path: Path | None = None,
    allow_extra: bool = False,
) -> VerifiedBundle:
    """Check a seal stored beside a plain export (``include_evidence``) against the files in a directory."""
    attestation_path = attestation_path or record_path.with_name(names.ATTESTATION)
    seal = check_seal(_read_small(record_path, names.RECORD), _read_small(attestation_path, names.ATTESTATION),
                      trusted_keys)
    base = Path(os.path.abspath(artifacts_dir))
    # The export's manifest.json is written after sealing (it lists the seal files too), so it is never a subject.
    skip = {Path(os.path.abspath(record_path)), Path(os.path.abspath(attestation_path)), base / names.MANIFEST}
    actual: dict[str, str] = {}
    for path in sorted(base.rglob("*")):
        if path in skip or (path.is_dir() and not path.is_symlink()):
            continue
        name = path.relative_to(base).as_posix()
        if path.is_symlink() or not path.is_file():
            if name in seal.subjects or not allow_extra:
                raise VerificationError(f"hostile artifact: {name} is a link or special file", member=name)
            continue
        if name in seal.subjects or not allow_extra:
            actual[name] = sha256_file(path)[0]
    compare_artifacts(seal.subjects, actual, seal.record)
    return VerifiedBundle(
        bundle_id=str(seal.record["bundle_id"]), sealed_at=str(seal.record["sealed_at"]),
        merkle_root=str(seal.record["merkle_root"]), keyid=seal.keyid, artifacts=dict(seal.subjects),
        record=seal.record, statement=seal.statement, source=str(record_path),
    )
