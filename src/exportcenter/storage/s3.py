"""S3-compatible artifact store (RustFS, MinIO, AWS) over boto3.

Visibility rule: a set under ``prefix`` is complete exactly when ``prefix/manifest.json`` exists. ``publish``
first removes an earlier manifest (the old set stops being visible), uploads every artifact (single PUT or
multipart; S3 never shows a half-written object), writes ``manifest.json`` last, then removes keys of the
earlier set that the new one does not contain. On failure the keys written by this attempt are deleted and
an open multipart upload is aborted, so a retry starts clean.

Retries: ``pipeline.run._publish_with_retry`` retries a whole publish with backoff and jitter, so boto3's own
retries are kept to 2 attempts per request (they would multiply otherwise).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from exportcenter.config import S3Settings, Settings
from exportcenter.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("exportcenter.storage.s3")

MANIFEST = "manifest.json"
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer
PART_SIZE_FLOOR = 5 * 1024 * 1024  # S3's minimum part size (except the last)
_CHUNK = 1 << 20
PART_WORKERS = 1  # parts in flight at once; 4 was 1.7x slower against moto on 2 cores (docs/bench-s3.md)


def make_s3_client(settings: S3Settings, *, connect_timeout: float = 5.0, read_timeout: float = 60.0,
                   max_attempts: int = 2) -> S3Client:
    """A boto3 S3 client for one endpoint; credentials from settings or else boto3's usual chain (AWS_*)."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=settings.region,
        signature_version="s3v4",
        s3={"addressing_style": "path" if settings.path_style else "virtual"},
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    client = session.client(
        "s3",
        endpoint_url=settings.endpoint_url or None,
        aws_access_key_id=settings.access_key_id or None,
        aws_secret_access_key=settings.secret_access_key or None,
        config=config,
    )
    return client


def _reason(exc: Exception) -> str:
    """A short reason from a botocore error: the S3 error code and message, or the transport failure."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.get("Code") or "error"
        return f"{code} (HTTP {status}): {error.get('Message') or exc}"
    return f"{type(exc).__name__}: {exc}"


def _is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3ArtifactStore:
    """The ArtifactStore protocol on one bucket of an S3-compatible server."""

    def __init__(self, settings: Settings, client: S3Client | None = None) -> None:
        self.settings = settings.s3
        self.bucket = settings.s3.bucket
        self.client = client or make_s3_client(settings.s3)
        self.multipart_threshold = max(PART_SIZE_FLOOR, settings.s3.multipart_threshold_bytes)
        self.part_size = max(PART_SIZE_FLOOR, min(self.multipart_threshold, 64 * 1024 * 1024))

    # -- writing ---------------------------------------------------------------------------------------------
    def publish(self, prefix: str, files: Sequence[tuple[str, Path]]) -> None:
        prefix = prefix.strip("/")
        names = [name for name, _ in files]
        if len(set(names)) != len(names):
            raise StorageError(f"duplicate artifact names under {prefix}")
        ordered = [f for f in files if f[0] != MANIFEST] + [f for f in files if f[0] == MANIFEST]
        written: list[str] = []
        try:
            previous = set(self.list_keys(prefix + "/"))
            if f"{prefix}/{MANIFEST}" in previous:
                self.client.delete_object(Bucket=self.bucket, Key=f"{prefix}/{MANIFEST}")
            for name, path in ordered:
                key = f"{prefix}/{name}"
                self.upload_file(path, key)
                written.append(key)
            stale = sorted(previous - set(written))
            self._delete_keys(stale)
        except StorageError as exc:
            self._cleanup(written)
            raise StorageError(f"could not store artifacts under {prefix}: {exc.message}") from exc
        except Exception as exc:
            self._cleanup(written)
            raise StorageError(f"could not store artifacts under {prefix}: {_reason(exc)}") from exc

    def upload_file(self, path: Path, key: str) -> None:
        """One object: a single PUT below the multipart threshold, else a multipart upload."""
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise StorageError(f"cannot read staged artifact {path.name}: {exc.strerror or exc}") from exc
        if size < self.multipart_threshold:
            with open(path, "rb") as handle:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=handle, ContentLength=size)
            return
        self._multipart(path, key, size)

    def _multipart(self, path: Path, key: str, size: int) -> None:
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)
        upload_id = upload["UploadId"]
        offsets = list(range(0, size, self.part_size))

        def send(number: int, offset: int) -> dict[str, Any]:
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read(min(self.part_size, size - offset))
            reply = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                            Body=chunk, ContentLength=len(chunk))
            return {"PartNumber": number, "ETag": reply["ETag"]}

        try:
            with ThreadPoolExecutor(max_workers=PART_WORKERS, thread_name_prefix="s3-part") as pool:
                parts = list(pool.map(lambda item: send(item[0] + 1, item[1]), enumerate(offsets)))
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": cast(Any, parts)})
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception as abort_exc:  # the bucket's lifecycle rule is the last resort
                log.warning("could not abort multipart upload of %s: %s", key, _reason(abort_exc))
            raise

    def _cleanup(self, keys: list[str]) -> None:
        try:
            self._delete_keys(keys)
        except Exception as exc:
            log.warning("could not remove %d partly published keys: %s", len(keys), _reason(exc))

    def _delete_keys(self, keys: Sequence[str]) -> int:
        deleted = 0
        for start in range(0, len(keys), 1000):
            batch = keys[start:start + 1000]
            if not batch:
                continue
            reply = self.client.delete_objects(Bucket=self.bucket,
                                               Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            errors = reply.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(f"could not delete {first.get('Key')}: {first.get('Code')} {first.get('Message')}")
            deleted += len(batch)
        return deleted

    # -- reading ---------------------------------------------------------------------------------------------
    def open_read(self, key: str) -> BinaryIO:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _is_not_found(exc):
                raise StorageError(f"artifact not found: {key}") from exc
            raise StorageError(f"could not read {key}: {_reason(exc)}") from exc
        return cast(BinaryIO, reply["Body"])

    def download_to(self, key: str, target: Path) -> None:
        with self.open_read(key) as body, open(target, "wb") as out:
            while chunk := cast(IO[bytes], body).read(_CHUNK):
                out.write(chunk)

    def size(self, key: str) -> int:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except Exception as exc:
            if _is_not_found(exc):
                raise StorageError(f"artifact not found: {key}") from exc
            raise StorageError(f"could not stat {key}: {_reason(exc)}") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except Exception as exc:
            if _is_not_found(exc):
                return False
            raise StorageError(f"could not stat {key}: {_reason(exc)}") from exc

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self.list_keys(prefix.rstrip("/") + "/"))
        manifest = [k for k in keys if k.endswith("/" + MANIFEST)]
        try:  # the manifest first: the set stops being visible before its artifacts go
            return self._delete_keys(manifest) + self._delete_keys([k for k in keys if k not in manifest])
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(f"could not delete {prefix}: {_reason(exc)}") from exc

    def list_keys(self, prefix: str) -> Iterator[str]:
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]
        except Exception as exc:
            raise StorageError(f"could not list {prefix or 'the bucket'}: {_reason(exc)}") from exc

    def local_path(self, key: str) -> Path | None:
        return None

    def presigned_get(self, key: str, expires_in: int) -> str | None:
        """A SigV4 presigned GET, valid for ``expires_in`` seconds (1 s to 7 days)."""
        if expires_in <= 0:
            raise StorageError(f"presigned URL expiry must be positive, got {expires_in}")
        expiry = min(int(expires_in), MAX_PRESIGN_SECONDS)
        try:
            return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                      ExpiresIn=expiry)
        except Exception as exc:
            raise StorageError(f"could not sign a URL for {key}: {_reason(exc)}") from exc

    def ensure_bucket(self) -> None:
        """Create the bucket when missing (tests, first start of an embedded MinIO/RustFS)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except Exception as exc:
            if not _is_not_found(exc) and "NoSuchBucket" not in _reason(exc):
                raise StorageError(f"bucket {self.bucket} is not reachable: {_reason(exc)}") from exc
        try:
            if self.settings.region and self.settings.region != "us-east-1":
                self.client.create_bucket(Bucket=self.bucket, CreateBucketConfiguration=cast(
                    Any, {"LocationConstraint": self.settings.region}))
            else:
                self.client.create_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise StorageError(f"could not create bucket {self.bucket}: {_reason(exc)}") from exc

