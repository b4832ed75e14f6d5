"""``exportcenter keys ...`` and ``exportcenter verify ...``: evidence keys and offline verification.

Mounted by the main CLI::

    app.add_typer(keys_app, name="keys")
    app.command("verify")(verify_command)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from exportcenter.cli.common import checked_settings, ensure_directory, handle_errors
from exportcenter.errors import ConfigurationError, ExportCenterError, InvalidInputError
from exportcenter.sealing.keys import (
    KEY_KINDS,
    KeyKind,
    PublicKey,
    generate_keypair,
    keyid,
    load_public_key_pem,
    load_trusted_keys,
)
from exportcenter.sealing.record import VerifiedBundle, verify_record
from exportcenter.sealing.verify import verify_bundle
from exportcenter.util import jsonio

keys_app = typer.Typer(help="Evidence signing keys.", no_args_is_help=True)


def _fail(error: ExportCenterError, as_json: bool) -> typer.Exit:
    if as_json:
        body = {"valid": False, "code": error.code, "reason": error.message}
        sys.stdout.write(jsonio.dumps(body).decode("utf-8"))
    else:
        typer.echo(f"FAILED: {error.message}", err=True)
    return typer.Exit(error.exit_code)


def _write_new_file(path: Path, data: bytes, mode: int, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise ConfigurationError(f"{path} already exists (use --force to replace it)") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


@keys_app.command("generate")
@handle_errors
def generate_command(
    out: Annotated[Path, typer.Option("--out", help="Directory for the key files.")] = Path("."),
    key_type: Annotated[str, typer.Option("--type", help="ed25519 (default) or ecdsa-p256.")] = "ed25519",
    name: Annotated[str, typer.Option("--name", help="File name prefix.")] = "evidence-signing",
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
) -> None:
    """Create a key pair: NAME.key.pem (private, mode 0600) and NAME.pub.pem (give this to auditors)."""
    try:
        if key_type not in KEY_KINDS:
            raise InvalidInputError(f"unknown key type {key_type!r}; choose one of {', '.join(KEY_KINDS)}")
        kind: KeyKind = "ed25519" if key_type == "ed25519" else "ecdsa-p256"
        private_pem, public_pem = generate_keypair(kind)
        ensure_directory(out, "--out")
        private_path, public_path = out / f"{name}.key.pem", out / f"{name}.pub.pem"
        _write_new_file(private_path, private_pem, 0o600, force)
        _write_new_file(public_path, public_pem, 0o644, force)
        key_id = keyid(load_public_key_pem(public_pem))
    except ExportCenterError as error:
        raise _fail(error, False) from None
    typer.echo(f"private key: {private_path} (keep secret; or put its PEM in $EXPORTCENTER_SIGNING_KEY)")
    typer.echo(f"public key:  {public_path}")
    typer.echo(f"key id:      {key_id}")


@keys_app.command("id")
@handle_errors
def id_command(public_keys: Annotated[list[Path], typer.Argument(help="Public key PEM files.")]) -> None:
    """Print the key id (sha256 of the DER public key) of each public key."""
    try:
        for path in public_keys:
            typer.echo(f"{keyid(load_trusted_keys([path])[0])}  {path}")
    except ExportCenterError as error:
        raise _fail(error, False) from None


def _trusted_keys(paths: list[Path]) -> list[PublicKey]:
    """--key files, else the trusted directory: EXPORTCENTER_TRUSTED_KEYS_DIR or $EXPORTCENTER_HOME/keys/trusted,
    where the embedded default publishes the public half of the key it signs with."""
    if paths:
        return load_trusted_keys(paths)
    from exportcenter.pipeline.evidence import trusted_dir

    folder = trusted_dir(checked_settings())
    keys = load_trusted_keys([folder]) if folder.is_dir() else []
    if keys:
        return keys
    raise ConfigurationError(
        f"no trusted public key: pass --key PUB.pem (repeatable), or put the signer's public key in {folder} "
        "(EXPORTCENTER_TRUSTED_KEYS_DIR)"
    )


def _report(result: VerifiedBundle, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(jsonio.dumps(result.summary()).decode("utf-8"))
        return
    typer.echo(f"OK: {result.source} is intact and sealed")
    typer.echo(f"  bundle {result.bundle_id}, sealed {result.sealed_at}, {len(result.artifacts)} artifacts")
    typer.echo(f"  merkle root {result.merkle_root}")
    typer.echo(f"  signed by key {result.keyid}")


@handle_errors
def verify_command(
    bundle: Annotated[Path | None, typer.Argument(help="Evidence bundle (.zip or .tar.gz).")] = None,
    key: Annotated[list[Path] | None, typer.Option("--key", "-k", help="Trusted public key PEM (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable result on stdout.")] = False,
    bundle_record: Annotated[
        Path | None, typer.Option("--bundle-record", help="Sealed record (bundle.json) stored beside an export.")
    ] = None,
    artifacts: Annotated[
        Path | None, typer.Option("--artifacts", help="Directory of the export's artifacts (default: the record's).")
    ] = None,
    attestation: Annotated[
        Path | None, typer.Option("--attestation", help="DSSE attestation (default: beside the record).")
    ] = None,
    audit_log: Annotated[
        Path | None, typer.Option("--audit-log", help="An audit_log JSON export: check its hash chain.")
    ] = None,
    allow_slice: Annotated[
        bool, typer.Option("--allow-slice", help="With --audit-log: accept a log that ends before the chain head.")
    ] = False,
) -> None:
    """Verify a sealed evidence bundle (or a sealed record, or an exported audit log) offline; exit 0 only
    when it is intact."""
    if audit_log is not None:
        _verify_audit_log(audit_log, allow_slice, as_json)
        return
    try:
        if (bundle is None) == (bundle_record is None):
            raise InvalidInputError("give either a BUNDLE, --bundle-record FILE or --audit-log FILE")
        keys = _trusted_keys(list(key or []))
        result: VerifiedBundle
        if bundle is not None:
            result = verify_bundle(bundle, keys)
        else:
            assert bundle_record is not None
            result = verify_record(bundle_record, artifacts or bundle_record.parent, keys,
                                   attestation_path=attestation)
    except ExportCenterError as error:
        raise _fail(error, as_json) from None
    _report(result, as_json)


def _verify_audit_log(path: Path, allow_slice: bool, as_json: bool) -> None:
    from exportcenter.sealing.audit import verify_audit_export

    try:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"{path}: {exc.strerror or exc}") from None
        document = jsonio.loads(data, name=str(path))
        if not isinstance(document, dict):
            raise InvalidInputError(f"{path}: not an audit_log JSON export")
        summary = verify_audit_export(document, allow_slice=allow_slice)
    except ExportCenterError as error:
        raise _fail(error, as_json) from None
    if as_json:
        sys.stdout.write(jsonio.dumps(summary).decode("utf-8"))
        return
    where = "ends at the chain head" if summary["ends_at_head"] else "is a slice ending before the chain head"
    typer.echo(f"OK: {path}: {summary['entries']} audit entries, hash chain intact, {where}")
