"""S3ArtifactStore against moto's S3 server over real HTTP, with 500s and stalls injected by a proxy."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from exportcenter.config import Settings
from exportcenter.db.engine import transaction
from exportcenter.errors import StorageError
from exportcenter.pipeline.request import parse_request
from exportcenter.pipeline.run import _publish_with_retry, create_export, run_export
from exportcenter.storage.s3 import S3ArtifactStore, make_s3_client
from tests.integration.test_delivery_support import (
    FaultProxy,
    free_port,
    ingest_small_scan,
    make_runtime,
    moto_url,
    s3_settings,
)

__all__ = ["moto_url"]
MB = 1024 * 1024


@pytest.fixture()
def proxy(moto_url: str) -> Iterator[FaultProxy]:
    fault = FaultProxy(moto_url)
    yield fault
    fault.close()


def _store(tmp_path: Path, endpoint: str, bucket: str, **client: float) -> S3ArtifactStore:
    settings = Settings(home=tmp_path, storage_backend="s3",
                        s3=s3_settings(endpoint, bucket, multipart_threshold_bytes=5 * MB, max_attempts=4))
    store = S3ArtifactStore(settings, client=make_s3_client(settings.s3, **client) if client else None)
    store.ensure_bucket()
    return store


def _files(tmp_path: Path, sizes: dict[str, int]) -> list[tuple[str, Path]]:
    files = []
    for name, size in sizes.items():
        path = tmp_path / name
        path.write_bytes(os.urandom(size))
        files.append((name, path))
    manifest = tmp_path / "manifest.json"
    manifest.write_text(f'{{"artifacts": {len(files)}}}')
    return [*files, ("manifest.json", manifest)]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_publish_multipart_manifest_last_and_presigned_get(tmp_path: Path, proxy: FaultProxy) -> None:
    store = _store(tmp_path, proxy.url, "publish")
    files = _files(tmp_path, {"big.bin": 11 * MB, "small.json": 1000})
    proxy.log.clear()
    store.publish("exports/acme/2025/01/exp-1", files)
    writes = [(m, p) for m, p, status in proxy.log if m in ("PUT", "POST")]
    assert writes[-1] == ("PUT", "/publish/exports/acme/2025/01/exp-1/manifest.json")
    assert sum(1 for m, p in writes if "partNumber=" in p) == 3  # 11 MB in 5 MB parts
    assert sorted(store.list_keys("exports/acme/")) == [f"exports/acme/2025/01/exp-1/{n}"
                                                        for n in ("big.bin", "manifest.json", "small.json")]
    url = store.presigned_get("exports/acme/2025/01/exp-1/big.bin", 120)
    assert url is not None and "X-Amz-Expires=120" in url and "X-Amz-Signature=" in url
    body = httpx.get(url, timeout=30).content
    assert _sha(body) == _sha(files[0][1].read_bytes())
    assert store.size("exports/acme/2025/01/exp-1/small.json") == 1000


def test_republish_replaces_the_earlier_set(tmp_path: Path, moto_url: str) -> None:
    store = _store(tmp_path, moto_url, "replace")
    first = tmp_path / "a"
    first.mkdir()
    store.publish("p/exp-2", _files(first, {"one.csv": 10, "two.csv": 20}))
    second = tmp_path / "b"
    second.mkdir()
    store.publish("p/exp-2", _files(second, {"one.csv": 30}))
    assert sorted(store.list_keys("p/")) == ["p/exp-2/manifest.json", "p/exp-2/one.csv"]
    assert store.size("p/exp-2/one.csv") == 30
    assert store.delete_prefix("p/exp-2") == 2 and not store.exists("p/exp-2/manifest.json")


def test_injected_500s_are_retried_by_the_pipeline_with_backoff(tmp_path: Path, proxy: FaultProxy) -> None:
    store = _store(tmp_path, proxy.url, "retry500")
    files = _files(tmp_path, {"report.json": 2000})
    proxy.fail_first(3)  # boto3 itself tries each request twice, so the first publish attempt fails
    runtime = SimpleNamespace(settings=store_settings(4), store=store)
    _publish_with_retry(runtime, "exports/t/2025/02/exp-3", files)  # type: ignore[arg-type]
    assert [s for _, _, s in proxy.log].count(500) == 3
    assert store.exists("exports/t/2025/02/exp-3/manifest.json")
    assert _sha(store.open_read("exports/t/2025/02/exp-3/report.json").read()) == _sha(files[0][1].read_bytes())


def store_settings(attempts: int) -> Settings:
    return Settings(s3=s3_settings("http://unused", "x", max_attempts=attempts))


def test_a_stalled_request_times_out_and_is_retried(tmp_path: Path, proxy: FaultProxy) -> None:
    store = _store(tmp_path, proxy.url, "stall", read_timeout=0.5, connect_timeout=1.0)
    files = _files(tmp_path, {"report.json": 500})
    proxy.fail_first(1, action="stall", methods=("PUT",))
    store.publish("exports/t/2025/03/exp-4", files)
    assert any(status == 0 for _, _, status in proxy.log)
    assert store.exists("exports/t/2025/03/exp-4/manifest.json")


def test_failure_before_the_manifest_leaves_nothing_visible(tmp_path: Path, proxy: FaultProxy) -> None:
    store = _store(tmp_path, proxy.url, "partial")
    files = _files(tmp_path, {"big.bin": 6 * MB, "report.json": 100})
    proxy.rule = lambda method, path: "500" if method == "PUT" and path.endswith("manifest.json") else None
    with pytest.raises(StorageError, match="InternalError"):
        store.publish("exports/t/2025/04/exp-5", files)
    proxy.rule = lambda method, path: None
    assert list(store.list_keys("exports/t/2025/04/")) == []


def test_failed_part_aborts_the_multipart_upload(tmp_path: Path, proxy: FaultProxy) -> None:
    store = _store(tmp_path, proxy.url, "abort")
    files = _files(tmp_path, {"big.bin": 11 * MB})
    proxy.rule = lambda method, path: "500" if "partNumber=2" in path else None
    with pytest.raises(StorageError):
        store.publish("exports/t/2025/05/exp-6", files)
    proxy.rule = lambda method, path: None
    assert store.client.list_multipart_uploads(Bucket="abort").get("Uploads", []) == []
    assert list(store.list_keys("exports/")) == []


def test_storage_down_fails_with_the_reason(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, s3=s3_settings(f"http://127.0.0.1:{free_port()}", "down", max_attempts=2))
    store = S3ArtifactStore(settings, client=make_s3_client(settings.s3, connect_timeout=0.5, read_timeout=0.5))
    runtime = SimpleNamespace(settings=settings, store=store)
    with pytest.raises(StorageError, match=r"storage failed after 2 attempts: .*(EndpointConnectionError|connect)"):
        _publish_with_retry(runtime, "exports/t/2025/06/exp-7", _files(tmp_path, {"a.json": 10}))  # type: ignore[arg-type]


def test_pipeline_on_the_s3_backend_stores_the_spec_layout(tmp_path: Path, moto_url: str) -> None:
    s3 = s3_settings(moto_url, "pipeline")
    runtime = make_runtime(tmp_path, storage_backend="s3", s3=s3)
    assert isinstance(runtime.store, S3ArtifactStore)
    runtime.store.ensure_bucket()
    scan_id = ingest_small_scan(runtime)
    with transaction(runtime.sessions) as session:
        row = create_export(runtime, session, tenant="acme", requested_by="test", request=parse_request(
            {"type": "scan_report", "format": "json", "scope": {"scan_ids": [scan_id]}}))
    final = run_export(runtime, row.id)
    assert final is not None and final.status == "completed", final and final.error
    created = final.created_at
    prefix = f"exports/acme/{created:%Y}/{created:%m}/{final.id}"
    keys = sorted(runtime.store.list_keys(prefix + "/"))
    assert keys == sorted([*(f"{prefix}/{a['name']}" for a in final.artifacts), f"{prefix}/manifest.json"])
    assert len(final.artifacts) >= 1
    for artifact in final.artifacts:
        data = runtime.store.open_read(f"{prefix}/{artifact['name']}").read()
        assert (len(data), _sha(data)) == (artifact["size"], artifact["sha256"])
    runtime.close()
