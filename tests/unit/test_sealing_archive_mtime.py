"""ZIP stores times in 2-second steps: a bundle sealed at an odd second must still verify."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from exportcenter.sealing.bundle import write_evidence_bundle
from exportcenter.sealing.keys import Signer, generate_private_key
from exportcenter.sealing.verify import verify_bundle


def test_bundle_sealed_at_an_odd_second_verifies(tmp_path: Path) -> None:
    evidence = tmp_path / "verdicts.json"
    evidence.write_bytes(b'{"outcome": "fail"}\n')
    signer = Signer(generate_private_key("ed25519"))
    out = tmp_path / "evidence.zip"
    written = write_evidence_bundle(out, "zip", [("policy/verdicts.json", evidence)], manifest={"export_id": "exp-1"},
                                    subject_info={"policy_outcome": "fail"}, contents=[], signer=signer,
                                    sealed_at=datetime(2026, 12, 3, 17, 10, 9, tzinfo=UTC))
    result = verify_bundle(written.path, [signer.public_key])
    assert result.sealed_at == "2026-12-03T17:10:09Z"
