"""Identifiers and the names users may choose (tenants, artifact names)."""

from __future__ import annotations

import hashlib
import re
import secrets

from exportcenter.errors import InvalidInputError

TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ARTIFACT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def content_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{prefix}-{digest[:16]}"


def validate_tenant(tenant: str) -> str:
    if not TENANT_RE.match(tenant or ""):
        raise InvalidInputError(
            f"invalid tenant {tenant!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return tenant


def validate_artifact_name(name: str) -> str:
    """Artifact names are ours (report.pdf, sbom.cdx.json): anything else is refused, never resolved."""
    if not ARTIFACT_NAME_RE.match(name or "") or ".." in name:
        raise InvalidInputError(f"invalid artifact name {name!r}")
    return name
