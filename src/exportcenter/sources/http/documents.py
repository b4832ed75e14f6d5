"""Shared by the endpoint modules: an upstream answer that embeds a scanner/SBOM/VEX document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from exportcenter.errors import ExportCenterError
from exportcenter.sources.http.client import UpstreamRefusedError, require
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.util.jsonio import dumps


def parse_embedded(body: dict[str, Any], *, service: str, what: str, ident: str, tenant: str,
                   allowed: tuple[str, ...], fetched_at: datetime) -> ParsedDocument:
    """Parse ``body["document"]`` with the same parsers as ingested files; its detected format must be
    the declared ``body["format"]`` and one this endpoint may return."""
    from exportcenter.catalog.documents import parse

    declared = require(body, "format", str, service=service, what=what, ident=ident)
    document = require(body, "document", dict, service=service, what=what, ident=ident)
    if declared not in allowed:
        raise UpstreamRefusedError(f"{service} service answer for {what} {ident} has format {declared!r}; "
                                   f"expected one of: {', '.join(allowed)}", service=service, id=ident)
    name = f"{service}:{what}/{ident}"
    try:
        parsed = parse(dumps(document, indent=False), name=name, tenant=tenant, ingested_at=fetched_at)
    except ExportCenterError as exc:
        raise UpstreamRefusedError(f"{service} service returned an unusable {what} {ident}: {exc.message}",
                                   service=service, id=ident) from None
    if parsed.source_format != declared:
        raise UpstreamRefusedError(f"{service} service declared {what} {ident} as {declared!r} but the document "
                                   f"is {parsed.source_format!r}", service=service, id=ident)
    return parsed
