"""A schedule is checked at creation exactly as POST /api/v1/exports checks a request, so no fire fails later.

The export body is rendered for a fire at ``now`` and then goes through the same gates as a submitted
export: the request model (with the tenant's own template), the delivery config, and the scope against
stored data. One difference: a relative date range that finds nothing *now* is fine (it will find the
scans of a later week); named scan ids, image refs and policy sets must exist, and a scope must name data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from exportcenter.config import Settings
from exportcenter.delivery.validation import validate_delivery
from exportcenter.errors import DataNotFoundError, ExportCenterError, InvalidInputError
from exportcenter.pipeline.request import parse_request, to_scope
from exportcenter.pipeline.scope import resolve_scans
from exportcenter.scheduling.model import ScheduleSpec


def check_schedule(session: Session, settings: Settings, spec: ScheduleSpec, tenant: str, now: datetime) -> None:
    """Raise the ExportCenterError a fire at ``now`` would raise (an empty date range alone is accepted)."""
    from exportcenter.scheduling.service import build_request_body

    body = build_request_body(spec, tenant, now)
    request = parse_request(body, tenant=tenant)
    if request.delivery is not None:
        validate_delivery(request.delivery.method, request.delivery.config, settings.webhook_allow_hosts)
    if settings.data_source == "upstream":
        return  # the upstream service is asked when the schedule fires
    from exportcenter.pipeline.gather import available_policy_sets

    try:
        resolve_scans(session, tenant, request.type, to_scope(request, now), set(available_policy_sets(settings)))
    except DataNotFoundError as exc:
        scope = exc.details.get("scope")
        if not (isinstance(scope, dict) and set(scope) == {"date_range"}):
            raise


def schedule_problems(session: Session, settings: Settings, specs: Sequence[ScheduleSpec], tenant: str,
                      now: datetime) -> list[str]:
    """Every problem of every schedule, each prefixed with the schedule's name (empty when all are valid)."""
    problems: list[str] = []
    for spec in specs:
        try:
            check_schedule(session, settings, spec, spec.tenant or tenant, now)
        except ExportCenterError as exc:
            listed = exc.details.get("errors")
            reasons = [str(r) for r in listed] if isinstance(listed, list) and listed else [exc.message]
            problems.extend(f"schedule {spec.name}: {reason}" for reason in reasons)
    return problems


def raise_problems(source: str, problems: list[str]) -> None:
    if problems:
        raise InvalidInputError(f"{source}: invalid schedules: " + "; ".join(problems), errors=problems)
