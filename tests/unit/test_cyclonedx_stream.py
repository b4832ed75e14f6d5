"""The streamed CycloneDX writer: the same bytes as serialising the whole document at once, on real
files, on seekable and non-seekable streams, with memory that does not grow with the document."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import tracemalloc
from dataclasses import replace
from typing import Any

import pytest

from exportcenter.errors import RenderError
from exportcenter.model import ExportOptions, ExportSnapshot
from exportcenter.renderers import cyclonedx
from exportcenter.renderers.cyclonedx import build_cyclonedx, render_cyclonedx
from exportcenter.renderers.cyclonedx_stream import StreamedObject
from exportcenter.util import jsonio
from tests.unit.sbom_test_data import context, cyclonedx_validator, edge_case_snapshot, load_real

REAL = ("sbom/cdx16_redhat_quarkus-camel-bom-1761-components.json", "scans/trivy_json_juice-shop-v12.10.2.json")


class _PipeLike(io.RawIOBase):
    """A write-only stream that cannot seek (a pipe, a socket, a zip member)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def _streamed(snapshot: ExportSnapshot, out: io.RawIOBase | io.BytesIO) -> bytes:
    render_cyclonedx(snapshot, out, context())  # type: ignore[arg-type]
    return bytes(out.data) if isinstance(out, _PipeLike) else out.getvalue()  # type: ignore[union-attr]


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of a few items, so the real files span many chunks of every list."""
    monkeypatch.setattr(cyclonedx, "COMPONENT_CHUNK", 7)
    monkeypatch.setattr(cyclonedx, "DEPENDENCY_CHUNK", 1)
    monkeypatch.setattr(cyclonedx, "VULNERABILITY_CHUNK", 3)


@pytest.mark.parametrize("version", ["1.5", "1.6"])
@pytest.mark.parametrize("seekable", [True, False])
def test_streamed_bytes_equal_the_whole_document_on_real_files(version: str, seekable: bool,
                                                               small_chunks: None) -> None:
    snapshot = load_real(*REAL, options=ExportOptions(cyclonedx_version=version))
    streamed = _streamed(snapshot, io.BytesIO() if seekable else _PipeLike())
    whole = build_cyclonedx(snapshot, context())
    assert streamed == jsonio.dumps(whole)
    parsed = json.loads(streamed)
    cyclonedx_validator(version)(parsed)
    assert len(parsed["vulnerabilities"]) > 3 and len(parsed["components"]) > 7  # several chunks each
    assert parsed["serialNumber"] == cyclonedx.serial_number(whole)


def test_edge_cases_and_multi_scan_aggregate_stream_identically(small_chunks: None) -> None:
    for snapshot in (edge_case_snapshot(), edge_case_snapshot(ExportOptions(custom_fields=(("k", "v\u2028"),)))):
        assert _streamed(snapshot, io.BytesIO()) == jsonio.dumps(build_cyclonedx(snapshot, context()))
        assert _streamed(snapshot, _PipeLike()) == jsonio.dumps(build_cyclonedx(snapshot, context()))


def test_document_without_vulnerabilities_or_dependencies() -> None:
    snapshot = replace(edge_case_snapshot(), findings=(), dependencies=())
    streamed = json.loads(_streamed(snapshot, io.BytesIO()))
    assert "vulnerabilities" not in streamed
    assert streamed == build_cyclonedx(snapshot, context())


def test_streamed_object_matches_dumps_and_digest_for_awkward_values() -> None:
    document: dict[str, Any] = {"a": [{"x": [1, {"y": "line\nbreak \u2028 \\ \"q\""}], "e": []}, {}, [], "s"], "b": {},
                "c": [], "d": {"k": {"z": [1.5, None, True]}}, "s": "urn:uuid:" + "0" * 36, "t": 1}
    for out in (io.BytesIO(), _PipeLike()):
        writer = StreamedObject(out)  # type: ignore[arg-type]
        writer.list_member("a", [document["a"][:1], [], document["a"][1:3], document["a"][3:]])
        writer.member("b", {})
        writer.list_member("c", [[], []])
        writer.member("d", document["d"])
        writer.defer_string("s", 45)
        writer.member("t", 1)
        body = {key: value for key, value in document.items() if key != "s"}
        assert writer.digest == hashlib.sha256(jsonio.dumps(body, indent=False)).hexdigest()
        writer.close(str(document["s"]))
        written = out.getvalue() if isinstance(out, io.BytesIO) else bytes(out.data)
        assert written == jsonio.dumps(document)


def test_lone_surrogates_are_replaced_as_in_the_whole_dump() -> None:
    out = io.BytesIO()
    writer = StreamedObject(out)
    writer.list_member("items", [["ok"], ["bad \ud800 text"]])
    writer.close()
    assert out.getvalue() == jsonio.dumps({"items": ["ok", "bad \ud800 text"]})
    assert "\ufffd" in json.loads(out.getvalue())["items"][1]


def test_members_out_of_order_or_a_misfit_deferred_value_are_refused() -> None:
    writer = StreamedObject(io.BytesIO())
    writer.member("b", 1)
    with pytest.raises(RenderError, match="out of order"):
        writer.member("a", 2)
    deferred = StreamedObject(io.BytesIO())
    deferred.defer_string("serial", 4)
    with pytest.raises(RenderError, match="does not fit"):
        deferred.close("12345")


def test_memory_stays_far_below_the_document_size() -> None:
    """8,000 findings (4,000 vulnerability ids) of real juice-shop data: the whole-document path held
    the dict tree and two serialisations (several times the output); streaming holds one chunk."""
    real = load_real(*REAL)
    templates = [f for f in real.findings if f.package is not None]
    findings = tuple(replace(templates[n % len(templates)], id=f"f-{n}", vuln_id=f"CVE-2099-{n // 2:06d}")
                     for n in range(8000))
    snapshot = replace(real, findings=findings)
    with tempfile.TemporaryFile() as out:
        tracemalloc.start()
        try:
            render_cyclonedx(snapshot, out, context())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        size = out.tell()
    assert size > 15_000_000
    assert peak < size / 2, (peak, size)
