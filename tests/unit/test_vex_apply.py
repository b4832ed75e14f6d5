"""apply_vex on the real nginx SARIF scan and the real OpenVEX / CycloneDX VEX files.

The VEX files are read with a minimal converter here (field for field what the OpenVEX and CycloneDX
documents say), so these tests do not depend on the ingest parsers; test_vex_real_parser.py repeats the
key cases through the real parser.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from exportcenter.model import (
    Component,
    Finding,
    FindingKind,
    Package,
    Scan,
    Severity,
    VexDecision,
    VexStatement,
    VexStatus,
)
from exportcenter.util.timeutil import parse_time
from exportcenter.vex import apply_vex, vuln_key

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
NGINX_DIGEST = "sha256:13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0"
ALPINE_DIGEST = "sha256:124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _load(relative: str) -> dict[str, Any]:
    return json.loads((DATA / relative).read_text(encoding="utf-8"))


def openvex_statements(relative: str) -> list[VexStatement]:
    doc = _load(relative)
    doc_time = parse_time(doc.get("timestamp"))
    out = []
    for index, raw in enumerate(doc["statements"]):
        vuln = raw["vulnerability"]
        products = [p["@id"] for p in raw["products"]]
        subs = [s["@id"] for p in raw["products"] for s in p.get("subcomponents", [])]
        out.append(
            VexStatement(
                id=f"{relative}#{index}",
                document_id=doc["@id"],
                source_format="openvex",
                vuln_id=vuln.get("name") or vuln["@id"],
                status=VexStatus(raw["status"]),
                products=tuple(products),
                aliases=tuple(vuln.get("aliases", ())),
                subcomponents=tuple(subs),
                justification=raw.get("justification"),
                impact_statement=raw.get("impact_statement"),
                timestamp=parse_time(raw.get("timestamp")) or doc_time,
            )
        )
    return out


def cyclonedx_statements(relative: str) -> list[VexStatement]:
    doc = _load(relative)
    states = {"not_affected": VexStatus.NOT_AFFECTED, "resolved": VexStatus.FIXED,
              "exploitable": VexStatus.AFFECTED, "in_triage": VexStatus.UNDER_INVESTIGATION}
    return [
        VexStatement(
            id=f"{relative}#{i}", document_id=relative, source_format="cyclonedx-vex", vuln_id=v["id"],
            status=states[v["analysis"]["state"]], products=tuple(a["ref"] for a in v["affects"]),
            justification=v["analysis"].get("justification"),
        )
        for i, v in enumerate(doc["vulnerabilities"])
    ]


def nginx_scan_and_findings() -> tuple[Scan, list[Finding]]:
    """The real Trivy SARIF scan of the nginx image: one finding per result, package from the location."""
    run = _load("scans/trivy_sarif_nginx.sarif.json")["runs"][0]
    props = run["properties"]
    scan = Scan(
        id="scan-nginx", tenant="default", source_format="sarif", scanner_name="Trivy", scanner_version=None,
        artifact_name=props["imageName"], artifact_type="container_image", artifact_digest=None,
        os_family="debian", os_name="12", created_at=T0, document_digest="sha256:" + "0" * 64,
        repo_digests=tuple(props["repoDigests"]),
    )
    findings = []
    for index, result in enumerate(run["results"]):
        label = result["locations"][0]["message"]["text"].split(": ", 1)[1]  # "apt@2.6.1"
        name, _, version = label.partition("@")
        purl = f"pkg:deb/debian/{name}@{version.replace(':', '%3A')}?arch=amd64&distro=debian-12"
        findings.append(
            Finding(id=f"f{index}", scan_id=scan.id, kind=FindingKind.VULNERABILITY, vuln_id=result["ruleId"],
                    severity=Severity.LOW, raw_severity=None, package=Package(name, version, purl, "deb"))
        )
    return scan, findings


def _by_vuln(findings: list[Finding] | tuple[Finding, ...], vuln: str) -> list[Finding]:
    return [f for f in findings if f.vuln_id == vuln]


def test_real_nginx_vex_sets_status_and_justification_and_leaves_open_counts() -> None:
    scan, findings = nginx_scan_and_findings()
    statements = openvex_statements("vex/openvex_vexctl_nginx-sample-2vulns.openvex.json")
    outcome = apply_vex([scan], findings, statements)

    libde = _by_vuln(outcome.findings, "CVE-2023-27103")
    shadow = _by_vuln(outcome.findings, "CVE-2007-5686")
    assert [f.package.name for f in libde if f.package] == ["libde265-0"]
    assert sorted(f.package.name for f in shadow if f.package) == ["login", "passwd"]
    assert {f.status for f in libde} == {VexStatus.NOT_AFFECTED}
    assert {f.status for f in shadow} == {VexStatus.FIXED}
    assert libde[0].vex is not None and libde[0].vex.justification == "component_not_present"
    assert libde[0].vex.statement_id == statements[0].id
    changed = [f for f in outcome.findings if f.vex is not None]
    assert len(changed) == 3
    open_before = sum(f.is_open for f in findings)
    assert sum(f.is_open for f in outcome.findings) == open_before - 3 == len(findings) - 3
    assert outcome.applied == tuple(statements) and outcome.unmatched == () and outcome.warnings == ()
    # untouched findings are the very same objects, in the same order
    assert [f.id for f in outcome.findings] == [f.id for f in findings]
    assert outcome.findings[0] is findings[0]


def test_history_file_latest_statement_wins() -> None:
    scan, findings = nginx_scan_and_findings()
    older, newer = openvex_statements("vex/openvex_vexctl_nginx-sample-history.openvex.json")
    assert older.timestamp is not None and newer.timestamp is not None and newer.timestamp > older.timestamp
    for order in ([older, newer], [newer, older]):
        outcome = apply_vex([scan], findings, order)
        (libde,) = _by_vuln(outcome.findings, "CVE-2023-27103")
        assert libde.vex is not None and libde.vex.statement_id == newer.id
        assert outcome.superseded == (older,)
        assert set(outcome.applied) == {older, newer} and not outcome.unmatched


def test_latest_wins_even_when_it_reopens_and_ties_go_to_document_order() -> None:
    scan, findings = nginx_scan_and_findings()
    base = openvex_statements("vex/openvex_vexctl_nginx-sample-history.openvex.json")[0]
    reopened = VexStatement(**{**_fields(base), "id": "reopen", "status": VexStatus.AFFECTED,
                               "justification": None, "timestamp": datetime(2030, 1, 1, tzinfo=UTC)})
    outcome = apply_vex([scan], findings, [reopened, base])
    (libde,) = _by_vuln(outcome.findings, "CVE-2023-27103")
    assert libde.status is VexStatus.AFFECTED and libde.is_open and libde.vex is not None
    assert libde.vex.statement_id == "reopen"
    tie_a = VexStatement(**{**_fields(base), "id": "a", "timestamp": None})
    tie_b = VexStatement(**{**_fields(base), "id": "b", "status": VexStatus.FIXED, "timestamp": None})
    (libde,) = _by_vuln(apply_vex([scan], findings, [tie_a, tie_b]).findings, "CVE-2023-27103")
    assert libde.vex is not None and libde.vex.statement_id == "b" and libde.status is VexStatus.FIXED


def _fields(statement: VexStatement) -> dict[str, Any]:
    return {name: getattr(statement, name) for name in VexStatement.__dataclass_fields__}


@pytest.mark.parametrize(
    ("product", "matches"),
    [
        (NGINX_DIGEST, True),
        (f"nginx@{NGINX_DIGEST}", True),
        (f"docker.io/library/nginx@{NGINX_DIGEST}", True),
        ("pkg:oci/nginx@sha256%3A13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0", True),
        ("pkg:oci/nginx@sha256%3A13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0"
         "?repository_url=index.docker.io/library/nginx", True),
        ("pkg:oci/nginx@sha256%3A13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0"
         "?repository_url=ghcr.io/someone/nginx", False),
        (f"ghcr.io/someone/nginx@{NGINX_DIGEST}", False),
        (ALPINE_DIGEST, False),
        ("pkg:oci/nginx", True),  # no digest, no repository_url: the image name decides
        ("pkg:oci/nginx?tag=1.25", False),  # the scan has no tag: a qualifier it cannot show
        ("pkg:oci/nginx?arch=amd64", False),  # without a digest, every qualifier must be shown by the scan
        ("pkg:oci/nginx@sha256%3A13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0?arch=amd64", True),
        ("pkg:oci/alpine", False),
    ],
)
def test_image_digest_oci_purl_and_image_reference_identify_the_image(product: str, matches: bool) -> None:
    scan, findings = nginx_scan_and_findings()
    statement = VexStatement(id="s", document_id="d", source_format="openvex", vuln_id="CVE-2023-27103",
                             status=VexStatus.NOT_AFFECTED, products=(product,))
    outcome = apply_vex([scan], findings, [statement])
    (libde,) = _by_vuln(outcome.findings, "CVE-2023-27103")
    assert (libde.status is VexStatus.NOT_AFFECTED) is matches
    assert (outcome.unmatched == ()) is matches


def test_scan_known_only_by_image_id_digest_still_matches() -> None:
    scan, findings = nginx_scan_and_findings()
    bare = Scan(**{**{n: getattr(scan, n) for n in Scan.__dataclass_fields__},
                   "artifact_name": "", "repo_digests": (), "artifact_digest": NGINX_DIGEST})
    statements = openvex_statements("vex/openvex_vexctl_nginx-sample-2vulns.openvex.json")
    outcome = apply_vex([bare], findings, statements)
    assert sum(f.vex is not None for f in outcome.findings) == 3


def test_alias_match_in_both_directions_and_case_insensitive_ids() -> None:
    scan, findings = nginx_scan_and_findings()
    product = ("pkg:oci/nginx@sha256%3A13d22ec63300e16014d4a42aed735207a8b33c223cff19627dd3042e5a10a3a0",)
    # the statement is filed under the Snyk id, with the CVE as an alias (lower case)
    by_alias = VexStatement(id="s1", document_id="d", source_format="openvex",
                            vuln_id="SNYK-DEBIAN12-LIBDE265-3361563", aliases=("cve-2023-27103",),
                            status=VexStatus.NOT_AFFECTED, products=product)
    (libde,) = _by_vuln(apply_vex([scan], findings, [by_alias]).findings, "CVE-2023-27103")
    assert libde.status is VexStatus.NOT_AFFECTED
    # the finding carries the GHSA id and the CVE as an alias; the statement uses the CVE
    ghsa = Finding(id="g", scan_id=scan.id, kind=FindingKind.VULNERABILITY, vuln_id="GHSA-r53h-jv2g-vpx6",
                   aliases=("CVE-2024-26147",), severity=Severity.HIGH, raw_severity="HIGH",
                   package=Package("helm", "3.14.0", "pkg:golang/helm.sh/helm/v3@v3.14.0", "gomod"))
    by_cve = VexStatement(id="s2", document_id="d", source_format="openvex", vuln_id="cve-2024-26147",
                          status=VexStatus.FIXED, products=("pkg:golang/helm.sh/helm/v3",))
    (result,) = apply_vex([scan], [ghsa], [by_cve]).findings
    assert result.status is VexStatus.FIXED
    assert vuln_key("ghsa-R53H-jv2g-vpx6") == vuln_key("GHSA-r53h-jv2g-vpx6")
    assert vuln_key("https://pkg.go.dev/vuln/GO-2024-2575") == "GO-2024-2575"
    assert vuln_key("go-2024-2575") != vuln_key("GO-2024-2575")  # only CVE/GHSA ids ignore case


@pytest.mark.parametrize(
    ("product", "matches"),
    [
        ("pkg:deb/debian/libde265-0", True),  # no version: every version
        ("pkg:deb/debian/libde265-0@1.0.11-1", True),
        ("pkg:deb/debian/libde265-0@1.0.10-1", False),
        ("pkg:deb/debian/libde265-0?arch=amd64", True),
        ("pkg:deb/debian/libde265-0?arch=arm64", False),  # qualifier mismatch
        ("pkg:deb/debian/libde265-0?distro=debian-11", False),
        ("pkg:deb/debian/libde265-0?repository_url=deb.example.org", False),  # qualifier the scan lacks
        ("pkg:deb/debian/libde265-dev", False),
    ],
)
def test_package_purl_products(product: str, matches: bool) -> None:
    scan, findings = nginx_scan_and_findings()
    statement = VexStatement(id="s", document_id="d", source_format="openvex", vuln_id="CVE-2023-27103",
                             status=VexStatus.NOT_AFFECTED, products=(product,))
    (libde,) = _by_vuln(apply_vex([scan], findings, [statement]).findings, "CVE-2023-27103")
    assert (libde.status is VexStatus.NOT_AFFECTED) is matches


def _alpine_scan_with_openssl_findings() -> tuple[Scan, list[Finding]]:
    scan = Scan(id="scan-alpine", tenant="default", source_format="trivy-json", scanner_name="Trivy",
                scanner_version=None, artifact_name=f"alpine@{ALPINE_DIGEST}", artifact_type="container_image",
                artifact_digest=None, os_family="alpine", os_name="3.18", created_at=T0,
                document_digest="sha256:" + "1" * 64)
    findings = []
    for package, version in (("libssl3", "3.0.8-r3"), ("libcrypto3", "3.0.8-r3"), ("openssl", "3.0.8-r3")):
        for vuln in ("CVE-2023-2650", "CVE-2023-3446"):
            findings.append(Finding(
                id=f"{package}-{vuln}", scan_id=scan.id, kind=FindingKind.VULNERABILITY, vuln_id=vuln,
                severity=Severity.MEDIUM, raw_severity="MEDIUM",
                package=Package(package, version, f"pkg:apk/alpine/{package}@{version}?arch=x86_64", "apk")))
    return scan, findings


def test_subcomponents_narrow_an_image_statement_to_those_packages() -> None:
    scan, findings = _alpine_scan_with_openssl_findings()
    statements = openvex_statements("vex/openvex_go-vex_v0.2.0-5stmts.json")
    outcome = apply_vex([scan], findings, statements)
    status = {f.id: f.status for f in outcome.findings}
    assert status["libssl3-CVE-2023-2650"] is VexStatus.FIXED
    assert status["libcrypto3-CVE-2023-2650"] is VexStatus.FIXED
    assert status["libssl3-CVE-2023-3446"] is VexStatus.NOT_AFFECTED
    # openssl is in the image but not a named subcomponent: untouched
    assert status["openssl-CVE-2023-2650"] is VexStatus.AFFECTED
    assert status["openssl-CVE-2023-3446"] is VexStatus.AFFECTED
    decided = next(f for f in outcome.findings if f.id == "libssl3-CVE-2023-3446")
    assert decided.vex is not None and decided.vex.impact_statement == "affected functions were removed before packaging"
    # CVE-2023-1255, 2975 and 3817 have no finding: unmatched and warned about, one warning each
    assert sorted(s.vuln_id for s in outcome.unmatched) == ["CVE-2023-1255", "CVE-2023-2975", "CVE-2023-3817"]
    assert len(outcome.warnings) == 3
    for statement, warning in zip(outcome.unmatched, outcome.warnings, strict=True):
        assert statement.id in warning and statement.vuln_id in warning


def test_subcomponents_in_another_image_do_not_match() -> None:
    scan, findings = _alpine_scan_with_openssl_findings()
    other = Scan(**{**{n: getattr(scan, n) for n in Scan.__dataclass_fields__},
                    "artifact_name": "alpine:3.18", "repo_digests": ()})
    outcome = apply_vex([other], findings, openvex_statements("vex/openvex_go-vex_v0.2.0-5stmts.json"))
    assert all(f.status is VexStatus.AFFECTED for f in outcome.findings)
    assert len(outcome.unmatched) == 5


def test_trivy_project_vex_product_present_as_module_with_subcomponent() -> None:
    statements = openvex_statements("vex/openvex_trivy-project.openvex.json")
    helm = next(s for s in statements if s.vuln_id == "GO-2024-2575")
    scan = Scan(id="scan-trivy", tenant="t", source_format="trivy-json", scanner_name="Trivy", scanner_version=None,
                artifact_name="github.com/aquasecurity/trivy", artifact_type="repository", artifact_digest=None,
                os_family=None, os_name=None, created_at=T0, document_digest="sha256:" + "2" * 64)
    finding = Finding(id="h", scan_id=scan.id, kind=FindingKind.VULNERABILITY, vuln_id="CVE-2024-26147",
                      aliases=("GHSA-r53h-jv2g-vpx6",), severity=Severity.MEDIUM, raw_severity="MEDIUM",
                      package=Package("helm.sh/helm/v3", "v3.14.0", "pkg:golang/helm.sh/helm/v3@v3.14.0", "gomod"))
    (result,) = apply_vex([scan], [finding], [helm]).findings
    assert result.status is VexStatus.NOT_AFFECTED
    assert result.vex is not None and result.vex.justification == "vulnerable_code_not_in_execute_path"
    # a different project containing the same helm version is not covered by Trivy's statement
    other = Scan(**{**{n: getattr(scan, n) for n in Scan.__dataclass_fields__}, "artifact_name": "github.com/acme/app"})
    (untouched,) = apply_vex([other], [finding], [helm]).findings
    assert untouched.status is VexStatus.AFFECTED
    # ...unless the Trivy module itself is among that scan's packages (a Go binary's main module)
    main_module = Finding(id="m", scan_id=scan.id, kind=FindingKind.VULNERABILITY, vuln_id="CVE-0000-0001",
                          severity=Severity.LOW, raw_severity="LOW",
                          package=Package("trivy", "v0.53.0", "pkg:golang/github.com/aquasecurity/trivy@v0.53.0"))
    results = apply_vex([other], [finding, main_module], [helm]).findings
    assert results[0].status is VexStatus.NOT_AFFECTED


def test_cyclonedx_vex_bom_link_and_bom_ref_products() -> None:
    (jackson,) = cyclonedx_statements("vex/cdxvex_bom-examples-vex.json")
    scan, _ = nginx_scan_and_findings()
    finding = Finding(id="j", scan_id=scan.id, kind=FindingKind.VULNERABILITY, vuln_id="CVE-2020-25649",
                      severity=Severity.HIGH, raw_severity="HIGH",
                      package=Package("jackson-databind", "2.10.0",
                                      "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar", "maven"))
    (result,) = apply_vex([scan], [finding], [jackson]).findings
    assert result.status is VexStatus.NOT_AFFECTED and result.vex is not None
    assert result.vex.justification == "code_not_reachable"
    # the CISA case-1 statement names the product by a bom-ref: resolved through the components given
    (abc,) = cyclonedx_statements("vex/cdxvex_cisa-case1-not_affected.json")
    log4j = Finding(id="l", scan_id=scan.id, kind=FindingKind.VULNERABILITY, vuln_id="CVE-2021-44228",
                    severity=Severity.CRITICAL, raw_severity="CRITICAL",
                    package=Package("abc", "4.2", "pkg:generic/acme/abc@4.2"))
    unresolved = apply_vex([scan], [log4j], [abc])
    assert unresolved.findings[0].status is VexStatus.AFFECTED and unresolved.unmatched == (abc,)
    component = Component(bom_ref="product-ABC", name="ABC", version="4.2", purl="pkg:generic/acme/abc@4.2")
    resolved = apply_vex([scan], [log4j], [abc], components=[component])
    assert resolved.findings[0].status is VexStatus.NOT_AFFECTED and resolved.applied == (abc,)


def test_under_investigation_stays_open_and_affected_statements_keep_findings_open() -> None:
    scan, findings = nginx_scan_and_findings()
    product = (NGINX_DIGEST,)
    statements = [
        VexStatement(id="ui", document_id="d", source_format="csaf", vuln_id="CVE-2023-27103",
                     status=VexStatus.UNDER_INVESTIGATION, products=product),
        VexStatement(id="fx", document_id="d", source_format="csaf", vuln_id="CVE-2007-5686",
                     status=VexStatus.FIXED, products=product),
    ]
    outcome = apply_vex([scan], findings, statements)
    assert all(f.is_open for f in _by_vuln(outcome.findings, "CVE-2023-27103"))
    assert not any(f.is_open for f in _by_vuln(outcome.findings, "CVE-2007-5686"))
    assert sum(not f.is_open for f in outcome.findings) == 2


def test_a_newer_decision_already_on_the_finding_is_kept() -> None:
    scan, findings = nginx_scan_and_findings()
    (libde,) = _by_vuln(findings, "CVE-2023-27103")
    embedded = VexDecision(status=VexStatus.FIXED, justification=None, statement_id="embedded", source="cdx",
                           timestamp=datetime(2030, 1, 1, tzinfo=UTC))
    preset = Finding(**{**{n: getattr(libde, n) for n in Finding.__dataclass_fields__},
                        "status": VexStatus.FIXED, "vex": embedded})
    statements = openvex_statements("vex/openvex_vexctl_nginx-sample-2vulns.openvex.json")
    (result,) = apply_vex([scan], [preset], statements[:1]).findings
    assert result.vex is not None and result.vex.statement_id == "embedded"


def test_no_statements_and_no_findings() -> None:
    scan, findings = nginx_scan_and_findings()
    outcome = apply_vex([scan], findings, [])
    assert outcome.findings == tuple(findings) and outcome.applied == outcome.unmatched == ()
    statements = openvex_statements("vex/openvex_vexctl_nginx-sample-2vulns.openvex.json")
    empty = apply_vex([scan], [], statements)
    assert empty.unmatched == tuple(statements) and len(empty.warnings) == 2
