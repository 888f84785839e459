"""Filling a user's own copy of the FedRAMP Deviation Request form (`export dr-form --template`).

The copy is opened with openpyxl and kept as it is (fonts, fills, widths, banding, other sheets),
except for what the form asks: the `Instructions` sheet is removed ("PLEASE REMOVE INSTRUCTIONS
BEFORE SUBMITTING FORM"). The header block is filled under its labels (CSP Name, System Name,
Impact Level, DR Submission Date; Name under CSP Primary POC); the requests go under the column
headers of the `DR Sheet`, matched by their text (so a copy with moved columns fills correctly),
after the guidance row, over the form's example rows (values below them are emptied). openpyxl
cannot keep the form's dropdowns (they are Excel 2010 extensions): they are put back, each list
taken from the `Data Dictionary - Do Not Remove` sheet as the official form does.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from poam.errors import InputError
from poam.exporters.cells import clip, looks_like_formula
from poam.exporters.dr_form import DICTIONARY, DR_SHEET, HEADERS, LAST_VALIDATED_ROW, LIST_ROWS, LISTS, Entry, Header
from poam.exporters.dr_form import row_values as form_row
from poam.parsers.inventory_xlsx import _check_zip

SUFFIXES = (".xlsx", ".xlsm")
_SPACE = re.compile(r"\s+")
_ALIASES = {"tool-provided recommended action": "Tool-Provided Recommeded Action"}
"""A corrected spelling a later form may use, and the header poam knows."""


def _key(text: Any) -> str:
    return _SPACE.sub(" ", str(text or "")).strip().casefold()


_KEYS = {_key(h): h for h in HEADERS if h} | _ALIASES


def check_suffix(template: Path, out: Path) -> str | None:
    """Why OUT cannot be written from this template (None: it can)."""
    suffix = template.suffix.lower()
    if suffix not in SUFFIXES:
        return f"{template}: a template must be an .xlsx or .xlsm workbook"
    if out.suffix.lower() != suffix:
        return f"{out}: must end in {suffix}, like the template {template.name}"
    return None


def _load(template: Path) -> openpyxl.Workbook:
    source = str(template)
    if not template.is_file():
        raise InputError(source, "no such file")
    _check_zip(template, source)  # size, parts, no XML entity declarations
    try:
        with warnings.catch_warnings():  # the form's dropdowns are put back (`_validations`)
            warnings.filterwarnings("ignore", message="Data Validation extension", category=UserWarning)
            return openpyxl.load_workbook(template, keep_vba=template.suffix.lower() == ".xlsm", keep_links=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise InputError(source, f"cannot be read as a workbook ({type(exc).__name__})") from None


def _header_row(ws: Worksheet) -> tuple[int, dict[str, int]] | None:
    for r in range(1, min(ws.max_row, 30) + 1):
        columns: dict[str, int] = {}
        for c in range(1, min(ws.max_column, 80) + 1):
            name = _KEYS.get(_key(ws.cell(r, c).value))
            if name and name not in columns:
                columns[name] = c
        if "DR Number" in columns and "POA&M ID" in columns:
            return r, columns
    return None


def _put(cell: Any, value: Any) -> None:
    """A value in a cell of the form: text stays text (never a formula), dates get a date format."""
    if value is None or value == "":
        cell.value = None
        return
    if isinstance(value, dt.date):
        cell.value = value
        if cell.number_format == "General":
            cell.number_format = "mm/dd/yyyy"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        cell.value = value
    else:
        text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", clip(str(value)))
        cell.value = text
        cell.data_type = "s"  # openpyxl takes text starting with = for a formula
        cell.quotePrefix = looks_like_formula(text)


def _fill_block(ws: Worksheet, header: Header, last_row: int) -> None:
    values: dict[str, Any] = {
        "csp name": header.csp,
        "system name": header.system_name,
        "impact level": header.impact,
        "dr submission date": header.submitted,
        "name": header.poc_name,
        "title": "",  # poam keeps no title, phone or email of the POC: the form's "Text Field" goes
        "phone": "",
        "email": "",
    }
    for row in ws.iter_rows(min_row=1, max_row=last_row, max_col=12):
        for cell in row:
            key = _key(cell.value)
            if key in values and isinstance(cell.row, int) and isinstance(cell.column, int):
                _put(ws.cell(cell.row + 1, cell.column), values.pop(key))


def _validations(book: openpyxl.Workbook, ws: Worksheet, columns: dict[str, int], first: int, last: int) -> None:
    """Put back the form's dropdowns that openpyxl could not keep (where the column has none)."""
    if DICTIONARY not in book.sheetnames:
        return
    taken = {str(dv.sqref).split(":")[0].rstrip("0123456789") for dv in ws.data_validations.dataValidation}
    for letter, values in LISTS.items():
        title = HEADERS[_index(letter)]
        if title not in columns:
            continue
        col = get_column_letter(columns[title])
        if col in taken:
            continue
        size = LIST_ROWS.get(letter, len(values))
        dv = DataValidation(type="list", formula1=f"'{DICTIONARY}'!${letter}$3:${letter}${2 + size}", allow_blank=True)
        dv.add(f"{col}{first}:{col}{last}")
        ws.add_data_validation(dv)


def _index(letter: str) -> int:
    n = 0
    for ch in letter:
        n = n * 26 + ord(ch) - 64
    return n - 1


def fill(template: Path, path: Path, header: Header, entries: Sequence[Entry], empty_note: str) -> dict[str, int]:
    """Write the user's form filled with the requests to `path`; the number of rows written."""
    source = str(template)
    book = _load(template)
    if DR_SHEET not in book.sheetnames:
        raise InputError(source, f"not a FedRAMP Deviation Request form (no {DR_SHEET!r} sheet)")
    ws = book[DR_SHEET]
    found = _header_row(ws)
    if found is None:
        raise InputError(source, f"sheet {DR_SHEET!r} has no form column headers (DR Number, POA&M ID, ...)")
    header_row, columns = found
    for c in range(1, min(ws.max_column, 80) + 1):  # the form's AO: its title is on the row above (merged)
        if header_row > 1 and _key(ws.cell(header_row - 1, c).value) == "additional information":
            columns.setdefault("", c)
    first = header_row + 1
    if _key(ws.cell(first, columns["POA&M ID"]).value) == "text field":  # the guidance row
        first += 1
    _fill_block(ws, header, header_row - 1)
    for merged in list(ws.merged_cells.ranges):  # an earlier empty form's note spans its first row
        if merged.min_row >= first:
            ws.unmerge_cells(str(merged))
    for r in range(first, ws.max_row + 1):  # the example rows, an earlier month's requests
        for c in sorted(columns.values()):
            cell = ws.cell(r, c)
            if cell.value is not None and cell.data_type != "f":
                cell.value = None
    index = {title: HEADERS.index(title) for title in columns}
    for offset, entry in enumerate(entries):
        values = form_row(entry)
        for title, c in columns.items():
            position = index[title]
            _put(ws.cell(first + offset, c), values[position] if position < len(values) else None)
    if not entries:
        _put(ws.cell(first, 1), empty_note)
    _validations(book, ws, columns, first, max(LAST_VALIDATED_ROW, first + len(entries) - 1))
    if "Instructions" in book.sheetnames and len(book.sheetnames) > 1:
        del book["Instructions"]
    book.active = book.sheetnames.index(DR_SHEET)
    book.save(path)
    return {"requests": len(entries)}
