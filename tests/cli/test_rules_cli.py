"""The rule-set commands as a user types them: system add/set --policy/--class, evaluate, item show,
items --sort priority and its filters (CLI contract of issue 8)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from poam.cli import cli
from tests.builders import Host, Item, write_nessus


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "poam.db")
    assert run("--db", path, "system", "add", "cso", "--impact", "high", "--policy", "fedramp-cr26").exit_code == 0
    scan = write_nessus(
        tmp_path / "a.nessus",
        [
            Host(
                "web",
                ip="203.0.113.5",
                items=[Item("100", cvss3=9.8, cves=("CVE-2026-30001",)), Item("200", severity=1)],
            ),
            Host("db", ip="10.0.0.9", items=[Item("300", cvss3=5.0)]),
        ],
    )
    assert run("--db", path, "import", str(scan)).exit_code == 0
    return path


def show(db: str, poam_id: str) -> dict:  # type: ignore[type-arg]
    r = run("--db", db, "item", "show", poam_id, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_system_add_defaults_the_class_from_the_impact(db: str) -> None:
    listed = json.loads(run("--db", db, "system", "list", "--json").stdout)
    assert [(s["policy"], s["fedramp_class"]) for s in listed] == [("fedramp-cr26", "d")]


def test_item_show_json_contract(db: str) -> None:
    d = show(db, "V-1")
    assert {"deadlines", "pain", "irv", "lev", "exposure", "forensic_triage", "priority"} <= d.keys()
    (ev,) = d["deadlines"]
    assert {"kind", "due", "rule", "basis"} <= ev.keys()
    assert (ev["kind"], ev["due"], ev["rule"]) == ("evaluation", "2026-01-07T10:00:00Z", "VER-TFR-EVU")
    assert d["pain"] is None and d["awaiting_evaluation"] is True
    assert d["priority"]["score"] == sum(f["points"] for f in d["priority"]["factors"])


def test_evaluate_then_show_and_the_audit_log(db: str) -> None:
    r = run(
        "--db", db, "evaluate", "V-1", "--irv", "yes", "--pain", "5", "--rationale", "internet-facing RCE",
        "--at", "2026-01-05T12:00:00Z", "--user", "alice",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "N5, IRV yes, LEV yes (LEV assumed yes: VER-EVA-AIA)" in r.stdout
    d = show(db, "V-1")
    nr = next(x for x in d["deadlines"] if x["kind"] == "next_reduction")
    assert nr["due"] == "2026-01-06T00:00:00Z" and nr["rule"] == "VDR-TFR-PVR"  # Class D N5 IRV+LEV: 12 hours
    assert [f["rule"] for f in d["flags"] if f["kind"] == "incident"] == ["VER-TFR-IRI"]
    r = run("--db", db, "evaluate", "V-1", "--pain", "3", "--rationale", "WAF", "--at", "2026-01-06T08:00:00+00:00")
    assert r.exit_code == 0 and "reduction recorded: N3" in r.stdout
    text = run("--db", db, "item", "show", "V-1").stdout
    assert "next_reduction  2026-01-14T08:00:00Z  VDR-TFR-PVR" in text  # N3 IRV+LEV: 8 days from the reduction
    with sqlite3.connect(db) as conn:
        actors = [a for (a,) in conn.execute("select actor from audit_events where action = 'item.evaluate'")]
    assert actors[0] == "alice" and len(actors) == 2
    assert run("--db", db, "audit", "verify").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--irv", "yes", "--pain", "6", "--rationale", "x"], "--pain must be 1 to 5"),
        (["--irv", "yes", "--pain", "3"], "needs --rationale"),
        (["--irv", "yes", "--pain", "3", "--rationale", "x", "--at", "2099-01-01T00:00:00Z"], "in the future"),
    ],
)
def test_invalid_evaluations_are_one_line_exit_2_and_change_nothing(db: str, args: list[str], message: str) -> None:
    with sqlite3.connect(db) as conn:
        before = conn.execute("select count(*) from audit_events").fetchone()
    r = CliRunner().invoke(cli, ["--db", db, "evaluate", "V-1", *args])
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and message in r.stderr and r.stdout == ""
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from audit_events").fetchone() == before
        assert conn.execute("select count(*) from evaluations").fetchone() == (0,)


def test_retired_and_unknown_rule_sets_are_refused(db: str, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["--db", db, "system", "set", "cso", "--policy", "bod-19-02"])
    assert r.exit_code == 2 and "revoked by CISA BOD 26-04" in r.stderr
    r = CliRunner().invoke(cli, ["--db", db, "system", "set", "cso", "--class", "e"])
    assert r.exit_code == 2 and "--class must be b, c or d" in r.stderr
    table = tmp_path / "agency.toml"
    table.write_text('name = "agency"\n[days]\nCritical = 7\nHigh = 14\nModerate = 45\nLow = 90\n', encoding="utf-8")
    r = run("--db", db, "system", "set", "cso", "--policy", str(table))
    assert r.exit_code == 0 and "policy custom:agency" in r.stdout
    (dl,) = show(db, "V-3")["deadlines"]  # Moderate (CVSS 5.0): 45 days from detection
    assert (dl["kind"], dl["due"], dl["rule"]) == ("remediation", "2026-02-19T10:00:00Z", "custom:agency")


def test_items_sort_priority_and_filters(db: str) -> None:
    run("--db", db, "asset", "set", "203.0.113.5", "--exposure", "public", "--criticality", "high")
    run(
        "--db",
        db,
        "evaluate",
        "V-3",
        "--irv",
        "no",
        "--pain",
        "2",
        "--rationale",
        "internal",
        "--at",
        "2026-01-05T12:00:00Z",
    )
    listed = json.loads(run("--db", db, "items", "--sort", "priority", "--json").stdout)
    scores = [i["priority"]["score"] for i in listed]
    assert scores == sorted(scores, reverse=True)
    assert listed[0]["poam_id"] == "V-1"  # Critical, public, high criticality
    assert {"deadlines", "pain", "exposure", "priority"} <= listed[0].keys()
    ids = lambda *a: [i["poam_id"] for i in json.loads(run("--db", db, "items", "--json", *a).stdout)]  # noqa: E731
    assert ids("--awaiting-evaluation") == ["V-1", "V-2"]
    assert ids("--pain", "2") == ["V-3"]
    assert ids("--risk", "critical") == ["V-1"]
    assert ids("--asset", "db") == ["V-3"]
    assert ids("--detector", "nessus") == ["V-1", "V-2", "V-3"]
    assert ids("--kev") == []
    assert ids("--late") == ["V-1", "V-2", "V-3"]  # all of 2026-01 is long past
    table = run("--db", db, "items", "--sort", "due").stdout
    assert "LATE" in table and "VER-TFR-EVU" in table


def test_system_set_checks_everything_before_changing_anything(db: str) -> None:
    r = CliRunner().invoke(
        cli, ["--db", db, "system", "set", "cso", "--policy", "bod-26-04", "--public-cidr", "999.1.1.1/8"]
    )
    assert r.exit_code == 2 and r.stdout == "" and "not an address range" in r.stderr
    listed = json.loads(run("--db", db, "system", "list", "--json").stdout)
    assert listed[0]["policy"] == "fedramp-cr26"


def test_an_evaluation_before_the_detection_time_is_refused(db: str) -> None:
    # detected 2026-01-05T10:00:00Z (the scan's start): the same morning is still too early
    r = CliRunner().invoke(
        cli,
        [
            "--db",
            db,
            "evaluate",
            "V-1",
            "--irv",
            "no",
            "--pain",
            "2",
            "--rationale",
            "x",
            "--at",
            "2026-01-05T09:00:00Z",
        ],
    )
    assert r.exit_code == 2 and "is before V-1 was detected (2026-01-05T10:00:00Z)" in r.stderr


def test_item_set_and_teams_on_the_command_line(db: str) -> None:
    assert run("--db", db, "team", "add", "Platform", "--capacity", "20", "--user", "bob").exit_code == 0
    r = run(
        "--db", db, "item", "set", "V-1", "--team", "Platform", "--hours", "6", "--poc", "Jane Doe", "--user", "bob"
    )
    assert r.exit_code == 0 and "point of contact Jane Doe" in r.stdout
    teams = json.loads(run("--db", db, "team", "list", "--json").stdout)
    assert teams == [{"name": "Platform", "capacity_hours": 20.0, "open_items": 1, "hours_assigned": 6.0}]
    d = show(db, "V-1")
    assert (d["team"], d["hours"], d["point_of_contact"]) == ("Platform", 6.0, "Jane Doe")
    r = CliRunner().invoke(cli, ["--db", db, "item", "set", "V-1", "--hours", "-3"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "--hours must be" in r.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("select actor from audit_events where action = 'item.set'").fetchall() == [("bob",)]


def test_export_prints_the_audit_head_and_verify_checks_it(db: str, tmp_path: Path) -> None:
    r = run("--db", db, "export", "oscal", str(tmp_path / "p.json"))
    assert r.exit_code == 0
    printed = r.stdout.splitlines()[-1].split()[3]
    head = json.loads(run("--db", db, "audit", "head", "--json").stdout)
    assert head["head"] == printed and head["events"] > 0
    assert run("--db", db, "audit", "verify", "--head", printed).exit_code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("delete from audit_events where id = (select max(id) from audit_events)")
        conn.execute(
            "update settings set value = (select hash from audit_events order by id desc limit 1)"
            " where key = 'audit_head'"
        )
    r = CliRunner().invoke(cli, ["--db", db, "audit", "verify", "--head", printed])
    assert r.exit_code == 1 and "does not hold the head" in r.stderr
    assert run("--db", db, "audit", "verify").exit_code == 0  # what the anchor is for
    history = json.loads(run("--db", db, "item", "history", "V-1", "--json").stdout)
    assert history[0]["action"] == "scan.import" and history[0]["detail"]["opened"] is True


def test_readers_never_create_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    for args in (["items"], ["system", "list"], ["audit", "verify"], ["summary"], ["team", "list"]):
        r = CliRunner().invoke(cli, ["--db", str(missing), *args])
        assert r.exit_code == 1 and "no database there" in r.stderr, args
    assert not missing.exists()


def test_default_system_from_the_environment(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("--db", db, "system", "add", "other").exit_code == 0
    r = CliRunner().invoke(cli, ["--db", db, "items"])
    assert r.exit_code == 1 and "several systems" in r.stderr
    monkeypatch.setenv("POAM_SYSTEM", "cso")
    assert "3 open item(s)" in run("--db", db, "items").stdout


def test_items_as_csv_and_tsv_are_inert(db: str, tmp_path: Path) -> None:
    import csv
    import io

    hostile = write_nessus(
        tmp_path / "h.nessus",
        [Host("web", ip="203.0.113.5", items=[Item("900", name='=HYPERLINK("http://x")\tboom', cvss3=4.0)])],
    )
    assert run("--db", db, "import", str(hostile)).exit_code == 0
    rows = list(csv.reader(io.StringIO(run("--db", db, "items", "--format", "csv").stdout)))
    assert rows[0][:3] == ["poam_id", "status", "rating"] and len(rows) == 5
    weakness = {r[0]: r[-1] for r in rows[1:]}
    assert weakness["V-4"] == '\'=HYPERLINK("http://x") boom'
    tsv = run("--db", db, "items", "--format", "tsv").stdout.splitlines()
    assert all(line.count("\t") == 13 for line in tsv)


def test_system_remove_asks_first(db: str) -> None:
    r = CliRunner().invoke(cli, ["--db", db, "system", "remove", "cso"], input="n\n")
    assert r.exit_code == 1 and json.loads(run("--db", db, "system", "list", "--json").stdout)
    r = CliRunner().invoke(cli, ["--db", db, "system", "remove", "cso"], input="y\n")
    assert r.exit_code == 0 and "removed system cso (3 items" in r.stdout
    assert json.loads(run("--db", db, "system", "list", "--json").stdout) == []


def test_import_json_lists_refused_files_with_their_error(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.nessus"
    bad.write_text("garbage", encoding="utf-8")
    good = write_nessus(tmp_path / "b.nessus", [Host("web", ip="203.0.113.5", items=[Item("100")])])
    r = CliRunner().invoke(cli, ["--db", db, "import", str(bad), str(good), "--json"])
    assert r.exit_code == 2
    first, second = json.loads(r.stdout)
    assert first == {"source": str(bad), "refused": True, "error": first["error"]} and "unrecognised" in first["error"]
    assert second["refused"] is False and second["source"] == str(good) and second["format"] == "nessus"


def test_vendor_checkin_on_the_command_line(db: str) -> None:
    r = run("--db", db, "vendor", "checkin", "V-1", "--date", "2026-01-20", "--product", "Acme", "--note", "ETA Q2")
    assert r.exit_code == 0 and "next check-in due 2026-02-19" in r.stdout
    text = run("--db", db, "item", "show", "V-1").stdout
    assert "vendor dependency: Acme; last check-in 2026-01-20; next check-in due 2026-02-19 (OVERDUE)" in text


def test_system_set_changes_the_deliverables_header_fields_on_record(db: str, tmp_path: Path) -> None:
    r = run("--db", db, "system", "set", "cso", "--org", "  Example   CSP, Inc. ", "--fedramp-id", "F1234567890")
    assert r.exit_code == 0 and "org Example CSP, Inc.; fedramp id F1234567890" in r.stdout
    listed = json.loads(run("--db", db, "system", "list", "--json").stdout)[0]
    assert (listed["org"], listed["fedramp_id"]) == ("Example CSP, Inc.", "F1234567890")
    cleared = json.loads(run("--db", db, "system", "set", "cso", "--org", "", "--json").stdout)  # empty clears
    assert (cleared["org"], cleared["open_items"], cleared["closed_items"]) == (None, 3, 0)
    assert json.loads(run("--db", db, "system", "list", "--json").stdout)[0]["org"] is None
    r = run("--db", db, "system", "set", "cso", "--fedramp-id", "x" * 101)
    assert r.exit_code == 2 and "--fedramp-id is longer than 100 characters" in r.stderr
    assert run("--db", db, "audit", "verify").exit_code == 0
    con = sqlite3.connect(db)
    changes = [json.loads(d) for (d,) in con.execute("select detail from audit_events where action = 'system.set'")]
    assert changes == [
        {"org": [None, "Example CSP, Inc."], "fedramp_id": [None, "F1234567890"]},
        {"org": ["Example CSP, Inc.", None]},
    ]


def test_a_closed_item_is_late_only_when_it_closed_after_its_deadline(tmp_path: Path) -> None:
    """fedramp-rev5: High 30 days, Moderate 90. Both found 2026-01-05 and fixed by the 2026-02-05
    scan: the High one closed a day after its 2026-02-04 deadline, the Moderate one in time."""
    path = str(tmp_path / "rev5.db")
    jan = dt.datetime(2026, 1, 5, 10, 0)
    feb = dt.datetime(2026, 2, 5, 10, 0)
    found = [Item("100", cvss3=7.5), Item("200", cvss3=5.0)]
    for name, when, items in (("jan", jan, found), ("feb", feb, [Item("300", severity=0)])):
        scan = write_nessus(tmp_path / f"{name}.nessus", [Host("web", ip="10.0.0.5", start=when, items=items)])
        assert run("--db", path, "import", str(scan)).exit_code == 0
    shown = json.loads(run("--db", path, "items", "--status", "closed", "--json").stdout)
    assert {i["poam_id"]: (i["original_risk"], i["late"]) for i in shown} == {
        "V-1": ("High", True),
        "V-2": ("Moderate", False),
    }
    late = json.loads(run("--db", path, "items", "--status", "closed", "--late", "--json").stdout)
    assert [i["poam_id"] for i in late] == ["V-1"]
