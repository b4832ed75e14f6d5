"""CycloneDX VEX: vulnerabilities with ``analysis`` that point at products, not at listed components."""

from __future__ import annotations

from exportcenter.model import Component, VexStatement, VexStatus
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

FORMAT = "cyclonedx-vex"

STATE_TO_STATUS = {
    "resolved": VexStatus.FIXED,
    "resolved_with_pedigree": VexStatus.FIXED,
    "exploitable": VexStatus.AFFECTED,
    "in_triage": VexStatus.UNDER_INVESTIGATION,
    "false_positive": VexStatus.NOT_AFFECTED,
    "not_affected": VexStatus.NOT_AFFECTED,
}


def is_vex(vulnerabilities: list[JsonObject], components: list[Component]) -> bool:
    """VEX when some vulnerability carries an analysis and none of the ``affects`` refs names a
    component listed in this document (they name products or BOM-links into other documents)."""
    if not vulnerabilities or not any(obj(v.get("analysis")) for v in vulnerabilities):
        return False
    refs = {component.bom_ref for component in components}
    return not any(
        text(affect.get("ref")) in refs for vuln in vulnerabilities for affect in objs(vuln.get("affects"))
    )


def _product_id(ref: str, subject: JsonObject) -> str:
    """A BOM-link ``urn:cdx:serial/version#bom-ref`` names a component of another BOM: keep the
    fragment (often a purl). A ref to this document's subject becomes its purl when it has one."""
    if ref.startswith("urn:") and "#" in ref:
        ref = ref.split("#", 1)[1]
    if ref == text(subject.get("bom-ref")):
        return text(subject.get("purl")) or ref
    return ref


def parse(doc: JsonObject, ctx: DocumentContext, spec_version: str, warnings: Warnings) -> ParsedDocument:
    metadata = obj(doc.get("metadata"))
    subject = obj(metadata.get("component"))
    document_name = text(doc.get("serialNumber")) or ctx.name
    issued = parse_time(metadata.get("timestamp"))
    author = next(iter(texts([obj(a).get("name") for a in objs(metadata.get("authors"))])), None)
    statements: list[VexStatement] = []
    for index, vuln in enumerate(objs(doc.get("vulnerabilities"))):
        vuln_id = text(vuln.get("id"))
        analysis = obj(vuln.get("analysis"))
        state = text(analysis.get("state"))
        if vuln_id is None:
            warnings.add(f"{ctx.name}: vulnerability #{index} has no id; skipped")
            continue
        if state is None or state not in STATE_TO_STATUS:
            warnings.add(f"{ctx.name}: {vuln_id} has no usable analysis.state ({state!r}); skipped")
            continue
        products = unique(_product_id(ref, subject) for a in objs(vuln.get("affects")) if (ref := text(a.get("ref"))))
        if not products:
            subject_ref = text(subject.get("purl")) or text(subject.get("bom-ref"))
            products = (subject_ref,) if subject_ref else ()
        if not products:
            warnings.add(f"{ctx.name}: {vuln_id} names no product; kept, it can match nothing")
        responses = texts(analysis.get("response"))
        statements.append(
            VexStatement(
                id=f"vex-{short_hash(ctx.digest, index)}",
                document_id=document_name,
                source_format=FORMAT,
                vuln_id=vuln_id,
                status=STATE_TO_STATUS[state],
                products=products,
                aliases=tuple(a for a in unique(text(r.get("id")) for r in objs(vuln.get("references")))
                              if a != vuln_id),
                justification=text(analysis.get("justification"))
                or ("false_positive" if state == "false_positive" else None),
                impact_statement=text(analysis.get("detail")),
                action_statement=("response: " + ", ".join(responses)) if responses else None,
                timestamp=parse_time(analysis.get("lastUpdated"))
                or parse_time(analysis.get("firstIssued"))
                or parse_time(vuln.get("updated"))
                or issued,
                author=author,
            )
        )
    return ParsedDocument(
        name=ctx.name,
        source_format=FORMAT,
        spec_version=spec_version,
        digest=ctx.digest,
        vex_statements=tuple(statements),
        warnings=warnings.as_tuple(),
    )
