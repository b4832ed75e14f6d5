"""Scanner service: ``GET /internal/scans/{id}``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from exportcenter.sources.http.client import UpstreamClient, UpstreamRefusedError
from exportcenter.sources.http.documents import parse_embedded
from exportcenter.sources.local.parsed import ParsedDocument

SCAN_FORMATS = ("trivy-json", "grype-json", "cyclonedx")


@dataclass(frozen=True)
class UpstreamScan:
    upstream_id: str
    document: ParsedDocument  # .scan and .findings in the neutral model
    sbom_digest: str | None


def fetch_scan(client: UpstreamClient, scan_id: str, *, tenant: str, fetched_at: datetime) -> UpstreamScan:
    body = client.get_json(f"/internal/scans/{quote(scan_id, safe='')}", what="scan", ident=scan_id)
    if body.get("id") not in (None, scan_id):
        raise UpstreamRefusedError(f"{client.service} service answered scan {body.get('id')!r} when asked for "
                                   f"scan {scan_id}", service=client.service, id=scan_id)
    parsed = parse_embedded(body, service=client.service, what="scan", ident=scan_id, tenant=tenant,
                            allowed=SCAN_FORMATS, fetched_at=fetched_at)
    if parsed.scan is None:
        raise UpstreamRefusedError(f"{client.service} service returned scan {scan_id} without vulnerability "
                                   "results", service=client.service, id=scan_id)
    digest = body.get("sbom_digest")
    return UpstreamScan(scan_id, parsed, digest if isinstance(digest, str) and digest else None)


def scan_exists(client: UpstreamClient, scan_id: str) -> None:
    """Request-time check: DataNotFoundError (404) when the scanner does not know ``scan_id``."""
    client.get_json(f"/internal/scans/{quote(scan_id, safe='')}", what="scan", ident=scan_id)
