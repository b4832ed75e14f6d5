"""S3 delivery: artifacts and manifest copied to an external bucket with its own credentials."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import pytest

from exportcenter.delivery.attempts import attempts_for
from exportcenter.util.jsonio import loads
from tests.integration.test_delivery_support import completed_export, ingest_small_scan, make_runtime, moto_url

__all__ = ["moto_url"]


def test_upload_to_an_external_bucket(tmp_path: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTNER_S3_SECRET", "partner-secret")
    partner = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="partner",
                           aws_secret_access_key="partner-secret")
    partner.create_bucket(Bucket="partner-drop")
    runtime = make_runtime(tmp_path, webhook_allow_hosts=["127.0.0.1"])
    delivery = {"method": "s3", "config": {"endpoint_url": moto_url, "bucket": "partner-drop",
                                           "access_key_id": "partner", "secret_access_key_env": "PARTNER_S3_SECRET",
                                           "prefix": "drops/{{ tenant }}/{{ date }}/{{ export_id }}"}}
    row = completed_export(runtime, "acme", ingest_small_scan(runtime), delivery)
    assert row.delivery_status == "delivered"
    prefix = f"drops/acme/{row.created_at:%Y-%m-%d}/{row.id}"
    listed = partner.list_objects_v2(Bucket="partner-drop", Prefix=prefix)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted([f"{prefix}/manifest.json",
                                                       *(f"{prefix}/{a['name']}" for a in row.artifacts)])
    manifest = loads(partner.get_object(Bucket="partner-drop", Key=f"{prefix}/manifest.json")["Body"].read())
    assert manifest["export_id"] == row.id
    for artifact in manifest["artifacts"]:
        data = partner.get_object(Bucket="partner-drop", Key=f"{prefix}/{artifact['name']}")["Body"].read()
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
    runtime.close()


def test_missing_bucket_fails_permanently_and_endpoint_passes_the_ssrf_guard(tmp_path: Path, moto_url: str) -> None:
    runtime = make_runtime(tmp_path, webhook_allow_hosts=["127.0.0.1"])
    scan_id = ingest_small_scan(runtime)
    config = {"endpoint_url": moto_url, "bucket": "no-such-bucket-ec", "access_key_id": "a", "secret_access_key": "b"}
    missing = completed_export(runtime, "acme", scan_id, {"method": "s3", "config": config})
    internal = completed_export(runtime, "acme", scan_id, {"method": "s3", "config": {
        **config, "endpoint_url": "http://169.254.169.254/"}})
    with runtime.sessions() as session:
        errors = [attempts_for(session, r.id)[0].error or "" for r in (missing, internal)]
    assert missing.delivery_status == internal.delivery_status == "failed"
    assert "NoSuchBucket" in errors[0] and "metadata" in errors[1]
    runtime.close()
