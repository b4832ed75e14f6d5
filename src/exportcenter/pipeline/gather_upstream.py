"""Gather stage from the upstream StellaOps services instead of the built-in store (data_source=upstream).

Per scan id in scope: the scan from the scanner service, its SBOM from the SBOM service (when the
export wants one and the scan names its digest), the verdicts of the policy engine and the VEX that
VEXLens applied. The answers are mapped into the same neutral model as ingested files, so renderers,
VEX application and the built-in policy sets work exactly as on local data.
"""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from datetime import datetime

from sqlalchemy.orm import Session

from exportcenter.config import Settings
from exportcenter.db.models import ExportRow
from exportcenter.errors import DataNotFoundError, InvalidInputError
from exportcenter.model import ExportFormat, ExportSnapshot, ExportType, VexStatement
from exportcenter.observability.tracing import span
from exportcenter.pipeline.gather import available_policy_sets, gather
from exportcenter.pipeline.request import ExportRequest, parse_request, to_options, to_scope
from exportcenter.pipeline.snapshot import build_snapshot
from exportcenter.sources.http.client import UpstreamClient
from exportcenter.sources.http.policy import fetch_verdicts
from exportcenter.sources.http.sbom import fetch_sbom
from exportcenter.sources.http.scanner import fetch_scan, scan_exists
from exportcenter.sources.http.vexlens import fetch_applied_vex
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.util.timeutil import utcnow

SERVICES = ("scanner", "policy", "vexlens", "sbom")


def make_client(settings: Settings, service: str) -> UpstreamClient | None:
    """The client for one service, or None when its URL is not configured."""
    upstream = settings.upstream
    url = {"scanner": upstream.scanner_url, "policy": upstream.policy_url, "vexlens": upstream.vexlens_url,
           "sbom": upstream.sbom_url}[service]
    if not url:
        return None
    return UpstreamClient(service, url, token=upstream.token, timeout_seconds=upstream.timeout_seconds,
                          max_attempts=upstream.max_attempts)


def _scan_ids(request: ExportRequest) -> list[str]:
    export_type = request.type
    if export_type is ExportType.AI_CODE_GUARD_REPORT:
        raise InvalidInputError("ai_code_guard_report reads SARIF documents, which the scanner service does not "
                                "serve; ingest them and use the built-in store")
    scope = request.scope
    if scope.image_refs or not scope.scan_ids:
        raise InvalidInputError("with the upstream data source, select scans by scope.scan_ids "
                                "(the StellaOps services are addressed by scan id)")
    return list(dict.fromkeys(scope.scan_ids))


def check_upstream_scope(settings: Settings, request: ExportRequest, now: datetime) -> None:
    """At request time: every scan id must exist in the scanner service (else 404 naming it)."""
    if request.type is ExportType.AUDIT_LOG:
        return
    to_scope(request, now)
    ids = _scan_ids(request)
    missing_sets = [s for s in (request.scope.policy_sets or []) if s not in available_policy_sets(settings)]
    if missing_sets:
        raise DataNotFoundError(f"policy sets not found: {', '.join(missing_sets)}",
                                scope={"policy_sets": missing_sets})
    client = make_client(settings, "scanner")
    if client is None:
        raise InvalidInputError("data_source is upstream but no scanner URL is configured "
                                "(EXPORTCENTER_UPSTREAM__SCANNER_URL)")
    with client:
        for scan_id in ids:
            scan_exists(client, scan_id)


def gather_upstream(session: Session, settings: Settings, row: ExportRow, generated_at: datetime) -> ExportSnapshot:
    request = parse_request(row.request)
    export_type = ExportType(row.type)
    if export_type is ExportType.AUDIT_LOG:  # the audit log is ExportCenter's own record
        return gather(session, settings, row, generated_at)
    scope = to_scope(request, row.created_at)
    options = to_options(request)
    all_sets = available_policy_sets(settings)
    names = scope.policy_sets or ("default",)
    missing = [n for n in names if n not in all_sets]
    if missing:
        raise DataNotFoundError(f"policy sets not found: {', '.join(missing)}")
    want_sbom = options.include_sbom or export_type is ExportType.SBOM
    documents: list[ParsedDocument] = []
    statements: list[VexStatement] = []
    warnings: list[str] = []
    fetched_at = utcnow()
    with ExitStack() as stack:
        clients = {name: make_client(settings, name) for name in SERVICES}
        for client in clients.values():
            if client is not None:
                stack.enter_context(client)
        scanner = clients["scanner"]
        if scanner is None:
            raise InvalidInputError("data_source is upstream but no scanner URL is configured "
                                    "(EXPORTCENTER_UPSTREAM__SCANNER_URL)")
        for scan_id in _scan_ids(request):
            with span("scanner-query", {"source": "upstream", "scan.id": scan_id}):
                found = fetch_scan(scanner, scan_id, tenant=row.tenant, fetched_at=fetched_at)
            document = found.document
            assert document.scan is not None
            policy, vexlens, sbom_client = clients["policy"], clients["vexlens"], clients["sbom"]
            if policy is not None:
                with span("policy-query", {"source": "upstream", "scan.id": scan_id}):
                    verdicts, notes = fetch_verdicts(policy, scan_id, document.scan, document.findings)
                document = dataclasses.replace(document, policy_verdicts=(*document.policy_verdicts, *verdicts))
                warnings.extend(notes)
            documents.append(document)
            if vexlens is not None:
                with span("vexlens-query", {"source": "upstream", "scan.id": scan_id}):
                    applied, notes = fetch_applied_vex(vexlens, scan_id, tenant=row.tenant, fetched_at=fetched_at)
                statements.extend(applied)
                warnings.extend(notes)
            if want_sbom and found.sbom_digest and document.sbom is None:
                if sbom_client is None:
                    raise InvalidInputError(f"scan {scan_id} names SBOM {found.sbom_digest} but no SBOM service URL "
                                            "is configured (EXPORTCENTER_UPSTREAM__SBOM_URL)")
                documents.append(fetch_sbom(sbom_client, found.sbom_digest, tenant=row.tenant,
                                            fetched_at=fetched_at))
        for service in ("policy", "vexlens"):
            if clients[service] is None:
                warnings.append(f"no {service} service configured: its data is not part of this export")
    return build_snapshot(
        export_id=row.id, tenant=row.tenant, export_type=export_type.value,
        export_format=ExportFormat(row.format).value, documents=documents, vex_statements=statements,
        policy_sets={name: all_sets[name] for name in names}, scope=scope, options=options,
        generated_at=generated_at, metadata=_metadata(session, row), requested_by=row.requested_by,
        extra_warnings=warnings)


def _metadata(session: Session, row: ExportRow) -> dict[str, object]:
    """As for local data: PDF exports carry the tenant's branding and custom template."""
    metadata: dict[str, object] = {"data_source": "upstream"}
    if row.format == ExportFormat.PDF.value:
        from exportcenter.tenancy import snapshot_metadata

        metadata.update(snapshot_metadata(session, row.tenant))
    return metadata
