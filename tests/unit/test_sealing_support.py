"""Shared helpers for the sealing tests (no tests here): keys, a real-data bundle, raw repacking."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from exportcenter.sealing import Signer, WrittenBundle, scan_member_name, write_evidence_bundle
from exportcenter.sealing.keys import generate_private_key
from tests.paths import SBOMS, SCANS, VEX

SEALED_AT = datetime(2024, 12, 29, 10, 32, tzinfo=UTC)

REAL_MEMBERS: list[tuple[str, Path]] = [
    (scan_member_name("scan-7f3a9b2c/trivy alpine:3.10"), SCANS / "trivy_json_alpine-310.json"),
    (scan_member_name("scan-grype-fix"), SCANS / "grype_json_fix-available.json"),
    ("sbom/sbom.cdx.json", SBOMS / "cdx15_trivy-0.48.1_image-with-vulns.json"),
    ("policy/verdicts.json", VEX / "cdxvex_cisa-case1-affected.json"),
    ("vex/applied.json", VEX / "openvex_vexctl_demo.vex.json"),
    ("vex/unmatched.json", VEX / "openvex_go-vex_v0.2.0-5stmts.json"),
]

MANIFEST = {"export_id": "exp-456def", "created_at": "2024-12-29T10:32:00Z", "expires_at": "2025-01-28T10:32:00Z"}
SUBJECT_INFO = {"tenant": "acme-corp", "scan_ids": ["scan-7f3a9b2c"], "policy_outcome": {"status": "fail", "failed": 3}}
CONTENTS = [
    {"type": "scan_result", "id": "scan-7f3a9b2c"},
    {"type": "sbom", "digest": "sha256:" + "ab" * 32},
    {"type": "policy_verdict", "id": "verdict-1"},
]


def new_signer(kind: str = "ed25519") -> Signer:
    return Signer(generate_private_key(kind))  # type: ignore[arg-type]


def build_bundle(out: Path, fmt: str, signer: Signer, members: list[tuple[str, Path]] | None = None,
                 manifest: dict | None = None) -> WrittenBundle:
    return write_evidence_bundle(
        out, fmt, members or REAL_MEMBERS, manifest=manifest or MANIFEST, subject_info=SUBJECT_INFO,  # type: ignore[arg-type]
        contents=CONTENTS, signer=signer, sealed_at=SEALED_AT,
    )


def read_members(path: Path) -> list[tuple[str, bytes]]:
    """Every member in archive order (test-side reader, independent of the code under test)."""
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            return [(info.filename, archive.read(info)) for info in archive.infolist()]
    with tarfile.open(path, "r:gz") as archive:
        result = []
        for info in archive.getmembers():
            handle = archive.extractfile(info)
            assert handle is not None
            result.append((info.name, handle.read()))
        return result


def repack(path: Path, members: list[tuple[str, bytes]]) -> None:
    """Write members in exactly the given order (an attacker's repack: no sorting, no checks)."""
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(2024, 12, 29, 10, 32, 0))
                info.create_system, info.external_attr = 3, 0o100644 << 16
                archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
        return
    with (path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
          tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as archive):
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(SEALED_AT.timestamp())
            archive.addfile(info, io.BytesIO(data))


def flip_byte(data: bytes, position: int | None = None) -> bytes:
    index = len(data) // 2 if position is None else position
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]
