"""`poam milestone`, `poam submission record` and `poam item set --ready` as a user types them
(CLI contract of issue 9 point 2), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select

from poam.cli import cli
from poam.store.tables import audit_events, milestone_changes, milestones
from tests.builders import Host, Item, write_nessus


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


@pytest.fixture
def db(engine: Engine, tmp_path: Path) -> str:
    url = engine.url.render_as_string(hide_password=False)
    assert run("--db", url, "system", "add", "cso").exit_code == 0
    scan = write_nessus(tmp_path / "a.nessus", [Host("web", ip="10.0.0.5", items=[Item("100", cvss3=9.8)])])
    assert run("--db", url, "import", str(scan)).exit_code == 0
    return url


def ok(*args: str) -> Result:
    r = run(*args, env={"POAM_USER": "alice"})
    assert r.exit_code == 0, r.output
    return r


def show(db: str) -> dict[str, Any]:
    return json.loads(ok("--db", db, "item", "show", "V-1", "--json").stdout)  # type: ignore[no-any-return]


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (milestones, milestone_changes, audit_events)
        )


def test_add_update_complete_list_and_item_show(db: str) -> None:
    r = ok("--db", db, "milestone", "add", "V-1", "--date", "2026-01-20", "--text", "Patch the web tier")
    assert r.stdout == "V-1: (1) 2026-01-20: Patch the web tier (replaced the automatic milestone)\n"
    ok("--db", db, "milestone", "add", "V-1", "--date", "2026-02-01", "--text", "Rescan")
    r = ok("--db", db, "milestone", "update", "V-1", "2", "--date", "2026-02-10")
    assert r.stdout.startswith("V-1: (2) Update 2026-02-10 : Rescheduled from 2026-02-01 to 2026-02-10.")
    r = ok("--db", db, "milestone", "complete", "V-1", "1", "--date", "2026-01-19")
    assert r.stdout == "V-1: (1) Complete 2026-01-19 : Milestone completed.\n"
    listed = json.loads(ok("--db", db, "milestone", "list", "V-1", "--json").stdout)
    assert [(m["number"], m["date"], m["status"], m["by"]) for m in listed["milestones"]] == [
        (1, "2026-01-20", "complete", "alice"),
        (2, "2026-02-10", "open", "alice"),
    ]
    table = ok("--db", db, "milestone", "list", "V-1").stdout
    assert "Patch the web tier" in table and "(1) Complete 2026-01-19 : Milestone completed. [by alice]" in table
    d = show(db)
    assert d["milestones"] == [
        {
            "number": 1,
            "date": "2026-01-20",
            "text": "Patch the web tier",
            "status": "complete",
            "completed_on": "2026-01-19",
            "placeholder": False,
        },
        {
            "number": 2,
            "date": "2026-02-10",
            "text": "Rescan",
            "status": "open",
            "completed_on": None,
            "placeholder": False,
        },
    ]
    assert [(c["number"], c["kind"], c["date"], c["by"]) for c in d["milestone_changes"]] == [
        (2, "Update", "2026-02-10", "alice"),
        (1, "Complete", "2026-01-19", "alice"),
    ]
    assert set(d["milestone_changes"][0]) == {"number", "kind", "date", "text", "by"}


def test_the_automatic_milestone_shows_as_a_placeholder(db: str) -> None:
    (m,) = show(db)["milestones"]
    assert (m["number"], m["placeholder"], m["status"]) == (1, True, "open")


def test_submission_then_add_is_a_new_change(db: str) -> None:
    ok("--db", db, "milestone", "add", "V-1", "--date", "2026-01-20", "--text", "Patch")
    r = ok("--db", db, "submission", "record", "--date", "2026-01-31")
    assert r.stdout == "submission 2026-01-31: 1 item(s) reported: V-1\n"
    r = ok("--db", db, "submission", "record", "--date", "2026-01-31")
    assert r.stdout == "submission 2026-01-31: no open item awaits a first report\n"
    r = ok("--db", db, "milestone", "add", "V-1", "--date", "2026-03-01", "--text", "Replace it")
    assert r.stdout.startswith("V-1: (2) New 2026-03-01 : Replace it (reported on 2026-01-31")
    d = show(db)
    assert d["reported_at"] == "2026-01-31" and [m["number"] for m in d["milestones"]] == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("milestone", "complete", "V-1", "1", "--date", "2999-01-01"), "is in the future"),
        (("milestone", "complete", "V-1", "7"), "V-1 has no milestone (7)"),
        (("milestone", "add", "V-1", "--date", "2020-01-01", "--text", "x"), "before V-1 was detected"),
        (("milestone", "add", "V-1", "--date", "2026-02-01", "--text", ""), "--text is empty"),
        (("milestone", "add", "V-1", "--date", "2026-02-01", "--text", "a\n(3) 2026-01-01: b"), "milestone entry"),
        (("milestone", "update", "V-1", "1"), "give --date, --text or both"),
        (("submission", "record", "--date", "2999-01-01"), "is in the future"),
        (("item", "set", "V-1", "--ready"), "V-1 cannot be marked ready: it needs an owner"),
    ],
)
def test_bad_values_exit_2_with_one_line(db: str, engine: Engine, args: tuple[str, ...], message: str) -> None:
    before = counts(engine)
    r = run("--db", db, *args)
    assert r.exit_code == 2, r.output
    assert message in r.stderr and r.stderr.count("\n") == 1
    assert counts(engine) == before


def test_completing_twice_exits_2(db: str, engine: Engine) -> None:
    ok("--db", db, "milestone", "complete", "V-1", "1", "--date", "2026-01-10")
    before = counts(engine)
    r = run("--db", db, "milestone", "complete", "V-1", "1", "--date", "2026-01-11")
    assert r.exit_code == 2 and "already complete (2026-01-10)" in r.stderr
    assert counts(engine) == before


def test_a_missing_item_exits_1(db: str) -> None:
    r = run("--db", db, "milestone", "list", "V-9")
    assert r.exit_code == 1 and "no item 'V-9'" in r.stderr


def test_item_set_ready(db: str) -> None:
    r = run("--db", db, "item", "set", "V-1", "--poc", "Jane Doe", "--ready")
    assert r.exit_code == 2 and "open milestone a person planned" in r.stderr and "owner" not in r.stderr
    assert show(db)["point_of_contact"] is None  # refused: nothing changed, the --poc neither
    ok("--db", db, "milestone", "add", "V-1", "--date", "2026-01-20", "--text", "Patch")
    r = ok("--db", db, "item", "set", "V-1", "--poc", "Jane Doe", "--ready")
    assert r.stdout.splitlines()[0] == "V-1: ready for the monthly submission"
    assert show(db)["ready"] is True
    r = ok("--db", db, "item", "set", "V-1", "--not-ready")
    assert r.stdout == "V-1: not ready for the monthly submission\n"
    assert show(db)["ready"] is False
    history = ok("--db", db, "item", "history", "V-1", "--json").stdout
    assert [e["action"] for e in json.loads(history) if e["action"] == "item.ready"] == ["item.ready"] * 2
