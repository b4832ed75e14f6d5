"""SPDX 2.3 JSON, built as plain dicts and written by orjson.

- One package per inventory element (:mod:`exportcenter.renderers.sbom_inventory`): the scanned images
  are the described roots, then every component and every finding package not already present.
- SPDXIDs are ``SPDXRef-Package-<readable name>-<digest of the bom-ref>``, legal and unique (a clash
  gets a counter); ``documentNamespace`` ends in a UUIDv5 of the document's content.
- Unknown values are ``NOASSERTION`` (supplier, download location, concluded licence, copyright);
  declared licences are joined with AND into one valid expression, every invented ``LicenseRef-`` is
  defined in ``hasExtractedLicensingInfos``.
- Relationships: DOCUMENT DESCRIBES each image, the image CONTAINS its packages, packages DEPENDS_ON
  each other as the ingested SBOMs said, and only between defined SPDXIDs.
- Vulnerabilities: SPDX 2.3 has no vulnerability model. We chose to keep them visible without
  inventing one: each vulnerability found in a package becomes an ``OTHER`` annotation on that package
  (id, severity, best CVSS, VEX status and justification, fixed version), written by
  ``Tool: exportcenter``. Set the export option ``spdx_vulnerabilities=omit`` to leave them out (the
  CycloneDX export carries the full vulnerability model).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import defaultdict
from typing import Any, BinaryIO

from exportcenter import __version__
from exportcenter.model import Component, ExportSnapshot, Finding, FindingKind
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.licenses import SpdxLicenseRegistry
from exportcenter.renderers.sbom_inventory import Inventory, build_inventory, paused_gc
from exportcenter.util import jsonio
from exportcenter.util.timeutil import iso_z

NAMESPACE_BASE = "https://exportcenter.dev/spdxdocs"
NAMESPACE_UUID = uuid.UUID("0d9b6b5e-6a4e-5b8a-8f0e-3f1c2a7d9e41")
NOASSERTION = "NOASSERTION"
TOOL = f"Tool: exportcenter-{__version__}"

_NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9.\-]+")
_PURL = re.compile(r"^pkg:.+(\/.+)?\/.+(@.+)?(\?.+)?(#.+)?$")
_CPE23 = re.compile(r"^cpe:2\.3:[aho*\-](:[^:]*){10}$")
_CPE22 = re.compile(r"^c[pP][eE]:/[AHOaho]?(:[A-Za-z0-9._\-~%]*){0,6}$")
_PURPOSES = {"application": "APPLICATION", "framework": "FRAMEWORK", "library": "LIBRARY",
             "container": "CONTAINER", "operating-system": "OPERATING_SYSTEM", "device": "DEVICE",
             "firmware": "FIRMWARE", "file": "FILE", "platform": "OTHER"}
_CHECKSUMS = {"sha1": "SHA1", "sha224": "SHA224", "sha256": "SHA256", "sha384": "SHA384",
              "sha512": "SHA512", "sha3256": "SHA3-256", "sha3384": "SHA3-384", "sha3512": "SHA3-512",
              "blake2b256": "BLAKE2b-256", "blake2b384": "BLAKE2b-384", "blake2b512": "BLAKE2b-512",
              "blake3": "BLAKE3", "md2": "MD2", "md4": "MD4", "md5": "MD5", "md6": "MD6", "adler32": "ADLER32"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_OMIT_WORDS = frozenset({"omit", "none", "no", "false", "0"})


def render_spdx(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    """Renderer entry point: write the SPDX 2.3 document as indented JSON."""
    with paused_gc():
        out.write(jsonio.dumps(build_spdx(snapshot, ctx)))


def spdx_id(prefix: str, name: str, key: str) -> str:
    """A legal SPDXID: ``SPDXRef-<prefix>-<readable>-<10 hex of key>``."""
    readable = _NOT_ID_CHARS.sub("-", name).strip("-.")[:60] or "unnamed"
    return f"SPDXRef-{prefix}-{readable}-{hashlib.sha256(key.encode('utf-8', 'replace')).hexdigest()[:10]}"


def build_spdx(snapshot: ExportSnapshot, ctx: RenderContext) -> dict[str, Any]:
    inventory = build_inventory(snapshot)
    licenses = SpdxLicenseRegistry()
    ids = _assign_ids(inventory)
    created = iso_z(snapshot.generated_at) or NOASSERTION
    annotations = _vulnerability_annotations(snapshot, inventory, ids, created)
    packages = [_package(root.component, ids, licenses, ctx, annotations) for root in inventory.roots]
    packages += [_package(component, ids, licenses, ctx, annotations) for component in inventory.components]
    name = _document_name(snapshot, inventory)
    document: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "creationInfo": _creation_info(snapshot, created),
        "packages": packages,
        "relationships": _relationships(inventory, ids),
    }
    extracted = licenses.extracted_licensing_infos()
    if extracted:
        document["hasExtractedLicensingInfos"] = extracted
    digest = hashlib.sha256(jsonio.dumps(document, indent=False)).hexdigest()
    safe_name = _NOT_ID_CHARS.sub("-", name).strip("-")[:80] or "export"
    document["documentNamespace"] = f"{NAMESPACE_BASE}/{safe_name}-{uuid.uuid5(NAMESPACE_UUID, digest)}"
    return document


def _document_name(snapshot: ExportSnapshot, inventory: Inventory) -> str:
    if len(inventory.roots) == 1:
        return inventory.roots[0].component.name or f"{snapshot.tenant}-sbom"
    return f"{snapshot.tenant}-sbom"


def _creation_info(snapshot: ExportSnapshot, created: str) -> dict[str, Any]:
    info: dict[str, Any] = {"created": created, "creators": [TOOL]}
    lines = [f"tenant: {snapshot.tenant}"]
    lines += [f"{key}: {value}" for key, value in snapshot.options.custom_fields]
    scanners = sorted({scan.scanner_name + (f" {scan.scanner_version}" if scan.scanner_version else "")
                       for scan in snapshot.scans})
    if scanners:
        lines.append("scanners: " + ", ".join(scanners))
    info["comment"] = "\n".join(lines)
    return info


def _assign_ids(inventory: Inventory) -> dict[str, str]:
    ids: dict[str, str] = {}
    taken: set[str] = {"SPDXRef-DOCUMENT"}
    elements = [("Image", root.component) for root in inventory.roots]
    elements += [("Package", component) for component in inventory.components]
    for prefix, component in elements:
        candidate = base = spdx_id(prefix, component.name, component.bom_ref)
        number = 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate)
        ids[component.bom_ref] = candidate
    return ids


def _package(component: Component, ids: dict[str, str], licenses: SpdxLicenseRegistry,
             ctx: RenderContext, annotations: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    package: dict[str, Any] = {
        "SPDXID": ids[component.bom_ref],
        "name": component.name or component.purl or component.bom_ref,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": licenses.expression(component.licenses),
        "copyrightText": NOASSERTION,
        "supplier": f"Organization: {component.supplier}" if component.supplier else NOASSERTION,
        "primaryPackagePurpose": _PURPOSES.get(component.type, "OTHER"),
    }
    if component.version:
        package["versionInfo"] = component.version
    if component.description:
        package["description"] = component.description
    references = _external_refs(component, ctx)
    if references:
        package["externalRefs"] = references
    checksums = _checksums(component, ctx)
    if checksums:
        package["checksums"] = checksums
    notes = annotations.get(component.bom_ref)
    if notes:
        package["annotations"] = notes
    return package


def _external_refs(component: Component, ctx: RenderContext) -> list[dict[str, str]]:
    references = []
    if component.purl:
        if _PURL.match(component.purl):
            references.append({"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                               "referenceLocator": component.purl})
        else:
            ctx.warn(f"SPDX: {component.purl!r} is not a valid purl; left out")
    if component.cpe:
        if _CPE23.match(component.cpe):
            references.append({"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                               "referenceLocator": component.cpe})
        elif _CPE22.match(component.cpe):
            references.append({"referenceCategory": "SECURITY", "referenceType": "cpe22Type",
                               "referenceLocator": component.cpe})
    return references


def _checksums(component: Component, ctx: RenderContext) -> list[dict[str, str]]:
    checksums = []
    seen = set()
    for algorithm, value in component.hashes:
        name = _CHECKSUMS.get(algorithm.lower().replace("-", "").replace("_", ""))
        if name is None or not _HEX.match(value.strip()):
            ctx.warn(f"SPDX: checksum {algorithm} of {component.bom_ref} is not an SPDX checksum; left out")
            continue
        if (name, value) not in seen:
            seen.add((name, value))
            checksums.append({"algorithm": name, "checksumValue": value.strip().lower()})
    return checksums


def _relationships(inventory: Inventory, ids: dict[str, str]) -> list[dict[str, str]]:
    relationships = [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
         "relatedSpdxElement": ids[root.component.bom_ref]}
        for root in inventory.roots
    ]
    for root_ref, members in inventory.contains.items():
        relationships.extend(
            {"spdxElementId": ids[root_ref], "relationshipType": "CONTAINS", "relatedSpdxElement": ids[m]}
            for m in members
        )
    roots = {root.component.bom_ref for root in inventory.roots}
    for ref, targets in inventory.dependencies.items():
        if ref in roots:
            continue  # the images' edges are the CONTAINS above
        relationships.extend(
            {"spdxElementId": ids[ref], "relationshipType": "DEPENDS_ON", "relatedSpdxElement": ids[t]}
            for t in targets
        )
    return relationships


def _vulnerability_annotations(snapshot: ExportSnapshot, inventory: Inventory, ids: dict[str, str],
                               created: str) -> dict[str, list[dict[str, str]]]:
    if (snapshot.options.get("spdx_vulnerabilities") or "").strip().lower() in _OMIT_WORDS:
        return {}
    comments: dict[str, set[str]] = defaultdict(set)
    for finding in snapshot.findings:
        if finding.kind != FindingKind.VULNERABILITY:
            continue
        text = _vulnerability_comment(finding)
        for ref in inventory.refs_for(finding):
            if ref in ids:
                comments[ref].add(text)
    return {
        ref: [{"annotationDate": created, "annotationType": "OTHER", "annotator": TOOL, "comment": text}
              for text in sorted(texts)]
        for ref, texts in comments.items()
    }


def _vulnerability_comment(finding: Finding) -> str:
    parts = [f"Vulnerability {finding.vuln_id}", f"severity {finding.severity.value}"]
    best = max((c for c in finding.cvss if c.score is not None), key=lambda c: c.score or 0.0, default=None)
    if best is not None:
        parts.append(f"CVSS {best.version} {best.score}" + (f" {best.vector}" if best.vector else ""))
    status = f"status {finding.status.value}"
    if finding.vex is not None and finding.vex.justification:
        status += f" ({finding.vex.justification})"
    parts.append(status)
    if finding.fixed_version:
        parts.append(f"fixed in {finding.fixed_version}")
    return "; ".join(parts)
