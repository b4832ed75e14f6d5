"""Keys, key ids and the DSSE envelope, checked by securesystemslib and in-toto themselves."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from in_toto.models.metadata import Envelope as InTotoEnvelope
from securesystemslib.dsse import Envelope as SslibEnvelope
from securesystemslib.exceptions import VerificationError as SslibVerificationError
from securesystemslib.signer import SSlibKey

from exportcenter.errors import ConfigurationError, VerificationError
from exportcenter.sealing import (
    generate_keypair,
    keyid,
    load_public_key,
    load_signer_from_env,
    load_signer_from_file,
    load_trusted_keys,
    public_keys_document,
    seal_artifacts,
)
from exportcenter.sealing.dsse import IN_TOTO_PAYLOAD_TYPE, sign_envelope, verify_envelope
from exportcenter.sealing.statement import PREDICATE_TYPE, STATEMENT_TYPE
from exportcenter.util.jsonio import dumps
from tests.unit.test_sealing_support import CONTENTS, MANIFEST, REAL_MEMBERS, SEALED_AT, SUBJECT_INFO, new_signer

KINDS = ["ed25519", "ecdsa-p256"]


@pytest.mark.parametrize("kind", KINDS)
def test_keypair_roundtrip_and_keyid_is_sha256_of_der_spki(kind: str, tmp_path: Path) -> None:
    private_pem, public_pem = generate_keypair(kind)  # type: ignore[arg-type]
    (tmp_path / "k.pem").write_bytes(private_pem)
    (tmp_path / "k.pub.pem").write_bytes(public_pem)
    signer = load_signer_from_file(tmp_path / "k.pem")
    public = load_public_key(tmp_path / "k.pub.pem")
    der = serialization.load_pem_public_key(public_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert keyid(public) == signer.keyid == hashlib.sha256(der).hexdigest()
    assert signer.kind == kind
    assert "PRIVATE" not in repr(signer)


def test_private_key_from_env_as_pem_or_base64(monkeypatch: pytest.MonkeyPatch) -> None:
    private_pem, public_pem = generate_keypair()
    monkeypatch.setenv("EC_TEST_KEY", private_pem.decode())
    expected = keyid(load_trusted_keys_from_pem(public_pem))
    assert load_signer_from_env("EC_TEST_KEY").keyid == expected
    monkeypatch.setenv("EC_TEST_KEY", base64.b64encode(private_pem).decode())
    assert load_signer_from_env("EC_TEST_KEY").keyid == expected


def load_trusted_keys_from_pem(pem: bytes):  # type: ignore[no-untyped-def]
    from exportcenter.sealing.keys import load_public_key_pem
    return load_public_key_pem(pem)


def test_bad_private_key_error_never_contains_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    private_pem, _ = generate_keypair()
    broken = private_pem.replace(b"\n-----END", b"XX\n-----END")
    monkeypatch.setenv("EC_TEST_KEY", broken.decode())
    with pytest.raises(ConfigurationError) as caught:
        load_signer_from_env("EC_TEST_KEY")
    secret_line = private_pem.decode().splitlines()[1]
    assert secret_line not in str(caught.value) and "EC_TEST_KEY" in str(caught.value)
    with pytest.raises(ConfigurationError, match="not set"):
        load_signer_from_env("EC_TEST_KEY_MISSING")


def test_rotation_directory_of_keys_and_published_document(tmp_path: Path) -> None:
    ids = set()
    for index, kind in enumerate(KINDS):
        _, public_pem = generate_keypair(kind)  # type: ignore[arg-type]
        (tmp_path / f"key{index}.pem").write_bytes(public_pem)
        ids.add(keyid(load_public_key(tmp_path / f"key{index}.pem")))
    keys = load_trusted_keys([tmp_path])
    document = public_keys_document(keys)
    assert {k["keyid"] for k in document["keys"]} == ids  # type: ignore[union-attr, index]
    assert {k["type"] for k in document["keys"]} == set(KINDS)  # type: ignore[union-attr, index]


def _sslib_key(signer_public, key_id: str) -> SSlibKey:  # type: ignore[no-untyped-def]
    return SSlibKey.from_crypto(signer_public, keyid=key_id)


@pytest.mark.parametrize("kind", KINDS)
def test_sealed_attestation_verifies_with_securesystemslib_and_in_toto(kind: str) -> None:
    signer = new_signer(kind)
    sealed = seal_artifacts(REAL_MEMBERS, manifest=MANIFEST, subject_info=SUBJECT_INFO, signer=signer,
                            sealed_at=SEALED_AT, contents=CONTENTS)
    envelope_dict = json.loads(sealed.envelope_bytes)
    key = _sslib_key(signer.public_key, signer.keyid)

    envelope = SslibEnvelope.from_dict(copy.deepcopy(envelope_dict))
    accepted = envelope.verify([key], 1)
    assert list(accepted) == [signer.keyid]
    statement = json.loads(envelope.payload)
    assert statement["_type"] == STATEMENT_TYPE == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE
    # subjects are the artifacts with their real sha256
    expected = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in REAL_MEMBERS}
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == expected
    assert statement["predicate"]["manifest"] == MANIFEST
    assert statement["predicate"]["policy_outcome"] == {"status": "fail", "failed": 3}
    assert envelope.payload_type == IN_TOTO_PAYLOAD_TYPE

    in_toto_envelope = InTotoEnvelope.from_dict(copy.deepcopy(envelope_dict))
    in_toto_envelope.verify_signature({**key.to_dict(), "keyid": key.keyid})

    # and the libraries reject a changed payload
    tampered = copy.deepcopy(envelope_dict)
    tampered["payload"] = base64.b64encode(envelope.payload.replace(b"fail", b"pass")).decode()
    with pytest.raises(SslibVerificationError):
        SslibEnvelope.from_dict(tampered).verify([key], 1)


def test_record_is_the_spec_shape() -> None:
    signer = new_signer()
    sealed = seal_artifacts(REAL_MEMBERS, manifest=MANIFEST, subject_info=SUBJECT_INFO, signer=signer,
                            sealed_at=SEALED_AT, contents=CONTENTS)
    record = json.loads(sealed.record_bytes)
    assert set(record) == {"bundle_id", "sealed_at", "contents", "merkle_root", "signature", "keyid"}
    assert record["bundle_id"].startswith("bnd-")
    assert record["sealed_at"] == "2024-12-29T10:32:00Z"
    assert record["contents"][:3] == CONTENTS
    assert record["contents"][3] == {
        "type": "attestation", "digest": "sha256:" + hashlib.sha256(sealed.envelope_bytes).hexdigest()}
    assert record["merkle_root"].startswith("sha256:") and len(record["merkle_root"]) == 71
    assert record["signature"].startswith("base64:")
    assert record["keyid"] == signer.keyid


def test_dsse_verify_reasons() -> None:
    signer, other = new_signer(), new_signer("ecdsa-p256")
    envelope = sign_envelope(b'{"a":1}', IN_TOTO_PAYLOAD_TYPE, signer)
    assert verify_envelope(envelope, [other.public_key, signer.public_key],
                           expected_payload_type=IN_TOTO_PAYLOAD_TYPE).keyid == signer.keyid
    with pytest.raises(VerificationError, match="untrusted key " + signer.keyid):
        verify_envelope(envelope, [other.public_key], expected_payload_type=IN_TOTO_PAYLOAD_TYPE)
    with pytest.raises(VerificationError, match="payloadType"):
        verify_envelope(envelope, [signer.public_key], expected_payload_type="text/plain")
    forged = {**envelope, "payload": base64.b64encode(b'{"a":2}').decode()}
    with pytest.raises(VerificationError, match="does not verify"):
        verify_envelope(forged, [signer.public_key], expected_payload_type=IN_TOTO_PAYLOAD_TYPE)
    assert dumps(envelope)  # serialisable by the project's serializer
