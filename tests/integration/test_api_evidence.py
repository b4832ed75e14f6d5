"""/api/v1/evidence/keys and /api/v1/evidence/verify through a real Uvicorn, on bundles the server sealed."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from exportcenter.sealing.keys import keyid, load_public_key_pem
from tests.integration.conftest import SMALL_SCAN, Server, start_server, upload, wait_status

VERIFY_LIMIT = 3_000_000


@pytest.fixture(scope="module")
def ev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("evidence"), max_verify_upload_bytes=str(VERIFY_LIMIT))


def _export(client: httpx.Client, body: dict[str, Any]) -> dict[str, bytes]:
    """Run an export and download every artifact it lists (name -> bytes)."""
    response = client.post("/api/v1/exports", json=body)
    assert response.status_code == 202, response.text
    export_id = response.json()["export_id"]
    done = wait_status(client, export_id, {"completed", "failed"}, timeout=60)
    assert done["status"] == "completed", done
    files = {}
    for artifact in done["artifacts"]:
        link = client.get(f"/api/v1/exports/{export_id}/download", params={"artifact": artifact["name"]}).json()
        files[artifact["name"]] = httpx.get(link["download_url"]).content
    return files


@pytest.fixture(scope="module")
def sealed(ev_server: Server) -> dict[str, Any]:
    with ev_server.client("ev") as client:
        scan_id = upload(client, SMALL_SCAN)
        bundle = _export(client, {"type": "evidence_bundle", "format": "zip", "scope": {"scan_ids": [scan_id]}})
        plain = _export(client, {"type": "scan_report", "format": "json", "scope": {"scan_ids": [scan_id]},
                                 "options": {"include_evidence": True}})
    return {"bundle": bundle["evidence.zip"], "plain": plain}


def verify(server: Server, files: list[tuple[str, tuple[str, bytes]]], tenant: str = "ev") -> httpx.Response:
    return httpx.post(server.url + "/api/v1/evidence/verify", files=files, headers=server.headers(tenant),
                      timeout=30)


def problem(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return str(response.json()["detail"])


def test_keys_are_public_and_sign_the_bundles(ev_server: Server, sealed: dict[str, Any]) -> None:
    response = httpx.get(ev_server.url + "/api/v1/evidence/keys")  # no token: public keys are public
    assert response.status_code == 200 and "max-age" in response.headers["cache-control"]
    keys = response.json()["keys"]
    assert len(keys) == 1 and keys[0]["type"] == "ed25519"
    assert keyid(load_public_key_pem(keys[0]["public_key_pem"].encode())) == keys[0]["keyid"]
    with zipfile.ZipFile(io.BytesIO(sealed["bundle"])) as archive:
        record = archive.read("bundle.json")
    assert keys[0]["keyid"].encode() in record  # the signature names this key


def test_rotated_trusted_key_is_published_too(ev_server: Server) -> None:
    extra = ed25519.Ed25519PrivateKey.generate().public_key()
    pem = extra.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (ev_server.home / "keys" / "trusted" / "rotated-old.pem").write_bytes(pem)
    try:
        ids = {k["keyid"] for k in httpx.get(ev_server.url + "/api/v1/evidence/keys").json()["keys"]}
        assert keyid(extra) in ids and len(ids) == 2
    finally:
        (ev_server.home / "keys" / "trusted" / "rotated-old.pem").unlink()


def test_intact_bundle_verifies(ev_server: Server, sealed: dict[str, Any]) -> None:
    response = verify(ev_server, [("bundle", ("evidence.zip", sealed["bundle"]))])
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["valid"] is True and summary["source"] == "evidence.zip"
    assert summary["merkle_root"].startswith("sha256:") and len(summary["merkle_root"]) == 71
    names = {a["name"] for a in summary["artifacts"]}
    assert {"manifest.json", "sbom/sbom.cdx.json", "policy/verdicts.json", "vex/applied.json"} <= names


def test_changed_member_is_refused_with_the_reason(ev_server: Server, sealed: dict[str, Any]) -> None:
    source = zipfile.ZipFile(io.BytesIO(sealed["bundle"]))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "vex/applied.json":
                data = data + b" "
            target.writestr(info, data)
    detail = problem(verify(ev_server, [("bundle", ("evidence.zip", out.getvalue()))]), 422)
    assert "vex/applied.json" in detail


def test_untrusted_key_is_refused(ev_server: Server, sealed: dict[str, Any]) -> None:
    stranger = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    response = verify(ev_server, [("bundle", ("evidence.zip", sealed["bundle"])), ("key", ("k.pem", stranger))])
    assert "untrusted" in problem(response, 422).lower()


def test_sealed_record_with_artifacts_verifies(ev_server: Server, sealed: dict[str, Any]) -> None:
    plain = sealed["plain"]
    assert {"bundle.json", "attestation.dsse.json", "report.json"} <= set(plain)
    artifacts = [("artifacts", (name, data)) for name, data in plain.items()
                 if name not in ("bundle.json", "attestation.dsse.json")]
    seal = [("record", ("bundle.json", plain["bundle.json"])),
            ("attestation", ("attestation.dsse.json", plain["attestation.dsse.json"]))]
    ok = verify(ev_server, seal + artifacts)
    assert ok.status_code == 200, ok.text
    assert {a["name"] for a in ok.json()["artifacts"]} == {name for _, (name, _d) in artifacts}

    changed = [("artifacts", (name, data.replace(b'"', b"'", 1))) for _, (name, data) in artifacts]
    assert "report.json" in problem(verify(ev_server, seal + changed), 422)
    assert "missing" in problem(verify(ev_server, seal), 422).lower()
    hostile = [*artifacts, ("artifacts", ("../escape.json", b"{}"))]
    assert "refused" in problem(verify(ev_server, seal + hostile), 422)
    assert not (ev_server.home.parent / "escape.json").exists()


def test_bad_requests(ev_server: Server, sealed: dict[str, Any]) -> None:
    assert "nothing to verify" in problem(verify(ev_server, [("artifacts", ("a.json", b"x"))]), 422)
    assert "unknown multipart field(s): surprise" in problem(verify(ev_server, [("surprise", ("x", b"1"))]), 422)
    assert "exactly one 'bundle' part, got 2" in problem(
        verify(ev_server, [("bundle", ("a.zip", b"x")), ("bundle", ("b.zip", b"x"))]), 422)
    assert problem(verify(ev_server, [("bundle", ("../../b.zip", b"not an archive"))]), 422) == \
        "b.zip: neither a ZIP nor a gzip-compressed TAR archive"
    assert "not a PEM public key" in problem(
        verify(ev_server, [("bundle", ("evidence.zip", sealed["bundle"])), ("key", ("k.pem", b"x"))]), 422)
    assert "not both" in problem(verify(ev_server, [("bundle", ("evidence.zip", sealed["bundle"])),
                                                    ("record", ("bundle.json", b"{}"))]), 422)
    response = httpx.post(ev_server.url + "/api/v1/evidence/verify", content=b"{}",
                          headers={**ev_server.headers("ev"), "Content-Type": "application/json"})
    assert "multipart/form-data" in problem(response, 422)
    too_big = verify(ev_server, [("bundle", ("big.zip", b"\0" * (VERIFY_LIMIT + 1)))])
    assert str(VERIFY_LIMIT) in problem(too_big, 413)
    problem(httpx.post(ev_server.url + "/api/v1/evidence/verify", files=[("bundle", ("b", sealed["bundle"]))],
                       headers={"X-Tenant-Id": "ev"}), 401)
