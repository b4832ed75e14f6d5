"""Deterministic ZIP / TAR.GZ writer and a safe, streaming reader.

Writer: entries sorted by name, one fixed mtime, mode 0644, uid/gid 0 with empty owner names, USTAR
tar inside a gzip stream whose header has no file name and mtime 0, ZIP entries without extra fields.
Reader: yields regular-file members one at a time as streams; it never writes anything to disk and
refuses hostile entries (unsafe names, links, devices, directories, duplicates) as soon as it sees them.
"""

from __future__ import annotations

import gzip
import os
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO, Literal

from exportcenter.errors import InvalidInputError, VerificationError
from exportcenter.sealing.names import assert_safe_member_name, member_name_problem

ArchiveFormat = Literal["zip", "tar.gz"]
ARCHIVE_FORMATS: tuple[ArchiveFormat, ...] = ("zip", "tar.gz")
MEMBER_MODE = 0o644
COPY_CHUNK = 1024 * 1024
EntrySource = Path | bytes


def _zip_date_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    utc = min(max(utc, datetime(1980, 1, 1, tzinfo=UTC)), datetime(2107, 12, 31, 23, 59, 58, tzinfo=UTC))
    return (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second - utc.second % 2)  # DOS time: 2 s steps


def canonical_mtime(fmt: ArchiveFormat, moment: datetime) -> int:
    """The member mtime (epoch seconds) the writer stores for ``moment`` in this format."""
    if fmt == "zip":
        return int(datetime(*_zip_date_time(moment), tzinfo=UTC).timestamp())
    return int(moment.timestamp())


def _entry_size(source: EntrySource) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size


@contextmanager
def _open_source(source: EntrySource) -> Iterator[BinaryIO]:
    if isinstance(source, bytes):
        import io

        yield io.BytesIO(source)
    else:
        with source.open("rb") as handle:
            yield handle


def _copy(src: BinaryIO, dst: IO[bytes]) -> None:
    while chunk := src.read(COPY_CHUNK):
        dst.write(chunk)


def _set_zip_level(info: zipfile.ZipInfo, level: int | None) -> None:
    """The per-entry level is ``_compresslevel`` before Python 3.13 and ``compress_level`` after."""
    for attribute in ("compress_level", "_compresslevel"):
        try:
            setattr(info, attribute, level)
            return
        except AttributeError:
            continue


def _write_zip(handle: BinaryIO, entries: Sequence[tuple[str, EntrySource]], mtime: datetime,
               compresslevel: int) -> None:
    method = zipfile.ZIP_DEFLATED if compresslevel > 0 else zipfile.ZIP_STORED
    with zipfile.ZipFile(handle, "w", compression=method) as archive:
        for name, source in entries:
            info = zipfile.ZipInfo(name, date_time=_zip_date_time(mtime))
            info.compress_type = method
            info.create_system = 3  # Unix, so the mode bits below mean what they say
            info.external_attr = (0o100000 | MEMBER_MODE) << 16
            info.file_size = _entry_size(source)
            _set_zip_level(info, compresslevel if method == zipfile.ZIP_DEFLATED else None)
            with _open_source(source) as src, archive.open(info, "w") as dst:
                _copy(src, dst)


def _write_tar_gz(handle: BinaryIO, entries: Sequence[tuple[str, EntrySource]], mtime: datetime,
                  compresslevel: int) -> None:
    stamp = int(mtime.timestamp())
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=max(compresslevel, 1)) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        tar.copybufsize = COPY_CHUNK  # type: ignore[attr-defined]  # documented attribute, missing in stubs
        for name, source in entries:
            info = tarfile.TarInfo(name)
            info.size = _entry_size(source)
            info.mtime = stamp
            info.mode = MEMBER_MODE
            info.type = tarfile.REGTYPE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with _open_source(source) as src:
                tar.addfile(info, src)


def write_deterministic_archive(
    out_path: Path,
    fmt: ArchiveFormat,
    entries: Sequence[tuple[str, EntrySource]],
    *,
    mtime: datetime,
    compresslevel: int = 6,
) -> None:
    """Write ``entries`` (name, file path or bytes) so that equal inputs give equal bytes.

    The file appears atomically (written beside the target, then renamed).
    """
    if fmt not in ARCHIVE_FORMATS:
        raise InvalidInputError(f"unknown bundle format {fmt!r}; choose zip or tar.gz")
    ordered = sorted(entries, key=lambda entry: entry[0])
    names = [assert_safe_member_name(name) for name, _ in ordered]
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise InvalidInputError(f"duplicate bundle member names: {', '.join(duplicates)}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=".partial-", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if fmt == "zip":
                _write_zip(handle, ordered, mtime, compresslevel)
            else:
                _write_tar_gz(handle, ordered, mtime, compresslevel)
        os.replace(temp_name, out_path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------------- reader


@dataclass
class ArchiveMember:
    """One regular file; ``stream`` is only readable until the iteration moves on."""

    name: str
    size: int
    stream: BinaryIO
    mtime: int


def detect_format(path: Path) -> ArchiveFormat:
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise VerificationError(f"cannot read bundle {path}: {exc.strerror or exc}") from None
    if magic.startswith(b"PK\x03\x04") or magic.startswith(b"PK\x05\x06"):
        return "zip"
    if magic.startswith(b"\x1f\x8b"):
        return "tar.gz"
    raise VerificationError(f"{path.name}: neither a ZIP nor a gzip-compressed TAR archive")


def _hostile(name: str, reason: str) -> VerificationError:
    return VerificationError(f"hostile archive: member {name!r} refused ({reason})", member=name)


def _noncanonical(name: str, reason: str) -> VerificationError:
    return VerificationError(f"non-canonical archive metadata on {name!r}: {reason} (bundle repacked or edited)",
                             member=name)


def _check_name(name: str, seen: set[str], previous: str | None) -> None:
    problem = member_name_problem(name)
    if problem is not None:
        raise _hostile(name, problem)
    if name in seen:
        raise _hostile(name, "duplicate member name")
    if previous is not None and name < previous:
        raise VerificationError(
            f"members out of canonical order: {name!r} comes after {previous!r}", member=name
        )
    seen.add(name)


def _zip_kind_problem(info: zipfile.ZipInfo) -> str | None:
    if info.is_dir():
        return "directory entry"
    if info.flag_bits & 0x1:
        return "encrypted entry"
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:
        kind = mode & 0o170000
        if kind == 0o120000:
            return "symbolic link"
        if kind not in (0, 0o100000):
            return "special file (device, FIFO or socket)"
    return None


def _zip_metadata_problem(info: zipfile.ZipInfo) -> str | None:
    """Anything but the canonical metadata the writer produces (so even container edits show)."""
    if info.create_system != 3 or info.external_attr != (0o100000 | MEMBER_MODE) << 16:
        return f"mode/system {info.create_system}:{info.external_attr >> 16:o}, expected Unix 100644"
    if info.extra or info.comment:
        return "extra field or comment present"
    fields = (info.create_version, info.extract_version, info.reserved, info.internal_attr, info.volume)
    if fields != (20, 20, 0, 0, 0):
        return "version, internal attribute or disk fields differ from the writer's"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"compression method {info.compress_type}"
    return None


def _zip_local_header_problem(raw: BinaryIO, info: zipfile.ZipInfo) -> tuple[str | None, int]:
    """Local header must agree with the central directory; returns (problem, offset after the entry)."""
    raw.seek(info.header_offset)
    header = raw.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        return "bad local header", 0
    _, version, flags, method, dos_time, dos_date, crc, csize, usize, name_length, extra_length = struct.unpack(
        "<4sHHHHHIIIHH", header
    )
    local_name = raw.read(name_length)
    date_time = ((dos_date >> 9) + 1980, (dos_date >> 5) & 0xF, dos_date & 0x1F,
                 dos_time >> 11, (dos_time >> 5) & 0x3F, (dos_time & 0x1F) * 2)
    expected_name = info.filename.encode("utf-8" if flags & 0x800 else "cp437")
    local = (version, flags, method, date_time, local_name)
    if local != (info.extract_version, info.flag_bits, info.compress_type, info.date_time, expected_name):
        return "local header disagrees with the central directory", 0
    if extra_length or flags & 0x8 or (crc, csize, usize) != (info.CRC, info.compress_size, info.file_size):
        return "local header sizes/CRC disagree with the central directory", 0
    return None, info.header_offset + 30 + name_length + extra_length + info.compress_size


def _zip_mtime(info: zipfile.ZipInfo) -> int:
    return int(datetime(*info.date_time, tzinfo=UTC).timestamp())


def _iter_zip(path: Path) -> Iterator[ArchiveMember]:
    with path.open("rb") as raw, zipfile.ZipFile(raw) as archive:
        infos = archive.infolist()
        seen: set[str] = set()
        previous: str | None = None
        expected_offset = 0
        if archive.comment:
            raise _hostile(infos[0].filename if infos else path.name, "archive comment present")
        for info in infos:
            _check_name(info.filename, seen, previous)
            previous = info.filename
            problem = _zip_kind_problem(info)
            if problem:
                raise _hostile(info.filename, problem)
            if info.header_offset != expected_offset:
                raise _hostile(info.filename, "unlisted bytes between ZIP entries")
            problem, expected_offset = _zip_local_header_problem(raw, info)
            if problem:
                raise _hostile(info.filename, problem)
            problem = _zip_metadata_problem(info)
            if problem:
                raise _noncanonical(info.filename, problem)
        if infos and expected_offset != archive.start_dir:
            raise _hostile(infos[-1].filename, "unlisted bytes before the ZIP central directory")
        raw.seek(0, os.SEEK_END)
        end = raw.tell()
        raw.seek(end - 22)
        central_size = end - 22 - archive.start_dir
        canonical_end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(infos), len(infos), central_size,
                                    archive.start_dir, 0)
        if raw.read(22) != canonical_end:
            raise _noncanonical(path.name, "end-of-central-directory record differs from the writer's")
        for info in infos:
            with archive.open(info) as stream:
                yield ArchiveMember(info.filename, info.file_size, stream, _zip_mtime(info))  # type: ignore[arg-type]


def _tar_kind_problem(info: tarfile.TarInfo) -> str | None:
    if info.issym():
        return f"symbolic link to {info.linkname!r}"
    if info.islnk():
        return f"hard link to {info.linkname!r}"
    if info.isdir():
        return "directory entry"
    if info.ischr() or info.isblk() or info.isfifo():
        return "device or FIFO"
    if not info.isreg():
        return f"unsupported entry type {info.type!r}"
    return None


_GZIP_CANONICAL_PREFIX = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"


def _iter_tar(path: Path) -> Iterator[ArchiveMember]:
    with path.open("rb") as raw:
        header = raw.read(10)
    gzip_header_ok = header[:8] == _GZIP_CANONICAL_PREFIX and header[8:9] in (b"\x00", b"\x02", b"\x04")
    gzip_header_ok = gzip_header_ok and header[9:] == b"\xff"
    # GzipFile checks the gzip CRC-32 and length once drained; tarfile's own "r|gz" never does
    with gzip.open(path, "rb") as gz, tarfile.open(fileobj=gz, mode="r|", bufsize=COPY_CHUNK) as archive:
        seen: set[str] = set()
        previous: str | None = None
        for info in archive:
            _check_name(info.name, seen, previous)
            previous = info.name
            problem = _tar_kind_problem(info)
            if problem:
                raise _hostile(info.name, problem)
            if (info.mode, info.uid, info.gid, info.uname, info.gname) != (MEMBER_MODE, 0, 0, "", ""):
                raise _noncanonical(info.name, f"mode {info.mode:o}, owner {info.uid}:{info.gid} "
                                               f"{info.uname!r}:{info.gname!r}; expected 644, 0:0 without names")
            if info.pax_headers:
                raise _noncanonical(info.name, "PAX extended header present")
            stream = archive.extractfile(info)
            if stream is None:  # pragma: no cover - regular files always have data
                raise _hostile(info.name, "no data")
            yield ArchiveMember(info.name, info.size, stream, int(info.mtime))  # type: ignore[arg-type]
        if not gzip_header_ok:  # checked after the members, so a hostile entry is reported as such first
            raise _noncanonical(path.name, "gzip header carries a name, a time, flags or an OS byte")
        for chunk in iter(lambda: gz.read(COPY_CHUNK), b""):  # drain: gzip verifies CRC-32 and size at EOF
            if chunk.count(0) != len(chunk):
                raise _hostile(previous or path.name, "data hidden after the end of the tar archive")


def iter_members(path: Path) -> Iterator[ArchiveMember]:
    """Regular-file members in archive order, each vetted before its data is touched."""
    fmt = detect_format(path)
    try:
        yield from (_iter_zip(path) if fmt == "zip" else _iter_tar(path))
    except VerificationError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile,
            OSError, ValueError, struct.error) as exc:
        raise VerificationError(f"{path.name}: corrupt {fmt} archive ({exc})") from None
