"""Signing keys: Ed25519 (default) or ECDSA P-256, PEM on disk or in an environment variable.

A key id is the lowercase hex SHA-256 of the public key's DER SubjectPublicKeyInfo, so anyone holding
only the public key can recompute it. Private key material is never put in an error message or a log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from exportcenter.errors import ConfigurationError, InvalidInputError

KeyKind = Literal["ed25519", "ecdsa-p256"]
KEY_KINDS: tuple[KeyKind, ...] = ("ed25519", "ecdsa-p256")
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def _ecdsa_algorithm() -> ec.ECDSA:
    """RFC 6979 deterministic ECDSA when the OpenSSL build offers it (reproducible bundles)."""
    try:
        return ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    except (TypeError, UnsupportedAlgorithm):  # pragma: no cover - older OpenSSL
        return ec.ECDSA(hashes.SHA256())


def _check_curve(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey, origin: str) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise InvalidInputError(f"{origin}: ECDSA key on {key.curve.name}; only P-256 is accepted")


def key_kind(key: PublicKey | PrivateKey) -> KeyKind:
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "ed25519"
    return "ecdsa-p256"


def keyid(public_key: PublicKey) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def public_pem(public_key: PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def verify_signature(public_key: PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, message)
        else:
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class Signer:
    """A private key able to sign; ``repr`` never shows the key."""

    private_key: PrivateKey = field(repr=False)

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    @property
    def kind(self) -> KeyKind:
        return key_kind(self.private_key)

    @property
    def keyid(self) -> str:
        return keyid(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature, or DER-encoded ECDSA-SHA256 signature (the DSSE convention)."""
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            return self.private_key.sign(message)
        return self.private_key.sign(message, _ecdsa_algorithm())


def generate_private_key(kind: KeyKind = "ed25519") -> PrivateKey:
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise InvalidInputError(f"unknown key type {kind!r}; choose one of {', '.join(KEY_KINDS)}")


def generate_keypair(kind: KeyKind = "ed25519") -> tuple[bytes, bytes]:
    """(private key PEM in unencrypted PKCS#8, public key PEM in SubjectPublicKeyInfo)."""
    private_key = generate_private_key(kind)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private_pem, public_pem(private_key.public_key())


def _private_from_pem(data: bytes, origin: str, password: bytes | None) -> Signer:
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # the message names where the key came from, never what it contains
        raise ConfigurationError(f"{origin}: not a readable PEM private key (or wrong password)") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        _check_curve(key, origin)
        return Signer(key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Signer(key)
    raise ConfigurationError(f"{origin}: unsupported private key type; use Ed25519 or ECDSA P-256")


def load_signer_from_file(path: Path, password: bytes | None = None) -> Signer:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"signing key file {path}: {exc.strerror or exc}") from None
    return _private_from_pem(data, f"signing key file {path}", password)


def load_signer_from_env(variable: str, password: bytes | None = None) -> Signer:
    """The variable holds the PEM text itself, or that PEM base64-encoded (handy in CI secrets)."""
    value = os.environ.get(variable, "")
    if not value.strip():
        raise ConfigurationError(f"environment variable {variable} is not set or empty")
    data = value.strip().encode("ascii", "replace")
    if not data.startswith(b"-----BEGIN"):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError(f"environment variable {variable}: neither PEM nor base64 PEM") from None
    return _private_from_pem(data, f"environment variable {variable}", password)


def load_signer(path: Path | None = None, env_var: str | None = None) -> Signer:
    """From a file when given, else from the environment variable when it is set."""
    if path is not None:
        return load_signer_from_file(path)
    if env_var and os.environ.get(env_var, "").strip():
        return load_signer_from_env(env_var)
    raise ConfigurationError("no signing key configured: set a key file or the signing key variable")


def load_public_key_pem(data: bytes, origin: str = "public key") -> PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidInputError(f"{origin}: not a PEM public key") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        _check_curve(key, origin)
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise InvalidInputError(f"{origin}: unsupported public key type; use Ed25519 or ECDSA P-256")


def load_public_key(path: Path) -> PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"public key file {path}: {exc.strerror or exc}") from None
    return load_public_key_pem(data, f"public key file {path}")


def load_trusted_keys(paths: Iterable[Path]) -> list[PublicKey]:
    """Several keys at once (rotation): a path may be a PEM file or a directory of ``*.pem`` files.

    In a directory, private key files (a key pair generated in place) are skipped, never parsed.
    """
    keys: list[PublicKey] = []
    for path in paths:
        if path.is_dir():
            for item in sorted(path.glob("*.pem")):
                data = item.read_bytes()
                if b"PRIVATE KEY" not in data:
                    keys.append(load_public_key_pem(data, f"public key file {item}"))
        else:
            keys.append(load_public_key(path))
    return keys


def keys_by_id(keys: Sequence[PublicKey]) -> dict[str, PublicKey]:
    return {keyid(key): key for key in keys}


def public_keys_document(keys: Sequence[PublicKey]) -> dict[str, object]:
    """What ``GET /api/v1/evidence/keys`` publishes: every active public key with its id."""
    return {
        "keys": [
            {"keyid": keyid(key), "type": key_kind(key), "public_key_pem": public_pem(key).decode("ascii")}
            for key in sorted(keys, key=keyid)
        ]
    }
