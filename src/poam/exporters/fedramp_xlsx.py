"""The FedRAMP POA&M workbook (template v2.1, 2024-03-29), written with XlsxWriter.

Sheets `Open POA&M Items`, `Closed POA&M Items`, `Configuration Findings` and
`Record of Changes`; the header block in rows 2-3; the 31 column headers on row 5; the
template's dropdown lists and date rules. The Open sheet keeps the template's guidance rows
6 and 7, so its items start on row 8 (where the template's example row was); the other two
sheets start on row 6, as in the template. No cell can become a formula: strings are written
as strings, and text that starts like a formula is also marked quote-prefixed.
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

from poam.domain.milestones import format_changes, format_milestones
from poam.domain.models import ItemStatus, PoamItem

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
WIDTHS = (
    14,
    12,
    40,
    60,
    16,
    14,
    34,
    22,
    20,
    50,
    13,
    13,
    45,
    45,
    13,
    11,
    13,
    20,
    11,
    11,
    11,
    11,
    12,
    30,
    30,
    30,
    10,
    14,
    14,
    22,
    20,
)
CELL_LIMIT = 32767
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
VALIDATED_ROWS = 1000


@dataclass(frozen=True, slots=True)
class Header:
    """The header block: CSP, System Name, Impact Level, POAM Date."""

    csp: str
    system_name: str
    impact: str
    poam_date: dt.date


def _letter_index(letter: str) -> int:
    n = 0
    for ch in letter:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


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
    return [
        item.poam_id,
        ", ".join(item.controls),
        item.weakness_name,
        item.weakness_description,
        item.detector_source,
        source,
        "\n".join(a.text for a in item.assets),
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


class _Writer:
    def __init__(self, target: io.BytesIO, scratch: str) -> None:
        self.book = xlsxwriter.Workbook(
            target,
            {
                "constant_memory": True,
                "tmpdir": scratch,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        base = {"font_name": "Arial", "font_size": 10, "valign": "top"}
        f = self.book.add_format
        self.title = f({**base, "bold": True, "font_size": 18, "font_color": "#1A4480"})
        self.label = f({**base, "bold": True, "font_color": "#1A4480", "bg_color": "#CCECFC", "border": 1})
        self.value = f({**base, "font_color": "#444444", "bg_color": "#F2F2F2", "border": 1})
        self.value_date = f(
            {**base, "font_color": "#444444", "bg_color": "#F2F2F2", "border": 1, "num_format": "mm/dd/yyyy"}
        )
        self.head = f(
            {
                **base,
                "bold": True,
                "font_color": "#1A4480",
                "bg_color": "#CCECFC",
                "border": 1,
                "text_wrap": True,
                "align": "center",
                "valign": "vcenter",
            }
        )
        self.guide = f({**base, "text_wrap": True, "border": 1})
        self.hint = f({**base, "text_wrap": True, "border": 1, "font_color": "#FFFFFF", "bg_color": "#595959"})
        self.text = f({**base, "text_wrap": True, "border": 1})
        self.quoted = f({**base, "text_wrap": True, "border": 1, "quote_prefix": True})
        self.date = f({**base, "border": 1, "num_format": "mm/dd/yyyy"})
        self.number = f({**base, "border": 1})

    def cell(self, ws: Any, row: int, col: int, value: Any) -> None:
        if value is None or value == "":
            ws.write_blank(row, col, None, self.text)
        elif isinstance(value, dt.date):
            ws.write_datetime(row, col, value, self.date)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            ws.write_number(row, col, value, self.number)
        else:
            text = clip(str(value))
            fmt = self.quoted if text.startswith(_FORMULA_START) else self.text
            ws.write_string(row, col, text, fmt)

    def poam_sheet(self, name: str, header: Header, items: Sequence[PoamItem], guidance: bool) -> None:
        ws = self.book.add_worksheet(name)
        for i, width in enumerate(WIDTHS):
            ws.set_column(i, i, width)
        ws.merge_range(0, 0, 0, 4, TITLE if name == OPEN else TITLE_PLAIN, self.title)
        for i, label in enumerate(("CSP", "System Name", "Impact Level", "POAM Date")):
            ws.write_string(1, i, label, self.label)
        self.cell_value(ws, 2, 0, header.csp)
        self.cell_value(ws, 2, 1, header.system_name)
        ws.write_string(2, 2, header.impact, self.value)
        ws.write_datetime(2, 3, header.poam_date, self.value_date)
        ws.set_row(4, 42)
        for i, title in enumerate(HEADERS):
            ws.write_string(4, i, title, self.head)
        first = 5
        if guidance:
            for i, text in enumerate(DESCRIPTIONS):
                ws.write_string(5, i, text, self.guide)
            for i, text in enumerate(FORMAT_HINTS):
                ws.write_string(6, i, text, self.hint)
            first = 7
        for offset, item in enumerate(items):
            for col, value in enumerate(row_values(item)):
                self.cell(ws, first + offset, col, value)
        ws.freeze_panes(5, 0)
        self._validations(ws, first, max(first + len(items), first + VALIDATED_ROWS))

    def cell_value(self, ws: Any, row: int, col: int, value: str) -> None:
        text = clip(value)
        fmt = self.quoted if text.startswith(_FORMULA_START) else self.value
        ws.write_string(row, col, text, fmt)

    def _validations(self, ws: Any, first: int, last: int) -> None:
        ws.data_validation(2, 2, 2, 2, {"validate": "list", "source": IMPACT_LIST})
        ws.data_validation(2, 3, 2, 3, {"validate": "date", "criteria": ">", "value": dt.date(2000, 1, 1)})
        for letter, values in LISTS.items():
            c = _letter_index(letter)
            ws.data_validation(first, c, last, c, {"validate": "list", "source": values})
        k, lcol = DATE_COLUMNS["K"], DATE_COLUMNS["L"]
        ws.data_validation(
            first,
            k,
            last,
            k,
            {
                "validate": "date",
                "criteria": "not between",
                "minimum": dt.date(1980, 1, 1),
                "maximum": dt.date(1980, 1, 1),
            },
        )
        ws.data_validation(
            first,
            lcol,
            last,
            lcol,
            {
                "validate": "date",
                "criteria": "not between",
                "minimum": dt.date(1900, 1, 1),
                "maximum": dt.date(1900, 1, 1),
            },
        )
        for letter in ("O", "Q", "AC"):
            c = DATE_COLUMNS[letter]
            ws.data_validation(first, c, last, c, {"validate": "date", "criteria": ">", "value": dt.date(2000, 1, 1)})

    def changes_sheet(self) -> None:
        ws = self.book.add_worksheet(CHANGES)
        for col, width in ((0, 3.3), (1, 12), (2, 66.7), (3, 10.7), (4, 13.3)):
            ws.set_column(col, col, width)
        ws.merge_range(1, 1, 1, 4, "Record of Changes for Template", self.label)
        for i, label in enumerate(("Date", "Description", "Version", "Author")):
            ws.write_string(2, i + 1, label, self.label)
        for r, (day, text, version, author) in enumerate(RECORD_OF_CHANGES, start=3):
            ws.write_datetime(r, 1, day, self.date)
            ws.write_string(r, 2, text, self.text)
            ws.write_number(r, 3, version, self.number)
            ws.write_string(r, 4, author, self.text)

    def close(self) -> None:
        try:
            self.book.close()
        except FileCreateError as exc:  # XlsxWriter wraps the OSError (disk full, no permission)
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, OSError):
                raise cause from None
            raise


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
