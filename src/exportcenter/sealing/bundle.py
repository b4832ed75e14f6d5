"""``evidence_bundle`` exports: the evidence files, their manifest and the seal in one archive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from exportcenter.errors import InvalidInputError
from exportcenter.sealing import names
from exportcenter.sealing.archive import ArchiveFormat, EntrySource, write_deterministic_archive
from exportcenter.sealing.hashing import sha256_bytes, sha256_file
from exportcenter.sealing.keys import Signer
from exportcenter.sealing.record import SealedRecord, seal_subjects
from exportcenter.sealing.statement import Subject
from exportcenter.util import jsonio

RESERVED_NAMES = frozenset({names.MANIFEST, *names.SEAL_FILES})


@dataclass(frozen=True)
class WrittenBundle:
    path: Path
    fmt: ArchiveFormat
    sha256: str
    size: int
    sealed: SealedRecord
    manifest: dict[str, Any]


def build_bundle_manifest(manifest: Mapping[str, Any], subjects: Sequence[Subject]) -> dict[str, Any]:
    """The export manifest, its ``artifacts`` listing exactly the bundle's evidence files."""
    return {
        **manifest,
        "artifacts": [{"name": s.name, "size": s.size, "sha256": s.sha256} for s in sorted(subjects)],
    }


def write_evidence_bundle(
    out_path: Path,
    fmt: ArchiveFormat,
    members: Sequence[tuple[str, Path]],
    *,
    manifest: Mapping[str, Any],
    subject_info: Mapping[str, Any],
    contents: Sequence[Mapping[str, Any]],
    signer: Signer,
    sealed_at: datetime,
    compresslevel: int = 6,
) -> WrittenBundle:
    """Write a sealed, byte-reproducible bundle.

    ``members`` are (name, file) with names from the fixed scheme in :mod:`exportcenter.sealing.names`
    (``scans/<id>.json`` via ``scan_member_name``, ``sbom/sbom.cdx.json``, ``policy/verdicts.json``,
    ``vex/applied.json``, ``vex/unmatched.json``). ``manifest.json``, ``bundle.json`` (the sealed record)
    and ``attestation.dsse.json`` are written here. Every mtime is ``sealed_at``; pass
    ``util.timeutil.build_time()`` to honour SOURCE_DATE_EPOCH.
    """
    subjects: list[Subject] = []
    for name, path in members:
        names.assert_safe_member_name(name)
        if name in RESERVED_NAMES:
            raise InvalidInputError(f"bundle member name {name!r} is reserved for the seal")
        try:
            digest, size = sha256_file(path)
        except OSError as exc:
            raise InvalidInputError(f"cannot read evidence file {name} ({path}): {exc.strerror or exc}") from None
        subjects.append(Subject(name, digest, size))
    bundle_manifest = build_bundle_manifest(manifest, subjects)
    manifest_bytes = jsonio.dumps(bundle_manifest)
    all_subjects = [*subjects, Subject(names.MANIFEST, sha256_bytes(manifest_bytes), len(manifest_bytes))]
    sealed = seal_subjects(all_subjects, manifest=bundle_manifest, subject_info=subject_info, signer=signer,
                           sealed_at=sealed_at, contents=contents)
    entries: list[tuple[str, EntrySource]] = [
        *members,
        (names.MANIFEST, manifest_bytes),
        (names.RECORD, sealed.record_bytes),
        (names.ATTESTATION, sealed.envelope_bytes),
    ]
    write_deterministic_archive(out_path, fmt, entries, mtime=sealed_at, compresslevel=compresslevel)
    digest, size = sha256_file(out_path)
    return WrittenBundle(out_path, fmt, digest, size, sealed, bundle_manifest)
