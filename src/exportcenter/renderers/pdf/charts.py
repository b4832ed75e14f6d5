"""Inline SVG charts drawn server-side: no JavaScript, no network, text stays real text in the PDF."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from exportcenter.renderers.pdf.viewmodel import SEVERITY_COLOURS, ScanRow, SeverityRow, VerdictSummary

FONT = "font-family=\"DejaVu Sans, Noto Sans, sans-serif\""
_LABEL_SIZE = 9
_EM_PER_CHAR = 0.64
_EMPTY = '<text x="{x}" y="{y}" font-size="11" fill="#64748b" {font}>No data</text>'


def _svg(width: int, height: int, body: str, label: str) -> Markup:
    # body is built only from numbers, fixed colours and escape()d labels
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">{body}</svg>'
    )


def _hbars(items: Sequence[tuple[str, int, str]], width: int, label: str, label_width: int = 90) -> Markup:
    """Horizontal bars: (label, value, colour) per row, value printed after the bar. A label too long for
    ``label_width`` is cut in the middle (both ends stay readable) and carries the full text in a <title>."""
    row_h = 18
    height = max(row_h * len(items) + 6, 30)
    if not items or max(v for _, v, _ in items) == 0:
        return _svg(width, 30, _EMPTY.format(x=4, y=18, font=FONT), label)
    top = max(v for _, v, _ in items)
    span = width - label_width - 50
    parts = []
    for i, (name, value, colour) in enumerate(items):
        y = 3 + i * row_h
        bar = 0 if value == 0 else max(2.0, span * value / top)
        shown = fit_label(name, label_width - 8, _LABEL_SIZE)
        tooltip = f"<title>{escape(name)}</title>" if shown != name else ""
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 12}" font-size="{_LABEL_SIZE}" text-anchor="end" {FONT}>'
            f"{tooltip}{escape(shown)}</text>"
            f'<rect x="{label_width}" y="{y + 2}" width="{bar:.1f}" height="{row_h - 5}" fill="{colour}"/>'
            f'<text x="{label_width + bar + 4:.1f}" y="{y + 12}" font-size="10" {FONT}>{value}</text>'
        )
    return _svg(width, height, "".join(parts), label)


def severity_distribution(rows: Sequence[SeverityRow], width: int = 320) -> Markup:
    items = [(row.severity.value.capitalize(), row.total, row.colour) for row in rows]
    return _hbars(items, width, "Findings by severity")


def findings_by_image(images: Sequence[tuple[str, int]], accent: str, width: int = 345, limit: int = 8) -> Markup:
    """Bars per image; long names are cut in the middle to fit (the full name is in the bar's <title>,
    and the templates list every full name in a table below the chart)."""
    items = [(name, count, accent) for name, count in images[:limit]]
    return _hbars(items, width, "Findings by image", label_width=195)


def policy_results(verdicts: VerdictSummary, width: int = 320) -> Markup:
    items = [
        ("Pass", verdicts.passed, "#16a34a"),
        ("Warn", verdicts.warned, "#f59e0b"),
        ("Fail", verdicts.failed, "#dc2626"),
    ]
    return _hbars(items, width, "Policy results")


def _arc(cx: float, cy: float, r: float, start: float, end: float) -> str:
    """An SVG path for a circle arc from angle ``start`` to ``end`` (radians, 0 = 12 o'clock)."""
    x1, y1 = cx + r * math.sin(start), cy - r * math.cos(start)
    x2, y2 = cx + r * math.sin(end), cy - r * math.cos(end)
    large = 1 if end - start > math.pi else 0
    return f"M{x1:.2f},{y1:.2f} A{r},{r} 0 {large} 1 {x2:.2f},{y2:.2f}"


def fixable_donut(fixable: int, not_fixable: int, width: int = 320) -> Markup:
    total = fixable + not_fixable
    height = 120
    if total == 0:
        return _svg(width, 30, _EMPTY.format(x=4, y=18, font=FONT), "Fix availability")
    cx, cy, r = 60.0, 60.0, 42.0
    parts = []
    slices = [("Fix available", fixable, "#16a34a"), ("No fix", not_fixable, "#94a3b8")]
    angle = 0.0
    for _name, value, colour in slices:
        if value == 0:
            continue
        if value == total:
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{colour}" stroke-width="18"/>')
            break
        sweep = 2 * math.pi * value / total
        parts.append(f'<path d="{_arc(cx, cy, r, angle, angle + sweep)}" fill="none" '
                     f'stroke="{colour}" stroke-width="18"/>')
        angle += sweep
    share = round(100 * fixable / total)
    parts.append(f'<text x="{cx}" y="{cy + 5}" font-size="14" text-anchor="middle" {FONT}>{share}%</text>')
    for i, (name, value, colour) in enumerate(slices):
        y = 40 + i * 22
        parts.append(f'<rect x="125" y="{y}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="143" y="{y + 10}" font-size="11" {FONT}>{name}: {value}</text>')
    return _svg(width, height, "".join(parts), "Fix availability")


def trend_over_scans(scans: Sequence[ScanRow], width: int = 660, limit: int = 12) -> Markup:
    """Stacked columns per scan (oldest first), one colour per severity."""
    shown = list(scans)[-limit:]
    height = 170
    if not shown:
        return _svg(width, 30, _EMPTY.format(x=4, y=18, font=FONT), "Trend over scans")
    top = max((row.total for row in shown), default=0) or 1
    plot_h, base_y = 110.0, 130.0
    slot = (width - 40) / len(shown)
    col_w = min(46.0, slot * 0.6)
    parts = [f'<line x1="30" y1="{base_y}" x2="{width - 5}" y2="{base_y}" stroke="#94a3b8"/>']
    for i, row in enumerate(shown):
        x = 35 + i * slot + (slot - col_w) / 2
        y = base_y
        for severity, count in row.by_severity.items():
            if count == 0:
                continue
            h = plot_h * count / top
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w:.1f}" height="{h:.1f}" '
                         f'fill="{SEVERITY_COLOURS[severity]}"/>')
        parts.append(f'<text x="{x + col_w / 2:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle" '
                     f'{FONT}>{row.total}</text>')
        stamp = row.scan.created_at.strftime("%Y-%m-%d")
        name_label = fit_label(row.name, min(slot - 4, 200), 8)
        tooltip = f"<title>{escape(row.name)}</title>" if name_label != row.name else ""
        parts.append(f'<text x="{x + col_w / 2:.1f}" y="{base_y + 13}" font-size="8" text-anchor="middle" '
                     f'{FONT}>{tooltip}{escape(name_label)}</text>'
                     f'<text x="{x + col_w / 2:.1f}" y="{base_y + 24}" font-size="8" text-anchor="middle" '
                     f'fill="#475569" {FONT}>{stamp}</text>')
    return _svg(width, height, "".join(parts), "Trend over scans")


def fit_label(text: str, width_px: float, font_size: float) -> str:
    """``text`` cut in the middle with "…" so it fits ``width_px`` at ``font_size``. The width is estimated
    for DejaVu Sans (its widest common glyphs, digits and lower case, are about 0.64 em), so the estimate
    errs on the short side; the head (registry/repository) and the tail (name:tag) both stay visible."""
    limit = max(5, int(width_px / (font_size * _EM_PER_CHAR)))
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 2 + (limit - 1) % 2
    head = limit - 1 - tail
    return text[:head] + "…" + text[len(text) - tail:]
