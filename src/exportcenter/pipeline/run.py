"""Create export jobs and run them through the stages, with guarded state changes at every step."""

from __future__ import annotations

import hashlib
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exportcenter.catalog import audit
from exportcenter.db.engine import transaction
from exportcenter.db.models import ExportRow
from exportcenter.errors import CancelledError, ExportCenterError, StorageError
from exportcenter.jobs.state import ExportStatus, claim, transition
from exportcenter.model import ExportSnapshot, ExportType
from exportcenter.observability import metrics
from exportcenter.observability.logging import log_context
from exportcenter.observability.tracing import (
    context_from_traceparent,
    current_traceparent,
    mark_error,
    set_attributes,
    span,
)
from exportcenter.pipeline.events import BUS
from exportcenter.pipeline.gather import available_policy_sets, gather
from exportcenter.pipeline.render import render_artifacts
from exportcenter.pipeline.request import ExportRequest, to_scope
from exportcenter.pipeline.scope import resolve_scans
from exportcenter.runtime import Runtime
from exportcenter.storage import export_prefix
from exportcenter.util.ids import new_id
from exportcenter.util.jsonio import dumps
from exportcenter.util.timeutil import build_time, iso_z, utcnow

log = logging.getLogger("exportcenter.pipeline")
ProgressCallback = Callable[[str, int], None]


def request_hash(request: ExportRequest) -> str:
    return "sha256:" + hashlib.sha256(dumps(request.model_dump(mode="json"), indent=False)).hexdigest()


def create_export(runtime: Runtime, session: Session, *, tenant: str, request: ExportRequest,
                  requested_by: str, idempotency_key: str | None = None,
                  source_address: str | None = None) -> ExportRow:
    """Validate the scope against stored data (404 early) and record a queued export."""
    now = utcnow()
    if runtime.settings.data_source == "upstream":
        from exportcenter.pipeline.gather_upstream import check_upstream_scope

        check_upstream_scope(runtime.settings, request, now)
    else:
        resolve_scans(session, tenant, request.type, to_scope(request, now),
                      set(available_policy_sets(runtime.settings)))
    row = ExportRow(id=new_id("exp"), tenant=tenant, type=request.type.value, format=request.format,
                    status=ExportStatus.QUEUED.value, request=request.model_dump(mode="json", exclude_none=True),
                    requested_by=requested_by[:256], created_at=now, next_attempt_at=now,
                    idempotency_key=idempotency_key, request_hash=request_hash(request), warnings=[],
                    artifacts=[], attempts=0, progress=0, cancel_requested=False, size_bytes=0, findings_count=0,
                    traceparent=current_traceparent())
    session.add(row)
    session.flush()
    metrics.record_request(row.type, row.format)
    if runtime.settings.executor == "procrastinate":  # the job row commits (or not) with the export row
        from exportcenter.jobs.procrastinate_executor import enqueue_export

        enqueue_export(session, row.id)
    audit.record(session, tenant=tenant, actor=requested_by, action="export.create", resource=row.id,
                 outcome="success", detail=f"{row.type}/{row.format}", source_address=source_address)
    return row


def export_event(row: ExportRow, kind: str, **extra: Any) -> dict[str, Any]:
    return {"event": kind, "export_id": row.id, "tenant": row.tenant, "type": row.type, "format": row.format,
            "status": row.status, "progress": row.progress, "time": iso_z(utcnow()), **extra}


def run_export(runtime: Runtime, export_id: str, *, worker_id: str | None = None,
               progress: ProgressCallback | None = None) -> ExportRow | None:
    """Run one queued export to completion. Returns None when another worker owns it."""
    worker_id = worker_id or new_id("wrk")
    with transaction(runtime.sessions) as session:
        if not claim(session, export_id, worker_id, utcnow()):
            return None
        row = session.get(ExportRow, export_id)
        assert row is not None
        BUS.publish(export_event(row, "processing"))
    staging = Path(tempfile.mkdtemp(prefix=f"{export_id}-", dir=_staging_root(runtime)))
    started = time.monotonic()
    attributes: dict[str, str | int] = {"export.id": row.id, "export.tenant": row.tenant, "export.type": row.type,
                                       "export.format": row.format, "export.attempt": row.attempts}
    with log_context(export_id=row.id, tenant=row.tenant), \
            span("export-request", attributes, parent=context_from_traceparent(row.traceparent)):
        try:
            result = _stages(runtime, row, worker_id, staging, progress)
            metrics.record_completion(result.type, result.format, seconds=time.monotonic() - started,
                                      size_bytes=result.size_bytes or 0, warnings=result.warnings or [])
            set_attributes({"export.outcome": result.status, "export.size_bytes": result.size_bytes,
                            "export.findings": result.findings_count})
            return result
        except Exception as exc:
            final = _fail(runtime, row, worker_id, exc)
            if final is not None and final.status == ExportStatus.FAILED.value:
                metrics.record_failure(final.type, final.error_code)
                mark_error(final.error_code)
            set_attributes({"export.outcome": final.status if final else "abandoned",
                            "export.error_code": final.error_code if final else None})
            return final
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _staging_root(runtime: Runtime) -> Path:
    root = runtime.settings.home / "staging"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _stage(runtime: Runtime, row: ExportRow, worker_id: str, stage: str, percent: int,
           progress: ProgressCallback | None) -> None:
    """Record the stage, refresh the lease, and stop here if a cancel was requested."""
    with transaction(runtime.sessions) as session:
        current = session.get(ExportRow, row.id)
        if current is None or current.worker_id != worker_id or current.status != ExportStatus.PROCESSING:
            raise CancelledError(f"export {row.id} is no longer owned by this worker")
        if current.cancel_requested:
            raise CancelledError(f"export {row.id} was cancelled")
        current.stage, current.progress, current.heartbeat_at = stage, percent, utcnow()
    row.stage, row.progress = stage, percent
    if progress:
        progress(stage, percent)
    BUS.publish(export_event(row, "progress", stage=stage))


def _stages(runtime: Runtime, row: ExportRow, worker_id: str, staging: Path,
            progress: ProgressCallback | None) -> ExportRow:
    generated_at = build_time() if _source_date_epoch_set() else row.created_at.replace(microsecond=0)
    _stage(runtime, row, worker_id, "gather", 5, progress)
    with span("data-gather", {"export.data_source": runtime.settings.data_source}), \
            transaction(runtime.sessions) as session:
        if runtime.settings.data_source == "upstream":
            from exportcenter.pipeline.gather_upstream import gather_upstream

            snapshot = gather_upstream(session, runtime.settings, row, generated_at)
        else:
            snapshot = gather(session, runtime.settings, row, generated_at)
        set_attributes({"export.scans": len(snapshot.scans), "export.findings": len(snapshot.findings),
                        "export.components": len(snapshot.components)})
    _stage(runtime, row, worker_id, "render", 30, progress)
    with span("template-render", {"export.template": snapshot.options.template}):
        files, warnings = render_artifacts(runtime.settings, snapshot, staging)
        set_attributes({"export.artifacts": len(files), "export.warnings": len(warnings),
                        "export.rendered_bytes": sum(path.stat().st_size for _, path in files)})
    expires = generated_at + timedelta(days=runtime.settings.retention_days)
    if snapshot.options.include_evidence or row.type == ExportType.EVIDENCE_BUNDLE:
        _stage(runtime, row, worker_id, "seal", 70, progress)
        from exportcenter.pipeline.evidence import seal_export

        with span("evidence-seal"):
            files = seal_export(runtime.settings, snapshot, staging, files, expires)
            set_attributes({"export.sealed_bytes": sum(path.stat().st_size for _, path in files)})
    _stage(runtime, row, worker_id, "store", 85, progress)
    created = row.created_at
    with span("artifact-storage", {"storage.backend": runtime.settings.storage_backend}):
        manifest = build_manifest(row.id, generated_at, expires, files)
        manifest_path = staging / "manifest.json"
        manifest_path.write_bytes(dumps(manifest))
        prefix = export_prefix(row.tenant, created, row.id)
        _publish_with_retry(runtime, prefix, [*files, ("manifest.json", manifest_path)])
        set_attributes({"export.size_bytes": sum(a["size"] for a in manifest["artifacts"])})
    final = _complete(runtime, row, worker_id, snapshot, manifest, prefix, warnings, expires)
    if final.request.get("delivery"):
        with span("delivery", {"delivery.method": str(final.request["delivery"].get("method"))}):
            _deliver(runtime, final, [*files, ("manifest.json", manifest_path)])
            set_attributes({"delivery.outcome": final.delivery_status})
    return final


def _deliver(runtime: Runtime, row: ExportRow, files: list[tuple[str, Path]]) -> None:
    """Deliver after completion (spec step 7): a delivery failure never fails the export; it is recorded,
    retried by the periodic task and announced on the events stream."""
    from exportcenter.delivery import deliver_export

    try:
        row.delivery_status = deliver_export(runtime, row, files)
    except Exception:
        log.exception("delivery of export %s failed unexpectedly", row.id)


def _source_date_epoch_set() -> bool:
    import os

    return bool(os.environ.get("SOURCE_DATE_EPOCH", "").strip().isdigit())


def build_manifest(export_id: str, created_at: datetime, expires_at: datetime,
                   files: list[tuple[str, Path]]) -> dict[str, Any]:
    """The spec's manifest, exactly: export_id, created_at, artifacts (name, size, sha256), expires_at."""
    return {"export_id": export_id, "created_at": iso_z(created_at),
            "artifacts": [{"name": name, "size": path.stat().st_size, "sha256": file_sha256(path)}
                          for name, path in files],
            "expires_at": iso_z(expires_at)}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _publish_with_retry(runtime: Runtime, prefix: str, files: list[tuple[str, Path]]) -> None:
    """The spec's "Storage failure: retry with exponential backoff" (bounded, with jitter)."""
    attempts = max(1, runtime.settings.s3.max_attempts)
    for attempt in range(1, attempts + 1):
        try:
            runtime.store.publish(prefix, files)
            return
        except StorageError as exc:
            if attempt == attempts:
                raise StorageError(f"storage failed after {attempts} attempts: {exc.message}") from exc
            delay = min(8.0, 0.2 * 2 ** (attempt - 1)) * (0.5 + random.random())
            metrics.record_storage_retry()
            log.warning("storage attempt %d failed (%s); retrying in %.2fs", attempt, exc.message, delay)
            time.sleep(delay)


def _complete(runtime: Runtime, row: ExportRow, worker_id: str, snapshot: ExportSnapshot,
              manifest: dict[str, Any], prefix: str, warnings: list[str], expires: datetime) -> ExportRow:
    artifacts = manifest["artifacts"]
    with transaction(runtime.sessions) as session:
        done = transition(session, row.id, ExportStatus.COMPLETED, expect=ExportStatus.PROCESSING,
                          worker_id=worker_id, completed_at=utcnow(), expires_at=expires, manifest=manifest,
                          artifacts=artifacts, storage_prefix=prefix, progress=100, stage="done",
                          warnings=[*snapshot.warnings, *warnings], error=None, error_code=None,
                          size_bytes=sum(a["size"] for a in artifacts), findings_count=len(snapshot.findings))
        if not done:
            raise CancelledError(f"export {row.id} changed state while it was being stored")
        audit.record(session, tenant=row.tenant, actor=row.requested_by, action="export.complete",
                     resource=row.id, outcome="success",
                     detail=", ".join(f"{a['name']} sha256:{a['sha256']}" for a in artifacts))
        final = session.get(ExportRow, row.id, populate_existing=True)
        assert final is not None
    BUS.publish(export_event(final, "completed", artifacts=artifacts))
    return final


def _fail(runtime: Runtime, row: ExportRow, worker_id: str, exc: Exception) -> ExportRow | None:
    error = exc if isinstance(exc, ExportCenterError) else None
    if error is None:
        log.exception("export %s failed unexpectedly", row.id)
    message = error.message if error else f"internal error: {type(exc).__name__}: {exc}"
    code = error.code if error else "internal"
    with transaction(runtime.sessions) as session:
        current = session.get(ExportRow, row.id)
        if current is None:
            return None
        if isinstance(exc, CancelledError) and current.cancel_requested:
            transition(session, row.id, ExportStatus.CANCELLED, expect=ExportStatus.PROCESSING,
                       worker_id=worker_id, completed_at=utcnow(), error="cancelled by request", error_code=code)
            runtime.store.delete_prefix(export_prefix(row.tenant, row.created_at, row.id))
        elif isinstance(exc, CancelledError):
            return None  # ownership lost: the new owner finishes the job
        elif error is not None and error.retryable and current.attempts < runtime.settings.max_job_attempts:
            delay = timedelta(seconds=min(300, 2 ** current.attempts))
            transition(session, row.id, ExportStatus.QUEUED, expect=ExportStatus.PROCESSING, worker_id=worker_id,
                       next_attempt_at=utcnow() + delay, error=message, error_code=code)
        else:
            transition(session, row.id, ExportStatus.FAILED, expect=ExportStatus.PROCESSING, worker_id=worker_id,
                       completed_at=utcnow(), error=message, error_code=code)
            audit.record(session, tenant=row.tenant, actor=row.requested_by, action="export.fail",
                         resource=row.id, outcome="failure", detail=message)
        final = session.get(ExportRow, row.id, populate_existing=True)
    if final is not None:
        kind = {"failed": "failed", "cancelled": "cancelled", "queued": "retrying"}.get(final.status, final.status)
        BUS.publish(export_event(final, kind, error=final.error))
    return final


def find_export(session: Session, tenant: str, export_id: str) -> ExportRow | None:
    return session.scalar(select(ExportRow).where(ExportRow.id == export_id, ExportRow.tenant == tenant))
