"""`--json` on the commands that report something: summary, exports, threat data loads, teams,
vendor check-ins. Times are ISO 8601 with a zone, lists are lists."""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders import Host, Item, write_nessus
from tests.cli.test_rules_cli import db, run  # noqa: F401  (db is a fixture)
from tests.services.test_kev_audit import catalog


def test_summary_json(db: str, tmp_path: Path) -> None:  # noqa: F811
    r = run("--db", db, "summary", "--json", "--date", "2026-12-04")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["system"], data["policy"], data["date"]) == ("cso", "fedramp-cr26", "2026-12-04")
    assert data["open"] == 3 and sum(data["open_by_risk"].values()) == 3
    assert isinstance(data["late"], list) and data["latest_scan"]["ended_at"].endswith("Z")
    out = tmp_path / "summary.json"
    assert run("--db", db, "summary", "--json", "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["open"] == 3


def test_export_json_gives_the_file_counts_and_audit_head(db: str, tmp_path: Path) -> None:  # noqa: F811
    xlsx = tmp_path / "poam.xlsx"
    r = run("--db", db, "export", "fedramp", str(xlsx), "--json", "--user", "isso")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["file"] == str(xlsx) and data["format"] == "fedramp-xlsx" and data["items"] == 3
    head = json.loads(run("--db", db, "audit", "head", "--json").stdout)
    assert data["audit_head"] == head["head"] and data["audit_events"] == head["events"]
    oscal = json.loads(run("--db", db, "export", "oscal", str(tmp_path / "p.json"), "--json").stdout)
    assert oscal["format"] == "oscal-poam-1.1.2" and oscal["schema_valid"] is True and oscal["items"] == 3
    assert oscal["ssp"] is None  # no --ssp: echoed as null


def test_threat_data_loads_report_in_json(db: str, tmp_path: Path) -> None:  # noqa: F811
    kev = catalog(tmp_path / "kev.json", [("CVE-2026-30001", "2026-12-31")])
    data = json.loads(run("--db", db, "kev", "load", str(kev), "--json").stdout)
    assert data == {"file": str(kev), "version": "2026.01.01", "entries": 1, "items_flagged": 1}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    r = run("--db", db, "intel", "load", str(kev), str(bad), "--json")
    assert r.exit_code == 2
    first, second = json.loads(r.stdout)
    assert first["refused"] is False and first["records"] == 1 and first["dated"].endswith("Z")
    assert second["file"] == str(bad) and second["refused"] is True and second["error"]


def test_team_and_vendor_json(db: str) -> None:  # noqa: F811
    team = json.loads(run("--db", db, "team", "add", "Platform", "--capacity", "20", "--json").stdout)
    assert team == {"name": "Platform", "capacity_hours": 20.0, "open_items": 0, "hours_assigned": 0.0}
    r = run("--db", db, "vendor", "checkin", "V-1", "--date", "2026-11-01", "--product", "Acme", "--json")
    data = json.loads(r.stdout)
    assert data["poam_id"] == "V-1" and data["last_checkin"] == "2026-11-01" and data["next_checkin"] == "2026-12-01"
    assert data["checkins"][0]["note"] is None and data["release_date"] is None


def test_changes_report_in_json(tmp_path: Path) -> None:
    path = str(tmp_path / "j.db")
    added = json.loads(run("--db", path, "system", "add", "cso", "--impact", "low", "--json").stdout)
    assert (added["name"], added["impact"], added["policy"]) == ("cso", "Low", "fedramp-rev5")
    scan = write_nessus(tmp_path / "a.nessus", [Host("web", ip="10.0.0.5", items=[Item("100", cvss3=7.5)])])
    assert run("--db", path, "import", str(scan)).exit_code == 0
    changed = json.loads(run("--db", path, "system", "set", "cso", "--policy", "cms", "--json").stdout)
    assert changed["policy"] == "cms" and changed["deadlines_changed"] == 1
    asset = json.loads(run("--db", path, "asset", "set", "web", "--exposure", "public", "--json").stdout)
    assert asset["exposure"] == "public" and asset["exposure_source"] == "set"
    ms = json.loads(
        run("--db", path, "milestone", "add", "V-1", "--date", "2026-12-20", "--text", "Patch", "--json").stdout
    )
    assert ms["number"] == 1 and ms["entry"] == "(1) 2026-12-20: Patch"
    assert [m["text"] for m in ms["milestones"]] == ["Patch"]
    sub = json.loads(run("--db", path, "submission", "record", "--json").stdout)
    assert sub["reported"] == ["V-1"] and len(sub["date"]) == 10
    gone = json.loads(run("--db", path, "system", "remove", "cso", "--yes", "--json").stdout)
    assert gone["removed"] == "cso" and gone["items"] == 1
