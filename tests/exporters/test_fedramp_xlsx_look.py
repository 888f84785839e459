"""The workbook looks like the official template v2.1 (2024-03-29) when opened: fonts, fills, column
widths, row heights, conditional formats, validations with their prompts, frozen panes, print setup.
Every property is read from the official file in the test, not written out from our code."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from poam.domain.models import AffectedAsset, ChangeKind, ItemStatus, Level, Milestone, MilestoneChange, YesNo
from poam.exporters import fedramp_xlsx
from tests.conftest import reference_file
from tests.exporters.test_fedramp_xlsx import HEADER, make_item

POAM_SHEETS = ("Open POA&M Items", "Closed POA&M Items", "Configuration Findings")
THEME = {0: "FFFFFFFF", 1: "FF000000"}  # the template's theme: lt1 white, dk1 black


@pytest.fixture(scope="module")
def template() -> openpyxl.Workbook:
    return openpyxl.load_workbook(reference_file("fedramp/FedRAMP-POAM-Template_2024-03-29.xlsx"))


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    out = tmp_path_factory.mktemp("look") / "poam.xlsx"
    items = [
        make_item("V-1"),
        make_item("V-2"),
        make_item("V-3", ItemStatus.CLOSED, closed_at=dt.date(2026, 1, 30)),
        make_item("V-4", is_config=True, source_identifier="CIS-1.1"),
    ]
    fedramp_xlsx.write(out, HEADER, items)
    return openpyxl.load_workbook(out)


def _color(color: Any) -> str:
    if color is None:
        return "FF000000"  # no colour: the automatic black
    if color.type == "theme":
        return THEME[color.theme]
    return str(color.rgb)


def _look(cell: Any) -> tuple[Any, ...]:
    font, fill, align = cell.font, cell.fill, cell.alignment
    return (
        font.name,
        font.sz,
        bool(font.b),
        _color(font.color),
        str(fill.fgColor.rgb) if fill.fill_type == "solid" else None,
        align.horizontal,
        align.vertical,
        bool(align.wrap_text),
    )


def test_sheets_in_the_template_order(template: openpyxl.Workbook, ours: openpyxl.Workbook) -> None:
    assert ours.sheetnames == template.sheetnames
    assert ours.active.title == template.active.title == "Open POA&M Items"


@pytest.mark.parametrize("name", POAM_SHEETS)
def test_header_block_and_headers_look_like_the_template(
    template: openpyxl.Workbook, ours: openpyxl.Workbook, name: str
) -> None:
    t, o = template[name], ours[name]
    cells = ["A1", "A2", "B2", "C2", "D2"] + [f"{fedramp_xlsx.style.column_letter(i)}5" for i in range(31)]
    for ref in cells:
        if ref == "AE5" and name != "Open POA&M Items":
            # the template left Service Name unstyled on these two sheets (a quirk): ours is a header like the rest
            assert not t[ref].font.b and _look(o[ref]) == _look(t["AD5"])
            continue
        assert _look(o[ref]) == _look(t[ref]), (name, ref)
    for ref in ("A3", "B3", "C3", "D3"):  # the values: the template's look, with the text put in
        assert _look(o[ref]) == _look(t[ref]), (name, ref)
        assert o[ref].border.left.style == t[ref].border.left.style == "thin"
        assert o[ref].border.left.color.rgb == t[ref].border.left.color.rgb
    assert o["D3"].number_format == t["D3"].number_format
    assert o.merged_cells.ranges == t.merged_cells.ranges


def test_guidance_rows_look_like_the_template(template: openpyxl.Workbook, ours: openpyxl.Workbook) -> None:
    t, o = template["Open POA&M Items"], ours["Open POA&M Items"]
    for col in range(1, 32):
        for row in (6, 7):
            assert o.cell(row, col).value == t.cell(row, col).value
            tl, ol = _look(t.cell(row, col)), _look(o.cell(row, col))
            # font, colour, fill and wrapping as the template; alignment left to the default in both
            assert (ol[0], ol[1], ol[2], ol[3], ol[4], ol[7]) == (tl[0], tl[1], tl[2], tl[3], tl[4], tl[7]), (row, col)


def test_item_cells_like_the_template_example_row(template: openpyxl.Workbook, ours: openpyxl.Workbook) -> None:
    t, o = template["Open POA&M Items"], ours["Open POA&M Items"]
    for col in range(1, 32):
        tc, oc = t.cell(8, col), o.cell(8, col)
        if oc.value is None:
            continue
        assert (oc.font.name, oc.font.sz) == (tc.font.name, tc.font.sz) == ("Arial", 10)
        assert not oc.font.i  # the example row is in italics; real items are not
        assert (oc.alignment.horizontal, oc.alignment.vertical) == (tc.alignment.horizontal, tc.alignment.vertical)
        if tc.is_date:
            assert oc.number_format == tc.number_format == "mm-dd-yy"
    assert o["D8"].alignment.wrap_text


def _pixels(ws: Worksheet, col: int) -> int:
    width = ws.sheet_format.defaultColWidth
    for dim in ws.column_dimensions.values():
        if dim.min and dim.max and dim.min <= col <= dim.max and dim.width:
            width = dim.width
    return int(width * 7 + 0.5)  # Excel shows a width of w characters of Arial 10 as this many pixels


@pytest.mark.parametrize("name", [*POAM_SHEETS, "Record of Changes"])
def test_column_widths(template: openpyxl.Workbook, ours: openpyxl.Workbook, name: str) -> None:
    last = 31 if name in POAM_SHEETS else 5
    assert [_pixels(ours[name], c) for c in range(1, last + 1)] == [
        _pixels(template[name], c) for c in range(1, last + 1)
    ]


def _height(ws: Worksheet, row: int) -> int:
    """A row's height in screen pixels (points are kept to the quarter, so compare what shows)."""
    found = ws.row_dimensions[row].height if row in ws.row_dimensions else None
    return round((found if found is not None else ws.sheet_format.defaultRowHeight) * 4 / 3)


def test_row_heights_of_the_fixed_rows(template: openpyxl.Workbook, ours: openpyxl.Workbook) -> None:
    for row in (1, 2, 3, 4, 5, 6, 7):
        assert _height(ours["Open POA&M Items"], row) == _height(template["Open POA&M Items"], row), row
    for name in POAM_SHEETS[1:]:
        for row in (1, 2, 3, 4):
            assert _height(ours[name], row) == _height(template[name], row), (name, row)
        # the template's header row there is one line (15.75 points, 21 pixels), which cuts off
        # `Binding Operational Directive 22-01 tracking`: ours is tall enough for three lines
        assert _height(template[name], 5) == 21
        assert ours[name].row_dimensions[5].height >= 3 * 12.75


def test_frozen_panes(template: openpyxl.Workbook, ours: openpyxl.Workbook) -> None:
    for name in template.sheetnames:
        assert ours[name].freeze_panes == template[name].freeze_panes, name


def test_print_setup(template: openpyxl.Workbook, ours: openpyxl.Workbook) -> None:
    for name in template.sheetnames:
        t, o = template[name], ours[name]
        assert o.page_setup.orientation == t.page_setup.orientation, name
        for side in ("left", "right", "top", "bottom", "header", "footer"):
            assert getattr(o.page_margins, side) == getattr(t.page_margins, side), (name, side)
        assert not o.sheet_properties.pageSetUpPr or not o.sheet_properties.pageSetUpPr.fitToPage  # as the template
    for name in POAM_SHEETS:  # our addition: the column headers repeat on every printed page
        assert ours[name].print_title_rows == "$5:$5"
        assert template[name].print_title_rows is None


def _rules(ws: Worksheet) -> list[tuple[Any, ...]]:
    found = []
    for cf in ws.conditional_formatting:
        first = str(cf.sqref).split()[0].split(":")[0]
        for rule in cf.rules:
            fill = rule.dxf.fill.bgColor.rgb if rule.dxf and rule.dxf.fill else None
            font = _color(rule.dxf.font.color) if rule.dxf and rule.dxf.font and rule.dxf.font.color else None
            formula = rule.formula[0] if rule.type == "expression" else None
            text = rule.text if rule.type == "containsText" else None
            found.append((rule.priority, first, rule.type, formula, text, fill, font))
    return [r[1:] for r in sorted(found)]


@pytest.mark.parametrize("name", POAM_SHEETS)
def test_conditional_formats(template: openpyxl.Workbook, ours: openpyxl.Workbook, name: str) -> None:
    assert _rules(ours[name]) == _rules(template[name])
    if name == "Open POA&M Items":
        kinds = {r[2] for r in _rules(ours[name]) if r[0] in ("M8", "N8")}
        assert any("refind(M8" in (k or "") for k in kinds) and any("refind(N8" in (k or "") for k in kinds)


def _banding_end(ws: Worksheet) -> str:
    return next(str(cf.sqref) for cf in ws.conditional_formatting if cf.rules[0].formula == ["MOD(ROW(),2)=0"])


def test_banding_covers_the_template_rows(template: openpyxl.Workbook, ours: openpyxl.Workbook) -> None:
    assert _banding_end(ours["Open POA&M Items"]) == _banding_end(template["Open POA&M Items"]) == "A8:AE4022"
    # the template bands Closed and Configuration Findings to AD only (a quirk): we band every column
    assert _banding_end(template["Closed POA&M Items"]) == "A6:AD1000"
    assert _banding_end(ours["Closed POA&M Items"]) == "A6:AE1000"


def _validations(ws: Worksheet, row: int) -> dict[str, tuple[Any, ...]]:
    """Column letter -> the validation of that column on `row` (and of C3/D3)."""
    found = {}
    for dv in ws.data_validations.dataValidation:
        for rng in str(dv.sqref).split():
            a, _, b = rng.partition(":")
            b = b or a
            ra, rb = int(re.sub(r"[A-Z]", "", a)), int(re.sub(r"[A-Z]", "", b))
            ca, cb = (fedramp_xlsx.style.column_index(re.sub(r"\d", "", x)) for x in (a, b))
            for c in range(ca, cb + 1):
                letter = fedramp_xlsx.style.column_letter(c)
                for r in (row, 3):
                    if ra <= r <= rb and (r == row or letter in "CD"):
                        key = letter if r == row else f"{letter}3"
                        found[key] = (
                            dv.type,
                            dv.operator,
                            dv.formula1,
                            dv.formula2,
                            dv.prompt,
                            bool(dv.showInputMessage),
                            bool(dv.showErrorMessage),
                            bool(dv.allow_blank),
                        )
    return found


@pytest.mark.parametrize(
    ("name", "template_row", "our_row"), [(POAM_SHEETS[0], 8, 8), *[(n, 5, 6) for n in POAM_SHEETS[1:]]]
)
def test_validations_and_their_prompts(
    template: openpyxl.Workbook, ours: openpyxl.Workbook, name: str, template_row: int, our_row: int
) -> None:
    """The template's rules on its first item row (Open) or on its header row (the other sheets
    validate nothing else); ours on every item row. Deliberate differences, written out: column F's
    number-only rule is left off (a source identifier may be text, e.g. `CIS-1.1` or `None`), the
    AC date rule (only on AC7:AC8 in the template) applies to every row, and column P's prompt says
    `Yes,No` where the template's wrongly offers `Yes,No,Pending`."""
    t = _validations(template[name], template_row)
    o = _validations(ours[name], our_row)
    assert t["F"][0] == "decimal" and "F" not in o
    assert t["P"][4] == "Yes,No,Pending" and o["P"][4] == "Yes,No"
    expected = {k: v for k, v in t.items() if k not in ("F", "P")}
    expected["AC"] = t.get("AC", t["Q"])  # the same date rule as Q on the sheets where AC has none
    assert {k: v for k, v in o.items() if k != "P"} == expected
    assert o["P"][:4] == t["P"][:4]
    assert o["C3"] == t["C3"] and o["D3"] == t["D3"]
    assert set(o) == {"C3", "D3", "K", "L", "O", "P", "Q", "S", "T", "U", "V", "W", "AC"}
    # and they reach as far down as the template's
    last = 4022 if name == POAM_SHEETS[0] else 1000
    assert set(_validations(ours[name], last)) == set(o)


FULL = make_item(
    "V-7",
    weakness_name="OpenSSL 3.0 < 3.0.14",
    weakness_description="The remote host runs OpenSSL 3.0.13.",
    detector_source="Nessus",
    source_identifier="200000",
    assets=(AffectedAsset("web01.example.com", "443/tcp"),),
    point_of_contact="Jane Roe",
    hours=6,
    resources_required="one change window",
    remediation_plan="Upgrade OpenSSL",
    milestones=(Milestone(1, dt.date(2026, 2, 4), "Patch"), Milestone(2, dt.date(2026, 3, 1), "Verify")),
    milestone_changes=(MilestoneChange(1, ChangeKind.UPDATE, dt.date(2026, 1, 20), "Vendor slipped"),),
    status_date=dt.date(2026, 1, 20),
    vendor_dependency=YesNo.YES,
    last_vendor_checkin=dt.date(2026, 1, 18),
    vendor_product="OpenSSL",
    original_risk=Level.HIGH,
    adjusted_risk=Level.MODERATE,
    risk_adjustment=YesNo.YES,
    false_positive=YesNo.NO,
    operational_requirement=YesNo.PENDING,
    deviation_rationale="Risk Adjustment : not reachable from the internet",
    supporting_documents="Deviation Request : DR-7.docx",
    comments="Tracked with the vendor",
    vendor_release_date=dt.date(2026, 1, 15),
    auto_approve=YesNo.YES,
    kev=True,
    kev_due_date=dt.date(2026, 1, 26),
    cves=("CVE-2024-5535",),
    service_names="Flux Capacitor\nFire Bolt",
    controls=("SI-2",),
)


def test_all_31_columns_filled_from_the_data(tmp_path: Path) -> None:
    out = tmp_path / "poam.xlsx"
    fedramp_xlsx.write(out, HEADER, [FULL])
    ws = openpyxl.load_workbook(out)["Open POA&M Items"]
    got = {ws.cell(5, c).value: ws.cell(8, c).value for c in range(1, 32)}
    day = dt.datetime
    assert got == {
        "POAM ID": "V-7",
        "Controls": "SI-2",
        "Weakness Name": "OpenSSL 3.0 < 3.0.14",
        "Weakness Description": "The remote host runs OpenSSL 3.0.13.",
        "Weakness Detector Source": "Nessus",
        "Weakness Source Identifier": 200000,
        "Asset Identifier": "web01.example.com (443/tcp)",
        "Point of Contact": "Jane Roe",
        "Resources Required": "6 staff hours; one change window",
        "Overall Remediation Plan": "Upgrade OpenSSL",
        "Original Detection Date": day(2026, 1, 5),
        "Scheduled Completion Date": day(2026, 2, 4),
        "Planned Milestones": "(1) 2026-02-04: Patch\n\n(2) 2026-03-01: Verify",
        "Milestone Changes": "(1) Update 2026-01-20 : Vendor slipped",
        "Status Date": day(2026, 1, 20),
        "Vendor Dependency": "Yes",
        "Last Vendor Check-in Date": day(2026, 1, 18),
        "Vendor Dependent Product Name": "OpenSSL",
        "Original Risk Rating": "High",
        "Adjusted Risk Rating": "Moderate",
        "Risk Adjustment": "Yes",
        "False Positive": "No",
        "Operational Requirement": "Pending",
        "Deviation Rationale": "Risk Adjustment : not reachable from the internet",
        "Supporting Documents": "Deviation Request : DR-7.docx",
        "Comments": "Vendor fix released 2026-01-15.\nTracked with the vendor",
        "Auto-Approve": "Yes",
        "Binding Operational Directive 22-01 tracking": "Yes",
        "Binding Operational Directive 22-01 Due Date": day(2026, 1, 26),
        "CVE": "CVE-2024-5535",
        "Service Name": "Flux Capacitor\nFire Bolt",
    }


def _template_regex(formula: str) -> re.Pattern[str]:
    """The regular expression inside the template's `refind(...)` rule (an Excel string: `""` is a quote)."""
    text = formula.split(',"', 1)[1].rsplit('")', 1)[0].replace('""', '"')
    return re.compile(text, re.IGNORECASE)


def test_milestone_cells_pass_the_template_checks(template: openpyxl.Workbook, tmp_path: Path) -> None:
    rules = {
        str(cf.sqref)[0]: _template_regex(cf.rules[0].formula[0])
        for cf in template["Open POA&M Items"].conditional_formatting
        if "refind" in (cf.rules[0].formula or [""])[0]
    }
    out = tmp_path / "poam.xlsx"
    fedramp_xlsx.write(out, HEADER, [FULL])
    ws = openpyxl.load_workbook(out)["Open POA&M Items"]
    assert rules["M"].match(ws["M8"].value) and rules["N"].match(ws["N8"].value)
    assert not rules["M"].match("Patch it by 2026-02-04")  # the check can fail


def test_row_heights_fit_the_text(tmp_path: Path) -> None:
    out = tmp_path / "poam.xlsx"
    lines = "\n".join(f"line {n}" for n in range(12))
    words = " ".join(["remediation"] * 300)  # far more than the tallest row holds at 20.8 characters
    items = [make_item("V-1"), make_item("V-2", comments=lines), make_item("V-3", remediation_plan=words)]
    fedramp_xlsx.write(out, HEADER, items)
    ws = openpyxl.load_workbook(out)["Open POA&M Items"]
    short, twelve, long = (ws.row_dimensions[r].height for r in (8, 9, 10))
    assert 2 * 12.75 <= short < 4 * 12.75  # two assets on two lines
    assert twelve >= 12 * 12.75
    assert long <= 409  # Excel's tallest row
    assert _pixels(ws, 10) > 146  # Overall Remediation Plan widened so that its text fits
    assert _pixels(ws, 4) == 146  # the others keep the template's width


def test_imported_item_keeps_its_asset_identifier_cell(tmp_path: Path) -> None:
    """An item imported from a POA&M kept elsewhere, with no findings: its Asset Identifier cell as
    written there (items.asset_text)."""
    out = tmp_path / "poam.xlsx"
    cell = "172.246.15.3 (80/TCP)\nhttp://vuln.gov/queries"
    item = make_item("V-1", assets=(), origin="poam-xlsx", asset_text=cell)
    fedramp_xlsx.write(out, HEADER, [item])
    assert openpyxl.load_workbook(out)["Open POA&M Items"]["G8"].value == cell
