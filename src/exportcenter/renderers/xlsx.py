"""XLSX renderers: scan_summary and vulnerability_report (audit_log has the same table, CSV only).

Layout: a "Summary" sheet first (export id, tenant, generation time, the counts, custom fields and every
warning), then the data sheet with the columns and values of ``columns.build_table`` - exactly those
of the CSV. The header row is frozen and carries an autofilter; severity cells and the per-severity
count headers are coloured.

Safety, following the traps measured in DESIGN.md:
- XlsxWriter runs with ``strings_to_formulas=False``, ``strings_to_urls=False``,
  ``strings_to_numbers=False`` and ``constant_memory=True``; every value is written with
  ``write_string``/``write_number`` and every return code is checked (a non-zero one is a RenderError,
  never a silently dropped cell).
- Text starting with ``= + - @``, TAB or CR is a string cell with Excel's quote-prefix style, so
  Excel shows it as typed and never evaluates it.
- Control characters are replaced and cells over 32,767 characters cut with a marker (``tabular_cells``).
- Past ``max_rows`` rows (Excel: 1,048,576 including the header) the data continues on "<sheet> (2)",
  "<sheet> (3)", ... each with its own header, and a warning says so.
- Document times are ``snapshot.generated_at``, so the same snapshot gives byte-identical files
  (with ``SOURCE_DATE_EPOCH`` the snapshot time itself is fixed).
"""

from __future__ import annotations

from typing import Any, BinaryIO

import xlsxwriter
from xlsxwriter.exceptions import XlsxWriterException
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from exportcenter.errors import RenderError
from exportcenter.model import ExportFormat, ExportSnapshot, ExportType, Severity
from exportcenter.renderers.base import RenderContext, RenderFunction
from exportcenter.renderers.columns import Table, build_table
from exportcenter.renderers.tabular_cells import Cell, needs_formula_guard
from exportcenter.util.timeutil import iso_z

EXCEL_MAX_ROWS = 1_048_576
MAX_SHEET_NAME = 31

SEVERITY_COLOURS: dict[Severity, tuple[str, str]] = {  # background, font
    Severity.CRITICAL: ("#C00000", "#FFFFFF"),
    Severity.HIGH: ("#ED7D31", "#FFFFFF"),
    Severity.MEDIUM: ("#FFC000", "#000000"),
    Severity.LOW: ("#9BC2E6", "#000000"),
    Severity.INFO: ("#D9D9D9", "#000000"),
    Severity.UNKNOWN: ("#EDEDED", "#000000"),
}

WORKBOOK_OPTIONS: dict[str, Any] = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": False,
}


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.header = book.add_format({"bold": True, "bg_color": "#1F3864", "font_color": "#FFFFFF",
                                       "border": 1})
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.label = book.add_format({"bold": True})
        self.quoted = book.add_format({"quote_prefix": True})
        self.severity: dict[str, Format] = {}
        self.severity_header: dict[Severity, Format] = {}
        for severity, (background, font) in SEVERITY_COLOURS.items():
            self.severity[severity.value] = book.add_format({"bg_color": background, "font_color": font})
            self.severity_header[severity] = book.add_format(
                {"bold": True, "bg_color": background, "font_color": font, "border": 1})


def _check(code: int | None, where: str) -> None:
    """XlsxWriter reports refusals as negative return codes (some methods are typed ``None``)."""
    if code is not None and code != 0:
        reasons = {-1: "row or column outside the sheet", -2: "text longer than 32,767 characters",
                   -3: "URL longer than Excel allows", -4: "text too long"}
        raise RenderError(f"XLSX writer refused {where}: {reasons.get(code, f'error code {code}')}")


def _put(sheet: Worksheet, row: int, col: int, value: Cell, fmt: Format | None, quoted: Format) -> None:
    if value is None or value == "":
        return
    if isinstance(value, str):
        code = sheet.write_string(row, col, value, quoted if needs_formula_guard(value) else fmt)
    else:
        code = sheet.write_number(row, col, value, fmt)
    _check(code, f"cell ({row}, {col}) of sheet {sheet.name!r}")


def _sheet_name(base: str, index: int) -> str:
    if index == 1:
        return base[:MAX_SHEET_NAME]
    suffix = f" ({index})"
    return base[: MAX_SHEET_NAME - len(suffix)] + suffix


class _DataSheets:
    """Adds data sheets as rows overflow, each with header, frozen panes and filter."""

    def __init__(self, book: xlsxwriter.Workbook, table: Table, formats: _Formats, max_rows: int) -> None:
        if max_rows < 2:
            raise RenderError("the XLSX row limit must leave room for a header and one row")
        self.book, self.table, self.formats, self.max_rows = book, table, formats, max_rows
        self.sheets: list[tuple[Worksheet, int]] = []  # sheet, data rows written
        self.headers = [table.cleaner.text(h) for h in table.headers]

    def new_sheet(self) -> Worksheet:
        sheet = self.book.add_worksheet(_sheet_name(self.table.sheet_name, len(self.sheets) + 1))
        for col, column in enumerate(self.table.columns):
            _check(sheet.set_column(col, col, column.width), "a column width")
            fmt = self.formats.severity_header.get(column.severity) if column.severity else None
            _put(sheet, 0, col, self.headers[col], fmt or self.formats.header, self.formats.quoted)
        sheet.freeze_panes(1, 0)
        self.sheets.append((sheet, 0))
        return sheet

    def write_rows(self) -> int:
        columns = self.table.columns
        severity_cols = {i for i, c in enumerate(columns) if c.holds_severity}
        sev_formats = self.formats.severity
        quoted = self.formats.quoted
        per_sheet = self.max_rows - 1
        sheet = self.new_sheet()
        row_index = 0
        total = 0
        for values in self.table.rows:
            if row_index == per_sheet:
                self._finish(sheet, row_index)
                sheet = self.new_sheet()
                row_index = 0
            row_index += 1
            for col, value in enumerate(values):
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    if col in severity_cols:
                        fmt: Format | None = sev_formats.get(value)
                    else:
                        fmt = quoted if needs_formula_guard(value) else None
                    code = sheet.write_string(row_index, col, value, fmt)
                else:
                    code = sheet.write_number(row_index, col, value)
                if code:
                    _check(code, f"row {total + 1}, column {columns[col].key!r}")
            total += 1
        self._finish(sheet, row_index)
        return total

    def _finish(self, sheet: Worksheet, rows: int) -> None:
        self.sheets[-1] = (sheet, rows)
        _check(sheet.autofilter(0, 0, max(rows, 1), len(self.table.columns) - 1), "the autofilter")


def _write_summary(sheet: Worksheet, table: Table, snapshot: ExportSnapshot, ctx: RenderContext,
                   formats: _Formats, data: _DataSheets) -> None:
    clean = table.cleaner.text
    _check(sheet.set_column(0, 0, 42), "a column width")
    _check(sheet.set_column(1, 1, 60), "a column width")
    _put(sheet, 0, 0, f"{table.title} - ExportCenter", formats.title, formats.quoted)
    lines: list[tuple[str, Cell]] = [
        ("export id", snapshot.export_id), ("tenant", snapshot.tenant), ("export type", snapshot.export_type),
        ("generated at (UTC)", iso_z(snapshot.generated_at)), ("requested by", snapshot.requested_by),
    ]
    lines += table.summary
    lines += [(f"data sheet {sheet_.name}", rows) for sheet_, rows in data.sheets]
    lines += [(f"custom field: {key}", value) for key, value in snapshot.custom_fields.items()]
    warnings = list(dict.fromkeys([*snapshot.warnings, *ctx.warnings]))
    lines += [("warning", message) for message in warnings]
    for offset, (label, value) in enumerate(lines, start=2):
        _put(sheet, offset, 0, clean(label), formats.label, formats.quoted)
        _put(sheet, offset, 1, clean(value) if isinstance(value, str) else value, None, formats.quoted)


class _StreamOnly:
    """Lets the zip writer stream to an output that has ``write`` only (no tell/seek/flush)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, data: bytes) -> int:
        self._out.write(data)
        return len(data)

    def flush(self) -> None:
        flush = getattr(self._out, "flush", None)
        if callable(flush):
            flush()


def _zip_target(out: BinaryIO) -> BinaryIO | _StreamOnly:
    seekable = getattr(out, "seekable", None)
    return out if callable(seekable) and seekable() else _StreamOnly(out)


def write_xlsx(export_type: ExportType, snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext,
               *, max_rows: int = EXCEL_MAX_ROWS) -> int:
    """Write one tabular export as XLSX; returns the number of data rows. ``max_rows`` counts the
    header row of each data sheet (tests pass a tiny value to exercise the overflow)."""
    table = build_table(export_type, snapshot)
    book = xlsxwriter.Workbook(_zip_target(out), WORKBOOK_OPTIONS)
    try:
        book.set_properties({"title": f"{table.title} {snapshot.export_id}", "author": "ExportCenter",
                             "company": snapshot.tenant, "comments": f"tenant {snapshot.tenant}",
                             "created": snapshot.generated_at})
        formats = _Formats(book)
        summary = book.add_worksheet("Summary")
        data = _DataSheets(book, table, formats, max_rows)
        total = data.write_rows()
        if len(data.sheets) > 1:
            ctx.warn(f"{total:,} rows exceed {max_rows - 1:,} rows per sheet; they continue on "
                     f"{len(data.sheets) - 1} more sheet(s) named '{table.sheet_name} (2)' onwards")
        table.cleaner.report(ctx)
        _write_summary(summary, table, snapshot, ctx, formats, data)
        summary.activate()
    except XlsxWriterException as exc:
        raise RenderError(f"XLSX writer failed: {exc}") from exc
    finally:
        try:
            book.close()
        except XlsxWriterException as exc:
            raise RenderError(f"XLSX writer could not finish the file: {exc}") from exc
    return total


def render_scan_summary_xlsx(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    write_xlsx(ExportType.SCAN_SUMMARY, snapshot, out, ctx)


def render_vulnerability_report_xlsx(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    write_xlsx(ExportType.VULNERABILITY_REPORT, snapshot, out, ctx)


RENDERERS: dict[tuple[ExportType, ExportFormat], RenderFunction] = {
    (ExportType.SCAN_SUMMARY, ExportFormat.XLSX): render_scan_summary_xlsx,
    (ExportType.VULNERABILITY_REPORT, ExportFormat.XLSX): render_vulnerability_report_xlsx,
}
