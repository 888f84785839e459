"""Cells of spreadsheets and CSV files that no spreadsheet program turns into a formula.

A cell is read as a formula (CSV injection, OWASP) when its text starts with `=`, `+`, `-` or
`@`, with a tab or a carriage return (which some programs skip before looking), or with the
full-width forms `＝ ＋ － ＠` (which Excel in East Asian locales takes as the ASCII ones). poam
also counts a leading line feed. Such text is written as text: in a CSV file prefixed with a single
quote, in a workbook as a string cell marked quote-prefixed (shown without the quote, kept literal
when edited). Every exporter of a spreadsheet or CSV file uses these helpers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""First characters that make a spreadsheet read a cell as a formula."""
CELL_LIMIT = 32767
"""Excel's limit on the characters of one cell."""
TRUNCATED = "\n[truncated: see poam for the full text]"


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could read this text as a formula."""
    return text.startswith(FORMULA_START)


def inert(text: str) -> str:
    """Text for a CSV cell: prefixed with `'` when it could be read as a formula."""
    return "'" + text if looks_like_formula(text) else text


def clip(text: str, limit: int = CELL_LIMIT) -> str:
    """Text cut to `limit` characters (Excel's cell limit, or a receiving system's field limit),
    saying so at its end."""
    if len(text) <= limit:
        return text
    marker = TRUNCATED if limit > 4 * len(TRUNCATED) else ""
    return text[: limit - len(marker)] + marker


class CellWriter:
    """Writes values into XlsxWriter worksheets: strings always as strings (the workbook must be
    made with `strings_to_formulas` off), quote-prefixed when they start like a formula; dates as
    dates; numbers as numbers; None and "" as blank cells. `formats` holds the plain formats of
    text, dates and numbers; `quoted` the same text format with `quote_prefix`."""

    def __init__(self, text: Any, quoted: Any, date: Any, number: Any) -> None:
        self.text = text
        self.quoted = quoted
        self.date = date
        self.number = number

    def write(self, ws: Any, row: int, col: int, value: object, limit: int = CELL_LIMIT) -> None:
        """Write one cell."""
        if value is None or value == "":
            ws.write_blank(row, col, None, self.text)
        elif isinstance(value, dt.date):
            ws.write_datetime(row, col, value, self.date)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            ws.write_number(row, col, value, self.number)
        else:
            text = clip(str(value), limit)
            ws.write_string(row, col, text, self.quoted if looks_like_formula(text) else self.text)
