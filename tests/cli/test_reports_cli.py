"""`poam report monthly`, `poam report diff` and `poam items --as-of` as a user types them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader

from poam.cli import cli
from tests.builders import Host, Item, write_nessus

OCT = dt.datetime(2026, 10, 5, 9, 0)
NOV = dt.datetime(2026, 11, 9, 9, 0)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ok(*args: str) -> Result:
    r = run(*args)
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A FedRAMP Rev5 system: three items found in October; in November two closed and one new."""
    path = str(tmp_path / "poam.db")
    ok("--db", path, "system", "add", "cso", "--impact", "moderate")
    first = [Item("100", severity=3), Item("200", severity=2, name='=HYPERLINK("http://x")'), Item("300", severity=1)]
    second = [Item("200", severity=2, name='=HYPERLINK("http://x")'), Item("400", severity=3)]
    for name, when, found in (("oct", OCT, first), ("nov", NOV, second)):
        scan = write_nessus(tmp_path / f"{name}.nessus", [Host("web01", ip="10.0.0.1", start=when, items=found)])
        ok("--db", path, "import", str(scan))
    return path


def manifest_of(folder: Path, stem: str) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / f"{stem}-manifest.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_monthly_package_for_an_agency_system(db: str, tmp_path: Path) -> None:
    out = tmp_path / "deliver" / "2026-11"  # created, parents too
    r = ok("--db", db, "report", "monthly", "--month", "2026-11", str(out), "--json", "--user", "isso")
    result = json.loads(r.stdout)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "cso-2026-11-executive-summary.html",
        "cso-2026-11-executive-summary.pdf",
        "cso-2026-11-inventory.xlsx",
        "cso-2026-11-manifest.json",
        "cso-2026-11-poam-oscal.json",
        "cso-2026-11-poam.xlsx",
    ]
    manifest = manifest_of(out, "cso-2026-11")
    assert (manifest["system"], manifest["month"], manifest["rule_set"]) == ("cso", "2026-11", "fedramp-rev5")
    assert manifest["period"] == {"from": "2026-11-01", "to": "2026-11-30"}
    listed = {f["name"]: f for f in manifest["files"]}
    assert sorted(listed) == [n for n in names if not n.endswith("manifest.json")]
    for name, f in listed.items():
        data = (out / name).read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
    manifest_bytes = (out / "cso-2026-11-manifest.json").read_bytes()
    assert result["files"][-1]["sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert result["snapshot"]["outcome"] == "frozen" and result["snapshot"]["items"] == 4
    assert sorted(result["reported"]) == ["V-2", "V-4"]  # the open items, now reported
    assert manifest["submission"]["items_reported"] == 2
    today = dt.date.today().isoformat()  # made after November ended: the package says what is of today
    assert (
        manifest["notes"]
        == result["notes"]
        == [
            f"the POA&M workbook and OSCAL POA&M and the inventory show the system as it stands now ({today}), "
            "not at the end of 2026-11; the executive summary and the snapshot are as of 2026-11-30"
        ]
    )

    text = "\n".join(p.extract_text() for p in PdfReader(out / "cso-2026-11-executive-summary.pdf").pages)
    assert "System cso," in text and "Open at the start of the month: 3; open at the end: 2." in text
    inventory = openpyxl.load_workbook(out / "cso-2026-11-inventory.xlsx")["Inventory"]
    assert inventory["A3"].value == "web01" and inventory["B3"].value == "10.0.0.1"
    workbook = openpyxl.load_workbook(out / "cso-2026-11-poam.xlsx")
    assert workbook is not None

    items = json.loads(ok("--db", db, "items", "--json").stdout)
    assert {i["poam_id"]: i["reported_at"] for i in items} == {
        "V-2": dt.date.today().isoformat(),
        "V-4": dt.date.today().isoformat(),
    }

    again = json.loads(ok("--db", db, "report", "monthly", "--month", "2026-11", str(out), "--json").stdout)
    assert again["snapshot"]["outcome"] == "unchanged" and again["reported"] == []


def test_monthly_package_for_a_cr26_provider(db: str, tmp_path: Path) -> None:
    ok("--db", db, "system", "set", "cso", "--policy", "fedramp-cr26", "--class", "c")
    r = run("--db", db, "report", "monthly", "--month", "2026-11", str(tmp_path / "out"))
    assert r.exit_code == 1 and "--cpo-uri" in r.stderr and not (tmp_path / "out").exists()
    ok("--db", db, "system", "set", "cso", "--cpo-uri", "https://example.com/cpo")
    ok("--db", db, "report", "monthly", "--month", "2026-11", str(tmp_path / "out"))
    kinds = {f["kind"] for f in manifest_of(tmp_path / "out", "cso-2026-11")["files"]}
    assert kinds == {
        "vdr",
        "avi",
        "ver-history",
        "vdr-activity-html",
        "vdr-activity-pdf",
        "inventory",
        "executive-summary-html",
        "executive-summary-pdf",
    }
    assert PdfReader(tmp_path / "out" / "cso-2026-11-vdr-activity.pdf").pages
    vdr = json.loads((tmp_path / "out" / "cso-2026-11-vdr.json").read_text(encoding="utf-8"))
    assert "2026-11-01" in json.dumps(vdr) and "2026-11-30" in json.dumps(vdr)


def test_diff_json_between_two_frozen_months(db: str, tmp_path: Path) -> None:
    ok("--db", db, "report", "monthly", "--month", "2026-10", str(tmp_path / "oct"))
    ok("--db", db, "report", "monthly", "--month", "2026-11", str(tmp_path / "nov"))
    d = json.loads(ok("--db", db, "report", "diff", "2026-10", "2026-11", "--json").stdout)
    assert [x["poam_id"] for x in d["new"]] == ["V-4"]
    assert [x["poam_id"] for x in d["closed"]] == ["V-1", "V-3"]
    # the packages recorded the submission today, after both months ended: in neither snapshot
    assert d["changed"] == []
    text = ok("--db", db, "report", "diff", "2026-10", "2026-11").stdout
    assert "new: 1\n  V-4  High" in text and "closed: 2" in text and "changed: 0" in text


@pytest.mark.parametrize(
    "args",
    [
        ("report", "monthly", "--month", "2026-13", "OUT"),
        ("report", "monthly", "--month", "November", "OUT"),
        ("report", "diff", "2026-10", "26-11"),
        ("report", "diff", "2026-10", "2026-11"),  # never frozen
    ],
)
def test_bad_month_is_one_line_and_exit_2(db: str, tmp_path: Path, args: tuple[str, ...]) -> None:
    args = tuple(str(tmp_path / "out") if a == "OUT" else a for a in args)
    r = run("--db", db, *args)
    assert r.exit_code == 2, r.output
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("poam: error: ")
    assert not (tmp_path / "out").exists()


def test_out_dir_that_is_a_file_or_a_link_out_is_refused(db: str, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep", encoding="utf-8")
    r = run("--db", db, "report", "monthly", "--month", "2026-11", str(afile))
    assert r.exit_code == 2 and "is a file, not a folder" in r.stderr and afile.read_text() == "keep"
    out = tmp_path / "out"
    out.mkdir()
    outside = tmp_path / "outside.xlsx"
    outside.write_text("precious", encoding="utf-8")
    os.symlink(outside, out / "cso-2026-11-poam.xlsx")
    r = run("--db", db, "report", "monthly", "--month", "2026-11", str(out))
    assert r.exit_code == 1 and "is a symbolic link" in r.stderr
    assert outside.read_text(encoding="utf-8") == "precious"
    assert json.loads(ok("--db", db, "items", "--json").stdout)[0]["reported_at"] is None  # nothing recorded


def test_items_as_of(db: str) -> None:
    rows = json.loads(ok("--db", db, "items", "--as-of", "2026-10-31", "--json").stdout)
    assert [(r["poam_id"], r["status"]) for r in rows] == [("V-1", "open"), ("V-2", "open"), ("V-3", "open")]
    rows = json.loads(ok("--db", db, "items", "--as-of", "2026-11-30", "--status", "all", "--json").stdout)
    assert [(r["poam_id"], r["status"]) for r in rows] == [
        ("V-1", "closed"),
        ("V-2", "open"),
        ("V-3", "closed"),
        ("V-4", "open"),
    ]
    table = ok("--db", db, "items", "--as-of", "2026-11-30", "--risk", "high").stdout
    assert "V-4" in table and "V-2" not in table and "1 open item(s) as of 2026-11-30" in table
    r = run("--db", db, "items", "--as-of", "2026-02-30")
    assert r.exit_code == 2


def test_without_the_reports_extra_the_package_is_refused_in_one_line(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    r = run("--db", db, "report", "monthly", "--month", "2026-11", str(tmp_path / "out"))
    assert r.exit_code == 1
    assert r.stderr == (
        "poam: error: HTML and PDF reports need the reports extra (matplotlib is missing): "
        "pip install 'poam[reports]'\n"
    )
    assert not (tmp_path / "out").exists()
    assert json.loads(ok("--db", db, "items", "--json").stdout)[0]["reported_at"] is None


def test_report_diff_never_creates_a_database(tmp_path: Path) -> None:
    typo = tmp_path / "poma.db"
    r = run("--db", str(typo), "report", "diff", "2026-10", "2026-11")
    assert r.exit_code == 1 and "poma.db: no database there" in r.stderr
    assert not typo.exists()
