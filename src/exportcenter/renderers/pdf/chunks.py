"""Split the detailed findings list into chunks: image -> package -> findings, ``rows`` findings each.

Chromium lays out one long table in worse than linear time, so each chunk becomes its own small HTML
document; groups cut by a chunk boundary are repeated with ``continued=True`` at the top of the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from exportcenter.model import ExportSnapshot, Finding
from exportcenter.renderers.pdf.viewmodel import UNKNOWN_IMAGE, risk_key, scan_names


@dataclass
class PackageGroup:
    label: str
    continued: bool
    findings: list[Finding] = field(default_factory=list)


@dataclass
class ImageGroup:
    name: str
    continued: bool
    packages: list[PackageGroup] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(p.findings) for p in self.packages)


def package_label(finding: Finding) -> str:
    if finding.package is None:
        return finding.location or finding.target or "(no package)"
    version = f" {finding.package.version}" if finding.package.version else ""
    return f"{finding.package.name}{version}"


def remediation(finding: Finding) -> str:
    """One line a reader can act on."""
    if not finding.is_open:
        why = f" ({finding.vex.justification})" if finding.vex and finding.vex.justification else ""
        return f"No action: {finding.status.value.replace('_', ' ')}{why}"
    if finding.vex and finding.vex.action_statement:
        return finding.vex.action_statement
    if finding.fixed_version and finding.package is not None:
        return f"Upgrade {finding.package.name} to {finding.fixed_version}"
    if finding.fixed_version:
        return f"Fixed in {finding.fixed_version}"
    return "No fix available yet: mitigate or accept the risk"


def ordered_findings(snapshot: ExportSnapshot) -> list[tuple[str, str, Finding]]:
    """(image, package, finding) sorted by image, package, then worst first."""
    names = scan_names(snapshot.scans)
    rows = [(names.get(f.scan_id, UNKNOWN_IMAGE), package_label(f), f) for f in snapshot.findings]
    rows.sort(key=lambda row: (row[0], row[1].lower(), risk_key(row[2])))
    return rows


def plan_chunks(rows: Sequence[tuple[str, str, Finding]], rows_per_chunk: int) -> list[list[ImageGroup]]:
    rows_per_chunk = max(1, rows_per_chunk)
    chunks: list[list[ImageGroup]] = []
    for start in range(0, len(rows), rows_per_chunk):
        part = rows[start:start + rows_per_chunk]
        images: list[ImageGroup] = []
        previous = rows[start - 1] if start else None
        for image, package, finding in part:
            if not images or images[-1].name != image:
                continued = previous is not None and previous[0] == image and not images
                images.append(ImageGroup(image, continued))
            group = images[-1]
            if not group.packages or group.packages[-1].label != package:
                continued_pkg = (group.continued and not group.packages and previous is not None
                                 and previous[1] == package)
                group.packages.append(PackageGroup(package, continued_pkg))
            group.packages[-1].findings.append(finding)
        chunks.append(images)
    return chunks
