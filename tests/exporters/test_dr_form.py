"""The FedRAMP Deviation Request form: the layout against the official form (v2.1), the rows of the
pending requests checked against values written by hand, the empty form, and hostile text."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, select

from poam.exporters import dr_form
from poam.services import deviations, systems
from poam.services.exporting_more import export_dr_form
from poam.services.importer import import_file
from poam.store.tables import audit_events
from tests.builders import Host, Item, write_nessus
from tests.conftest import reference_file

FORM = "fedramp/FedRAMP-Vulnerability-Deviation-Request-Form.xlsx"
JAN = dt.datetime(2026, 1, 5, 10, 0)


def official() -> openpyxl.Workbook:
    path = reference_file(FORM)
    if not path.is_file():
        pytest.skip(f"the official form is not at {path}")
    with pytest.warns(UserWarning, match="Data Validation extension"):  # openpyxl cannot read its x14 dropdowns
        return openpyxl.load_workbook(path)


def setup(engine: Engine, tmp_path: Path) -> dict[str, str]:
    """A Moderate system with three items on `web`: plugin 100 (Critical 9.8, a CVE), 200 (Moderate 5.0),
    300 (High 7.5). Returns plugin -> POA&M id."""
    systems.add_system(engine, "cso", "t", impact="moderate", org="Example CSP", point_of_contact="Pat Owner")
    scan = write_nessus(
        tmp_path / "jan.nessus",
        [
            Host(
                "web",
                ip="10.0.0.5",
                start=JAN,
                items=[
                    Item("100", cvss3=9.8, cves=("CVE-2026-20001",), name="OpenSSL flaw"),
                    Item("200", cvss3=5.0, name='=HYPERLINK("http://evil","x")'),
                    Item("300", cvss3=7.5, name="Weak cipher"),
                ],
            )
        ],
    )
    import_file(engine, scan, system="cso", actor="t")
    from poam.services.items import list_items

    _info, found = list_items(engine, "cso", "all")
    return {i.source_identifier: i.poam_id for i in found}


def test_layout_matches_the_official_form(tmp_path: Path) -> None:
    form = official()
    out = tmp_path / "dr.xlsx"
    dr_form.write(out, dr_form.Header("CSP", "Sys", "Moderate", dt.date(2026, 3, 1)), [])
    ours = openpyxl.load_workbook(out)
    assert ours.sheetnames == ["DR Sheet", "Data Dictionary - Do Not Remove", "Record of Changes"]
    theirs, mine = form["DR Sheet"], ours["DR Sheet"]
    for row in (1, 2, 5, 6, 9, 10, 11):
        for col in range(1, 58):
            assert mine.cell(row, col).value == theirs.cell(row, col).value, (row, col)
    assert {str(r) for r in theirs.merged_cells.ranges} - {"C3:D3", "D7:E7"} <= {
        str(r) for r in mine.merged_cells.ranges
    }
    for letter in ("A", "E", "K", "R", "U", "Y", "AO"):  # XlsxWriter stores a width with its cell padding
        assert mine.column_dimensions[letter].width == pytest.approx(theirs.column_dimensions[letter].width, abs=1)
    # the dropdowns: each list of the Data Dictionary, as the official form has it
    dictionary = form["Data Dictionary - Do Not Remove"]
    mine_dd = ours["Data Dictionary - Do Not Remove"]
    for letter in dr_form.LISTS:
        for row in range(3, 9):
            assert mine_dd[f"{letter}{row}"].value == dictionary[f"{letter}{row}"].value, (letter, row)
    sources = {str(dv.sqref): dv.formula1 for dv in mine.data_validations.dataValidation}
    # the official form's x14 validations (read from its XML): N12:N1001 <- 'Data Dictionary'!$N$3:$N$6, ...
    assert sources["N12:N1001"] == "'Data Dictionary - Do Not Remove'!$N$3:$N$6"
    assert sources["O12:O1001"] == "'Data Dictionary - Do Not Remove'!$O$3:$O$5"
    assert sources["AP12:AP1001"] == "'Data Dictionary - Do Not Remove'!$AP$3:$AP$6"
    assert sources["X12:X1001"] == "'Data Dictionary - Do Not Remove'!$X$3:$X$7"
    assert len(sources) == 15
    changes = form["Record of Changes"]
    for row in (3, 4):
        assert [ours["Record of Changes"].cell(row, c).value for c in range(1, 5)] == [
            changes.cell(row, c).value for c in range(1, 5)
        ]


def test_pending_requests_fill_the_form(engine: Engine, tmp_path: Path) -> None:
    ids = setup(engine, tmp_path)
    evidence = tmp_path / "waf.pdf"
    evidence.write_bytes(b"%PDF waf rule")
    critical, moderate, high = ids["100"], ids["200"], ids["300"]
    # the critical item: a risk adjustment and an operational requirement, pending together -> one "OR RA" row
    deviations.request(engine, "cso", critical, "alice", "ra", "WAF blocks the exploit path", adjusted_risk="moderate",
                       evidence=[evidence])  # fmt: skip
    deviations.request(engine, "cso", critical, "alice", "or", "The vendor appliance cannot be patched")
    # the moderate item: a false positive
    deviations.request(engine, "cso", moderate, "bob", "fp", "=cmd the service is not installed")
    # the high item: a risk adjustment already approved, so nothing to submit for it
    deviations.request(engine, "cso", high, "alice", "ra", "segmented", adjusted_risk="moderate")
    deviations.approve(engine, "cso", high, "bob", "ra")
    out = tmp_path / "dr.xlsx"
    result = export_dr_form(engine, out, "cso", "alice", dt.date(2026, 3, 1))
    assert result.detail == {"requests": 2} and result.items == 2
    ws = openpyxl.load_workbook(out)["DR Sheet"]
    assert (ws["A3"].value, ws["B3"].value, ws["C3"].value) == ("Example CSP", "cso", "Moderate")
    assert ws["E3"].value == dt.datetime(2026, 3, 1) and ws["A7"].value == "Pat Owner"
    rows = {ws[f"B{r}"].value: r for r in (12, 13)}
    assert set(rows) == {critical, moderate} and ws["B14"].value is None
    r = rows[critical]
    assert ws[f"N{r}"].value == "OR RA"
    assert ws[f"C{r}"].value == 100 and ws[f"D{r}"].value == "CVE-2026-20001"
    assert ws[f"E{r}"].value == "web (443/tcp)" and ws[f"F{r}"].value == "OpenSSL flaw"
    assert (ws[f"G{r}"].value, ws[f"H{r}"].value, ws[f"I{r}"].value) == ("Nessus", "High", 9.8)
    assert ws[f"J{r}"].value == dt.datetime(2026, 1, 5)
    assert ws[f"O{r}"].value == "Moderate"
    assert ws[f"R{r}"].value == (
        "Risk Adjustment : WAF blocks the exploit path\n\n"
        "Operational Requirement : The vendor appliance cannot be patched"
    )
    assert ws[f"U{r}"].value == "The vendor appliance cannot be patched"
    assert ws[f"AN{r}"].value.startswith("waf.pdf (sha256 ") and ws[f"W{r}"].value is None
    assert ws[f"AP{r}"].value == "Pending"
    assert isinstance(ws[f"A{r}"].value, int)
    f = rows[moderate]
    assert (ws[f"N{f}"].value, ws[f"H{f}"].value, ws[f"O{f}"].value) == ("FP", "Moderate", None)
    assert ws[f"F{f}"].value == '=HYPERLINK("http://evil","x")' and ws[f"F{f}"].quotePrefix
    assert ws[f"R{f}"].value == "=cmd the service is not installed" and ws[f"R{f}"].quotePrefix
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    with engine.connect() as conn:
        detail = json.loads(
            conn.execute(select(audit_events.c.detail).where(audit_events.c.action == "export.dr-form")).scalar_one()
        )
    assert detail["requests"] == 2 and detail["poam_ids"] == sorted([critical, moderate])


def test_no_pending_request_gives_the_empty_form_with_a_note(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    out = tmp_path / "dr.xlsx"
    result = export_dr_form(engine, out, "cso", "alice", dt.date(2026, 3, 1))
    assert result.detail == {"requests": 0}
    ws = openpyxl.load_workbook(out)["DR Sheet"]
    assert ws["A12"].value.startswith("No pending deviation requests for cso on 2026-03-01")
    assert ws["B12"].value is None and ws["A13"].value is None
    assert ws["A10"].value == "DR Number"  # the form itself is all there


def test_row_values_of_a_false_positive() -> None:
    from tests.exporters.test_emass import make_item

    item = make_item("V-9", source_identifier="SV-1234r1_rule", cvss3_score=None, cvss2_score=6.4)
    entry = dr_form.Entry(7, "FP", item, dt.date(2026, 3, 1), "not there", fp_evidence=("a.png (sha256 0123)",))
    values: list[Any] = dr_form.row_values(entry)
    assert values[:4] == [7, "V-9", "SV-1234r1_rule", ""]
    assert values[8] == 6.4 and values[13] == "FP" and values[14] == ""
    assert values[19] == "a.png (sha256 0123)"  # T: List of Evidence Attachments
    assert values[41] == "Pending"  # AP


def test_last_months_empty_form_can_be_the_template(engine: Engine, tmp_path: Path) -> None:
    ids = setup(engine, tmp_path)
    empty = tmp_path / "dr-2026-02.xlsx"
    export_dr_form(engine, empty, "cso", "alice", dt.date(2026, 2, 1))  # its note merges A12:M12
    deviations.request(engine, "cso", ids["200"], "bob", "fp", "not installed")
    out = tmp_path / "dr-2026-03.xlsx"
    assert export_dr_form(engine, out, "cso", "alice", dt.date(2026, 3, 1), template=empty).detail == {"requests": 1}
    ws = openpyxl.load_workbook(out)["DR Sheet"]
    assert ws["B12"].value == ids["200"] and not str(ws["A12"].value or "").startswith("No pending")
    assert not [str(r) for r in ws.merged_cells.ranges if r.min_row >= 12]


def test_the_users_copy_of_the_form_is_filled(engine: Engine, tmp_path: Path) -> None:
    official()  # skips without the reference file
    ids = setup(engine, tmp_path)
    deviations.request(engine, "cso", ids["200"], "bob", "fp", "@not installed")
    out = tmp_path / "dr.xlsx"
    result = export_dr_form(engine, out, "cso", "alice", dt.date(2026, 3, 1), template=reference_file(FORM))
    assert result.detail == {"requests": 1}
    book = openpyxl.load_workbook(out)
    # the form says to remove the instructions before submitting; the rest of the form stays
    assert book.sheetnames == ["DR Sheet", "Data Dictionary - Do Not Remove", "Record of Changes"]
    ws = book["DR Sheet"]
    assert (ws["A3"].value, ws["B3"].value, ws["C3"].value, ws["E3"].value) == (
        "Example CSP",
        "cso",
        "Moderate",
        dt.datetime(2026, 3, 1),
    )
    assert (ws["A7"].value, ws["B7"].value) == ("Pat Owner", None)
    assert ws["A11"].value == "Text Field"  # the form's guidance row stays
    assert (ws["B12"].value, ws["N12"].value, ws["H12"].value, ws["AP12"].value) == (
        ids["200"],
        "FP",
        "Moderate",
        "Pending",
    )
    assert ws["R12"].value == "@not installed" and ws["R12"].quotePrefix and ws["R12"].data_type == "s"
    assert ws["F12"].quotePrefix  # the hostile weakness name
    assert ws["AO12"].value.startswith("poam request #")
    assert ws["B13"].value is None and ws["Y13"].value is None  # the second example row, emptied
    sources = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert sources["N12:N1001"] == "'Data Dictionary - Do Not Remove'!$N$3:$N$6"
    assert len(sources) == 15
    with engine.connect() as conn:
        detail = json.loads(
            conn.execute(select(audit_events.c.detail).where(audit_events.c.action == "export.dr-form")).scalar_one()
        )
    assert detail["template"] == str(reference_file(FORM))


def test_a_template_that_is_not_the_form_is_refused(engine: Engine, tmp_path: Path) -> None:
    from poam.errors import InputError, ValueRefused

    setup(engine, tmp_path)
    other = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "DR Sheet"
    wb.active["A1"] = "something else"
    wb.save(other)
    with pytest.raises(InputError, match="no form column headers"):
        export_dr_form(engine, tmp_path / "dr.xlsx", "cso", "alice", template=other)
    with pytest.raises(ValueRefused, match=r"must end in \.xlsx"):
        export_dr_form(engine, tmp_path / "dr.xlsm", "cso", "alice", template=other)
    assert not (tmp_path / "dr.xlsx").exists()
