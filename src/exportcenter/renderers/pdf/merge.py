"""Merge the chunk PDFs into one document: header/footer overlay, outline, metadata, shared objects.

The header and "Page N of M" footer cannot come from Chromium's own header template once a report is
rendered in chunks (each chunk would restart at 1), so they are drawn on a separate overlay document of
exactly M pages and stamped onto each content page as a Form XObject (no content-stream parsing, so
stamping is linear and cheap).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    RectangleObject,
)

OVERLAY_NAME = "/ECHeaderFooter"


@dataclass(frozen=True)
class PartPdf:
    data: bytes
    kind: str  # "front" (import its outline as is) | "findings" (outline entries are images)


def pdf_date(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("D:%Y%m%d%H%M%SZ")


def page_count(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def _walk_outline(reader: PdfReader, items: Sequence[Any], depth: int = 0) -> list[tuple[int, str, int]]:
    """Flatten a reader's outline to (depth, title, page index)."""
    flat: list[tuple[int, str, int]] = []
    for item in items:
        if isinstance(item, list):
            flat.extend(_walk_outline(reader, item, depth + 1))
            continue
        page = reader.get_destination_page_number(item)
        if page is not None and page >= 0:
            flat.append((depth, str(item.title), page))
    return flat


def _form_from_page(writer: PdfWriter, page: PageObject) -> IndirectObject:
    """A Form XObject with the page's content and resources, added to ``writer``."""
    form = DecodedStreamObject()
    contents = page.get_contents()
    form.set_data(contents.get_data() if contents is not None else b"")
    form[NameObject("/Type")] = NameObject("/XObject")
    form[NameObject("/Subtype")] = NameObject("/Form")
    form[NameObject("/BBox")] = RectangleObject(page.mediabox)
    resources = page.get("/Resources")
    if resources is not None:
        form[NameObject("/Resources")] = resources.get_object().clone(writer)
    return writer._add_object(form.flate_encode())


def _stamp(writer: PdfWriter, page: PageObject, form: IndirectObject) -> None:
    resources = page.get("/Resources")
    own = DictionaryObject(resources.get_object()) if resources is not None else DictionaryObject()
    xobjects = DictionaryObject(own.get("/XObject", DictionaryObject()).get_object())
    xobjects[NameObject(OVERLAY_NAME)] = form
    own[NameObject("/XObject")] = xobjects
    page[NameObject("/Resources")] = own
    before = DecodedStreamObject()
    before.set_data(b"q\n")
    after = DecodedStreamObject()
    after.set_data(f"\nQ\nq {OVERLAY_NAME} Do Q\n".encode("ascii"))
    contents = page.get("/Contents")
    parts: list[Any] = [writer._add_object(before)]
    if contents is not None:
        value = contents.get_object()
        parts.extend(value if isinstance(value, ArrayObject) else [contents])
    parts.append(writer._add_object(after))
    page[NameObject("/Contents")] = ArrayObject(parts)


def merge(
    parts: Sequence[PartPdf],
    overlays: Sequence[bytes],
    *,
    title: str,
    author: str,
    subject: str,
    created: datetime,
    findings_label: str = "Findings",
) -> bytes:
    readers = [PdfReader(io.BytesIO(part.data)) for part in parts]
    writer = PdfWriter(clone_from=readers[0]) if len(readers) == 1 else PdfWriter()
    offsets: list[int] = []
    for index, reader in enumerate(readers):
        offsets.append(len(writer.pages) if index else 0)
        if len(readers) > 1:
            writer.append(reader, import_outline=False)
    if len(readers) == 1:
        writer._root_object.pop(NameObject("/Outlines"), None)  # rebuilt below, same entries

    findings_parent: IndirectObject | None = None
    last_image: dict[str, IndirectObject] = {}
    stack: list[IndirectObject] = []
    for part, reader, offset in zip(parts, readers, offsets, strict=True):
        for depth, text, page in _walk_outline(reader, reader.outline):
            target = offset + page
            if part.kind == "findings":
                if findings_parent is None:
                    findings_parent = writer.add_outline_item(title=findings_label, page_number=target)
                if text not in last_image:
                    last_image[text] = writer.add_outline_item(
                        title=text, page_number=target, parent=findings_parent
                    )
                continue
            del stack[depth:]
            parent = stack[-1] if stack else None
            stack.append(writer.add_outline_item(title=text, page_number=target, parent=parent))
        if part.kind == "findings" and findings_parent is None and len(reader.pages):
            findings_parent = writer.add_outline_item(title=findings_label, page_number=offset)

    overlay_pages = [page for data in overlays for page in PdfReader(io.BytesIO(data)).pages]
    if len(overlay_pages) != len(writer.pages):
        raise ValueError(f"overlay has {len(overlay_pages)} pages for {len(writer.pages)} content pages")
    for content_page, overlay in zip(writer.pages, overlay_pages, strict=True):
        _stamp(writer, content_page, _form_from_page(writer, overlay))

    stamp = pdf_date(created)
    writer.metadata = None
    writer.add_metadata({
        "/Title": title,
        "/Author": author,
        "/Subject": subject,
        "/Creator": "ExportCenter",
        "/Producer": "ExportCenter (Chromium via Playwright, pypdf)",
        "/CreationDate": stamp,
        "/ModDate": stamp,
    })
    writer.page_mode = "/UseOutlines"
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
