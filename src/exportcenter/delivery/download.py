"""Download delivery: expiring links. An S3 store presigns its own; otherwise the API's signer
(``api.signing.UrlSigner``, served at ``/api/v1/downloads/{export_id}/{name}``) signs them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exportcenter.config import Settings
from exportcenter.delivery.base import DeliveryContext, DeliveryFailure, DeliveryReceipt
from exportcenter.errors import ExportCenterError
from exportcenter.storage import ArtifactStore


def artifact_link(settings: Settings, store: ArtifactStore, prefix: str, export_id: str, tenant: str, name: str,
                  expires_in: int) -> str:
    """The store's own presigned URL when it has one, else an API-signed URL."""
    url = store.presigned_get(f"{prefix}/{name}", expires_in)
    if url:
        return url
    from exportcenter.api.signing import UrlSigner, load_or_create_signing_key

    signer = UrlSigner(load_or_create_signing_key(settings), settings.public_base_url)
    return signer.sign_download(export_id, name, tenant, expires_in)[0]


def deliver_download(ctx: DeliveryContext, config: Mapping[str, Any]) -> DeliveryReceipt:
    """Nothing is sent: the links exist as soon as the artifacts do. Checks that they can be made."""
    try:
        links = ctx.links()
    except ExportCenterError as exc:
        raise DeliveryFailure(f"cannot make download links: {exc.message}", permanent=not exc.retryable) from exc
    return DeliveryReceipt(None, f"{len(links)} download link(s) available for {ctx.link_ttl_seconds} s")
