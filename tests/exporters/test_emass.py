"""The eMASS POA&M workbook: the classic layout (domain spec §4.2) and the one-row-per-milestone layout
(rules-2026 §5, C-PAT's `poamexporting` mapping), checked cell by cell against values written by hand."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, select

from poam.domain.models import (
    AffectedAsset,
    ChangeKind,
    ItemStatus,
    Level,
    Milestone,
    MilestoneChange,
    PoamItem,
    YesNo,
)
from poam.exporters import emass
from poam.parsers.stig_ckl import StigCklParser
from poam.services import deviations, systems
from poam.services.exporting_more import export_emass
from poam.services.importer import import_file
from poam.store.tables import audit_events
from tests.builders import Host, Item, write_nessus
from tests.parsers.test_stig_ckl import ckl, vuln, write

HEADER = emass.Header("Example System", "Example Org", "alice", dt.date(2026, 3, 2), "Jane Doe")
HOSTILE = ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\uff1dcmd", "\uff20SUM(A1)"]

# Column headers on row 7, as domain-spec §4.2 lists them (with the trailing and leading spaces).
CLASSIC_HEADERS = [
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
]
# C-PAT's poamexporting.rst: the eMASS column of each letter C-AG.
MILESTONE_HEADERS = {
    "C": "Control Vulnerability Description",
    "D": "Controls / APs",
    "E": "Security Checks",
    "F": "POA&M Status",
    "G": "POA&M Scheduled Completion Date",
    "H": "POA&M Requested Risk Accepted Expiration Date",
    "I": "POA&M Completion Date",
    "J": "Milestone ID",
    "K": "Milestone Description",
    "L": "Milestone Status",
    "M": "Milestone Status Comments",
    "N": "Milestone Scheduled Completion Date",
    "O": "Milestone Completion Date",
    "P": "Identification Source",
    "Q": "Identification Source Details",
    "R": "Office/Org",
    "S": "Resources Required",
    "T": "Comments",
    "U": "Raw Severity",
    "V": "Devices Affected",
    "W": "Mitigations (in-house and in conjunction with the Navy CSSP)",
    "X": "Predisposing Conditions",
    "Y": "Severity",
    "Z": "Relevance of Threat",
    "AA": "Threat Description",
    "AB": "Likelihood",
    "AC": "Impact",
    "AD": "Impact Description",
    "AE": "Residual Risk Level",
    "AF": "Recommendations",
    "AG": "Resulting Residual Risk after Proposed Mitigations",
}


def make_item(poam_id: str, status: ItemStatus = ItemStatus.OPEN, **kw: Any) -> PoamItem:
    base: dict[str, Any] = {
        "poam_id": poam_id,
        "status": status,
        "weakness_name": "Weak TLS",
        "weakness_description": "TLS 1.0 is enabled.",
        "detector_source": "Nessus",
        "source_identifier": "12345",
        "detection_date": dt.date(2026, 1, 5),
        "scheduled_completion_date": dt.date(2026, 2, 4),
        "status_date": dt.date(2026, 1, 5),
        "original_risk": Level.CRITICAL,
        "controls": ("RA-5", "SI-2"),
        "assets": (AffectedAsset("web01.example.com", "443/tcp"), AffectedAsset("10.0.0.2", "")),
        "milestones": (Milestone(1, dt.date(2026, 2, 4), "Patch"),),
        "resources_required": "Two admin hours",
        "recommendation": "Disable TLS 1.0.",
    }
    base.update(kw)
    return PoamItem(**base)


def sheet(path: Path) -> Any:
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["POA&M"]
    return wb["POA&M"]


def test_classic_layout_cells(tmp_path: Path) -> None:
    out = tmp_path / "emass.xlsx"
    open_item = make_item("V-1", comments="Waiting on the change board.", adjusted_risk=None)
    closed = make_item("V-2", ItemStatus.CLOSED, closed_at=dt.date(2026, 2, 1), original_risk=Level.LOW)
    fp = make_item("V-3", ItemStatus.CLOSED, closed_at=dt.date(2026, 2, 2), false_positive=YesNo.YES)
    accepted = make_item(
        "V-4",
        original_risk=Level.MODERATE,
        adjusted_risk=Level.LOW,
        operational_requirement=YesNo.YES,
        deviation_rationale="Operational Requirement : the vendor ships no fix",
    )
    extras = {"V-1": emass.Extra(ccis=("CCI-000366", "002605"), proposed_risk=Level.MODERATE)}
    counts = emass.write(out, HEADER, [open_item, closed, fp, accepted], extras, "classic")
    assert counts == {"items": 4, "rows": 4}
    ws = sheet(out)
    assert [ws.cell(7, c).value for c in range(1, 26)] == CLASSIC_HEADERS
    assert ws.max_column == 25
    # header block (rows 2-6)
    assert (ws["A2"].value, ws["C2"].value) == ("Date Exported:", "03/02/2026")
    assert (ws["A3"].value, ws["C3"].value) == ("Exported By:", "alice")
    assert (ws["A4"].value, ws["C4"].value) == ("DoD Component:", "Example Org")
    assert (ws["A5"].value, ws["C5"].value) == ("System / Project Name:", "Example System")
    assert (ws["I4"].value, ws["J4"].value) == ("POC Name:", "Jane Doe")
    row = {CLASSIC_HEADERS[c - 1]: ws.cell(8, c).value for c in range(1, 26)}
    assert row["POA&M Item ID"] == "V-1"
    assert row["Control Vulnerability Description"] == "Weak TLS\n\nTLS 1.0 is enabled."
    assert row["Security Control Number (NC/NA controls only)"] == "RA-5, SI-2"
    assert row["Office/Org"] == "Example Org"
    assert row["Security Checks"] == "12345"
    assert row["Resources Required"] == "Two admin hours"
    assert row["Scheduled Completion Date"] == "02/04/2026"
    assert row["Milestone with Completion Dates"] == "(1) Patch 02/04/2026"
    assert row["Source Identifying Vulnerability "] == "Nessus"
    assert row["Status"] == "Ongoing"
    assert row["Comments"] == "CCI-000366\nCCI-002605\n\nControls: RA-5, SI-2\n\nWaiting on the change board."
    assert row[" Raw Severity"] == "I"
    assert row["Devices Affected"] == "web01.example.com (443/tcp)\n10.0.0.2"
    assert row["Severity"] == "Very High"
    assert row["Residual Risk Level"] == "Very High"
    assert row["Recommendations"] == "Disable TLS 1.0."
    assert row["Resulting Residual Risk after Proposed Mitigations"] == "Moderate"
    assert row["Likelihood"] is None and row["Predisposing Conditions"] is None  # poam has no such data
    # closed: Completed, with the day it closed in Comments; Low is CAT III
    assert (ws["K9"].value, ws["M9"].value, ws["Q9"].value) == ("Completed", "III", "Low")
    assert "Completed 02/01/2026" in ws["L9"].value
    # closed as a false positive: Not Applicable
    assert ws["K10"].value == "Not Applicable"
    # an approved operational requirement: Risk Accepted, no scheduled date or milestones (eMASS refuses them)
    assert ws["K11"].value == "Risk Accepted"
    assert ws["G11"].value is None and ws["H11"].value is None
    assert "Risk accepted: Operational Requirement : the vendor ships no fix" in ws["L11"].value
    assert (ws["M11"].value, ws["Q11"].value, ws["W11"].value) == ("II", "Moderate", "Low")


def test_milestone_rows_layout(tmp_path: Path) -> None:
    out = tmp_path / "emass.xlsx"
    item = make_item(
        "V-7",
        milestones=(
            Milestone(1, dt.date(2026, 2, 4), "Patch", "complete", dt.date(2026, 2, 3)),
            Milestone(2, dt.date(2026, 2, 20), "Rescan"),
        ),
        milestone_changes=(
            MilestoneChange(2, ChangeKind.UPDATE, dt.date(2026, 2, 10), "moved: the window slipped"),
            MilestoneChange(3, ChangeKind.NEW, dt.date(2026, 3, 1), "Decommission the old host"),
        ),
    )
    accepted = make_item("V-8", original_risk=Level.MODERATE, operational_requirement=YesNo.YES)
    counts = emass.write(out, HEADER, [item, accepted], {}, "milestone-rows")
    assert counts == {"items": 2, "rows": 4}
    ws = sheet(out)
    for letter, title in MILESTONE_HEADERS.items():
        assert ws[f"{letter}7"].value == title, letter
    assert ws.max_column == 33
    assert (ws["D2"].value, ws["D3"].value, ws["D4"].value, ws["D5"].value) == (
        "03/02/2026",
        "alice",
        "Example Org",
        "Example System",
    )
    assert ws["M4"].value == "Jane Doe"
    rows = [[ws[f"{c}{r}"].value for c in ("B", "F", "G", "J", "K", "L", "M", "N", "O")] for r in range(8, 12)]
    assert rows == [
        ["V-7", "Ongoing", "02/04/2026", "1", "Patch", "Completed", None, "02/04/2026", "02/03/2026"],
        [
            "V-7",
            "Ongoing",
            "02/04/2026",
            "2",
            "Rescan",
            "Pending",
            "Update 02/10/2026: moved: the window slipped",
            "02/20/2026",
            None,
        ],
        ["V-7", "Ongoing", "02/04/2026", "3", "Decommission the old host", "Pending", None, "03/01/2026", None],
        ["V-8", "Risk Accepted", None, None, None, None, None, None, None],
    ]
    assert ws["A8"].value is None  # eMASS assigns its own POA&M Item ID
    # the item's columns repeat on each of its rows
    assert [ws[f"V{r}"].value for r in (8, 9, 10)] == ["web01.example.com (443/tcp)\n10.0.0.2"] * 3
    assert (ws["U8"].value, ws["Y8"].value, ws["P8"].value) == ("I", "Very High", "Nessus")  # CAT I, Severity


def test_emass_field_limits(tmp_path: Path) -> None:
    out = tmp_path / "emass.xlsx"
    item = make_item("V-1", weakness_description="d" * 5000, resources_required="r" * 400)
    emass.write(out, emass.Header("S", "o" * 300, "a", dt.date(2026, 1, 1)), [item], {})
    ws = sheet(out)
    assert len(ws["B8"].value) == 2000 and ws["B8"].value.startswith("Weak TLS\n\nddd")
    assert len(ws["F8"].value) == 250
    assert len(ws["D8"].value) == 100


@pytest.mark.parametrize("layout", emass.LAYOUTS)
def test_no_cell_becomes_a_formula(tmp_path: Path, layout: str) -> None:
    out = tmp_path / "emass.xlsx"
    items = [
        make_item(
            f"V-{n}",
            weakness_name=payload,
            assets=(AffectedAsset(payload, ""),),
            comments=payload,
            milestones=(Milestone(1, dt.date(2026, 2, 4), payload),),
        )
        for n, payload in enumerate(HOSTILE, start=1)
    ]
    emass.write(
        out, emass.Header(HOSTILE[0], HOSTILE[1], HOSTILE[2], dt.date(2026, 1, 1), HOSTILE[3]), items, {}, layout
    )
    ws = sheet(out)
    seen = set()
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
            if isinstance(cell.value, str) and cell.value in HOSTILE:
                assert cell.quotePrefix, cell.coordinate
                seen.add(cell.value)
    assert seen == set(HOSTILE)  # every payload written, each as quote-prefixed text


def _ckl_and_nessus(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(StigCklParser())
    systems.add_system(engine, "dod", "t", org="Navy Program Office", impact="moderate")
    checklist = write(tmp_path, ckl([vuln("V-254239", "Open", "medium", ccis=("CCI-000366",))]))
    import_file(engine, checklist, system="dod", scan_date=dt.datetime(2026, 3, 1), actor="t")
    nessus = write_nessus(
        tmp_path / "scan.nessus",
        [
            Host(
                "db",
                ip="10.0.0.9",
                start=dt.datetime(2026, 3, 2, 9, 0),
                items=[Item("300", cvss3=7.5, name='=HYPERLINK("http://evil","click")', cves=("CVE-2026-1",))],
            )
        ],
    )
    import_file(engine, nessus, system="dod", actor="t")


def test_export_from_the_database_with_ccis(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    _ckl_and_nessus(engine, register_parser, tmp_path)
    deviations.request(engine, "dod", "V-2", "alice", "ra", "=cmd WAF in front", adjusted_risk="moderate")
    out = tmp_path / "emass.xlsx"
    result = export_emass(engine, out, "dod", "alice", "classic", dt.date(2026, 3, 5))
    assert (result.items, result.detail["rows"]) == (2, 2)
    ws = sheet(out)
    by_id = {ws[f"A{r}"].value: r for r in (8, 9)}
    cfg, vul = by_id["V-1"], by_id["V-2"]
    assert ws[f"C{cfg}"].value == "CM-6"  # CCI-000366 maps to CM-6 in DISA's list
    assert ws[f"L{cfg}"].value.startswith("CCI-000366")
    assert ws[f"E{cfg}"].value == "V-254239"
    assert ws[f"D{cfg}"].value == "Navy Program Office"
    assert ws[f"B{vul}"].value.startswith('=HYPERLINK("http://evil","click")') and ws[f"B{vul}"].quotePrefix
    assert ws[f"O{vul}"].value == "Risk Adjustment : =cmd WAF in front"
    assert ws[f"Y{vul}"].value == "Moderate"  # what the pending risk adjustment asks for
    assert ws[f"M{vul}"].value == "I" and ws[f"Q{vul}"].value == "High"
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f"
    with engine.connect() as conn:
        event = conn.execute(
            select(audit_events.c.action, audit_events.c.detail).where(audit_events.c.action == "export.emass")
        ).one()
    detail = json.loads(event.detail)
    assert detail["layout"] == "classic" and detail["items"] == 2 and detail["file"] == str(out)
    assert detail["scope"] == "all"
    # --scope late: V-2 (High, detected 2026-03-02) was due 2026-04-01; V-1 (Moderate) is due in May
    late = tmp_path / "late.xlsx"
    result = export_emass(engine, late, "dod", "alice", "milestone-rows", dt.date(2026, 4, 15), scope="late")
    ws = sheet(late)
    assert result.items == 1 and ws["B8"].value == "V-2" and ws["B9"].value is None
