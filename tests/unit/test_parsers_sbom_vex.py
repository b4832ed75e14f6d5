"""SBOMs (CycloneDX, SPDX) and VEX (CycloneDX VEX, OpenVEX, CSAF): real counts from SOURCES.md."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from exportcenter.model import License, Severity, VexStatus
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.sources.local.sniff import parse_document

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
INGESTED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def parse(relative: str) -> ParsedDocument:
    path = DATA / relative
    return parse_document(path.read_bytes(), name=path.name, tenant="acme", ingested_at=INGESTED)


def test_cyclonedx_quarkus_1761_components_and_dependencies() -> None:
    parsed = parse("sbom/cdx16_redhat_quarkus-camel-bom-1761-components.json")
    sbom = parsed.sbom
    assert sbom is not None and parsed.scan is None
    assert (sbom.spec_version, len(sbom.components), len(sbom.dependencies)) == ("1.6", 1761, 1431)
    assert sbom.created_at == datetime(2025, 4, 8, 6, 32, 49, tzinfo=UTC)
    crac = next(c for c in sbom.components if c.name == "org-crac")
    assert crac.licenses == (License("id", "BSD-2-Clause"),)
    assert crac.group == "io.github.crac" and crac.purl and crac.purl.startswith("pkg:maven/")


def test_cyclonedx_licences_as_id_expression_and_name() -> None:
    openssl = parse("sbom/cdx16_redhat_openssl-3.0.7-18.el9_2.json").sbom
    assert openssl is not None and len(openssl.components) == 37 and len(openssl.dependencies) == 6
    assert sum(1 for c in openssl.components for lic in c.licenses if lic.kind == "expression") == 36
    trivy = parse("sbom/cdx15_trivy-0.48.1_image-with-vulns.json").sbom
    assert trivy is not None and any(lic.kind == "name" for c in trivy.components for lic in c.licenses)
    zookeeper = parse("sbom/cdx14_cyclonedx-maven_zookeeper-3.9.2.json").sbom
    assert zookeeper is not None and (len(zookeeper.components), len(zookeeper.dependencies)) == (40, 41)
    assert all(c.hashes for c in zookeeper.components)


def test_cyclonedx_with_vulnerabilities_is_a_scan_and_an_sbom() -> None:
    parsed = parse("sbom/cdx15_trivy-0.48.1_image-with-vulns.json")
    assert parsed.kinds == ("scan", "sbom")
    assert parsed.sbom is not None and len(parsed.sbom.components) == 102
    assert len({f.vuln_id for f in parsed.findings}) == 10  # 10 vulnerabilities, one finding per affects
    assert parsed.scan is not None and parsed.scan.artifact_name == "ubuntu:latest"
    assert parsed.scan.artifact_digest == "sha256:6042500cf4b44023ea1894effe7890666b0c5c7871ed83a97c36c76ae560bb9b"
    first = next(f for f in parsed.findings if f.vuln_id == "CVE-2016-2781")
    assert first.raw_severity == "low" and first.severity is Severity.LOW  # rating from the vuln's source
    assert {(c.version, c.source) for c in first.cvss} >= {("2.0", "nvd"), ("3.0", "nvd"), ("3.0", "redhat")}
    assert first.package is not None and first.package.name == "coreutils"
    assert first.cwes == ("CWE-20",)


def test_cyclonedx_grype_log4j_in_triage() -> None:
    parsed = parse("sbom/cdx14_grype-0.41_log4j-with-vulns.json")
    assert len(parsed.findings) == 8
    assert {f.status for f in parsed.findings} == {VexStatus.UNDER_INVESTIGATION}
    log4shell = next(f for f in parsed.findings if f.vuln_id == "CVE-2021-44228")
    assert log4shell.severity is Severity.CRITICAL
    assert {c.version for c in log4shell.cvss} == {"2.0", "3.1"}


def test_cyclonedx_17_and_kbom() -> None:
    npm = parse("sbom/cdx17_trivy_npm-with-vulns.json")
    assert npm.spec_version == "1.7" and len(npm.findings) == 1 and npm.sbom is not None
    assert len(npm.sbom.components) == 13
    kbom = parse("sbom/cdx15_trivy_minikube-kbom.json")
    assert kbom.scan is None and kbom.sbom is not None and len(kbom.sbom.components) == 18


def test_spdx_ocp_tools_3274_packages_with_22_spelling_purls() -> None:
    parsed = parse("sbom/spdx23_redhat_ocp-tools-4.11-3274-packages.json")
    sbom = parsed.sbom
    assert sbom is not None and sbom.spec_version == "2.3"
    assert len(sbom.components) == 3274
    assert sum(1 for c in sbom.components if c.purl) == 3273
    jenkins = next(c for c in sbom.components if c.name == "jenkins")
    assert jenkins.purl == "pkg:rpm/redhat/jenkins@2.426.3.1706516929-3.el8?arch=src"
    assert jenkins.supplier == "Red Hat"
    assert jenkins.licenses == (License("id", "LicenseRef-1"),)  # concluded NOASSERTION -> declared
    edges = sum(len(d.depends_on) for d in sbom.dependencies)
    assert edges == 3323  # every CONTAINED_BY, reversed; PACKAGE_OF and DESCRIBES are not dependencies
    assert sbom.created_at == datetime(2024, 9, 4, 11, 34, 57, tzinfo=UTC)


def test_spdx_22_and_relationship_directions() -> None:
    ubi = parse("sbom/spdx22_redhat_ubi9-9.2-755.json").sbom
    assert ubi is not None and ubi.spec_version == "2.2" and len(ubi.components) == 610
    assert sum(1 for c in ubi.components if c.purl) > 600  # PACKAGE_MANAGER is the 2.2 spelling
    example = parse("sbom/spdx23_spdx-spec-example.json").sbom
    assert example is not None and len(example.components) == 4
    expression = [lic for c in example.components for lic in c.licenses if lic.kind == "expression"]
    assert License("expression", "(LGPL-2.0-only OR LicenseRef-3)") in expression
    conda = parse("sbom/spdx23_trivy_conda.json").sbom
    assert conda is not None and len(conda.components) == 3


def test_openvex_trivy_project_21_statements() -> None:
    parsed = parse("vex/openvex_trivy-project.openvex.json")
    statements = parsed.vex_statements
    assert len(statements) == 21
    assert {s.status for s in statements} == {VexStatus.NOT_AFFECTED}
    assert all(s.justification for s in statements)
    helm = next(s for s in statements if s.vuln_id == "GO-2024-2575")
    assert helm.aliases == ("CVE-2024-26147", "GHSA-r53h-jv2g-vpx6")
    assert helm.products == ("pkg:golang/github.com/aquasecurity/trivy",)
    assert helm.subcomponents == ("pkg:golang/helm.sh/helm/v3",)
    assert helm.author == "Aqua Security" and helm.timestamp is not None


def test_openvex_v020_and_legacy() -> None:
    v020 = parse("vex/openvex_go-vex_v0.2.0-5stmts.json").vex_statements
    assert Counter(s.status for s in v020) == {VexStatus.FIXED: 3, VexStatus.NOT_AFFECTED: 2}
    assert all(len(s.products) == 1 and len(s.subcomponents) == 2 for s in v020)
    legacy = parse("vex/openvex_go-vex_v0.0.1-legacy.json")
    (only,) = legacy.vex_statements
    assert (only.vuln_id, only.status) == ("CVE-2023-12345", VexStatus.FIXED)
    assert only.products == ("pkg:apk/wolfi/git@2.39.0-r1?arch=armv7", "pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64")
    history = parse("vex/openvex_vexctl_nginx-sample-history.openvex.json").vex_statements
    assert len(history) == 2 and history[0].timestamp != history[1].timestamp


def test_csaf_large_red_hat_statuses_and_products() -> None:
    parsed = parse("vex/csaf_redhat_cve-2023-33201-large.json")
    counts = Counter(s.status for s in parsed.vex_statements)
    assert counts == {VexStatus.FIXED: 25, VexStatus.AFFECTED: 21, VexStatus.NOT_AFFECTED: 334}
    assert {s.vuln_id for s in parsed.vex_statements} == {"CVE-2023-33201"}
    purls = [p for s in parsed.vex_statements for p in (*s.products, *s.subcomponents) if p.startswith("pkg:")]
    assert purls  # product tree resolved to purls through relationships
    assert parsed.warnings == ()


def test_csaf_flags_threats_remediations() -> None:
    parsed = parse("vex/csaf_redhat_cve-2023-20862.json")
    counts = Counter(s.status for s in parsed.vex_statements)
    assert counts == {VexStatus.AFFECTED: 13, VexStatus.NOT_AFFECTED: 9}
    not_affected = [s for s in parsed.vex_statements if s.status is VexStatus.NOT_AFFECTED]
    assert {s.justification for s in not_affected} == {"vulnerable_code_not_present"}
    jenkins = next(s for s in parsed.vex_statements if "cpe:/a:redhat:ocp_tools" in s.products)
    assert jenkins.impact_statement == "Moderate"
    assert jenkins.action_statement == "none_available: Affected"
    oasis = parse("vex/csaf_oasis_evd-uc-01-na-001.json").vex_statements
    assert oasis[0].impact_statement == "Class with vulnerable code was removed before shipping."
    assert oasis[0].products == ("Example Company ABC 4.2", "CSAFPID-0001")  # no purl/CPE: name, then id


def test_csaf_security_advisory_is_accepted_with_warning() -> None:
    parsed = parse("vex/csaf_siemens_ssa-054046_security-advisory.json")
    assert len(parsed.vex_statements) == 138
    assert {s.status for s in parsed.vex_statements} == {VexStatus.AFFECTED}
    assert any("csaf_security_advisory" in w for w in parsed.warnings)


def test_cyclonedx_vex_documents() -> None:
    case2 = parse("vex/cdxvex_cisa-case2-19vulns.json")
    assert case2.source_format == "cyclonedx-vex" and case2.sbom is None and case2.scan is None
    assert len(case2.vex_statements) == 19
    assert {s.products for s in case2.vex_statements} == {("product-ABC",)}
    assert {s.justification for s in case2.vex_statements} == {"code_not_reachable"}
    trivy = parse("vex/cdxvex15_trivy-testdata.json").vex_statements
    assert trivy[0].products == ("pkg:maven/org.springframework.boot/spring-boot@2.6.0",)  # BOM-link fragment
    states = {
        name: parse(f"vex/cdxvex_cisa-case1-{name}.json").vex_statements[0].status
        for name in ("affected", "fixed", "not_affected", "under_investigation")
    }
    assert states == {"affected": VexStatus.AFFECTED, "fixed": VexStatus.FIXED,
                      "not_affected": VexStatus.NOT_AFFECTED, "under_investigation": VexStatus.UNDER_INVESTIGATION}
    false_positive = parse("vex/cdxvex16_guac_false-positive.json").vex_statements
    assert {s.status for s in false_positive} == {VexStatus.NOT_AFFECTED}
