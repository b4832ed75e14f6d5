"""VEXLens: ``GET /internal/vex/applied/{scan_id}`` - the VEX documents that apply to one scan."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from exportcenter.errors import DataNotFoundError
from exportcenter.model import VexStatement
from exportcenter.sources.http.client import UpstreamClient, require
from exportcenter.sources.http.documents import parse_embedded

VEX_FORMATS = ("openvex", "cyclonedx-vex", "csaf")


def fetch_applied_vex(client: UpstreamClient, scan_id: str, *, tenant: str,
                      fetched_at: datetime) -> tuple[tuple[VexStatement, ...], list[str]]:
    """The statements of every listed document, and warnings. No VEX for a scan (404) is not an error:
    it is the ordinary state of a scan nobody has triaged yet, reported as a warning."""
    try:
        body = client.get_json(f"/internal/vex/applied/{quote(scan_id, safe='')}", what="applied VEX for scan",
                               ident=scan_id)
    except DataNotFoundError:
        return (), [f"{client.service} service has no VEX for scan {scan_id}"]
    items = require(body, "documents", list, service=client.service, what="applied VEX for scan", ident=scan_id)
    statements: list[VexStatement] = []
    warnings: list[str] = []
    for index, item in enumerate(items):
        ident = f"{scan_id}#{index}"
        if not isinstance(item, dict):
            item = {}
        parsed = parse_embedded(item, service=client.service, what="VEX document", ident=ident, tenant=tenant,
                                allowed=VEX_FORMATS, fetched_at=fetched_at)
        statements.extend(parsed.vex_statements)
        warnings.extend(f"{parsed.name}: {w}" for w in parsed.warnings)  # statements, not documents, go on
    return tuple(statements), warnings
