"""Upload + presigned download through S3ArtifactStore vs boto3's own upload_file, same file, same moto server.

    .venv/bin/python bench/bench_s3.py            # 10 MB
    .venv/bin/python bench/bench_s3.py --large    # 10 MB and 500 MB
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import tempfile
import time
from pathlib import Path

import boto3
import httpx
from boto3.s3.transfer import TransferConfig
from moto.server import ThreadedMotoServer

from exportcenter.config import S3Settings, Settings
from exportcenter.storage.s3 import S3ArtifactStore

MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_file(folder: Path, size: int) -> Path:
    path = folder / f"artifact-{size // MB}mb.bin"
    with open(path, "wb") as out:
        for _ in range(size // MB):
            out.write(os.urandom(MB))
    return path


def timed(label: str, func: object) -> float:
    start = time.perf_counter()
    func()  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    return elapsed


def run(size: int, endpoint: str, folder: Path) -> None:
    path = make_file(folder, size)
    manifest = folder / "manifest.json"
    manifest.write_text("{}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    s3 = S3Settings(endpoint_url=endpoint, bucket="bench", access_key_id="k", secret_access_key="s")
    store = S3ArtifactStore(Settings(home=folder, storage_backend="s3", s3=s3))
    store.ensure_bucket()
    prefix = f"exports/bench/{size // MB}"
    ours = timed("ours", lambda: store.publish(prefix, [(path.name, path), ("manifest.json", manifest)]))
    url = store.presigned_get(f"{prefix}/{path.name}", 600)
    assert url
    got = hashlib.sha256()

    def download() -> None:
        with httpx.stream("GET", url, timeout=600) as response:
            for chunk in response.iter_bytes(MB):
                got.update(chunk)

    down = timed("download", download)
    assert got.hexdigest() == digest
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s")
    config = TransferConfig(multipart_threshold=s3.multipart_threshold_bytes)
    baseline = timed("boto3", lambda: client.upload_file(str(path), "bench", f"baseline/{path.name}",
                                                         Config=config))
    mb = size / MB
    print(f"{mb:6.0f} MB  publish (ours) {ours:6.2f} s {mb / ours:7.1f} MB/s | boto3 upload_file {baseline:6.2f} s "
          f"{mb / baseline:7.1f} MB/s | ratio {ours / baseline:4.2f} | presigned GET {down:6.2f} s {mb / down:7.1f} MB/s")
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", action="store_true", help="also 500 MB")
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        with tempfile.TemporaryDirectory() as folder:
            for size in [10 * MB] + ([500 * MB] if args.large else []):
                run(size, f"http://{host}:{port}", Path(folder))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
