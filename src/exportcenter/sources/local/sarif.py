"""SARIF 2.1.0: every result of every run becomes a CodeGuardFinding carrying its run's tool."""

from __future__ import annotations

from exportcenter.model import CodeGuardFinding, Severity, severity_from_raw, severity_from_score
from exportcenter.sources.local.common import (
    CVSS_RANGE,
    DocumentContext,
    IdAllocator,
    JsonObject,
    Warnings,
    bounded_score,
    document_id,
    integer,
    obj,
    objs,
    text,
)
from exportcenter.sources.local.parsed import ParsedDocument

FORMAT = "sarif"

_LEVEL_SEVERITY = {
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "note": Severity.LOW,
    "none": Severity.INFO,
}


def looks_like(doc: JsonObject) -> bool:
    schema = str(doc.get("$schema", "")).lower()
    return isinstance(doc.get("runs"), list) and ("sarif" in schema or str(doc.get("version", "")).startswith("2."))


def parse(doc: JsonObject, ctx: DocumentContext) -> ParsedDocument:
    warnings = Warnings()
    version = text(doc.get("version")) or "unknown"
    if version != "2.1.0":
        warnings.add(f"{ctx.name}: SARIF version {version!r} is not 2.1.0; read as 2.1.0")
    scan_id = document_id("scan", ctx)
    ids = IdAllocator("cg")
    found: list[CodeGuardFinding] = []
    for run_index, run in enumerate(objs(doc.get("runs"))):
        driver = obj(obj(run.get("tool")).get("driver"))
        tool_name = text(driver.get("name")) or "unknown tool"
        tool_version = text(driver.get("version")) or text(driver.get("semanticVersion"))
        rules = objs(driver.get("rules"))
        rules_by_id = {rule_id: rule for rule in rules if (rule_id := text(rule.get("id")))}
        for result in objs(run.get("results")):
            found.append(_finding(result, rules, rules_by_id, run_index, scan_id, tool_name, tool_version, ids,
                                  warnings, ctx.name))
    return ParsedDocument(
        name=ctx.name,
        source_format=FORMAT,
        spec_version=version,
        digest=ctx.digest,
        code_guard_findings=tuple(found),
        warnings=warnings.as_tuple(),
    )


def _rule_for(result: JsonObject, rules: list[JsonObject], by_id: dict[str, JsonObject]) -> tuple[str, JsonObject]:
    """ruleId (or rule.id) names the rule; ruleIndex (or rule.index) points into driver.rules."""
    reference = obj(result.get("rule"))
    rule_id = text(result.get("ruleId")) or text(reference.get("id"))
    index = integer(result.get("ruleIndex"))
    if index is None:
        index = integer(reference.get("index"))
    if index is not None and 0 <= index < len(rules):
        by_index = rules[index]
        if rule_id is None or text(by_index.get("id")) == rule_id:
            return rule_id or text(by_index.get("id")) or "unknown-rule", by_index
    if rule_id is not None:
        return rule_id, by_id.get(rule_id) or by_id.get(rule_id.split("/", 1)[0], {})
    return "unknown-rule", {}


def _security_severity(result: JsonObject, rule: JsonObject, where: str, warnings: Warnings) -> float | None:
    """``security-severity`` (a CVSS-like 0-10 score) of the result, else of its rule; a value outside
    0-10 is dropped with a warning and the level decides the severity."""
    for props in (obj(result.get("properties")), obj(rule.get("properties"))):
        score = bounded_score(props.get("security-severity"), CVSS_RANGE, what="security-severity", where=where,
                              warnings=warnings)
        if score is not None:
            return score
    return None


def _finding(
    result: JsonObject,
    rules: list[JsonObject],
    by_id: dict[str, JsonObject],
    run_index: int,
    scan_id: str,
    tool_name: str,
    tool_version: str | None,
    ids: IdAllocator,
    warnings: Warnings,
    name: str,
) -> CodeGuardFinding:
    rule_id, rule = _rule_for(result, rules, by_id)
    if not rule and rules:
        warnings.add(f"{name}: result for rule {rule_id!r} has no matching rule in the run; kept")
    level = (
        text(result.get("level"))
        or text(obj(rule.get("defaultConfiguration")).get("level"))
        or "warning"  # the SARIF default
    )
    score = _security_severity(result, rule, f"{name}: rule {rule_id}", warnings)
    severity = severity_from_score(score) if score is not None else _LEVEL_SEVERITY.get(level, Severity.UNKNOWN)
    if score is None and level not in _LEVEL_SEVERITY:
        severity = severity_from_raw(level)
    message = (
        text(obj(result.get("message")).get("text"))
        or text(obj(rule.get("shortDescription")).get("text"))
        or text(obj(result.get("message")).get("id"))
        or rule_id
    )
    locations = objs(result.get("locations"))
    physical = obj(locations[0].get("physicalLocation")) if locations else {}
    region = obj(physical.get("region"))
    uri = text(obj(physical.get("artifactLocation")).get("uri"))
    start_line, end_line = integer(region.get("startLine")), integer(region.get("endLine"))
    fingerprint = _fingerprint(result)
    properties = tuple(
        sorted((str(key), str(value)) for key, value in obj(result.get("properties")).items() if value is not None)
    )
    return CodeGuardFinding(
        id=ids.next(scan_id, run_index, rule_id, uri, start_line, fingerprint, message),
        scan_id=scan_id,
        tool_name=tool_name,
        tool_version=tool_version,
        rule_id=rule_id,
        rule_name=text(rule.get("name")) or text(obj(rule.get("shortDescription")).get("text")),
        message=message,
        level=level,
        severity=severity,
        uri=uri,
        start_line=start_line,
        end_line=end_line if end_line is not None else start_line,
        fingerprint=fingerprint,
        help_uri=text(rule.get("helpUri")),
        properties=properties,
    )


def _fingerprint(result: JsonObject) -> str | None:
    for key in ("partialFingerprints", "fingerprints"):
        prints = obj(result.get(key))
        for name in sorted(prints):
            value = text(prints[name])
            if value:
                return f"{name}:{value}"
    return None
