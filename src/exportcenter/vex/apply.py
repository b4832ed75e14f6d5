"""Apply VEX statements to findings before anything is rendered.

A statement applies to a finding when

* the vulnerability matches: the statement's id or any of its aliases equals the finding's id or any
  of its aliases (CVE and GHSA ids compared case-insensitively, URL-form ids by their last segment);
* and the product matches: one of the statement's products identifies the finding's scanned image
  (digest, OCI purl or image reference) or matches the finding's package purl. When the statement
  names subcomponents, the finding's package must match one of them, and the product must identify the
  image or be a package present in that scan (e.g. the main module of a Go binary).

Among the statements that apply to one finding, the latest wins (statement timestamp; ties and missing
timestamps broken by document order, the later one winning). The finding takes the statement's status
and justification. Statements are indexed by vulnerability id, so the cost grows with the findings,
not with findings x statements.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from exportcenter.model import Component, Finding, Scan, VexDecision, VexStatement
from exportcenter.vex.products import ImageIdentity, ProductRef, image_identity, resolve_product
from exportcenter.vex.purl import PackageURL, try_parse_purl

_EMPTY_IDENTITY = ImageIdentity(frozenset(), frozenset(), frozenset())
_CASE_INSENSITIVE_PREFIXES = ("CVE-", "GHSA-")


@dataclass(frozen=True, slots=True)
class VexOutcome:
    """The findings with VEX applied, and what happened to each statement.

    ``applied`` and ``unmatched`` partition the statements (input order kept): a statement is applied
    when it matched at least one finding. ``superseded`` lists the applied statements that decided no
    finding because a newer statement about the same finding won.
    """

    findings: tuple[Finding, ...]
    applied: tuple[VexStatement, ...]
    unmatched: tuple[VexStatement, ...]
    warnings: tuple[str, ...]
    superseded: tuple[VexStatement, ...] = ()


def vuln_key(identifier: str) -> str:
    """The comparison key of a vulnerability id: CVE/GHSA upper-cased, URLs reduced to their last segment."""
    text = identifier.strip()
    if text.lower().startswith(("http://", "https://")):
        text = text.rstrip("/").rsplit("/", 1)[-1]
    upper = text.upper()
    if upper.startswith(_CASE_INSENSITIVE_PREFIXES):
        return upper
    return text


@dataclass(frozen=True, slots=True)
class _CompiledStatement:
    position: int  # document order
    statement: VexStatement
    products: tuple[ProductRef, ...]
    subcomponents: tuple[ProductRef, ...]
    rank: tuple[float, int]  # (timestamp, position): the highest wins


def apply_vex(
    scans: Sequence[Scan],
    findings: Sequence[Finding],
    statements: Sequence[VexStatement],
    *,
    components: Sequence[Component] = (),
) -> VexOutcome:
    """Apply ``statements`` to ``findings`` (see the module doc for the matching rules).

    ``components`` (optional) resolve CycloneDX bom-refs used as products or subcomponents to purls,
    and count as packages present in their scan.
    """
    bom_refs: dict[str, str] = {c.bom_ref: c.purl for c in components if c.purl}
    compiled = [_compile(i, s, bom_refs) for i, s in enumerate(statements)]
    by_vuln: dict[str, list[_CompiledStatement]] = defaultdict(list)
    for item in compiled:
        for key in {vuln_key(v) for v in (item.statement.vuln_id, *item.statement.aliases) if v}:
            by_vuln[key].append(item)

    identities = {scan.id: image_identity(scan) for scan in scans}
    artifact_names = {scan.id: scan.artifact_name for scan in scans}
    present = _PackagesPresent(findings, components, artifact_names)

    keys: dict[str, str] = {}
    matched: set[int] = set()
    decided: set[int] = set()
    result: list[Finding] = []
    for finding in findings:
        candidates = _candidates(finding, by_vuln, keys)
        if not candidates:
            result.append(finding)
            continue
        package_purl = try_parse_purl(finding.package.purl) if finding.package else None
        identity = identities.get(finding.scan_id, _EMPTY_IDENTITY)
        winner: _CompiledStatement | None = None
        for item in candidates:
            if _applies(item, identity, package_purl, present, finding.scan_id):
                matched.add(item.position)
                if winner is None or item.rank > winner.rank:
                    winner = item
        if winner is None:
            result.append(finding)
            continue
        decided.add(winner.position)
        result.append(_decide(finding, winner.statement))

    applied = tuple(s for i, s in enumerate(statements) if i in matched)
    unmatched = tuple(s for i, s in enumerate(statements) if i not in matched)
    superseded = tuple(s for i, s in enumerate(statements) if i in matched and i not in decided)
    warnings = tuple(_unmatched_warning(s) for s in unmatched)
    return VexOutcome(tuple(result), applied, unmatched, warnings, superseded)


def _compile(position: int, statement: VexStatement, refs: dict[str, str]) -> _CompiledStatement:
    stamp = statement.timestamp.timestamp() if statement.timestamp is not None else float("-inf")
    return _CompiledStatement(
        position=position,
        statement=statement,
        products=tuple(resolve_product(p, refs) for p in statement.products if p and p.strip()),
        subcomponents=tuple(resolve_product(p, refs) for p in statement.subcomponents if p and p.strip()),
        rank=(stamp, position),
    )


def _candidates(
    finding: Finding, by_vuln: dict[str, list[_CompiledStatement]], keys: dict[str, str]
) -> list[_CompiledStatement]:
    """Statements filed under the finding's id or one of its aliases (``keys`` memoises vuln_key)."""
    found: list[_CompiledStatement] | None = None
    several = False
    for identifier in (finding.vuln_id, *finding.aliases):
        key = keys.get(identifier)
        if key is None:
            key = keys[identifier] = vuln_key(identifier)
        hits = by_vuln.get(key)
        if hits:
            if found is None:
                found = hits
            else:
                several = True
                found = [*found, *hits]
    if found is None:
        return []
    if several:  # the same statement may be filed under the id and an alias
        return list({item.position: item for item in found}.values())
    return found


def _applies(
    item: _CompiledStatement,
    identity: ImageIdentity,
    package_purl: PackageURL | None,
    present: _PackagesPresent,
    scan_id: str,
) -> bool:
    if item.subcomponents:
        if package_purl is None or not any(s.matches_package(package_purl) for s in item.subcomponents):
            return False
        for product in item.products:
            if product.is_image:
                if product.identifies_image(identity):
                    return True
            elif product.purl is not None and (
                product.purl.matches(package_purl) or present.has(scan_id, product.purl)
            ):
                return True
        return False
    for product in item.products:
        if product.is_image:
            if product.identifies_image(identity):
                return True
        elif product.matches_package(package_purl):
            return True
    return False


def _decide(finding: Finding, statement: VexStatement) -> Finding:
    current = finding.vex
    if (
        current is not None
        and current.timestamp is not None
        and statement.timestamp is not None
        and current.timestamp > statement.timestamp
    ):
        return finding  # the finding already carries a newer decision (e.g. embedded CycloneDX analysis)
    decision = VexDecision(
        status=statement.status,
        justification=statement.justification,
        statement_id=statement.id,
        source=statement.document_id,
        impact_statement=statement.impact_statement,
        action_statement=statement.action_statement,
        timestamp=statement.timestamp,
    )
    return dataclasses.replace(finding, status=statement.status, vex=decision)


def _unmatched_warning(statement: VexStatement) -> str:
    products = ", ".join(statement.products[:3]) or "no product"
    if len(statement.products) > 3:
        products += f" (+{len(statement.products) - 3} more)"
    return (
        f"VEX statement {statement.id} ({statement.vuln_id}, {statement.status.value}) from "
        f"{statement.document_id} matched no finding; products: {products}"
    )


class _PackagesPresent:
    """Which packages each scan contains, built on first use (only statements with subcomponents ask)."""

    def __init__(
        self, findings: Sequence[Finding], components: Sequence[Component], artifact_names: dict[str, str]
    ) -> None:
        self._findings = findings
        self._components = components
        self._artifact_names = artifact_names
        self._by_scan: dict[str, dict[tuple[str, str | None, str], list[PackageURL]]] | None = None

    def has(self, scan_id: str, product: PackageURL) -> bool:
        if _names_artifact(product, self._artifact_names.get(scan_id)):
            return True
        if self._by_scan is None:
            self._by_scan = self._build()
        packages = self._by_scan.get(scan_id, {}).get(product.coordinates, ())
        return any(product.matches(p) for p in packages)

    def _build(self) -> dict[str, dict[tuple[str, str | None, str], list[PackageURL]]]:
        by_scan: dict[str, dict[tuple[str, str | None, str], list[PackageURL]]] = {}
        pairs: Iterable[tuple[str | None, str | None]] = (
            *((f.scan_id, f.package.purl if f.package else None) for f in self._findings),
            *((c.scan_id, c.purl) for c in self._components),
        )
        for scan_id, text in pairs:
            purl = try_parse_purl(text)
            if scan_id is None or purl is None:
                continue
            by_scan.setdefault(scan_id, {}).setdefault(purl.coordinates, []).append(purl)
        return by_scan


def _names_artifact(product: PackageURL, artifact_name: str | None) -> bool:
    """A repository or module scan names its artifact like the product (``github.com/org/repo``)."""
    if not artifact_name:
        return False
    name = artifact_name.strip().lower()
    for prefix in ("https://", "http://"):
        name = name.removeprefix(prefix)
    name = name.removesuffix(".git").rstrip("/")
    full = "/".join(p for p in (product.namespace, product.name) if p).lower()
    return bool(full) and name == full
