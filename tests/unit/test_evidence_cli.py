"""`exportcenter keys generate` and `exportcenter verify`, mounted as the main CLI mounts them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from exportcenter.cli.evidence import keys_app, verify_command
from exportcenter.sealing import load_signer_from_file, seal_artifacts, write_evidence_bundle
from tests.unit.test_sealing_support import (
    CONTENTS,
    MANIFEST,
    REAL_MEMBERS,
    SEALED_AT,
    SUBJECT_INFO,
    flip_byte,
    read_members,
    repack,
)

app = typer.Typer()
app.add_typer(keys_app, name="keys")
app.command("verify")(verify_command)
runner = CliRunner()


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    result = runner.invoke(app, ["keys", "generate", "--out", str(tmp_path / "keys"), "--type", "ecdsa-p256"])
    assert result.exit_code == 0, result.output
    private, public = tmp_path / "keys/evidence-signing.key.pem", tmp_path / "keys/evidence-signing.pub.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in result.output and load_signer_from_file(private).keyid in result.output
    return private, public


def test_generate_refuses_to_overwrite(keys: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["keys", "generate", "--out", str(keys[0].parent)])
    assert result.exit_code == 12 and "already exists" in result.output


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_verify_ok_then_tampered(fmt: str, keys: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keys
    bundle = write_evidence_bundle(tmp_path / f"e.{fmt}", fmt, REAL_MEMBERS, manifest=MANIFEST,  # type: ignore[arg-type]
                                   subject_info=SUBJECT_INFO, contents=CONTENTS,
                                   signer=load_signer_from_file(private), sealed_at=SEALED_AT).path
    ok = runner.invoke(app, ["verify", str(bundle), "--key", str(public)])
    assert ok.exit_code == 0 and "OK:" in ok.output
    as_json = runner.invoke(app, ["verify", str(bundle), "--key", str(public), "--json"])
    body = json.loads(as_json.stdout)
    assert body["valid"] is True and len(body["artifacts"]) == len(REAL_MEMBERS) + 1

    members = [(n, flip_byte(d) if n == "vex/applied.json" else d) for n, d in read_members(bundle)]
    tampered = tmp_path / "t" / bundle.name
    tampered.parent.mkdir()
    repack(tampered, members)
    bad = runner.invoke(app, ["verify", str(tampered), "--key", str(public), "--json"])
    assert bad.exit_code == 10
    assert json.loads(bad.stdout)["reason"].startswith("changed file: vex/applied.json")
    text = runner.invoke(app, ["verify", str(tampered), "--key", str(public)])
    assert text.exit_code == 10 and "FAILED: changed file: vex/applied.json" in text.output


def test_verify_bundle_record_and_missing_key(keys: tuple[Path, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    private, public = keys
    sealed = seal_artifacts(REAL_MEMBERS[:1], manifest=MANIFEST, subject_info=SUBJECT_INFO,
                            signer=load_signer_from_file(private), sealed_at=SEALED_AT, contents=CONTENTS)
    export_dir = tmp_path / "exp"
    (export_dir / "scans").mkdir(parents=True)
    (export_dir / REAL_MEMBERS[0][0]).write_bytes(REAL_MEMBERS[0][1].read_bytes())
    record, _ = sealed.write_beside(export_dir)
    ok = runner.invoke(app, ["verify", "--bundle-record", str(record), "--key", str(public)])
    assert ok.exit_code == 0, ok.output
    monkeypatch.delenv("EXPORTCENTER_TRUSTED_KEYS_DIR", raising=False)
    from exportcenter.config import reset_settings_cache
    reset_settings_cache()
    missing = runner.invoke(app, ["verify", "--bundle-record", str(record)])
    assert missing.exit_code == 12 and "no trusted public key" in missing.output
    monkeypatch.setenv("EXPORTCENTER_TRUSTED_KEYS_DIR", str(public.parent))
    reset_settings_cache()
    assert runner.invoke(app, ["verify", "--bundle-record", str(record)]).exit_code == 0
    reset_settings_cache()
