"""CSV and XLSX renderers on real scanner output: same columns and values, safe cells, Excel's limits."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from exportcenter.config import Settings
from exportcenter.errors import RenderError
from exportcenter.model import SEVERITY_ORDER, ExportOptions, ExportSnapshot, ExportType, Package
from exportcenter.renderers import csv_writer, xlsx
from exportcenter.renderers.base import RenderContext
from exportcenter.renderers.columns import build_table
from exportcenter.renderers.tabular_cells import EXCEL_MAX_CELL_CHARS, csv_text, utf16_length
from tests.unit.tabular_data import DATA, audit_events, snapshot_of

CHECKER = Path("/work/shared/tools/check_artifacts.py")
JUICE = "scans/trivy_json_juice-shop-v12.10.2.json"
SCANS = [JUICE, "scans/grype_json_busybox-epss.json", "scans/trivy_json_misconfig-and-secrets.json",
         "scans/grype_json_check-all-fields.json"]
CUSTOM = ExportOptions(custom_fields=(("ticket", "SEC-42"), ("owner", "@platform-team")), include_remediation=True)


def render_csv(export_type: ExportType, snapshot: ExportSnapshot) -> tuple[list[list[str]], RenderContext, bytes]:
    ctx = RenderContext(Settings())
    out = io.BytesIO()
    csv_writer.write_csv(export_type, snapshot, out, ctx)
    data = out.getvalue()
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))), ctx, data


def render_xlsx(export_type: ExportType, snapshot: ExportSnapshot, **kwargs: Any) -> tuple[bytes, RenderContext]:
    ctx = RenderContext(Settings())
    out = io.BytesIO()
    xlsx.write_xlsx(export_type, snapshot, out, ctx, **kwargs)
    return out.getvalue(), ctx


def open_workbook(data: bytes) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # openpyxl must open it without a single warning
        return openpyxl.load_workbook(io.BytesIO(data))


_EXCEL_ESCAPE = re.compile("_x([0-9A-Fa-f]{4})_")


def excel_text(value: Any) -> Any:
    """The text Excel shows: it decodes the OOXML ``_xHHHH_`` escapes (XlsxWriter writes CR as _x000D_),
    which openpyxl leaves as they are."""
    return _EXCEL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value) if isinstance(value, str) else value


def data_rows(book: openpyxl.Workbook) -> list[list[Any]]:
    """Header + rows of every data sheet (all sheets but Summary), overflow sheets appended."""
    rows: list[list[Any]] = []
    for sheet in book.worksheets[1:]:
        values = [[excel_text(v) for v in r] for r in sheet.iter_rows(values_only=True)]
        if rows:
            assert values[0] == rows[0], "each overflow sheet repeats the header"
            values = values[1:]
        rows.extend(values)
    return rows


def assert_same_values(xlsx_rows: list[list[Any]], csv_rows: list[list[str]]) -> None:
    assert len(xlsx_rows) == len(csv_rows)
    for number, (x_row, c_row) in enumerate(zip(xlsx_rows, csv_rows, strict=True)):
        assert len(x_row) <= len(c_row), number
        x_row = x_row + [None] * (len(c_row) - len(x_row))
        for x_value, c_value in zip(x_row, c_row, strict=True):
            if isinstance(x_value, int | float):
                assert float(c_value) == pytest.approx(x_value, rel=1e-15), (number, c_value, x_value)
            else:
                assert csv_text(x_value) == c_value, (number, c_value, x_value)


def run_checker(kind: str, data: bytes, tmp_path: Path) -> None:
    if not CHECKER.exists():
        return
    target = tmp_path / f"artifact.{kind}"
    target.write_bytes(data)
    done = subprocess.run([sys.executable, str(CHECKER), kind, str(target)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("export_type", [ExportType.SCAN_SUMMARY, ExportType.VULNERABILITY_REPORT])
def test_xlsx_and_csv_agree_value_for_value_on_real_scans(export_type: ExportType, tmp_path: Path) -> None:
    snapshot = snapshot_of(SCANS, export_type=export_type.value, export_format="xlsx", options=CUSTOM)
    csv_rows, _, csv_bytes = render_csv(export_type, snapshot)
    xlsx_bytes, _ = render_xlsx(export_type, snapshot)
    book = open_workbook(xlsx_bytes)
    assert book.sheetnames[0] == "Summary"
    rows = data_rows(book)
    assert_same_values(rows, csv_rows)
    assert csv_rows[0][-2:] == ["custom:ticket", "custom:owner"]
    assert {r[-1] for r in csv_rows[1:]} == {"'@platform-team"}  # a custom value starting with @ is neutralised
    sheet = book.worksheets[1]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{sheet.max_row}"
    run_checker("csv", csv_bytes, tmp_path)
    run_checker("xlsx", xlsx_bytes, tmp_path)


def test_scan_summary_counts_add_up_to_the_totals_row() -> None:
    snapshot = snapshot_of(SCANS, export_type="scan_summary", export_format="csv")
    rows, _, _ = render_csv(ExportType.SCAN_SUMMARY, snapshot)
    header, body, totals = rows[0], rows[1:-1], rows[-1]
    col = {key: i for i, key in enumerate(header)}
    assert len(body) == len(snapshot.scans) == 4 and totals[0] == "TOTAL"
    for row in [*body, totals]:
        per_severity = sum(int(row[col[f"{s.value}_total"]]) for s in SEVERITY_ORDER)
        assert per_severity == int(row[col["findings_total"]])
        assert int(row[col["open_total"]]) + int(row[col["vex_suppressed"]]) == int(row[col["findings_total"]])
        assert sum(int(row[col[f"{s.value}_open"]]) for s in SEVERITY_ORDER) == int(row[col["open_total"]])
    for key in ("findings_total", "open_total", "critical_total", "fixable_open", "vex_suppressed"):
        assert int(totals[col[key]]) == sum(int(r[col[key]]) for r in body)
    # independent count straight from the Trivy file: vulnerabilities + secrets + misconfigurations
    raw = json.loads((DATA / JUICE).read_text())
    expected = sum(len(r.get(k) or []) for r in raw["Results"]
                   for k in ("Vulnerabilities", "Secrets", "Misconfigurations"))
    juice = next(r for r in body if r[col["image"]] == "bkimminich/juice-shop:v12.10.2")
    assert int(juice[col["findings_total"]]) == expected == 185
    assert int(totals[col["findings_total"]]) == len(snapshot.findings)
    assert totals[col["policy_outcome"]] in {"pass", "warn", "fail"}


def test_vulnerability_report_one_row_per_vulnerability_with_images_and_epss() -> None:
    snapshot = snapshot_of(SCANS, export_type="vulnerability_report", export_format="csv", options=CUSTOM)
    rows, _, _ = render_csv(ExportType.VULNERABILITY_REPORT, snapshot)
    col = {key: i for i, key in enumerate(rows[0])}
    body = rows[1:]
    keys = [(r[col["vulnerability_id"]], r[col["kind"]]) for r in body]
    assert len(keys) == len(set(keys)) == len({(f.vuln_id, f.kind.value) for f in snapshot.findings})
    assert sum(int(r[col["findings_total"]]) for r in body) == len(snapshot.findings)
    ranks = [SEVERITY_ORDER.index(next(s for s in SEVERITY_ORDER if s.value == r[col["severity"]])) for r in body]
    assert ranks == sorted(ranks), "worst severity first"
    epss = {f.vuln_id: f.epss for f in snapshot.findings if f.epss is not None}
    assert epss, "the busybox Grype file carries EPSS values"
    for row in body:
        if row[col["vulnerability_id"]] in epss:
            assert float(row[col["epss"]]) == epss[row[col["vulnerability_id"]]]
    busybox = [r for r in body if "busybox:1.32.1" in r[col["affected_images"]]]
    assert len(busybox) == 15 or sum(int(r[col["findings_total"]]) for r in busybox) >= 15
    fixable = next(r for r in body if r[col["fixed_versions"]])
    assert fixable[col["remediation"]].startswith("upgrade ")


def _hostile_snapshot(titles: list[str]) -> ExportSnapshot:
    base = snapshot_of([JUICE], export_type="vulnerability_report", export_format="xlsx", vex_every=1000)
    findings = list(base.findings)
    for index, title in enumerate(titles):
        finding = findings[index]
        package = replace(finding.package or Package("x"), name=title[:40])
        findings[index] = replace(finding, vuln_id=f"TEST-{index}", title=title, package=package)
    return replace(base, findings=tuple(findings))


INJECTIONS = ["=HYPERLINK(\"http://evil\",\"x\")", "+SUM(1,2)", "-2+3", "@cmd", "\tTAB lead", "\rCR lead",
              "=1+1"]


def test_formula_injection_neutralised_in_csv_and_text_in_xlsx(tmp_path: Path) -> None:
    snapshot = _hostile_snapshot(INJECTIONS)
    csv_rows, _, csv_bytes = render_csv(ExportType.VULNERABILITY_REPORT, snapshot)
    xlsx_bytes, _ = render_xlsx(ExportType.VULNERABILITY_REPORT, snapshot)
    csv_cells = {cell for row in csv_rows for cell in row}
    for text in INJECTIONS:
        assert "'" + text in csv_cells
        assert text not in csv_cells
    book = open_workbook(xlsx_bytes)
    found = {}
    for row in book.worksheets[1].iter_rows():
        for cell in row:
            assert cell.data_type != "f"
            if excel_text(cell.value) in INJECTIONS:
                found[excel_text(cell.value)] = cell
    assert set(found) == set(INJECTIONS)
    assert all(cell.data_type == "s" and cell.quotePrefix for cell in found.values())
    assert_same_values(data_rows(book), csv_rows)
    run_checker("csv", csv_bytes, tmp_path)
    run_checker("xlsx", xlsx_bytes, tmp_path)


def test_long_cells_are_cut_with_marker_and_control_characters_replaced(tmp_path: Path) -> None:
    long_title = "\U0001f512" * 20_000 + "tail"  # 40,004 UTF-16 units: the emoji count twice
    snapshot = _hostile_snapshot([long_title, "nul\x00bell\x07esc\x1b ok\ttab"])
    csv_rows, csv_ctx, _ = render_csv(ExportType.VULNERABILITY_REPORT, snapshot)
    xlsx_bytes, ctx = render_xlsx(ExportType.VULNERABILITY_REPORT, snapshot)
    book = open_workbook(xlsx_bytes)
    cells = [c for row in data_rows(book) for c in row if isinstance(c, str)]
    cut = [c for c in cells if c.startswith("\U0001f512") and len(c) > 1000]
    assert len(cut) == 1
    kept, marker = cut[0].split(" [... cut: ")
    assert long_title.startswith(kept) and marker == f"{len(long_title) - len(kept)} more characters]"
    assert EXCEL_MAX_CELL_CHARS - 40 < utf16_length(cut[0]) <= EXCEL_MAX_CELL_CHARS
    assert all(utf16_length(c) <= EXCEL_MAX_CELL_CHARS for c in cells)
    assert "nul\ufffdbell\ufffdesc\ufffd ok\ttab" in cells
    assert any("cut with a visible marker" in w for w in ctx.warnings)
    assert any("control characters" in w for w in ctx.warnings)
    assert csv_ctx.warnings == ctx.warnings[: len(csv_ctx.warnings)]
    assert_same_values(data_rows(book), csv_rows)
    summary = [row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0] == "warning"]
    assert any("cut with a visible marker" in str(w) for w in summary)
    run_checker("xlsx", xlsx_bytes, tmp_path)


def test_rows_past_the_limit_continue_on_further_sheets() -> None:
    snapshot = snapshot_of([JUICE], export_type="vulnerability_report", export_format="xlsx")
    csv_rows, _, _ = render_csv(ExportType.VULNERABILITY_REPORT, snapshot)
    xlsx_bytes, ctx = render_xlsx(ExportType.VULNERABILITY_REPORT, snapshot, max_rows=50)
    book = open_workbook(xlsx_bytes)
    data_count = len(csv_rows) - 1
    expected_sheets = -(-data_count // 49)
    assert book.sheetnames[1:] == ["Vulnerabilities"] + [f"Vulnerabilities ({i})" for i in
                                                        range(2, expected_sheets + 1)]
    assert all(ws.max_row <= 50 for ws in book.worksheets[1:])
    assert_same_values(data_rows(book), csv_rows)
    assert any("continue on" in w for w in ctx.warnings)
    with pytest.raises(RenderError):
        render_xlsx(ExportType.VULNERABILITY_REPORT, snapshot, max_rows=1)


def test_severity_cells_are_coloured_and_summary_counts_add_up() -> None:
    snapshot = snapshot_of(SCANS, export_type="vulnerability_report", export_format="xlsx")
    book = open_workbook(render_xlsx(ExportType.VULNERABILITY_REPORT, snapshot)[0])
    sheet = book.worksheets[1]
    header = [c.value for c in sheet[1]]
    sev_col = header.index("severity") + 1
    colours = {sheet.cell(r, sev_col).value: sheet.cell(r, sev_col).fill.fgColor.rgb
               for r in range(2, sheet.max_row + 1)}
    assert colours["critical"].endswith("C00000") and colours["high"].endswith("ED7D31")
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    per_severity = sum(summary[f"{s.value} vulnerabilities"] for s in SEVERITY_ORDER)
    assert per_severity == summary["vulnerabilities"] == sheet.max_row - 1
    assert summary["generated at (UTC)"] == "2024-05-01T12:00:00Z"


def test_same_snapshot_gives_byte_identical_files() -> None:
    snapshot = snapshot_of(SCANS, export_type="scan_summary", export_format="xlsx", options=CUSTOM)
    first, second = render_xlsx(ExportType.SCAN_SUMMARY, snapshot), render_xlsx(ExportType.SCAN_SUMMARY, snapshot)
    assert first[0] == second[0]
    assert render_csv(ExportType.SCAN_SUMMARY, snapshot)[2] == render_csv(ExportType.SCAN_SUMMARY, snapshot)[2]
    props = open_workbook(first[0]).properties
    assert props.created is not None and props.created.isoformat().startswith("2024-05-01T12:00:00")


def test_csv_bom_is_optional() -> None:
    snapshot = snapshot_of([JUICE], export_type="scan_summary", export_format="csv")
    plain = render_csv(ExportType.SCAN_SUMMARY, snapshot)[2]
    with_bom = render_csv(ExportType.SCAN_SUMMARY, replace(snapshot, options=ExportOptions(csv_bom=True)))[2]
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert with_bom == b"\xef\xbb\xbf" + plain
    assert plain.split(b"\r\n")[0].startswith(b"scan_id,image,")


def test_audit_log_csv_has_every_event_in_sequence(tmp_path: Path) -> None:
    events = audit_events(6)
    snapshot = replace(snapshot_of([], export_type="audit_log", export_format="csv"), audit_events=events[::-1])
    rows, _, data = render_csv(ExportType.AUDIT_LOG, snapshot)
    assert rows[0][:3] == ["seq", "time", "tenant"] and rows[0][-2:] == ["prev_hash", "hash"]
    assert [int(r[0]) for r in rows[1:]] == [1, 2, 3, 4, 5, 6]
    assert [r[-2] for r in rows[2:]] == [r[-1] for r in rows[1:-1]], "the hash chain reads in order"
    run_checker("csv", data, tmp_path)


def test_types_without_a_tabular_layout_are_refused() -> None:
    snapshot = snapshot_of([JUICE], export_type="sbom", export_format="csv")
    with pytest.raises(RenderError, match="no CSV/XLSX layout"):
        build_table(ExportType.SBOM, snapshot)


def test_registries_cover_the_spec_table() -> None:
    assert set(csv_writer.RENDERERS) | set(xlsx.RENDERERS) == {
        (ExportType.SCAN_SUMMARY, "csv"), (ExportType.VULNERABILITY_REPORT, "csv"), (ExportType.AUDIT_LOG, "csv"),
        (ExportType.SCAN_SUMMARY, "xlsx"), (ExportType.VULNERABILITY_REPORT, "xlsx")}


class WriteOnlyStream:
    """An upload or hashing stream: nothing but ``write``."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)


def test_renderers_need_nothing_but_write_on_the_output() -> None:
    snapshot = snapshot_of(SCANS, export_type="vulnerability_report", export_format="csv")
    stream = WriteOnlyStream()
    csv_writer.render_vulnerability_report_csv(snapshot, stream, RenderContext(Settings()))  # type: ignore[arg-type]
    assert b"".join(stream.chunks) == render_csv(ExportType.VULNERABILITY_REPORT, snapshot)[2]
    stream = WriteOnlyStream()
    xlsx.render_vulnerability_report_xlsx(snapshot, stream, RenderContext(Settings()))  # type: ignore[arg-type]
    book = open_workbook(b"".join(stream.chunks))
    assert_same_values(data_rows(book), render_csv(ExportType.VULNERABILITY_REPORT, snapshot)[0])


def test_a_refused_cell_fails_the_export_instead_of_vanishing(monkeypatch: pytest.MonkeyPatch) -> None:
    from xlsxwriter.worksheet import Worksheet

    snapshot = snapshot_of([JUICE], export_type="vulnerability_report", export_format="xlsx")
    monkeypatch.setattr(Worksheet, "write_number", lambda *args, **kwargs: -1)  # "row out of range"
    with pytest.raises(RenderError, match="row or column outside the sheet"):
        render_xlsx(ExportType.VULNERABILITY_REPORT, snapshot)
