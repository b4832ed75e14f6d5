"""Snapshots for the SBOM renderer tests: from real files in tests/fixtures/data, and one hand-built
snapshot that packs the edge cases real data has (colliding bom-refs, shared purls, every CVSS version,
every VEX status, licences of every kind, bad hashes).

Real files go through the project's parsers (``parse_document``) when they are importable; until then a
small reader here mirrors what those parsers produce for the fields the SBOM renderers read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exportcenter.config import get_settings
from exportcenter.model import (
    Component,
    Cvss,
    Dependency,
    ExportOptions,
    ExportScope,
    ExportSnapshot,
    Finding,
    FindingKind,
    License,
    Package,
    Scan,
    Severity,
    VexDecision,
    VexStatus,
    severity_from_raw,
)
from exportcenter.renderers.base import RenderContext

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
SCHEMAS = DATA / "schemas"
CHECKER = Path("/work/shared/tools/check_artifacts.py")
GENERATED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def context() -> RenderContext:
    return RenderContext(settings=get_settings())


def _parse_document() -> Any:
    try:
        from exportcenter.sources.local.sniff import parse_document
    except ImportError:
        return None
    return parse_document


def load_real(*names: str, options: ExportOptions | None = None) -> ExportSnapshot:
    """A snapshot of real files: through parse_document when it exists, else through the mini reader."""
    parse = _parse_document()
    scans: list[Scan] = []
    findings: list[Finding] = []
    components: list[Component] = []
    dependencies: list[Dependency] = []
    for name in names:
        path = DATA / name
        if parse is not None:
            doc = parse(path.read_bytes(), name=path.name, tenant="acme", ingested_at=GENERATED)
            if doc.scan is not None:
                scans.append(doc.scan)
            findings.extend(doc.findings)
            if doc.sbom is not None:
                owner = doc.scan.id if doc.scan is not None else doc.sbom.id
                components.extend(_owned(c, owner) for c in doc.sbom.components)
                dependencies.extend(doc.sbom.dependencies)
        else:
            scan, found, comps, deps = _mini_read(path)
            scans.append(scan)
            findings.extend(found)
            components.extend(comps)
            dependencies.extend(deps)
    return snapshot(scans=scans, findings=findings, components=components, dependencies=dependencies,
                    options=options)


def _owned(component: Component, owner: str) -> Component:
    if component.scan_id:
        return component
    return Component(**{**{f: getattr(component, f) for f in Component.__slots__}, "scan_id": owner})


def snapshot(*, scans: list[Scan], findings: list[Finding], components: list[Component],
             dependencies: list[Dependency], options: ExportOptions | None = None) -> ExportSnapshot:
    return ExportSnapshot(
        export_id="exp-1", tenant="acme", export_type="sbom", export_format="cyclonedx",
        generated_at=GENERATED, scope=ExportScope(), options=options or ExportOptions(),
        scans=tuple(scans), findings=tuple(findings), components=tuple(components),
        dependencies=tuple(dependencies),
    )


def _scan(scan_id: str, name: str, digest: str | None, scanner: str) -> Scan:
    return Scan(id=scan_id, tenant="acme", source_format="test", scanner_name=scanner, scanner_version="1",
                artifact_name=name, artifact_type="container_image", artifact_digest=digest, os_family=None,
                os_name=None, created_at=GENERATED, document_digest="sha256:" + "0" * 64)


def _licenses(raw: list[dict[str, Any]] | None) -> tuple[License, ...]:
    found = []
    for entry in raw or []:
        if "expression" in entry:
            found.append(License("expression", entry["expression"]))
        lic = entry.get("license", {})
        if lic.get("id"):
            found.append(License("id", lic["id"]))
        elif lic.get("name"):
            found.append(License("name", lic["name"]))
    return tuple(found)


def _mini_read(path: Path) -> tuple[Scan, list[Finding], list[Component], list[Dependency]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if "Results" in doc:
        return _mini_trivy(path, doc)
    if "spdxVersion" in doc:
        return _mini_spdx(path, doc)
    scan_id = path.stem
    meta = doc.get("metadata", {}).get("component", {})
    scan = _scan(scan_id, meta.get("name", path.stem), None, "cyclonedx")
    components = [
        Component(bom_ref=c.get("bom-ref", ""), name=c.get("name", ""), version=c.get("version"),
                  purl=c.get("purl"), type=c.get("type", "library"), group=c.get("group"),
                  licenses=_licenses(c.get("licenses")),
                  hashes=tuple((h["alg"], h["content"]) for h in c.get("hashes", [])),
                  supplier=(c.get("supplier") or {}).get("name"), cpe=c.get("cpe"), scan_id=scan_id)
        for c in doc.get("components", [])
    ]
    deps = [Dependency(d["ref"], tuple(d.get("dependsOn", []))) for d in doc.get("dependencies", [])]
    by_ref = {c.bom_ref: c for c in components}
    findings = []
    for v in doc.get("vulnerabilities", []):
        for a in v.get("affects", []):
            c = by_ref.get(a["ref"])
            pkg = Package(c.name, c.version, c.purl) if c else None
            ratings = v.get("ratings", [])
            cvss = tuple(Cvss({"CVSSv2": "2.0", "CVSSv3": "3.0", "CVSSv31": "3.1", "CVSSv4": "4.0"}[r["method"]],
                              r.get("vector"), r.get("score"), r.get("source", {}).get("name", ""))
                         for r in ratings if r.get("method") in ("CVSSv2", "CVSSv3", "CVSSv31", "CVSSv4"))
            sev = severity_from_raw(ratings[0].get("severity")) if ratings else Severity.UNKNOWN
            findings.append(Finding(id=f"{scan_id}/{v['id']}/{a['ref']}", scan_id=scan_id,
                                    kind=FindingKind.VULNERABILITY, vuln_id=v["id"], severity=sev,
                                    raw_severity=None, package=pkg, cvss=cvss, cwes=tuple(f"CWE-{w}" for w in v.get("cwes", [])),
                                    description=v.get("description")))
    return scan, findings, components, deps


def _mini_spdx(path: Path, doc: dict[str, Any]) -> tuple[Scan, list[Finding], list[Component], list[Dependency]]:
    scan_id = path.stem
    scan = _scan(scan_id, doc.get("name", path.stem), None, "spdx")
    components = []
    for p in doc.get("packages", []):
        purl = next((r["referenceLocator"] for r in p.get("externalRefs", []) if r.get("referenceType") == "purl"), None)
        declared = p.get("licenseDeclared")
        licenses = (License("expression", declared),) if declared and declared not in ("NOASSERTION", "NONE") else ()
        components.append(Component(bom_ref=p["SPDXID"], name=p.get("name", ""), version=p.get("versionInfo"),
                                    purl=purl, licenses=licenses, scan_id=scan_id,
                                    hashes=tuple((c["algorithm"], c["checksumValue"]) for c in p.get("checksums", []))))
    edges: dict[str, list[str]] = {}
    for r in doc.get("relationships", []):
        if r.get("relationshipType") in ("DEPENDS_ON", "CONTAINS"):
            edges.setdefault(r["spdxElementId"], []).append(r["relatedSpdxElement"])
    return scan, [], components, [Dependency(ref, tuple(t)) for ref, t in edges.items()]


def _mini_trivy(path: Path, doc: dict[str, Any]) -> tuple[Scan, list[Finding], list[Component], list[Dependency]]:
    scan_id = path.stem
    digest = (doc.get("Metadata") or {}).get("ImageID")
    scan = _scan(scan_id, doc.get("ArtifactName", path.stem), digest, "trivy")
    findings = []
    for result in doc.get("Results", []):
        for v in result.get("Vulnerabilities") or []:
            purl = (v.get("PkgIdentifier") or {}).get("PURL")
            cvss = []
            for source, entry in sorted((v.get("CVSS") or {}).items()):
                if entry.get("V2Vector"):
                    cvss.append(Cvss("2.0", entry["V2Vector"], entry.get("V2Score"), source))
                if entry.get("V3Vector"):
                    version = "3.1" if entry["V3Vector"].startswith("CVSS:3.1") else "3.0"
                    cvss.append(Cvss(version, entry["V3Vector"], entry.get("V3Score"), source))
                if entry.get("V40Vector"):
                    cvss.append(Cvss("4.0", entry["V40Vector"], entry.get("V40Score"), source))
            findings.append(Finding(
                id=f"{scan_id}/{v['VulnerabilityID']}/{v.get('PkgName')}/{v.get('InstalledVersion')}/{result.get('Target')}",
                scan_id=scan_id, kind=FindingKind.VULNERABILITY, vuln_id=v["VulnerabilityID"],
                severity=severity_from_raw(v.get("Severity")), raw_severity=v.get("Severity"),
                package=Package(v.get("PkgName", ""), v.get("InstalledVersion"), purl),
                fixed_version=v.get("FixedVersion"), cvss=tuple(cvss), title=v.get("Title"),
                description=v.get("Description"), references=tuple(v.get("References") or []),
                cwes=tuple(v.get("CweIDs") or []), target=result.get("Target"), scanner_status=v.get("Status")))
    return scan, findings, [], []


def _vex(status: VexStatus, justification: str | None) -> VexDecision:
    return VexDecision(status=status, justification=justification, statement_id="st-1", source="vex.json",
                       impact_statement="not reachable in our build" if justification else None,
                       timestamp=GENERATED)


def edge_case_snapshot(options: ExportOptions | None = None) -> ExportSnapshot:
    """Everything that breaks naive SBOM writers, in one small snapshot of two images."""
    a, b = _scan("scan-a", "registry.example/team/app:1.0", "sha256:" + "a" * 64, "trivy"), \
        _scan("scan-b", "registry.example/team/worker:2.0", None, "grype")
    shared = "pkg:npm/lodash@4.17.20"
    components = [
        Component("dup", "lodash", "4.17.20", shared, licenses=(License("id", "MIT"),), scan_id="scan-a"),
        Component("dup", "left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0",
                  licenses=(License("expression", "mit OR apache-2.0"),), scan_id="scan-a"),
        Component("lodash-copy", "lodash", "4.17.20", shared, licenses=(License("name", "MIT License"),),
                  scan_id="scan-b"),
        Component("openssl", "openssl", "3.0.7", "pkg:rpm/redhat/openssl@3.0.7?arch=x86_64",
                  licenses=(License("id", "OpenSSL"), License("expression", "Apache-2.0 AND BSD-3-Clause")),
                  hashes=(("sha256", "b" * 64), ("SHA-1", "nothex"), ("crc32", "1234abcd")), scan_id="scan-a"),
        Component("weird", "we!rd name/with spaces", None, None, type="cryptographic-asset",
                  licenses=(License("id", "GPL-2.0+"), License("name", "Custom EULA v2"), License("id", "NOASSERTION")),
                  supplier="Example Corp", cpe="cpe:2.3:a:example:weird:*:*:*:*:*:*:*:*", scan_id="scan-b"),
    ]
    dependencies = [
        Dependency("dup", ("openssl", "openssl", "ghost-ref", "dup")),
        Dependency("dup", ("lodash-copy",)),
        Dependency("ghost", ("dup",)),
    ]
    def finding(fid: str, scan: str, vuln: str, pkg: Package | None, **kw: Any) -> Finding:
        return Finding(id=fid, scan_id=scan, kind=FindingKind.VULNERABILITY, vuln_id=vuln,
                       severity=kw.pop("severity", Severity.HIGH), raw_severity="HIGH", package=pkg, **kw)
    lodash = Package("lodash", "4.17.20", shared)
    findings = [
        finding("f1", "scan-a", "CVE-2021-23337", lodash, fixed_version="4.17.21", cwes=("CWE-94",),
                cvss=(Cvss("2.0", "AV:N/AC:L/Au:S/C:P/I:P/A:P", 6.5, "nvd"),
                      Cvss("3.1", "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2, "nvd"),
                      Cvss("3.0", "CVSS:3.0/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2, "ghsa"),
                      Cvss("4.0", "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.6, "ghsa")),
                aliases=("GHSA-35jh-r3h4-6jhm",), references=("https://nvd.nist.gov/vuln/detail/CVE-2021-23337",),
                status=VexStatus.NOT_AFFECTED, vex=_vex(VexStatus.NOT_AFFECTED, "vulnerable_code_not_in_execute_path")),
        finding("f2", "scan-b", "CVE-2021-23337", lodash, status=VexStatus.AFFECTED),
        finding("f3", "scan-a", "CVE-2023-0001", Package("openssl", "3.0.7", "pkg:rpm/redhat/openssl@3.0.7"),
                severity=Severity.MEDIUM, status=VexStatus.FIXED, vex=_vex(VexStatus.FIXED, None)),
        finding("f4", "scan-b", "GHSA-aaaa-bbbb-cccc", Package("not-in-sbom", "0.1", "pkg:pypi/not-in-sbom@0.1"),
                severity=Severity.UNKNOWN, status=VexStatus.UNDER_INVESTIGATION,
                vex=_vex(VexStatus.UNDER_INVESTIGATION, None)),
        finding("f5", "scan-a", "CVE-2024-0002", Package("musl", "1.2.3"), severity=Severity.LOW,
                status=VexStatus.NOT_AFFECTED, vex=_vex(VexStatus.NOT_AFFECTED, "made_up_reason")),
        finding("f6", "scan-a", "CVE-2024-0003", None, severity=Severity.CRITICAL),
    ]
    return snapshot(scans=[a, b], findings=findings, components=components, dependencies=dependencies,
                    options=options)


def run_checker(kind: str, path: Path) -> list[str] | None:
    """Problems check_artifacts.py reports, or None when the checker is not on this machine."""
    if not CHECKER.exists():
        return None
    proc = subprocess.run([sys.executable, str(CHECKER), kind, str(path)], capture_output=True, text=True,
                          timeout=300)
    return [line for line in proc.stdout.splitlines() if line.strip()] + (
        [] if proc.returncode == 0 else [f"exit {proc.returncode}: {proc.stderr[-300:]}"])


_VALIDATORS: dict[str, Any] = {}


def cyclonedx_validator(version: str) -> Any:
    """fastjsonschema validator for the official bom-<version> schema, with spdx/jsf resolved locally."""
    if version not in _VALIDATORS:
        import fastjsonschema

        def local(uri: str) -> Any:
            return json.loads((SCHEMAS / uri.rsplit("/", 1)[-1]).read_text(encoding="utf-8"))

        schema = json.loads((SCHEMAS / f"bom-{version}.schema.json").read_text(encoding="utf-8"))
        _VALIDATORS[version] = fastjsonschema.compile(schema, handlers={"http": local, "https": local})
    return _VALIDATORS[version]
