"""S3 delivery: copy the artifacts and their manifest to an external bucket with its own credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exportcenter.config import S3Settings
from exportcenter.delivery.base import (
    DeliveryContext,
    DeliveryFailure,
    DeliveryReceipt,
    config_str,
    render_text,
    secret_from,
)
from exportcenter.delivery.netguard import check_url
from exportcenter.errors import StorageError

DEFAULT_PREFIX = "exportcenter/{{ tenant }}/{{ export_id }}"


def external_settings(ctx: DeliveryContext, config: Mapping[str, Any]) -> S3Settings:
    """The target bucket's settings. No endpoint means AWS itself; an endpoint passes the SSRF guard."""
    endpoint = config.get("endpoint_url")
    if endpoint:
        check_url(str(endpoint), ctx.settings.webhook_allow_hosts)
    access_key = secret_from(config, "access_key_id", required=False)
    secret_key = secret_from(config, "secret_access_key", required=False)
    if bool(access_key) != bool(secret_key):
        raise DeliveryFailure("s3 delivery needs both access_key_id and secret_access_key (or neither)",
                              permanent=True)
    return S3Settings(endpoint_url=str(endpoint) if endpoint else None, bucket=config_str(config, "bucket"),
                      region=str(config.get("region") or "us-east-1"),
                      path_style=bool(config.get("path_style", True)), access_key_id=access_key,
                      secret_access_key=secret_key, multipart_threshold_bytes=ctx.settings.s3.multipart_threshold_bytes)


def deliver_s3(ctx: DeliveryContext, config: Mapping[str, Any]) -> DeliveryReceipt:
    from exportcenter.storage.s3 import S3ArtifactStore

    target = external_settings(ctx, config)
    prefix = render_text(str(config.get("prefix") or DEFAULT_PREFIX), ctx.template_vars(), what="s3 prefix")
    prefix = prefix.strip().strip("/")
    if not prefix or ".." in prefix.split("/") or any(ord(c) < 32 for c in prefix):
        raise DeliveryFailure(f"invalid s3 prefix {prefix!r}", permanent=True)
    store = S3ArtifactStore(ctx.settings.model_copy(update={"s3": target}))
    files = [(a.name, a.path) for a in ctx.artifacts]
    if ctx.manifest_path is not None:
        files.append(("manifest.json", ctx.manifest_path))
    try:
        store.publish(prefix, files)
    except StorageError as exc:
        text = exc.message
        permanent = any(code in text for code in ("AccessDenied", "NoSuchBucket", "InvalidAccessKeyId",
                                                  "SignatureDoesNotMatch"))
        raise DeliveryFailure(f"s3 delivery to bucket {target.bucket} failed: {text}", permanent=permanent) from exc
    return DeliveryReceipt(200, f"uploaded {len(files)} object(s) to s3://{target.bucket}/{prefix}/")
