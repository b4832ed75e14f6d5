"""Policy engine: ``GET /internal/verdicts/{scan_id}`` mapped to PolicyVerdict records."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from exportcenter.errors import DataNotFoundError
from exportcenter.model import Finding, PolicyVerdict, Scan
from exportcenter.sources.http.client import UpstreamClient, UpstreamRefusedError, require
from exportcenter.sources.verdict_json import map_verdicts


def fetch_verdicts(client: UpstreamClient, scan_id: str, scan: Scan,
                   findings: Sequence[Finding]) -> tuple[tuple[PolicyVerdict, ...], list[str]]:
    """Verdicts for ``scan`` (the upstream id ``scan_id``). Rules name vulnerabilities; they are tied to
    this scan's findings with those ids. No verdicts (404) is reported as a warning."""
    what = "verdicts for scan"
    try:
        body = client.get_json(f"/internal/verdicts/{quote(scan_id, safe='')}", what=what, ident=scan_id)
    except DataNotFoundError:
        return (), [f"{client.service} service has no verdicts for scan {scan_id}"]
    items = require(body, "verdicts", list, service=client.service, what=what, ident=scan_id)

    def invalid(index: int, reason: str) -> UpstreamRefusedError:
        ident = f"{scan_id}#{index}"
        return UpstreamRefusedError(f"{client.service} service answer for verdict {ident} is invalid: {reason}",
                                    service=client.service, id=ident)

    verdicts = map_verdicts(items, scan_id=scan.id, id_prefix=scan_id, source=f"{client.service}-service",
                            findings=findings, fail=invalid)
    return verdicts, []
