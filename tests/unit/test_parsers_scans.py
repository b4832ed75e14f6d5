"""Scanner outputs (Trivy JSON, Grype JSON, SARIF): real counts and fields from SOURCES.md."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from exportcenter.model import FindingKind, Severity, VexStatus
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.sources.local.sniff import parse_document

SCANS = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "scans"
INGESTED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def parse(name: str) -> ParsedDocument:
    return parse_document((SCANS / name).read_bytes(), name=name, tenant="acme", ingested_at=INGESTED)


def severities(parsed: ParsedDocument, kind: FindingKind = FindingKind.VULNERABILITY) -> Counter[str]:
    return Counter(f.severity.value for f in parsed.findings if f.kind is kind)


def test_trivy_juice_shop_v10_counts_and_scan_metadata() -> None:
    parsed = parse("trivy_json_juice-shop-v10.2.0.json")
    kinds = Counter(f.kind for f in parsed.findings)
    assert kinds == {FindingKind.VULNERABILITY: 236, FindingKind.SECRET: 1}
    assert severities(parsed) == {"critical": 25, "high": 128, "medium": 67, "low": 16}
    by_target = Counter(f.target for f in parsed.findings if f.kind is FindingKind.VULNERABILITY)
    assert by_target == {"bkimminich/juice-shop:v10.2.0 (alpine 3.11.5)": 47, "Node.js": 189}
    scan = parsed.scan
    assert scan is not None
    assert scan.artifact_name == "bkimminich/juice-shop:v10.2.0"
    assert scan.artifact_digest == "sha256:21ef0dc04325e8ee21e385dc672460ed6b5c058cef1fedb84086ed5fca3f91cd"
    assert scan.repo_digests[0].startswith("bkimminich/juice-shop@sha256:b1802758")
    assert (scan.os_family, scan.os_name) == ("alpine", "3.11.5")
    assert scan.created_at.date().isoformat() == "2024-10-28"
    secret = next(f for f in parsed.findings if f.kind is FindingKind.SECRET)
    assert (secret.vuln_id, secret.severity, secret.location, secret.start_line) == (
        "private-key", Severity.HIGH, "/juice-shop/lib/insecurity.js", 19)
    assert "BEGIN RSA" not in (secret.description or "")  # never copy the (masked) secret text


def test_trivy_all_statuses_keeps_each_status() -> None:
    parsed = parse("trivy_json_all-statuses.json")
    assert severities(parsed) == {"low": 8}
    assert {f.raw_severity for f in parsed.findings} == {"LOW"}
    statuses = {f.scanner_status: f.status for f in parsed.findings}
    assert set(statuses) == {"affected", "end_of_life", "fix_deferred", "fixed", "not_affected",
                             "under_investigation", "unknown", "will_not_fix"}
    assert statuses["not_affected"] is VexStatus.NOT_AFFECTED
    assert statuses["under_investigation"] is VexStatus.UNDER_INVESTIGATION
    assert statuses["fixed"] is VexStatus.AFFECTED  # Trivy "fixed" = a fix exists, not that it is applied
    # ArtifactName is empty in this file: fall back to the image named in the OS result
    assert parsed.scan is not None and parsed.scan.artifact_name == "noppaknopsta/example-app:main-159"


def test_trivy_cvss_v4_and_v3_entries_with_sources() -> None:
    parsed = parse("trivy_json_cvssv4-filesystem.json")
    first = parsed.findings[0]
    by_version = {(c.version, c.source): c for c in first.cvss}
    assert by_version[("4.0", "ghsa")].score == 6.3
    assert by_version[("4.0", "ghsa")].vector.startswith("CVSS:4.0/")
    assert by_version[("3.1", "redhat")].score == 5.3
    assert parsed.scan is not None and parsed.scan.scanner_version == "0.69.1"
    assert parsed.scan.artifact_type == "filesystem"


def test_trivy_alpine_cvss_v2_and_v3_all_kept() -> None:
    parsed = parse("trivy_json_alpine-310.json")
    assert len(parsed.findings) == 4 and severities(parsed) == {"medium": 4}
    cvss = {(c.version, c.source) for c in parsed.findings[0].cvss}
    assert cvss == {("2.0", "nvd"), ("3.1", "nvd"), ("3.0", "redhat")}
    assert parsed.findings[0].package is not None
    assert parsed.findings[0].package.purl == "pkg:apk/alpine/libcrypto1.1@1.1.1c-r0?arch=x86_64&distro=3.10.2"
    assert parsed.findings[0].cwes == ("CWE-330",)


def test_trivy_misconfigurations_and_secrets() -> None:
    parsed = parse("trivy_json_misconfig-and-secrets.json")
    kinds = Counter(f.kind.value for f in parsed.findings)
    assert kinds == {"vulnerability": 2, "misconfiguration": 1, "secret": 2}
    misconf = next(f for f in parsed.findings if f.kind is FindingKind.MISCONFIGURATION)
    assert (misconf.vuln_id, misconf.severity, misconf.location) == ("DS002", Severity.HIGH, "Dockerfile")
    assert "Resolution:" in (misconf.description or "")


def test_trivy_repository_and_empty_reports() -> None:
    repo = parse("trivy_json_securecodebox-repo.json")
    assert Counter(f.kind.value for f in repo.findings) == {"vulnerability": 42, "secret": 1}
    assert repo.scan is not None and repo.scan.artifact_type == "repository"
    empty = parse("trivy_json_no-vulns.json")
    assert empty.findings == () and empty.scan is not None
    assert empty.scan.created_at == INGESTED  # the file has no CreatedAt
    assert parse("trivy_json_juice-shop-v12.10.2.json").scan.findings_count == 182 + 3  # type: ignore[union-attr]


def test_grype_old_layout_defectdojo_severity_mapping() -> None:
    parsed = parse("grype_json_defectdojo-1.13.1-many.json")
    assert len(parsed.findings) == 327
    assert severities(parsed) == {"critical": 5, "high": 24, "medium": 155, "low": 27, "info": 106, "unknown": 10}
    assert Counter(f.raw_severity for f in parsed.findings)["Negligible"] == 106
    assert all(c.version == "2.0" for f in parsed.findings for c in f.cvss if c.vector and "Au:" in c.vector)
    assert parsed.scan is not None and parsed.scan.artifact_name == "defectdojo/defectdojo-django:1.13.1"
    assert parsed.scan.scanner_version == "0.7.0"


def test_grype_old_layout_python_1567_matches_with_fixes() -> None:
    parsed = parse("grype_json_python-3.7.10-1567matches.json")
    assert len(parsed.findings) == 1567
    assert sum(1 for f in parsed.findings if f.fixed_version) == 15  # fixedInVersion in the old layout
    assert sum(1 for f in parsed.findings if any(c.version.startswith("3") for c in f.cvss)) == 2  # cvssV3
    assert parsed.scan is not None and parsed.scan.artifact_digest.startswith("sha256:26999876")


def test_grype_match_without_severity_is_unknown() -> None:
    parsed = parse("grype_json_issue-9618-strimzi.json")
    assert len(parsed.findings) == 35
    missing = [f for f in parsed.findings if f.raw_severity is None]
    assert len(missing) == 1
    assert missing[0].severity is Severity.UNKNOWN
    assert missing[0].aliases == ("GHSA-4265-ccf5-phj5",)  # relatedVulnerabilities
    assert missing[0].fixed_version == "1.26.0" and missing[0].scanner_status == "fixed"
    assert parsed.scan is not None and parsed.scan.os_family == "redhat"


def test_grype_current_layout_epss_kev_cvss_and_fix() -> None:
    busybox = parse("grype_json_busybox-epss.json")
    assert len(busybox.findings) == 15
    first = busybox.findings[0]
    assert (first.epss, first.epss_percentile) == (0.0719, 0.91123)
    assert {c.version for c in first.cvss} == {"3.1", "2.0"}
    assert busybox.scan is not None and busybox.scan.created_at.year == 2025
    golden = parse("grype_json_presenter-image-golden.json")
    kev = {f.vuln_id: f.kev for f in golden.findings}
    assert kev["CVE-1999-0002"] is True
    fixed = next(f for f in golden.findings if f.vuln_id == "CVE-1999-0001")
    assert fixed.fixed_version == "1.2.1, 2.1.3, 3.4.0"


def test_grype_true_duplicates_get_distinct_deterministic_ids() -> None:
    parsed = parse("grype_json_check-all-fields.json")
    assert len(parsed.findings) == 6
    django = [f for f in parsed.findings if f.vuln_id == "GHSA-v6rh-hp5x-86rv"]
    assert len(django) == 2 and django[1].id == django[0].id + "-2"
    assert Counter(f.raw_severity for f in parsed.findings)["Negligible"] == 1


def test_sarif_results_become_code_guard_findings() -> None:
    trivy = parse("trivy_sarif_nginx.sarif.json")
    assert len(trivy.code_guard_findings) == 99
    assert {c.tool_name for c in trivy.code_guard_findings} == {"Trivy"}
    grype = parse("grype_sarif_nginx.sarif.json")
    assert len(grype.code_guard_findings) == 99
    assert grype.code_guard_findings[0].tool_version == "0.63.0"
    alpine = parse("trivy_sarif_alpine-310.sarif.json")
    first = alpine.code_guard_findings[0]
    assert (first.rule_id, first.rule_name, first.level) == ("CVE-2019-1549", "OsPackageVulnerability", "warning")
    assert first.uri == "testdata/fixtures/images/alpine-310.tar.gz" and first.start_line == 1
    assert alpine.kinds == ("code_guard",) and alpine.scan is None


def test_sarif_rule_lookup_by_index_and_security_severity() -> None:
    golden = parse("grype_sarif_presenter-image-golden.sarif.json")
    assert len(golden.code_guard_findings) == 2
    # security-severity properties give the severity, not the SARIF level
    assert all(c.severity is not Severity.UNKNOWN for c in golden.code_guard_findings)
    assert all(c.rule_name for c in golden.code_guard_findings)
