"""DSSE v1 envelopes (https://github.com/secure-systems-lab/dsse), signed with our own keys.

The signature covers PAE(payloadType, payload) = "DSSEv1" SP len(type) SP type SP len(body) SP body.
Verification raises :class:`VerificationError` naming exactly what is wrong.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exportcenter.errors import VerificationError
from exportcenter.sealing.keys import PublicKey, Signer, keys_by_id, verify_signature

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise VerificationError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        # DSSE allows URL-safe base64 as well
        try:
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise VerificationError(f"{what} is not valid base64") from None


def sign_envelope(payload: bytes, payload_type: str, signer: Signer) -> dict[str, Any]:
    signature = signer.sign(pae(payload_type, payload))
    return {
        "payload": b64encode(payload),
        "payloadType": payload_type,
        "signatures": [{"keyid": signer.keyid, "sig": b64encode(signature)}],
    }


@dataclass(frozen=True)
class VerifiedEnvelope:
    payload: bytes
    payload_type: str
    keyid: str


def verify_envelope(
    envelope: object,
    trusted_keys: Sequence[PublicKey],
    *,
    expected_payload_type: str,
    what: str = "envelope",
) -> VerifiedEnvelope:
    """Accept the envelope when one signature verifies under a trusted key; else say why not."""
    if not isinstance(envelope, dict):
        raise VerificationError(f"{what}: not a DSSE envelope (expected a JSON object)")
    payload_type = envelope.get("payloadType")
    if payload_type != expected_payload_type:
        raise VerificationError(
            f"{what}: payloadType is {payload_type!r}, expected {expected_payload_type!r}"
        )
    payload = b64decode(envelope.get("payload"), f"{what}: payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise VerificationError(f"{what}: carries no signature")
    if not trusted_keys:
        raise VerificationError(f"{what}: no trusted public key given")
    trusted = keys_by_id(trusted_keys)
    message = pae(payload_type, payload)
    untrusted: list[str] = []
    failed: list[str] = []
    for entry in signatures:
        if not isinstance(entry, dict):
            raise VerificationError(f"{what}: malformed signature entry")
        key_id = str(entry.get("keyid") or "")
        signature = b64decode(entry.get("sig"), f"{what}: signature")
        candidates = [trusted[key_id]] if key_id in trusted else []
        if not key_id:  # keyid is optional in DSSE: try every trusted key
            candidates = list(trusted.values())
        for key in candidates:
            if verify_signature(key, signature, message):
                return VerifiedEnvelope(payload, payload_type, key_id or _id_of(trusted, key))
        (failed if candidates else untrusted).append(key_id or "<no keyid>")
    if failed:
        raise VerificationError(
            f"{what}: signature by trusted key {failed[0]} does not verify (signature or content altered)"
        )
    raise VerificationError(
        f"{what}: signed by untrusted key {', '.join(untrusted)}; trusted keys: {', '.join(sorted(trusted))}"
    )


def _id_of(trusted: dict[str, PublicKey], key: PublicKey) -> str:
    return next(key_id for key_id, candidate in trusted.items() if candidate is key)
