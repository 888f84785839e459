"""The FedRAMP workbook against the official template (v2.1, 2024-03-29)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine

from poam.domain.models import AffectedAsset, ItemStatus, Level, Milestone, PoamItem
from poam.exporters import fedramp_xlsx
from poam.services.exporting import export_fedramp
from poam.services.importer import import_file
from tests.builders import Host, Item, write_nessus
from tests.conftest import reference_file

POAM_SHEETS = ("Open POA&M Items", "Closed POA&M Items", "Configuration Findings")
HEADER = fedramp_xlsx.Header("Example CSP", "Example System", "Moderate", dt.date(2026, 2, 1))


def make_item(poam_id: str, status: ItemStatus = ItemStatus.OPEN, **kw: object) -> PoamItem:
    base: dict[str, object] = {
        "poam_id": poam_id,
        "status": status,
        "weakness_name": "Weak TLS",
        "weakness_description": "desc",
        "detector_source": "Nessus",
        "source_identifier": "12345",
        "detection_date": dt.date(2026, 1, 5),
        "scheduled_completion_date": dt.date(2026, 2, 4),
        "status_date": dt.date(2026, 1, 5),
        "original_risk": Level.CRITICAL,
        "controls": ("RA-5", "SI-2"),
        "assets": (AffectedAsset("web01.example.com", "443/tcp"), AffectedAsset("10.0.0.2", "")),
        "milestones": (Milestone(1, dt.date(2026, 2, 4), "Patch"),),
        "cves": ("CVE-2024-1", "CVE-2024-2"),
    }
    base.update(kw)
    return PoamItem(**base)  # type: ignore[arg-type]


def _lists(ws: openpyxl.worksheet.worksheet.Worksheet) -> dict[str, str]:
    """Column letter -> list formula, for every list validation."""
    found = {}
    for dv in ws.data_validations.dataValidation:
        if dv.type != "list":
            continue
        for rng in str(dv.sqref).split():
            letters = "".join(ch for ch in rng.split(":")[0] if ch.isalpha())
            last = "".join(ch for ch in rng.split(":")[-1] if ch.isalpha())
            for code in range(ord(letters[-1]), ord(last[-1]) + 1) if len(letters) == 1 else [0]:
                found[chr(code) if code else letters] = dv.formula1
    return found


def test_structure_matches_the_official_template(tmp_path: Path) -> None:
    template = openpyxl.load_workbook(reference_file("fedramp/FedRAMP-POAM-Template_2024-03-29.xlsx"))
    out = tmp_path / "poam.xlsx"
    fedramp_xlsx.write(out, HEADER, [make_item("V-1")])
    ours = openpyxl.load_workbook(out)
    assert ours.sheetnames == template.sheetnames
    for name in POAM_SHEETS:
        t, o = template[name], ours[name]
        assert [c.value for c in o[5]] == [c.value for c in t[5]][:31]
        assert len([c for c in o[5] if c.value]) == 31
        assert [o.cell(2, c).value for c in range(1, 5)] == [t.cell(2, c).value for c in range(1, 5)]
        assert o["A1"].value == t["A1"].value
        assert _lists(o) == _lists(t), name
    t, o = template["Open POA&M Items"], ours["Open POA&M Items"]
    for row in (6, 7):  # the guidance rows are kept as the template has them
        assert [c.value for c in o[row]][:31] == [c.value for c in t[row]][:31]
    rc_t, rc_o = template["Record of Changes"], ours["Record of Changes"]
    assert [[c.value for c in r] for r in rc_o.iter_rows(min_row=2, max_row=5, min_col=2, max_col=5)] == [
        [c.value for c in r] for r in rc_t.iter_rows(min_row=2, max_row=5, min_col=2, max_col=5)
    ]


def test_rows_dates_and_sheets(tmp_path: Path) -> None:
    out = tmp_path / "poam.xlsx"
    closed = make_item("V-2", ItemStatus.CLOSED, status_date=dt.date(2026, 1, 30), closed_at=dt.date(2026, 1, 30))
    config = make_item("V-3", is_config=True, source_identifier="CIS-1.1", controls=("CM-6",))
    counts = fedramp_xlsx.write(out, HEADER, [make_item("V-1"), closed, config])
    assert counts == {"Open POA&M Items": 1, "Closed POA&M Items": 1, "Configuration Findings": 1}
    wb = openpyxl.load_workbook(out)
    ws = wb["Open POA&M Items"]
    assert [ws.cell(3, c).value for c in range(1, 4)] == ["Example CSP", "Example System", "Moderate"]
    assert ws["D3"].value == dt.datetime(2026, 2, 1)
    row = {h: ws.cell(8, i + 1).value for i, h in enumerate(fedramp_xlsx.HEADERS)}
    assert row["POAM ID"] == "V-1" and row["Controls"] == "RA-5, SI-2"
    assert row["Weakness Source Identifier"] == 12345  # a number, as the template's validation wants
    assert row["Asset Identifier"] == "web01.example.com (443/tcp)\n10.0.0.2"
    assert row["Original Detection Date"] == dt.datetime(2026, 1, 5)  # a real Excel date
    assert ws.cell(8, 11).is_date
    assert row["Original Risk Rating"] == "High"  # Critical counts as High
    assert row["Adjusted Risk Rating"] == "N/A"
    assert row["Planned Milestones"] == "(1) 2026-02-04: Patch"
    assert row["Binding Operational Directive 22-01 tracking"] == "No"
    assert row["CVE"] == "CVE-2024-1, CVE-2024-2"
    assert wb["Closed POA&M Items"]["A6"].value == "V-2"
    assert wb["Configuration Findings"]["A6"].value == "V-3"
    assert wb["Configuration Findings"]["F6"].value == "CIS-1.1"


@pytest.mark.parametrize("payload", ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "=1+1"])
def test_no_cell_becomes_a_formula(tmp_path: Path, payload: str) -> None:
    out = tmp_path / "poam.xlsx"
    item = make_item(
        "V-1",
        weakness_name=payload,
        weakness_description=payload,
        remediation_plan=payload,
        assets=(AffectedAsset(payload, ""),),
    )
    header = fedramp_xlsx.Header(payload, payload, "Low", dt.date(2026, 1, 1))
    fedramp_xlsx.write(out, header, [item])
    wb = openpyxl.load_workbook(out)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate)
    ws = wb["Open POA&M Items"]
    assert ws["C8"].value == payload and ws["C8"].data_type == "s"
    assert ws["C8"].quotePrefix  # Excel keeps it literal even when the cell is edited
    assert ws["A3"].value == payload


def test_long_and_odd_text_survives(tmp_path: Path) -> None:
    out = tmp_path / "poam.xlsx"
    long_text = "x" * 40000
    item = make_item("V-1", weakness_description=long_text, comments="tab\tbell\x07 nul\x00 ok")
    fedramp_xlsx.write(out, HEADER, [item])
    ws = openpyxl.load_workbook(out)["Open POA&M Items"]
    assert len(ws["D8"].value) == fedramp_xlsx.CELL_LIMIT
    assert ws["D8"].value.endswith("[truncated: see the scan file for the full text]")
    assert ws["Z8"].value.startswith("tab\tbell")


def test_export_from_the_database(engine: Engine, tmp_path: Path) -> None:
    host = Host("web01", ip="10.0.0.1", items=[Item("100", severity=3), Item("200", severity=1)])
    import_file(engine, write_nessus(tmp_path / "a.nessus", [host]))
    out = tmp_path / "out.xlsx"
    result = export_fedramp(engine, out, None, "test", dt.date(2026, 2, 1))
    assert result.detail["Open POA&M Items"] == 2
    ws = openpyxl.load_workbook(out)["Open POA&M Items"]
    assert [ws.cell(r, 1).value for r in (8, 9, 10)] == ["V-1", "V-2", None]


@pytest.mark.parametrize(("source", "cell"), [("12345", 12345), ("00042", "00042"), ("²", "²"), ("PT-1", "PT-1")])
def test_source_identifier_numbers_only_when_plain_digits(tmp_path: Path, source: str, cell: object) -> None:
    out = tmp_path / "poam.xlsx"
    fedramp_xlsx.write(out, HEADER, [make_item("V-1", source_identifier=source)])
    assert openpyxl.load_workbook(out)["Open POA&M Items"]["F8"].value == cell
