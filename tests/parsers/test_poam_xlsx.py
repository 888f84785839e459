"""The POA&M workbook reader: the official FedRAMP template (v2.1 and the older .xlsm versions)
filled with hand-written rows, a workbook with the headers in another order, bad rows, hostile files."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest

from poam.domain.imported import ImportedItem
from poam.domain.models import ChangeKind, ItemStatus, Level, Milestone, MilestoneChange, YesNo
from poam.errors import InputError
from poam.parsers import inventory_xlsx, poam_xlsx
from tests.conftest import reference_file
from tests.fixtures import poam_workbooks as pw


@pytest.fixture(scope="module", params=sorted(pw.TEMPLATES))
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Each template version filled with the hand-written rows (read-only for the tests)."""
    template = reference_file(pw.TEMPLATES[request.param])
    return request.param, pw.fill_template(template, tmp_path_factory.mktemp("poam") / f"poam{template.suffix}")


def _by_id(book: poam_xlsx.Workbook) -> dict[str, ImportedItem]:
    return {i.item.poam_id: i for i in book.items}


def test_every_template_version_reads_the_same_items(filled: tuple[str, Path]) -> None:
    version, path = filled
    assert poam_xlsx.looks_like(path)
    book = poam_xlsx.read(path)
    found = _by_id(book)
    expected = ["V-1", "V-7", "V-3"] + (["CM-4"] if version == "2024" else [])  # Configuration Findings: v2.1
    assert list(found) == expected
    assert found["V-1"].where == "Open POA&M Items row 8"
    assert found["V-3"].where == "Closed POA&M Items row 6"
    v1 = found["V-1"].item
    assert v1.status is ItemStatus.OPEN and not v1.is_config
    assert v1.controls == ("AC-2", "SI-2")
    assert v1.source_identifier == "12345"
    assert found["V-1"].asset_text == "10.0.0.1 (443/tcp)\nhttps://portal.example.com/login"
    assert v1.detection_date == dt.date(2026, 1, 5)
    assert v1.scheduled_completion_date == dt.date(2026, 2, 4)
    assert v1.status_date == dt.date(2026, 2, 1)
    assert v1.milestones == (
        Milestone(1, dt.date(2026, 1, 15), "Test the new cipher list"),
        Milestone(2, dt.date(2026, 1, 30), "Deploy to production"),
    )
    assert v1.milestone_changes == (
        MilestoneChange(2, ChangeKind.UPDATE, dt.date(2026, 2, 1), "Delayed by the vendor's firmware release"),
    )
    assert (v1.vendor_dependency, v1.last_vendor_checkin, v1.vendor_product) == (
        YesNo.YES,
        dt.date(2026, 1, 28),
        "Example Firewall",
    )
    assert (v1.original_risk, v1.adjusted_risk) == (Level.HIGH, Level.MODERATE)
    assert (v1.risk_adjustment, v1.false_positive, v1.operational_requirement) == (
        YesNo.YES,
        YesNo.NO,
        YesNo.PENDING,
    )
    assert v1.deviation_rationale == (
        "Risk Adjustment : Reachable from the VPN only\n\nOperational Requirement : Legacy clients"
    )
    assert v1.supporting_documents == "Deviation Request : DR-1.docx"
    assert v1.vendor_release_date == dt.date(2026, 1, 20)  # the template's place for it: Comments' first line
    assert v1.comments == "Waiting for the maintenance window."
    assert (v1.kev, v1.kev_due_date, v1.cves) == (True, dt.date(2026, 1, 26), ("CVE-2024-1234", "CVE-2024-5678"))
    assert v1.service_names == ("Customer Portal\nAdmin API" if version == "2024" else None)
    assert found["V-1"].extra == {}  # a row written as the template asks needs nothing kept
    v3 = found["V-3"].item
    assert v3.status is ItemStatus.CLOSED and v3.closed_at == dt.date(2025, 5, 25)
    assert v3.milestones == (Milestone(1, dt.date(2025, 5, 20), "Upgrade httpd"),)
    assert v3.milestone_changes == (
        MilestoneChange(1, ChangeKind.COMPLETE, dt.date(2025, 5, 25), "Verified by a follow-up scan"),
    )
    if version == "2024":
        assert found["CM-4"].item.is_config and found["CM-4"].where == "Configuration Findings row 6"


def test_a_loosely_kept_row_is_read_and_its_cells_kept(filled: tuple[str, Path]) -> None:
    _version, path = filled
    v7 = _by_id(poam_xlsx.read(path))["V-7"]
    item = v7.item
    assert item.controls == ("AC-2", "SI-2")
    assert item.detection_date == dt.date(2026, 3, 2)  # 03/02/2026, month first as Excel in the US writes it
    assert item.original_risk is Level.MODERATE
    assert item.scheduled_completion_date == dt.date(2026, 5, 31)  # the template's formula: Moderate, +90 days
    assert item.status_date == dt.date(2026, 3, 2)
    assert item.milestones == ()
    assert item.comments == '=HYPERLINK("http://evil.example/x","click")'  # text, never a formula
    assert v7.extra["milestones_text"] == "call the vendor next week"
    cells = v7.extra["cells"]
    assert cells["Original Detection Date"] == ["03/02/2026", {"date": "2026-03-02"}]
    assert cells["Controls"] == ["AC-2;SI-2", "AC-2, SI-2"]
    assert cells["Planned Milestones"] == ["call the vendor next week", None]
    assert cells["Vendor Dependency"] == ["no", "No"]
    assert "Scheduled Completion Date" not in cells  # the export writes the date the formula gives


def test_a_row_that_cannot_be_read_is_one_warning_and_the_rest_imports(filled: tuple[str, Path]) -> None:
    _version, path = filled
    book = poam_xlsx.read(path)
    assert "V-8" not in _by_id(book)
    assert book.warnings == [
        "Open POA&M Items row 9, column M (Planned Milestones): not in the template's form (expected an entry "
        "like '(1) 2026-01-15: text', got 'call the vendor next week'); kept as free text",
        "Open POA&M Items row 10, column K (Original Detection Date): not a date: 'not a date'; row left out",
    ]


def test_headers_in_another_order_case_and_spacing(tmp_path: Path) -> None:
    path = pw.write_reordered(tmp_path / "ours.xlsx")
    book = poam_xlsx.read(path)
    found = _by_id(book)
    assert list(found) == ["V-1", "V-7", "V-3", "CM-4"]
    assert found["V-1"].where == "Open POA&M Items row 4"
    template = _by_id(poam_xlsx.read(pw.fill_template(reference_file(pw.TEMPLATES["2024"]), tmp_path / "t.xlsx")))
    for poam_id, imported in found.items():
        assert imported.item == template[poam_id].item
        assert imported.asset_text == template[poam_id].asset_text
    # the warning names the column where it is in this workbook (reversed: K is U here)
    assert book.warnings[-1] == (
        "Open POA&M Items row 6, column U (Original Detection Date): not a date: 'not a date'; row left out"
    )


def test_odd_values_are_warned_about_and_read_as_empty(tmp_path: Path) -> None:
    row = {
        **pw.V1,
        "Last Vendor Check-in Date": "soon",
        "Adjusted Risk Rating": "Medium-ish",
        "False Positive": "maybe",
        "Original Risk Rating": "critical",
    }
    path = pw.fill_template(reference_file(pw.TEMPLATES["2024"]), tmp_path / "p.xlsx", {pw.OPEN: [row]})
    book = poam_xlsx.read(path)
    item = book.items[0].item
    assert item.last_vendor_checkin is None and item.adjusted_risk is None
    assert item.false_positive is YesNo.NO
    assert item.original_risk is Level.CRITICAL  # FedRAMP's High
    assert book.warnings == [
        "Open POA&M Items row 8, column Q (Last Vendor Check-in Date): not a date: 'soon'; read as empty",
        "Open POA&M Items row 8, column T (Adjusted Risk Rating): not Low, Moderate or High: 'Medium-ish'; "
        "read as empty",
        "Open POA&M Items row 8, column V (False Positive): not Yes, No or Pending: 'maybe'; read as No",
    ]
    assert book.items[0].extra["cells"]["Last Vendor Check-in Date"] == ["soon", None]


def test_the_empty_template_has_no_items_and_its_example_row_is_left_out() -> None:
    book = poam_xlsx.read(reference_file(pw.TEMPLATES["2024"]))
    assert book.items == []
    assert book.warnings == [
        "Open POA&M Items row 8, column A (POAM ID): the template's example row 'V-1Example'; left out"
    ]


def test_the_header_block_gives_the_poam_date(tmp_path: Path) -> None:
    path = pw.fill_template(reference_file(pw.TEMPLATES["2024"]), tmp_path / "p.xlsx", poam_date=dt.date(2026, 11, 30))
    book = poam_xlsx.read(path)
    assert book.poam_date == dt.date(2026, 11, 30)
    assert {i.item.reported_at for i in book.items} == {dt.date(2026, 11, 30)}  # submitted: milestones permanent


def test_a_workbook_that_is_not_a_poam_is_refused(tmp_path: Path) -> None:
    inventory = reference_file("fedramp/SSP-Appendix-M-Integrated-Inventory-Workbook-Template.xlsx")
    assert not poam_xlsx.looks_like(inventory)
    with pytest.raises(InputError, match="not a POA&M workbook: no sheet has the FedRAMP POA&M header row"):
        poam_xlsx.read(inventory)
    text = tmp_path / "notes.xlsx"
    text.write_text("POAM ID,Weakness Name\n", encoding="utf-8")
    assert not poam_xlsx.looks_like(text)


def test_a_workbook_part_with_an_entity_declaration_is_refused(tmp_path: Path) -> None:
    good = pw.fill_template(reference_file(pw.TEMPLATES["2024"]), tmp_path / "p.xlsx")
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                head, mark, rest = data.partition(b"?>") if data.startswith(b"<?xml") else (b"", b"", data)
                data = head + mark + b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + rest
            dst.writestr(info, data)
    assert poam_xlsx.looks_like(bad)  # a workbook: refused by the reader with its reason, not sent elsewhere
    with pytest.raises(InputError, match="XML entity or document type declarations are not accepted"):
        poam_xlsx.read(bad)


def test_a_workbook_expanding_past_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = pw.fill_template(reference_file(pw.TEMPLATES["2024"]), tmp_path / "p.xlsx")
    monkeypatch.setattr(inventory_xlsx, "MAX_UNCOMPRESSED", 10_000)  # the same check, with a limit this file passes
    with pytest.raises(InputError, match="expands to more than"):
        poam_xlsx.read(path)


def test_formula_text_is_read_as_text(tmp_path: Path) -> None:
    row = {**pw.V1, "Weakness Name": "=1+1", "Point of Contact": "@SUM(A1)", "Comments": "+cmd|' /C calc'!A0"}
    path = pw.fill_template(reference_file(pw.TEMPLATES["2024"]), tmp_path / "p.xlsx", {pw.OPEN: [row]})
    ws = openpyxl.load_workbook(path)[pw.OPEN]
    assert ws["C8"].data_type == "s"  # the fixture holds text, not a formula
    item = poam_xlsx.read(path).items[0].item
    assert (item.weakness_name, item.point_of_contact, item.comments) == ("=1+1", "@SUM(A1)", "+cmd|' /C calc'!A0")
