"""CycloneDX renderer: schema validity (1.5 and 1.6) and bom-ref integrity on real files, VEX, ratings,
licences and determinism on the edge-case snapshot."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from exportcenter.errors import InvalidInputError
from exportcenter.model import ExportOptions, Finding, FindingKind
from exportcenter.renderers.cyclonedx import build_cyclonedx, render_cyclonedx
from exportcenter.renderers.cyclonedx_vulns import map_justification
from tests.unit.sbom_test_data import context, cyclonedx_validator, edge_case_snapshot, load_real, run_checker

REAL = ("sbom/cdx16_redhat_quarkus-camel-bom-1761-components.json", "scans/trivy_json_juice-shop-v12.10.2.json")


def _all_refs(bom: dict) -> list[str]:
    refs = [bom["metadata"]["component"]["bom-ref"]]
    stack = list(bom.get("components", []))
    while stack:
        component = stack.pop()
        refs.append(component["bom-ref"])
        stack.extend(component.get("components", []))
    return refs


def _assert_integrity(bom: dict) -> None:
    refs = _all_refs(bom)
    assert len(refs) == len(set(refs)), "bom-refs not unique"
    known = set(refs)
    for dependency in bom.get("dependencies", []):
        assert dependency["ref"] in known
        assert len(dependency["dependsOn"]) == len(set(dependency["dependsOn"]))
        assert set(dependency["dependsOn"]) <= known
    assert len({d["ref"] for d in bom.get("dependencies", [])}) == len(bom.get("dependencies", []))
    ids = [v["id"] for v in bom.get("vulnerabilities", [])]
    assert len(ids) == len(set(ids))
    for vulnerability in bom.get("vulnerabilities", []):
        assert vulnerability["affects"], vulnerability["id"]
        for affected in vulnerability["affects"]:
            assert affected["ref"] in known, (vulnerability["id"], affected["ref"])


@pytest.mark.parametrize("version", ["1.5", "1.6"])
def test_real_sbom_and_scan_is_schema_valid_with_integrity(version: str) -> None:
    snapshot = load_real(*REAL, options=ExportOptions(cyclonedx_version=version))
    bom = build_cyclonedx(snapshot, context())
    cyclonedx_validator(version)(json.loads(json.dumps(bom)))
    assert bom["specVersion"] == version
    _assert_integrity(bom)
    assert len(bom["components"]) >= 1761
    # every vulnerable package of the scan is in the BOM by purl
    purls = {c.get("purl") for c in bom["components"]}
    scan_purls = {f.package.purl for f in snapshot.findings if f.package and f.package.purl}
    assert scan_purls and scan_purls <= purls
    assert len(bom["vulnerabilities"]) == len({f.vuln_id for f in snapshot.findings if f.kind == FindingKind.VULNERABILITY})
    assert bom["metadata"]["timestamp"] == "2024-05-01T12:00:00Z"


@pytest.mark.parametrize("version", ["1.5", "1.6"])
def test_trivy_cyclonedx_input_passes_the_consumer_checker(version: str, tmp_path: Path) -> None:
    snapshot = load_real("sbom/cdx15_trivy-0.48.1_image-with-vulns.json", "scans/trivy_json_cvssv4-filesystem.json",
                         options=ExportOptions(cyclonedx_version=version))
    out = tmp_path / "sbom.cdx.json"
    with out.open("wb") as handle:
        render_cyclonedx(snapshot, handle, context())
    bom = json.loads(out.read_bytes())
    cyclonedx_validator(version)(bom)
    _assert_integrity(bom)
    methods = {r["method"] for v in bom["vulnerabilities"] for r in v["ratings"]}
    assert {"CVSSv2", "CVSSv3", "CVSSv31", "CVSSv4"} <= methods
    problems = run_checker("cdx", out)
    if problems is not None:
        assert problems == []


def _vuln(bom: dict, vuln_id: str) -> dict:
    return next(v for v in bom["vulnerabilities"] if v["id"] == vuln_id)


def test_edge_cases_refs_merge_rename_and_resolve() -> None:
    ctx = context()
    bom = build_cyclonedx(edge_case_snapshot(), ctx)
    cyclonedx_validator("1.6")(json.loads(json.dumps(bom)))
    _assert_integrity(bom)
    by_ref = {c["bom-ref"]: c for c in bom["components"]}
    # "dup" was used by two different packages: the later in sorted order is renamed
    assert by_ref["dup"]["name"] == "left-pad" and by_ref["dup#2"]["name"] == "lodash"
    # the ghost dependency and self-loop are gone, duplicates collapsed
    deps = {d["ref"]: d["dependsOn"] for d in bom["dependencies"]}
    assert deps["dup"] == ["lodash-copy", "openssl"]
    assert "ghost" not in deps
    # the finding package absent from the SBOM was added by purl; the package-less finding hits the image
    assert "pkg:pypi/not-in-sbom@0.1" in by_ref
    image = next(ref for ref in by_ref if ref.startswith("pkg:oci/app@"))
    assert [a["ref"] for a in _vuln(bom, "CVE-2024-0003")["affects"]] == [image]
    # one entry for the id found in two images, affecting each image's own lodash
    lodash = _vuln(bom, "CVE-2021-23337")
    assert sorted(a["ref"] for a in lodash["affects"]) == ["dup#2", "lodash-copy"]
    statuses = {a["ref"]: a["versions"][0]["status"] for a in lodash["affects"]}
    assert statuses == {"dup#2": "unaffected", "lodash-copy": "affected"}
    assert lodash["analysis"]["state"] == "exploitable"
    assert "dup#2: not_affected" in lodash["analysis"]["detail"]
    assert any("not a CycloneDX hash" in w for w in ctx.warnings)
    assert by_ref["openssl"]["hashes"] == [{"alg": "SHA-256", "content": "b" * 64}]


def test_shared_purl_in_one_scan_lists_both_components() -> None:
    snapshot = edge_case_snapshot()
    only_b = replace(snapshot, findings=tuple(f for f in snapshot.findings if f.id == "f2"),
                     components=tuple(replace(c, scan_id="scan-b") for c in snapshot.components))
    bom = build_cyclonedx(only_b, context())
    assert sorted(a["ref"] for a in _vuln(bom, "CVE-2021-23337")["affects"]) == ["dup#2", "lodash-copy"]


def test_ratings_of_every_cvss_version_and_severity_only() -> None:
    bom = build_cyclonedx(edge_case_snapshot(), context())
    ratings = _vuln(bom, "CVE-2021-23337")["ratings"]
    assert {(r["method"], r["score"]) for r in ratings} == {
        ("CVSSv2", 6.5), ("CVSSv31", 7.2), ("CVSSv3", 7.2), ("CVSSv4", 8.6)}
    assert next(r for r in ratings if r["method"] == "CVSSv2")["severity"] == "medium"
    only_severity = _vuln(bom, "GHSA-aaaa-bbbb-cccc")["ratings"]
    assert only_severity == [{"source": {"name": "grype"}, "method": "other", "severity": "unknown"}]
    assert _vuln(bom, "CVE-2021-23337")["cwes"] == [94]
    assert _vuln(bom, "CVE-2021-23337")["references"][0]["id"] == "GHSA-35jh-r3h4-6jhm"


def _only(snapshot, *ids: str):  # type: ignore[no-untyped-def]
    return replace(snapshot, findings=tuple(f for f in snapshot.findings if f.id in ids))


@pytest.mark.parametrize(("finding_id", "vuln_id", "state"), [
    ("f1", "CVE-2021-23337", "not_affected"),
    ("f2", "CVE-2021-23337", None),  # no VEX decision: no analysis claimed
    ("f3", "CVE-2023-0001", "resolved"),
    ("f4", "GHSA-aaaa-bbbb-cccc", "in_triage"),
    ("f5", "CVE-2024-0002", "not_affected"),
])
def test_vex_state_mapping(finding_id: str, vuln_id: str, state: str | None) -> None:
    bom = build_cyclonedx(_only(edge_case_snapshot(), finding_id), context())
    analysis = _vuln(bom, vuln_id).get("analysis")
    assert (analysis or {}).get("state") == state


def test_vex_justification_mapped_or_kept_in_detail() -> None:
    bom = build_cyclonedx(_only(edge_case_snapshot(), "f1", "f5"), context())
    mapped = _vuln(bom, "CVE-2021-23337")["analysis"]
    assert mapped["justification"] == "code_not_reachable"
    assert "not reachable in our build" in mapped["detail"]
    unknown = _vuln(bom, "CVE-2024-0002")["analysis"]
    assert "justification" not in unknown and "made_up_reason" in unknown["detail"]


def test_justification_table() -> None:
    assert map_justification("component_not_present") == "code_not_present"
    assert map_justification("vulnerable_code_not_present") == "code_not_present"
    assert map_justification("vulnerable_code_cannot_be_controlled_by_adversary") == "requires_environment"
    assert map_justification("inline_mitigations_already_exist") == "protected_by_mitigating_control"
    assert map_justification("protected-by-compiler") == "protected_by_compiler"
    assert map_justification("because") is None and map_justification(None) is None


def test_licences_as_id_expression_or_name() -> None:
    bom = build_cyclonedx(edge_case_snapshot(), context())
    by_ref = {c["bom-ref"]: c for c in bom["components"]}
    assert by_ref["dup"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    assert by_ref["dup#2"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert by_ref["lodash-copy"]["licenses"] == [{"license": {"name": "MIT License"}}]
    assert by_ref["openssl"]["licenses"] == [{"expression": "OpenSSL AND (Apache-2.0 AND BSD-3-Clause)"}]
    assert by_ref["weird"]["licenses"] == [{"license": {"id": "GPL-2.0+"}}, {"license": {"name": "Custom EULA v2"}}]


def test_version_15_downgrades_unknown_component_type_with_warning() -> None:
    ctx = context()
    bom = build_cyclonedx(edge_case_snapshot(ExportOptions(cyclonedx_version="1.5")), ctx)
    cyclonedx_validator("1.5")(json.loads(json.dumps(bom)))
    assert {c["bom-ref"]: c["type"] for c in bom["components"]}["weird"] == "library"
    assert any("cryptographic-asset" in w for w in ctx.warnings)


def test_unsupported_version_is_refused_with_choices() -> None:
    with pytest.raises(InvalidInputError, match=r"1\.5, 1\.6"):
        build_cyclonedx(edge_case_snapshot(ExportOptions(cyclonedx_version="1.3")), context())


def test_custom_fields_and_tenant_in_metadata_properties() -> None:
    options = ExportOptions(custom_fields=(("ticket", "SEC-42"), ("owner", "platform")))
    bom = build_cyclonedx(edge_case_snapshot(options), context())
    properties = {p["name"]: p["value"] for p in bom["metadata"]["properties"]}
    assert properties["ticket"] == "SEC-42" and properties["owner"] == "platform"
    assert properties["exportcenter:tenant"] == "acme"


def test_same_input_same_bytes_and_content_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1714564800")
    first, second = io.BytesIO(), io.BytesIO()
    render_cyclonedx(edge_case_snapshot(), first, context())
    render_cyclonedx(edge_case_snapshot(), second, context())
    assert first.getvalue() == second.getvalue()
    serial = json.loads(first.getvalue())["serialNumber"]
    assert re.fullmatch(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", serial)
    fewer = _only(edge_case_snapshot(), "f1")
    assert build_cyclonedx(fewer, context())["serialNumber"] != serial


def test_single_scan_puts_the_image_in_metadata_component() -> None:
    snapshot = load_real("scans/trivy_json_alpine-310.json")
    bom = build_cyclonedx(snapshot, context())
    root = bom["metadata"]["component"]
    assert root["type"] == "container" and root["name"] == snapshot.scans[0].artifact_name
    findings: tuple[Finding, ...] = snapshot.findings
    assert {d["ref"] for d in bom["dependencies"]} >= {root["bom-ref"]}
    assert len(bom["vulnerabilities"]) == len({f.vuln_id for f in findings if f.kind == FindingKind.VULNERABILITY})
