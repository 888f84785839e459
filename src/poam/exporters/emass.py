"""The DoD eMASS POA&M workbook, in two layouts (domain spec §4.2, rules-2026 §5).

`classic`: the eMASS Excel POA&M export/import layout that C-PAT's importer reads: first sheet,
header rows 2-6 (export date, exporter, DoD component, system, POC), the 25 column headers on
row 7 spelled as eMASS spells them (`Source Identifying Vulnerability ` with a trailing space,
` Raw Severity` with a leading one), one row per POA&M item from row 8, milestones in one cell
with each line ending in its date `MM/DD/YYYY`.

`milestone-rows`: the layout the Navy, Army and Marine Corps eMASS exports use now (C-PAT's
`poamexporting` mapping, columns A-AG): the same header block, headers on row 7, and one row per
milestone from row 8 (J-O: Milestone ID, Description, Status, Status Comments, Scheduled and
Completion dates), the item's columns repeated on each of its rows.

Dates are written as `MM/DD/YYYY` text, as C-PAT writes them and its importer reads them.
Statuses: an open item is `Ongoing`, or `Risk Accepted` once an operational requirement or an
accepted vulnerability is approved (eMASS allows no scheduled completion date or milestones
then); a closed item is `Completed`, or `Not Applicable` when closed as a false positive.
Severity and residual risk use eMASS's Very Low..Very High (Critical is Very High); Raw Severity
is the DoD category I, II or III. Text that eMASS limits is cut to its limit (description,
source, mitigations 2,000 characters; Office/Org 100; resources 250).
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.exceptions import FileCreateError

from poam.domain.models import ChangeKind, ItemStatus, Level, PoamItem, YesNo
from poam.exporters.cells import CellWriter

LAYOUTS = ("classic", "milestone-rows")
SHEET = "POA&M"
HEADER_ROW = 7
"""Row (1-based) of the column headers; items start on the next row."""

CLASSIC = (
    "POA&M Item ID",
    "Control Vulnerability Description",
    "Security Control Number (NC/NA controls only)",
    "Office/Org",
    "Security Checks",
    "Resources Required",
    "Scheduled Completion Date",
    "Milestone with Completion Dates",
    "Milestone Changes",
    "Source Identifying Vulnerability ",
    "Status",
    "Comments",
    " Raw Severity",
    "Devices Affected",
    "Mitigations (in-house and in conjunction with the Navy CSSP)",
    "Predisposing Conditions",
    "Severity",
    "Relevance of Threat",
    "Threat Description",
    "Likelihood",
    "Impact",
    "Impact Description",
    "Residual Risk Level",
    "Recommendations",
    "Resulting Residual Risk after Proposed Mitigations",
)
MILESTONE_ROWS = (
    "POA&M Item ID",
    "External UID",
    "Control Vulnerability Description",
    "Controls / APs",
    "Security Checks",
    "POA&M Status",
    "POA&M Scheduled Completion Date",
    "POA&M Requested Risk Accepted Expiration Date",
    "POA&M Completion Date",
    "Milestone ID",
    "Milestone Description",
    "Milestone Status",
    "Milestone Status Comments",
    "Milestone Scheduled Completion Date",
    "Milestone Completion Date",
    "Identification Source",
    "Identification Source Details",
    "Office/Org",
    "Resources Required",
    "Comments",
    "Raw Severity",
    "Devices Affected",
    "Mitigations (in-house and in conjunction with the Navy CSSP)",
    "Predisposing Conditions",
    "Severity",
    "Relevance of Threat",
    "Threat Description",
    "Likelihood",
    "Impact",
    "Impact Description",
    "Residual Risk Level",
    "Recommendations",
    "Resulting Residual Risk after Proposed Mitigations",
)
"""Columns A-AG. C-PAT leaves A and B blank: eMASS assigns the POA&M Item ID (left blank here);
B carries poam's id as the eMASS `externalUid` (a documented eMASS POA&M field)."""

LEVELS = {Level.CRITICAL: "Very High", Level.HIGH: "High", Level.MODERATE: "Moderate", Level.LOW: "Low"}
"""eMASS Severity / Residual Risk Level values (Very Low is never derived: poam keeps no
informational items)."""
CATEGORIES = {Level.CRITICAL: "I", Level.HIGH: "I", Level.MODERATE: "II", Level.LOW: "III"}
"""DoD severity category (Raw Severity): CAT I high and critical, CAT II medium, CAT III low."""
LIMITS = {"description": 2000, "source": 2000, "mitigations": 2000, "office": 100, "resources": 250}
"""eMASS field lengths (vulnerabilityDescription, sourceIdentVuln, mitigation, pocOrganization,
resources)."""

STATUS_ONGOING, STATUS_ACCEPTED, STATUS_COMPLETED, STATUS_NA = (
    "Ongoing",
    "Risk Accepted",
    "Completed",
    "Not Applicable",
)
# Header block: (row, label column, label, value column) for each layout.
_BLOCK = {
    "classic": ((2, 0, 2), (3, 0, 2), (4, 0, 2), (5, 0, 2), (6, 0, 2), (2, 8, 9), (4, 8, 9), (5, 8, 9), (6, 8, 9)),
    "milestone-rows": (
        (2, 0, 3),
        (3, 0, 3),
        (4, 0, 3),
        (5, 0, 3),
        (6, 0, 3),
        (2, 9, 12),
        (4, 9, 12),
        (5, 9, 12),
        (6, 9, 12),
    ),
}
_LABELS = (
    "Date Exported:",
    "Exported By:",
    "DoD Component:",
    "System / Project Name:",
    "DoD IT Registration No:",
    "System Type:",
    "POC Name:",
    "POC Phone:",
    "POC Email:",
)


@dataclass(frozen=True, slots=True)
class Header:
    """The header block above the column headers."""

    system_name: str
    component: str | None
    exported_by: str
    exported_on: dt.date
    poc_name: str | None = None


@dataclass(frozen=True, slots=True)
class Extra:
    """What the export needs beyond the item: the CCIs of its checks, whether an accepted
    vulnerability was approved (and why), and the rating a pending risk adjustment asks for."""

    ccis: tuple[str, ...] = ()
    risk_accepted: bool = False
    acceptance: str | None = None
    proposed_risk: Level | None = None


def mdy(day: dt.date | None) -> str:
    """A date as eMASS writes it: `01/15/2026`."""
    return day.strftime("%m/%d/%Y") if day else ""


def status(item: PoamItem, extra: Extra) -> str:
    """The eMASS POA&M status of an item."""
    if item.status is ItemStatus.CLOSED:
        return STATUS_NA if item.false_positive is YesNo.YES else STATUS_COMPLETED
    if extra.risk_accepted or item.operational_requirement is YesNo.YES:
        return STATUS_ACCEPTED
    return STATUS_ONGOING


def _cci(text: str) -> str:
    text = text.strip().upper()
    return text if text.startswith("CCI-") else f"CCI-{text}"


def comments(item: PoamItem, extra: Extra, state: str) -> str:
    """The Comments cell: the item's CCIs (one a line, as C-PAT writes them), its controls when
    there are several, why it is completed or risk accepted, KEV, then the item's own comments."""
    parts = []
    if extra.ccis:
        parts.append("\n".join(_cci(c) for c in extra.ccis))
    if len(item.controls) > 1:
        parts.append("Controls: " + ", ".join(item.controls))
    if state == STATUS_COMPLETED:
        parts.append(f"Completed {mdy(item.closed_at or item.status_date)}: every finding shown fixed by a later scan.")
    elif state == STATUS_NA:
        parts.append(f"Closed {mdy(item.closed_at or item.status_date)} as a false positive (approved deviation).")
    elif state == STATUS_ACCEPTED:
        why = extra.acceptance or item.deviation_rationale or "approved operational requirement"
        parts.append(f"Risk accepted: {why}")
    if item.kev:
        due = f", CISA due date {mdy(item.kev_due_date)}" if item.kev_due_date else ""
        parts.append(f"Listed in the CISA KEV catalog{due}.")
    own = item.comments_text()
    if own:
        parts.append(own)
    return "\n\n".join(parts)


def description(item: PoamItem) -> str:
    """Control Vulnerability Description: the weakness name, then its description."""
    if item.weakness_description and item.weakness_description != item.weakness_name:
        return f"{item.weakness_name}\n\n{item.weakness_description}"
    return item.weakness_name


def office(item: PoamItem, header: Header) -> str:
    """Office/Org: the system's organization, else the item's point of contact."""
    return header.component or item.point_of_contact or ""


def milestones_cell(item: PoamItem) -> str:
    """Milestone with Completion Dates: `(1) text 01/15/2026`, one a line."""
    return "\n".join(f"({m.number}) {m.text} {mdy(m.date)}" for m in item.milestones)


def changes_cell(item: PoamItem) -> str:
    """Milestone Changes: `(2) Update: text 02/01/2026`, one a line."""
    return "\n".join(f"({c.number}) {c.kind.value}: {c.text} {mdy(c.date)}" for c in item.milestone_changes)


def _current(item: PoamItem) -> Level:
    return item.adjusted_risk or item.original_risk


def _proposed(item: PoamItem, extra: Extra) -> str:
    level = extra.proposed_risk or item.adjusted_risk
    return LEVELS[level] if level else ""


def classic_row(item: PoamItem, extra: Extra, header: Header) -> list[Any]:
    """The 25 cells of an item's row in the classic layout."""
    state = status(item, extra)
    accepted = state == STATUS_ACCEPTED
    return [
        item.poam_id,
        (description(item), LIMITS["description"]),
        ", ".join(item.controls),
        (office(item, header), LIMITS["office"]),
        item.source_identifier,
        (item.resources_text() or "", LIMITS["resources"]),
        "" if accepted else mdy(item.scheduled_completion_date),
        "" if accepted else milestones_cell(item),
        "" if accepted else changes_cell(item),
        (item.detector_source, LIMITS["source"]),
        state,
        comments(item, extra, state),
        CATEGORIES[item.original_risk],
        "\n".join(item.asset_lines()),
        (item.deviation_rationale or "", LIMITS["mitigations"]),
        "",
        LEVELS[item.original_risk],
        "",
        "",
        "",
        "",
        "",
        LEVELS[_current(item)],
        item.recommendation or "",
        _proposed(item, extra),
    ]


@dataclass(frozen=True, slots=True)
class _Step:
    number: int
    text: str
    date: dt.date
    done: dt.date | None
    notes: str


def steps(item: PoamItem) -> list[_Step]:
    """The item's milestones, with the ones New changes added; Update and Complete changes of a
    milestone become its status comments (and Complete its completion date)."""
    found = [
        _Step(m.number, m.text, m.date, m.completed_on if m.status == "complete" else None, "") for m in item.milestones
    ]
    known = {s.number for s in found}
    for c in item.milestone_changes:
        if c.kind is ChangeKind.NEW and c.number not in known:
            found.append(_Step(c.number, c.text, c.date, None, ""))
            known.add(c.number)
    out = []
    for s in found:
        mine = [c for c in item.milestone_changes if c.number == s.number and c.kind is not ChangeKind.NEW]
        done = s.done or next((c.date for c in mine if c.kind is ChangeKind.COMPLETE), None)
        notes = "\n".join(f"{c.kind.value} {mdy(c.date)}: {c.text}" for c in mine)
        out.append(_Step(s.number, s.text, s.date, done, notes))
    return sorted(out, key=lambda s: s.number)


def milestone_rows(item: PoamItem, extra: Extra, header: Header) -> Iterator[list[Any]]:
    """The item's rows in the milestone-rows layout (columns A-AG): one per milestone, or one
    with the milestone columns blank (a risk-accepted item has none in eMASS)."""
    state = status(item, extra)
    accepted = state == STATUS_ACCEPTED
    completed = item.closed_at if state in (STATUS_COMPLETED, STATUS_NA) else None
    head = [
        "",
        item.poam_id,
        (description(item), LIMITS["description"]),
        ", ".join(item.controls),
        item.source_identifier,
        state,
        "" if accepted else mdy(item.scheduled_completion_date),
        "",
        mdy(completed),
    ]
    tail = [
        (item.detector_source, LIMITS["source"]),
        "",
        (office(item, header), LIMITS["office"]),
        (item.resources_text() or "", LIMITS["resources"]),
        comments(item, extra, state),
        CATEGORIES[item.original_risk],
        "\n".join(item.asset_lines()),
        (item.deviation_rationale or "", LIMITS["mitigations"]),
        "",
        LEVELS[item.original_risk],
        "",
        "",
        "",
        "",
        "",
        LEVELS[_current(item)],
        item.recommendation or "",
        _proposed(item, extra),
    ]
    planned = [] if accepted else steps(item)
    if not planned:
        yield [*head, "", "", "", "", "", "", *tail]
        return
    for s in planned:
        state_text = "Completed" if s.done else "Pending"
        yield [*head, str(s.number), s.text, state_text, s.notes, mdy(s.date), mdy(s.done), *tail]


def write(
    path: Path, header: Header, items: Sequence[PoamItem], extras: dict[str, Extra], layout: str = "classic"
) -> dict[str, int]:
    """Write the workbook; returns the numbers of items and rows written."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}")
    columns = CLASSIC if layout == "classic" else MILESTONE_ROWS
    workbook = io.BytesIO()
    rows = 0
    with tempfile.TemporaryDirectory(prefix="poam-emass-") as scratch:
        book = xlsxwriter.Workbook(
            workbook,
            {
                "constant_memory": True,
                "tmpdir": scratch,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        base = {"font_name": "Arial", "font_size": 10, "valign": "top"}
        f = book.add_format
        cells = CellWriter(
            f({**base, "text_wrap": True, "border": 1}),
            f({**base, "text_wrap": True, "border": 1, "quote_prefix": True}),
            f({**base, "border": 1, "num_format": "mm/dd/yyyy"}),
            f({**base, "border": 1}),
        )
        label = f({**base, "bold": True})
        value = CellWriter(f(base), f({**base, "quote_prefix": True}), f(base), f(base))
        head = f({**base, "bold": True, "text_wrap": True, "border": 1, "bg_color": "#D9D9D9", "valign": "vcenter"})
        ws = book.add_worksheet(SHEET)
        for col, title in enumerate(columns):
            ws.set_column(col, col, 14 if len(title) < 14 else min(40, max(18, len(title) // 2)))
        values = (
            mdy(header.exported_on),
            header.exported_by,
            header.component or "",
            header.system_name,
            "",
            "",
            header.poc_name or "",
            "",
            "",
        )
        block: dict[int, list[tuple[int, str, int, str]]] = {}
        for (row, lcol, vcol), text, val in zip(_BLOCK[layout], _LABELS, values, strict=True):
            block.setdefault(row, []).append((lcol, text, vcol, val))
        for row in sorted(block):  # constant_memory: rows in order
            for lcol, text, vcol, val in block[row]:
                ws.write_string(row - 1, lcol, text, label)
                value.write(ws, row - 1, vcol, val)
        ws.set_row(HEADER_ROW - 1, 45)
        for col, title in enumerate(columns):
            ws.write_string(HEADER_ROW - 1, col, title, head)
        r = HEADER_ROW
        for item in items:
            extra = extras.get(item.poam_id, Extra())
            produced = (
                [classic_row(item, extra, header)] if layout == "classic" else milestone_rows(item, extra, header)
            )
            for cells_of_row in produced:
                for col, cell in enumerate(cells_of_row):
                    if isinstance(cell, tuple):
                        cells.write(ws, r, col, cell[0], cell[1])
                    else:
                        cells.write(ws, r, col, cell)
                r += 1
                rows += 1
        ws.freeze_panes(HEADER_ROW, 0)
        ws.autofilter(HEADER_ROW - 1, 0, max(HEADER_ROW - 1, r - 1), len(columns) - 1)
        try:
            book.close()
        except FileCreateError as exc:  # XlsxWriter wraps the OSError (disk full, no permission)
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, OSError):
                raise cause from None
            raise
    path.write_bytes(workbook.getbuffer())
    return {"items": len(items), "rows": rows}
