"""Auth, tenancy, signed URLs and input limits, against a real server configured with a JWKS file."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from exportcenter.api.signing import UrlSigner, load_or_create_signing_key
from tests.integration.conftest import SMALL_SCAN, Server, export_body, start_server, upload, wait_status

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("secure")
    jwks = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(RSA_KEY.public_key())), "kid": "rsa-1", "use": "sig"},
                     {**json.loads(ECAlgorithm.to_jwk(EC_KEY.public_key())), "kid": "ec-1", "use": "sig"}]}
    (home / "jwks.json").write_text(json.dumps(jwks))
    yield from start_server(home, auth__jwks_file=str(home / "jwks.json"), max_upload_bytes="100000")


def claims(tenant: str = "sec", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "mallory", "tenant": tenant, "scope": "export:read export:write", "iss": "exportcenter",
            "aud": "exportcenter", "iat": now, "nbf": now, "exp": now + 300}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def call(server: Server, token: str | None, tenant: str = "sec", path: str = "/api/v1/exports") -> httpx.Response:
    headers = {"X-Tenant-Id": tenant}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(server.url + path, headers=headers)


def hs(server: Server, **overrides: Any) -> str:
    secret = (server.home / "jwt-secret").read_text().strip()
    return jwt.encode(claims(**overrides), secret, algorithm="HS256")


def rs(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})


def test_valid_tokens_of_every_kind_are_accepted(secured: Server) -> None:
    assert call(secured, hs(secured)).status_code == 200
    assert call(secured, rs()).status_code == 200
    es = jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    assert call(secured, es).status_code == 200
    assert oct((secured.home / "jwt-secret").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("case", ["missing", "garbage", "expired", "not_yet_valid", "wrong_audience",
                                  "wrong_issuer", "wrong_key", "alg_none", "hs_rs_confusion", "no_exp"])
def test_bad_tokens_are_refused_with_401(secured: Server, case: str) -> None:
    now = int(time.time())
    public_pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    tokens: dict[str, str | None] = {
        "missing": None,
        "garbage": "not.a.jwt",
        "expired": hs(secured, exp=now - 3600, iat=now - 7200, nbf=now - 7200),
        "not_yet_valid": hs(secured, nbf=now + 3600),
        "wrong_audience": rs(aud="someone-else"),
        "wrong_issuer": hs(secured, iss="evil"),
        "wrong_key": jwt.encode(claims(), rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                algorithm="RS256", headers={"kid": "rsa-1"}),
        "alg_none": _unsigned(claims()),
        # the classic confusion: HS256 "signed" with the server's RSA public key as the secret
        "hs_rs_confusion": _hs256_raw(claims(), public_pem),
        "no_exp": hs(secured, exp=None),
    }
    response = call(secured, tokens[case])
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(payload).encode())}."


def _hs256_raw(payload: dict[str, Any], secret: bytes) -> str:
    import hashlib
    import hmac

    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': 'rsa-1'}).encode())}." \
                    f"{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def test_tenant_header_must_match_claim(secured: Server) -> None:
    response = call(secured, hs(secured, tenant="sec"), tenant="other")
    assert response.status_code == 403
    assert "X-Tenant-Id" in response.json()["detail"]
    assert httpx.get(secured.url + "/api/v1/exports", headers={"Authorization": f"Bearer {hs(secured)}"}).status_code == 401


def test_scopes_are_enforced(secured: Server) -> None:
    reader = hs(secured, scope="export:read")
    headers = {"Authorization": f"Bearer {reader}", "X-Tenant-Id": "sec"}
    assert httpx.get(secured.url + "/api/v1/exports", headers=headers).status_code == 200
    denied = httpx.post(secured.url + "/api/v1/exports", headers=headers, json=export_body("scan-x"))
    assert denied.status_code == 403 and "export:write" in denied.json()["detail"]
    nothing = {"Authorization": f"Bearer {hs(secured, scope='')}", "X-Tenant-Id": "sec"}
    assert httpx.get(secured.url + "/api/v1/exports", headers=nothing).status_code == 403
    admin = {"Authorization": f"Bearer {hs(secured, scope='export:admin')}", "X-Tenant-Id": "sec"}
    assert httpx.get(secured.url + "/api/v1/exports", headers=admin).status_code == 200


def test_other_tenants_ids_are_invisible(secured: Server) -> None:
    with secured.client("owner") as owner, secured.client("intruder") as intruder:
        scan_id = upload(owner, SMALL_SCAN)
        export_id = owner.post("/api/v1/exports", json=export_body(scan_id)).json()["export_id"]
        wait_status(owner, export_id, {"completed"})
        for path in (f"/api/v1/exports/{export_id}", f"/api/v1/exports/{export_id}/download"):
            assert intruder.get(path).status_code == 404
        assert intruder.post(f"/api/v1/exports/{export_id}/cancel").status_code == 404
        assert intruder.get("/api/v1/exports").json()["items"] == []
        assert intruder.get("/api/v1/scans").json()["items"] == []
        # the owner's scan id names nothing in the intruder's tenant
        assert intruder.post("/api/v1/exports", json=export_body(scan_id)).status_code == 404
        # a signed link for the owner's file, re-signed for the intruder's tenant, finds nothing
        signer = UrlSigner(load_or_create_signing_key(secured.settings()), secured.url)
        url, _ = signer.sign_download(export_id, "report.json", "intruder", 60)
        assert httpx.get(url).status_code == 404


def test_signed_urls_tampered_or_expired_get_the_same_403(secured: Server) -> None:
    with secured.client("links") as client:
        scan_id = upload(client, SMALL_SCAN)
        export_id = client.post("/api/v1/exports", json=export_body(scan_id)).json()["export_id"]
        wait_status(client, export_id, {"completed"})
        url = client.get(f"/api/v1/exports/{export_id}/download").json()["download_url"]
        assert httpx.get(url).status_code == 200
        signer = UrlSigner(load_or_create_signing_key(secured.settings()), secured.url)
        expired, _ = signer.sign_download(export_id, "report.json", "links", -5)
        variants = {
            "signature": url[:-1] + ("0" if url[-1] != "0" else "1"),
            "tenant": url.replace("tenant=links", "tenant=linkz"),
            "expiry": url.replace("expires=", "expires=9"),
            "artifact": url.replace("report.json", "manifest.json"),
            "unsigned": url.split("?")[0],
            "expired": expired,
        }
        bodies = set()
        for name, bad in variants.items():
            response = httpx.get(bad)
            assert response.status_code == 403, name
            bodies.add(response.json()["detail"])
        assert bodies == {"download link is invalid or has expired"}


def test_path_traversal_in_artifact_names(secured: Server) -> None:
    with secured.client("paths") as client:
        scan_id = upload(client, SMALL_SCAN)
        export_id = client.post("/api/v1/exports", json=export_body(scan_id)).json()["export_id"]
        wait_status(client, export_id, {"completed"})
        for name in ("../../jwt-secret", "..", ".hidden", "a/../../b", "%2e%2e%2fjwt-secret"):
            response = client.get(f"/api/v1/exports/{export_id}/download", params={"artifact": name})
            assert response.status_code in (404, 422), name
        signer = UrlSigner(load_or_create_signing_key(secured.settings()), secured.url)
        secret = (secured.home / "jwt-secret").read_text().strip()
        for name in ("..%2F..%2F..%2F..%2F..%2Fjwt-secret", "..", "..%2Fmanifest.json"):
            url, _ = signer.sign_download(export_id, name, "paths", 60)  # even a genuinely signed one
            response = httpx.get(url)
            assert response.status_code in (403, 404, 422), name
            assert secret not in response.text


def test_upload_limits_and_malformed_input(secured: Server, tmp_path: Path) -> None:
    with secured.client("uploads") as client:
        big = tmp_path / "big.json"
        big.write_bytes(b'{"pad": "' + b"x" * 300_000 + b'"}')
        with open(big, "rb") as handle:
            response = client.post("/api/v1/scans", files={"file": ("big.json", handle, "application/json")})
        assert response.status_code == 413
        assert "100000" in response.json()["detail"]
        junk = client.post("/api/v1/scans", files={"file": ("junk.json", b"{not json", "application/json")})
        assert junk.status_code == 422 and junk.headers["content-type"] == "application/problem+json"
        assert client.post("/api/v1/scans", content=b"raw", headers={"content-type": "text/plain"}).status_code == 422
        malformed = client.post("/api/v1/exports", content=b'{"type": "scan_report", ',
                                headers={"content-type": "application/json"})
        assert malformed.status_code == 422
        assert malformed.json()["type"].endswith("/invalid_input") and malformed.json()["errors"]


def test_websocket_refuses_bad_credentials(secured: Server) -> None:
    base = secured.url.replace("http", "ws") + "/api/v1/events"

    async def attempt(url: str, headers: dict[str, str] | None = None) -> str:
        try:
            async with websockets.connect(url, additional_headers=headers) as socket:
                return str(json.loads(await socket.recv())["event"])
        except websockets.exceptions.InvalidStatus as exc:
            return f"refused {exc.response.status_code}"

    token = hs(secured)
    assert asyncio.run(attempt(base)) == "refused 403"
    assert asyncio.run(attempt(f"{base}?token={token}&tenant=other")) == "refused 403"
    assert asyncio.run(attempt(f"{base}?token={_unsigned(claims())}&tenant=sec")) == "refused 403"
    assert asyncio.run(attempt(f"{base}?token={token}&tenant=sec")) == "subscribed"
    assert asyncio.run(attempt(base, {"Authorization": f"Bearer {token}", "X-Tenant-Id": "sec"})) == "subscribed"
