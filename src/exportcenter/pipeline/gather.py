"""Gather stage: read everything an export needs from the built-in store into one frozen snapshot."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from exportcenter.catalog import audit
from exportcenter.catalog.documents import documents_by_id, load_parsed, verdict_documents, vex_documents
from exportcenter.config import Settings
from exportcenter.db.models import ExportRow
from exportcenter.model import AuditEvent, ExportFormat, ExportSnapshot, ExportType, VexStatement
from exportcenter.observability.tracing import set_attributes, span
from exportcenter.pipeline.request import parse_request, to_options, to_scope
from exportcenter.pipeline.scope import resolve_scans
from exportcenter.pipeline.snapshot import build_snapshot
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.sources.local.verdicts import resolve_verdicts, verdict_scan_id

if TYPE_CHECKING:
    from exportcenter.policy import PolicySet


def available_policy_sets(settings: Settings) -> dict[str, PolicySet]:
    """Built-in sets plus every YAML file in $EXPORTCENTER_HOME/policies (a file set wins by name)."""
    from exportcenter.policy import builtin_policy_sets, load_policy_sets

    sets = dict(builtin_policy_sets())
    folder: Path = settings.home / "policies"
    if folder.is_dir():
        sets.update(load_policy_sets(sorted(folder.glob("*.y*ml"))))
    return sets


def gather(session: Session, settings: Settings, row: ExportRow, generated_at: datetime) -> ExportSnapshot:
    request = parse_request(row.request)
    export_type = ExportType(row.type)
    scope = to_scope(request, row.created_at)
    options = to_options(request)
    with span("policy-query", {"source": "builtin"}):
        all_sets = available_policy_sets(settings)
        chosen = {name: all_sets[name] for name in (scope.policy_sets or ("default",))}
        set_attributes({"policy.sets": len(chosen)})
    with span("scanner-query", {"source": "builtin"}):
        scan_rows = resolve_scans(session, row.tenant, export_type, scope, set(all_sets))
        document_ids = list(dict.fromkeys(r.document_id for r in scan_rows))
        documents = [load_parsed(d) for d in documents_by_id(session, row.tenant, document_ids)]
        set_attributes({"scanner.scans": len(scan_rows), "scanner.documents": len(documents)})
        # Ingested verdicts files are stored documents too; the spec's span tree has one policy-query span.
        documents = with_ingested_verdicts(session, row.tenant, documents)
    statements: list[VexStatement] = []
    with span("vexlens-query", {"source": "builtin"}):
        for vex_row in vex_documents(session, row.tenant):
            statements.extend(load_parsed(vex_row).vex_statements)
        set_attributes({"vex.statements": len(statements)})
    events: tuple[AuditEvent, ...] = ()
    metadata: dict[str, object] = {}
    if export_type is ExportType.AUDIT_LOG:
        # A range that ends "now" runs to the chain head read in this same transaction, so the export
        # ends at the head it reports and `verify --audit-log` can prove nothing was cut from the end.
        open_end = scope.date_end is None or scope.date_end >= row.created_at
        events = tuple(audit.events(session, row.tenant, scope.date_start, None if open_end else scope.date_end))
        metadata["audit_chain_head"] = audit.chain_head(session, row.tenant)
    if row.format == ExportFormat.PDF.value:  # tenant branding and custom-<tenant> template (renderers/pdf)
        from exportcenter.tenancy import snapshot_metadata

        metadata.update(snapshot_metadata(session, row.tenant))
    return build_snapshot(
        export_id=row.id, tenant=row.tenant, export_type=export_type.value,
        export_format=ExportFormat(row.format).value, documents=documents, vex_statements=statements,
        policy_sets=chosen, scope=scope, options=options, generated_at=generated_at, audit_events=events,
        metadata=metadata, requested_by=row.requested_by,
    )


def with_ingested_verdicts(session: Session, tenant: str,
                           documents: Sequence[ParsedDocument]) -> list[ParsedDocument]:
    """``documents`` with the tenant's ingested verdicts files added, as they are, to the document of the
    scan each names (scans out of scope get none); rules are tied to that scan's findings by vulnerability
    id or alias. The built-in sets' verdicts are added beside them when the snapshot is built."""
    by_scan = {doc.scan.id: index for index, doc in enumerate(documents)
               if doc.scan is not None and doc.source_format != "sarif"}
    result = list(documents)
    for verdict_row in verdict_documents(session, tenant) if by_scan else []:
        scan_id = verdict_scan_id(load_parsed(verdict_row))
        if scan_id is None or scan_id not in by_scan:
            continue
        index = by_scan[scan_id]
        target = result[index]
        verdicts = resolve_verdicts(verdict_row.content, name=verdict_row.name, tenant=tenant,
                                    ingested_at=verdict_row.ingested_at,
                                    findings=[f for f in target.findings if f.scan_id == scan_id])
        result[index] = dataclasses.replace(target, policy_verdicts=(*target.policy_verdicts, *verdicts))
    set_attributes({"policy.ingested_verdicts": sum(len(d.policy_verdicts) for d in result)})
    return result
