"""Delivery of completed exports (spec step 7): download link, email, webhook, external S3 bucket.

``deliver_export`` runs after the store stage; ``retry_due_deliveries`` is the periodic retry task. A delivery
that fails never fails the export: it stays completed, ``delivery_status`` says retrying or failed, each
attempt is a row in ``delivery_attempts`` and an event goes to the export's subscribers.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update

from exportcenter.catalog import audit
from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow
from exportcenter.delivery import attempts
from exportcenter.delivery.attempts import DeliveryStatus
from exportcenter.delivery.base import Artifact, DeliveryContext, DeliveryFailure, DeliveryReceipt
from exportcenter.delivery.download import artifact_link, deliver_download
from exportcenter.delivery.email import deliver_email
from exportcenter.delivery.s3_upload import deliver_s3
from exportcenter.delivery.webhook import deliver_webhook
from exportcenter.errors import ExportCenterError
from exportcenter.observability.metrics import record_delivery_attempt
from exportcenter.pipeline.events import BUS
from exportcenter.runtime import Runtime
from exportcenter.storage import export_prefix
from exportcenter.util.jsonio import loads
from exportcenter.util.timeutil import iso_z, utcnow

log = logging.getLogger("exportcenter.delivery")

MethodFn = Callable[[DeliveryContext, Mapping[str, Any]], DeliveryReceipt]
METHODS: dict[str, MethodFn] = {"download": deliver_download, "email": deliver_email,
                                "webhook": deliver_webhook, "s3": deliver_s3}


def _delivery_of(row: ExportRow) -> tuple[str, dict[str, Any]] | None:
    delivery = (row.request or {}).get("delivery")
    if not delivery:
        return None
    return str(delivery.get("method", "")), dict(delivery.get("config") or {})


def _prefix(row: ExportRow) -> str:
    return row.storage_prefix or export_prefix(row.tenant, row.created_at, row.id)


def build_context(runtime: Runtime, row: ExportRow, files: list[tuple[str, Path]],
                  manifest: dict[str, Any] | None = None) -> DeliveryContext:
    """The delivery view of one export; the manifest is read from ``files`` when not given."""
    manifest_path = next((p for n, p in files if n == "manifest.json"), None)
    if manifest is None:
        manifest = row.manifest or (loads(manifest_path.read_bytes()) if manifest_path else None) or {}
    by_name = {a["name"]: a for a in manifest.get("artifacts", [])}
    artifacts = []
    for name, path in files:
        if name == "manifest.json":
            continue
        entry = by_name.get(name)
        if entry is None:
            from exportcenter.pipeline.run import file_sha256

            entry = {"size": path.stat().st_size, "sha256": file_sha256(path)}
        artifacts.append(Artifact(name=name, path=path, size=int(entry["size"]), sha256=str(entry["sha256"])))
    prefix = _prefix(row)
    settings, store = runtime.settings, runtime.store

    def link_for(name: str, ttl: int) -> str:
        return artifact_link(settings, store, prefix, row.id, row.tenant, name, ttl)

    return DeliveryContext(settings=settings, export_id=row.id, tenant=row.tenant, export_type=row.type,
                           export_format=row.format, created_at=row.created_at, expires_at=row.expires_at,
                           manifest=manifest, artifacts=artifacts, manifest_path=manifest_path,
                           link_for=link_for, link_ttl_seconds=settings.download_url_ttl_seconds)


def deliver_export(runtime: Runtime, export_row: ExportRow, files: list[tuple[str, Path]]) -> str:
    """Deliver one export now (first attempt). Returns delivered | retrying | failed | not_requested."""
    requested = _delivery_of(export_row)
    if requested is None:
        _set_status(runtime, export_row.id, DeliveryStatus.NOT_REQUESTED)
        return DeliveryStatus.NOT_REQUESTED
    method, config = requested
    try:
        ctx = build_context(runtime, export_row, files)
    except (OSError, ValueError, KeyError) as exc:
        return _finish(runtime, export_row, method, utcnow(), None,
                       DeliveryFailure(f"cannot read the artifacts to deliver: {exc}", permanent=True))
    return attempt_delivery(runtime, export_row, method, config, ctx)


def attempt_delivery(runtime: Runtime, row: ExportRow, method: str, config: dict[str, Any],
                     ctx: DeliveryContext) -> str:
    started = utcnow()
    deliver = METHODS.get(method)
    if deliver is None:
        return _finish(runtime, row, method, started, None,
                       DeliveryFailure(f"unknown delivery method {method!r}", permanent=True))
    try:
        receipt = deliver(ctx, config)
    except DeliveryFailure as failure:
        return _finish(runtime, row, method, started, None, failure)
    except ExportCenterError as exc:
        return _finish(runtime, row, method, started, None,
                       DeliveryFailure(exc.message, permanent=not exc.retryable))
    except Exception as exc:  # a bug or an unexpected library error must not fail the export
        log.exception("delivery %s of %s raised", method, row.id)
        return _finish(runtime, row, method, started, None,
                       DeliveryFailure(f"unexpected error: {type(exc).__name__}: {exc}"))
    return _finish(runtime, row, method, started, receipt, None)


def _finish(runtime: Runtime, row: ExportRow, method: str, started: datetime, receipt: DeliveryReceipt | None,
            failure: DeliveryFailure | None) -> str:
    finished = utcnow()
    with transaction(runtime.sessions) as session:
        number = attempts.next_attempt_number(session, row.id)
        decision = attempts.decide(number, delivered=failure is None,
                                   permanent=bool(failure and failure.permanent), finished=finished)
        attempts.record_attempt(session, export_id=row.id, tenant=row.tenant, method=method, attempt=number,
                                started_at=started, finished_at=finished, decision=decision,
                                response_code=_response_code(receipt, failure),
                                error=failure.message if failure else None,
                                detail=receipt.detail if receipt else None)
        session.execute(update(ExportRow).where(ExportRow.id == row.id)
                        .values(delivery_status=decision.outcome))
        audit.record(session, tenant=row.tenant, actor=row.requested_by, action="export.deliver",
                     resource=row.id, outcome="success" if failure is None else "failure",
                     detail=f"{method} attempt {number}: {decision.outcome}"
                            + (f" ({failure.message})" if failure else ""))
    row.delivery_status = decision.outcome
    record_delivery_attempt(method, decision.outcome)
    if failure is not None:
        log.warning("delivery %s of %s attempt %d: %s (%s)", method, row.id, number, decision.outcome,
                    failure.message)
    BUS.publish({"event": f"delivery_{decision.outcome}", "export_id": row.id, "tenant": row.tenant,
                 "type": row.type, "format": row.format, "status": row.status,
                 "delivery_status": decision.outcome, "method": method, "attempt": number,
                 "error": failure.message if failure else None,
                 "next_attempt_at": iso_z(decision.next_attempt_at), "time": iso_z(finished)})
    return decision.outcome


def _response_code(receipt: DeliveryReceipt | None, failure: DeliveryFailure | None) -> int | None:
    if receipt is not None:
        return receipt.response_code
    return failure.response_code if failure is not None else None


def _set_status(runtime: Runtime, export_id: str, status: str) -> None:
    with transaction(runtime.sessions) as session:
        session.execute(update(ExportRow).where(ExportRow.id == export_id).values(delivery_status=status))


def retry_due_deliveries(runtime: Runtime, now: datetime | None = None) -> list[tuple[str, str]]:
    """Retry every delivery whose backoff has passed; returns (export id, new delivery status) pairs."""
    moment = now or utcnow()
    with transaction(runtime.sessions) as session:
        due = attempts.due_exports(session, moment)
    results = []
    for export_id, seen in due:
        with transaction(runtime.sessions) as session:
            if not attempts.claim(session, export_id, seen):
                continue  # another worker took it
            row = session.get(ExportRow, export_id)
        if row is None:
            continue
        results.append((export_id, _retry_one(runtime, row)))
    return results


def _retry_one(runtime: Runtime, row: ExportRow) -> str:
    requested = _delivery_of(row)
    if requested is None:
        _set_status(runtime, row.id, DeliveryStatus.NOT_REQUESTED)
        return DeliveryStatus.NOT_REQUESTED
    method, config = requested
    if row.status != "completed" or not row.manifest:
        return _finish(runtime, row, method, utcnow(), None,
                       DeliveryFailure(f"export is {row.status}; its artifacts are no longer available",
                                       permanent=True))
    workdir = Path(tempfile.mkdtemp(prefix=f"deliver-{row.id}-", dir=_staging(runtime)))
    try:
        files = fetch_artifacts(runtime, row, workdir)
        ctx = build_context(runtime, row, files, manifest=row.manifest)
        return attempt_delivery(runtime, row, method, config, ctx)
    except ExportCenterError as exc:  # the store is down: try again later
        return _finish(runtime, row, method, utcnow(), None,
                       DeliveryFailure(f"cannot fetch artifacts: {exc.message}", permanent=not exc.retryable))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _staging(runtime: Runtime) -> Path:
    root = runtime.settings.home / "staging"
    root.mkdir(parents=True, exist_ok=True)
    return root


def fetch_artifacts(runtime: Runtime, row: ExportRow, workdir: Path) -> list[tuple[str, Path]]:
    """Copy the stored artifacts (and manifest) to local files, as the first attempt had them."""
    prefix = _prefix(row)
    names = [a["name"] for a in (row.manifest or {}).get("artifacts", [])] + ["manifest.json"]
    files = []
    for name in names:
        target = workdir / name
        with runtime.store.open_read(f"{prefix}/{name}") as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        files.append((name, target))
    return files


__all__ = ["METHODS", "DeliveryStatus", "attempt_delivery", "build_context", "deliver_export", "fetch_artifacts",
           "retry_due_deliveries"]
