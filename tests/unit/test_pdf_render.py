"""PDF reports rendered by Chromium from the real juice-shop Trivy scans, checked with pypdf."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from exportcenter.errors import PdfUnavailableError
from exportcenter.model import SEVERITY_ORDER
from tests.unit.pdf_support import (
    JUICE_SHOP,
    chromium,
    fonts_used,
    juice_shop_snapshot,
    normalise,
    page_texts,
    render_pdf,
    with_metadata,
)

pytestmark = pytest.mark.chromium
__all__ = ["chromium"]  # the session fixture, imported so pytest finds it


def assert_numbered_with_header(texts: list[str], title: str, tenant: str) -> None:
    total = len(texts)
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {total}" in text, f"page {number} lacks its number"
        assert normalise(title) in text and tenant in text, f"page {number} lacks the header"


def test_executive_summary_counts_equal_the_snapshot(chromium: object) -> None:
    snapshot = juice_shop_snapshot("scan_summary")
    reader, warnings, _ = render_pdf(snapshot)
    texts = page_texts(reader)
    assert warnings == []
    assert 1 <= len(texts) <= 3
    assert_numbered_with_header(texts, "Scan Summary", "acme")
    first = texts[0]
    assert f"{len(snapshot.findings)} Total findings" in first
    counts = Counter(f.severity for f in snapshot.findings)
    fixable = Counter(f.severity for f in snapshot.findings if f.has_fix)
    for severity in SEVERITY_ORDER:
        row = f"{severity.value.capitalize()} {counts[severity]} {counts[severity]} {fixable[severity]}"
        assert row in first, row
    failed = sum(1 for v in snapshot.policy_verdicts if v.outcome.value == "fail")
    assert f"{failed} failed of {len(snapshot.policy_verdicts)} verdicts" in first
    assert "bkimminich/juice-shop:v10.2.0" in " ".join(texts)
    assert reader.metadata is not None
    assert reader.metadata.title == "Scan Summary"
    assert reader.metadata.author == "acme"
    assert reader.metadata["/CreationDate"] == "D:20240501120000Z"


def test_detailed_report_lists_every_finding_across_chunks(chromium: object) -> None:
    snapshot = juice_shop_snapshot("scan_report")
    reader, warnings, data = render_pdf(snapshot, pdf_chunk_rows=150)  # 422 findings -> 3 chunks
    texts = page_texts(reader)
    assert warnings == []
    assert_numbered_with_header(texts, "Scan Report", "acme")
    body = " ".join(texts)
    missing = {f.vuln_id for f in snapshot.findings if f.vuln_id not in body}
    assert not missing
    findings_rows = Counter(re.findall(r"\b(?:CVE|GHSA|NSWG|pyup)[-\w.]+ (?:Critical|High|Medium|Low|Info|Unknown)\b",
                                       body))
    assert sum(findings_rows.values()) >= len({f.vuln_id for f in snapshot.findings if f.kind.value == "vulnerability"})
    assert "Upgrade" in body  # remediation given
    outline = reader.outline
    position = next(i for i, item in enumerate(outline) if not isinstance(item, list) and item.title == "Findings")
    children = outline[position + 1]
    assert isinstance(children, list)
    assert [c.title for c in children if not isinstance(c, list)] == ["Image: bkimminich/juice-shop:v10.2.0",
                                               "Image: bkimminich/juice-shop:v12.10.2"]
    assert len(data) < 2_000_000


def test_audit_evidence_shows_digests_and_policy_decisions(chromium: object) -> None:
    snapshot = juice_shop_snapshot("policy_compliance")
    reader, _, _ = render_pdf(snapshot)
    texts = page_texts(reader)
    assert_numbered_with_header(texts, "Policy Compliance Report", "acme")
    body = " ".join(texts).replace(" ", "")
    for scan in snapshot.scans:
        assert scan.document_digest.replace(" ", "") in body
    for verdict in snapshot.policy_verdicts:
        for rule in verdict.rules:
            assert rule.message.replace(" ", "") in body


def test_titles_in_every_script_are_shown_with_embedded_glyphs(chromium: object) -> None:
    title = "安全报告 تقرير الأمان דוח אבטחה 🔒 Report"
    snapshot = juice_shop_snapshot("scan_summary", files=JUICE_SHOP[:1], metadata={"branding": {
        "title": title, "primary_color": "#0b5394", "company": "Acme 株式会社"}})
    reader, warnings, _ = render_pdf(snapshot)
    texts = page_texts(reader)
    assert warnings == []
    for page in texts:  # the header repeats the title on every page
        for word in ("安全报告", "تقرير", "الأمان", "דוח", "אבטחה", "🔒"):
            assert word in page, word
    fonts = fonts_used(reader)
    assert fonts
    # every font carries its glyphs: an embedded font program, or (CJK CFF, colour emoji) Type3 glyph procs
    for font in fonts:
        assert font["embedded"] or (font["subtype"] == "/Type3" and font["glyph_procs"] > 0), font
    assert any(font["subtype"] == "/Type3" for font in fonts)  # CJK and emoji glyphs drawn from the PDF
    assert reader.metadata is not None and reader.metadata.title == title


def test_render_past_budget_is_retried_as_simplified_report(chromium: object) -> None:
    snapshot = juice_shop_snapshot("vulnerability_report")
    reader, warnings, _ = render_pdf(snapshot, pdf_timeout_seconds=0.05)
    assert any(w.startswith("PDF generation timeout") for w in warnings)
    texts = page_texts(reader)
    assert "Simplified report" in texts[0]
    assert len(texts) <= 6
    assert_numbered_with_header(texts, "Vulnerability Report", "acme")


def test_tenant_template_renders_and_bad_one_falls_back(chromium: object) -> None:
    good = ('{% extends "base.html.j2" %}{% block body %}<h1>Weekly posture for {{ report.tenant }}</h1>'
            '<p>Open: {{ report.open_findings }}</p>{% endblock %}')
    bad = "{{ report.__class__.__mro__ }}"
    snapshot = juice_shop_snapshot("scan_summary", files=JUICE_SHOP[:1], template="custom-acme")
    reader, warnings, _ = render_pdf(with_metadata(snapshot, custom_templates={"custom-acme": good}))
    assert warnings == []
    assert f"Open: {snapshot_open(snapshot)}" in page_texts(reader)[0]
    reader, warnings, _ = render_pdf(with_metadata(snapshot, custom_templates={"custom-acme": bad}))
    assert len(warnings) == 1 and warnings[0].startswith("Template error")
    assert "__class__" in warnings[0]
    assert "Posture at a glance" in page_texts(reader)[0]  # the type's default template


def snapshot_open(snapshot: object) -> int:
    return sum(1 for f in snapshot.findings if f.is_open)  # type: ignore[attr-defined]


def test_missing_chromium_says_how_to_install() -> None:
    snapshot = juice_shop_snapshot("scan_summary", files=JUICE_SHOP[:1])
    with pytest.raises(PdfUnavailableError, match="apt-get install chromium"):
        render_pdf(snapshot, chromium_path="/nonexistent/chromium")
