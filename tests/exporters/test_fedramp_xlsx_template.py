"""`poam export fedramp --template PATH`: a user's copy of the official template filled, its
formatting, validations and macros kept; `--scope late`; refusals in one line with exit status 2."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select

from poam.cli import cli
from poam.domain.models import AffectedAsset, ItemStatus
from poam.exporters import fedramp_template
from poam.services.exporting import export_fedramp
from poam.services.importer import import_file
from poam.store.db import open_db
from poam.store.tables import audit_events
from tests.builders import Host, Item, write_nessus
from tests.conftest import reference_file
from tests.exporters.test_fedramp_xlsx import HEADER, make_item

V21 = "fedramp/FedRAMP-POAM-Template_2024-03-29.xlsx"
V2 = "fedramp/FedRAMP-POAM-Template_2023-08-30.xlsm"
V1 = "fedramp/FedRAMP-POAM-Template_2022-06-23.xlsm"


def _items() -> list[fedramp_template.PoamItem]:
    return [
        make_item("V-1", weakness_name='=HYPERLINK("http://evil","x")'),
        make_item("V-2", ItemStatus.CLOSED, closed_at=dt.date(2026, 1, 30)),
        make_item("V-3", is_config=True, source_identifier="CIS-1.1", service_names="All"),
    ]


def _copy(relative: str, tmp_path: Path) -> Path:
    source = reference_file(relative)
    target = tmp_path / ("my-template" + source.suffix)
    shutil.copyfile(source, target)
    return target


def _cf(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[tuple[str, str, list[str]]]:
    return sorted((str(cf.sqref), r.type, list(r.formula or [])) for cf in ws.conditional_formatting for r in cf.rules)


def _dv(ws: openpyxl.worksheet.worksheet.Worksheet) -> list[tuple[str, str | None, str | None, str | None]]:
    return sorted((str(d.sqref), d.type, d.formula1, d.prompt) for d in ws.data_validations.dataValidation)


def test_fills_the_v21_template_and_keeps_its_look(tmp_path: Path) -> None:
    template = _copy(V21, tmp_path)
    before = template.read_bytes()
    out = tmp_path / "out.xlsx"
    counts = fedramp_template.fill(template, out, HEADER, _items())
    assert counts == {"Open POA&M Items": 1, "Closed POA&M Items": 1, "Configuration Findings": 1}
    assert template.read_bytes() == before  # the user's copy is not touched
    t, o = openpyxl.load_workbook(template), openpyxl.load_workbook(out)
    assert o.sheetnames == t.sheetnames
    ws = o["Open POA&M Items"]
    assert [ws.cell(3, c).value for c in range(1, 4)] == ["Example CSP", "Example System", "Moderate"]
    assert ws["D3"].value == dt.datetime(2026, 2, 1)
    assert ws["A8"].value == "V-1"  # over the example row
    assert ws["C8"].value == '=HYPERLINK("http://evil","x")' and ws["C8"].data_type == "s" and ws["C8"].quotePrefix
    assert not ws["A8"].font.i and ws["D8"].alignment.wrap_text
    assert ws["L8"].value == dt.datetime(2026, 2, 4) and ws["L8"].number_format == "mm-dd-yy"
    assert ws["L9"].value.startswith('=IF((T9="N/A")')  # the template's formula stays below the items
    assert all(ws.cell(8, c).value != t["Open POA&M Items"].cell(8, c).value for c in (1, 3, 7))  # example gone
    assert ws.row_dimensions[8].height >= 2 * 12.75  # two assets, two lines
    assert o["Closed POA&M Items"]["A6"].value == "V-2"
    assert o["Configuration Findings"]["A6"].value == "V-3"
    assert o["Configuration Findings"]["AE6"].value == "All"
    for name in t.sheetnames:
        assert _cf(o[name]) == _cf(t[name]), name
        assert _dv(o[name]) == _dv(t[name]), name
        assert o[name].freeze_panes == t[name].freeze_panes
        assert o[name].page_setup.orientation == t[name].page_setup.orientation
        assert {k: d.width for k, d in o[name].column_dimensions.items()} == {
            k: d.width for k, d in t[name].column_dimensions.items()
        }
    for row in o.worksheets[0].iter_rows(min_row=8, max_row=8):
        assert all(c.data_type != "f" for c in row)


@pytest.mark.parametrize("relative", [V2, V1])
def test_fills_the_older_macro_templates_keeping_the_macros(relative: str, tmp_path: Path) -> None:
    template = _copy(relative, tmp_path)
    out = tmp_path / "out.xlsm"
    counts = fedramp_template.fill(template, out, HEADER, _items())
    # no Configuration Findings sheet before v2.1: configuration findings go on the Open sheet
    assert counts == {"Open POA&M Items": 2, "Closed POA&M Items": 1}
    with zipfile.ZipFile(template) as zt, zipfile.ZipFile(out) as zo:
        assert zo.read("xl/vbaProject.bin") == zt.read("xl/vbaProject.bin")
        assert "macroEnabled" in zo.read("[Content_Types].xml").decode()
    o = openpyxl.load_workbook(out, keep_vba=True)
    ws = o["Open POA&M Items"]
    assert [ws.cell(r, 1).value for r in (8, 9)] == ["V-1", "V-3"]
    assert ws["A3"].value == "Example CSP"  # 2023-08-30 lost its CSP label; the value still goes in A3
    assert ws.cell(5, 31).value is None and ws.cell(8, 31).value is None  # no Service Name column there
    assert ws["F9"].value == "CIS-1.1"
    t = openpyxl.load_workbook(template, keep_vba=True)
    assert _cf(ws) == _cf(t["Open POA&M Items"])  # the REFIND milestone checks are kept
    assert _dv(ws) == _dv(t["Open POA&M Items"])


def test_headers_in_another_order(tmp_path: Path) -> None:
    source = openpyxl.load_workbook(reference_file(V21))
    ws = source["Open POA&M Items"]
    ws["C5"], ws["D5"] = "Weakness Description", "Weakness Name"  # a copy whose columns were swapped
    template = tmp_path / "moved.xlsx"
    source.save(template)
    out = tmp_path / "out.xlsx"
    fedramp_template.fill(template, out, HEADER, [make_item("V-1", weakness_name="Name", weakness_description="Text")])
    ws = openpyxl.load_workbook(out)["Open POA&M Items"]
    assert (ws["C8"].value, ws["D8"].value) == ("Text", "Name")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A database with two items detected on 2026-01-05: a High (due 2026-02-04) and a Low (due 2026-07-04)."""
    path = str(tmp_path / "poam.db")
    scan = write_nessus(
        tmp_path / "a.nessus", [Host("web01", ip="10.0.0.1", items=[Item("100", severity=3), Item("200", severity=1)])]
    )
    assert run("import", str(scan), "--db", path).exit_code == 0
    return path


def _events(db: str) -> int:
    with open_db(db).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


def test_cli_template_xlsm(db: str, tmp_path: Path) -> None:
    template = _copy(V2, tmp_path)
    r = run("export", "fedramp", str(tmp_path / "out.xlsm"), "--template", str(template), "--db", db, "--json")
    assert r.exit_code == 0, r.output
    assert '"template"' in r.stdout
    wb = openpyxl.load_workbook(tmp_path / "out.xlsm", keep_vba=True)
    assert [wb["Open POA&M Items"].cell(r, 1).value for r in (8, 9)] == ["V-1", "V-2"]


@pytest.mark.parametrize(
    ("template_name", "out_name", "message"),
    [
        ("tpl.xlsm", "out.xlsx", "must end in .xlsm"),
        ("tpl.xlsx", "out.xlsm", "must end in .xlsx"),
        ("tpl.ods", "out.ods", "must be an .xlsx or .xlsm"),
    ],
)
def test_refuses_an_output_with_another_extension(
    db: str, tmp_path: Path, template_name: str, out_name: str, message: str
) -> None:
    template = tmp_path / template_name
    shutil.copyfile(reference_file(V21), template)
    events = _events(db)
    r = run("export", "fedramp", str(tmp_path / out_name), "--template", str(template), "--db", db)
    assert r.exit_code == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / out_name).exists() and _events(db) == events


def _not_a_template(kind: str, path: Path) -> None:
    if kind == "other-workbook":
        wb = openpyxl.Workbook()
        wb.active.title = "Inventory"
        wb.save(path)
    elif kind == "no-headers":
        wb = openpyxl.Workbook()
        wb.active.title = "Open POA&M Items"
        wb.active["A5"] = "Something else"
        wb.save(path)
    elif kind == "text":
        path.write_text("POAM ID,Controls\n")
    elif kind == "entities":
        with zipfile.ZipFile(reference_file(V21)) as src, zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "xl/workbook.xml":
                    data = data.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "aaaa">]>', 1)
                dst.writestr(info, data)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("other-workbook", "no 'Open POA&M Items' sheet"),
        ("no-headers", "has no POA&M column headers"),
        ("text", "not a valid .xlsx file"),
        ("entities", "entity or document type declarations are not accepted"),
    ],
)
def test_refuses_a_file_that_is_not_a_template(db: str, tmp_path: Path, kind: str, message: str) -> None:
    template = tmp_path / "tpl.xlsx"
    _not_a_template(kind, template)
    events = _events(db)
    r = run("export", "fedramp", str(tmp_path / "out.xlsx"), "--template", str(template), "--db", db)
    assert r.exit_code == 2, r.output
    assert message in r.stderr and str(template) in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert not (tmp_path / "out.xlsx").exists() and _events(db) == events


def test_scope_late(engine: Engine, tmp_path: Path) -> None:
    host = Host("web01", ip="10.0.0.1", items=[Item("100", severity=3), Item("200", severity=1)])
    import_file(engine, write_nessus(tmp_path / "a.nessus", [host]))
    out = tmp_path / "late.xlsx"
    # on 2026-03-01 the High (due 2026-02-04) is late and the Low (due 2026-07-04) is not
    result = export_fedramp(engine, out, None, "test", dt.date(2026, 3, 1), scope="late")
    assert result.items == 1 and result.detail["Open POA&M Items"] == 1
    ws = openpyxl.load_workbook(out)["Open POA&M Items"]
    assert (ws["A8"].value, ws["S8"].value, ws["A9"].value) == ("V-1", "High", None)
    # on its due date it is not yet late
    result = export_fedramp(engine, out, None, "test", dt.date(2026, 2, 4), scope="late")
    assert result.items == 0
    result = export_fedramp(engine, out, None, "test", dt.date(2026, 2, 4), scope="all")
    assert result.items == 2


def test_cli_scope(db: str, tmp_path: Path) -> None:
    r = run("export", "fedramp", str(tmp_path / "p.xlsx"), "--db", db, "--date", "2026-03-01", "--scope", "late")
    assert r.exit_code == 0 and "1 Open POA&M Items" in r.stdout
    assert "past the earlier of their Scheduled Completion Date and KEV due date on 2026-03-01" in r.stdout
    r = run("export", "fedramp", str(tmp_path / "p.xlsx"), "--db", db, "--scope", "overdue")
    assert r.exit_code == 2 and "overdue" in r.stderr


PAYLOADS = ('=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3")


def test_no_cell_of_a_filled_template_becomes_a_formula(tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    header = fedramp_template.Header(PAYLOADS[0], PAYLOADS[1], "Low", dt.date(2026, 1, 1))
    items = [
        make_item(f"V-{n}", weakness_name=p, comments=p, assets=(AffectedAsset(p, ""),))
        for n, p in enumerate(PAYLOADS, start=1)
    ]
    items.append(make_item("V-9", weakness_name="bell\x07nul\x00"))
    fedramp_template.fill(reference_file(V21), out, header, items)
    ws = openpyxl.load_workbook(out)["Open POA&M Items"]
    assert (ws["A3"].value, ws["B3"].value) == PAYLOADS[:2]
    assert ws["A3"].data_type == ws["B3"].data_type == "s"
    for row, payload in enumerate(PAYLOADS, start=8):
        for col in ("C", "G", "Z"):
            cell = ws[f"{col}{row}"]
            assert (cell.value, cell.data_type, cell.quotePrefix) == (payload, "s", True), cell.coordinate
    assert ws["C12"].value == "bell\ufffdnul\ufffd"  # characters a workbook cannot hold
