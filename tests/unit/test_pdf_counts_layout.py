"""The vulnerability_report PDF counts vulnerabilities exactly as the CSV does (one row per CVE at its
highest severity) and says which figures count findings; the executive summary never leaves a heading
alone at the foot of a page and shows every image name whole. Demo data: the juice-shop v10.2.0 Trivy
scan and the DefectDojo 1.13.1 Grype scan, where CVE-2019-15847 and CVE-2021-23840 are high in one
image and medium in the other."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from exportcenter.config import Settings
from exportcenter.model import SEVERITY_ORDER, ExportSnapshot, Severity
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.columns import highest_severity, vulnerability_severity_counts
from exportcenter.renderers.csv_writer import render_vulnerability_report_csv
from exportcenter.renderers.pdf import charts
from exportcenter.renderers.pdf.viewmodel import build_view
from tests.unit.pdf_support import chromium, juice_shop_snapshot, page_texts, render_pdf

__all__ = ["chromium"]  # the session fixture, imported so pytest finds it

DEMO = ("trivy_json_juice-shop-v10.2.0.json", "grype_json_defectdojo-1.13.1-many.json")
MIXED = ("CVE-2019-15847", "CVE-2021-23840")
SVG = "{http://www.w3.org/2000/svg}"


def csv_rows(snapshot: ExportSnapshot) -> list[dict[str, str]]:
    out = io.BytesIO()
    render_vulnerability_report_csv(snapshot, out, RenderContext(settings=Settings()))
    return list(csv.DictReader(io.StringIO(out.getvalue().decode("utf-8-sig"))))


def test_csv_row_severity_is_the_highest_among_the_findings() -> None:
    snapshot = juice_shop_snapshot("vulnerability_report", files=DEMO)
    rows = {(r["vulnerability_id"], r["kind"]): r for r in csv_rows(snapshot)}
    for vuln_id in MIXED:
        mine = [f for f in snapshot.findings if f.vuln_id == vuln_id]
        assert {f.severity for f in mine} == {Severity.HIGH, Severity.MEDIUM}
        assert rows[(vuln_id, "vulnerability")]["severity"] == "high" == highest_severity(mine).value
    by_row = Counter(r["severity"] for r in rows.values())
    counts = vulnerability_severity_counts(snapshot.findings)
    assert {c.severity.value: c.total for c in counts if c.total} == dict(by_row)
    by_finding = Counter(f.severity.value for f in snapshot.findings)
    assert by_finding["high"] > by_row["high"]  # the two ways of counting really differ on this data


@pytest.mark.chromium
def test_vulnerability_report_pdf_shows_the_csv_per_severity_counts(chromium: object) -> None:
    snapshot = juice_shop_snapshot("vulnerability_report", files=DEMO)
    rows = csv_rows(snapshot)
    reader, warnings, _ = render_pdf(snapshot)
    assert warnings == []
    first = page_texts(reader)[0]
    assert "Findings by severity" in first and "Vulnerabilities by highest severity" in first
    section = first[first.index("Vulnerabilities by highest severity"):]
    per_severity = Counter(r["severity"] for r in rows)
    still_open = Counter(r["severity"] for r in rows if int(r["open_findings"]) > 0)
    for severity in SEVERITY_ORDER:
        name = severity.value
        assert f"{name.capitalize()} {per_severity[name]} {still_open[name]}" in section, name
    assert f"All {len(rows)} {sum(still_open.values())}" in section
    # the findings table keeps counting findings, each at its own severity
    findings_section = first[first.index("Findings by severity"):first.index("Vulnerabilities by highest")]
    by_finding = Counter(f.severity.value for f in snapshot.findings)
    assert f"High {by_finding['high']} " in findings_section
    assert by_finding["high"] != per_severity["high"]


def test_image_labels_are_cut_in_the_middle_with_the_full_name_in_a_title() -> None:
    snapshot = juice_shop_snapshot("scan_summary", files=DEMO)
    view = build_view(snapshot, lambda _: None)
    root = ET.fromstring(str(charts.findings_by_image(view.images, "#0ea5e9")))
    labels = [t for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    full = {name for name, _ in view.images}
    assert "defectdojo/defectdojo-django:1.13.1" in full
    label_x = float(labels[0].get("x") or 0)
    for label in labels:
        title = label.find(f"{SVG}title")
        shown = "".join(label.itertext()) if title is None else (label.text or "") + (title.tail or "")
        name = title.text if title is not None else shown
        assert name in full
        # right-aligned at label_x: the estimated width (0.64 em per character) must fit from x = 0
        assert len(shown) * float(label.get("font-size") or 0) * 0.64 <= label_x
        if title is not None:
            head, tail = shown.split("…")
            assert name.startswith(head) and name.endswith(tail) and len(head) >= 5 and len(tail) >= 5
    assert charts.fit_label("bkimminich/juice-shop:v10.2.0", 400, 9) == "bkimminich/juice-shop:v10.2.0"


@pytest.mark.chromium
@pytest.mark.parametrize("files", [DEMO, DEMO[:1], ("trivy_json_juice-shop-v10.2.0.json",
                                                     "trivy_json_juice-shop-v12.10.2.json", DEMO[1])])
def test_executive_summary_keeps_headings_with_their_tables(chromium: object, files: tuple[str, ...]) -> None:
    snapshot = juice_shop_snapshot("scan_summary", files=files)
    reader, warnings, _ = render_pdf(snapshot)
    assert warnings == []
    texts = page_texts(reader)
    view = build_view(snapshot, lambda _: None)
    images = {scan.id: scan.artifact_name for scan in snapshot.scans}
    first_rows = {
        "Top risks": f"Vulnerability Severity Package Fixed in Title / remediation {view.top_risks[0].vuln_id}",
        "Policy pass / fail": "Image / artifact Policy set Outcome Rules not passed "
                              f"{images[snapshot.policy_verdicts[0].scan_id]}",
        "Trend across scans": "Image / artifact Scanned Findings",
        "Findings by severity": "Severity Findings Open Fix available Critical",
    }
    for heading, follows in first_rows.items():
        pages = [i for i, text in enumerate(texts) if heading in text]
        assert len(pages) == 1, heading
        page = texts[pages[0]]
        after = page[page.index(heading) + len(heading):]
        assert follows in after, (heading, after[:200])  # the table header and its first row, same page
    for name, _ in view.images[:8]:  # full names under the chart, whatever the chart had to cut
        assert name in texts[0]
