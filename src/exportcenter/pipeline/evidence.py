"""Seal stage (the spec's EvidenceLocker, step 6): evidence bundles, and seals beside plain exports."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from exportcenter.config import Settings
from exportcenter.model import ExportFormat, ExportSnapshot, ExportType, PolicyOutcome, VexStatement
from exportcenter.pipeline.registry import artifact_name
from exportcenter.pipeline.render import render_one
from exportcenter.renderers.base import RenderContext
from exportcenter.sealing import names
from exportcenter.sealing.bundle import write_evidence_bundle
from exportcenter.sealing.keys import Signer, generate_keypair, load_signer, load_signer_from_file, public_pem
from exportcenter.sealing.record import seal_artifacts
from exportcenter.util.jsonio import dumps
from exportcenter.util.timeutil import iso_z

DEFAULT_KEY_NAME = "signing-ed25519.pem"


def key_dir(settings: Settings) -> Path:
    return settings.home / "keys"


def trusted_dir(settings: Settings) -> Path:
    return settings.trusted_keys_dir or key_dir(settings) / "trusted"


def active_signer(settings: Settings) -> Signer:
    """The configured key (file or environment variable); on the embedded default, a key generated on
    first use under $EXPORTCENTER_HOME/keys (0600) whose public half is trusted locally."""
    if settings.signing_key_file is not None or os.environ.get(settings.signing_key_env, "").strip():
        return load_signer(settings.signing_key_file, settings.signing_key_env)
    path = key_dir(settings) / DEFAULT_KEY_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        private, _public = generate_keypair("ed25519")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(private)
    signer = load_signer_from_file(path)
    publish_public_key(settings, signer)
    return signer


def publish_public_key(settings: Settings, signer: Signer) -> Path:
    folder = trusted_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{signer.keyid[:16]}.pem"
    if not target.exists():
        target.write_bytes(public_pem(signer.public_key))
    return target


def policy_outcome(snapshot: ExportSnapshot) -> str:
    outcomes = [v.outcome for v in snapshot.policy_verdicts]
    return max(outcomes, key=lambda o: o.rank).value if outcomes else PolicyOutcome.PASS.value


def _subject_info(snapshot: ExportSnapshot) -> dict[str, Any]:
    return {"tenant": snapshot.tenant, "export_type": snapshot.export_type, "export_format": snapshot.export_format,
            "policy_outcome": policy_outcome(snapshot),
            "scans": [{"id": s.id, "artifact": s.artifact_name, "digest": s.artifact_digest} for s in snapshot.scans]}


def _contents(snapshot: ExportSnapshot, sbom_digest: str | None) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = [{"type": "scan_result", "id": s.id} for s in snapshot.scans]
    if sbom_digest:
        contents.append({"type": "sbom", "digest": sbom_digest})
    contents.extend({"type": "policy_verdict", "id": v.id} for v in snapshot.policy_verdicts)
    return contents


def _statements(statements: tuple[VexStatement, ...]) -> list[dict[str, Any]]:
    return [{"id": s.id, "document_id": s.document_id, "format": s.source_format, "vulnerability": s.vuln_id,
             "aliases": list(s.aliases), "status": s.status.value, "justification": s.justification,
             "products": list(s.products), "subcomponents": list(s.subcomponents),
             "impact_statement": s.impact_statement, "action_statement": s.action_statement,
             "timestamp": iso_z(s.timestamp), "author": s.author} for s in statements]


def seal_export(settings: Settings, snapshot: ExportSnapshot, staging: Path, files: list[tuple[str, Path]],
                expires_at: datetime) -> list[tuple[str, Path]]:
    """evidence_bundle: build the sealed archive. Any other type: seal its artifacts and add the sealed
    record and attestation beside them (spec step 6, "Store sealed")."""
    signer = active_signer(settings)
    manifest = {"export_id": snapshot.export_id, "created_at": iso_z(snapshot.generated_at),
                "expires_at": iso_z(expires_at)}
    if snapshot.export_type != ExportType.EVIDENCE_BUNDLE.value:
        from exportcenter.sealing.hashing import sha256_file

        sbom = dict(files).get(artifact_name(ExportType.SBOM, ExportFormat.CYCLONEDX))
        sbom_digest = "sha256:" + sha256_file(sbom)[0] if sbom else None
        sealed = seal_artifacts(files, manifest=manifest, subject_info=_subject_info(snapshot), signer=signer,
                                sealed_at=snapshot.generated_at, contents=_contents(snapshot, sbom_digest))
        record, attestation = sealed.write_beside(staging)
        return [*files, (names.RECORD, record), (names.ATTESTATION, attestation)]
    members = _evidence_members(settings, snapshot, staging / "evidence")
    from exportcenter.sealing.hashing import sha256_file

    sbom_digest = "sha256:" + sha256_file(dict(members)[names.SBOM])[0]
    fmt = ExportFormat(snapshot.export_format)
    out = staging / artifact_name(ExportType.EVIDENCE_BUNDLE, fmt)
    write_evidence_bundle(out, "zip" if fmt is ExportFormat.ZIP else "tar.gz", members, manifest=manifest,
                          subject_info=_subject_info(snapshot), contents=_contents(snapshot, sbom_digest),
                          signer=signer, sealed_at=snapshot.generated_at)
    return [*files, (out.name, out)]


def _evidence_members(settings: Settings, snapshot: ExportSnapshot, folder: Path) -> list[tuple[str, Path]]:
    """Scan results (one normalised JSON per scan), the SBOM, the policy verdicts, applied and unmatched VEX."""
    folder.mkdir(parents=True, exist_ok=True)
    context = RenderContext(settings=settings)
    members: list[tuple[str, Path]] = []
    for index, scan in enumerate(snapshot.scans):
        one = replace(snapshot, export_type=ExportType.SCAN_REPORT.value, export_format=ExportFormat.JSON.value,
                      scans=(scan,), findings=tuple(f for f in snapshot.findings if f.scan_id == scan.id),
                      policy_verdicts=tuple(v for v in snapshot.policy_verdicts if v.scan_id == scan.id))
        path = folder / f"scan-{index}.json"
        render_one(settings, one, ExportType.SCAN_REPORT, ExportFormat.JSON, path, context)
        members.append((names.scan_member_name(scan.id), path))
    renders = ((names.SBOM, ExportType.SBOM, ExportFormat.CYCLONEDX),
               (names.POLICY_VERDICTS, ExportType.POLICY_COMPLIANCE, ExportFormat.JSON))
    for member, export_type, export_format in renders:
        path = folder / member.replace("/", "-")
        typed = replace(snapshot, export_type=export_type.value, export_format=export_format.value)
        render_one(settings, typed, export_type, export_format, path, context)
        members.append((member, path))
    vex_members = ((names.VEX_APPLIED, snapshot.vex_applied), (names.VEX_UNMATCHED, snapshot.vex_unmatched))
    for member, statements in vex_members:
        path = folder / member.replace("/", "-")
        path.write_bytes(dumps({"statements": _statements(statements)}))
        members.append((member, path))
    return members
