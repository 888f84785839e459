"""The FedRAMP POA&M workbook (template v2.1, 2024-03-29), written with XlsxWriter.

Sheets `Open POA&M Items`, `Closed POA&M Items`, `Configuration Findings` and
`Record of Changes`; the header block in rows 2-3; the 31 column headers on row 5; the
template's dropdown lists and date rules. The Open sheet keeps the template's guidance rows
6 and 7, so its items start on row 8 (where the template's example row was); the other two
sheets start on row 6, as in the template. No cell can become a formula: strings are written
as strings, and text that starts like a formula is also marked quote-prefixed. The look (fonts,
fills, widths, heights, conditional formats, prompts, print setup) is in `fedramp_xlsx_style`;
filling a user's own copy of the template is `fedramp_template`.

Streaming: XlsxWriter's constant_memory mode writes each row to a scratch file as soon as the next
row starts, so memory stays flat however many items there are. What that mode forbids, and how it is
kept: a row cannot be written to, or sized, once a later row is started (each row's height is
computed from its values before its cells are written; column widths, set before any row, are
computed in a first pass over the items); strings go inline instead of into the shared-string table
(a larger file, read the same by Excel, LibreOffice and openpyxl); and XlsxWriter's `autofit` is
unavailable (not used: widths follow the template). Merged cells, validations, conditional formats,
frozen panes and print setup are sheet-level and unaffected.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from poam.domain import kept_cells
from poam.domain.milestones import format_changes, format_milestones
from poam.domain.models import ItemStatus, PoamItem
from poam.exporters import fedramp_xlsx_style as style
from poam.exporters.cells import FORMULA_START

TITLE = "FedRAMP® Plan of Action and Milestones (POA&M) Template"
TITLE_PLAIN = "FedRAMP Plan of Action and Milestones (POA&M) Template"
OPEN, CLOSED, CONFIG, CHANGES = (
    "Open POA&M Items",
    "Closed POA&M Items",
    "Configuration Findings",
    "Record of Changes",
)
HEADERS = (
    "POAM ID",
    "Controls",
    "Weakness Name",
    "Weakness Description",
    "Weakness Detector Source",
    "Weakness Source Identifier",
    "Asset Identifier",
    "Point of Contact",
    "Resources Required",
    "Overall Remediation Plan",
    "Original Detection Date",
    "Scheduled Completion Date",
    "Planned Milestones",
    "Milestone Changes",
    "Status Date",
    "Vendor Dependency",
    "Last Vendor Check-in Date",
    "Vendor Dependent Product Name",
    "Original Risk Rating",
    "Adjusted Risk Rating",
    "Risk Adjustment",
    "False Positive",
    "Operational Requirement",
    "Deviation Rationale",
    "Supporting Documents",
    "Comments",
    "Auto-Approve",
    "Binding Operational Directive 22-01 tracking",
    "Binding Operational Directive 22-01 Due Date",
    "CVE",
    "Service Name",
)
DESCRIPTIONS = (
    "Unique identifier for each POAM Item",
    "Applicable  800-53 Control(s)",
    "Name of the weakness as provided by the scanner or otherwise summarizing the weakness",
    "Description of the weakness and other information",
    "The scanner name or other source that detected the vulnerability",
    "Vulnerability identifier (Plugin ID) as provided by scanner\n(plugin ID/None)",
    "Identifier Specified in the Inventory\nThis is a unique string associated with the asset, it could just be IP, "
    "or any arbitrary naming scheme\nThis Field should include the complete identifier (no short hand), along with "
    "the port and protocol when provided by the scanner.\nEach Asset should be separated by a new line (Alt+Enter)",
    "Person Responsible for implementing this task",
    "Specify resources needed beyond current resources to mitigate task",
    "General overview of the remediation plan",
    "Date the weakness was first identified\n(aka Discovery Date)",
    "Permanent Column\nDate of intended completion",
    "Permanent Column\nList of proposed Milestones, separated with a blank line (Alt+Enter)\nAny alterations should "
    'be made in "Milestone Changes" \nMilestone Number should be unique to each milestone',
    "Any alterations, status updates, or additions to the milestones.\n\n(Milestone Number) [Type of update] "
    "[milestone date] : How and why the date changed, or the milestone was altered\nCreate a new Milestone Number "
    "for new Milestones",
    "Date POA&M item was last changed or closed",
    "Whether or not this item is vendor dependent.",
    "Date of last vendor check-in, if applicable",
    "Name of the product that is dependent upon the vendor",
    "Provide the Original Risk Rating from the scanner",
    "Provide the Adjusted Risk Rating as approved by the CIO",
    "Whether there was a Risk Adjustment",
    "Whether this weakness should be considered a False Positive",
    "Whether this weakness should be considered an Operational Requirement",
    "Information about the Deviation",
    "List any supporting documents that are associated with this item\n(e.g. Deviation Request, Evidence of "
    "Remediation, Evidence of Vendor Dependency, etc)",
    "This column is for additional information, not specified in another column",
    "Whether the deviation request was auto-approved or manually approved",
    "Whether this vulnerability is listed among the CISA Known Exploited Vulnerability Catalog "
    "(https://www.cisa.gov/known-exploited-vulnerabilities-catalog)",
    "If this vulnerability is listed among the CISA Known Exploited Vulnerability Catalog "
    "(https://www.cisa.gov/known-exploited-vulnerabilities-catalog) include the due date given by CISA for this "
    "vulnerability",
    "The associated CVE numbers for this vulnerability",
    "The associated service this vulnerability affects on the CSPs system.\nThis should be the unique name (no "
    "shorthand) of the service/offering as the purchaser would see it\nEach service/offering should be separated "
    "by a new line (Alt+Enter)",
)
FORMAT_HINTS = (
    "Unique Identifier",
    "Control Number",
    "Text",
    "Text",
    "[Nessus, Qualys, Webinspect, Security Assessment Report, etc]",
    "Identifier",
    "Identifier (port/protocol)",
    "Text",
    "Text",
    "Text",
    "Date",
    "Date",
    "(##) xxxx-xx-xx: Milestone Description",
    "(##) New/Update/Complete xxxx-xx-xx  : Description of change",
    "Date",
    "Yes, No",
    "Date",
    "Product Name",
    "Low, Moderate, High",
    "Low, Moderate, High, N/A",
    "Yes, No, Pending",
    "Yes, No, Pending",
    "Yes, No, Pending",
    "Deviation Type : Rationale",
    "Document Type : Document Name",
    "Text",
    "Yes, No",
    "Yes, No",
    "Date",
    "Text",
    "Text",
)
# The template's dropdown lists, by column letter.
LISTS: dict[str, list[str]] = {
    "P": ["Yes", "No"],
    "S": ["Low", "Moderate", "High"],
    "T": ["Low", "Moderate", "High", "N/A"],
    "U": ["Yes", "No", "Pending"],
    "V": ["Yes", "No", "Pending"],
    "W": ["Yes", "No", "Pending"],
}
IMPACT_LIST = ["Low", "Moderate", "High"]
DATE_COLUMNS = {"K": 10, "L": 11, "O": 14, "Q": 16, "AC": 28}
RECORD_OF_CHANGES = (
    (dt.date(2023, 8, 30), "Updated to align with FedRAMP branding and minor editorial changes.", 2, "FedRAMP PMO"),
    (
        dt.date(2024, 3, 29),
        "Added Tab for Configuration Findings. Added Column in 'Open POA&M' tab for Service level information",
        2.1,
        "FedRAMP PMO",
    ),
)
CELL_LIMIT = 32767
_FORMULA_START = FORMULA_START  # the shared list (exporters.cells), full-width forms included


@dataclass(frozen=True, slots=True)
class Header:
    """The header block: CSP, System Name, Impact Level, POAM Date."""

    csp: str
    system_name: str
    impact: str
    poam_date: dt.date


def clip(text: str) -> str:
    """Text cut to Excel's 32,767-character cell limit, saying so."""
    if len(text) <= CELL_LIMIT:
        return text
    marker = "\n[truncated: see the scan file for the full text]"
    return text[: CELL_LIMIT - len(marker)] + marker


def row_values(item: PoamItem) -> list[Any]:
    """The 31 cells of an item's row, in column order."""
    source: Any = item.source_identifier
    if source.isascii() and source.isdigit() and len(source) < 15 and not source.startswith("0"):
        source = int(source)  # a plugin id as a number, as the template's column F validation expects
    adjusted = item.adjusted_risk.fedramp.value if item.adjusted_risk else "N/A"
    values = [
        item.poam_id,
        ", ".join(item.controls),
        item.weakness_name,
        item.weakness_description,
        item.detector_source,
        source,
        asset_cell(item),
        item.point_of_contact,
        item.resources_text(),
        item.remediation_plan,
        item.detection_date,
        item.scheduled_completion_date,
        format_milestones(item.milestones),
        format_changes(item.milestone_changes),
        item.status_date,
        item.vendor_dependency.value,
        item.last_vendor_checkin,
        item.vendor_product,
        item.original_risk.fedramp.value,
        adjusted,
        item.risk_adjustment.value,
        item.false_positive.value,
        item.operational_requirement.value,
        item.deviation_rationale,
        item.supporting_documents,
        item.comments_text(),
        item.auto_approve.value,
        "Yes" if item.kev else "No",
        item.kev_due_date,
        ", ".join(item.cves),
        item.service_names,
    ]
    if item.origin == "scan":
        return values
    # An item imported from a POA&M kept elsewhere: its Asset Identifier cell as written there (and
    # any asset a later scan found), and the cells poam would write otherwise, as given (domain.kept_cells).
    return kept_cells.restore(HEADERS, values, item.extra.get(kept_cells.KEY))


def asset_cell(item: PoamItem) -> str:
    """The Asset Identifier cell: one line per affected asset; for an imported item, its cell as
    written in the POA&M it came from, then any asset a later scan found that it does not list."""
    return "\n".join(item.asset_lines())


class _Writer:
    """The workbook in XlsxWriter's constant_memory mode: each row is written once, in order, and
    leaves memory as the next row starts (see `write`)."""

    def __init__(self, target: io.BytesIO, scratch: str) -> None:
        self.book = xlsxwriter.Workbook(
            target,
            {
                "constant_memory": True,
                "tmpdir": scratch,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "default_format_properties": {"font_name": style.ARIAL, "font_size": 10},
            },
        )
        base = {"font_name": style.ARIAL, "font_size": 10}
        box = {"border": 1, "border_color": style.BORDER_GREY}
        f = self.book.add_format
        self.title = f(
            {**base, **box, "bold": True, "font_size": 18, "font_color": style.BLUE, "align": "left", "valign": "top"}
        )
        label = {**base, **box, "bold": True, "font_color": style.BLUE, "bg_color": style.LIGHT_BLUE}
        self.label = f({**label, "align": "center", "valign": "top"})
        value = {**base, **box, "font_color": style.VALUE_TEXT, "align": "center", "valign": "top"}
        self.value = f({**value, "bg_color": style.GREY})
        self.value_quoted = f({**value, "bg_color": style.GREY, "quote_prefix": True})
        self.impact = f({**value, "bg_color": "#FFFFFF"})
        self.value_date = f({**value, "bg_color": style.GREY, "num_format": style.DATE_FORMAT})
        self.head = f({**label, "border": 0, "text_wrap": True, "align": "center", "valign": "vcenter"})
        self.guide = f({**base, "text_wrap": True})
        self.hint = f({**base, "text_wrap": True, "font_color": "#FFFFFF", "bg_color": style.HINT_FILL})
        cell = {**base, "align": "left", "valign": "top"}
        self.text = f({**cell, "text_wrap": True})
        self.quoted = f({**cell, "text_wrap": True, "quote_prefix": True})
        self.date = f({**cell, "num_format": style.DATE_FORMAT})
        self.number = f(cell)
        self.band = f({"bg_color": style.GREY})
        self.mark = f({"bg_color": style.MILESTONE_MARK})
        self.impact_marks = [
            (level, f({"bg_color": color, "font_color": "#FFFFFF"})) for level, color in style.IMPACT_FILLS
        ]
        self.impact_set = f({"bg_color": style.IMPACT_SET})
        changes = {"font_name": "Calibri", "font_size": 10, "text_wrap": True, "valign": "vcenter"}
        self.rc_bar = f({"bg_color": style.BLUE})
        self.rc_title = f(
            {
                "font_name": "Calibri",
                "font_size": 12,
                "bold": True,
                "font_color": "#C0504D",
                "align": "center",
                "valign": "vcenter",
            }
        )
        self.rc_head = f(
            {**changes, "bold": True, "font_color": style.BLUE, "bg_color": style.LIGHT_BLUE, "align": "center"}
        )
        self.rc_cells = [
            {
                "date": f(
                    {
                        **changes,
                        **fill,
                        "font_color": style.VALUE_TEXT,
                        "align": "center",
                        "num_format": style.DATE_FORMAT,
                    }
                ),
                "text": f({**changes, **fill, "font_color": style.VALUE_TEXT}),
                "version": f(
                    {**changes, **fill, "font_color": style.VALUE_TEXT, "align": "center", "num_format": "0.0"}
                ),
                "centred": f({**changes, **fill, "font_color": style.VALUE_TEXT, "align": "center"}),
            }
            for fill in ({"bg_color": style.GREY}, {})
        ]

    def cell(self, ws: Any, row: int, col: int, value: Any) -> None:
        if value is None or value == "":
            return  # nothing to show: the row's look comes from the sheet and its banding
        if isinstance(value, dt.date):
            ws.write_datetime(row, col, value, self.date)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            ws.write_number(row, col, value, self.number)
        else:
            text = clip(str(value))
            ws.write_string(row, col, text, self.quoted if text.startswith(_FORMULA_START) else self.text)

    def poam_sheet(self, name: str, header: Header, items: Sequence[PoamItem], guidance: bool) -> None:
        ws = self.book.add_worksheet(name)
        setup = style.OPEN_PRINT if name == OPEN else style.CONFIG_PRINT if name == CONFIG else style.CLOSED_PRINT
        minimum = style.OPEN_DEFAULT_HEIGHT if guidance else style.OTHER_ROW_HEIGHT
        ws.set_default_row(minimum)
        widths = style.widened((row_values(item) for item in items), style.COLUMN_PIXELS)
        for i, pixels in enumerate(widths):
            ws.set_column_pixels(i, i, pixels)
        ws.set_column_pixels(len(style.COLUMN_PIXELS), 50, style.COLUMN_PIXELS[-1])  # AF:AY as the template
        ws.set_row(0, style.TITLE_HEIGHT)
        ws.merge_range(0, 0, 0, 4, TITLE if name == OPEN else TITLE_PLAIN, self.title)
        for r in (1, 2, 3):
            ws.set_row(r, minimum)
        for i, label in enumerate(("CSP", "System Name", "Impact Level", "POAM Date")):
            ws.write_string(1, i, label, self.label)
        self.block_value(ws, 0, header.csp)
        self.block_value(ws, 1, header.system_name)
        ws.write_string(2, 2, header.impact, self.impact)
        ws.write_datetime(2, 3, header.poam_date, self.value_date)
        # the template's 42 points on the Open sheet; its 15.75 on the others cuts the longer headers off
        header_cells = list(zip(HEADERS, widths, strict=False))
        ws.set_row(4, style.header_height(header_cells, style.HEADER_HEIGHT if guidance else minimum))
        for i, title in enumerate(HEADERS):
            ws.write_string(4, i, title, self.head)
        first = 5
        if guidance:
            ws.set_row(5, style.DESCRIPTION_HEIGHT)
            for i, text in enumerate(DESCRIPTIONS):
                ws.write_string(5, i, text, self.guide)
            ws.set_row(6, style.HINT_HEIGHT)
            for i, text in enumerate(FORMAT_HINTS):
                ws.write_string(6, i, text, self.hint)
            first = 7
        for offset, item in enumerate(items):
            values = row_values(item)
            ws.set_row(first + offset, height_of(values, minimum, widths))
            for col, value in enumerate(values):
                self.cell(ws, first + offset, col, value)
        if guidance:
            ws.freeze_panes(5, 0)  # the template freezes the Open and Closed sheets at A6
        elif name == CLOSED:
            ws.freeze_panes(5, 0)
        default_last = style.OPEN_LAST_ROW if guidance else style.OTHER_LAST_ROW
        last = max(default_last - 1, first + len(items) - 1)
        self._formatting(ws, first, last, guidance)
        self._validations(ws, first, last)
        style.print_setup(ws, setup)

    def block_value(self, ws: Any, col: int, value: str) -> None:
        text = clip(value)
        ws.write_string(2, col, text, self.value_quoted if text.startswith(_FORMULA_START) else self.value)

    def _formatting(self, ws: Any, first: int, last: int, milestone_checks: bool) -> None:
        """The template's conditional formats, in its order of priority: the milestone-format checks
        (Open sheet), the Impact Level colours of C3, and the banding of every other row."""
        if milestone_checks:
            for col, rule in ((12, style.MILESTONE_RULE), (13, style.CHANGES_RULE)):
                ws.conditional_format(first, col, last, col, {"type": "formula", "criteria": rule, "format": self.mark})
        for level, fmt in self.impact_marks:
            ws.conditional_format(2, 2, 2, 2, {"type": "text", "criteria": "containing", "value": level, "format": fmt})
        ws.conditional_format(2, 2, 2, 2, {"type": "no_blanks", "format": self.impact_set})
        ws.conditional_format(
            first, 0, last, len(HEADERS) - 1, {"type": "formula", "criteria": style.BANDING, "format": self.band}
        )

    @staticmethod
    def _validations(ws: Any, first: int, last: int) -> None:
        ws.data_validation(2, 2, 2, 2, style.xlsxwriter_validation(style.IMPACT_VALIDATION))
        ws.data_validation(2, 3, 2, 3, style.xlsxwriter_validation(style.POAM_DATE_VALIDATION))
        for rule in style.VALIDATIONS:
            c = style.column_index(rule.column)
            ws.data_validation(first, c, last, c, style.xlsxwriter_validation(rule))

    def changes_sheet(self) -> None:
        ws = self.book.add_worksheet(CHANGES)
        ws.set_default_row(style.CHANGES_ROW_HEIGHT)
        for col, pixels in enumerate(style.CHANGES_PIXELS):
            ws.set_column_pixels(col, col, pixels)
        ws.set_row(0, style.CHANGES_ROW_HEIGHT)
        for col in range(1, 5):
            ws.write_blank(0, col, None, self.rc_bar)
        ws.set_row(1, style.CHANGES_ROW_HEIGHT)
        ws.merge_range(1, 1, 1, 4, "Record of Changes for Template", self.rc_title)
        ws.set_row(2, style.CHANGES_ROW_HEIGHT)
        for i, label in enumerate(("Date", "Description", "Version", "Author")):
            ws.write_string(2, i + 1, label, self.rc_head)
        for r, (day, text, version, author) in enumerate(RECORD_OF_CHANGES, start=3):
            fmt = self.rc_cells[(r - 3) % 2]
            cells = [(text, style.CHANGES_PIXELS[2]), (author, style.CHANGES_PIXELS[4])]
            ws.set_row(r, style.row_height(cells, style.CHANGES_ROW_HEIGHT))
            ws.write_datetime(r, 1, day, fmt["date"])
            ws.write_string(r, 2, text, fmt["text"])
            ws.write_number(r, 3, version, fmt["version"])
            ws.write_string(r, 4, author, fmt["centred"])
        style.print_setup(ws, style.CHANGES_PRINT)

    def close(self) -> None:
        try:
            self.book.close()
        except FileCreateError as exc:  # XlsxWriter wraps the OSError (disk full, no permission)
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, OSError):
                raise cause from None
            raise


def height_of(values: Sequence[Any], minimum: float, widths: Sequence[int] = style.COLUMN_PIXELS) -> float:
    """The height (points) of an item's row: enough lines for its longest wrapped cell."""
    return style.row_height([(clip(v), widths[i]) for i, v in enumerate(values) if isinstance(v, str) and v], minimum)


def sheet_of(item: PoamItem) -> str:
    """Which sheet an item belongs on: closed items on Closed; open configuration findings on
    Configuration Findings; every other open item on Open."""
    if item.status is ItemStatus.CLOSED:
        return CLOSED
    return CONFIG if item.is_config else OPEN


def write(path: Path, header: Header, items: Sequence[PoamItem]) -> dict[str, int]:
    """Write the workbook; returns the number of rows written per sheet."""
    by_sheet: dict[str, list[PoamItem]] = {OPEN: [], CLOSED: [], CONFIG: []}
    for item in items:
        by_sheet[sheet_of(item)].append(item)
    # Rows go to XlsxWriter's scratch files until the workbook is assembled: keep them in a
    # folder of their own, removed whether or not the workbook could be written. The workbook
    # (compressed) is assembled in memory and written in one go: a zip file that fails on a full
    # disk would try again, and fail again, when it is garbage-collected.
    workbook = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="poam-xlsx-") as scratch:
        w = _Writer(workbook, scratch)
        w.poam_sheet(OPEN, header, by_sheet[OPEN], guidance=True)
        w.poam_sheet(CLOSED, header, by_sheet[CLOSED], guidance=False)
        w.poam_sheet(CONFIG, header, by_sheet[CONFIG], guidance=False)
        w.changes_sheet()
        w.close()
    path.write_bytes(workbook.getbuffer())
    return {name: len(rows) for name, rows in by_sheet.items()}
