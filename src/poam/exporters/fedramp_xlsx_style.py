"""The look of the FedRAMP POA&M template v2.1 (2024-03-29), read from the official file with
openpyxl: fonts, fills, column widths, row heights, conditional formatting, data validations with
their input prompts, frozen panes and print setup; and the row-height estimate that keeps wrapped
text from being cut off. Shared by the XlsxWriter writer and the template filler."""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ARIAL = "Arial"
BLUE = "#1A4480"  # title, labels and headers
LIGHT_BLUE = "#CCECFC"  # label and header fill
GREY = "#F2F2F2"  # header-block value fill and the banding
BORDER_GREY = "#D8D8D8"
VALUE_TEXT = "#444444"
HINT_FILL = "#595959"  # row 7, white text
FORMULA_GREY = "#A5A5A5"  # the template's L-column formula cells
DATE_FORMAT = "mm-dd-yy"  # the template's date cells (K, L, O, Q, AC and D3)

# Column widths in pixels (Excel's unit: a width of w characters of Arial 10 is round(7w) pixels):
# A-AD 20.83 characters, AE 17.33; Record of Changes A 3.33, B 10.66, C 66.66, D 10.66, E 13.33.
COLUMN_PIXELS = (146,) * 30 + (121,)
CHANGES_PIXELS = (23, 75, 467, 75, 93)
MAX_DIGIT_PIXELS = 7

# Row heights in points, by sheet: the title row, the header row, the guidance rows, and the
# sheet's default (the smallest height a data row gets).
TITLE_HEIGHT = 23.0
HEADER_HEIGHT = 42.0  # Open sheet row 5
DESCRIPTION_HEIGHT = 224.0  # Open sheet row 6
HINT_HEIGHT = 56.0  # Open sheet row 7
OPEN_DEFAULT_HEIGHT = 13.0
OTHER_ROW_HEIGHT = 15.75  # Closed and Configuration Findings: rows 2 onwards
CHANGES_ROW_HEIGHT = 12.75
MAX_ROW_HEIGHT = 409.0  # Excel's limit
LINE_POINTS = 12.75  # one line of Arial 10 (Excel's single-line row height)
ROW_PADDING = 3.0
CELL_PADDING_PIXELS = 7  # left and right padding inside a cell, and some slack for other renderers

# Which rows the template's rules cover: the Open sheet to row 4022, the others to row 1000.
OPEN_LAST_ROW = 4022
OTHER_LAST_ROW = 1000

BANDING = "MOD(ROW(),2)=0"
MILESTONE_RULE = (
    'NOT(OR(ISBLANK(M8),refind(M8,"^(\\(\\d+\\)\\s*\\d{1,4}[\\\\\\/\\-]\\d{1,2}[\\\\\\/\\-]\\d{1,4}\\s*:\\s*'
    "(.|(.\\n.))*\\n\\n)*(\\(\\d+\\)\\s*\\d{1,4}[\\\\\\/\\-]\\d{1,2}[\\\\\\/\\-]\\d{1,4}\\s*:\\s*(.|(.\\n.))*)"
    '(\\n\\s)*$")))'
)
CHANGES_RULE = (
    'NOT(OR(IF(ISBLANK(N8),TRUE,(TRIM(N8)="")),refind(N8,"^(\\(\\d+\\)\\s*(new|update|complete)\\s*'
    "\\d{1,4}[\\\\\\/\\-]\\d{1,2}[\\\\\\/\\-]\\d{1,4}\\s*:\\s*(.|(.\\n.))*\\n\\n)*(\\(\\d+\\)\\s*(new|update|complete)"
    '\\s*\\d{1,4}[\\\\\\/\\-]\\d{1,2}[\\\\\\/\\-]\\d{1,4}\\s*:\\s*(.|(.\\n.))*)(\\n\\s)*$")))'
)
MILESTONE_MARK = "#C00000"  # the fill the milestone-format rules give a cell out of the grammar
IMPACT_FILLS = (("High", "#CC1D1D"), ("Moderate", "#1A98C5"), ("Low", "#454545"))  # C3, white text
IMPACT_SET = "#B7E1CD"  # C3 once filled in


@dataclass(frozen=True, slots=True)
class Validation:
    """A data validation of the template, by column: its kind, rule and input prompt."""

    column: str
    kind: str  # list, date
    values: tuple[str, ...] = ()
    criteria: str = ""
    minimum: dt.date | None = None
    maximum: dt.date | None = None
    prompt: str | None = None


_AFTER_2000 = dt.date(2000, 1, 1)  # serial 36526
VALIDATIONS = (
    Validation(
        "K", "date", criteria="not between", minimum=dt.date(1980, 1, 1), maximum=dt.date(1980, 1, 1), prompt="Date"
    ),
    Validation(
        "L", "date", criteria="not between", minimum=dt.date(1900, 1, 1), maximum=dt.date(1900, 1, 1), prompt="Date"
    ),
    Validation("O", "date", criteria=">", minimum=_AFTER_2000, prompt="Date"),
    Validation("P", "list", ("Yes", "No"), prompt="Yes,No"),  # the template's prompt wrongly adds Pending
    Validation("Q", "date", criteria=">", minimum=_AFTER_2000, prompt="Date"),
    Validation("S", "list", ("Low", "Moderate", "High"), prompt="Low, Moderate, High"),
    Validation("T", "list", ("Low", "Moderate", "High", "N/A"), prompt="Low, Moderate, High, N/A"),
    Validation("U", "list", ("Yes", "No", "Pending"), prompt="Yes,No,Pending"),
    Validation("V", "list", ("Yes", "No", "Pending"), prompt="Yes,No,Pending"),
    Validation("W", "list", ("Yes", "No", "Pending"), prompt="Yes,No,Pending"),
    Validation("AC", "date", criteria=">", minimum=_AFTER_2000, prompt="Date"),
)
IMPACT_VALIDATION = Validation("C", "list", ("Low", "Moderate", "High"), prompt="Low, Moderate, High")
POAM_DATE_VALIDATION = Validation("D", "date", criteria=">", minimum=_AFTER_2000, prompt="Date")


@dataclass(frozen=True, slots=True)
class PrintSetup:
    """A sheet's print setup: the template's orientation and margins (inches); `title_rows`, the
    rows repeated on every printed page (poam's addition: the column headers)."""

    landscape: bool
    title_rows: tuple[int, int] | None  # 0-based, inclusive
    left: float = 0.7
    right: float = 0.7
    top: float = 0.75
    bottom: float = 0.75
    header: float = 0.0
    footer: float = 0.0


OPEN_PRINT = PrintSetup(landscape=False, title_rows=(4, 4))
CLOSED_PRINT = PrintSetup(landscape=False, title_rows=(4, 4))
CONFIG_PRINT = PrintSetup(landscape=True, title_rows=(4, 4))
CHANGES_PRINT = PrintSetup(landscape=True, title_rows=None)

# Widths of the characters of Arial (Helvetica's metrics), in thousandths of the font size.
_WIDTHS = dict(
    zip(
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
        (
            278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
            556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
            1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
            667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
            333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
            556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
        ),
        strict=True,
    )
)  # fmt: skip
_PIXELS_PER_EM = 10 * 96 / 72  # Arial 10 on a 96-dpi screen


def _char_width(ch: str) -> float:
    known = _WIDTHS.get(ch)
    if known is not None:
        return known
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1000
    if unicodedata.combining(ch):
        return 0
    return 667  # wider than most letters: an unknown glyph should not be under-estimated


_word_widths: dict[str, float] = {}


def text_pixels(text: str) -> float:
    """How wide a line of Arial 10 text is on screen, in pixels."""
    return sum(_char_width(ch) for ch in text) * _PIXELS_PER_EM / 1000


def _word_pixels(word: str) -> float:
    width = _word_widths.get(word)
    if width is None:
        if len(_word_widths) > 200_000:
            _word_widths.clear()
        width = _word_widths[word] = text_pixels(word)
    return width


_WIDEST_CHAR = 1015 * _PIXELS_PER_EM / 1000


def _room(pixels: int) -> float:
    return max(pixels - CELL_PADDING_PIXELS, 8)


def most_lines(text: str, pixels: int) -> int:
    """A quick bound: `text` cannot take more lines than this in a cell `pixels` wide (each
    wrapped line and the next together are wider than the cell)."""
    return text.count("\n") + 1 + math.ceil(2 * len(text) * _WIDEST_CHAR / _room(pixels))


def line_count(text: str, pixels: int) -> int:
    """How many lines a wrapped cell `pixels` wide shows `text` on: its lines, each wrapped at
    spaces the way a spreadsheet does (a word longer than the cell is broken)."""
    room = _room(pixels)
    space = _word_pixels(" ")
    lines = 0
    for paragraph in text.split("\n"):
        lines += 1
        used = 0.0
        for word in paragraph.split(" "):
            width = _word_pixels(word)
            if used and used + space + width <= room:
                used += space + width
                continue
            if used:
                lines += 1
            if width > room:  # broken across lines
                extra = math.ceil(width / room) - 1
                lines += extra
                width -= extra * room
            used = width
    return lines


def row_height(cells: list[tuple[str, int]], minimum: float) -> float:
    """The height (points) a row needs so that every wrapped cell shows all its lines: `cells`
    holds each text and the width (pixels) of its column; at least `minimum`, at most Excel's
    409 points (a cell longer than that is cut off whatever the height)."""
    lines = 1
    for text, width in cells:
        if text and most_lines(text, width) > lines:
            lines = max(lines, line_count(text, width))
    return min(max(minimum, lines * LINE_POINTS + ROW_PADDING), MAX_ROW_HEIGHT)


def header_height(cells: list[tuple[str, int]], minimum: float) -> float:
    """The height a row of bold headers needs (bold Arial is up to a tenth wider)."""
    return row_height([(text, int(width * 0.9)) for text, width in cells], minimum)


def column_letter(index: int) -> str:
    """`A` for 0, `AE` for 30."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letter: str) -> int:
    """0 for `A`, 30 for `AE`."""
    n = 0
    for ch in letter:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


MAX_LINES = int((MAX_ROW_HEIGHT - ROW_PADDING) // LINE_POINTS)  # 31 lines fit in the tallest row
WIDEST_PIXELS = 700  # about 100 characters: how far a column is widened for long text


def widened(rows: Iterable[Sequence[object]], pixels: Sequence[int]) -> list[int]:
    """The column widths (pixels) for these rows: the template's, except that a column whose text
    would need more lines than the tallest row (409 points) holds is widened until it fits, up to
    about 100 characters (beyond that the cell is cut off on screen; its full text stays in the cell)."""
    widths = list(pixels)
    for row in rows:
        for i, value in enumerate(row):
            if not isinstance(value, str) or i >= len(widths) or widths[i] >= WIDEST_PIXELS:
                continue
            if most_lines(value, widths[i]) <= MAX_LINES:
                continue
            while widths[i] < WIDEST_PIXELS and line_count(value, widths[i]) > MAX_LINES:
                widths[i] = min(widths[i] + 35, WIDEST_PIXELS)
    return widths


def xlsxwriter_validation(rule: Validation) -> dict[str, Any]:
    """A validation as XlsxWriter's `data_validation` takes it."""
    options: dict[str, Any] = {"validate": rule.kind, "ignore_blank": True}
    if rule.kind == "list":
        options["source"] = list(rule.values)
    elif rule.criteria == "not between":
        options.update(criteria="not between", minimum=rule.minimum, maximum=rule.maximum)
    else:
        options.update(criteria=rule.criteria, value=rule.minimum)
    if rule.prompt:
        options["input_message"] = rule.prompt
    return options


def print_setup(ws: Any, setup: PrintSetup) -> None:
    """A sheet's print setup, on an XlsxWriter worksheet."""
    if setup.landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_margins(left=setup.left, right=setup.right, top=setup.top, bottom=setup.bottom)
    ws.set_header("", {"margin": setup.header})
    ws.set_footer("", {"margin": setup.footer})
    if setup.title_rows:
        ws.repeat_rows(*setup.title_rows)
