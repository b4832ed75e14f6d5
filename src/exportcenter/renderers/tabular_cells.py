"""Cell values shared by the CSV and XLSX writers, and the cleaning both apply.

A cell is ``str | int | float | None``. Both writers receive the *same* cleaned values:

- illegal XML / spreadsheet control characters (C0 controls other than TAB, LF, CR; U+FFFE, U+FFFF and
  lone surrogates) are replaced with U+FFFD, so openpyxl and Excel open the file;
- text longer than Excel's cell limit (32,767 UTF-16 code units) is cut and ends with a visible marker.

Both are counted and reported once per export as warnings. Formula injection is handled per format,
because the two formats neutralise it differently: CSV prefixes a single quote (``csv_text``), XLSX
writes the untouched text as a string cell with Excel's "quote prefix" style (never a formula).
``csv_text(xlsx_value) == csv_value`` therefore holds for every cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from exportcenter.renderers.base import RenderContext

Cell = str | int | float | None

EXCEL_MAX_CELL_CHARS = 32_767
CUT_MARKER = " [... cut: {removed} more characters]"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
REPLACEMENT_CHAR = "\ufffd"
_TRIGGER_CHARS = frozenset(FORMULA_TRIGGERS)

_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def utf16_length(text: str) -> int:
    """Length as Excel counts it: characters outside the BMP take two units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _utf16_prefix(text: str, units: int) -> str:
    """The longest prefix of ``text`` that fits in ``units`` UTF-16 code units (never splits a pair)."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return text[:index]
    return text


def needs_formula_guard(text: str) -> bool:
    """True when a spreadsheet could read the text as a formula (or strip its first character)."""
    return text.startswith(FORMULA_TRIGGERS)


def csv_text(value: Cell) -> str:
    """The exact text a CSV cell holds for a (cleaned) value: numbers as written, text neutralised.

    Text starting with ``= + - @``, TAB or CR gets a leading single quote (OWASP's advice; unlike
    defusedcsv this also covers a leading TAB). Numbers are never quoted, so ``-1`` stays ``-1``.
    """
    if value is None:
        return ""
    if isinstance(value, bool):  # not produced by our schemas, but never print True/False
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if value[:1] in _TRIGGER_CHARS:
        return "'" + value
    return value


def csv_row(values: tuple[Cell, ...]) -> list[Cell]:
    """A row ready for ``csv.writer`` (which writes None as "" and numbers with ``str``, as
    ``csv_text`` does): only text that could start a formula is changed."""
    return ["'" + v if v.__class__ is str and v[:1] in _TRIGGER_CHARS else v for v in values]  # type: ignore[operator,index]


@dataclass
class CellCleaner:
    """Replaces illegal characters and cuts over-long text, counting both for one warning each."""

    max_chars: int = EXCEL_MAX_CELL_CHARS
    replaced_cells: int = 0
    cut_cells: int = 0
    cut_examples: list[str] = field(default_factory=list)

    def text(self, value: str, where: str = "") -> str:
        if _ILLEGAL_CHARS.search(value) is not None:
            value = _ILLEGAL_CHARS.sub(REPLACEMENT_CHAR, value)
            self.replaced_cells += 1
        if len(value) > self.max_chars // 2 and utf16_length(value) > self.max_chars:
            value = self._cut(value, where)
        return value

    def _cut(self, value: str, where: str) -> str:
        # the marker is sized for the largest possible count, so the result always fits
        keep = self.max_chars - len(CUT_MARKER.format(removed=len(value)))
        kept = _utf16_prefix(value, max(keep, 0))
        removed = len(value) - len(kept)  # in characters, as a reader counts them
        self.cut_cells += 1
        if where and len(self.cut_examples) < 5:
            self.cut_examples.append(where)
        return kept + CUT_MARKER.format(removed=removed)

    def row(self, values: tuple[Cell, ...], where: str = "") -> tuple[Cell, ...]:
        """Clean every text cell of a row (numbers and empty cells pass through)."""
        strings = [v for v in values if v.__class__ is str]
        # one regex pass over the whole row: the separator (LF) is itself legal
        if (_ILLEGAL_CHARS.search("\n".join(strings)) is None  # type: ignore[arg-type]
                and max(map(len, strings), default=0) <= self.max_chars // 2):  # type: ignore[arg-type]
            return values
        return tuple(self.text(v, where) if isinstance(v, str) else v for v in values)

    def report(self, ctx: RenderContext) -> None:
        if self.replaced_cells:
            ctx.warn(f"{self.replaced_cells} cell(s) contained control characters that spreadsheets "
                     f"cannot store; they were replaced with U+FFFD")
        if self.cut_cells:
            examples = f" (e.g. {', '.join(self.cut_examples)})" if self.cut_examples else ""
            ctx.warn(f"{self.cut_cells} cell(s) exceeded Excel's {self.max_chars:,}-character cell limit "
                     f"and were cut with a visible marker{examples}")
