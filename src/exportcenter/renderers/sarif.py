"""SARIF 2.1.0 for ``scan_report`` (scanner findings) and ``ai_code_guard_report`` (code-guard findings).

One run per scanned subject (an image without its tag), so each run is one GitHub analysis category.
Two profiles: "github" (default) leaves VEX not_affected / fixed findings out and counts them;
"developer-sarif" (``sarif_profile`` option or template name) keeps them with an external suppression.
GitHub's limits come from ``settings.sarif`` and are enforced by ``sarif_limits``.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from typing import Any, BinaryIO

from exportcenter.config import SarifSettings
from exportcenter.errors import RenderError
from exportcenter.model import CodeGuardFinding, ExportSnapshot, ExportType, Finding, Scan
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.sarif_codeguard import build_code_guard_rule, code_guard_entry, code_guard_result
from exportcenter.renderers.sarif_finding_rules import FindingRules
from exportcenter.renderers.sarif_findings import FindingResults
from exportcenter.renderers.sarif_limits import limit_results, limit_runs, shrink_to_fit
from exportcenter.renderers.sarif_locations import (
    automation_id,
    fallback_location,
    finding_uri,
    normalise_uri,
    scan_subject,
)
from exportcenter.renderers.sarif_model import ResultBuilder, RuleBuilder, RunDraft, SarifEntry
from exportcenter.renderers.sarif_sink import FarOverLimit, LogSink
from exportcenter.renderers.sarif_writer import SARIF_SCHEMA_URI, SARIF_VERSION, LogWriter
from exportcenter.renderers.sbom_inventory import paused_gc
from exportcenter.util.timeutil import iso_z

__all__ = ["DEVELOPER_PROFILE", "GITHUB_PROFILE", "SARIF_SCHEMA_URI", "SARIF_VERSION", "render", "render_bytes",
           "sarif_profile"]

DEVELOPER_PROFILE = "developer-sarif"
GITHUB_PROFILE = "github"
MAX_SHRINK_ROUNDS = 8


def sarif_profile(snapshot: ExportSnapshot) -> str:
    options = snapshot.options
    if options.sarif_profile == DEVELOPER_PROFILE or options.template == DEVELOPER_PROFILE:
        return DEVELOPER_PROFILE
    return GITHUB_PROFILE


def render(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    """Write one SARIF log for the snapshot to ``out``, run by run, as it is serialised.

    The garbage collector waits meanwhile: the renderer allocates a few hundred thousand small acyclic
    dicts, and each automatic collection would walk them and the whole snapshot (measured: 40 % of the
    CPU time at 50k findings)."""
    with paused_gc():
        limits = ctx.settings.sarif
        drafts, profile = _limited_drafts(snapshot, ctx, limits)
        sink = LogSink(out, limits.max_gzip_bytes)
        try:
            _write_within_gzip_limit(sink, LogWriter(snapshot, profile), drafts, ctx, limits.max_gzip_bytes)
        except BaseException:
            sink.abandon()
            raise
        sink.commit()


def render_bytes(snapshot: ExportSnapshot, ctx: RenderContext) -> bytes:
    """The SARIF log as bytes. Rendered into a temporary file, read back at the end: a file lets the
    gzip sizing of a large log run alongside (``sarif_sink``), which a ``BytesIO`` would not."""
    with tempfile.TemporaryFile() as buffer:
        render(snapshot, buffer, ctx)
        buffer.seek(0)
        return buffer.read()


def _limited_drafts(snapshot: ExportSnapshot, ctx: RenderContext,
                    limits: SarifSettings) -> tuple[list[RunDraft], str]:
    """The runs within the run and per-run result limits (light entries only: no result is built yet)."""
    if limits.max_runs < 1 or limits.max_results_per_run < 0 or limits.max_gzip_bytes < 1024:
        raise RenderError("SARIF limits are not usable: max_runs >= 1, max_results_per_run >= 0 and "
                          "max_gzip_bytes >= 1024 are required")
    profile = sarif_profile(snapshot)
    if snapshot.export_type == ExportType.AI_CODE_GUARD_REPORT:
        drafts = code_guard_drafts(snapshot, ctx)
    else:
        drafts = finding_drafts(snapshot, ctx, profile)
    if not drafts:
        ctx.warn("SARIF: nothing to report; the log has no runs")
    drafts, warning = limit_runs(drafts, limits.max_runs, snapshot.export_type)
    if warning:
        ctx.warn(warning)
    for draft in drafts:
        cut_warning = limit_results(draft, limits.max_results_per_run)
        if cut_warning:
            ctx.warn(cut_warning)
    return drafts, profile


def _write_within_gzip_limit(sink: LogSink, writer: LogWriter, drafts: list[RunDraft], ctx: RenderContext,
                             max_gzip_bytes: int) -> None:
    """Write the log; while it is over the gzip limit, drop the least severe results and write it again.

    A log whose sampled estimate is far over the limit (``FAR_OVER_FACTOR``) is neither compressed nor
    written to the end: once the estimate of what is written passes that, writing stops (``FarOverLimit``),
    the cut aims the estimate (an overestimate of the real size), scaled to the results kept, at 90 % of
    the limit, and the cut log is checked like any other. Logs that fit or are near the limit are cut on
    their real gzip size, as before."""
    rounds = 0
    while True:
        sink.restart()
        total = sum(len(draft.entries) for draft in drafts)
        estimate: int | None
        size = 0
        try:
            writer.write(sink, drafts)
        except FarOverLimit as far_over:
            estimate, written = far_over.estimate, max(1, writer.results_written)
        else:
            estimate, written = sink.far_over_estimate(max_gzip_bytes), total
            if estimate is None:
                fits, size = sink.fits(max_gzip_bytes)
                if fits:
                    return
        if total == 0 or rounds >= MAX_SHRINK_ROUNDS:
            raise RenderError(f"SARIF log is {size if estimate is None else estimate} bytes gzipped even after "
                              f"cutting results; the limit is {max_gzip_bytes} bytes")
        # aim a little under the limit: rules and help text do not shrink in proportion to results
        if estimate is None:
            fraction = min(0.9, 0.9 * max_gzip_bytes / size)
            measured = f"{size} bytes gzipped is over the limit of {max_gzip_bytes}"
        else:  # the estimate of the first ``written`` results, scaled to the results kept
            fraction = min(0.9, 0.9 * max_gzip_bytes * written / (estimate * total))
            part = "" if written >= total else f" of the first {written} of {total} results"
            measured = (f"about {estimate} bytes gzipped is over the limit of {max_gzip_bytes} by the sampled "
                        f"estimate{part}")
        dropped = shrink_to_fit(drafts, fraction, max_gzip_bytes)
        ctx.warn(f"SARIF: {measured}; the {dropped} least severe results were left out "
                 "(counted in run properties)")
        rounds += 1


def _scan_order(scan: Scan) -> tuple[float, str]:
    """Newest scan first, so that when two scans of one subject share a run the newest one wins."""
    return (-scan.created_at.timestamp(), scan.id)


def _scan_summary(scan: Scan) -> dict[str, Any]:
    summary = {"id": scan.id, "artifact_name": scan.artifact_name, "artifact_type": scan.artifact_type,
               "artifact_digest": scan.artifact_digest, "scanner": scan.scanner_name,
               "scanner_version": scan.scanner_version, "created_at": iso_z(scan.created_at)}
    return {key: value for key, value in summary.items() if value is not None}


def _new_draft(category: str, subject: str, build_rule: RuleBuilder, build_result: ResultBuilder) -> RunDraft:
    draft = RunDraft(category=category, subject=subject, entries=[], build_rule=build_rule,
                     build_result=build_result)
    draft.properties = {"exportcenter/subject": subject, "exportcenter/findings_in": 0,
                        "exportcenter/duplicates_dropped": 0, "exportcenter/vex_excluded": {}}
    draft.driver_properties = {"scanners": [], "scans": []}
    return draft


def _add_scan(draft: RunDraft, scan: Scan | None, scan_id: str, tool: tuple[str, str | None]) -> None:
    scanners = draft.driver_properties["scanners"]
    entry = {"name": tool[0], "version": tool[1]} if tool[1] else {"name": tool[0]}
    if entry not in scanners:
        scanners.append(entry)
        scanners.sort(key=lambda item: (item["name"], item.get("version") or ""))
    summary = _scan_summary(scan) if scan is not None else {"id": scan_id}
    if summary not in draft.driver_properties["scans"]:
        draft.driver_properties["scans"].append(summary)


def finding_drafts(snapshot: ExportSnapshot, ctx: RenderContext, profile: str) -> list[RunDraft]:
    """One draft per subject from ``snapshot.findings`` (grouped by ``scan_id``), scans without findings
    included: an empty run closes the alerts of a subject that is now clean."""
    fallback = ctx.settings.sarif.fallback_uri
    developer = profile == DEVELOPER_PROFILE
    remediation = snapshot.options.include_remediation
    scans = {scan.id: scan for scan in snapshot.scans}
    by_scan: dict[str, list[Finding]] = {scan_id: [] for scan_id in scans}
    for finding in snapshot.findings:
        by_scan.setdefault(finding.scan_id, []).append(finding)
    unknown = sorted(scan_id for scan_id in by_scan if scan_id not in scans)
    if unknown:
        ctx.warn(f"SARIF: findings refer to scans missing from the snapshot: {', '.join(unknown)}")
    ordered = sorted(scans.values(), key=_scan_order)
    scan_ids = [scan.id for scan in ordered] + unknown
    drafts: dict[str, RunDraft] = {}
    build_rule = FindingRules(include_remediation=remediation)
    results = FindingResults(developer_profile=developer, include_remediation=remediation)
    for scan_id in scan_ids:
        scan = scans.get(scan_id)
        subject = scan_subject(scan, f"scan-{scan_id}")
        category = automation_id(snapshot.export_type, subject)
        draft = drafts.get(category) or drafts.setdefault(
            category, _new_draft(category, subject, build_rule, results.result))
        tool = (scan.scanner_name, scan.scanner_version) if scan else ("unknown", None)
        _add_scan(draft, scan, scan_id, tool)
        findings = sorted(by_scan[scan_id], key=lambda f: (-f.severity.rank, f.vuln_id, f.id))
        _add_findings(draft, findings, scan, fallback, results)
    for draft in drafts.values():
        _dedupe(draft)
        merged_scans = draft.driver_properties["scans"]
        if len(merged_scans) > 1:
            ctx.warn(f"SARIF: {len(merged_scans)} scans of '{draft.subject}' share one run (one GitHub "
                     f"category, newest scan first); {draft.properties['exportcenter/duplicates_dropped']} "
                     "results found in more than one of them were folded")
    return list(drafts.values())


def _add_findings(draft: RunDraft, findings: list[Finding], scan: Scan | None, fallback: str,
                  results: FindingResults) -> None:
    excluded: Counter[str] = Counter(draft.properties["exportcenter/vex_excluded"])
    draft.properties["exportcenter/findings_in"] += len(findings)
    developer = results.developer_profile
    subject = draft.subject
    entries = draft.entries
    for finding in findings:
        if not developer and not finding.is_open:
            excluded[finding.status.value] += 1
            continue
        uri = finding_uri(finding, scan, fallback, subject)
        entries.append(results.entry(finding, scan, subject, uri))
    draft.properties["exportcenter/vex_excluded"] = dict(sorted(excluded.items()))


def _dedupe(draft: RunDraft) -> None:
    """One result per fingerprint: GitHub would fold them into one alert anyway. The first seen (newest
    scan, most severe) stays; the others are counted."""
    seen: set[str] = set()
    kept: list[SarifEntry] = []
    for entry in draft.entries:
        if entry.fingerprint in seen:
            draft.properties["exportcenter/duplicates_dropped"] += 1
            continue
        seen.add(entry.fingerprint)
        kept.append(entry)
    draft.entries = kept
    draft.sort()


def code_guard_drafts(snapshot: ExportSnapshot, ctx: RenderContext) -> list[RunDraft]:
    """One draft per (tool, scanned subject) from ``snapshot.code_guard_findings``."""
    fallback = ctx.settings.sarif.fallback_uri
    scans = {scan.id: scan for scan in snapshot.scans}
    drafts: dict[str, RunDraft] = {}
    ordered: list[CodeGuardFinding] = sorted(
        snapshot.code_guard_findings, key=lambda f: (-f.severity.rank, f.rule_id, f.id))
    for finding in ordered:
        scan = scans.get(finding.scan_id)
        subject = f"{normalise_uri(finding.tool_name) or 'tool'}/{scan_subject(scan, finding.scan_id)}"
        category = automation_id(snapshot.export_type, subject)
        draft = drafts.get(category) or drafts.setdefault(
            category, _new_draft(category, subject, build_code_guard_rule, code_guard_result))
        _add_scan(draft, scan, finding.scan_id, (finding.tool_name, finding.tool_version))
        draft.properties["exportcenter/findings_in"] += 1
        uri = normalise_uri(finding.uri) or fallback_location(fallback, subject)
        draft.entries.append(code_guard_entry(finding, subject, uri))
    for draft in drafts.values():
        _dedupe(draft)
    return list(drafts.values())
