"""Offline, streaming verification of an evidence bundle archive.

One pass over the archive: each member is vetted (name, type) before its data is read, hashed in
fixed-size chunks and dropped; only the three small seal files are kept in memory (size-capped).
Nothing is ever extracted to disk. Any failure raises :class:`VerificationError` with the exact reason.
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from exportcenter.errors import VerificationError
from exportcenter.sealing import names
from exportcenter.sealing.archive import canonical_mtime, detect_format, iter_members
from exportcenter.sealing.hashing import sha256_bytes, sha256_stream
from exportcenter.sealing.keys import PublicKey
from exportcenter.sealing.record import MAX_SEAL_FILE_BYTES, SealCheck, VerifiedBundle, check_seal, compare_artifacts
from exportcenter.util.timeutil import parse_time

_KEPT_IN_MEMORY = frozenset({names.MANIFEST, *names.SEAL_FILES})
_STREAM_ERRORS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile, OSError)


def _read_capped(stream: BinaryIO, name: str) -> bytes:
    data = stream.read(MAX_SEAL_FILE_BYTES + 1)
    if len(data) > MAX_SEAL_FILE_BYTES:
        raise VerificationError(f"{name} is larger than {MAX_SEAL_FILE_BYTES} bytes", member=name)
    return data


def _check_manifest(manifest_bytes: bytes | None, seal: SealCheck) -> None:
    """manifest.json is a subject (so its digest is checked); it must also be the signed predicate's."""
    if manifest_bytes is None:
        return  # a bundle sealed without manifest.json: its absence is caught by compare_artifacts
    try:
        manifest: Any = orjson.loads(manifest_bytes)
    except orjson.JSONDecodeError as exc:
        raise VerificationError(f"{names.MANIFEST}: not valid JSON ({exc})") from None
    predicate = seal.statement.get("predicate", {})
    if manifest != predicate.get("manifest"):
        raise VerificationError(f"{names.MANIFEST} is not the manifest the attestation signs (manifest swapped)")
    listed = manifest.get("artifacts") if isinstance(manifest, dict) else None
    listed_digests = {a.get("name"): a.get("sha256") for a in listed or [] if isinstance(a, dict)}
    sealed = {name: digest for name, digest in seal.subjects.items() if name != names.MANIFEST}
    if listed_digests != sealed:
        raise VerificationError(f"{names.MANIFEST} artifacts do not match the attestation subjects")


def verify_bundle(path: Path, trusted_keys: Sequence[PublicKey]) -> VerifiedBundle:
    """Verify a ZIP or TAR.GZ evidence bundle against the trusted public keys (rotation: several)."""
    if not trusted_keys:
        raise VerificationError("no trusted public key given: pass at least one --key")
    fmt = detect_format(path)
    digests: dict[str, str] = {}
    mtimes: dict[str, int] = {}
    kept: dict[str, bytes] = {}
    current = ""
    try:
        for member in iter_members(path):
            current = member.name
            mtimes[member.name] = member.mtime
            if member.name in _KEPT_IN_MEMORY:
                data = _read_capped(member.stream, member.name)
                kept[member.name] = data
                if member.name not in names.SEAL_FILES:
                    digests[member.name] = sha256_bytes(data)
            else:
                digests[member.name] = sha256_stream(member.stream)[0]
    except _STREAM_ERRORS as exc:
        raise VerificationError(
            f"changed file: {current or path.name} is corrupt inside the archive ({exc})", member=current
        ) from None
    for required in (names.RECORD, names.ATTESTATION):
        if required not in kept:
            raise VerificationError(f"missing file: {required} (the seal) is not in the bundle", member=required)
    seal = check_seal(kept[names.RECORD], kept[names.ATTESTATION], trusted_keys)
    compare_artifacts(seal.subjects, digests, seal.record)
    _check_manifest(kept.get(names.MANIFEST), seal)
    sealed_at = parse_time(seal.record["sealed_at"])
    expected_mtime = canonical_mtime(fmt, sealed_at) if sealed_at else None
    for name, mtime in sorted(mtimes.items()):
        if mtime != expected_mtime:
            raise VerificationError(
                f"non-canonical archive metadata on {name!r}: mtime {mtime}, sealed at {expected_mtime} "
                "(bundle repacked or edited)", member=name)
    return VerifiedBundle(
        bundle_id=str(seal.record["bundle_id"]), sealed_at=str(seal.record["sealed_at"]),
        merkle_root=str(seal.record["merkle_root"]), keyid=seal.keyid, artifacts=dict(seal.subjects),
        record=seal.record, statement=seal.statement, source=str(path),
    )
