"""Grype JSON: the current layout (matchDetails list, fix, cvss[], epss, relatedVulnerabilities) and the
old grype 0.7 layout (matchDetails object, cvssV2/cvssV3 objects, fixedInVersion)."""

from __future__ import annotations

from exportcenter.model import Cvss, Finding, FindingKind, License, Package, Scan, severity_from_raw
from exportcenter.sources.local.common import (
    EPSS_RANGE,
    DocumentContext,
    IdAllocator,
    JsonObject,
    Warnings,
    bounded_score,
    dedupe_cvss,
    document_id,
    license_from_text,
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

FORMAT = "grype-json"


def looks_like(doc: JsonObject) -> bool:
    descriptor = obj(doc.get("descriptor"))
    return "matches" in doc and (descriptor.get("name") == "grype" or "source" in doc)


def parse(doc: JsonObject, ctx: DocumentContext) -> ParsedDocument:
    warnings = Warnings()
    matches = doc.get("matches")
    if matches is not None and not isinstance(matches, list):
        warnings.add(f"{ctx.name}: 'matches' is not a list; no findings kept")
    scan_id = document_id("scan", ctx)
    ids = IdAllocator("f")
    findings = [_finding(match, scan_id, ids, warnings, ctx.name) for match in objs(matches)]
    descriptor = obj(doc.get("descriptor"))
    source = obj(doc.get("source"))
    distro = obj(doc.get("distro"))
    target = source.get("target")
    target_obj = obj(target)
    repo_digests = texts(target_obj.get("repoDigests"))
    artifact_name = (
        text(target_obj.get("userInput"))
        or text(target)
        or next(iter(texts(target_obj.get("tags"))), None)
        or ctx.name
    )
    scan = Scan(
        id=scan_id,
        tenant=ctx.tenant,
        source_format=FORMAT,
        scanner_name="grype",
        scanner_version=text(descriptor.get("version")),
        artifact_name=artifact_name,
        artifact_type=_artifact_type(text(source.get("type"))),
        artifact_digest=text(target_obj.get("imageID")) or text(target_obj.get("manifestDigest")),
        os_family=text(distro.get("name")),
        os_name=text(distro.get("version")),
        created_at=parse_time(descriptor.get("timestamp")) or ctx.ingested_at,
        document_digest=ctx.digest,
        findings_count=len(findings),
        repo_digests=unique([*repo_digests, text(target_obj.get("manifestDigest"))]),
    )
    return ParsedDocument(
        name=ctx.name,
        source_format=FORMAT,
        spec_version=text(descriptor.get("version")),
        digest=ctx.digest,
        scan=scan,
        findings=tuple(findings),
        warnings=warnings.as_tuple(),
    )


def _artifact_type(source_type: str | None) -> str:
    return {"image": "container_image", "directory": "filesystem", "file": "filesystem"}.get(
        source_type or "", source_type or "container_image"
    )


def _cvss_list(entries: object, fallback_source: str | None, where: str, warnings: Warnings) -> list[Cvss | None]:
    found: list[Cvss | None] = []
    for entry in objs(entries):
        metrics = obj(entry.get("metrics"))
        found.append(
            make_cvss(
                text(entry.get("version")),
                entry.get("vector"),
                metrics.get("baseScore"),
                text(entry.get("source")) or fallback_source,
                where=where,
                warnings=warnings,
            )
        )
    return found


def _old_cvss(vuln: JsonObject, where: str, warnings: Warnings) -> list[Cvss | None]:
    """grype 0.7: ``cvssV2`` / ``cvssV3`` objects with baseScore and vector."""
    found: list[Cvss | None] = []
    for key, hint in (("cvssV2", "2.0"), ("cvssV3", "3")):
        entry = obj(vuln.get(key))
        if entry:
            found.append(make_cvss(hint, entry.get("vector"), entry.get("baseScore"), "nvd",
                                   where=where, warnings=warnings))
    return found


def _fix(vuln: JsonObject) -> tuple[str | None, str | None]:
    """(fixed version(s), fix state). Old layout: ``fixedInVersion``."""
    fix = obj(vuln.get("fix"))
    if fix:
        versions = texts(fix.get("versions"))
        return (", ".join(versions) or None), text(fix.get("state"))
    old = text(vuln.get("fixedInVersion"))
    return old, ("fixed" if old else None)


def _finding(match: JsonObject, scan_id: str, ids: IdAllocator, warnings: Warnings, name: str) -> Finding:
    vuln = obj(match.get("vulnerability"))
    related = objs(match.get("relatedVulnerabilities"))
    artifact = obj(match.get("artifact"))
    vuln_id = text(vuln.get("id")) or "UNKNOWN"
    namespace = text(vuln.get("namespace"))
    where = f"{name}: {vuln_id} ({text(artifact.get('name')) or 'unknown'})"
    cvss_entries = _cvss_list(vuln.get("cvss"), namespace, where, warnings) + _old_cvss(vuln, where, warnings)
    for other in related:
        cvss_entries.extend(_cvss_list(other.get("cvss"), text(other.get("namespace")), where, warnings))
    locations = objs(artifact.get("locations"))
    path = text(locations[0].get("path")) if locations else None
    package = Package(
        name=text(artifact.get("name")) or "unknown",
        version=text(artifact.get("version")),
        purl=text(artifact.get("purl")),
        type=text(artifact.get("type")),
        licenses=_licenses(artifact.get("licenses")),
        path=path,
    )
    epss = objs(vuln.get("epss"))
    kev_entries = vuln.get("knownExploited")
    fixed_version, fix_state = _fix(vuln)
    raw_severity = text(vuln.get("severity"))
    description = text(vuln.get("description")) or next(
        (found for found in (text(o.get("description")) for o in related) if found), None
    )
    package_key = package.purl or f"{package.name}@{package.version or ''}"
    return Finding(
        id=ids.next(scan_id, FindingKind.VULNERABILITY, vuln_id, package_key, path, package.path),
        scan_id=scan_id,
        kind=FindingKind.VULNERABILITY,
        vuln_id=vuln_id,
        severity=severity_from_raw(raw_severity),
        raw_severity=raw_severity,
        package=package,
        fixed_version=fixed_version,
        aliases=tuple(a for a in unique(text(o.get("id")) for o in related) if a != vuln_id),
        cvss=dedupe_cvss(cvss_entries),
        epss=bounded_score(epss[0].get("epss"), EPSS_RANGE, what="EPSS", where=where, warnings=warnings)
        if epss else None,
        epss_percentile=bounded_score(epss[0].get("percentile"), EPSS_RANGE, what="EPSS percentile", where=where,
                                      warnings=warnings) if epss else None,
        kev=bool(objs(kev_entries)) if isinstance(kev_entries, list) else None,
        description=description,
        references=unique([text(vuln.get("dataSource")), *texts(vuln.get("urls")), *texts(vuln.get("links"))]),
        target=path,
        scanner_status=fix_state,
    )


def _licenses(value: object) -> tuple[License, ...]:
    found = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, str):
            found.append(license_from_text(item))
        elif isinstance(item, dict):  # newer syft/grype: {"value": "MIT", "spdxExpression": "MIT", ...}
            expression = text(item.get("spdxExpression"))
            plain = text(item.get("value"))
            if expression:
                found.append(license_from_text(expression))
            elif plain:
                found.append(license_from_text(plain))
    return licenses_unique(found)
