"""SBOM service: ``GET /internal/sboms/{digest}``."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from exportcenter.sources.http.client import UpstreamClient, UpstreamRefusedError
from exportcenter.sources.http.documents import parse_embedded
from exportcenter.sources.local.parsed import ParsedDocument

SBOM_FORMATS = ("cyclonedx", "spdx")


def fetch_sbom(client: UpstreamClient, digest: str, *, tenant: str, fetched_at: datetime) -> ParsedDocument:
    body = client.get_json(f"/internal/sboms/{quote(digest, safe='')}", what="SBOM", ident=digest)
    parsed = parse_embedded(body, service=client.service, what="SBOM", ident=digest, tenant=tenant,
                            allowed=SBOM_FORMATS, fetched_at=fetched_at)
    if parsed.sbom is None:
        raise UpstreamRefusedError(f"{client.service} service returned SBOM {digest} without components",
                                   service=client.service, id=digest)
    return parsed
