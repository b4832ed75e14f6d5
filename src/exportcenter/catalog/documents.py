"""Ingest files into the built-in store and load them back as parsed documents.

The raw bytes are kept (content-addressed per tenant); everything else is re-derived by parsing, so the
stored truth is always the file the user gave us.
"""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from exportcenter.catalog import audit
from exportcenter.db.engine import transaction
from exportcenter.db.models import DocumentRow, ScanRow
from exportcenter.errors import DataNotFoundError, ExportCenterError, InvalidInputError
from exportcenter.sources.local.parsed import ParsedDocument
from exportcenter.sources.local.verdicts import verdict_scan_id
from exportcenter.util.ids import content_id
from exportcenter.util.timeutil import iso_z, utcnow


@dataclass
class IngestResult:
    document_id: str
    name: str
    digest: str
    source_format: str
    kinds: list[str]
    created: bool
    ids: dict[str, str] = field(default_factory=dict)  # scan_id / sbom_id / code_guard_id
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"document_id": self.document_id, "name": self.name, "digest": self.digest,
                "format": self.source_format, "kinds": self.kinds, "new": self.created, **self.ids,
                "counts": self.counts, "warnings": self.warnings}


def sha256_digest(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def parse(content: bytes, *, name: str, tenant: str, ingested_at: datetime) -> ParsedDocument:
    """Parse, turning any unexpected parser failure into a clear refusal naming the file."""
    from exportcenter.sources.local.sniff import parse_document

    try:
        return parse_document(content, name=name, tenant=tenant, ingested_at=ingested_at)
    except ExportCenterError:
        raise
    except Exception as exc:  # a parser bug must still not become a traceback for the user
        raise InvalidInputError(f"{name}: could not be parsed ({type(exc).__name__}: {exc})",
                                file=name) from exc


def ingest_bytes(session: Session, *, tenant: str, name: str, content: bytes, actor: str = "cli",
                 source_address: str | None = None, parsed: ParsedDocument | None = None,
                 ingested_at: datetime | None = None) -> IngestResult:
    """Store one file in the caller's transaction. Idempotent per (tenant, content digest).
    Raises InvalidInputError, storing nothing, when the file is not one we accept. ``parsed``: the
    file already parsed (by ``ingest_all``) at ``ingested_at``, so it is not parsed twice."""
    digest = sha256_digest(content)
    existing = session.scalar(select(DocumentRow).where(DocumentRow.tenant == tenant,
                                                        DocumentRow.digest == digest))
    if existing is not None:
        return _result_for(session, existing, created=False)
    now = ingested_at if parsed is not None and ingested_at is not None else utcnow()
    if parsed is None:
        parsed = parse(content, name=name, tenant=tenant, ingested_at=now)
    _require_verdict_scan(session, parsed, tenant=tenant)
    row = _document_row(parsed, tenant=tenant, content=content, now=now, actor=actor)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
            for scan_row in _scan_rows(parsed, tenant=tenant, document_id=row.id, now=now):
                session.add(scan_row)
            session.flush()
    except IntegrityError:  # the same file ingested concurrently: the other one won
        existing = session.scalar(select(DocumentRow).where(DocumentRow.tenant == tenant,
                                                            DocumentRow.digest == digest))
        if existing is None:
            raise
        return _result_for(session, existing, created=False)
    audit.record(session, tenant=tenant, actor=actor, action="ingest", resource=row.id, outcome="success",
                 detail=f"{name} ({parsed.source_format}, {len(content)} bytes)", source_address=source_address)
    return _result_for(session, row, created=True, parsed=parsed)


def ingest(sessions: sessionmaker[Session], *, tenant: str, name: str, content: bytes, actor: str = "cli",
           source_address: str | None = None) -> IngestResult:
    """Ingest in its own transaction; a refusal is audited in a separate one (nothing else is kept)."""
    try:
        with transaction(sessions) as session:
            return ingest_bytes(session, tenant=tenant, name=name, content=content, actor=actor,
                                source_address=source_address)
    except (InvalidInputError, DataNotFoundError) as exc:
        with transaction(sessions) as session:
            audit.record(session, tenant=tenant, actor=actor, action="ingest", resource=name[:512],
                         outcome="failure", detail=exc.message, source_address=source_address)
        raise


def ingest_all(sessions: sessionmaker[Session], *, tenant: str, files: Sequence[tuple[str, bytes]],
               actor: str = "cli", source_address: str | None = None) -> list[IngestResult]:
    """Ingest several files all or nothing: every file is parsed before any is stored, so when one is
    refused none is stored, and the refusal (audited like ``ingest``'s) says so."""
    checked: list[ParsedDocument] = []
    try:
        now = utcnow()
        for name, content in files:
            checked.append(parse(content, name=name, tenant=tenant, ingested_at=now))
        batch_scans = {p.scan.id for p in checked if p.scan is not None}
        with transaction(sessions) as session:
            for parsed in checked:
                name = parsed.name
                _require_verdict_scan(session, parsed, tenant=tenant, also=batch_scans)
    except (InvalidInputError, DataNotFoundError) as exc:
        with transaction(sessions) as session:
            audit.record(session, tenant=tenant, actor=actor, action="ingest", resource=name[:512],
                         outcome="failure", detail=exc.message, source_address=source_address)
        if len(files) < 2:
            raise
        others = len(files) - 1
        were = f"the {others} other files given with it were" if others > 1 else "the other file given with it was"
        raise type(exc)(f"{exc.message} (nothing was stored: {were} not ingested either)", **exc.details) from None
    results: dict[int, IngestResult] = {}
    # Verdicts files last, so the scans they name that came in the same batch are stored before them.
    order = sorted(range(len(files)), key=lambda i: verdict_scan_id(checked[i]) is not None)
    for index in order:
        name, content = files[index]
        with transaction(sessions) as session:
            results[index] = ingest_bytes(session, tenant=tenant, name=name, content=content, actor=actor,
                                          source_address=source_address, parsed=checked[index],
                                          ingested_at=now)
    return [results[index] for index in range(len(files))]


def _require_verdict_scan(session: Session, parsed: ParsedDocument, *, tenant: str,
                          also: set[str] | None = None) -> None:
    """A verdicts file must name a scan stored for this tenant (or one in the same batch, ``also``)."""
    scan_id = verdict_scan_id(parsed)
    if scan_id is None or scan_id in (also or set()):
        return
    stored = session.scalar(select(ScanRow.id).where(ScanRow.tenant == tenant, ScanRow.id == scan_id,
                                                     ScanRow.kind == "scan"))
    if stored is None:
        raise DataNotFoundError(f"{parsed.name}: scan_id {scan_id!r} is not a stored scan of tenant {tenant!r}; "
                                "ingest the scan first (ExportCenter's scan id, as `exportcenter scans` lists it)",
                                file=parsed.name, scan_id=scan_id)


def _document_row(parsed: ParsedDocument, *, tenant: str, content: bytes, now: datetime,
                  actor: str) -> DocumentRow:
    kinds = parsed.kinds
    return DocumentRow(
        id=content_id("doc", tenant, parsed.digest), tenant=tenant, digest=parsed.digest,
        name=parsed.name[:512], source_format=parsed.source_format, spec_version=parsed.spec_version,
        is_scan="scan" in kinds, is_sbom="sbom" in kinds, is_vex="vex" in kinds,
        is_code_guard="code_guard" in kinds, size=len(content), content=content,
        warnings=list(parsed.warnings), ingested_at=now, ingested_by=actor[:256],
    )


def _scan_rows(parsed: ParsedDocument, *, tenant: str, document_id: str, now: datetime) -> list[ScanRow]:
    """Everything a scope can name: scans, SBOMs and code-guard (SARIF) runs."""
    rows: list[ScanRow] = []
    if parsed.scan is not None:
        scan = parsed.scan
        kind = "code_guard" if parsed.source_format == "sarif" else "scan"
        counts = Counter(f.severity.value for f in parsed.findings)
        if kind == "code_guard":
            counts = Counter(f.severity.value for f in parsed.code_guard_findings)
        rows.append(ScanRow(
            id=scan.id, tenant=tenant, document_id=document_id, kind=kind,
            artifact_name=scan.artifact_name[:1024], artifact_digest=scan.artifact_digest,
            artifact_type=scan.artifact_type, scanner_name=scan.scanner_name,
            scanner_version=scan.scanner_version, created_at=scan.created_at,
            findings_count=sum(counts.values()), severity_counts=dict(counts),
        ))
    if parsed.scan is None and parsed.source_format == "sarif":
        guard = parsed.code_guard_findings
        tools = sorted({f"{f.tool_name} {f.tool_version or ''}".strip() for f in guard}) or ["SARIF"]
        counts = Counter(f.severity.value for f in guard)
        rows.append(ScanRow(
            id=guard[0].scan_id if guard else content_id("scan", tenant, parsed.digest), tenant=tenant,
            document_id=document_id, kind="code_guard", artifact_name=parsed.name[:1024], artifact_digest=None,
            artifact_type="sarif", scanner_name=", ".join(tools)[:128], scanner_version=None, created_at=now,
            findings_count=len(guard), severity_counts=dict(counts),
        ))
    if parsed.sbom is not None and (parsed.scan is None or parsed.sbom.id != parsed.scan.id):
        sbom = parsed.sbom
        rows.append(ScanRow(
            id=sbom.id, tenant=tenant, document_id=document_id, kind="sbom", artifact_name=sbom.name[:1024],
            artifact_digest=sbom.subject_digest, artifact_type="sbom", scanner_name=parsed.source_format,
            scanner_version=sbom.spec_version, created_at=sbom.created_at,
            # An SBOM has no findings: its row's count column holds the component count (see item_counts).
            findings_count=len(sbom.components), severity_counts={},
        ))
    return rows


def _result_for(session: Session, row: DocumentRow, *, created: bool,
                parsed: ParsedDocument | None = None) -> IngestResult:
    parsed = parsed or load_parsed(row)
    ids: dict[str, str] = {}
    for scan_row in session.scalars(select(ScanRow).where(ScanRow.document_id == row.id)):
        ids[f"{scan_row.kind}_id"] = scan_row.id
    if (verdicts_for := verdict_scan_id(parsed)) is not None:
        ids["scan_id"] = verdicts_for
    counts = {"findings": len(parsed.findings),
              "components": len(parsed.sbom.components) if parsed.sbom else 0,
              "vex_statements": len(parsed.vex_statements),
              "code_guard_findings": len(parsed.code_guard_findings),
              "policy_verdicts": len(parsed.policy_verdicts)}
    warnings = [w.removeprefix(f"{row.name}: ") for w in row.warnings or []]  # rows stored before 2026-12 named it
    return IngestResult(document_id=row.id, name=row.name, digest=row.digest, source_format=row.source_format,
                        kinds=list(parsed.kinds), created=created, ids=ids,
                        counts={k: v for k, v in counts.items() if v}, warnings=warnings)


_PARSE_CACHE: OrderedDict[tuple[str, str], ParsedDocument] = OrderedDict()
_PARSE_CACHE_SIZE = 64


def load_parsed(row: DocumentRow) -> ParsedDocument:
    """Parse a stored document (parsing is pure, so recent results are reused)."""
    key = (row.tenant, row.digest)
    cached = _PARSE_CACHE.get(key)
    if cached is not None:
        _PARSE_CACHE.move_to_end(key)
        return cached
    parsed = parse(row.content, name=row.name, tenant=row.tenant, ingested_at=row.ingested_at)
    _PARSE_CACHE[key] = parsed
    while len(_PARSE_CACHE) > _PARSE_CACHE_SIZE:
        _PARSE_CACHE.popitem(last=False)
    return parsed


def documents_by_id(session: Session, tenant: str, ids: Sequence[str]) -> list[DocumentRow]:
    if not ids:
        return []
    return list(session.scalars(select(DocumentRow).where(DocumentRow.tenant == tenant,
                                                          DocumentRow.id.in_(list(ids)))
                                .order_by(DocumentRow.ingested_at, DocumentRow.id)))


def verdict_documents(session: Session, tenant: str) -> list[DocumentRow]:
    """Ingested policy verdicts files of the tenant, oldest first."""
    return list(session.scalars(select(DocumentRow).where(DocumentRow.tenant == tenant,
                                                          DocumentRow.source_format == "policy-verdicts")
                                .order_by(DocumentRow.ingested_at, DocumentRow.id)))


def vex_documents(session: Session, tenant: str) -> list[DocumentRow]:
    return list(session.scalars(select(DocumentRow).where(DocumentRow.tenant == tenant,
                                                          DocumentRow.is_vex.is_(True))
                                .order_by(DocumentRow.ingested_at, DocumentRow.id)))


def item_counts(row: ScanRow) -> tuple[int, int]:
    """(findings, components) of a stored row: an SBOM row counts components, never findings."""
    if row.kind == "sbom":
        return 0, row.findings_count or 0
    return row.findings_count or 0, 0


def scan_summary(row: ScanRow) -> dict[str, Any]:
    findings, components = item_counts(row)
    return {"id": row.id, "kind": row.kind, "artifact_name": row.artifact_name,
            "artifact_digest": row.artifact_digest, "artifact_type": row.artifact_type,
            "scanner": row.scanner_name, "scanner_version": row.scanner_version,
            "created_at": iso_z(row.created_at), "findings": findings, "components": components,
            "severity_counts": row.severity_counts}
