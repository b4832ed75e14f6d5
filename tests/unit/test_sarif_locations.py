"""URI normalisation, subject names and security-severity rules of the SARIF renderer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rfc3986_validator import validate_rfc3986

from exportcenter.model import Finding, FindingKind, Package, Scan, Severity
from exportcenter.renderers.sarif_locations import (
    automation_id,
    finding_uri,
    image_name_without_tag,
    normalise_uri,
    scan_subject,
)
from exportcenter.renderers.sarif_model import security_severity


@pytest.mark.parametrize(("raw", "expected"), [
    ("/usr/lib/node_modules/a b/package.json", "usr/lib/node_modules/a%20b/package.json"),
    ("C:\\src\\app\\requirements.txt", "src/app/requirements.txt"),
    ("./a//b/../c", "a/b/c"),
    ("image//usr/share/doc/tar/copyright", "image/usr/share/doc/tar/copyright"),
    ("file:///opt/app/pom.xml", "opt/app/pom.xml"),
    ("weird:name/x#y?z%", "weird%3Aname/x%23y%3Fz%25"),
    ("lib/ünï.jar", "lib/%C3%BCn%C3%AF.jar"),
    ("/", None),
    ("", None),
    (None, None),
])
def test_normalise_uri(raw: str | None, expected: str | None) -> None:
    assert normalise_uri(raw) == expected
    if expected:
        assert validate_rfc3986(expected, rule="URI_reference")
        assert not validate_rfc3986(expected, rule="URI")  # relative: no scheme


@pytest.mark.parametrize(("ref", "expected"), [
    ("bkimminich/juice-shop:v10.2.0", "bkimminich/juice-shop"),
    ("localhost:5000/team/app:1.2", "localhost:5000/team/app"),
    ("localhost:5000/team/app", "localhost:5000/team/app"),
    ("nginx@sha256:" + "a" * 64, "nginx"),
    ("quay.io/x/y:latest@sha256:" + "b" * 64, "quay.io/x/y"),
])
def test_image_name_without_tag(ref: str, expected: str) -> None:
    assert image_name_without_tag(ref) == expected
    assert automation_id("scan_report", image_name_without_tag(ref)).endswith(f"/{expected}/")


def _scan(name: str, kind: str = "container_image", digest: str | None = None) -> Scan:
    return Scan(id="s1", tenant="t", source_format="trivy-json", scanner_name="trivy", scanner_version=None,
                artifact_name=name, artifact_type=kind, artifact_digest=digest, os_family=None, os_name=None,
                created_at=datetime(2024, 1, 1, tzinfo=UTC), document_digest="sha256:00")


def test_unnamed_subjects_use_kind_and_digest() -> None:
    assert scan_subject(_scan(".", "filesystem"), "x") == "filesystem"
    assert scan_subject(_scan("", digest="sha256:" + "c" * 64), "x") == "container_image-cccccccccccc"
    assert scan_subject(None, "scan-1") == "scan-1"
    assert scan_subject(_scan("https://github.com/org/repo", "repository"), "x") == "github.com/org/repo"


def _finding(package: Package | None, target: str | None = None, location: str | None = None) -> Finding:
    return Finding(id="f", scan_id="s1", kind=FindingKind.VULNERABILITY, vuln_id="CVE-1", severity=Severity.LOW,
                   raw_severity="LOW", package=package, target=target, location=location)


def test_finding_uri_prefers_manifest_then_package_database_then_fallback() -> None:
    scan = _scan("bkimminich/juice-shop:v10.2.0")
    npm = Package(name="ajv", version="5.5.2", type="node-pkg", path="/juice-shop/node_modules/ajv/package.json")
    assert finding_uri(_finding(npm), scan, "container-image", "s") == "juice-shop/node_modules/ajv/package.json"
    apk = Package(name="musl", version="1", purl="pkg:apk/alpine/musl@1", type="alpine")
    label = "bkimminich/juice-shop:v10.2.0 (alpine 3.11.5)"
    assert finding_uri(_finding(apk, target=label), scan, "container-image", "s") == "lib/apk/db/installed"
    deb = Package(name="tar", version="1", type="debian")
    assert finding_uri(_finding(deb, target="nginx:1.25"), scan, "x", "s") == "var/lib/dpkg/status"
    lockfile = Package(name="urllib3", version="1", type="pip")
    assert finding_uri(_finding(lockfile, target="requirements.txt"), scan, "x", "s") == "requirements.txt"
    # no path anywhere and not an OS package: the configured fallback plus the subject, never the label
    jar = Package(name="thing", version="1", type="jar")
    uri = finding_uri(_finding(jar, target="Java"), scan, "/images root/", "bkimminich/juice-shop")
    assert uri == "images%20root/bkimminich/juice-shop"
    assert finding_uri(_finding(jar, target="nginx:1.25"), scan, "container-image", "nginx") == "container-image/nginx"


@pytest.mark.parametrize(("severity", "score", "expected"), [
    (Severity.CRITICAL, None, "9.5"),
    (Severity.HIGH, None, "8.0"),
    (Severity.MEDIUM, None, "5.5"),
    (Severity.LOW, None, "2.0"),
    (Severity.HIGH, 7.45, "7.5"),
    (Severity.LOW, 0.0, "2.0"),
    (Severity.CRITICAL, 12.0, "10.0"),
    (Severity.INFO, 5.0, None),
    (Severity.UNKNOWN, None, None),
])
def test_security_severity(severity: Severity, score: float | None, expected: str | None) -> None:
    assert security_severity(severity, score) == expected
