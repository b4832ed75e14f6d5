"""Sealing and verification throughput vs the raw hashlib sha256 floor, with peak memory.

Usage: .venv/bin/python bench/bench_sealing.py [--large] [--sizes 10,100]

Each measurement runs in a fresh child process (so its peak RSS is its own); the evidence file is real
scan JSON repeated to the target size (compressible like real evidence). Reported per size:
  floor_sha256   hashlib.sha256 over the same file in 1 MiB chunks (the floor)
  floor_inflate  zlib inflate of the .tar.gz bytes + sha256 (the floor for compressed formats)
  seal           seal_artifacts: streaming sha256 + Merkle root + two signatures
  write_*        write_evidence_bundle (hash + archive write) for zip-stored, zip-deflate, tar.gz
  verify_*       verify_bundle on each
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
SOURCE = REPO / "tests/fixtures/data/scans/grype_json_python-3.7.10-1567matches.json"
SEALED_AT = datetime(2024, 12, 29, 10, 32, tzinfo=UTC)


def make_input(path: Path, size: int) -> None:
    block = SOURCE.read_bytes()
    with path.open("wb") as out:
        written = 0
        while written < size:
            chunk = block[: size - written]
            out.write(chunk)
            written += len(chunk)


def _job(kind: str, work: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    from exportcenter.sealing import seal_artifacts, verify_bundle, write_evidence_bundle
    from exportcenter.sealing.keys import load_signer_from_file, load_trusted_keys

    base = Path(work)
    data = base / "evidence.json"
    signer = load_signer_from_file(base / "k.pem")
    start = time.perf_counter()
    if kind == "floor_sha256":
        digest = hashlib.sha256()
        with data.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    elif kind == "floor_inflate":
        inflater, digest = zlib.decompressobj(wbits=31), hashlib.sha256()
        with (base / "bundle-gz.tar.gz").open("rb") as handle:
            while chunk := handle.read(1 << 20):
                while chunk:
                    digest.update(inflater.decompress(chunk, 1 << 20))
                    chunk = inflater.unconsumed_tail
    elif kind == "seal":
        seal_artifacts([("scans/big.json", data)], manifest={"export_id": "bench"}, subject_info={},
                       signer=signer, sealed_at=SEALED_AT, contents=[{"type": "scan_result", "id": "bench"}])
    elif kind.startswith("write_"):
        fmt, level, name = {"write_zip_stored": ("zip", 0, "bundle-stored.zip"),
                            "write_zip_deflate": ("zip", 6, "bundle-deflate.zip"),
                            "write_tar_gz": ("tar.gz", 6, "bundle-gz.tar.gz")}[kind]
        write_evidence_bundle(base / name, fmt, [("scans/big.json", data)], manifest={"export_id": "bench"},  # type: ignore[arg-type]
                              subject_info={}, contents=[], signer=signer, sealed_at=SEALED_AT, compresslevel=level)
    elif kind.startswith("verify_"):
        name = {"verify_zip_stored": "bundle-stored.zip", "verify_zip_deflate": "bundle-deflate.zip",
                "verify_tar_gz": "bundle-gz.tar.gz"}[kind]
        verify_bundle(base / name, load_trusted_keys([base / "k.pub.pem"]))
    elapsed = time.perf_counter() - start
    queue.put((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure(kind: str, work: Path) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    proc = ctx.Process(target=_job, args=(kind, str(work), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result  # type: ignore[no-any-return]


ORDER = ["floor_sha256", "seal", "write_zip_stored", "write_zip_deflate", "write_tar_gz", "floor_inflate",
         "verify_zip_stored", "verify_zip_deflate", "verify_tar_gz"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", action="store_true", help="also 1 GB")
    parser.add_argument("--sizes", default="10,100", help="MB, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] + ([1000] if args.large else [])
    from exportcenter.sealing import generate_keypair

    results = []
    for size_mb in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-seal-") as tmp:
            work = Path(tmp)
            private_pem, public_pem = generate_keypair()
            (work / "k.pem").write_bytes(private_pem)
            (work / "k.pub.pem").write_bytes(public_pem)
            make_input(work / "evidence.json", size_mb * 1_000_000)
            row: dict[str, object] = {"size_mb": size_mb}
            for kind in ORDER:
                seconds, rss = min((measure(kind, work) for _ in range(2)), key=lambda r: r[0])
                row[kind] = {"s": round(seconds, 3), "peak_rss_mb": round(rss, 1)}
            floor = row["floor_sha256"]["s"]  # type: ignore[index]
            inflate = row["floor_inflate"]["s"]  # type: ignore[index]
            row["ratios_vs_sha256"] = {k: round(row[k]["s"] / floor, 2) for k in ORDER}  # type: ignore[index]
            row["verify_tar_gz_vs_inflate_floor"] = round(row["verify_tar_gz"]["s"] / inflate, 2)  # type: ignore[index]
            results.append(row)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
