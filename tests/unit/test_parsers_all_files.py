"""Every real file in tests/fixtures/data/{scans,sbom,vex} parses; parsing is deterministic; bad input is
refused with InvalidInputError naming the file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from exportcenter.errors import InvalidInputError
from exportcenter.sources.local.sniff import parse_document

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
ALL_FILES = sorted(p for folder in ("scans", "sbom", "vex") for p in (DATA / folder).glob("*.json"))
INGESTED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

# SOURCES.md: these are schema-invalid on purpose; they must parse with a warning saying what was off.
SCHEMA_INVALID = {
    "spdx22_syft-0.57_alpine.json": "copyrightText",
    "spdx23_claircore_604-packages.json": "OPERATING-SYSTEM",
    "spdx23_redhat_ocp-tools-4.11-3274-packages.json": "PACKAGE_MANAGER",
    "openvex_trivy-fixture.openvex.json": "without 'name'",
    "openvex_vexctl_nginx-sample-2vulns.openvex.json": "'statement'",
    "openvex_vexctl_nginx-sample-history.openvex.json": "'statement'",
    "openvex_go-vex_v0.0.1-legacy.json": "v0.0.1",
    "csaf_siemens_ssa-054046_security-advisory.json": "csaf_security_advisory",
}

EXPECTED_FORMAT_BY_PREFIX = {
    "trivy_json": "trivy-json",
    "grype_json": "grype-json",
    "trivy_sarif": "sarif",
    "grype_sarif": "sarif",
    "cdx1": "cyclonedx",
    "spdx2": "spdx",
    "cdxvex": "cyclonedx-vex",
    "csaf_": "csaf",
    "openvex_": "openvex",
}


def parse(path: Path, tenant: str = "acme"):
    return parse_document(path.read_bytes(), name=path.name, tenant=tenant, ingested_at=INGESTED)


def test_fixture_set_is_complete() -> None:
    assert len(ALL_FILES) == 69  # SOURCES.md: 84 files = 22 scans + 17 sboms + 30 vex + 15 schemas


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_every_real_file_parses_into_something(path: Path) -> None:
    parsed = parse(path)
    prefix = next(p for p in EXPECTED_FORMAT_BY_PREFIX if path.name.startswith(p))
    assert parsed.source_format == EXPECTED_FORMAT_BY_PREFIX[prefix]
    assert parsed.kinds, f"{path.name} produced nothing"
    assert parsed.digest.startswith("sha256:") and len(parsed.digest) == 71
    if parsed.scan is not None:
        assert parsed.scan.artifact_name
        assert parsed.scan.id.startswith("scan-") and len(parsed.scan.id) == 21
        assert parsed.scan.findings_count == len(parsed.findings)
        assert parsed.scan.created_at.tzinfo is not None
    finding_ids = [f.id for f in parsed.findings]
    assert len(finding_ids) == len(set(finding_ids))
    assert all(f.scan_id == parsed.scan.id for f in parsed.findings if parsed.scan)
    statement_ids = [s.id for s in parsed.vex_statements]
    assert len(statement_ids) == len(set(statement_ids))
    cg_ids = [c.id for c in parsed.code_guard_findings]
    assert len(cg_ids) == len(set(cg_ids))
    if parsed.sbom is not None:
        refs = [c.bom_ref for c in parsed.sbom.components]
        assert len(refs) == len(set(refs))
        assert parsed.sbom.id.startswith("sbom-")
    expected_warning = SCHEMA_INVALID.get(path.name)
    if expected_warning:
        assert parsed.name == path.name  # warnings do not repeat the file name: the document carries it
        assert any(expected_warning in w and not w.startswith(f"{path.name}: ") for w in parsed.warnings), parsed.warnings


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_parsing_is_deterministic(path: Path) -> None:
    assert parse(path) == parse(path)


def test_ids_depend_on_tenant_and_content() -> None:
    path = DATA / "scans" / "trivy_json_alpine-310.json"
    one, other = parse(path, "acme"), parse(path, "globex")
    assert one.scan is not None and other.scan is not None
    assert one.scan.id != other.scan.id
    assert {f.id for f in one.findings}.isdisjoint({f.id for f in other.findings})
    tweaked = path.read_bytes().replace(b'"CreatedAt"', b' "CreatedAt"', 1)
    changed = parse_document(tweaked, name=path.name, tenant="acme", ingested_at=INGESTED)
    assert changed.scan is not None and changed.scan.id != one.scan.id


def test_format_is_sniffed_from_content_not_name() -> None:
    content = (DATA / "vex" / "csaf_oasis_evd-uc-01-f-001.json").read_bytes()
    parsed = parse_document(content, name="looks-like-trivy.sarif", tenant="t", ingested_at=INGESTED)
    assert parsed.source_format == "csaf"


BAD_INPUTS = {
    "garbage.bin": bytes(range(256)) * 4,
    "not-utf8.json": b'{"a": "\xff\xfe"}',
    "empty.json": b"",
    "blank.json": b"  \n\t ",
    "empty-object.json": b"{}",
    "truncated.json": (DATA / "scans" / "trivy_json_alpine-310.json").read_bytes()[:5000],
    "array.json": b'[{"SchemaVersion": 2}]',
    "string.json": b'"hello"',
    "unknown-shape.json": b'{"kind": "inventory", "items": [1, 2, 3]}',
    "not-json.txt": b"SchemaVersion: 2\nResults: []\n",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_refused_naming_file_and_reason(name: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_document(BAD_INPUTS[name], name=name, tenant="t", ingested_at=INGESTED)
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert len(message) > len(name) + 10
    assert info.value.details["file"] == name
    assert info.value.exit_code == 2


def test_bad_input_reasons_are_specific() -> None:
    def reason(name: str) -> str:
        with pytest.raises(InvalidInputError) as info:
            parse_document(BAD_INPUTS[name], name=name, tenant="t", ingested_at=INGESTED)
        return str(info.value)

    assert "empty" in reason("empty.json")
    assert "binary" in reason("garbage.bin")
    assert "truncated" in reason("truncated.json")
    assert "array" in reason("array.json")
    assert "unrecognised" in reason("unknown-shape.json") and "kind" in reason("unknown-shape.json")
    assert "{}" in reason("empty-object.json")


def test_lone_surrogates_are_replaced_with_a_warning() -> None:
    content = (
        b'{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a\\ud800b",'
        b' "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": [{"vulnerability": {"name":'
        b' "CVE-2024-1"}, "products": [{"@id": "pkg:npm/x@1"}], "status": "fixed"}]}'
    )
    parsed = parse_document(content, name="odd.json", tenant="t", ingested_at=INGESTED)
    assert parsed.vex_statements[0].author == "a\ufffdb"
    assert any("U+FFFD" in w for w in parsed.warnings)
