"""Filling a user's own copy of the FedRAMP POA&M template (`export fedramp --template`).

The template is opened with openpyxl (macros kept for an .xlsm) and everything in it stays as it
is: fonts, fills, column widths, validations, conditional formats, formulas below the items, other
sheets. The header block (CSP, System Name, Impact Level, POAM Date) is filled under its labels;
the items go under the column headers of each sheet, matched by their text (so a copy whose
columns were moved still fills correctly), starting after the Open sheet's guidance rows, over the
template's example row. Rows below the items that hold values (an old month's items, the example)
are emptied; the template's Scheduled Completion Date formulas there stay.

Templates v2.1 (2024-03-29, .xlsx) and the older 2022-06-23 and 2023-08-30 .xlsm are known; the
older ones have no Service Name column (left out) and no Configuration Findings sheet
(configuration findings then go on the Open sheet, as FedRAMP asked before 2024).

Unlike the XlsxWriter path this holds the whole workbook in memory.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Sequence
from copy import copy
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

from poam.domain.models import ItemStatus, PoamItem
from poam.errors import InputError
from poam.exporters import fedramp_xlsx_style as style
from poam.exporters.fedramp_xlsx import (
    _FORMULA_START,
    CLOSED,
    CONFIG,
    DESCRIPTIONS,
    FORMAT_HINTS,
    HEADERS,
    OPEN,
    Header,
    clip,
    row_values,
)
from poam.parsers.inventory_xlsx import _check_zip

SUFFIXES = (".xlsx", ".xlsm")
OPTIONAL = {"Service Name"}  # not in the templates before v2.1
_GUIDANCE = {DESCRIPTIONS[0], FORMAT_HINTS[0]}
_SPACE = re.compile(r"\s+")


def _key(text: Any) -> str:
    return _SPACE.sub(" ", str(text or "")).strip().casefold()


_KEYS = {_key(h): h for h in HEADERS}


class _Sheet:
    """A POA&M sheet of the template: where its headers are and where items start."""

    def __init__(self, ws: Worksheet, source: str) -> None:
        self.ws = ws
        found = _header_row(ws)
        if found is None:
            raise InputError(source, f"sheet {ws.title!r} has no POA&M column headers (POAM ID, Controls, ...)")
        self.header_row, self.columns = found
        missing = [h for h in HEADERS if h not in self.columns and h not in OPTIONAL]
        if missing:
            raise InputError(
                source, f"sheet {ws.title!r} lacks the column {missing[0]!r}: not a FedRAMP POA&M template"
            )
        self.first = self.header_row + 1
        id_col = self.columns["POAM ID"]
        while self.first <= ws.max_row and str(ws.cell(self.first, id_col).value or "").strip() in _GUIDANCE:
            self.first += 1


def _header_row(ws: Worksheet) -> tuple[int, dict[str, int]] | None:
    for r in range(1, min(ws.max_row, 20) + 1):
        columns = {}
        for c in range(1, min(ws.max_column, 80) + 1):
            name = _KEYS.get(_key(ws.cell(r, c).value))
            if name and name not in columns:
                columns[name] = c
        if "POAM ID" in columns and "Weakness Name" in columns:
            return r, columns
    return None


def check_suffix(template: Path, out: Path) -> str | None:
    """Why OUT cannot be written from this template (None: it can): the template must be an .xlsx
    or .xlsm and OUT must keep its extension (Excel refuses a macro workbook named .xlsx)."""
    suffix = template.suffix.lower()
    if suffix not in SUFFIXES:
        return f"{template}: a template must be an .xlsx or .xlsm workbook"
    if out.suffix.lower() != suffix:
        return f"{out}: must end in {suffix}, like the template {template.name}"
    return None


def load(template: Path) -> openpyxl.Workbook:
    """The template, checked: a workbook with an `Open POA&M Items` sheet carrying the headers."""
    source = str(template)
    if not template.is_file():
        raise InputError(source, "no such file")
    _check_zip(template, source)  # size, parts, no XML entity declarations
    try:
        book = openpyxl.load_workbook(template, keep_vba=template.suffix.lower() == ".xlsm", keep_links=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise InputError(source, f"cannot be read as a workbook ({type(exc).__name__})") from None
    if OPEN not in book.sheetnames:
        raise InputError(source, f"not a FedRAMP POA&M template (no {OPEN!r} sheet)")
    return book


def fill(template: Path, path: Path, header: Header, items: Sequence[PoamItem]) -> dict[str, int]:
    """Write the template filled with the items to `path`; the rows written per sheet."""
    source = str(template)
    book = load(template)
    sheets = {OPEN: _Sheet(book[OPEN], source)}
    if CLOSED not in book.sheetnames:
        raise InputError(source, f"not a FedRAMP POA&M template (no {CLOSED!r} sheet)")
    sheets[CLOSED] = _Sheet(book[CLOSED], source)
    if CONFIG in book.sheetnames:
        sheets[CONFIG] = _Sheet(book[CONFIG], source)
    by_sheet: dict[str, list[PoamItem]] = {name: [] for name in sheets}
    for item in items:
        if item.status is ItemStatus.CLOSED:
            by_sheet[CLOSED].append(item)
        else:
            by_sheet[CONFIG if item.is_config and CONFIG in sheets else OPEN].append(item)
    for name, sheet in sheets.items():
        _fill_block(sheet.ws, header)
        _fill_rows(sheet, by_sheet[name])
    book.save(path)
    return {name: len(rows) for name, rows in by_sheet.items()}


def _fill_block(ws: Worksheet, header: Header) -> None:
    """The values under the CSP / System Name / Impact Level / POAM Date labels."""
    values: dict[str, Any] = {
        "csp": header.csp,
        "system name": header.system_name,
        "impact level": header.impact,
        "poam date": header.poam_date,
    }
    system_at: tuple[int, int] | None = None
    for row in ws.iter_rows(min_row=1, max_row=4, max_col=12):
        for cell in row:
            key = _key(cell.value)
            if key in values and isinstance(cell.row, int) and isinstance(cell.column, int):
                _put(ws.cell(cell.row + 1, cell.column), values.pop(key), wrap=False)
                if key == "system name":
                    system_at = (cell.row, cell.column)
    if "csp" in values and system_at and system_at[1] > 1 and not _key(ws.cell(*system_at).offset(0, -1).value):
        r, c = system_at  # the 2023-08-30 template lost its CSP label (A2 holds only spaces)
        _put(ws.cell(r + 1, c - 1), values.pop("csp"), wrap=False)


def _pixels(ws: Worksheet, column: int) -> int:
    """A column's width in pixels (the template's, or the sheet's default)."""
    width = ws.sheet_format.defaultColWidth or 8.43
    for dim in ws.column_dimensions.values():
        if dim.width and dim.min and dim.max and dim.min <= column <= dim.max:
            width = dim.width
    return round(width * style.MAX_DIGIT_PIXELS)


def _ungroup(ws: Worksheet) -> None:
    """One column dimension per column (the template sets A:AD in one), so one can be widened."""
    for dim in list(ws.column_dimensions.values()):
        if dim.min and dim.max and dim.max > dim.min:
            for c in range(dim.min + 1, min(dim.max, 200) + 1):
                single = copy(dim)
                single.index = get_column_letter(c)
                single.min = single.max = c
                ws.column_dimensions[single.index] = single
            dim.max = dim.min


def _fill_rows(sheet: _Sheet, items: list[PoamItem]) -> None:
    ws = sheet.ws
    columns = sorted(sheet.columns.values())  # sheet columns, left to right
    index = {c: HEADERS.index(h) for h, c in sheet.columns.items()}  # -> position in row_values
    for r in range(sheet.first, ws.max_row + 1):  # an old month's items and the example row
        for c in columns:
            cell = ws.cell(r, c)
            if cell.value is not None and cell.data_type != "f":
                cell.value = None
    before = [_pixels(ws, c) for c in columns]
    rows = ([row_values(item)[index[c]] for c in columns] for item in items)
    widths = style.widened(rows, before)  # wider only where text would not fit the tallest row
    if widths != before:
        _ungroup(ws)
    for c, old, new in zip(columns, before, widths, strict=True):
        if new != old:
            ws.column_dimensions[get_column_letter(c)].width = round(new / style.MAX_DIGIT_PIXELS, 2)
    minimum = ws.sheet_format.defaultRowHeight or style.OPEN_DEFAULT_HEIGHT
    header = ws.row_dimensions[sheet.header_row].height or minimum  # raised (never lowered) to show every header
    names = [str(ws.cell(sheet.header_row, c).value or "") for c in columns]
    ws.row_dimensions[sheet.header_row].height = style.header_height(list(zip(names, widths, strict=True)), header)
    for offset, item in enumerate(items):
        r = sheet.first + offset
        values = row_values(item)
        texts = []
        for c, width in zip(columns, widths, strict=True):
            value = values[index[c]]
            _put(ws.cell(r, c), value, wrap=True)
            if isinstance(value, str) and value:
                texts.append((clip(value), width))
        ws.row_dimensions[r].height = style.row_height(texts, minimum)


def _put(cell: Any, value: Any, wrap: bool) -> None:
    """A value in a cell of the template, its look kept: a date gets the template's date format
    where the cell has none, text cannot become a formula, and a data cell is wrapped and aligned
    to the top left (the template's example row: its italics are not kept)."""
    if value is None or value == "":
        cell.value = None
        return
    if isinstance(value, dt.date):
        cell.value = value
        if cell.number_format == "General":
            cell.number_format = style.DATE_FORMAT
    elif isinstance(value, int | float) and not isinstance(value, bool):
        cell.value = value
    else:
        text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", clip(str(value)))
        cell.value = text
        cell.data_type = "s"  # openpyxl takes text starting with = for a formula
        if text.startswith(_FORMULA_START):
            cell.quotePrefix = True
    if wrap:
        if cell.font is not None and cell.font.i:
            font = copy(cell.font)
            font.i = False
            cell.font = font
        cell.alignment = Alignment(horizontal="left", vertical="top", wrap_text=not isinstance(value, dt.date))
