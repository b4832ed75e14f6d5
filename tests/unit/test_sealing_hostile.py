"""Hostile archives are refused before anything is written; byte flips never pass unnoticed."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from exportcenter.errors import VerificationError
from exportcenter.sealing import verify_bundle
from tests.unit.test_sealing_support import build_bundle, flip_byte, new_signer, read_members


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def tar_with(path: Path, entries: list[tarfile.TarInfo], data: bytes = b"pwned") -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for info in entries:
            if info.isreg():
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(info)
    return path


def tar_entry(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, 0o644
    return info


def zip_with(path: Path, names: list[str], symlink: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = ((0o120777 if symlink else 0o100644) << 16)
            archive.writestr(info, b"/etc/passwd" if symlink else b"pwned")
    return path


HOSTILE_TARS = {
    "zip-slip": [tar_entry("../evil.txt")],
    "deep-slip": [tar_entry("scans/../../evil.txt")],
    "absolute": [tar_entry("/tmp/evil.txt")],
    "drive-letter": [tar_entry("C:/evil.txt")],
    "backslash": [tar_entry("..\\evil.txt")],
    "symlink-then-file": [tar_entry("scans", tarfile.SYMTYPE, "/tmp"), tar_entry("scans/evil.txt")],
    "hardlink": [tar_entry("passwd", tarfile.LNKTYPE, "/etc/passwd")],
    "char-device": [tar_entry("null", tarfile.CHRTYPE)],
    "fifo": [tar_entry("pipe", tarfile.FIFOTYPE)],
    "directory": [tar_entry("scans", tarfile.DIRTYPE)],
}

HOSTILE_ZIPS = {
    "zip-slip": (["../evil.txt"], False),
    "absolute": (["/tmp/evil.txt"], False),
    "drive-letter": (["C:/evil.txt"], False),
    "backslash": (["..\\evil.txt"], False),
    "symlink": (["link"], True),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_TARS))
def test_hostile_tar_refused_and_nothing_written(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    bundle = tar_with(tmp_path / "hostile.tar.gz", HOSTILE_TARS[case])
    before = snapshot(tmp_path)
    with pytest.raises(VerificationError, match=r"^hostile archive: member .* refused \(") as caught:
        verify_bundle(bundle, [new_signer().public_key])
    assert caught.value.exit_code == 10
    assert snapshot(tmp_path) == before
    assert not Path("/tmp/evil.txt").exists()


@pytest.mark.parametrize("case", sorted(HOSTILE_ZIPS))
def test_hostile_zip_refused_and_nothing_written(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work" / "deeper"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    names, symlink = HOSTILE_ZIPS[case]
    bundle = zip_with(tmp_path / "hostile.zip", names, symlink)
    before = snapshot(tmp_path)
    with pytest.raises(VerificationError, match=r"^hostile archive: member .* refused \("):
        verify_bundle(bundle, [new_signer().public_key])
    assert snapshot(tmp_path) == before


def test_symlink_reason_is_named(tmp_path: Path) -> None:
    bundle = tar_with(tmp_path / "h.tar.gz", HOSTILE_TARS["symlink-then-file"])
    with pytest.raises(VerificationError, match=r"'scans' refused \(symbolic link to '/tmp'\)"):
        verify_bundle(bundle, [new_signer().public_key])


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"just text")
    with pytest.raises(VerificationError, match="neither a ZIP nor"):
        verify_bundle(path, [new_signer().public_key])


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_every_byte_flip_fails_or_leaves_content_identical(fmt: str, tmp_path: Path) -> None:
    """Sampled over the whole file and exhaustive over the first and last 600 bytes (headers, trailers,
    central directory). The only flips allowed to pass are in bits the deflate format ignores, which
    decompress to exactly the sealed bytes."""
    signer = new_signer()
    bundle = build_bundle(tmp_path / f"b.{fmt}", fmt, signer).path
    data, original = bundle.read_bytes(), read_members(bundle)
    positions = sorted({*range(0, len(data), 41), *range(600), *range(len(data) - 600, len(data))})
    out = tmp_path / f"flipped.{fmt}"
    failed = 0
    for position in positions:
        out.write_bytes(flip_byte(data, position))
        try:
            verify_bundle(out, [signer.public_key])
        except VerificationError:
            failed += 1
            continue
        assert read_members(out) == original, f"flip at byte {position} passed with changed content"
    assert failed >= len(positions) * 0.97
    os.remove(out)
