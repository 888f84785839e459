"""The FedRAMP Vulnerability Deviation Request form (v2.1, 2024-08-08), filled with XlsxWriter.

The layout is the official form's, written out here (the form is a US-government work, so its
text is public domain; the workbook itself is not shipped, see the README): the `DR Sheet` with
its header block (CSP, system, impact level, submission date; CSP primary POC), the section
titles on row 9, the 57 column headers on row 10 and the form's field guidance on row 11, one
deviation request per row from row 12 (where the form's two example rows were), with the form's
dropdowns (taken from its `Data Dictionary - Do Not Remove` sheet, reproduced because the
dropdowns refer to it), banding, column widths and row heights; and the `Record of Changes`.
The `Instructions` sheet is left out: the form says "PLEASE REMOVE INSTRUCTIONS BEFORE SUBMITTING
FORM". With no request to list, the sheet keeps its headers and row 12 says so.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.exceptions import FileCreateError
from xlsxwriter.utility import xl_col_to_name

from poam.domain.models import Level, PoamItem
from poam.exporters.cells import CellWriter

DR_SHEET, DICTIONARY, CHANGES = "DR Sheet", "Data Dictionary - Do Not Remove", "Record of Changes"
TITLE = "FedRAMP DR Request Form"
FIRST_ROW = 12
"""Row (1-based) of the first request."""
LAST_VALIDATED_ROW = 1001
"""The form's dropdowns cover rows 12-1001 (further when more requests are listed)."""
HEADERS = (
    "DR Number",
    "POA&M ID",
    "Scan ID",
    "CVE",
    "Assets Impacted",
    "Vulnerability Name",
    "Vulnerability Source",
    "Initial Risk Rating",
    "CVSS Base Score",
    "Original Detection Date",
    "Tool-Provided Vulnerability Description",
    "Tool-Provided Recommeded Action",
    "CSP-Provided Vulnerability Information (Optional)",
    "Type of DR",
    "Requested Risk Rating/Impact ",
    "Adjusted CVSS Score",
    "DR Submission Date",
    "DR Rationale",
    "Evidence Description",
    "List of Evidence Attachments",
    "Operational Impact\nStatement",
    "Justification",
    "List of Operational\nRequirement Attachments",
    "Attack Vector",
    "Attack Vector Explanation",
    "Attack Complexity",
    "Attack Complexity Explanation",
    "Privileges Required",
    "Privileges Required Explanation",
    "User Interaction",
    "User Interaction Explanation",
    "Impact Metrics: Confidentiality",
    "Impact Metrics: Confidentiality Explanation",
    "Impact Metrics: Integrity",
    "Impact Metrics: Integrity Explanation",
    "Impact Metrics: Availability",
    "Impact Metrics: Availability Explanation",
    "Remediation Level",
    "Remediation Level Explanation",
    "List of Risk Reduction",
    "",
    "Deviation Status",
    "Date Submitted to JAB TRs",
    "GSA Review \nStatus",
    "GSA Reviewer\nName",
    "GSA Status Date",
    "GSA Comments",
    "DOD Review \nStatus",
    "DOD Reviewer\nName",
    "DOD Status Date",
    "DOD Comments",
    "DHS Review \nStatus",
    "DHS Reviewer\nName",
    "DHS Status Date",
    "DHS Comments",
    "CSP Comments",
    "3PAO Comments",
)
"""Row 10, spelled as the form spells it (column AO's title is row 9's `Additional Information`)."""
_CHOOSE = "Please choose from the drop down menu below."
_ATTACH = "Attach evidence, such as screen shots. List evidence attachments here."
HINTS = (
    *("Text Field",) * 7,
    _CHOOSE,
    "Text Field",
    "Date",
    *("Text Field ",) * 3,
    _CHOOSE,
    _CHOOSE,
    "Text Field ",
    "Date",
    "Text Field ",
    "Text Field ",
    _ATTACH,
    "Explain the limitations that prevent the vulnerability from being fixed. Include negative operational impacts "
    "of remediation.",
    "For a Moderate vulnerability that is not being mitigated to Low, explain why the authorizing official should "
    "accept the risk without mitigating it.",
    _ATTACH,
    _CHOOSE,
    "Describe whether local access, physical access, or network access is required for vulnerability exploitation. "
    "Describe how, based on the CSP’s implemented security model, the necessary access is reduced or not available.",
    _CHOOSE,
    "Low attack complexity means that an attacker can exploit the vulnerability at any time and at all times. High "
    "attack complexity means that a successful attack depends on conditions outside of the attacker’s control.",
    _CHOOSE,
    "No privileges required can be exploited by an unauthorized user. Low privileges require a normal authenticated "
    "user to exploit the vulnerability. High privileges require an Administrator or System level authenticated user "
    "to exploit the vulnerability. Describe any security controls that prevent or reduce the likelihood of a "
    "vulnerability exploitation attempt having the required privileges on the system.",
    _CHOOSE,
    "Describe any security controls that prevent or reduce the likelihood of necessary user interaction on the system.",
    _CHOOSE,
    "High if all information is disclosed to an attacker or some critical information is disclosed. Low if some "
    "information can be obtained and/or the attacker does not have control over the kind or degree. None if no "
    "information is disclosed.",
    _CHOOSE,
    "High if an attacker can modify information at any time or only some critical information can be modified. Low "
    "if some information can be modified and the attacker does not have control over the kind or degree. None if "
    "there is no integrity loss.",
    _CHOOSE,
    "High if an attacker can cause a resource to become completely unavailable or if the resource is a critical "
    "component and can become partially available. Low if an attacker can cause reduced performance or interrupt "
    "resources availability or response. None if there is no availability impact.",
    _CHOOSE,
    "“Official fix” means that a complete vendor solution is available; either the vendor has issued an official "
    "patch or an upgrade is available. “Temporary fix” means that there is an official but temporary fix available. "
    "This includes instances where the vendor issues a temporary hotfix, tool, or workaround. “Workaround” means that "
    "there is an unofficial, nonvendor solution available. In some cases, users of the affected technology will "
    "create a patch of their own or provide steps to work around or otherwise mitigate the vulnerability. "
    "“Unavailable” means that there is either no solution available or it is impossible to apply. Describe any "
    "remediation that has been taken to address the vulnerability on the affected system(s).",
    _ATTACH,
    "Please use the space to provide any additional information you believe is relevant to this deviation request.",
    _CHOOSE,
    "Date",
    *(_CHOOSE, "Text Field ", "Date", "Text Field ") * 3,
    "Text Field ",
    "Text Field",
)
"""Row 11: the form's guidance for each field."""
SECTIONS = (
    ("B", "M", "Vulnerability Information (Include only one POA&M item per row.)", "blue"),
    ("N", "R", "Deviation Request Summary", "plain"),
    (
        "S",
        "T",
        "Additional Information: False Positive (Complete this section only if you are submitting a false positive "
        "DR.)",
        "blue",
    ),
    (
        "U",
        "W",
        "Additional Information: Operational Requirement\n(Complete this section if you are submitting an operational "
        "requirement or a risk reduced operational requirement DR.)",
        "plain",
    ),
    (
        "X",
        "AN",
        "Additional Information: Risk Reduction\n(Complete this section if you are submitting a risk reduction or a "
        "risk reduced operational requirement DR.)\nComplete all fields below. Include references to the System "
        "Security Plan as applicable\nTo complete the fields in this section, use the CVSS Environmental Score Metrics "
        "definitions found here:\nhttps://nvd.nist.gov/vuln-metrics",
        "blue",
    ),
    ("AP", "BE", "JAB/PMO Use Only", "plain"),
)
LISTS: dict[str, tuple[str, ...]] = {
    "H": ("High", "Moderate", "Low"),
    "N": ("FP", "OR", "OR RA", "RA"),
    "O": ("High", "Moderate", "Low"),
    "X": ("Not Defined (MAV:X)", "Network (MAV:N)", "Adjacent (MAV:A)", "Local (MAV:L)", "Physical (MAV:P)"),
    "Z": ("Not Defined (MAC:X)", "Low (MAC:L)", "High (MAC:H)"),
    "AB": ("Not Defined (MPR:X)", "None (MPR:N)", "Low (MPR:L)", "High (MPR:H)"),
    "AD": ("Not Defined (MUI:X)", "None (MUI:N)", "Required (MUI:R)"),
    "AF": ("None (MC:N)", "Low (MC:L)", "High (MC:H)"),
    "AH": ("None (MI:N)", "Low (MI:L)", "High (MI:H)"),
    "AJ": ("None (MA:N)", "Low (MA:L)", "High (MA:H)"),
    "AL": ("Offical Fix", "Temporary Fix", "Workaround", "Unavailable"),
    "AP": ("Pending", "N/A", "Approved", "Rejected", "Withdrawn"),
    "AR": ("Approved", "Rejected", "Pending"),
    "AV": ("Approved", "Rejected", "Pending"),
    "AZ": ("Approved", "Rejected", "Pending"),
}
"""The Data Dictionary's lists, as the form spells them (`Offical Fix` included)."""
LIST_ROWS = {"AP": 4}
"""The form's Deviation Status dropdown takes the first four (Withdrawn is not offered)."""
_WIDTHS = {
    "A": 16.33, "B": 16.33, "C": 15, "D": 15, "E": 22, "R": 20.83, "S": 20.83, "T": 20.83,
    "U": 22.33, "V": 22.33, "W": 22.33, "Y": 20.83, "AA": 20.83, "AC": 20.83, "AG": 20.83, "AI": 20.83,
    "AM": 20.83, "AO": 20.83, "AU": 20.83, "AY": 20.83, "BC": 20.83, "BD": 20.83, "BE": 20.83,
}  # fmt: skip
_NARROW = ("K", "L", "M", "O", "P", "Q", "AD", "AE", "AF", "AH", "AJ", "AK")
RECORD_OF_CHANGES = (
    (
        dt.date(2024, 2, 15),
        "Clarified language on vendor dependencies in regard to how a VD can not remain a high vulnerability and how "
        "VD's can be OR's in very specific circumstances with AO approval.",
        2,
        "FedRAMP",
    ),
    (dt.date(2024, 8, 8), "Corrections to formulas and data dictionary", 2.1, "FedRAMP"),
)
BLUE, NAVY, LIGHT, GREY = "#CCECFC", "#1A4480", "#F0F0F0", "#444444"


@dataclass(frozen=True, slots=True)
class Header:
    """The form's header block."""

    csp: str
    system_name: str
    impact: str
    submitted: dt.date
    poc_name: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    """One row: a deviation request of one POA&M item (a pending operational requirement and risk
    adjustment of the same item make one `OR RA` row, as the form asks)."""

    number: int
    kind: str
    item: PoamItem
    submitted: dt.date
    rationale: str
    requested_risk: Level | None = None
    fp_evidence: tuple[str, ...] = ()
    or_statement: str = ""
    or_evidence: tuple[str, ...] = ()
    ra_evidence: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def _col(letter: str) -> int:
    n = 0
    for ch in letter:
        n = n * 26 + ord(ch) - 64
    return n - 1


def row_values(entry: Entry) -> list[Any]:
    """The cells A-AP of a request's row (the JAB/PMO columns after AP stay blank)."""
    item = entry.item
    scan_id: Any = item.source_identifier
    if scan_id.isascii() and scan_id.isdigit() and len(scan_id) < 15 and not scan_id.startswith("0"):
        scan_id = int(scan_id)  # a plugin id as a number, as the form's example writes it
    score = item.cvss3_score if item.cvss3_score is not None else item.cvss2_score
    values: list[Any] = [""] * 42
    values[:18] = [
        entry.number,
        item.poam_id,
        scan_id,
        ", ".join(item.cves),
        "\n".join(item.asset_lines()),
        item.weakness_name,
        item.detector_source,
        item.original_risk.fedramp.value,
        score,
        item.detection_date,
        item.weakness_description,
        item.recommendation or "",
        "",
        entry.kind,
        entry.requested_risk.fedramp.value if entry.requested_risk else "",
        "",
        entry.submitted,
        entry.rationale,
    ]
    values[_col("T")] = "\n".join(entry.fp_evidence)
    values[_col("U")] = entry.or_statement
    values[_col("W")] = "\n".join(entry.or_evidence)
    values[_col("AN")] = "\n".join(entry.ra_evidence)
    values[_col("AO")] = "\n".join(entry.notes)
    values[_col("AP")] = "Pending"
    return values


class _Writer:
    def __init__(self, target: io.BytesIO) -> None:
        self.book = xlsxwriter.Workbook(
            target, {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
        )
        f = self.book.add_format
        arial = {"font_name": "Arial"}
        self.title = f({**arial, "font_size": 18, "bold": True, "font_color": NAVY, "valign": "vcenter"})
        self.label = f(
            {**arial, "font_size": 12, "bold": True, "font_color": NAVY, "bg_color": BLUE}
            | {"align": "center", "valign": "vcenter"}
        )
        self.poc = f({**arial, "font_size": 14, "bold": True, "font_color": "#FFFFFF", "bg_color": NAVY})
        value = {**arial, "font_size": 10, "font_color": GREY, "align": "center", "valign": "vcenter"}
        self.value = CellWriter(
            f(value), f({**value, "quote_prefix": True}), f({**value, "num_format": "mm/dd/yyyy"}), f(value)
        )
        section = {**arial, "font_size": 12, "bold": True, "text_wrap": True, "border": 1}
        section |= {"align": "center", "valign": "vcenter"}
        self.section = {
            "blue": f({**section, "bg_color": BLUE, "font_color": "#000000"}),
            "plain": f({**section, "font_color": NAVY}),
            "navy": f({**section, "bg_color": NAVY, "font_color": "#FFFFFF"}),
        }
        head = {**arial, "font_size": 11, "bold": True, "font_color": NAVY, "text_wrap": True, "border": 1}
        head |= {"align": "center", "valign": "vcenter"}
        self.head = {fill: f({**head, "bg_color": color}) for fill, color in (("blue", BLUE), ("plain", "#FFFFFF"))}
        self.head["grey"] = f({**head, "bg_color": LIGHT})
        hint = {**arial, "font_size": 10, "font_color": GREY, "text_wrap": True, "border": 1}
        hint |= {"align": "center", "valign": "top"}
        self.hint = {fill: f({**hint, "bg_color": color}) for fill, color in (("blue", BLUE), ("plain", "#FFFFFF"))}
        self.hint["grey"] = f({**hint, "bg_color": LIGHT})
        cell = {**arial, "font_size": 10, "font_color": GREY, "text_wrap": True, "border": 1, "valign": "top"}
        self.cell = CellWriter(
            f(cell), f({**cell, "quote_prefix": True}), f({**cell, "num_format": "mm/dd/yyyy"}), f(cell)
        )
        self.note = f({**arial, "font_size": 11, "bold": True, "font_color": NAVY, "text_wrap": True, "valign": "top"})
        self.band = f({"bg_color": LIGHT})
        self.plain = f({"bg_color": "#FFFFFF"})
        self.plain_text = f({**arial, "font_size": 10, "text_wrap": True, "valign": "top"})
        self.change_date = f({**arial, "font_size": 10, "num_format": "mm/dd/yyyy", "valign": "top"})

    @staticmethod
    def _fill(col: int) -> str:
        """Which fill a column's header has on the form: the blue sections, the white ones, and the
        grey reviewers' columns."""
        if col >= _col("AR"):
            return "grey"
        for first, last, _text, fill in SECTIONS:
            if _col(first) <= col <= _col(last):
                return fill
        return "plain"

    def dr_sheet(self, header: Header, entries: Sequence[Entry], empty_note: str) -> None:
        ws = self.book.add_worksheet(DR_SHEET)
        ws.hide_gridlines(2)
        for col in range(len(HEADERS)):
            letter = xl_col_to_name(col)
            width = _WIDTHS.get(letter, 16.66 if letter in _NARROW else 15)
            ws.set_column(col, col, width)
        for row, height in ((0, 85), (1, 30), (2, 15), (3, 15), (4, 30), (5, 30), (6, 15), (7, 42), (8, 85), (9, 60)):
            ws.set_row(row, height)
        ws.set_row(10, 409.5)
        ws.merge_range("A1:E1", TITLE, self.title)
        for cell, text in (("A2", "CSP Name"), ("B2", "System Name"), ("E2", "DR Submission Date")):
            ws.write_string(cell, text, self.label)
        ws.merge_range("C2:D2", "Impact Level", self.label)
        self.value.write(ws, 2, 0, header.csp)
        self.value.write(ws, 2, 1, header.system_name)
        ws.merge_range("C3:D3", "", self.value.text)
        self.value.write(ws, 2, 2, header.impact)
        self.value.write(ws, 2, 4, header.submitted)
        ws.merge_range("A5:E5", "CSP Primary POC ", self.poc)
        for cell, text in (("A6", "Name"), ("B6", "Title"), ("C6", "Phone")):
            ws.write_string(cell, text, self.label)
        ws.merge_range("D6:E6", "Email", self.label)
        self.value.write(ws, 6, 0, header.poc_name)
        ws.merge_range("D7:E7", "", self.value.text)
        for left, right, text, fill in SECTIONS:
            ws.merge_range(f"{left}9:{right}9", text, self.section[fill])
        ws.merge_range("AO9:AO10", "Additional Information", self.section["navy"])
        for col, text in enumerate(HEADERS):
            if text:
                ws.write_string(9, col, text, self.head[self._fill(col)])
            ws.write_string(10, col, HINTS[col], self.hint[self._fill(col)])
        first = FIRST_ROW - 1
        for offset, entry in enumerate(entries):
            ws.set_row(first + offset, 85)
            for col, value in enumerate(row_values(entry)):
                self.cell.write(ws, first + offset, col, value)
        if not entries:
            ws.set_row(first, 42)
            ws.merge_range(first, 0, first, _col("M"), empty_note, self.note)
        last = max(LAST_VALIDATED_ROW - 1, first + len(entries) - 1)
        for letter, values in LISTS.items():
            size = LIST_ROWS.get(letter, len(values))
            source = f"='{DICTIONARY}'!${letter}$3:${letter}${2 + size}"
            ws.data_validation(first, _col(letter), last, _col(letter), {"validate": "list", "source": source})
        band_last = max(first + len(entries), 100)
        ws.conditional_format(
            first,
            0,
            band_last,
            len(HEADERS) - 1,
            {"type": "formula", "criteria": "=ISEVEN(ROW())", "format": self.band},
        )
        ws.conditional_format(
            first,
            0,
            band_last,
            len(HEADERS) - 1,
            {"type": "formula", "criteria": "=ISODD(ROW())", "format": self.plain},
        )
        ws.set_landscape()
        ws.repeat_rows(9, 10)
        ws.activate()

    def dictionary(self) -> None:
        ws = self.book.add_worksheet(DICTIONARY)
        ws.hide_gridlines(2)
        for col in range(len(HEADERS)):
            ws.set_column(col, col, 20)
        for col, text in enumerate(HEADERS):
            title = "Additional Information" if col == _col("AO") else text
            ws.write_string(0, col, title, self.head[self._fill(col)])
            hint = "Please Choose from the Drop Down Menu" if xl_col_to_name(col) in LISTS else HINTS[col]
            ws.write_string(1, col, hint, self.hint[self._fill(col)])
        for row in range(2, 2 + max(len(v) for v in LISTS.values())):
            for letter, values in LISTS.items():
                if row - 2 < len(values):
                    ws.write_string(row, _col(letter), values[row - 2], self.plain_text)

    def changes(self) -> None:
        ws = self.book.add_worksheet(CHANGES)
        ws.hide_gridlines(2)
        for col, width in enumerate((13.66, 48.66, 17.66, 18.66)):
            ws.set_column(col, col, width)
        ws.merge_range("A1:D1", "Record of Changes for Template", self.title)
        for col, text in enumerate(("Date", "Description", "Version", "Author")):
            ws.write_string(1, col, text, self.label)
        for row, (day, text, version, author) in enumerate(RECORD_OF_CHANGES, start=2):
            ws.write_datetime(row, 0, day, self.change_date)
            ws.write_string(row, 1, text, self.plain_text)
            ws.write_number(row, 2, version, self.plain_text)
            ws.write_string(row, 3, author, self.plain_text)

    def close(self) -> None:
        try:
            self.book.close()
        except FileCreateError as exc:  # XlsxWriter wraps the OSError (disk full, no permission)
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, OSError):
                raise cause from None
            raise


def empty_note(system: str, day: dt.date) -> str:
    """What row 12 says when no deviation request is pending."""
    return (
        f"No pending deviation requests for {system} on {day.isoformat()}: nothing to submit "
        "(poam lists requested false positives, operational requirements and risk adjustments here)."
    )


def write(path: Path, header: Header, entries: Sequence[Entry]) -> dict[str, int]:
    """Write the filled form; returns the number of rows (requests) written."""
    workbook = io.BytesIO()
    w = _Writer(workbook)
    w.dr_sheet(header, entries, empty_note(header.system_name, header.submitted))
    w.dictionary()
    w.changes()
    w.close()
    path.write_bytes(workbook.getbuffer())
    return {"requests": len(entries)}
