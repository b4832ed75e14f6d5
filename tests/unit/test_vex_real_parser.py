"""VEX application and policy evaluation on documents read by the real ingest parser."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from exportcenter.model import PolicyOutcome, VexStatement, VexStatus
from exportcenter.policy import builtin_policy_sets, evaluate
from exportcenter.vex import apply_vex

sniff = pytest.importorskip("exportcenter.sources.local.sniff")

from tests.unit.test_vex_apply import ALPINE_DIGEST, _alpine_scan_with_openssl_findings, nginx_scan_and_findings  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "data"
WHEN = datetime(2024, 6, 1, tzinfo=UTC)


def parse(relative: str):  # type: ignore[no-untyped-def]
    path = DATA / relative
    return sniff.parse_document(path.read_bytes(), name=path.name, tenant="default", ingested_at=WHEN)


def test_real_openvex_nginx_sample_applies_to_the_nginx_scan() -> None:
    scan, findings = nginx_scan_and_findings()
    statements = parse("vex/openvex_vexctl_nginx-sample-2vulns.openvex.json").vex_statements
    outcome = apply_vex([scan], findings, statements)
    decided = {(f.vuln_id, f.package.name if f.package else None): f.status for f in outcome.findings if f.vex}
    assert decided == {
        ("CVE-2023-27103", "libde265-0"): VexStatus.NOT_AFFECTED,
        ("CVE-2007-5686", "login"): VexStatus.FIXED,
        ("CVE-2007-5686", "passwd"): VexStatus.FIXED,
    }
    assert not outcome.unmatched


def test_real_history_file_newer_statement_wins() -> None:
    scan, findings = nginx_scan_and_findings()
    older, newer = parse("vex/openvex_vexctl_nginx-sample-history.openvex.json").vex_statements
    # the second statement has no timestamp of its own: it carries the document's (one day later)
    assert newer.timestamp is not None and older.timestamp is not None and newer.timestamp > older.timestamp
    outcome = apply_vex([scan], findings, [older, newer])
    (libde,) = [f for f in outcome.findings if f.vuln_id == "CVE-2023-27103"]
    assert libde.vex is not None and libde.vex.statement_id == newer.id
    assert outcome.superseded == (older,)


def test_real_go_vex_subcomponents() -> None:
    scan, findings = _alpine_scan_with_openssl_findings()
    assert ALPINE_DIGEST in scan.artifact_name
    outcome = apply_vex([scan], findings, parse("vex/openvex_go-vex_v0.2.0-5stmts.json").vex_statements)
    changed = sorted(f.id for f in outcome.findings if f.vex is not None)
    assert changed == ["libcrypto3-CVE-2023-2650", "libcrypto3-CVE-2023-3446", "libssl3-CVE-2023-2650",
                       "libssl3-CVE-2023-3446"]
    assert len(outcome.unmatched) == 3


def test_real_cyclonedx_vex_bom_link_matches_by_purl() -> None:
    scan, _ = nginx_scan_and_findings()
    statements = parse("vex/cdxvex_bom-examples-vex.json").vex_statements
    assert statements and statements[0].vuln_id == "CVE-2020-25649"
    outcome = apply_vex([scan], [], statements)
    assert outcome.unmatched == statements and "CVE-2020-25649" in outcome.warnings[0]


def test_real_grype_scan_vex_by_repo_digest_then_policy() -> None:
    doc = parse("scans/grype_json_busybox-epss.json")
    assert doc.scan is not None
    scan, findings = doc.scan, doc.findings
    repo_digest = next(d for d in scan.repo_digests if "@" in d)
    highs = sorted({f.vuln_id for f in findings if f.severity.rank >= 4})
    statements = [
        VexStatement(id=f"s{i}", document_id="triage", source_format="openvex", vuln_id=vuln,
                     status=VexStatus.NOT_AFFECTED, products=(repo_digest,), justification="vulnerable_code_not_present")
        for i, vuln in enumerate(highs)
    ]
    default = builtin_policy_sets()["default"]
    before = evaluate(scan, findings, default, WHEN)
    assert before.outcome is PolicyOutcome.WARN
    outcome = apply_vex([scan], findings, statements)
    assert not outcome.unmatched and sum(f.is_open for f in outcome.findings) == len(findings) - len(highs)
    after = evaluate(scan, outcome.findings, default, WHEN)
    assert after.outcome is PolicyOutcome.PASS
    assert after.id == before.id  # same scan, same set: same verdict id
