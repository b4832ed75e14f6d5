"""Sealed evidence: RFC 6962 Merkle root, DSSE-wrapped in-toto attestation, deterministic bundles.

The public API is what this module exports; everything else is an implementation detail.
Verification functions raise :class:`exportcenter.errors.VerificationError` with the exact reason.
"""

from exportcenter.sealing.archive import ArchiveFormat
from exportcenter.sealing.audit import chain_hash, link_entry, verify_audit_chain
from exportcenter.sealing.bundle import WrittenBundle, write_evidence_bundle
from exportcenter.sealing.keys import (
    KeyKind,
    PublicKey,
    Signer,
    generate_keypair,
    keyid,
    load_public_key,
    load_signer,
    load_signer_from_env,
    load_signer_from_file,
    load_trusted_keys,
    public_keys_document,
)
from exportcenter.sealing.names import scan_member_name
from exportcenter.sealing.record import SealedRecord, VerifiedBundle, seal_artifacts, verify_record
from exportcenter.sealing.verify import verify_bundle

__all__ = [
    "ArchiveFormat",
    "KeyKind",
    "PublicKey",
    "SealedRecord",
    "Signer",
    "VerifiedBundle",
    "WrittenBundle",
    "chain_hash",
    "generate_keypair",
    "keyid",
    "link_entry",
    "load_public_key",
    "load_signer",
    "load_signer_from_env",
    "load_signer_from_file",
    "load_trusted_keys",
    "public_keys_document",
    "scan_member_name",
    "seal_artifacts",
    "verify_audit_chain",
    "verify_bundle",
    "verify_record",
    "write_evidence_bundle",
]
