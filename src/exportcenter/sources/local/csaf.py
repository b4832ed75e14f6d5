"""CSAF 2.0 (csaf_vex profile): one statement per vulnerability x product status entry, with the
product tree resolved to purls / CPEs / names (branches, full_product_names and relationships)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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

FORMAT = "csaf"

_STATUS = {
    "known_affected": VexStatus.AFFECTED,
    "first_affected": VexStatus.AFFECTED,
    "last_affected": VexStatus.AFFECTED,
    "known_not_affected": VexStatus.NOT_AFFECTED,
    "fixed": VexStatus.FIXED,
    "first_fixed": VexStatus.FIXED,
    "under_investigation": VexStatus.UNDER_INVESTIGATION,
}  # "recommended" says which version to take, not whether one is affected: not a VEX status


@dataclass(frozen=True, slots=True)
class _Product:
    products: tuple[str, ...]
    subcomponents: tuple[str, ...] = ()


def looks_like(doc: JsonObject) -> bool:
    document = obj(doc.get("document"))
    return "csaf_version" in document or str(document.get("category", "")).startswith("csaf_")


def parse(doc: JsonObject, ctx: DocumentContext) -> ParsedDocument:
    warnings = Warnings()
    document = obj(doc.get("document"))
    version = text(document.get("csaf_version")) or "unknown"
    if version != "2.0":
        warnings.add(f"{ctx.name}: CSAF version {version!r} is not 2.0; read as 2.0")
    category = text(document.get("category"))
    if category != "csaf_vex":
        warnings.add(
            f"{ctx.name}: CSAF category {category!r} is not the csaf_vex profile; its product statuses "
            "were read as VEX statements"
        )
    tracking = obj(document.get("tracking"))
    document_name = text(tracking.get("id")) or ctx.name
    issued = parse_time(tracking.get("current_release_date")) or parse_time(tracking.get("initial_release_date"))
    author = text(obj(document.get("publisher")).get("name"))
    tree = obj(doc.get("product_tree"))
    products = _resolve_tree(tree)
    groups = {
        gid: texts(group.get("product_ids"))
        for group in objs(tree.get("product_groups"))
        if (gid := text(group.get("group_id")))
    }
    statements: list[VexStatement] = []
    for vuln in objs(doc.get("vulnerabilities")):
        ids = [text(i.get("text")) for i in objs(vuln.get("ids"))]
        names = unique([text(vuln.get("cve")), *ids])
        if not names:
            warnings.add(f"{ctx.name}: a vulnerability without cve or ids was skipped")
            continue
        vuln_id, aliases = names[0], names[1:]
        per_product = _per_product_notes(vuln, groups)
        for status_key, product_ids in sorted(obj(vuln.get("product_status")).items()):
            status = _STATUS.get(status_key)
            if status is None:
                continue
            for product_id in texts(product_ids):
                product = products.get(product_id) or _Product((product_id,))
                notes = per_product.get(product_id, {})
                statements.append(
                    VexStatement(
                        id=f"vex-{short_hash(ctx.digest, len(statements))}",
                        document_id=document_name,
                        source_format=FORMAT,
                        vuln_id=vuln_id,
                        status=status,
                        products=product.products,
                        aliases=aliases,
                        subcomponents=product.subcomponents,
                        justification=notes.get("justification") if status is VexStatus.NOT_AFFECTED else None,
                        impact_statement=notes.get("impact"),
                        action_statement=notes.get("action"),
                        timestamp=issued,
                        author=author,
                    )
                )
    return ParsedDocument(
        name=ctx.name,
        source_format=FORMAT,
        spec_version=version,
        digest=ctx.digest,
        vex_statements=tuple(statements),
        warnings=warnings.as_tuple(),
    )


def _identifiers(full_product_name: JsonObject) -> tuple[str, ...]:
    helper = obj(full_product_name.get("product_identification_helper"))
    found = [text(helper.get("purl")), *texts(helper.get("purls")), text(helper.get("cpe"))]
    ids = unique(found)
    return ids or unique([text(full_product_name.get("name")), text(full_product_name.get("product_id"))])


def _walk_branches(branches: object) -> Iterator[JsonObject]:
    for branch in objs(branches):
        product = obj(branch.get("product"))
        if product:
            yield product
        yield from _walk_branches(branch.get("branches"))


def _resolve_tree(tree: JsonObject) -> dict[str, _Product]:
    resolved: dict[str, _Product] = {}
    for full in [*_walk_branches(tree.get("branches")), *objs(tree.get("full_product_names"))]:
        product_id = text(full.get("product_id"))
        if product_id:
            resolved[product_id] = _Product(_identifiers(full))
    for rel in objs(tree.get("relationships")):
        full = obj(rel.get("full_product_name"))
        product_id = text(full.get("product_id"))
        if product_id is None:
            continue
        component = resolved.get(text(rel.get("product_reference")) or "")
        parent = resolved.get(text(rel.get("relates_to_product_reference")) or "")
        own = _identifiers(full) if obj(full.get("product_identification_helper")) else ()
        if parent is None:
            resolved[product_id] = _Product(own or (component.products if component else (product_id,)))
            continue
        subcomponents = unique([*own, *(component.products if component else ())])
        resolved[product_id] = _Product(parent.products, subcomponents)
    return resolved


def _expand(entry: JsonObject, groups: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    ids = list(texts(entry.get("product_ids")))
    for group_id in texts(entry.get("group_ids")):
        ids.extend(groups.get(group_id, ()))
    return unique(ids)


def _per_product_notes(vuln: JsonObject, groups: dict[str, tuple[str, ...]]) -> dict[str, dict[str, str]]:
    """flags -> justification, threats(impact) -> impact statement, remediations -> action statement."""
    notes: dict[str, dict[str, str]] = {}

    def put(product_ids: tuple[str, ...], key: str, value: str | None) -> None:
        if not value:
            return
        for product_id in product_ids:
            slot = notes.setdefault(product_id, {})
            if key == "justification" and key in slot:
                continue  # a justification is one label, the first flag wins
            slot[key] = f"{slot[key]}; {value}" if key in slot and value not in slot[key] else value

    for flag in objs(vuln.get("flags")):
        put(_expand(flag, groups), "justification", text(flag.get("label")))
    for threat in objs(vuln.get("threats")):
        if threat.get("category") == "impact":
            put(_expand(threat, groups), "impact", text(threat.get("details")))
    for remedy in objs(vuln.get("remediations")):
        category, details = text(remedy.get("category")), text(remedy.get("details"))
        label = f"{category}: {details}" if category and details else (category or details)
        put(_expand(remedy, groups), "action", label)
    return notes
