"""Tenant templates run sandboxed: files, dunder attributes, imports and endless loops are stopped."""

from __future__ import annotations

import importlib
import itertools
import time
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from exportcenter.config import Settings
from exportcenter.errors import TemplateError
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.pdf import charts, render_tenant_template_check
from exportcenter.renderers.pdf.chunks import ordered_findings, plan_chunks
from exportcenter.renderers.pdf.render import build_parts
from exportcenter.renderers.pdf.viewmodel import build_view
from tests.unit.pdf_support import JUICE_SHOP, juice_shop_snapshot, with_metadata

ESCAPES = {
    "include a file": '{% include "/etc/passwd" %}',
    "relative path": '{% include "../../../../etc/passwd" %}',
    "import": '{% import "os" as os %}{{ os.system("id") }}',
    "open builtin": "{{ open('/etc/passwd').read() }}",
    "__class__": "{{ report.__class__ }}",
    "__globals__": "{{ report.severity_count.__globals__ }}",
    "__mro__ subclasses": "{{ ().__class__.__mro__[1].__subclasses__() }}",
    "cycler globals": "{{ cycler.__init__.__globals__.os }}",
    "format string": "{{ '{0.__class__}'.format(report) }}",
    "huge repeat": "{{ 'x' * 100000000 }}",
    "huge range": "{% for i in range(10**9) %}{% endfor %}",
}
ENDLESS = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}done"


@pytest.mark.parametrize("source", list(ESCAPES.values()), ids=list(ESCAPES))
def test_escape_attempts_are_rejected(source: str) -> None:
    with pytest.raises(TemplateError):
        render_tenant_template_check(source)


def test_endless_loop_is_stopped_by_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("exportcenter.renderers.pdf.check.TENANT_TIME_LIMIT", 0.5)
    started = time.monotonic()
    with pytest.raises(TemplateError, match="time limit"):
        render_tenant_template_check(ENDLESS)
    assert time.monotonic() - started < 5


def test_good_template_passes_the_check() -> None:
    render_tenant_template_check(
        '{% extends "base.html.j2" %}{% block body %}<h1>{{ report.title }}</h1>'
        "{% for f in report.top_risks %}{{ f.vuln_id }} {{ f.package.name }}{% endfor %}"
        "{{ report.charts.severity }}{% endblock %}"
    )


def test_syntax_error_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="syntax error at line 1"):
        render_tenant_template_check("{% for x in %}")


@pytest.mark.parametrize("name", ["__globals__", "endless"])
def test_export_falls_back_to_default_with_a_warning(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.import_module("exportcenter.renderers.pdf.render"), "TENANT_TIME_LIMIT", 0.5)
    source = ENDLESS if name == "endless" else ESCAPES[name]
    snapshot = juice_shop_snapshot("scan_summary", files=JUICE_SHOP[:1], template="custom-acme")
    snapshot = with_metadata(snapshot, custom_templates={"custom-acme": source})
    ctx = RenderContext(settings=Settings())
    parts = build_parts(snapshot, ctx)
    assert len(ctx.warnings) == 1
    assert ctx.warnings[0].startswith("Template error: tenant template")
    assert "'compliance-executive' was used instead" in ctx.warnings[0]
    assert "Posture at a glance" in parts[0].html


def test_unknown_template_name_falls_back() -> None:
    snapshot = juice_shop_snapshot("scan_report", files=JUICE_SHOP[:1], template="custom-nobody")
    ctx = RenderContext(settings=Settings(pdf_chunk_rows=100))
    parts = build_parts(snapshot, ctx)
    assert ctx.warnings == ["Template error: PDF template 'custom-nobody' was not found; the default template "
                            "'compliance-detailed' was used instead"]
    assert [p.kind for p in parts] == ["front"] + ["findings"] * 3  # 237 findings in chunks of 100


def test_chunks_keep_every_finding_once_in_order() -> None:
    snapshot = juice_shop_snapshot("scan_report")
    rows = ordered_findings(snapshot)
    chunks = plan_chunks(rows, 97)
    flat = [f.id for chunk in chunks for image in chunk for pkg in image.packages for f in pkg.findings]
    assert flat == [f.id for _, _, f in rows]
    assert sorted(flat) == sorted(f.id for f in snapshot.findings)
    assert all(sum(image.count for image in chunk) <= 97 for chunk in chunks)
    for previous, chunk in itertools.pairwise(chunks):
        same_image = previous[-1].name == chunk[0].name
        assert chunk[0].continued == same_image


def test_branding_and_charts() -> None:
    snapshot = juice_shop_snapshot("scan_summary")
    snapshot = with_metadata(snapshot, branding={"title": "Weekly", "primary_color": "red", "logo": "http://x/y.png"})
    warnings: list[str] = []
    view = build_view(snapshot, warnings.append)
    assert view.title == "Weekly" and view.branding.primary_color == "#1e3a5f"
    assert len(warnings) == 2  # bad colour, remote logo
    svg = charts.severity_distribution(view.severity_rows)
    root = ET.fromstring(str(svg))
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    counts = Counter(f.severity.value.capitalize() for f in snapshot.findings)
    for name in ("Critical", "High", "Medium", "Low"):
        assert labels[labels.index(name) + 1] == str(counts[name])
    for chart in (charts.fixable_donut(view.fixable, view.not_fixable), charts.trend_over_scans(view.scans),
                  charts.findings_by_image(view.images, "#000000"), charts.policy_results(view.verdicts)):
        ET.fromstring(str(chart))
    assert f"Fix available: {view.fixable}" in str(charts.fixable_donut(view.fixable, view.not_fixable))
