"""CycloneDX 1.4-1.7 JSON: components (nested too), dependencies, licences, hashes, and embedded
vulnerabilities (a scan with findings). A document whose vulnerabilities carry VEX analysis and point at
no listed component is CycloneDX VEX (see cyclonedx_vex)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

from exportcenter.model import (
    Component,
    Cvss,
    Dependency,
    Finding,
    FindingKind,
    License,
    Package,
    Sbom,
    Scan,
    Severity,
    VexStatus,
    severity_from_raw,
)
from exportcenter.sources.local import cyclonedx_vex
from exportcenter.sources.local.common import (
    DocumentContext,
    IdAllocator,
    JsonObject,
    Warnings,
    dedupe_cvss,
    document_id,
    licenses_unique,
    make_cvss,
    obj,
    objs,
    text,
    texts,
    unique,
)
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.util.timeutil import parse_time

FORMAT = "cyclonedx"
SUPPORTED_VERSIONS = ("1.4", "1.5", "1.6", "1.7")

ANALYSIS_TO_STATUS = cyclonedx_vex.STATE_TO_STATUS


def looks_like(doc: JsonObject) -> bool:
    return doc.get("bomFormat") == "CycloneDX" or (
        "specVersion" in doc and ("components" in doc or "vulnerabilities" in doc) and "metadata" in doc
    )


def parse(doc: JsonObject, ctx: DocumentContext) -> ParsedDocument:
    warnings = Warnings()
    spec_version = text(doc.get("specVersion")) or "unknown"
    if spec_version not in SUPPORTED_VERSIONS:
        warnings.add(f"{ctx.name}: CycloneDX specVersion {spec_version!r} is not 1.4-1.7; read as 1.6")
    if doc.get("bomFormat") != "CycloneDX":
        warnings.add(f"{ctx.name}: bomFormat is missing or not 'CycloneDX'; read as CycloneDX anyway")
    components = _components(doc, warnings, ctx.name)
    vulnerabilities = objs(doc.get("vulnerabilities"))
    if cyclonedx_vex.is_vex(vulnerabilities, components):
        return cyclonedx_vex.parse(doc, ctx, spec_version, warnings)
    metadata = obj(doc.get("metadata"))
    subject = obj(metadata.get("component"))
    created_at = parse_time(metadata.get("timestamp")) or ctx.ingested_at
    sbom = None
    if components or "components" in doc:
        sbom = Sbom(
            id=document_id("sbom", ctx),
            tenant=ctx.tenant,
            source_format=FORMAT,
            spec_version=spec_version,
            name=_subject_name(subject) or ctx.name,
            digest=ctx.digest,
            subject_digest=subject_digest(subject),
            created_at=created_at,
            components=tuple(components),
            dependencies=_dependencies(doc),
        )
    scan = None
    findings: tuple[Finding, ...] = ()
    if vulnerabilities:
        scan_id = document_id("scan", ctx)
        findings = _findings(vulnerabilities, components, scan_id, warnings, ctx.name)
        tool_name, tool_version = tool_of(metadata)
        scan = Scan(
            id=scan_id,
            tenant=ctx.tenant,
            source_format=FORMAT,
            scanner_name=tool_name or "cyclonedx",
            scanner_version=tool_version,
            artifact_name=_subject_name(subject) or ctx.name,
            artifact_type="container_image" if subject.get("type") == "container" else "sbom",
            artifact_digest=subject_digest(subject),
            os_family=None,
            os_name=None,
            created_at=created_at,
            document_digest=ctx.digest,
            findings_count=len(findings),
            repo_digests=_property_values(subject, "aquasecurity:trivy:RepoDigest"),
        )
    return ParsedDocument(
        name=ctx.name,
        source_format=FORMAT,
        spec_version=spec_version,
        digest=ctx.digest,
        scan=scan,
        findings=findings,
        sbom=sbom,
        warnings=warnings.as_tuple(),
    )


# --- components -------------------------------------------------------------------------------


def _walk(items: object) -> Iterator[JsonObject]:
    for item in objs(items):
        yield item
        yield from _walk(item.get("components"))


def _components(doc: JsonObject, warnings: Warnings, name: str) -> list[Component]:
    found: list[Component] = []
    seen_refs: set[str] = set()
    for index, item in enumerate(_walk(doc.get("components"))):
        component_name = text(item.get("name"))
        if component_name is None:
            warnings.add(f"{name}: a component without a name was kept as 'unnamed'")
        ref = text(item.get("bom-ref")) or f"component-{index}"
        if ref in seen_refs:
            warnings.add(f"{name}: duplicate bom-ref {ref!r}; later copies renamed")
            ref = f"{ref}#{index}"
        seen_refs.add(ref)
        found.append(
            Component(
                bom_ref=ref,
                name=component_name or "unnamed",
                version=text(item.get("version")),
                purl=text(item.get("purl")),
                type=text(item.get("type")) or "library",
                group=text(item.get("group")),
                licenses=cdx_licenses(item.get("licenses")),
                hashes=tuple(
                    (alg, content)
                    for h in objs(item.get("hashes"))
                    if (alg := text(h.get("alg"))) and (content := text(h.get("content")))
                ),
                supplier=text(obj(item.get("supplier")).get("name")) or text(item.get("publisher")),
                cpe=text(item.get("cpe")),
                description=text(item.get("description")),
            )
        )
    return found


def cdx_licenses(value: object) -> tuple[License, ...]:
    found = []
    for entry in objs(value):
        expression = text(entry.get("expression"))
        if expression:
            found.append(License("expression", expression))
            continue
        licence = obj(entry.get("license"))
        spdx_id = text(licence.get("id"))
        if spdx_id:
            found.append(License("id", spdx_id))
        elif (licence_name := text(licence.get("name"))) is not None:
            found.append(License("name", licence_name))
    return licenses_unique(found)


def _dependencies(doc: JsonObject) -> tuple[Dependency, ...]:
    merged: dict[str, dict[str, None]] = {}
    for entry in objs(doc.get("dependencies")):
        ref = text(entry.get("ref"))
        if ref is None:
            continue
        targets = merged.setdefault(ref, {})
        for target in texts(entry.get("dependsOn")):
            targets.setdefault(target, None)
    return tuple(Dependency(ref=ref, depends_on=tuple(targets)) for ref, targets in merged.items())


def _subject_name(subject: JsonObject) -> str | None:
    name = text(subject.get("name"))
    if name is None:
        return None
    group = text(subject.get("group"))
    full = f"{group}/{name}" if group and "/" not in name else name
    version = text(subject.get("version"))
    if version and not version.startswith("sha256:") and ":" not in full:
        return f"{full}:{version}" if subject.get("type") == "container" else f"{full}@{version}"
    return full


def subject_digest(subject: JsonObject) -> str | None:
    """The image digest a BOM describes: a ``sha256:`` version or the digest in a ``pkg:oci`` purl."""
    version = text(subject.get("version"))
    if version and version.startswith("sha256:"):
        return version
    purl = text(subject.get("purl")) or text(subject.get("bom-ref"))
    if purl and purl.startswith("pkg:oci/") and "@" in purl:
        digest = unquote(purl.split("@", 1)[1].split("?", 1)[0])
        if digest.startswith("sha256:"):
            return digest
    return None


def _property_values(item: JsonObject, key: str) -> tuple[str, ...]:
    return unique(text(p.get("value")) for p in objs(item.get("properties")) if p.get("name") == key)


def tool_of(metadata: JsonObject) -> tuple[str | None, str | None]:
    """CycloneDX 1.4 ``tools`` is a list; 1.5+ is ``{"components": [...], "services": [...]}``."""
    tools = metadata.get("tools")
    candidates = objs(tools) if isinstance(tools, list) else objs(obj(tools).get("components"))
    for tool in candidates:
        name = text(tool.get("name"))
        if name:
            return name, text(tool.get("version"))
    return None, None


# --- vulnerabilities --------------------------------------------------------------------------


def ratings_cvss(vuln: JsonObject, where: str, warnings: Warnings) -> tuple[Cvss, ...]:
    """The CVSS ratings of one vulnerability; a score outside 0-10 is dropped with a warning."""
    entries = []
    for rating in objs(vuln.get("ratings")):
        method = text(rating.get("method")) or ""
        if not method.upper().startswith("CVSS"):
            continue
        source = text(obj(rating.get("source")).get("name"))
        entries.append(make_cvss(method, rating.get("vector"), rating.get("score"), source,
                                 where=where, warnings=warnings))
    return dedupe_cvss(entries)


def pick_severity(vuln: JsonObject) -> str | None:
    """The scanner's own verdict first (rating from the vuln's source, or without a method), then the
    worst CVSS rating."""
    ratings = objs(vuln.get("ratings"))
    source_name = text(obj(vuln.get("source")).get("name"))
    for rating in ratings:
        if source_name and text(obj(rating.get("source")).get("name")) == source_name and text(
            rating.get("severity")
        ):
            return text(rating.get("severity"))
    for rating in ratings:
        if not rating.get("method") and text(rating.get("severity")):
            return text(rating.get("severity"))
    best: tuple[int, str] | None = None
    for rating in ratings:
        word = text(rating.get("severity"))
        if word:
            rank = severity_from_raw(word).rank
            if best is None or rank > best[0]:
                best = (rank, word)
    return best[1] if best else None


def _findings(
    vulnerabilities: list[JsonObject], components: list[Component], scan_id: str, warnings: Warnings, name: str
) -> tuple[Finding, ...]:
    by_ref = {component.bom_ref: component for component in components}
    ids = IdAllocator("f")
    found: list[Finding] = []
    for vuln in vulnerabilities:
        vuln_id = text(vuln.get("id")) or "UNKNOWN"
        raw_severity = pick_severity(vuln)
        severity = severity_from_raw(raw_severity)
        cvss = ratings_cvss(vuln, f"{name}: {vuln_id}", warnings)
        if severity is Severity.UNKNOWN and raw_severity is None:
            scores = [c.score for c in cvss if c.score is not None]
            severity = severity_from_raw(max(scores)) if scores else Severity.UNKNOWN
        analysis = obj(vuln.get("analysis"))
        state = text(analysis.get("state"))
        affects = objs(vuln.get("affects")) or [{}]
        for affect in affects:
            ref = text(affect.get("ref"))
            component = by_ref.get(ref or "")
            if ref and component is None:
                warnings.add(f"{name}: vulnerability {vuln_id} affects unknown bom-ref {ref!r}; kept without package")
            package = _package(component) if component else None
            fixed = unique(
                text(v.get("version")) for v in objs(affect.get("versions")) if v.get("status") == "unaffected"
            )
            package_key = (package.purl or f"{package.name}@{package.version or ''}") if package else ref
            found.append(
                Finding(
                    id=ids.next(scan_id, FindingKind.VULNERABILITY, vuln_id, package_key, None, None),
                    scan_id=scan_id,
                    kind=FindingKind.VULNERABILITY,
                    vuln_id=vuln_id,
                    severity=severity,
                    raw_severity=raw_severity,
                    package=package,
                    fixed_version=", ".join(fixed) or None,
                    aliases=tuple(a for a in unique(text(r.get("id")) for r in objs(vuln.get("references")))
                                  if a != vuln_id),
                    cvss=cvss,
                    title=None,
                    description=text(vuln.get("description")) or text(vuln.get("detail")),
                    references=unique([text(obj(vuln.get("source")).get("url")),
                                       *(text(a.get("url")) for a in objs(vuln.get("advisories")))]),
                    cwes=tuple(f"CWE-{c}" for c in texts(vuln.get("cwes"))),
                    published=parse_time(vuln.get("published")),
                    status=ANALYSIS_TO_STATUS.get(state or "", VexStatus.AFFECTED),
                    scanner_status=state,
                )
            )
    return tuple(found)


def _package(component: Component) -> Package:
    ecosystem = component.purl.split("/", 1)[0][4:] if component.purl and component.purl.startswith("pkg:") else None
    return Package(
        name=component.name,
        version=component.version,
        purl=component.purl,
        type=ecosystem,
        licenses=component.licenses,
    )
