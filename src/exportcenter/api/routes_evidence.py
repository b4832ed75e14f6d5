"""/api/v1/evidence: the active public keys (for auditors) and verification of uploaded sealed bundles.

``POST /api/v1/evidence/verify`` streams the multipart body straight to files in a private temporary
directory (never into memory), stopping at ``max_verify_upload_bytes``; the directory is removed afterwards.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from exportcenter.api.auth import Principal
from exportcenter.api.context import audited, context, requires
from exportcenter.config import Settings
from exportcenter.errors import InvalidInputError, PayloadTooLargeError
from exportcenter.pipeline.evidence import active_signer, trusted_dir
from exportcenter.sealing import names
from exportcenter.sealing.keys import PublicKey, keyid, load_public_key_pem, load_trusted_keys, public_keys_document
from exportcenter.sealing.record import VerifiedBundle, verify_record
from exportcenter.sealing.verify import verify_bundle

log = logging.getLogger("exportcenter.api")
router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": "problem+json", "content": {"application/problem+json": {}}}
    for code in (401, 403, 413, 422)}
MAX_PARTS = 1000
MAX_KEY_BYTES = 16 * 1024
VERIFY_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "description": "either `bundle`, or `record` + `attestation` + `artifacts`",
    "properties": {
        "bundle": {"type": "string", "format": "binary", "description": "evidence bundle (.zip / .tar.gz)"},
        "record": {"type": "string", "format": "binary", "description": "sealed record (bundle.json)"},
        "attestation": {"type": "string", "format": "binary", "description": "attestation.dsse.json"},
        "artifacts": {"type": "array", "items": {"type": "string", "format": "binary"},
                      "description": "the export's artifacts, each under its artifact name"},
        "key": {"type": "array", "items": {"type": "string", "format": "binary"},
                "description": "trusted public keys (PEM) to use instead of the server's"}}}}}}}


def active_public_keys(settings: Settings) -> list[PublicKey]:
    """The signer's public key and every trusted key (rotation), each once."""
    signer_key = active_signer(settings).public_key
    found = {keyid(signer_key): signer_key}
    folder = trusted_dir(settings)
    if folder.is_dir():
        for key in load_trusted_keys([folder]):
            found.setdefault(keyid(key), key)
    return list(found.values())


@router.get("/keys", responses={200: {"description": "the active public keys"}})
def evidence_keys(request: Request, response: Response) -> dict[str, object]:
    """Public keys that verify sealed bundles (no token needed: they are public by design)."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return public_keys_document(active_public_keys(context(request).runtime.settings))


@dataclass
class UploadedPart:
    field: str
    filename: str | None
    path: Path
    size: int = 0


@dataclass
class _DiskForm:
    """python-multipart callbacks that write every part to its own file under ``folder``."""

    folder: Path
    parts: list[UploadedPart] = field(default_factory=list)
    _header_name: bytes = b""
    _header_value: bytes = b""
    _disposition: bytes = b""
    _handle: IO[bytes] | None = None

    def on_part_begin(self) -> None:
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        if len(self.parts) >= MAX_PARTS:
            raise InvalidInputError(f"too many parts: at most {MAX_PARTS}")
        _kind, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise InvalidInputError("a multipart part has no name")
        filename = options.get(b"filename")
        path = self.folder / f"part-{len(self.parts)}"
        self.parts.append(UploadedPart(options[b"name"].decode("utf-8", "replace"),
                                       filename.decode("utf-8", "replace") if filename is not None else None, path))
        self._handle = open(path, "wb")  # noqa: SIM115 - closed in on_part_end / close()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        assert self._handle is not None
        self._handle.write(data[start:end])
        self.parts[-1].size += end - start

    def on_part_end(self) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


async def receive_form(request: Request, folder: Path, limit: int) -> list[UploadedPart]:
    """Stream a multipart body to files in ``folder``; PayloadTooLargeError once it passes ``limit``."""
    content_type = request.headers.get("content-type", "")
    media, params = parse_options_header(content_type)
    if media != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidInputError("send the bundle as multipart/form-data (field 'bundle', or 'record', "
                                "'attestation' and 'artifacts')")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"upload exceeds the limit of {limit} bytes", limit=limit)
    form = _DiskForm(folder)
    callbacks: Any = {name: getattr(form, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
        "on_part_data", "on_part_end")}
    parser = MultipartParser(params[b"boundary"], callbacks)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise PayloadTooLargeError(f"upload exceeds the limit of {limit} bytes", limit=limit)
            parser.write(chunk)
        parser.finalize()
    except (InvalidInputError, PayloadTooLargeError):
        raise
    except Exception as exc:
        raise InvalidInputError(f"malformed multipart body: {exc}") from None
    finally:
        form.close()
    return form.parts


def _keys_from(parts: list[UploadedPart]) -> list[PublicKey]:
    keys = []
    for part in parts:
        if part.size > MAX_KEY_BYTES:
            raise InvalidInputError(f"key {part.filename or part.field} is larger than {MAX_KEY_BYTES} bytes")
        keys.append(load_public_key_pem(part.path.read_bytes(), f"uploaded key {part.filename or 'key'}"))
    return keys


def _only(parts: list[UploadedPart], name: str) -> UploadedPart:
    found = [p for p in parts if p.field == name]
    if len(found) != 1:
        raise InvalidInputError(f"expected exactly one '{name}' part, got {len(found)}")
    return found[0]


def _verify_record_parts(parts: list[UploadedPart], folder: Path, keys: list[PublicKey]) -> VerifiedBundle:
    record, attestation = _only(parts, "record"), _only(parts, "attestation")
    seal_dir, artifacts_dir = folder / "seal", folder / "artifacts"
    seal_dir.mkdir()
    artifacts_dir.mkdir()
    record_path, attestation_path = seal_dir / names.RECORD, seal_dir / names.ATTESTATION
    os.replace(record.path, record_path)
    os.replace(attestation.path, attestation_path)
    for part in (p for p in parts if p.field == "artifacts"):
        name = part.filename or ""
        problem = names.member_name_problem(name)
        if problem is not None:
            raise InvalidInputError(f"artifact name {name!r} refused: {problem}")
        target = artifacts_dir / name
        if target.exists():
            raise InvalidInputError(f"artifact {name!r} uploaded twice")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part.path, target)
    result = verify_record(record_path, artifacts_dir, keys, attestation_path=attestation_path)
    return replace(result, source=record.filename or names.RECORD)


def _safe_filename(filename: str | None) -> str:
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")[:120]
    return cleaned or "bundle"


def _verify_parts(settings: Settings, parts: list[UploadedPart], folder: Path) -> dict[str, Any]:
    known = {"bundle", "record", "attestation", "artifacts", "key"}
    unknown = sorted({p.field for p in parts} - known)
    if unknown:
        raise InvalidInputError(f"unknown multipart field(s): {', '.join(unknown)}")
    uploaded_keys = [p for p in parts if p.field == "key"]
    keys = _keys_from(uploaded_keys) if uploaded_keys else active_public_keys(settings)
    if any(p.field == "bundle" for p in parts):
        if any(p.field in ("record", "attestation", "artifacts") for p in parts):
            raise InvalidInputError("send either 'bundle' or 'record' + 'attestation' + 'artifacts', not both")
        bundle = _only(parts, "bundle")
        named = folder / "bundle" / _safe_filename(bundle.filename)  # so messages name the user's file
        named.parent.mkdir()
        os.replace(bundle.path, named)
        result = replace(verify_bundle(named, keys), source=bundle.filename or named.name)
    elif any(p.field == "record" for p in parts):
        result = _verify_record_parts(parts, folder, keys)
    else:
        raise InvalidInputError("nothing to verify: send a 'bundle', or 'record' + 'attestation' + 'artifacts'")
    return result.summary()


@router.post("/verify", responses={**PROBLEMS, 200: {"description": "the bundle is intact and sealed"}},
             openapi_extra=VERIFY_BODY)
async def verify_upload(request: Request,
                        principal: Annotated[Principal, Depends(requires("export:read"))]) -> dict[str, Any]:
    """Verify an uploaded bundle (or a sealed record with its artifacts): 200 with the summary when intact,
    422 problem+json with the exact reason when not. Checked against the server's trusted keys unless
    ``key`` parts are sent."""
    settings = context(request).runtime.settings
    folder = Path(tempfile.mkdtemp(prefix="ec-verify-"))
    try:
        parts = await receive_form(request, folder, settings.max_verify_upload_bytes)
        size = sum(p.size for p in parts)
        resource = next((p.filename or p.field for p in parts if p.field in ("bundle", "record")), "evidence")
        summary: dict[str, Any] = await run_in_threadpool(
            audited, request, principal, "evidence.verify", resource[:200],
            lambda: _verify_parts(settings, parts, folder), f"{size} bytes")
        return summary
    finally:
        await run_in_threadpool(shutil.rmtree, folder, True)
