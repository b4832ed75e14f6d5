"""SARIF rules for scanner findings: one rule per rule id and run, with help text and markdown.

``FindingRules`` is called once per rule (a vulnerability id, ``misconfig/...`` or ``secret/...``) with
the run's entries of that rule, most severe first. The rows of the help table, markdown-escaped cells and
reference lines repeat across rules (one package has many CVEs), so each is built once per render.
"""

from __future__ import annotations

from typing import Any

from exportcenter.model import Finding, FindingKind, Severity, VexStatus
from exportcenter.renderers.sarif_findings import is_web_uri, remediation_text
from exportcenter.renderers.sarif_model import SEVERITY_LEVELS, SarifEntry

RULE_NAMES = {FindingKind.VULNERABILITY: "PackageVulnerability",
              FindingKind.MISCONFIGURATION: "Misconfiguration", FindingKind.SECRET: "ExposedSecret"}
MAX_TAGS = 10  # GitHub shows 10 tags per rule and rejects more than 20
MAX_HELP_PACKAGES = 50
MAX_HELP_REFERENCES = 20
TABLE_HEADER = ("| Package | Installed | Fixed | Status |", "| --- | --- | --- | --- |")
_SEVERITY_RANK = {severity: severity.rank for severity in Severity}
_SEVERITY_WORD = {severity: severity.value for severity in Severity}
_STATUS_WORD = {status: status.value for status in VexStatus}
# the first tags of every rule: never equal to each other (kinds and severities are distinct words)
_BASE_TAGS = {(kind, severity): ("security", kind.value, severity.value)
              for kind in FindingKind for severity in Severity}

PackageRow = tuple[str, str, str, str]


def markdown_cell(value: str | None) -> str:
    """Text safe inside a markdown table cell (and on one line)."""
    return (value or "").replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _cwe_tag(cwe: str) -> str | None:
    number = cwe.upper().removeprefix("CWE-")
    return f"external/cwe/cwe-{number}" if number.isdigit() else None


class FindingRules:
    """Builds the rules of one render; an instance is the ``RunDraft.build_rule`` of its runs."""

    def __init__(self, include_remediation: bool) -> None:
        self.include_remediation = include_remediation
        self._rows: dict[PackageRow, tuple[str, str]] = {}
        self._cells: dict[str, str] = {}
        self._references: dict[str, str] = {}
        self._remedy_lines: dict[str, str] = {}
        self._cwe_tags: dict[str, str | None] = {}

    def __call__(self, rule_id: str, entries: list[SarifEntry]) -> dict[str, Any]:
        """A rule describing every kept result of ``rule_id`` in one run (entries sorted, most severe first)."""
        pairs = [(entry, entry.source) for entry in entries if isinstance(entry.source, Finding)]
        findings = [finding for _, finding in pairs]
        lead = findings[0]
        worst = max((f.severity for f in findings), key=_SEVERITY_RANK.__getitem__)
        scores = [float(entry.score) for entry in entries if entry.score is not None]
        title = lead.title or lead.vuln_id
        description = next((f.description for f in findings if f.description), None) or title
        if len(findings) == 1:
            references = list(dict.fromkeys(lead.references))
            cwes: Any = dict.fromkeys(lead.cwes)
        else:
            references = list(dict.fromkeys(ref for f in findings for ref in f.references))
            cwes = dict.fromkeys(cwe for f in findings for cwe in f.cwes)
        tags = list(_BASE_TAGS[lead.kind, worst])
        if cwes:
            for cwe in cwes:
                tag = self._cwe_tags[cwe] if cwe in self._cwe_tags else self._cwe_tags.setdefault(cwe, _cwe_tag(cwe))
                if tag is not None:
                    tags.append(tag)
            tags = list(dict.fromkeys(tags))
        tags = tags[:MAX_TAGS]
        properties: dict[str, Any] = {"tags": tags, "precision": "very-high"}
        if scores:
            properties["security-severity"] = f"{max(scores):.1f}"
        cvss = [entry.cvss_max for entry in entries if entry.cvss_max]
        text, markdown = self._help(rule_id, worst, max(cvss) if cvss else None, description, pairs, references)
        rule: dict[str, Any] = {
            "id": rule_id,
            "name": RULE_NAMES[lead.kind],
            "shortDescription": {"text": title},
            "fullDescription": {"text": description},
            "defaultConfiguration": {"level": SEVERITY_LEVELS[worst]},
            "help": {"text": text, "markdown": markdown},
            "properties": properties,
        }
        help_uri = next((ref for ref in references if is_web_uri(ref)), None)
        if help_uri:
            rule["helpUri"] = help_uri
        return rule

    def _cell(self, value: str) -> str:
        cell = self._cells.get(value)
        if cell is None:
            cell = self._cells[value] = markdown_cell(value)
        return cell

    def _row(self, row: PackageRow) -> tuple[str, str]:
        """(text line, markdown table row) of one package row."""
        lines = self._rows.get(row)
        if lines is None:
            text = f"Package: {row[0]} {row[1]}; fixed version: {row[2] or 'no fix'}; status: {row[3]}"
            markdown = "| " + " | ".join(self._cell(value) for value in row) + " |"
            lines = self._rows[row] = (text, markdown)
        return lines

    def _reference(self, ref: str) -> str:
        line = self._references.get(ref)
        if line is None:
            line = self._references[ref] = f"- <{ref}>" if is_web_uri(ref) else f"- {self._cell(ref)}"
        return line

    def _remedy_line(self, remedy: str) -> str:
        line = self._remedy_lines.get(remedy)
        if line is None:
            line = self._remedy_lines[remedy] = f"- {self._cell(remedy)}"
        return line

    def _remedies(self, pairs: list[tuple[SarifEntry, Finding]]) -> list[str]:
        texts = (remediation_text(finding) for _, finding in pairs)
        return list(dict.fromkeys(texts))[:MAX_HELP_PACKAGES]

    def _help(self, rule_id: str, worst: Severity, cvss_max: float | None, description: str,
              pairs: list[tuple[SarifEntry, Finding]], references: list[str]) -> tuple[str, str]:
        score_note = f", CVSS {cvss_max:.1f}" if cvss_max else ""
        head = f"{rule_id} ({_SEVERITY_WORD[worst]}{score_note})"
        text_lines = [head, description]
        md_lines = [f"**{markdown_cell(head)}**", "", description, ""]
        packaged = [(finding, finding.package) for _, finding in pairs if finding.package is not None]
        if packaged:
            md_lines += TABLE_HEADER
            seen: set[PackageRow] = set()
            for finding, package in packaged:
                row = (package.name, package.version or "", finding.fixed_version or "", _STATUS_WORD[finding.status])
                if row in seen:
                    continue
                seen.add(row)
                if len(seen) > MAX_HELP_PACKAGES:
                    md_lines.append(f"| ... {len(packaged) - MAX_HELP_PACKAGES} more | | | |")
                    break
                text_line, md_line = self._row(row)
                text_lines.append(text_line)
                md_lines.append(md_line)
            md_lines.append("")
        if self.include_remediation:
            remedies = self._remedies(pairs)
            text_lines += ["Remediation:", *remedies]
            md_lines += ["**Remediation**", "", *(self._remedy_line(r) for r in remedies), ""]
        if references:
            shown = references[:MAX_HELP_REFERENCES]
            text_lines += ["References:", *shown]
            md_lines += ["**References**", "", *(self._reference(ref) for ref in shown)]
        return "\n".join(text_lines), "\n".join(md_lines).rstrip() + "\n"
