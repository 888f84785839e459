"""The command line contract of DESIGN.md, driven through Click and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from poam.cli import cli
from poam.store.db import open_db
from tests.builders import Host, Item, write_nessus
from tests.services.test_import import JAN, counts

ITEM_KEYS = {
    "poam_id",
    "status",
    "weakness_name",
    "detector_source",
    "source_identifier",
    "assets",
    "original_risk",
    "adjusted_risk",
    "detection_date",
    "scheduled_completion_date",
    "status_date",
    "cves",
    "kev",
    "kev_due_date",
    "controls",
    "milestones",
}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "poam.db")


@pytest.fixture
def scan(tmp_path: Path) -> Path:
    hosts = [
        Host(
            "web01",
            ip="10.0.0.1",
            fqdn="web01.example.com",
            start=JAN,
            items=[Item("100", severity=3, cves=("CVE-2024-0001",)), Item("200", port=22, severity=1)],
        )
    ]
    return write_nessus(tmp_path / "jan.xml", hosts)


def test_import_into_an_empty_database_creates_default(db: str, scan: Path) -> None:
    r = run("import", str(scan), "--db", db, "--json")
    assert r.exit_code == 0, r.stderr
    (result,) = json.loads(r.stdout)
    assert result["system"] == "default" and result["items_opened"] == 2 and result["format"] == "nessus"
    r = run("--db", db, "items", "--json")
    items = json.loads(r.stdout)
    assert [i["poam_id"] for i in items] == ["V-1", "V-2"]
    assert set(items[0]) >= ITEM_KEYS
    assert items[0]["assets"] == ["web01.example.com (443/tcp)"]
    assert items[0]["status"] == "open" and items[0]["cves"] == ["CVE-2024-0001"]
    r = run("--db", db, "system", "list", "--json")
    assert json.loads(r.stdout)[0]["open_items"] == 2


def test_system_add_and_choice(db: str, scan: Path) -> None:
    assert run("system", "add", "Prod", "--impact", "high", "--org", "ACME", "--db", db).exit_code == 0
    assert run("system", "add", "Dev", "--id-prefix", "D-", "--db", db).exit_code == 0
    r = run("import", str(scan), "--db", db)
    assert r.exit_code == 1 and "several systems" in r.stderr
    r = run("import", str(scan), "--db", db, "--system", "Dev")
    assert r.exit_code == 0
    assert json.loads(run("items", "--db", db, "--system", "Dev", "--json").stdout)[0]["poam_id"] == "D-1"
    r = run("system", "add", "Dev", "--db", db)
    assert r.exit_code == 1 and "already exists" in r.stderr


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (b"<?xml version='1.0'?><NessusClientData_v2><Report name='r'><ReportHost", "not well-formed XML"),
        (b"name,age\nbob,3\n", "unrecognised file format"),
        (b"<foo/>", "unrecognised XML format"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_change(
    db: str, scan: Path, tmp_path: Path, content: bytes, problem: str
) -> None:
    assert run("import", str(scan), "--db", db).exit_code == 0
    engine = open_db(db)
    before = counts(engine)
    bad = tmp_path / "bad.nessus"
    bad.write_bytes(content)
    r = run("import", str(bad), "--db", db)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and problem in lines[0]
    assert "Traceback" not in r.stderr
    assert counts(engine) == before


def test_other_files_still_import_when_one_is_bad(db: str, scan: Path, tmp_path: Path) -> None:
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    r = run("import", str(bad), str(scan), "--db", db)
    assert r.exit_code == 2
    assert "empty.csv: empty file" in r.stderr
    assert "items 2 opened" in r.stdout


def test_exports_and_summary(db: str, scan: Path, tmp_path: Path) -> None:
    run("import", str(scan), "--db", db)
    r = run("export", "fedramp", str(tmp_path / "p.xlsx"), "--db", db, "--date", "2026-02-01")
    assert r.exit_code == 0 and "2 Open POA&M Items" in r.stdout
    r = run("export", "oscal", str(tmp_path / "p.json"), "--db", db)
    assert r.exit_code == 0 and "schema-valid" in r.stdout
    doc = json.loads((tmp_path / "p.json").read_text())
    assert len(doc["plan-of-action-and-milestones"]["poam-items"]) == 2
    r = run("export", "oscal", str(tmp_path / "missing" / "p.json"), "--db", db)
    assert r.exit_code == 1 and "does not exist" in r.stderr
    out = tmp_path / "summary.txt"
    r = run("summary", "--db", db, "--date", "2026-02-10", "--out", str(out))
    assert "Open items: 2 (High 1, Moderate 0, Low 1)" in r.stdout
    assert "Late: 1" in r.stdout and "V-1" in r.stdout
    assert out.read_text() == r.stdout


def test_formats_kev_and_audit(db: str, scan: Path, tmp_path: Path) -> None:
    ids = {f["id"] for f in json.loads(run("formats", "--json").stdout)}
    assert {"nessus", "poam-csv"} <= ids
    kev = tmp_path / "kev.csv"
    kev.write_text(
        "cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,"
        "dueDate,knownRansomwareCampaignUse,notes,cwes\n"
        "CVE-2024-0001,v,p,n,2026-01-01,d,a,2026-01-15,Unknown,,\n"
    )
    assert run("kev", "load", str(kev), "--db", db).exit_code == 0
    run("import", str(scan), "--db", db)
    items = json.loads(run("items", "--db", db, "--json").stdout)
    assert items[0]["kev"] is True and items[0]["scheduled_completion_date"] == "2026-01-15"
    r = run("audit", "verify", "--db", db)
    assert r.exit_code == 0 and "intact" in r.stdout


def test_real_process_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "x.nessus"
    bad.write_text("<NessusClientData_v2><Report")
    proc = subprocess.run(
        [sys.executable, "-m", "poam", "--db", str(tmp_path / "d.db"), "import", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("poam: error: ") and "x.nessus" in proc.stderr


def test_item_controls_can_be_overridden(db: str, scan: Path) -> None:
    run("import", str(scan), "--db", db)
    r = run("item", "set", "V-1", "--controls", "sc-8, SI-2(2)", "--db", db)
    assert r.exit_code == 0, r.stderr
    assert json.loads(run("items", "--db", db, "--json").stdout)[0]["controls"] == ["SC-8", "SI-2(2)"]
    r = run("item", "set", "V-1", "--controls", "banana", "--db", db)
    assert r.exit_code == 2 and "not a NIST SP 800-53 control id" in r.stderr
    r = run("item", "set", "V-99", "--controls", "AC-2", "--db", db)
    assert r.exit_code == 1 and "no item 'V-99'" in r.stderr


def test_asset_names_what_a_file_scanned(db: str, tmp_path: Path) -> None:
    audit = tmp_path / "audit.json"
    audit.write_text(json.dumps([{"name": "django", "version": "3.2", "vulns": [{"id": "PYSEC-2021-439"}]}]))
    r = run("import", str(audit), "--db", db, "--format", "pip-audit", "--asset", "github.com/acme/api", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)[0]["assets_covered"] == 1
    r = run("--db", db, "items", "--json")
    assert json.loads(r.stdout)[0]["assets"] == ["github.com/acme/api (django)"]


def test_warnings_and_the_date_source_are_shown(db: str, tmp_path: Path) -> None:
    import os

    from tests.builders import write_csv

    row = {"detector": "Pen Test", "weakness_id": "PT-1", "weakness_name": "XSS", "asset": "h.example.com"}
    rows = [{**row, "severity": "severe", "detected": "2026-01-10"}, {**row, "weakness_id": "PT-2", "severity": "low"}]
    path = write_csv(tmp_path / "p.csv", rows, [*row, "severity", "detected"])
    os.utime(path, (1770000000, 1770000000))  # 2026-02-02
    r = run("--db", db, "import", str(path))
    assert r.exit_code == 0, r.stderr
    assert r.stderr.splitlines() == [
        f"poam: warning: {path}: row 2 (PT-1): severity 'severe' not recognised; rated Moderate",
        f"poam: warning: {path}: row 3 (PT-2): detected empty is not a date; dated 2026-02-02",
    ]
    assert "scan of 2026-02-02 (date from file time)" in r.stdout and "; 2 warning(s)" in r.stdout
    (data,) = json.loads(run("--db", db, "import", str(path), "--scan-date", "2026-03-01", "--json").stdout)
    assert (data["date_source"], data["warnings"], data["results"]) == ("option", 2, 2)
    assert data["warning_lines"][0] == "row 2 (PT-1): severity 'severe' not recognised; rated Moderate"
