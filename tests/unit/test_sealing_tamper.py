"""Tamper matrix: every change to a sealed bundle fails verification with the right reason."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from exportcenter.errors import VerificationError
from exportcenter.sealing import Signer, verify_bundle, verify_record
from exportcenter.sealing.dsse import b64encode, pae
from exportcenter.sealing.record import RECORD_PAYLOAD_TYPE, canonical_json, seal_artifacts
from exportcenter.util.jsonio import dumps
from tests.unit.test_sealing_support import (
    CONTENTS,
    MANIFEST,
    REAL_MEMBERS,
    SEALED_AT,
    SUBJECT_INFO,
    build_bundle,
    flip_byte,
    new_signer,
    read_members,
    repack,
)

FORMATS = ["zip", "tar.gz"]
ARTIFACT_NAMES = sorted([name for name, _ in REAL_MEMBERS] + ["manifest.json"])
ALL_NAMES = sorted([*ARTIFACT_NAMES, "bundle.json", "attestation.dsse.json"])


@pytest.fixture(scope="module")
def signer() -> Signer:
    return new_signer()


@pytest.fixture(scope="module", params=FORMATS)
def sealed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, signer: Signer) -> Path:
    fmt = request.param
    path = tmp_path_factory.mktemp("bundles") / f"evidence.{fmt}"
    build_bundle(path, fmt, signer)
    return path


def tampered_copy(sealed: Path, tmp_path: Path, members: list[tuple[str, bytes]]) -> Path:
    out = tmp_path / sealed.name
    repack(out, members)
    return out


def expect_failure(path: Path, signer: Signer, pattern: str) -> VerificationError:
    with pytest.raises(VerificationError, match=pattern) as caught:
        verify_bundle(path, [signer.public_key])
    return caught.value


def test_untouched_bundle_passes(sealed: Path, signer: Signer) -> None:
    result = verify_bundle(sealed, [signer.public_key])
    assert sorted(result.artifacts) == ARTIFACT_NAMES
    assert result.keyid == signer.keyid
    # an honest repack in canonical order (another tool, other compression) still verifies
    assert [name for name, _ in read_members(sealed)] == ALL_NAMES


def test_repack_with_canonical_metadata_verifies_other_metadata_is_refused(sealed: Path, signer: Signer,
                                                                            tmp_path: Path) -> None:
    # same contents, canonical metadata, another compression level: the seal holds
    copy = tampered_copy(sealed, tmp_path, read_members(sealed))
    assert copy.read_bytes() != sealed.read_bytes()
    assert verify_bundle(copy, [signer.public_key]).bundle_id
    # same contents repacked with a tool's default metadata (mode, owner, mtime, gzip name): refused
    (tmp_path / "default").mkdir()
    other = tmp_path / "default" / sealed.name
    if sealed.name.endswith(".zip"):
        with zipfile.ZipFile(other, "w") as archive:
            for name, data in read_members(sealed):
                archive.writestr(name, data)
    else:
        with tarfile.open(other, "w:gz") as archive:
            for name, data in read_members(sealed):
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                archive.addfile(info, io.BytesIO(data))
    expect_failure(other, signer, r"^non-canonical archive metadata on ")


@pytest.mark.parametrize("name", ALL_NAMES)
def test_flip_one_byte_in_each_member(sealed: Path, signer: Signer, tmp_path: Path, name: str) -> None:
    members = [(n, flip_byte(d) if n == name else d) for n, d in read_members(sealed)]
    pattern = {"bundle.json": r"^bundle\.json: ", "attestation.dsse.json": r"^attestation\.dsse\.json: "}.get(
        name, rf"^changed file: {name} has sha256 [0-9a-f]{{64}}, sealed digest is [0-9a-f]{{64}}")
    error = expect_failure(tampered_copy(sealed, tmp_path, members), signer, pattern)
    assert error.exit_code != 0


@pytest.mark.parametrize("name", ALL_NAMES)
def test_drop_each_member(sealed: Path, signer: Signer, tmp_path: Path, name: str) -> None:
    members = [(n, d) for n, d in read_members(sealed) if n != name]
    expect_failure(tampered_copy(sealed, tmp_path, members), signer, rf"^missing file: {name}")


def test_add_one_member(sealed: Path, signer: Signer, tmp_path: Path) -> None:
    members = sorted([*read_members(sealed), ("scans/zz-injected.json", b"{}")])
    expect_failure(tampered_copy(sealed, tmp_path, members), signer, r"^extra file: scans/zz-injected\.json")


def test_reorder_members(sealed: Path, signer: Signer, tmp_path: Path) -> None:
    members = read_members(sealed)
    members[0], members[-1] = members[-1], members[0]
    expect_failure(tampered_copy(sealed, tmp_path, members), signer, r"^members out of canonical order")


def _replace(members: list[tuple[str, bytes]], name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(n, data if n == name else d) for n, d in members]


def test_replace_record_signature(sealed: Path, signer: Signer, tmp_path: Path) -> None:
    members = read_members(sealed)
    record = json.loads(dict(members)["bundle.json"])
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    forged = new_signer().sign(pae(RECORD_PAYLOAD_TYPE, canonical_json(unsigned)))
    record["signature"] = "base64:" + b64encode(forged)
    path = tampered_copy(sealed, tmp_path, _replace(members, "bundle.json", dumps(record)))
    expect_failure(path, signer, r"^bundle\.json: signature does not verify")


def test_replace_attestation_signature(sealed: Path, signer: Signer, tmp_path: Path) -> None:
    members = read_members(sealed)
    envelope = json.loads(dict(members)["attestation.dsse.json"])
    envelope["signatures"][0]["sig"] = b64encode(new_signer().sign(b"anything"))
    path = tampered_copy(sealed, tmp_path, _replace(members, "attestation.dsse.json", dumps(envelope)))
    expect_failure(path, signer, rf"^attestation\.dsse\.json: signature by trusted key {signer.keyid} does not verify")


def test_replace_key_resealed_by_attacker(sealed: Path, signer: Signer, tmp_path: Path) -> None:
    attacker = new_signer()
    fmt = "zip" if sealed.name.endswith(".zip") else "tar.gz"
    forged = build_bundle(tmp_path / f"forged.{fmt}", fmt, attacker).path
    expect_failure(forged, signer, rf"^bundle\.json: sealed by untrusted key {attacker.keyid}")
    # an attacker's envelope inside the genuine record
    members = read_members(sealed)
    path = tampered_copy(sealed, tmp_path, _replace(members, "attestation.dsse.json",
                                                    dict(read_members(forged))["attestation.dsse.json"]))
    expect_failure(path, signer, rf"^attestation\.dsse\.json: signed by untrusted key {attacker.keyid}")


def test_swapped_envelope_and_manifest_from_another_genuine_bundle(sealed: Path, signer: Signer,
                                                                   tmp_path: Path) -> None:
    fmt = "zip" if sealed.name.endswith(".zip") else "tar.gz"
    other = build_bundle(tmp_path / f"other.{fmt}", fmt, signer, manifest={**MANIFEST, "export_id": "exp-other"})
    theirs = dict(read_members(other.path))
    ours = read_members(sealed)
    swapped_envelope = tampered_copy(sealed, tmp_path, _replace(ours, "attestation.dsse.json",
                                                                theirs["attestation.dsse.json"]))
    expect_failure(swapped_envelope, signer, r"^attestation\.dsse\.json does not belong to this sealed record")
    (tmp_path / "m").mkdir()
    swapped_manifest = tampered_copy(sealed, tmp_path / "m", _replace(ours, "manifest.json", theirs["manifest.json"]))
    expect_failure(swapped_manifest, signer, r"^changed file: manifest\.json")


def test_merkle_root_mismatch_in_a_validly_signed_record(sealed: Path, signer: Signer, tmp_path: Path) -> None:
    members = read_members(sealed)
    record = json.loads(dict(members)["bundle.json"])
    record["merkle_root"] = "sha256:" + "0" * 64
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    record["signature"] = "base64:" + b64encode(signer.sign(pae(RECORD_PAYLOAD_TYPE, canonical_json(unsigned))))
    path = tampered_copy(sealed, tmp_path, _replace(members, "bundle.json", dumps(record)))
    expect_failure(path, signer, r"^Merkle root mismatch: bundle\.json says sha256:0{64}")


def test_rotation_and_untrusted_key(sealed: Path, signer: Signer) -> None:
    old, new = new_signer("ecdsa-p256"), new_signer()
    assert verify_bundle(sealed, [old.public_key, signer.public_key, new.public_key]).keyid == signer.keyid
    with pytest.raises(VerificationError, match=rf"untrusted key {signer.keyid}"):
        verify_bundle(sealed, [old.public_key, new.public_key])


@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.5, 0.8, 0.99])
def test_raw_byte_flip_anywhere_in_the_archive_fails(sealed: Path, signer: Signer, tmp_path: Path,
                                                     fraction: float) -> None:
    data = sealed.read_bytes()
    out = tmp_path / sealed.name
    out.write_bytes(flip_byte(data, int(len(data) * fraction)))
    with pytest.raises(VerificationError):
        verify_bundle(out, [signer.public_key])


# ---------------------------------------------------------------------------------- records beside exports


@pytest.fixture
def export_dir(tmp_path: Path, signer: Signer) -> Path:
    directory = tmp_path / "exp-456def"
    for name, source in REAL_MEMBERS:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, directory / name)
    artifacts = [(name, directory / name) for name, _ in REAL_MEMBERS]
    sealed = seal_artifacts(artifacts, manifest=MANIFEST, subject_info=SUBJECT_INFO, signer=signer,
                            sealed_at=SEALED_AT, contents=CONTENTS)
    sealed.write_beside(directory)
    return directory


def test_record_beside_plain_export(export_dir: Path, signer: Signer) -> None:
    result = verify_record(export_dir / "bundle.json", export_dir, [signer.public_key])
    assert sorted(result.artifacts) == sorted(name for name, _ in REAL_MEMBERS)
    target = export_dir / "sbom/sbom.cdx.json"
    target.write_bytes(flip_byte(target.read_bytes()))
    with pytest.raises(VerificationError, match=r"^changed file: sbom/sbom\.cdx\.json"):
        verify_record(export_dir / "bundle.json", export_dir, [signer.public_key])


def test_record_missing_and_extra_files(export_dir: Path, signer: Signer) -> None:
    (export_dir / "vex/unmatched.json").unlink()
    with pytest.raises(VerificationError, match=r"^missing file: vex/unmatched\.json"):
        verify_record(export_dir / "bundle.json", export_dir, [signer.public_key])
    (export_dir / "vex/unmatched.json").write_bytes(b"x")
    (export_dir / "vex/unmatched.json").unlink()
    shutil.copyfile(REAL_MEMBERS[-1][1], export_dir / "vex/unmatched.json")
    (export_dir / "notes.txt").write_text("added later")
    with pytest.raises(VerificationError, match=r"^extra file: notes\.txt"):
        verify_record(export_dir / "bundle.json", export_dir, [signer.public_key])
    assert verify_record(export_dir / "bundle.json", export_dir, [signer.public_key], allow_extra=True)
