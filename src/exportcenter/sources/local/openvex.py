"""OpenVEX v0.2.0, and the legacy v0.0.1 layout (vulnerability and products as plain strings)."""

from __future__ import annotations

from datetime import datetime

from exportcenter.model import VexStatement, VexStatus
from exportcenter.sources.local.common import (
    DocumentContext,
    JsonObject,
    Warnings,
    obj,
    objs,
    short_hash,
    text,
    texts,
    unique,
)
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.util.timeutil import parse_time

FORMAT = "openvex"

_STATUS = {
    "not_affected": VexStatus.NOT_AFFECTED,
    "affected": VexStatus.AFFECTED,
    "fixed": VexStatus.FIXED,
    "under_investigation": VexStatus.UNDER_INVESTIGATION,
}


def looks_like(doc: JsonObject) -> bool:
    context = text(doc.get("@context")) or ""
    return "openvex" in context.lower() and isinstance(doc.get("statements"), list)


def parse(doc: JsonObject, ctx: DocumentContext) -> ParsedDocument:
    warnings = Warnings()
    context = text(doc.get("@context")) or ""
    spec_version = context.rstrip("/").rsplit("/", 1)[-1] if "/v" in context else "unversioned"
    if spec_version == "v0.0.1":
        warnings.add(f"{ctx.name}: legacy OpenVEX v0.0.1 (schema-invalid for v0.2.0); statements read with "
                     "the old field layout")
    document_name = text(doc.get("@id")) or ctx.name
    doc_time = parse_time(doc.get("timestamp"))
    author = text(doc.get("author"))
    statements: list[VexStatement] = []
    for index, raw in enumerate(objs(doc.get("statements"))):
        statement = _statement(raw, index, ctx, document_name, doc_time, author, warnings)
        if statement is not None:
            statements.append(statement)
    return ParsedDocument(
        name=ctx.name,
        source_format=FORMAT,
        spec_version=spec_version,
        digest=ctx.digest,
        vex_statements=tuple(statements),
        warnings=warnings.as_tuple(),
    )


def _vulnerability(value: object) -> tuple[str | None, tuple[str, ...], bool]:
    """(id, aliases, had a name). v0.2.0: {"name", "@id", "aliases"}; v0.0.1: a plain string."""
    if isinstance(value, str):
        return text(value), (), True
    vuln = obj(value)
    name = text(vuln.get("name"))
    at_id = text(vuln.get("@id"))
    aliases = list(texts(vuln.get("aliases")))
    if name and at_id and at_id != name and not at_id.startswith("http"):
        aliases.append(at_id)
    return name or at_id, tuple(a for a in unique(aliases) if a != (name or at_id)), name is not None


def _products(value: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(products, subcomponents): "@id" plus any purl/cpe identifiers; v0.0.1 uses plain strings."""
    products: list[str | None] = []
    subcomponents: list[str | None] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, str):
            products.append(text(item))
            continue
        product = obj(item)
        identifiers = obj(product.get("identifiers"))
        products.extend([text(product.get("@id")), text(identifiers.get("purl")), text(identifiers.get("cpe23")),
                         text(identifiers.get("cpe22"))])
        for sub in product.get("subcomponents") or []:
            if isinstance(sub, str):
                subcomponents.append(text(sub))
                continue
            sub_ids = obj(obj(sub).get("identifiers"))
            subcomponents.extend([text(obj(sub).get("@id")), text(sub_ids.get("purl"))])
    return unique(products), unique(subcomponents)


def _statement(
    raw: JsonObject,
    index: int,
    ctx: DocumentContext,
    document_name: str,
    doc_time: datetime | None,
    author: str | None,
    warnings: Warnings,
) -> VexStatement | None:
    vuln_id, aliases, had_name = _vulnerability(raw.get("vulnerability"))
    status_word = text(raw.get("status"))
    if vuln_id is None:
        warnings.add(f"{ctx.name}: statement #{index} names no vulnerability; skipped")
        return None
    if status_word not in _STATUS:
        warnings.add(f"{ctx.name}: statement #{index} ({vuln_id}) has unknown status {status_word!r}; skipped")
        return None
    if not had_name:
        warnings.add(f"{ctx.name}: vulnerability without 'name' (schema-invalid); its '@id' {vuln_id!r} "
                     "was used as the id")
    if "statement" in raw:
        warnings.add(f"{ctx.name}: non-schema 'statement' key in statements (schema-invalid); kept as the "
                     "impact/status note")
    products, subcomponents = _products(raw.get("products"))
    # v0.0.1 and some producers put subcomponents at statement level
    legacy_subs = unique(texts(raw.get("subcomponents")))
    if not products:
        warnings.add(f"{ctx.name}: statement #{index} ({vuln_id}) names no product; kept, it can match nothing")
    note = text(raw.get("impact_statement")) or text(raw.get("status_notes")) or text(raw.get("statement"))
    return VexStatement(
        id=f"vex-{short_hash(ctx.digest, index)}",
        document_id=document_name,
        source_format=FORMAT,
        vuln_id=vuln_id,
        status=_STATUS[status_word],
        products=products,
        aliases=aliases,
        subcomponents=unique([*subcomponents, *legacy_subs]),
        justification=text(raw.get("justification")),
        impact_statement=note,
        action_statement=text(raw.get("action_statement")),
        timestamp=parse_time(raw.get("timestamp")) or parse_time(raw.get("last_updated")) or doc_time,
        author=text(raw.get("author")) or author,
    )
