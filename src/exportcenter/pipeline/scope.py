"""Resolve an export's scope to stored scans, or say exactly which ids or range found no data."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from exportcenter.db.models import ScanRow
from exportcenter.errors import DataNotFoundError, InvalidInputError
from exportcenter.model import ExportScope, ExportType
from exportcenter.util.timeutil import iso_z

# Which stored kinds each export type reads.
KINDS_FOR_TYPE: dict[ExportType, tuple[str, ...]] = {
    ExportType.SCAN_REPORT: ("scan",),
    ExportType.SCAN_SUMMARY: ("scan",),
    ExportType.VULNERABILITY_REPORT: ("scan",),
    ExportType.POLICY_COMPLIANCE: ("scan",),
    ExportType.EVIDENCE_BUNDLE: ("scan",),
    ExportType.SBOM: ("scan", "sbom"),
    ExportType.AI_CODE_GUARD_REPORT: ("code_guard",),
    ExportType.AUDIT_LOG: (),
}


def image_matches(ref: str, row: ScanRow) -> bool:
    """An image ref names a scan by full reference, by repository without tag, or by digest."""
    name = row.artifact_name
    if ref in (name, row.artifact_digest):
        return True
    repository = name.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    return ref == repository


def resolve_scans(session: Session, tenant: str, export_type: ExportType, scope: ExportScope,
                  known_policy_sets: set[str]) -> list[ScanRow]:
    """The scans in scope, oldest first. Raises DataNotFoundError naming what found nothing."""
    if export_type is ExportType.AUDIT_LOG and (scope.scan_ids or scope.image_refs):
        unused = {name: list(value) for name, value in (("scan_ids", scope.scan_ids),
                                                       ("image_refs", scope.image_refs)) if value}
        raise InvalidInputError(f"audit_log takes only a date range (scope.date_range, --since/--until); it does "
                                f"not use {' or '.join(unused)}", scope=unused)
    missing_sets = sorted(set(scope.policy_sets) - known_policy_sets)
    if missing_sets:
        raise DataNotFoundError(f"policy sets not found: {', '.join(missing_sets)}",
                                scope={"policy_sets": missing_sets})
    kinds = KINDS_FOR_TYPE[export_type]
    if not kinds:
        return []
    if not (scope.scan_ids or scope.image_refs or scope.date_start or scope.date_end):
        raise InvalidInputError("scope names no data: give scan_ids, image_refs or a date_range")
    base = select(ScanRow).where(ScanRow.tenant == tenant).order_by(ScanRow.created_at, ScanRow.id)
    found: dict[str, ScanRow] = {}
    if scope.scan_ids:
        rows = {r.id: r for r in session.scalars(base.where(ScanRow.id.in_(scope.scan_ids)))}
        missing = [i for i in scope.scan_ids if i not in rows]
        wrong_kind = [i for i, r in rows.items() if r.kind not in kinds]
        if missing:
            raise DataNotFoundError(f"scan ids not found: {', '.join(missing)}", scope={"scan_ids": missing})
        if wrong_kind:  # the ids exist: asking a type for data it cannot read is invalid input, not a 404
            raise InvalidInputError(
                f"{export_type.value} needs {' or '.join(kinds)} data, but these ids are not: {', '.join(wrong_kind)}",
                scope={"scan_ids": wrong_kind})
        found.update(rows)
    if scope.image_refs:
        candidates = list(session.scalars(base.where(ScanRow.kind.in_(kinds))))
        missing = []
        for ref in scope.image_refs:
            matched = [r for r in candidates if image_matches(ref, r)]
            if not matched:
                missing.append(ref)
            found.update({r.id: r for r in matched})
        if missing:
            raise DataNotFoundError(f"no scans found for image refs: {', '.join(missing)}",
                                    scope={"image_refs": missing})
    if scope.date_start or scope.date_end:
        query = base.where(ScanRow.kind.in_(kinds))
        if scope.date_start:
            query = query.where(ScanRow.created_at >= scope.date_start)
        if scope.date_end:
            query = query.where(ScanRow.created_at <= scope.date_end)
        in_range = {r.id: r for r in session.scalars(query)}
        named = scope.scan_ids or scope.image_refs  # a range narrows the named scans
        found = {k: v for k, v in found.items() if k in in_range} if named else in_range
        if not found:
            raise DataNotFoundError(
                f"no {' or '.join(kinds)} data between {iso_z(scope.date_start) or 'the beginning'} and "
                f"{iso_z(scope.date_end) or 'now'}",
                scope={"date_range": {"start": iso_z(scope.date_start), "end": iso_z(scope.date_end)}})
    return sorted(found.values(), key=lambda r: (r.created_at, r.id))
