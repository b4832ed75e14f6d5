"""Policy verdicts made elsewhere, ingested as they are: the Policy service's JSON (docs/upstream-api.md),
``{"scan_id": ..., "verdicts": [{"policy_set", "outcome", "evaluated_at", "rules": [...]}]}``, where
``scan_id`` is the id of a scan stored in ExportCenter (``scan-...``).

Parsing validates the shape and yields the verdicts with no matched findings (a parser sees one file);
``resolve_verdicts`` maps them again against the findings of the scan when an export gathers them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from exportcenter.errors import InvalidInputError
from exportcenter.model import Finding, PolicyVerdict
from exportcenter.sources.local.common import DocumentContext, JsonObject, document_id, invalid
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.sources.verdict_json import map_verdicts

FORMAT = "policy-verdicts"


def looks_like(doc: JsonObject) -> bool:
    return isinstance(doc.get("scan_id"), str) and isinstance(doc.get("verdicts"), list)


def parse(doc: JsonObject, ctx: DocumentContext) -> ParsedDocument:
    return ParsedDocument(name=ctx.name, source_format=FORMAT, spec_version=None, digest=ctx.digest,
                          policy_verdicts=_verdicts(doc, ctx, findings=()))


def verdict_scan_id(parsed: ParsedDocument) -> str | None:
    """The stored scan a parsed verdicts document is about (None for any other document)."""
    if parsed.source_format != FORMAT or not parsed.policy_verdicts:
        return None
    return parsed.policy_verdicts[0].scan_id


def resolve_verdicts(content: bytes, *, name: str, tenant: str, ingested_at: datetime,
                     findings: Sequence[Finding]) -> tuple[PolicyVerdict, ...]:
    """The verdicts of a stored verdicts file with each rule's vulnerabilities tied to ``findings`` (the
    findings of the scan it names)."""
    from exportcenter.sources.local.sniff import read_json_object

    ctx = DocumentContext(name=name, tenant=tenant, ingested_at=ingested_at,
                          digest="sha256:" + hashlib.sha256(content).hexdigest())
    return _verdicts(read_json_object(content, name), ctx, findings=findings)


def _verdicts(doc: JsonObject, ctx: DocumentContext, *, findings: Sequence[Finding]) -> tuple[PolicyVerdict, ...]:
    scan_id = doc.get("scan_id")
    if not isinstance(scan_id, str) or not scan_id.strip():
        raise invalid(ctx.name, "scan_id must be the id of a stored scan (a non-empty string)")
    items = doc.get("verdicts")
    if not isinstance(items, list) or not items:
        raise invalid(ctx.name, "verdicts must be a non-empty list of verdicts")

    def refuse(index: int, reason: str) -> InvalidInputError:
        return invalid(ctx.name, f"verdicts[{index}]: {reason}")

    verdicts = map_verdicts(items, scan_id=scan_id.strip(), id_prefix=document_id("verdicts", ctx),
                            source=ctx.name, findings=findings, fail=refuse)
    seen: set[str] = set()
    for index, verdict in enumerate(verdicts):
        if verdict.id in seen:
            raise refuse(index, f"id {verdict.id!r} is used twice")
        seen.add(verdict.id)
    return verdicts
