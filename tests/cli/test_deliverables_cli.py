"""`poam export emass|csv|dr-form` through the command line: files written, JSON output, the empty
Deviation Request form's note, and bad output paths refused in one line with exit status 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select

from poam.cli import cli
from poam.store.db import open_db
from poam.store.tables import audit_events
from tests.builders import Host, Item, write_nessus
from tests.services.test_import import JAN


def run(*args: str, user: str = "alice") -> Result:
    return CliRunner().invoke(cli, [*args], catch_exceptions=False, env={"POAM_USER": user, "POAM_SYSTEM": "cso"})


@pytest.fixture
def db(engine: Engine, db_url: str, tmp_path: Path) -> str:
    """A database with system cso (org Acme) and V-1 (High, a hostile name) and V-2 (Moderate)."""
    scan = write_nessus(
        tmp_path / "jan.nessus",
        [Host("web", ip="10.0.0.5", start=JAN, items=[Item("100", cvss3=7.5, name="@SUM(1)"), Item("200", cvss3=5.0)])],
    )
    assert run("system", "add", "cso", "--org", "Acme", "--db", db_url).exit_code == 0
    assert run("import", str(scan), "--db", db_url).exit_code == 0
    return db_url


def events(db: str) -> int:
    engine = open_db(db)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())
    finally:
        engine.dispose()


def test_emass_both_layouts(db: str, tmp_path: Path) -> None:
    out = tmp_path / "emass.xlsx"
    r = run("export", "emass", str(out), "--date", "2026-03-02", "--db", db)
    assert r.exit_code == 0, r.output
    assert f"wrote {out} (2 items in 2 rows, classic layout)" in r.stdout
    assert "2 item(s) without Resources Required" in r.stdout
    ws = openpyxl.load_workbook(out)["POA&M"]
    assert (ws["A8"].value, ws["K8"].value, ws["C2"].value) == ("V-1", "Ongoing", "03/02/2026")
    assert ws["B8"].value.startswith("@SUM(1)") and ws["B8"].quotePrefix
    rows = tmp_path / "rows.xlsx"
    r = run("export", "emass", str(rows), "--layout", "milestone-rows", "--json", "--db", db)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["format"] == "emass-milestone-rows" and data["layout"] == "milestone-rows"
    assert data["detail"]["rows"] == 2 and data["items"] == 2 and len(data["audit_head"]) == 64
    ws = openpyxl.load_workbook(rows)["POA&M"]
    assert (ws["B8"].value, ws["J8"].value, ws["L8"].value) == ("V-1", "1", "Pending")
    # V-1 (High, detected 2026-01-05) was due 2026-02-04; V-2 (Moderate) is due 2026-04-05
    r = run("export", "emass", str(rows), "--scope", "late", "--date", "2026-03-02", "--json", "--db", db)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["items"] == 1 and json.loads(r.stdout)["scope"] == "late"
    assert openpyxl.load_workbook(rows)["POA&M"]["A8"].value == "V-1"  # classic: the id in A
    r = run("export", "emass", str(out), "--layout", "wide", "--db", db)
    assert r.exit_code == 2 and "wide" in r.stderr


def test_csv(db: str, tmp_path: Path) -> None:
    out = tmp_path / "items.csv"
    r = run("export", "csv", str(out), "--db", db)
    assert r.exit_code == 0, r.output
    assert f"wrote {out} (2 items)" in r.stdout
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(x["poam_id"], x["weakness_name"]) for x in rows] == [("V-1", "'@SUM(1)"), ("V-2", "Plugin 200")]
    found = tmp_path / "findings.csv"
    r = run("export", "csv", str(found), "--what", "findings", "--no-bom", "--json", "--db", db)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["format"], data["detail"], data["bom"]) == ("csv-findings", {"findings": 2}, False)
    assert found.read_text(encoding="utf-8").splitlines()[1].startswith("V-1,open,web,443,tcp,,open,")


def test_dr_form_empty_then_filled(db: str, tmp_path: Path) -> None:
    out = tmp_path / "dr.xlsx"
    r = run("export", "dr-form", str(out), "--db", db)
    assert r.exit_code == 0, r.output
    assert "note: no pending deviation requests in system cso: the form is empty" in r.stdout
    assert openpyxl.load_workbook(out)["DR Sheet"]["A12"].value.startswith("No pending deviation requests for cso")
    r = run("deviation", "request", "V-2", "--type", "fp", "--rationale", "not installed", "--db", db)
    assert r.exit_code == 0, r.output
    r = run("export", "dr-form", str(out), "--json", "--db", db)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["detail"] == {"requests": 1} and data["note"] is None and data["format"] == "fedramp-dr-form"
    ws = openpyxl.load_workbook(out)["DR Sheet"]
    assert (ws["B12"].value, ws["N12"].value, ws["R12"].value) == ("V-2", "FP", "not installed")


@pytest.mark.parametrize("command", [["emass"], ["csv"], ["csv", "--what", "findings"], ["dr-form"]])
def test_bad_output_path_exits_2_in_one_line(db: str, tmp_path: Path, command: list[str]) -> None:
    before = events(db)
    missing = tmp_path / "no-such-folder" / "out.file"
    r = run("export", command[0], str(missing), *command[1:], "--db", db)
    assert r.exit_code == 2, r.output
    assert r.stdout == "" and r.stderr.count("\n") == 1
    assert "no-such-folder" in r.stderr and "does not exist" in r.stderr
    r = run("export", command[0], str(tmp_path), *command[1:], "--db", db)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "is a folder" in r.stderr
    assert events(db) == before  # nothing recorded
    assert not missing.parent.exists()


def test_dr_form_template_refusals(db: str, tmp_path: Path) -> None:
    before = events(db)
    bad = tmp_path / "form.xlsx"
    bad.write_bytes(b"not a workbook")
    r = run("export", "dr-form", str(tmp_path / "dr.xlsx"), "--template", str(bad), "--db", db)
    assert r.exit_code == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "form.xlsx" in r.stderr and "bad zip" in r.stderr
    r = run("export", "dr-form", str(tmp_path / "dr.xlsx"), "--template", str(tmp_path / "none.xlsx"), "--db", db)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "none.xlsx: no such file" in r.stderr
    assert events(db) == before and not (tmp_path / "dr.xlsx").exists()
