"""Shared helpers for the PDF tests: snapshots from the real juice-shop scans, text and font extraction."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from exportcenter.config import Settings
from exportcenter.model import ExportOptions, ExportScope, ExportSnapshot
from exportcenter.pipeline.snapshot import build_snapshot
from exportcenter.policy.loader import builtin_policy_sets
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.pdf import render, shutdown_browsers
from exportcenter.sources.local.sniff import parse_document

SCANS = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "scans"
JUICE_SHOP = ("trivy_json_juice-shop-v10.2.0.json", "trivy_json_juice-shop-v12.10.2.json")
GENERATED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
CHROMIUM = Path("/usr/bin/chromium")


def juice_shop_snapshot(export_type: str, *, files: tuple[str, ...] = JUICE_SHOP, tenant: str = "acme",
                        metadata: dict[str, Any] | None = None, template: str | None = None) -> ExportSnapshot:
    docs = [parse_document((SCANS / f).read_bytes(), name=f, tenant=tenant, ingested_at=GENERATED_AT)
            for f in files]
    return build_snapshot(
        export_id="exp-test-1", tenant=tenant, export_type=export_type, export_format="pdf", documents=docs,
        vex_statements=[], policy_sets=builtin_policy_sets(), scope=ExportScope(),
        options=ExportOptions(template=template), generated_at=GENERATED_AT, metadata=metadata,
    )


def with_metadata(snapshot: ExportSnapshot, **metadata: Any) -> ExportSnapshot:
    return replace(snapshot, metadata={**snapshot.metadata, **metadata})


def render_pdf(snapshot: ExportSnapshot, **settings: Any) -> tuple[PdfReader, list[str], bytes]:
    ctx = RenderContext(settings=Settings(**settings))
    out = io.BytesIO()
    render(snapshot, out, ctx)
    data = out.getvalue()
    return PdfReader(io.BytesIO(data)), ctx.warnings, data


def page_texts(reader: PdfReader) -> list[str]:
    return [normalise(page.extract_text()) for page in reader.pages]


def normalise(text: str) -> str:
    """NFKC (CJK radicals, Arabic presentation forms, ligatures back to letters), whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text))


def fonts_used(reader: PdfReader) -> list[dict[str, Any]]:
    """Every font on every page, including inside Form XObjects (the header/footer overlay)."""
    found: dict[int, dict[str, Any]] = {}

    def walk(resources: Any) -> None:
        resources = resources.get_object()
        for ref in resources.get("/Font", {}).values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            if "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            found[id(font)] = {
                "name": str(font.get("/BaseFont", "")),
                "subtype": str(font.get("/Subtype")),
                "embedded": any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")),
                "glyph_procs": len(font.get("/CharProcs", {})),
            }
        for ref in resources.get("/XObject", {}).values():
            xobject = ref.get_object()
            if "/Resources" in xobject:
                walk(xobject["/Resources"])

    for page in reader.pages:
        walk(page["/Resources"])
    return list(found.values())


@pytest.fixture(scope="session")
def chromium() -> Any:
    """One warm browser for the whole test session (closed at the end)."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed")
    yield CHROMIUM
    shutdown_browsers()
