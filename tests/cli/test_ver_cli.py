"""`poam export vdr|avi|ver-history` and `poam validate` through the command line, on hand-made
scans and on a real Nessus scan from the corpus."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from poam.cli import cli
from poam.exporters import fedramp_schemas
from tests.builders import Host, Item, write_nessus
from tests.conftest import corpus_dir
from tests.services.test_import import JAN

URI = "https://cso.example.com/cpo.json"


def run(*args: str, user: str = "alice") -> Result:
    return CliRunner().invoke(cli, [*args], catch_exceptions=False, env={"POAM_USER": user, "POAM_SYSTEM": "cso"})


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite database: system `cso` (fedramp-cr26, Class C), V-1 (evaluated N4 IRV, then N3)
    and V-2 (evaluated N2, accepted)."""
    url = str(tmp_path / "poam.db")
    scan = write_nessus(
        tmp_path / "jan.nessus",
        [Host("web", ip="10.0.0.5", start=JAN, items=[Item("100", cvss3=9.8), Item("200", cvss3=5.0)])],
    )
    steps = [
        ("system", "add", "cso", "--policy", "fedramp-cr26", "--class", "c"),
        ("import", str(scan)),
        ("evaluate", "V-1", "--irv", "yes", "--pain", "4", "--rationale", "public", "--at", "2026-01-06T09:00:00Z"),
        ("evaluate", "V-1", "--pain", "3", "--rationale", "WAF rule", "--at", "2026-01-08T09:00:00Z"),
        ("evaluate", "V-2", "--irv", "no", "--lev", "no", "--pain", "2", "--rationale", "internal", "--at",
         "2026-01-07T12:00:00Z"),
        ("deviation", "request", "V-2", "--type", "accepted", "--rationale", "Vendor appliance"),
    ]  # fmt: skip
    for step in steps:
        r = run(*step, "--db", url)
        assert r.exit_code == 0, (step, r.output)
    assert run("deviation", "approve", "V-2", "--type", "accepted", "--db", url, user="bob").exit_code == 0
    return url


def test_exports_need_the_cpo_uri_then_write_valid_reports(db: str, tmp_path: Path) -> None:
    out = tmp_path / "vdr.json"
    r = run("export", "vdr", str(out), "--from", "2026-01-01", "--to", "2026-01-31", "--db", db)
    assert r.exit_code == 1 and not out.exists()
    assert r.stderr.strip().splitlines() == [
        "poam: error: system 'cso' has no Certification Package Overview URI, which every VER report names: "
        "set it with `poam system set cso --cpo-uri https://...`"
    ]
    r = run("system", "set", "cso", "--cpo-uri", "www.example.com/cpo", "--db", db)
    assert r.exit_code == 2 and "absolute https://" in r.stderr
    r = run("system", "set", "cso", "--cpo-uri", URI, "--db", db)
    assert r.exit_code == 0 and f"Certification Package Overview URI {URI}" in r.stdout
    r = run("export", "vdr", str(out), "--from", "2026-01-01", "--to", "2026-01-31", "--json", "--db", db)
    assert r.exit_code == 0, r.output
    said = json.loads(r.stdout)
    assert (said["format"], said["records"], said["accepted"]) == ("fedramp-vdr", 1, 0)
    assert said["schema_version"] == "0.1.0 (common-definitions 0.1.1)"
    assert said["period"] == {"from": "2026-01-01", "to": "2026-01-31"}
    avi = tmp_path / "avi.json"
    r = run("export", "avi", str(avi), "--from", "2026-01-01", "--to", "2026-01-31", "--db", db)
    assert r.exit_code == 0 and "Accepted Vulnerability Info, 1 record(s)" in r.stdout
    hist = tmp_path / "hist.json"
    r = run("export", "ver-history", str(hist), "--db", db)
    assert r.exit_code == 0 and "Historical VER Activity, 2 record(s), 1 accepted" in r.stdout
    for path, kind in ((out, "vdr"), (avi, "avi"), (hist, "ver-history")):
        r = run("validate", str(path), "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout) == {
            "file": str(path),
            "kind": kind,
            "schema_version": "0.1.0 (common-definitions 0.1.1)",
            "valid": True,
            "problems": [],
        }
    vdr = json.loads(out.read_text(encoding="utf-8"))
    v1 = vdr["vulnerabilities"][0]
    assert (v1["providerTrackingId"], v1["currentRating"], v1["evaluationCompletedAt"]) == (
        "V-1",
        3,
        "2026-01-06T09:00:00Z",
    )
    assert v1["overdueStatus"]["isOverdue"] is True and "VDR-TFR-PVR" in v1["overdueStatus"]["explanation"]


def test_a_period_is_required_and_checked(db: str, tmp_path: Path) -> None:
    run("system", "set", "cso", "--cpo-uri", URI, "--db", db)
    out = str(tmp_path / "v.json")
    r = run("export", "vdr", out, "--db", db)
    assert r.exit_code == 2 and "--from DATE --to DATE" in r.stderr
    r = run("export", "vdr", out, "--from", "2026-02-01", "--to", "2026-01-01", "--db", db)
    assert r.exit_code == 2 and "is before --from" in r.stderr
    r = run("export", "avi", out, "--from", "January", "--to", "2026-01-31", "--db", db)
    assert r.exit_code == 2 and "--from 'January' is not a date" in r.stderr


def broken_vdr(path: Path) -> Path:
    """A VDR with a missing overdue explanation (record 1), a rating of 6 (record 0) and a
    `Remediated` disposition, which the 0.1.x schemas do not allow."""
    vuln: dict[str, Any] = {
        "providerTrackingId": "V-1",
        "detection": {"detectedAt": "2026-12-02T10:00:00Z", "detectionSource": "Nessus"},
        "vulnerabilityDescription": "x",
    }
    doc = {
        "certificationPackageOverviewUri": URI,
        "reportPeriod": {"from": "2026-12-01T00:00:00Z", "to": "2026-12-31T23:59:59Z"},
        "vulnerabilities": [
            {**vuln, "currentRating": 6},
            {**vuln, "overdueStatus": {"isOverdue": True}},
            {**vuln, "finalDisposition": "Remediated"},
        ],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_validate_prints_each_problem_with_its_path_and_value(tmp_path: Path) -> None:
    path = broken_vdr(tmp_path / "bad.json")
    r = run("validate", str(path))
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[:3] == [
        "$.vulnerabilities[0].currentRating: not one of the allowed values: 1, 2, 3, 4, 5 (value: 6)",
        '$.vulnerabilities[1].overdueStatus: "explanation" is a required property (value: {"isOverdue": true})',
        '$.vulnerabilities[2].finalDisposition: not one of the allowed values: "Fully Mitigated", '
        '"Partially Mitigated", "False Positive" (value: Remediated)',
    ]
    assert lines[3].endswith("NOT valid FedRAMP Vulnerability Detail Report 0.1.0 (common-definitions 0.1.1): "
                             "3 problem(s) (checked: FedRAMP schema (pinned by SHA-256))")  # fmt: skip
    data = json.loads(run("validate", str(path), "--json").stdout)
    assert data["valid"] is False and [p["path"] for p in data["problems"]] == [
        "$.vulnerabilities[0].currentRating",
        "$.vulnerabilities[1].overdueStatus",
        "$.vulnerabilities[2].finalDisposition",
    ]


def test_a_report_missing_its_period_and_uri_is_invalid_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "vdr.json"
    path.write_text(json.dumps({"vulnerabilities": []}), encoding="utf-8")
    r = run("validate", str(path))
    assert r.exit_code == 1
    assert r.stdout.splitlines()[:2] == [
        '$: "certificationPackageOverviewUri" is a required property (value: {"vulnerabilities": []})',
        '$: "reportPeriod" is a required property (value: {"vulnerabilities": []})',
    ]


def test_validate_shows_hostile_values_short_and_inert(tmp_path: Path) -> None:
    path = broken_vdr(tmp_path / "bad.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["vulnerabilities"][0]["currentRating"] = "\x1b]0;owned\x07" + "A" * 500
    path.write_text(json.dumps(doc), encoding="utf-8")
    r = run("validate", str(path), "--json")
    value = json.loads(r.stdout)["problems"][0]["value"]
    assert r.exit_code == 1 and len(value) == 120 and value.endswith("...") and value.isprintable()
    r = run("validate", str(path))
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout


def test_a_system_under_another_rule_set_exports_with_a_warning(tmp_path: Path) -> None:
    url = str(tmp_path / "rev5.db")
    scan = write_nessus(tmp_path / "s.nessus", [Host("web", ip="10.0.0.5", start=JAN, items=[Item("100", cvss3=7.5)])])
    for step in (("system", "add", "cso"), ("system", "set", "cso", "--cpo-uri", URI), ("import", str(scan))):
        assert run(*step, "--db", url).exit_code == 0
    out = tmp_path / "vdr.json"
    r = run("export", "vdr", str(out), "--from", "2026-01-01", "--to", "2026-01-31", "--db", url)
    assert r.exit_code == 0, r.output
    assert "poam: warning: system 'cso' follows rule set 'fedramp-rev5', not fedramp-cr26" in r.stderr
    vuln = json.loads(out.read_text(encoding="utf-8"))["vulnerabilities"][0]
    assert "currentRating" not in vuln and vuln["x-poam"]["ruleSet"] == {"name": "fedramp-rev5", "class": None}
    assert run("validate", str(out)).exit_code == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON (line 1, column 2"),
        (b'{"title": "something else"}', "not a FedRAMP VER report"),
        (b"\xff\xfe\x00x", "not UTF-8 text"),
        (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>', "XML entity declarations are not accepted"),
        (b"<NessusClientData_v2/>", "is not an OSCAL POA&M"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_validate_unreadable_files_exit_2(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(content)
    r = run("validate", str(path))
    assert r.exit_code == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr and str(path) in r.stderr


def test_validate_refuses_a_huge_file_without_reading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from poam.services import validation

    monkeypatch.setattr(validation, "MAX_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text('{"vulnerabilities": [' + ",".join(["{}"] * 600) + "]}", encoding="utf-8")
    r = run("validate", str(path))
    assert r.exit_code == 2 and "big.json: larger than" in r.stderr


def test_validate_a_missing_file_exits_2(tmp_path: Path) -> None:
    r = run("validate", str(tmp_path / "none.json"))
    assert r.exit_code == 2 and "none.json: no such file" in r.stderr


def test_schemas_folder_with_an_unknown_digest_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    folder.mkdir()
    name = fedramp_schemas.FILES["common"]
    shutil.copy(fedramp_schemas.HERE / name, folder / name)
    with (folder / name).open("a", encoding="utf-8") as f:
        f.write("\n")  # one byte more: not the pinned file any more
    path = broken_vdr(tmp_path / "bad.json")
    r = run("validate", str(path), "--schemas", str(folder))
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "is not a pinned FedRAMP schema (pinned: 0.1.1 b6cffd3632ba, 0.3.0 ed810d605845)" in r.stderr
    shutil.copy(fedramp_schemas.HERE / name, folder / name)  # the pinned bytes again
    assert run("validate", str(path), "--schemas", str(folder)).exit_code == 1


def test_validate_an_oscal_poam_in_json_and_xml(tmp_path: Path) -> None:
    folder = corpus_dir("oscal_poam")
    as_json = run("validate", str(folder / "oscal-content__ifa_plan-of-action-and-milestones.json"), "--json")
    as_xml = run("validate", str(folder / "oscal-content__ifa_plan-of-action-and-milestones.xml"), "--json")
    found = [json.loads(r.stdout) for r in (as_json, as_xml)]
    assert [f["kind"] for f in found] == ["oscal-poam", "oscal-poam"]
    assert found[0]["schema_version"] == found[1]["schema_version"] == "1.1.2"
    assert found[0]["problems"] == found[1]["problems"]  # the same document, read from either form
    assert as_json.exit_code == as_xml.exit_code == (0 if found[0]["valid"] else 1)


def test_poams_own_oscal_export_validates(db: str, tmp_path: Path) -> None:
    out = tmp_path / "poam.json"
    assert run("export", "oscal", str(out), "--db", db).exit_code == 0
    r = run("validate", str(out))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"{out}: valid OSCAL POA&M")


def test_an_imported_poam_flows_into_the_vdr(db: str, tmp_path: Path) -> None:
    """The provider's transition path: a POA&M workbook brought in by `poam import` is reported."""
    workbook = tmp_path / "poam.xlsx"
    assert run("export", "fedramp", str(workbook), "--db", db).exit_code == 0
    other = str(tmp_path / "other.db")
    assert run("system", "add", "cso", "--policy", "fedramp-cr26", "--db", other).exit_code == 0
    assert run("system", "set", "cso", "--cpo-uri", URI, "--db", other).exit_code == 0
    r = run("import", str(workbook), "--db", other)
    assert r.exit_code == 0, r.output
    out = tmp_path / "vdr.json"
    r = run("export", "vdr", str(out), "--from", "2026-01-01", "--to", "2026-01-31", "--db", other)
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [(v["providerTrackingId"], v["detection"]["detectedAt"], v["x-poam"]["origin"]) for v in
            doc["vulnerabilities"]] == [("V-1", "2026-01-05T00:00:00Z", "poam-xlsx"),
                                        ("V-2", "2026-01-05T00:00:00Z", "poam-xlsx")]  # fmt: skip
    assert [v["x-poam"]["affectedResources"] for v in doc["vulnerabilities"]] == [1, 1]  # host web, from the cell
    assert run("validate", str(out)).exit_code == 0


@pytest.mark.corpus
def test_real_scan_to_valid_reports(tmp_path: Path) -> None:
    scan = corpus_dir("nessus_xml") / "defectdojo__tenable__nessus_with_cvssv3.nessus"
    db = str(tmp_path / "poam.db")
    assert run("system", "add", "cso", "--policy", "fedramp-cr26", "--db", db).exit_code == 0
    assert run("system", "set", "cso", "--cpo-uri", URI, "--db", db).exit_code == 0
    assert run("import", str(scan), "--db", db).exit_code == 0
    listed = json.loads(run("items", "--json", "--db", db).stdout)
    ids = [i["poam_id"] for i in (listed["items"] if isinstance(listed, dict) else listed)]
    assert len(ids) > 10
    for poam_id, pain in ((ids[0], "4"), (ids[1], "2")):
        r = run("evaluate", poam_id, "--irv", "yes", "--pain", pain, "--rationale", "reviewed", "--db", db)
        assert r.exit_code == 0, r.output
    out = tmp_path / "vdr.json"
    r = run("export", "vdr", str(out), "--from", "2000-01-01", "--to", "2030-12-31", "--json", "--db", db)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["records"] == len(ids)
    assert run("validate", str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8")
    doc = json.loads(text)
    evaluated = [v for v in doc["vulnerabilities"] if "currentRating" in v]
    assert sorted(v["currentRating"] for v in evaluated) == [2, 4]
    assert all(v["detection"]["detectionSource"] for v in doc["vulnerabilities"])
    assert "plugin_output" not in text


def test_a_report_for_a_period_still_running_says_so_and_is_as_of_today(db: str, tmp_path: Path) -> None:
    assert run("system", "set", "cso", "--cpo-uri", URI, "--db", db).exit_code == 0
    today = dt.datetime.now(dt.UTC).date()
    end = (today + dt.timedelta(days=40)).isoformat()
    out = tmp_path / "r.html"
    r = run("export", "vdr-report", str(out), "--from", "2026-01-01", "--to", end, "--db", db, "--json")
    assert r.exit_code == 0, r.output
    assert f"poam: warning: the period ends after now ({end}): the records are as of {today}" in r.stderr
    data = json.loads(r.stdout)
    assert data["warnings"][-1].startswith(f"the period ends after now ({end})")
    assert data["accepted_summary"].count(today.isoformat()) == 1 and end not in data["accepted_summary"]


def test_a_deviation_request_made_after_the_period_is_not_in_its_report(db: str, tmp_path: Path) -> None:
    assert run("system", "set", "cso", "--cpo-uri", URI, "--db", db).exit_code == 0
    assert run("deviation", "request", "V-1", "--type", "fp", "--rationale", "not there", "--db", db).exit_code == 0
    today = dt.datetime.now(dt.UTC).date().isoformat()
    shown = {}
    for name, end in (("jan", "2026-01-31"), ("now", today)):
        out = tmp_path / f"{name}.json"
        r = run("export", "vdr", str(out), "--from", "2026-01-01", "--to", end, "--db", db)
        assert r.exit_code == 0, r.output
        (v1,) = [v for v in json.loads(out.read_text())["vulnerabilities"] if v["providerTrackingId"] == "V-1"]
        shown[name] = [(d["type"], d["status"]) for d in v1["x-poam"]["deviations"]]
    assert shown == {"jan": [], "now": [("false-positive", "pending")]}
