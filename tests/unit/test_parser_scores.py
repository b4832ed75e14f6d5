"""CVSS scores must be finite numbers in 0-10 and EPSS values fractions in 0-1, in every parser that reads
them. A bad value is dropped (the CVSS vector is kept) with a warning naming the vulnerability and the
value, so the CSV, SARIF and JSON outputs never disagree about it. Built from real files with one field
changed; the byte-level edits keep what the trial users typed (1e999999, NaN literals)."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from exportcenter.config import Settings
from exportcenter.model import ExportFormat, ExportOptions, ExportScope, ExportType
from exportcenter.pipeline.registry import renderer_for
from exportcenter.pipeline.snapshot import build_snapshot
from exportcenter.policy.loader import builtin_policy_sets
from exportcenter.renderers.base import RenderContext
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.sources.local.sniff import parse_document
from exportcenter.util import jsonio

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
INGESTED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
JUICE = "scans/trivy_json_juice-shop-v10.2.0.json"
PLACEHOLDER = "__BAD_SCORE__"


def parse_bytes(content: bytes, name: str = "edited.json") -> ParsedDocument:
    return parse_document(content, name=name, tenant="acme", ingested_at=INGESTED)


def edited(relative: str, edit: Any, raw_value: str) -> bytes:
    """The real file with ``edit`` applied to its JSON; ``raw_value`` is spliced in verbatim where
    ``edit`` put the placeholder, so literals json.dumps would never write (1e999999, NaN) reach the parser."""
    doc = json.loads((DATA / relative).read_bytes())
    edit(doc)
    return json.dumps(doc).replace(f'"{PLACEHOLDER}"', raw_value).encode()


def set_first_trivy_v3(doc: dict[str, Any]) -> None:
    doc["Results"][0]["Vulnerabilities"][0]["CVSS"]["nvd"]["V3Score"] = PLACEHOLDER


BAD_CVSS = ["1e999999", "-1e999999", "99", "-5", '"NaN"', "NaN", "Infinity", '"high"', "true", "10.01"]


@pytest.mark.parametrize("raw", BAD_CVSS)
def test_trivy_out_of_range_cvss_is_dropped_vector_kept_with_warning(raw: str) -> None:
    original = parse_bytes((DATA / JUICE).read_bytes())
    parsed = parse_bytes(edited(JUICE, set_first_trivy_v3, raw))
    first = parsed.findings[0]
    assert first.vuln_id == "CVE-2021-36159"
    nvd_v3 = next(c for c in first.cvss if c.source == "nvd" and c.version == "3.1")
    assert nvd_v3.score is None
    assert nvd_v3.vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H"
    others = [c for c in first.cvss if c is not nvd_v3]
    assert [c.score for c in others] == [c.score for c in original.findings[0].cvss if c.score != 9.1 or
                                         c.source != "nvd"]
    score_warnings = [w for w in parsed.warnings if "CVE-2021-36159" in w and "CVSS score" in w]
    assert len(score_warnings) == 1, parsed.warnings
    shown = {"1e999999": "inf", "-1e999999": "-inf", "NaN": "nan", "Infinity": "inf", "true": "True"}.get(raw, raw)
    assert f"nvd CVSS score {shown.replace(chr(34), chr(39))} " in score_warnings[0]
    assert "apk-tools" in score_warnings[0] and "dropped" in score_warnings[0]
    # the rest of the document is untouched
    assert len(parsed.findings) == len(original.findings)
    assert not any("surrogate" in w for w in parsed.warnings)


@pytest.mark.parametrize("raw, expected", [('"7.5"', 7.5), ("0", 0.0), ("10", 10.0), ('" 4.2 "', 4.2)])
def test_trivy_valid_scores_including_string_numbers_are_kept(raw: str, expected: float) -> None:
    parsed = parse_bytes(edited(JUICE, set_first_trivy_v3, raw))
    nvd_v3 = next(c for c in parsed.findings[0].cvss if c.source == "nvd" and c.version == "3.1")
    assert nvd_v3.score == expected
    assert parsed.warnings == ()


def _render(parsed: ParsedDocument, export_type: str, export_format: str) -> tuple[str, list[str]]:
    snapshot = build_snapshot(
        export_id="exp-scores", tenant="acme", export_type=export_type, export_format=export_format,
        documents=[parsed], vex_statements=[], policy_sets=builtin_policy_sets(), scope=ExportScope(),
        options=ExportOptions(), generated_at=INGESTED,
    )
    ctx = RenderContext(settings=Settings())
    out = io.BytesIO()
    renderer_for(ExportType(export_type), ExportFormat(export_format))(snapshot, out, ctx)
    return out.getvalue().decode("utf-8"), ctx.warnings


@pytest.mark.parametrize("raw", ["1e999999", "99", "-5", '"NaN"'])
def test_csv_sarif_and_json_agree_after_a_bad_score(raw: str) -> None:
    def edit(doc: dict[str, Any]) -> None:
        vuln = doc["Results"][0]["Vulnerabilities"][0]
        vuln["CVSS"] = {"nvd": {"V3Vector": vuln["CVSS"]["nvd"]["V3Vector"], "V3Score": PLACEHOLDER}}

    parsed = parse_bytes(edited(JUICE, edit, raw))
    rows = list(csv.DictReader(io.StringIO(_render(parsed, "vulnerability_report", "csv")[0])))
    row = next(r for r in rows if r["vulnerability_id"] == "CVE-2021-36159")
    assert row["max_cvss"] == ""
    for found in rows:
        if found["max_cvss"]:
            assert 0 <= float(found["max_cvss"]) <= 10
    sarif = json.loads(_render(parsed, "scan_report", "sarif")[0])
    rule = next(r for r in sarif["runs"][0]["tool"]["driver"]["rules"] if r["id"].startswith("CVE-2021-36159"))
    assert "CVSS inf" not in json.dumps(rule) and f"CVSS {raw}" not in json.dumps(rule)
    report = json.loads(_render(parsed, "scan_report", "json")[0])
    finding = next(f for f in report["findings"] if f["vulnerability_id"] == "CVE-2021-36159")
    assert [c["score"] for c in finding["cvss"]] == [None]
    assert any("CVE-2021-36159" in w and "CVSS score" in w for w in report["warnings"])
    assert not any("surrogate" in w for w in report["warnings"])


def test_grype_bad_cvss_and_epss_are_dropped_with_warnings() -> None:
    def edit(doc: dict[str, Any]) -> None:
        vuln = doc["matches"][0]["vulnerability"]
        vuln["cvss"][0]["metrics"]["baseScore"] = 11
        vuln["epss"][0]["epss"] = 1.5
        vuln["epss"][0]["percentile"] = PLACEHOLDER

    parsed = parse_bytes(edited("scans/grype_json_busybox-epss.json", edit, "-0.25"))
    first = parsed.findings[0]
    assert first.vuln_id == "CVE-2022-28391"
    assert (first.epss, first.epss_percentile) == (None, None)
    v31 = {(c.source, c.score) for c in first.cvss if c.version == "3.1"}
    assert ("nvd@nist.gov", None) in v31 and ("134c704f-9b21-4f2e-91b3-4a467353bcc0", 8.8) in v31
    joined = "\n".join(parsed.warnings)
    assert "CVE-2022-28391 (busybox): nvd@nist.gov CVSS score 11 is not a finite number in 0-10" in joined
    assert "CVE-2022-28391 (busybox): EPSS 1.5 is not a finite number in 0-1" in joined
    assert "CVE-2022-28391 (busybox): EPSS percentile -0.25 is not a finite number in 0-1" in joined
    untouched = parsed.findings[1]
    assert untouched.epss is not None and 0 <= untouched.epss <= 1


def test_grype_old_layout_bad_base_score_is_dropped() -> None:
    def edit(doc: dict[str, Any]) -> None:
        match = next(m for m in doc["matches"] if m["vulnerability"].get("cvssV3"))
        match["vulnerability"]["cvssV3"]["baseScore"] = PLACEHOLDER

    parsed = parse_bytes(edited("scans/grype_json_defectdojo-1.13.1-many.json", edit, "1e999999"))
    dropped = [f for f in parsed.findings if any(c.score is None and c.vector for c in f.cvss)]
    assert len(dropped) == 1
    assert any(f"{dropped[0].vuln_id} (" in w and "nvd CVSS score inf" in w for w in parsed.warnings)


def test_cyclonedx_rating_out_of_range_is_dropped() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["vulnerabilities"][0]["ratings"][2]["score"] = PLACEHOLDER

    parsed = parse_bytes(edited("sbom/cdx15_trivy-0.48.1_image-with-vulns.json", edit, "65"))
    first = next(f for f in parsed.findings if f.vuln_id == "CVE-2016-2781")
    nvd_v3 = next(c for c in first.cvss if c.source == "nvd" and c.version == "3.0")
    assert nvd_v3.score is None and nvd_v3.vector == "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:C/C:N/I:H/A:N"
    assert any("CVE-2016-2781: nvd CVSS score 65 is not a finite number in 0-10" in w for w in parsed.warnings)


def test_sarif_security_severity_out_of_range_falls_back_to_level() -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["security-severity"] = PLACEHOLDER

    parsed = parse_bytes(edited("scans/trivy_sarif_alpine-310.sarif.json", edit, '"99"'))
    assert any("rule CVE-2019-1549: security-severity '99' is not a finite number in 0-10" in w
               for w in parsed.warnings)
    finding = next(f for f in parsed.code_guard_findings if f.rule_id == "CVE-2019-1549")
    assert finding.severity.value != "critical"  # 99 would have read as critical; the level decides now


def test_fallback_parse_warning_names_the_true_reason() -> None:
    infinite = parse_bytes(edited(JUICE, set_first_trivy_v3, "1e999999"))
    assert any("not finite" in w and "number is infinity" in w for w in infinite.warnings)
    assert not any("surrogate" in w for w in infinite.warnings)

    def lone_surrogate(doc: dict[str, Any]) -> None:
        doc["Results"][0]["Vulnerabilities"][0]["Title"] = PLACEHOLDER

    surrogate = parse_bytes(edited(JUICE, lone_surrogate, '"bad \\ud800 text"'))
    assert surrogate.findings[0].title == "bad \ufffd text"
    assert any("lone UTF-16 surrogates" in w for w in surrogate.warnings)
    assert not any("not finite" in w for w in surrogate.warnings)


def test_jsonio_names_each_problem_and_dumps_never_blames_surrogates_wrongly() -> None:
    assert jsonio.encoding_problems({"a": [1.0, "ok"], "b": None}) == ()
    assert jsonio.encoding_problems({"score": math.inf}) == (jsonio.NON_FINITE_NUMBERS,)
    assert jsonio.encoding_problems(["\ud800", math.nan]) == (jsonio.LONE_SURROGATES, jsonio.NON_FINITE_NUMBERS)
    assert jsonio.encoding_problems({"n": 2**70}) == (jsonio.HUGE_INTEGERS,)
    with pytest.raises(TypeError) as refused:
        jsonio.dumps({"blob": object()})
    assert "type object" in str(refused.value) and "surrogate" not in str(refused.value)
    with pytest.raises(TypeError) as huge:
        jsonio.dumps({"n": 2**70})
    assert "64-bit" in str(huge.value) and "surrogate" not in str(huge.value)
    assert jsonio.dumps({"t": "x\ud800"}, indent=False) == '{"t":"x\ufffd"}'.encode()
