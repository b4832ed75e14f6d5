"""CSV renderers: scan_summary, vulnerability_report and audit_log.

The columns and values are exactly those of ``columns.build_table`` (the XLSX renderer uses the same
table). RFC 4180 dialect: comma, CRLF line ends, fields quoted only when needed, UTF-8; a UTF-8 BOM is
written first when ``options.csv_bom`` is set (Excel on Windows then detects the encoding).

Formula injection: text starting with ``= + - @``, TAB or CR is prefixed with a single quote (see
``tabular_cells.csv_text``); numbers are written as numbers. Custom fields are extra ``custom:<key>``
columns; control characters are replaced and over-long text is cut just as in the XLSX, so both
formats agree.
"""

from __future__ import annotations

import csv
import io
from typing import BinaryIO

from exportcenter.model import ExportFormat, ExportSnapshot, ExportType
from exportcenter.renderers.base import RenderContext, RenderFunction
from exportcenter.renderers.columns import build_table
from exportcenter.renderers.tabular_cells import csv_row, csv_text

UTF8_BOM = b"\xef\xbb\xbf"
FLUSH_EVERY_ROWS = 2_000


def write_csv(export_type: ExportType, snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> int:
    """Write one tabular export as CSV; returns the number of data rows written."""
    table = build_table(export_type, snapshot)
    if snapshot.options.csv_bom:
        out.write(UTF8_BOM)
    # csv.writer fills a text buffer that is encoded and handed on in chunks, so ``out`` only needs
    # ``write(bytes)`` (a file, a hashing or upload stream) and memory stays flat however many rows.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_text(table.cleaner.text(h)) for h in table.headers])
    count = 0
    for row in table.rows:
        writer.writerow(csv_row(row))
        count += 1
        if count % FLUSH_EVERY_ROWS == 0:
            out.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode("utf-8"))
    table.cleaner.report(ctx)
    return count


def render_scan_summary_csv(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    write_csv(ExportType.SCAN_SUMMARY, snapshot, out, ctx)


def render_vulnerability_report_csv(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    write_csv(ExportType.VULNERABILITY_REPORT, snapshot, out, ctx)


def render_audit_log_csv(snapshot: ExportSnapshot, out: BinaryIO, ctx: RenderContext) -> None:
    write_csv(ExportType.AUDIT_LOG, snapshot, out, ctx)


RENDERERS: dict[tuple[ExportType, ExportFormat], RenderFunction] = {
    (ExportType.SCAN_SUMMARY, ExportFormat.CSV): render_scan_summary_csv,
    (ExportType.VULNERABILITY_REPORT, ExportFormat.CSV): render_vulnerability_report_csv,
    (ExportType.AUDIT_LOG, ExportFormat.CSV): render_audit_log_csv,
}
