"""JWT bearer authentication: HS256 with a local secret, RS256/ES256 from a JWKS file or URL.

The algorithm a token may use is decided by the key that verifies it, never by the token: an HS256
token is checked only against the local secret, an RS/ES token only against a JWKS key of matching type,
and ``alg: none`` is refused outright. ``exp``, ``nbf``, ``iss`` and ``aud`` are always checked.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKSet

from exportcenter.config import Settings
from exportcenter.errors import AuthError, ConfigurationError, ForbiddenError
from exportcenter.util.ids import validate_tenant

SCOPES = ("export:read", "export:write", "export:admin")
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
_JWKS_CACHE_SECONDS = 300
_VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        """``export:admin`` implies the others; ``export:write`` implies ``export:read``."""
        granted = set(self.scopes)
        if "export:admin" in granted:
            return
        if "export:write" in granted:
            granted.add("export:read")
        if scope not in granted:
            raise ForbiddenError(f"token lacks the scope {scope}", required_scope=scope)


def secret_path(settings: Settings) -> Path:
    return settings.home / "jwt-secret"


def load_or_create_secret(settings: Settings) -> str:
    """The HS256 secret: from settings, else $EXPORTCENTER_HOME/jwt-secret, created 0600 on first use."""
    if settings.auth.hs256_secret:
        return settings.auth.hs256_secret
    path = secret_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    for _ in range(50):  # another process may be writing it right now
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
        time.sleep(0.02)
    raise ConfigurationError(f"JWT secret file {path} is empty")


def mint_token(settings: Settings, *, tenant: str, scopes: list[str], subject: str = "local-user",
               ttl_seconds: int = 3600) -> str:
    """An HS256 token for local use (`exportcenter token`)."""
    validate_tenant(tenant)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ConfigurationError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    now = int(time.time())
    claims = {"sub": subject, settings.auth.tenant_claim: tenant, "scope": " ".join(scopes),
              "iss": settings.auth.issuer, "aud": settings.auth.audience, "iat": now, "nbf": now,
              "exp": now + ttl_seconds}
    return jwt.encode(claims, load_or_create_secret(settings), algorithm="HS256")


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._secret = load_or_create_secret(settings)
        self._lock = threading.Lock()
        self._jwks: PyJWKSet | None = None
        self._jwks_loaded_at = 0.0
        self._verified: dict[str, tuple[str, dict[str, Any]]] = {}

    def _jwks_set(self) -> PyJWKSet | None:
        auth = self.settings.auth
        if auth.jwks_file is None and auth.jwks_url is None:
            return None
        with self._lock:
            if self._jwks is not None and time.monotonic() - self._jwks_loaded_at < _JWKS_CACHE_SECONDS:
                return self._jwks
            try:
                if auth.jwks_file is not None:
                    self._jwks = PyJWKSet.from_json(auth.jwks_file.read_text(encoding="utf-8"))
                else:
                    import httpx

                    response = httpx.get(str(auth.jwks_url), timeout=5.0)
                    response.raise_for_status()
                    self._jwks = PyJWKSet.from_dict(response.json())
            except Exception as exc:
                if self._jwks is not None:
                    return self._jwks  # keep serving with the last good key set
                raise AuthError("cannot load the JWKS to verify tokens") from exc
            self._jwks_loaded_at = time.monotonic()
            return self._jwks

    def _key_for(self, header: dict[str, Any]) -> tuple[Any, str]:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise AuthError("unsigned tokens are not accepted")
        if alg == "HS256":
            return self._secret, alg
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise AuthError(f"token algorithm {alg} is not accepted")
        key_set = self._jwks_set()
        if key_set is None:
            raise AuthError(f"no JWKS configured to verify {alg} tokens")
        key = _select_key(key_set, header.get("kid"), alg)
        return key.key, alg

    def authenticate(self, token: str) -> tuple[str, dict[str, Any]]:
        """Verify signature and registered claims; return (subject, claims). Verified tokens are
        remembered until they expire (a repeat caller skips the signature check, not the time checks)."""
        cached = self._verified.get(token)
        now = time.time()
        if cached is not None and cached[1].get("nbf", 0) - self.settings.auth.leeway_seconds <= now \
                < cached[1]["exp"] + self.settings.auth.leeway_seconds:
            return cached
        subject, claims = self._verify(token)
        with self._lock:
            if len(self._verified) >= _VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = (subject, claims)
        return subject, claims

    def _verify(self, token: str) -> tuple[str, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed bearer token") from None
        key, alg = self._key_for(header)
        auth = self.settings.auth
        try:
            claims = jwt.decode(token, key, algorithms=[alg], audience=auth.audience, issuer=auth.issuer,
                                leeway=auth.leeway_seconds,
                                options={"require": ["exp", "iss", "aud", "sub"], "verify_nbf": True})
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer not accepted") from None
        except jwt.PyJWTError:
            raise AuthError("invalid token") from None
        return str(claims["sub"]), claims

    def principal(self, token: str | None, tenant_header: str | None) -> Principal:
        if not token:
            raise AuthError("missing bearer token")
        subject, claims = self.authenticate(token)
        tenant = claims.get(self.settings.auth.tenant_claim)
        if not isinstance(tenant, str) or not tenant:
            raise AuthError("token has no tenant claim")
        if not tenant_header:
            raise AuthError("missing X-Tenant-Id header")
        if tenant_header != tenant:
            raise ForbiddenError("X-Tenant-Id does not match the token's tenant")
        return Principal(subject=subject, tenant=tenant, scopes=_scopes(claims))


def _select_key(key_set: PyJWKSet, kid: Any, alg: str) -> PyJWK:
    wanted_type = "RSA" if alg.startswith("RS") else "EC"
    candidates = [k for k in key_set.keys if k.key_type == wanted_type and (kid is None or k.key_id == kid)]
    if not candidates:
        raise AuthError("no matching verification key for this token")
    return candidates[0]


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    raw = claims.get("scope", claims.get("scp", ""))
    values = raw.split() if isinstance(raw, str) else [str(v) for v in raw] if isinstance(raw, list) else []
    return frozenset(v for v in values if v in SCOPES)


def bearer_from_header(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
