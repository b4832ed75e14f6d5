"""CycloneDX ``vulnerabilities``: one entry per vulnerability id, affecting every component it was found in.

Ratings: one per distinct CVSS entry (v2 -> CVSSv2, v3.0 -> CVSSv3, v3.1 -> CVSSv31, v4 -> CVSSv4), or
one severity-only rating (method ``other``) when the findings carry no CVSS at all.

VEX: a finding's status maps to ``analysis.state`` (not_affected -> not_affected, fixed -> resolved,
under_investigation -> in_triage, affected -> exploitable). Analysis is written only when some finding
of the id carries a VEX decision. When the findings of one id disagree, the state is the most open one
(exploitable > in_triage > resolved > not_affected), each ``affects`` entry carries its own version
status, and ``analysis.detail`` lists the status per component. OpenVEX/CSAF justifications map onto
CycloneDX's enum; justifications CycloneDX does not know go into ``analysis.detail`` verbatim.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from exportcenter.model import Cvss, Finding, FindingKind, Severity, VexStatus
from exportcenter.util.timeutil import iso_z

CVSS_METHODS = {"2": "CVSSv2", "2.0": "CVSSv2", "3": "CVSSv3", "3.0": "CVSSv3", "3.1": "CVSSv31",
                "4": "CVSSv4", "4.0": "CVSSv4"}

STATE_BY_STATUS = {
    VexStatus.NOT_AFFECTED: "not_affected",
    VexStatus.FIXED: "resolved",
    VexStatus.UNDER_INVESTIGATION: "in_triage",
    VexStatus.AFFECTED: "exploitable",
}
_OPENNESS = {VexStatus.AFFECTED: 3, VexStatus.UNDER_INVESTIGATION: 2, VexStatus.FIXED: 1,
             VexStatus.NOT_AFFECTED: 0}
_VERSION_STATUS = {VexStatus.AFFECTED: "affected", VexStatus.UNDER_INVESTIGATION: "unknown",
                   VexStatus.FIXED: "unaffected", VexStatus.NOT_AFFECTED: "unaffected"}

CYCLONEDX_JUSTIFICATIONS = frozenset({
    "code_not_present", "code_not_reachable", "requires_configuration", "requires_dependency",
    "requires_environment", "protected_by_compiler", "protected_at_runtime", "protected_at_perimeter",
    "protected_by_mitigating_control",
})
# OpenVEX and CSAF 2.0 share these five justification labels.
JUSTIFICATION_MAP = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}

_SEVERITY_WORD = {Severity.CRITICAL: "critical", Severity.HIGH: "high", Severity.MEDIUM: "medium",
                  Severity.LOW: "low", Severity.INFO: "info", Severity.UNKNOWN: "unknown"}
_CWE = re.compile(r"(?i)^\s*(?:CWE-)?(\d+)\s*$")
_URL = re.compile(r"^https?://[^\s\\#]+(#[^\s\\]*)?$")


def advisory_url(reference: str) -> str | None:
    """An http(s) URL fit for ``advisories[].url`` (an IRI reference), or None. Scanners sometimes
    append a note after the URL ("https://... (v0.4.0)"): the URL is kept, the note dropped."""
    words = reference.split()
    if not words:
        return None
    url = words[0]
    return url if _URL.match(url) else None


@lru_cache(maxsize=4096)
def _advisory(reference: str) -> tuple[str, dict[str, str]] | None:
    """(url, advisory entry) for a reference, or None. Cached: the same reference text recurs in every
    image and finding of a vulnerability; the dict is shared between entries and never changed."""
    url = advisory_url(reference)
    return None if url is None else (url, {"url": url})


def map_justification(raw: str | None) -> str | None:
    """The CycloneDX justification for an OpenVEX/CSAF/CycloneDX one, or None when there is none."""
    if not raw:
        return None
    key = raw.strip().lower().replace("-", "_").replace(" ", "_")
    if key in CYCLONEDX_JUSTIFICATIONS:
        return key
    return JUSTIFICATION_MAP.get(key)


def cvss_severity(cvss: Cvss) -> str:
    score = cvss.score
    if score is None:
        return "unknown"
    if score == 0:
        return "none"
    if CVSS_METHODS.get(cvss.version) == "CVSSv2":  # v2 has no "critical"
        return "high" if score >= 7.0 else "medium" if score >= 4.0 else "low"
    if score >= 9.0:
        return "critical"
    return "high" if score >= 7.0 else "medium" if score >= 4.0 else "low"


def _source(vuln_id: str) -> dict[str, str]:
    upper = vuln_id.upper()
    if upper.startswith("CVE-"):
        return {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{vuln_id}"}
    if upper.startswith("GHSA-"):
        return {"name": "GitHub", "url": f"https://github.com/advisories/{vuln_id}"}
    if upper.startswith("GO-"):
        return {"name": "Go", "url": f"https://pkg.go.dev/vuln/{vuln_id}"}
    prefix = vuln_id.split("-", 1)[0]
    return {"name": prefix or "unknown"}


RatingKey = tuple[str, str, str, float | None]


@lru_cache(maxsize=4096)
def _rating(cvss: Cvss) -> tuple[RatingKey, dict[str, Any]]:
    """The rating of one CVSS entry and the key that de-duplicates it. Cached: the same entry recurs in
    every image a vulnerability is found in; the dict is shared between entries and never changed."""
    method = CVSS_METHODS.get(cvss.version.strip().lower().removeprefix("v"), "other")
    rating: dict[str, Any] = {"source": {"name": cvss.source or "unknown"}, "method": method,
                              "severity": cvss_severity(cvss)}
    if cvss.score is not None:
        rating["score"] = cvss.score
    if cvss.vector:
        rating["vector"] = cvss.vector
    return (cvss.source, method, cvss.vector or "", cvss.score), rating


def _ratings(group: list[Finding], scanner_of: Callable[[str], str]) -> list[dict[str, Any]]:
    ratings: dict[RatingKey, dict[str, Any]] = {}
    for finding in group:
        for cvss in finding.cvss:
            key, rating = _rating(cvss)
            ratings.setdefault(key, rating)
    if ratings:
        return [ratings[key] for key in sorted(ratings, key=lambda k: (k[0], k[1], k[2], k[3] or 0.0))]
    severities = sorted({(f.severity, scanner_of(f.scan_id)) for f in group}, key=lambda p: (-p[0].rank, p[1]))
    severity, scanner = severities[0]
    return [{"source": {"name": scanner}, "method": "other", "severity": _SEVERITY_WORD[severity]}]


def _analysis(group: list[Finding], refs_of: Callable[[Finding], list[str]]) -> dict[str, Any] | None:
    if not any(f.vex is not None for f in group):
        return None
    statuses = {f.status for f in group}
    state_status = max(statuses, key=lambda s: _OPENNESS[s])
    analysis: dict[str, Any] = {"state": STATE_BY_STATUS[state_status]}
    details: list[str] = []
    raw_justifications = sorted({f.vex.justification for f in group
                                 if f.vex is not None and f.vex.justification and f.status == state_status})
    mapped = {map_justification(raw) for raw in raw_justifications}
    if state_status == VexStatus.NOT_AFFECTED and len(mapped) == 1 and None not in mapped:
        analysis["justification"] = mapped.pop()
    elif raw_justifications:
        details.append("justification: " + "; ".join(raw_justifications))
    if len(statuses) > 1:
        per_ref = sorted({f"{ref}: {f.status.value}" for f in group for ref in refs_of(f)})
        details.append("status per component: " + "; ".join(per_ref))
    impacts = sorted({f.vex.impact_statement for f in group if f.vex is not None and f.vex.impact_statement})
    actions = sorted({f.vex.action_statement for f in group if f.vex is not None and f.vex.action_statement})
    details.extend(f"impact: {text}" for text in impacts)
    details.extend(f"action: {text}" for text in actions)
    if details:
        analysis["detail"] = "\n".join(details)
    if state_status in (VexStatus.AFFECTED, VexStatus.UNDER_INVESTIGATION) and any(f.fixed_version for f in group):
        analysis["response"] = ["update"]
    times = [f.vex.timestamp for f in group if f.vex is not None and f.vex.timestamp is not None]
    if times:
        analysis["lastUpdated"] = iso_z(max(times))
    return analysis


def _affects(group: list[Finding], refs_of: Callable[[Finding], list[str]],
             with_status: bool) -> list[dict[str, Any]]:
    by_ref: dict[str, dict[str, set[VexStatus]]] = defaultdict(lambda: defaultdict(set))
    for finding in group:
        version = finding.package.version if finding.package and finding.package.version else ""
        for ref in refs_of(finding):
            by_ref[ref][version].add(finding.status)
    affects: list[dict[str, Any]] = []
    for ref in sorted(by_ref):
        entry: dict[str, Any] = {"ref": ref}
        versions = []
        for version, statuses in sorted(by_ref[ref].items()):
            if not version:
                continue
            item: dict[str, Any] = {"version": version[:1024]}
            if with_status:
                item["status"] = _VERSION_STATUS[max(statuses, key=lambda s: _OPENNESS[s])]
            versions.append(item)
        if versions:
            entry["versions"] = versions
        affects.append(entry)
    return affects


def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v), None)


def group_by_id(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """The vulnerability findings by id (other kinds and id-less findings are not CycloneDX vulnerabilities)."""
    groups: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        if finding.kind == FindingKind.VULNERABILITY and finding.vuln_id:
            groups[finding.vuln_id].append(finding)
    return groups


def vulnerability_chunks(groups: dict[str, list[Finding]], refs_of: Callable[[Finding], list[str]],
                         scanner_of: Callable[[str], str], size: int) -> Iterator[list[dict[str, Any]]]:
    """The entries in id order, ``size`` at a time, so only one chunk of them exists at once."""
    chunk: list[dict[str, Any]] = []
    for vuln_id in sorted(groups):
        group = sorted(groups[vuln_id], key=lambda f: f.id)
        chunk.append(_vulnerability(vuln_id, group, refs_of, scanner_of))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build_vulnerabilities(findings: Iterable[Finding], refs_of: Callable[[Finding], list[str]],
                          scanner_of: Callable[[str], str]) -> list[dict[str, Any]]:
    """Every entry at once (small documents and tests; the renderer streams ``vulnerability_chunks``)."""
    groups = group_by_id(findings)
    return [entry for chunk in vulnerability_chunks(groups, refs_of, scanner_of, 1000) for entry in chunk]


def _vulnerability(vuln_id: str, group: list[Finding], refs_of: Callable[[Finding], list[str]],
                   scanner_of: Callable[[str], str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": vuln_id, "source": _source(vuln_id), "ratings": _ratings(group, scanner_of)}
    aliases = sorted({a for f in group for a in f.aliases if a and a != vuln_id})
    if aliases:
        entry["references"] = [{"id": alias, "source": _source(alias)} for alias in aliases]
    cwes = sorted({int(m.group(1)) for f in group for c in f.cwes if (m := _CWE.match(c))})
    if cwes:
        entry["cwes"] = cwes
    description = _first(f.description for f in group) or _first(f.title for f in group)
    if description:
        entry["description"] = description
    title = _first(f.title for f in group)
    if title and title != description:
        entry["detail"] = title
    fixes = sorted({f"{f.package.name} {f.fixed_version}" for f in group if f.package and f.fixed_version})
    if fixes:
        entry["recommendation"] = "Upgrade to a fixed version: " + ", ".join(fixes)
    advisories = dict(filter(None, map(_advisory, {r for f in group for r in f.references})))
    if advisories:
        entry["advisories"] = [advisories[url] for url in sorted(advisories)]
    published = min((f.published for f in group if f.published is not None), default=None)
    if published is not None:
        entry["published"] = iso_z(published)
    analysis = _analysis(group, refs_of)
    if analysis is not None:
        entry["analysis"] = analysis
    entry["affects"] = _affects(group, refs_of, with_status=analysis is not None)
    properties = _properties(group)
    if properties:
        entry["properties"] = properties
    return entry


def _properties(group: list[Finding]) -> list[dict[str, str]]:
    properties = []
    epss = max((f.epss for f in group if f.epss is not None), default=None)
    if epss is not None:
        properties.append({"name": "exportcenter:epss", "value": f"{epss:.5f}"})
    if any(f.kev for f in group):
        properties.append({"name": "exportcenter:kev", "value": "true"})
    scanner_statuses = sorted({f.scanner_status for f in group if f.scanner_status})
    if scanner_statuses:
        properties.append({"name": "exportcenter:scanner_status", "value": ",".join(scanner_statuses)})
    return properties
