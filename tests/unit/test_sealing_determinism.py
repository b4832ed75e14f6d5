"""Byte-identical bundles: same inputs + SOURCE_DATE_EPOCH, whatever the order, TZ, umask or file times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from exportcenter.sealing import generate_keypair, load_signer_from_file, verify_bundle
from tests.paths import REPO
from tests.unit.test_sealing_support import REAL_MEMBERS, build_bundle, new_signer

BUILD_SCRIPT = r"""
import json, os, random, shutil, sys, tempfile, time
from pathlib import Path
from exportcenter.sealing import load_signer_from_file, write_evidence_bundle
from exportcenter.util.timeutil import build_time

key, out, fmt, seed, umask, members = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5], 8), json.loads(sys.argv[6])
os.umask(umask)
time.tzset()
work = Path(tempfile.mkdtemp())
copies = []
for index, (name, source) in enumerate(members):
    target = work / f"copy{index}.json"          # fresh copies: new inode, mtime, mode from the umask
    shutil.copyfile(source, target)
    os.utime(target, (1_000_000 + seed * 977 + index, 1_000_000 + seed * 977 + index))
    copies.append((name, target))
random.Random(seed).shuffle(copies)
write_evidence_bundle(Path(out), fmt, copies, manifest={"export_id": "exp-1"}, subject_info={"policy_outcome": {"status": "pass"}},
                      contents=[{"type": "scan_result", "id": "scan-1"}], signer=load_signer_from_file(Path(key)), sealed_at=build_time())
"""


def run_build(key: Path, out: Path, fmt: str, seed: int, umask: str, tz: str) -> bytes:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1735468320", "TZ": tz, "PYTHONHASHSEED": str(seed)}
    members = json.dumps([(name, str(path)) for name, path in REAL_MEMBERS])
    subprocess.run([sys.executable, "-c", BUILD_SCRIPT, str(key), str(out), fmt, str(seed), umask, members],
                   check=True, env=env, cwd=REPO, timeout=120)
    return out.read_bytes()


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_rebuild_is_byte_identical_across_order_tz_and_umask(fmt: str, tmp_path: Path) -> None:
    private_pem, _ = generate_keypair("ed25519")
    key = tmp_path / "signing.key.pem"
    key.write_bytes(private_pem)
    first = run_build(key, tmp_path / f"a.{fmt}", fmt, seed=1, umask="022", tz="UTC")
    second = run_build(key, tmp_path / f"b.{fmt}", fmt, seed=7, umask="077", tz="Asia/Kolkata")
    third = run_build(key, tmp_path / f"c.{fmt}", fmt, seed=3, umask="002", tz="America/St_Johns")
    assert first == second == third
    result = verify_bundle(tmp_path / f"a.{fmt}", [load_signer_from_file(key).public_key])
    assert result.sealed_at == "2024-12-29T10:32:00Z"  # SOURCE_DATE_EPOCH 1735468320


def test_other_epoch_gives_other_bytes_and_ecdsa_rebuilds_identically(tmp_path: Path) -> None:
    signer = new_signer("ecdsa-p256")
    a = build_bundle(tmp_path / "a.zip", "zip", signer).path.read_bytes()
    b = build_bundle(tmp_path / "b.zip", "zip", signer).path.read_bytes()
    assert a == b  # RFC 6979 deterministic ECDSA
    private_pem, _ = generate_keypair()
    key = tmp_path / "k.pem"
    key.write_bytes(private_pem)
    env_a = run_build(key, tmp_path / "x.tar.gz", "tar.gz", seed=1, umask="022", tz="UTC")
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1735468322", "TZ": "UTC"}
    members = json.dumps([(name, str(path)) for name, path in REAL_MEMBERS])
    subprocess.run([sys.executable, "-c", BUILD_SCRIPT, str(key), str(tmp_path / "y.tar.gz"), "tar.gz", "1", "022",
                    members], check=True, env=env, cwd=REPO, timeout=120)
    assert (tmp_path / "y.tar.gz").read_bytes() != env_a
