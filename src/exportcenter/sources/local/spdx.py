"""SPDX 2.2 / 2.3 JSON: packages become components (purls from externalRefs, licences, checksums),
relationships between packages become dependencies."""

from __future__ import annotations

from collections import Counter

from exportcenter.model import Component, Dependency, License, Sbom
from exportcenter.sources.local.common import (
    DocumentContext,
    JsonObject,
    Warnings,
    document_id,
    license_from_text,
    licenses_unique,
    obj,
    objs,
    text,
    texts,
)
from exportcenter.sources.local.cyclonedx import subject_digest
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.util.timeutil import parse_time

FORMAT = "spdx"
SUPPORTED_VERSIONS = ("2.2", "2.3")

_PACKAGE_MANAGER = {"PACKAGE-MANAGER", "PACKAGE_MANAGER"}  # 2.3 spelling, 2.2 spelling
_NO_VALUE = {"NOASSERTION", "NONE"}

# relationship type -> True when "A <type> B" means A depends on B, False when B depends on A.
_DEPENDENCY_DIRECTION = {
    "CONTAINS": True,
    "DEPENDS_ON": True,
    "DYNAMIC_LINK": True,
    "STATIC_LINK": True,
    "HAS_PREREQUISITE": True,
    "RUNTIME_DEPENDENCY_OF": False,
    "BUILD_DEPENDENCY_OF": False,
    "DEV_DEPENDENCY_OF": False,
    "OPTIONAL_DEPENDENCY_OF": False,
    "PROVIDED_DEPENDENCY_OF": False,
    "TEST_DEPENDENCY_OF": False,
    "CONTAINED_BY": False,
    "DEPENDENCY_OF": False,
    "PREREQUISITE_FOR": False,
}

_PURPOSE_TO_TYPE = {
    "APPLICATION": "application",
    "FRAMEWORK": "framework",
    "LIBRARY": "library",
    "CONTAINER": "container",
    "OPERATING_SYSTEM": "operating-system",
    "DEVICE": "device",
    "FIRMWARE": "firmware",
    "FILE": "file",
}


def looks_like(doc: JsonObject) -> bool:
    version = doc.get("spdxVersion")
    return isinstance(version, str) and version.startswith("SPDX-")


def parse(doc: JsonObject, ctx: DocumentContext) -> ParsedDocument:
    warnings = Warnings()
    spec_version = str(doc.get("spdxVersion", ""))[len("SPDX-"):] or "unknown"
    if spec_version not in SUPPORTED_VERSIONS:
        warnings.add(f"{ctx.name}: SPDX version {spec_version!r} is not 2.2 or 2.3; read as 2.3")
    packages = objs(doc.get("packages"))
    _check_schema_quirks(packages, spec_version, warnings, ctx.name)
    components = [_component(package, index) for index, package in enumerate(packages)]
    defined = {component.bom_ref for component in components}
    dependencies = _dependencies(objs(doc.get("relationships")), defined)
    described = _described(doc, defined)
    subject = next((p for p in packages if text(p.get("SPDXID")) in described), {})
    subject_purl = next((c.purl for c in components if c.bom_ref in described and c.purl), None)
    created_at = parse_time(obj(doc.get("creationInfo")).get("created")) or ctx.ingested_at
    sbom = Sbom(
        id=document_id("sbom", ctx),
        tenant=ctx.tenant,
        source_format=FORMAT,
        spec_version=spec_version,
        name=text(doc.get("name")) or text(subject.get("name")) or ctx.name,
        digest=ctx.digest,
        subject_digest=subject_digest({"purl": subject_purl}) if subject_purl else None,
        created_at=created_at,
        components=tuple(components),
        dependencies=dependencies,
    )
    return ParsedDocument(
        name=ctx.name,
        source_format=FORMAT,
        spec_version=spec_version,
        digest=ctx.digest,
        sbom=sbom,
        warnings=warnings.as_tuple(),
    )


def _check_schema_quirks(packages: list[JsonObject], version: str, warnings: Warnings, name: str) -> None:
    """Name what real tools get wrong against the official schema, and say what was kept."""
    counts: Counter[str] = Counter()
    for package in packages:
        for ref in objs(package.get("externalRefs")):
            if ref.get("referenceCategory") == "PACKAGE_MANAGER" and version == "2.3":
                counts["package_manager"] += 1
        if package.get("primaryPackagePurpose") == "OPERATING-SYSTEM":
            counts["os_purpose"] += 1
        if "copyrightText" not in package and version == "2.2":
            counts["copyright"] += 1
    if counts["package_manager"]:
        warnings.add(
            f"{name}: {counts['package_manager']} externalRefs use the SPDX 2.2 spelling 'PACKAGE_MANAGER' "
            "in a 2.3 document (schema-invalid); their purls were kept"
        )
    if counts["os_purpose"]:
        warnings.add(
            f"{name}: {counts['os_purpose']} packages use primaryPackagePurpose 'OPERATING-SYSTEM' "
            "(the schema spells OPERATING_SYSTEM; schema-invalid); read as operating-system"
        )
    if counts["copyright"]:
        warnings.add(
            f"{name}: {counts['copyright']} packages lack the required copyrightText (schema-invalid); "
            "kept, copyright treated as NOASSERTION"
        )


def _component(package: JsonObject, index: int) -> Component:
    purls: list[str] = []
    cpes: list[str] = []
    for ref in objs(package.get("externalRefs")):
        locator = text(ref.get("referenceLocator"))
        if locator is None:
            continue
        category, ref_type = ref.get("referenceCategory"), ref.get("referenceType")
        if category in _PACKAGE_MANAGER and ref_type == "purl":
            purls.append(locator)
        elif ref_type in ("cpe23Type", "cpe22Type"):
            cpes.append(locator)
    purpose = str(package.get("primaryPackagePurpose", "")).replace("-", "_")
    return Component(
        bom_ref=text(package.get("SPDXID")) or f"SPDXRef-package-{index}",
        name=text(package.get("name")) or "unnamed",
        version=text(package.get("versionInfo")),
        purl=purls[0] if purls else None,
        type=_PURPOSE_TO_TYPE.get(purpose, "library"),
        licenses=spdx_licenses(package),
        hashes=tuple(
            (alg, value)
            for c in objs(package.get("checksums"))
            if (alg := text(c.get("algorithm"))) and (value := text(c.get("checksumValue")))
        ),
        supplier=_party(package.get("supplier")),
        cpe=cpes[0] if cpes else None,
        description=text(package.get("description")) or text(package.get("summary")),
    )


def spdx_licenses(package: JsonObject) -> tuple[License, ...]:
    """licenseConcluded when asserted, else licenseDeclared; NOASSERTION/NONE mean no licence."""
    for key in ("licenseConcluded", "licenseDeclared"):
        value = text(package.get(key))
        if value and value not in _NO_VALUE:
            return licenses_unique([license_from_text(value)])
    return ()


def _party(value: object) -> str | None:
    """"Organization: Red Hat" -> "Red Hat"; NOASSERTION -> None."""
    found = text(value)
    if found is None or found in _NO_VALUE:
        return None
    for prefix in ("Organization:", "Person:", "Tool:"):
        if found.startswith(prefix):
            return found[len(prefix):].strip() or None
    return found


def _described(doc: JsonObject, defined: set[str]) -> set[str]:
    described = set(texts(doc.get("documentDescribes")))
    doc_id = text(doc.get("SPDXID")) or "SPDXRef-DOCUMENT"
    for rel in objs(doc.get("relationships")):
        if rel.get("relationshipType") == "DESCRIBES" and rel.get("spdxElementId") == doc_id:
            target = text(rel.get("relatedSpdxElement"))
            if target:
                described.add(target)
    return described & defined


def _dependencies(relationships: list[JsonObject], defined: set[str]) -> tuple[Dependency, ...]:
    edges: dict[str, dict[str, None]] = {}
    for rel in relationships:
        forward = _DEPENDENCY_DIRECTION.get(str(rel.get("relationshipType")))
        left, right = text(rel.get("spdxElementId")), text(rel.get("relatedSpdxElement"))
        if forward is None or left not in defined or right not in defined or left == right:
            continue
        assert left is not None and right is not None
        parent, child = (left, right) if forward else (right, left)
        edges.setdefault(parent, {}).setdefault(child, None)
    return tuple(Dependency(ref=ref, depends_on=tuple(children)) for ref, children in edges.items())
