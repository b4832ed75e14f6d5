"""Trivy JSON report (SchemaVersion 2): vulnerabilities, misconfigurations and secrets."""

from __future__ import annotations

import re
from typing import Any

from exportcenter.model import Cvss, Finding, FindingKind, Package, Scan, VexStatus, severity_from_raw
from exportcenter.sources.local.common import (
    DocumentContext,
    IdAllocator,
    JsonObject,
    Warnings,
    dedupe_cvss,
    document_id,
    integer,
    make_cvss,
    obj,
    objs,
    text,
    texts,
    unique,
)
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.util.timeutil import parse_time

FORMAT = "trivy-json"

# Trivy's CVSS map: {"nvd": {"V2Vector": ..., "V3Score": ...}, "ghsa": {"V40Vector": ...}}
_CVSS_KEYS = (("2.0", "V2Vector", "V2Score"), ("3", "V3Vector", "V3Score"), ("4.0", "V40Vector", "V40Score"))

# Trivy's own status words that already say something about exploitability in this artifact.
_STATUS_TO_VEX = {"not_affected": VexStatus.NOT_AFFECTED, "under_investigation": VexStatus.UNDER_INVESTIGATION}

_TARGET_SUFFIX = re.compile(r"\s+\([^()]*\)$")


def looks_like(doc: JsonObject) -> bool:
    return "SchemaVersion" in doc and ("Results" in doc or "ArtifactName" in doc)


def parse(doc: JsonObject, ctx: DocumentContext) -> ParsedDocument:
    warnings = Warnings()
    schema = doc.get("SchemaVersion")
    if schema != 2:
        warnings.add(f"{ctx.name}: Trivy SchemaVersion {schema!r} is not 2; read as SchemaVersion 2")
    scan_id = document_id("scan", ctx)
    ids = IdAllocator("f")
    findings: list[Finding] = []
    for result in objs(doc.get("Results")):
        target = text(result.get("Target"))
        pkg_type = text(result.get("Type"))
        for vuln in objs(result.get("Vulnerabilities")):
            findings.append(_vulnerability(vuln, scan_id, target, pkg_type, ids, warnings, ctx.name))
        for misconf in objs(result.get("Misconfigurations")):
            if str(misconf.get("Status", "FAIL")).upper() == "PASS":
                continue
            findings.append(_misconfiguration(misconf, scan_id, target, ids))
        for secret in objs(result.get("Secrets")):
            findings.append(_secret(secret, scan_id, target, ids))
    metadata = obj(doc.get("Metadata"))
    os_info = obj(metadata.get("OS"))
    repo_digests = texts(metadata.get("RepoDigests"))
    scan = Scan(
        id=scan_id,
        tenant=ctx.tenant,
        source_format=FORMAT,
        scanner_name="trivy",
        scanner_version=text(obj(doc.get("Trivy")).get("Version")),
        artifact_name=_artifact_name(doc, metadata, ctx),
        artifact_type=text(doc.get("ArtifactType")) or "container_image",
        artifact_digest=text(metadata.get("ImageID")) or _digest_of(repo_digests),
        os_family=text(os_info.get("Family")),
        os_name=text(os_info.get("Name")),
        created_at=parse_time(doc.get("CreatedAt")) or ctx.ingested_at,
        document_digest=ctx.digest,
        findings_count=len(findings),
        repo_digests=repo_digests,
    )
    return ParsedDocument(
        name=ctx.name,
        source_format=FORMAT,
        spec_version=str(schema),
        digest=ctx.digest,
        scan=scan,
        findings=tuple(findings),
        warnings=warnings.as_tuple(),
    )


def _artifact_name(doc: JsonObject, metadata: JsonObject, ctx: DocumentContext) -> str:
    candidates = [text(doc.get("ArtifactName")), *texts(metadata.get("RepoTags")), text(metadata.get("Reference"))]
    candidates.extend(texts(metadata.get("RepoDigests")))
    for result in objs(doc.get("Results")):
        if result.get("Class") == "os-pkgs" and text(result.get("Target")):
            candidates.append(_TARGET_SUFFIX.sub("", str(result["Target"]).strip()))
    for candidate in candidates:
        if candidate:
            return candidate
    return ctx.name


def _digest_of(repo_digests: tuple[str, ...]) -> str | None:
    for ref in repo_digests:
        if "@" in ref:
            return ref.rsplit("@", 1)[1]
    return None


def _cvss(vuln: JsonObject, where: str, warnings: Warnings) -> tuple[Cvss, ...]:
    entries = []
    for source, values in sorted(obj(vuln.get("CVSS")).items()):
        values = obj(values)
        for hint, vector_key, score_key in _CVSS_KEYS:
            entries.append(make_cvss(hint, values.get(vector_key), values.get(score_key), source,
                                     where=where, warnings=warnings))
    return dedupe_cvss(entries)


def _vulnerability(
    vuln: JsonObject,
    scan_id: str,
    target: str | None,
    pkg_type: str | None,
    ids: IdAllocator,
    warnings: Warnings,
    name: str,
) -> Finding:
    vuln_id = text(vuln.get("VulnerabilityID")) or "UNKNOWN"
    identifier = obj(vuln.get("PkgIdentifier"))
    package = Package(
        name=text(vuln.get("PkgName")) or "unknown",
        version=text(vuln.get("InstalledVersion")),
        purl=text(identifier.get("PURL")),
        type=pkg_type,
        path=text(vuln.get("PkgPath")),
    )
    raw_status = text(vuln.get("Status"))
    raw_severity = text(vuln.get("Severity"))
    package_key = package.purl or f"{package.name}@{package.version or ''}"
    return Finding(
        id=ids.next(scan_id, FindingKind.VULNERABILITY, vuln_id, package_key, target, package.path),
        scan_id=scan_id,
        kind=FindingKind.VULNERABILITY,
        vuln_id=vuln_id,
        severity=severity_from_raw(raw_severity),
        raw_severity=raw_severity,
        package=package,
        fixed_version=text(vuln.get("FixedVersion")),
        aliases=tuple(a for a in texts(vuln.get("VendorIDs")) if a != vuln_id),
        cvss=_cvss(vuln, f"{name}: {vuln_id} ({package.name})", warnings),
        title=text(vuln.get("Title")),
        description=text(vuln.get("Description")),
        references=unique([text(vuln.get("PrimaryURL")), *texts(vuln.get("References"))]),
        cwes=texts(vuln.get("CweIDs")),
        target=target,
        published=parse_time(vuln.get("PublishedDate")),
        status=_STATUS_TO_VEX.get(raw_status or "", VexStatus.AFFECTED),
        scanner_status=raw_status,
    )


def _misconfiguration(item: JsonObject, scan_id: str, target: str | None, ids: IdAllocator) -> Finding:
    rule_id = text(item.get("AVDID")) or text(item.get("ID")) or "UNKNOWN"
    cause = obj(item.get("CauseMetadata"))
    start, end = integer(cause.get("StartLine")), integer(cause.get("EndLine"))
    description = "\n\n".join(
        part for part in (text(item.get("Description")), text(item.get("Message")),
                          _prefixed("Resolution: ", item.get("Resolution"))) if part
    )
    raw_severity = text(item.get("Severity"))
    return Finding(
        id=ids.next(scan_id, FindingKind.MISCONFIGURATION, rule_id, target, start),
        scan_id=scan_id,
        kind=FindingKind.MISCONFIGURATION,
        vuln_id=rule_id,
        severity=severity_from_raw(raw_severity),
        raw_severity=raw_severity,
        aliases=tuple(a for a in texts([item.get("ID")]) if a != rule_id),
        title=text(item.get("Title")),
        description=description or None,
        references=unique([text(item.get("PrimaryURL")), *texts(item.get("References"))]),
        target=target,
        location=target,
        start_line=start,
        end_line=end,
        scanner_status=text(item.get("Status")),
    )


def _secret(item: JsonObject, scan_id: str, target: str | None, ids: IdAllocator) -> Finding:
    rule_id = text(item.get("RuleID")) or "secret"
    start, end = integer(item.get("StartLine")), integer(item.get("EndLine"))
    raw_severity = text(item.get("Severity"))
    category = text(item.get("Category"))
    return Finding(
        id=ids.next(scan_id, FindingKind.SECRET, rule_id, target, start),
        scan_id=scan_id,
        kind=FindingKind.SECRET,
        vuln_id=rule_id,
        severity=severity_from_raw(raw_severity),
        raw_severity=raw_severity,
        title=text(item.get("Title")),
        description=f"{category}: secret found (value masked by the scanner)" if category else None,
        target=target,
        location=target,
        start_line=start,
        end_line=end,
    )


def _prefixed(prefix: str, value: Any) -> str | None:
    found = text(value)
    return prefix + found if found else None
