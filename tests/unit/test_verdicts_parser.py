"""The policy verdicts document kind: sniffed from content, validated, deterministic ids."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from exportcenter.errors import InvalidInputError
from exportcenter.model import PolicyOutcome
from exportcenter.sources.local import verdicts
from exportcenter.sources.local.sniff import detect, parse_document
from tests.paths import REPO

EXAMPLE = REPO / "tests" / "fixtures" / "verdicts" / "juice-shop-release-gate.json"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_detected_from_content_and_parsed_without_matches() -> None:
    content = EXAMPLE.read_bytes()
    assert detect(orjson.loads(content)) is verdicts
    parsed = parse_document(content, name="gate.json", tenant="default", ingested_at=NOW)
    assert parsed.kinds == ("policy_verdicts",) and parsed.source_format == "policy-verdicts"
    (verdict,) = parsed.policy_verdicts
    assert verdict.scan_id == "scan-c39e1419abe2f8c2" and verdict.source == "gate.json"
    assert verdict.outcome is PolicyOutcome.FAIL and verdict.evaluated_at == datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    assert [r.rule_id for r in verdict.rules] == ["no-critical-os-packages", "signed-image"]
    assert all(r.matched_finding_ids == () for r in verdict.rules)  # tied to findings only at export time
    again = parse_document(content, name="gate.json", tenant="default", ingested_at=NOW)
    other_tenant = parse_document(content, name="gate.json", tenant="acme", ingested_at=NOW)
    assert again.policy_verdicts[0].id == verdict.id != other_tenant.policy_verdicts[0].id


def test_scan_report_shapes_are_not_taken_for_verdicts() -> None:
    assert detect({"scan_id": 7, "verdicts": []}) is not verdicts
    assert detect({"scan_id": "scan-1", "verdicts": {}}) is not verdicts
    with pytest.raises(InvalidInputError, match=r"x\.json: verdicts must be a non-empty list"):
        parse_document(b'{"scan_id": "scan-1", "verdicts": []}', name="x.json", tenant="t", ingested_at=NOW)
