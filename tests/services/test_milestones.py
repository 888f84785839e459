"""Milestones a person plans, re-dates and completes (issue 9 point 2), readiness and the monthly
submission, on SQLite and PostgreSQL; and a person's Complete change surviving scan replays."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, func, select

from poam.domain.milestones import parse_changes, parse_milestones
from poam.domain.models import ChangeKind, ItemStatus
from poam.errors import UsageError, ValueRefused
from poam.services import milestones, planning, systems
from poam.services.exporting import export_fedramp
from poam.services.importer import import_file
from poam.services.items import load
from poam.store.tables import audit_events, items, milestone_changes
from poam.store.tables import milestones as milestone_rows
from tests.builders import Host, Item, write_nessus

JAN = dt.datetime(2026, 1, 5, 10, 0)
JAN15 = dt.datetime(2026, 1, 15, 10, 0)
FEB = dt.datetime(2026, 2, 5, 10, 0)
MAR = dt.datetime(2026, 3, 5, 10, 0)
TODAY = dt.date(2026, 6, 1)
P = Item("100", port=443, severity=3, cvss3=7.5, name="Weak TLS")
D = dt.date


def a(t: dt.datetime, *it: Item) -> Host:
    return Host("a", ip="10.0.0.1", fqdn="a.example.com", start=t, items=list(it))


def b(t: dt.datetime, *it: Item) -> Host:
    return Host("b", ip="10.0.0.2", fqdn="b.example.com", start=t, items=list(it))


def imp(engine: Engine, tmp_path: Path, name: str, hosts: list[Host]) -> None:
    import_file(engine, write_nessus(tmp_path / f"{name}.nessus", hosts), system="cso", actor="t", parallel=False)


def setup(engine: Engine, tmp_path: Path, poc: str | None = "Default ISSO") -> None:
    systems.add_system(engine, "cso", "t", point_of_contact=poc)
    imp(engine, tmp_path, "jan", [a(JAN, P, Item("200", severity=1))])


def item(engine: Engine, poam_id: str = "V-1") -> Any:
    with engine.connect() as conn:
        return next(i for i in load(conn, systems.resolve(conn, "cso", "t").id) if i.poam_id == poam_id)


def events(engine: Engine, action: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            json.loads(r.detail)
            for r in conn.execute(
                select(audit_events.c.detail).where(audit_events.c.action == action).order_by(audit_events.c.id)
            )
        ]


def state(engine: Engine) -> tuple[Any, ...]:
    """Everything a refused command must leave as it was."""
    with engine.connect() as conn:
        return (
            conn.execute(select(milestone_rows).order_by(milestone_rows.c.id)).all(),
            conn.execute(select(milestone_changes).order_by(milestone_changes.c.id)).all(),
            conn.execute(select(items.c.ready, items.c.reported_at, items.c.updated_at).order_by(items.c.id)).all(),
            conn.execute(select(func.count()).select_from(audit_events)).scalar_one(),
        )


def test_a_persons_first_milestone_replaces_the_automatic_one(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    (auto,) = item(engine).milestones
    assert auto.placeholder and auto.by is None and auto.number == 1
    done = milestones.add(engine, "cso", "V-1", "alice", D(2026, 1, 20), "Patch the web tier")
    assert (done.number, done.entry) == (1, "(1) 2026-01-20: Patch the web tier")
    assert "replaced" in done.note
    done = milestones.add(engine, "cso", "V-1", "bob", D(2026, 2, 1), "Rescan to confirm")
    assert done.number == 2 and done.note == ""
    got = item(engine)
    assert [(m.number, m.date, m.text, m.placeholder, m.by, m.status) for m in got.milestones] == [
        (1, D(2026, 1, 20), "Patch the web tier", False, "alice", "open"),
        (2, D(2026, 2, 1), "Rescan to confirm", False, "bob", "open"),
    ]
    assert got.milestone_changes == ()  # before the first report, adding is not a change
    first, second = events(engine, "milestone.add")
    assert first["milestone"][0] == [{"number": 1, "date": auto.date.isoformat(), "text": auto.text}]
    assert first["milestone"][1] == {"number": 1, "date": "2026-01-20", "text": "Patch the web tier", "kind": "planned"}
    assert second["milestone"][0] is None
    # V-2 was left alone
    assert item(engine, "V-2").milestones[0].placeholder


def test_before_reporting_update_edits_in_place_and_is_a_change(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 1, 20), "Patch the web tier")
    done = milestones.update_milestone(engine, "cso", "V-1", 1, "bob", when=D(2026, 2, 10))
    assert done.entry == "(1) Update 2026-02-10 : Rescheduled from 2026-01-20 to 2026-02-10."
    milestones.update_milestone(engine, "cso", "V-1", 1, "carol", text="Patch web and API tiers")
    got = item(engine)
    (m,) = got.milestones
    assert (m.date, m.text, m.by) == (D(2026, 2, 10), "Patch web and API tiers", "carol")
    assert [(c.number, c.kind, c.date, c.text, c.by) for c in got.milestone_changes] == [
        (1, ChangeKind.UPDATE, D(2026, 2, 10), "Rescheduled from 2026-01-20 to 2026-02-10.", "bob"),
        (1, ChangeKind.UPDATE, D(2026, 2, 10), "Patch web and API tiers", "carol"),
    ]
    redate, retext = events(engine, "milestone.update")
    assert redate["date"] == ["2026-01-20", "2026-02-10"] and redate["planned_edited"] is True
    assert retext["text"] == ["Patch the web tier", "Patch web and API tiers"]


def test_updating_the_automatic_milestone_makes_it_a_persons(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    milestones.update_milestone(engine, "cso", "V-1", 1, "alice", when=D(2026, 1, 30), text="Patch it")
    (m,) = item(engine).milestones
    assert (m.placeholder, m.by, m.date, m.text) == (False, "alice", D(2026, 1, 30), "Patch it")
    assert milestones.add(engine, "cso", "V-1", "alice", D(2026, 2, 1), "Rescan").number == 2  # nothing replaced


def test_after_reporting_planned_milestones_are_permanent(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 1, 20), "Patch the web tier")
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 2, 1), "Rescan")
    day, reported = milestones.record_submission(engine, "cso", "sub", D(2026, 1, 31), today=TODAY)
    assert (day, reported) == (D(2026, 1, 31), ["V-1", "V-2"])
    done = milestones.add(engine, "cso", "V-1", "bob", D(2026, 3, 1), "Replace the load balancer")
    assert done.entry == "(3) New 2026-03-01 : Replace the load balancer" and "reported on 2026-01-31" in done.note
    milestones.update_milestone(engine, "cso", "V-1", 1, "bob", when=D(2026, 2, 15))
    milestones.update_milestone(engine, "cso", "V-1", 3, "bob", when=D(2026, 3, 20))
    milestones.complete(engine, "cso", "V-1", 3, "carol", D(2026, 3, 18), today=TODAY)
    milestones.complete(engine, "cso", "V-1", 1, "carol", D(2026, 2, 14), "Patched", today=TODAY)
    assert milestones.add(engine, "cso", "V-1", "bob", D(2026, 4, 1), "Rescan again").number == 4
    got = item(engine)
    # column M as first reported
    assert [(m.number, m.date, m.text) for m in got.milestones] == [
        (1, D(2026, 1, 20), "Patch the web tier"),
        (2, D(2026, 2, 1), "Rescan"),
    ]
    assert [(m.status, m.completed_on) for m in got.milestones] == [("complete", D(2026, 2, 14)), ("open", None)]
    assert [(c.number, c.kind.value, c.date, c.by) for c in got.milestone_changes] == [
        (3, "New", D(2026, 3, 1), "bob"),
        (1, "Update", D(2026, 2, 15), "bob"),
        (3, "Update", D(2026, 3, 20), "bob"),
        (3, "Complete", D(2026, 3, 18), "carol"),
        (1, "Complete", D(2026, 2, 14), "carol"),
        (4, "New", D(2026, 4, 1), "bob"),
    ]
    listed = {m.number: m for m in milestones.listing(engine, "cso", "V-1").milestones}
    assert (listed[1].date, listed[1].planned_date, listed[1].origin) == (D(2026, 2, 15), D(2026, 1, 20), "planned")
    assert (listed[3].date, listed[3].status, listed[3].completed_on, listed[3].origin, listed[3].by) == (
        D(2026, 3, 20),
        "complete",
        D(2026, 3, 18),
        "new",
        "bob",
    )
    assert (listed[4].status, listed[2].status) == ("open", "open")
    assert events(engine, "milestone.update")[0]["planned_edited"] is False
    assert events(engine, "milestone.complete")[0]["completed_on"] == [None, "2026-03-18"]


def test_a_persons_milestones_and_changes_are_exported_in_the_template_grammar(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 1, 20), "Patch the web tier\n\nthen reboot")
    milestones.record_submission(engine, "cso", "sub", D(2026, 1, 31), today=TODAY)
    milestones.add(engine, "cso", "V-1", "bob", D(2026, 3, 1), "Replace the load balancer")
    milestones.update_milestone(engine, "cso", "V-1", 1, "bob", when=D(2026, 2, 15), text="Vendor patch late")
    milestones.complete(engine, "cso", "V-1", 1, "carol", D(2026, 2, 14), today=TODAY)
    out = tmp_path / "out.xlsx"
    export_fedramp(engine, out, "cso", "t", D(2026, 3, 1))
    ws = openpyxl.load_workbook(out)["Open POA&M Items"]
    row = next(r for r in range(8, 12) if ws.cell(r, 1).value == "V-1")
    planned, changes = ws.cell(row, 13).value, ws.cell(row, 14).value
    assert planned == "(1) 2026-01-20: Patch the web tier\nthen reboot"  # the blank line would split the cell
    assert changes == (
        "(2) New 2026-03-01 : Replace the load balancer\n\n"
        "(1) Update 2026-02-15 : Vendor patch late\n\n"
        "(1) Complete 2026-02-14 : Milestone completed."
    )
    assert [(m.number, m.text) for m in parse_milestones(planned)] == [(1, "Patch the web tier\nthen reboot")]
    assert [(c.number, c.kind) for c in parse_changes(changes)] == [
        (2, ChangeKind.NEW),
        (1, ChangeKind.UPDATE),
        (1, ChangeKind.COMPLETE),
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: milestones.add(e, "cso", "V-1", "x", D(2026, 1, 4), "Too early"), "before V-1 was detected"),
        (lambda e: milestones.add(e, "cso", "V-1", "x", D(2026, 2, 1), "   "), "--text is empty"),
        (lambda e: milestones.add(e, "cso", "V-1", "x", D(2026, 2, 1), "y" * 10_001), "longer than 10000"),
        (
            lambda e: milestones.add(e, "cso", "V-1", "x", D(2026, 2, 1), "Patch\n(3) 2026-01-01: injected"),
            "starting like a milestone entry",
        ),
        (
            lambda e: milestones.add(e, "cso", "V-1", "x", D(2026, 2, 1), "(2) complete 1/2/2026 : done"),
            "starting like a milestone entry",
        ),
        (lambda e: milestones.complete(e, "cso", "V-1", 1, "x", D(2026, 1, 10), today=TODAY), "already complete"),
        (lambda e: milestones.complete(e, "cso", "V-1", 2, "x", D(2026, 6, 2), today=TODAY), "in the future"),
        (lambda e: milestones.complete(e, "cso", "V-1", 2, "x", D(2026, 1, 1), today=TODAY), "before V-1 was"),
        (lambda e: milestones.complete(e, "cso", "V-1", 9, "x", D(2026, 1, 10), today=TODAY), "no milestone (9)"),
        (lambda e: milestones.update_milestone(e, "cso", "V-1", 9, "x", D(2026, 2, 1)), "its milestones are 1, 2"),
        (lambda e: milestones.update_milestone(e, "cso", "V-1", 1, "x", D(2026, 3, 1)), "is complete"),
        (lambda e: milestones.update_milestone(e, "cso", "V-1", 2, "x"), "give --date, --text or both"),
        (lambda e: milestones.update_milestone(e, "cso", "V-1", 2, "x", D(2026, 2, 1)), "nothing to change"),
        (lambda e: milestones.update_milestone(e, "cso", "V-1", 2, "x", D(2025, 2, 1)), "before V-1 was"),
        (lambda e: milestones.record_submission(e, "cso", "x", D(2026, 6, 2), today=TODAY), "in the future"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(engine: Engine, tmp_path: Path, call: Any, message: str) -> None:
    setup(engine, tmp_path)
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 1, 20), "Patch")
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 2, 1), "Rescan")
    milestones.complete(engine, "cso", "V-1", 1, "alice", D(2026, 1, 21), today=TODAY)
    before = state(engine)
    with pytest.raises(ValueRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(engine)
    assert state(engine) == before


def test_missing_items_and_closed_items(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    with pytest.raises(UsageError, match="no item 'V-9'"):
        milestones.add(engine, "cso", "V-9", "x", D(2026, 2, 1), "Patch")
    with pytest.raises(UsageError, match="no item 'V-9'"):
        milestones.listing(engine, "cso", "V-9")
    imp(engine, tmp_path, "feb", [a(FEB)])  # both fixed: closed
    assert item(engine).status is ItemStatus.CLOSED
    before = state(engine)
    with pytest.raises(UsageError, match="V-1 is closed"):
        milestones.add(engine, "cso", "V-1", "x", D(2026, 2, 1), "Patch")
    assert state(engine) == before


def test_ready_needs_an_owner_and_a_persons_open_milestone(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path, poc=None)
    before = state(engine)
    with pytest.raises(ValueRefused) as refused:
        planning.set_fields(engine, "cso", "V-1", "alice", ready=True)
    assert "an owner" in str(refused.value) and "an open milestone a person planned" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert state(engine) == before
    planning.add_team(engine, "cso", "Platform", 20, "alice")
    planning.set_fields(engine, "cso", "V-1", "alice", team="Platform")
    with pytest.raises(ValueRefused, match="needs an open milestone a person planned") as refused:
        milestones.set_ready(engine, "cso", "V-1", "alice", True)  # the automatic milestone does not count
    assert "owner" not in str(refused.value)
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 1, 20), "Patch")
    assert planning.set_fields(engine, "cso", "V-1", "alice", ready=True).ready is True
    assert milestones.set_ready(engine, "cso", "V-1", "alice", True) is False  # already: nothing recorded
    # a completed milestone does not count; --poc alone is an owner too
    milestones.add(engine, "cso", "V-2", "alice", D(2026, 1, 20), "Patch")
    milestones.complete(engine, "cso", "V-2", 1, "alice", D(2026, 1, 21), today=TODAY)
    with pytest.raises(ValueRefused, match="needs an owner .*; an open milestone"):
        milestones.set_ready(engine, "cso", "V-2", "alice", True)
    milestones.add(engine, "cso", "V-2", "alice", D(2026, 2, 20), "Rescan")
    item2 = planning.set_fields(engine, "cso", "V-2", "alice", poc="Jane Doe", ready=True)
    assert (item2.ready, item2.point_of_contact) == (True, "Jane Doe")
    assert planning.set_fields(engine, "cso", "V-1", "bob", ready=False).ready is False
    assert events(engine, "item.ready") == [
        {"ready": [False, True]},
        {"ready": [False, True]},
        {"ready": [True, False]},
    ]


def test_submission_reports_open_items_not_yet_reported(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    imp(engine, tmp_path, "feb", [a(FEB, Item("200", severity=1)), b(FEB, Item("300"))])  # V-1 closes, V-3 opens
    assert milestones.record_submission(engine, "cso", "sub", D(2026, 1, 31), today=TODAY) == (D(2026, 1, 31), ["V-2"])
    assert milestones.record_submission(engine, "cso", "sub", D(2026, 2, 28), today=TODAY) == (D(2026, 2, 28), ["V-3"])
    assert milestones.record_submission(engine, "cso", "sub", D(2026, 3, 31), today=TODAY) == (D(2026, 3, 31), [])
    assert [(i.poam_id, i.reported_at) for i in (item(engine, "V-1"), item(engine, "V-2"), item(engine, "V-3"))] == [
        ("V-1", None),
        ("V-2", D(2026, 1, 31)),
        ("V-3", D(2026, 2, 28)),
    ]
    assert events(engine, "submission.record") == [
        {"reported_at": [None, "2026-01-31"]},
        {"reported_at": [None, "2026-02-28"]},
    ]


def _changes(engine: Engine, poam_id: str = "V-1") -> list[tuple[int, str, dt.date, str | None]]:
    return [(c.number, c.kind.value, c.date, c.by) for c in item(engine, poam_id).milestone_changes]


def test_closing_on_a_scan_leaves_a_persons_completed_milestone_alone(engine: Engine, tmp_path: Path) -> None:
    systems.add_system(engine, "cso", "t")
    imp(engine, tmp_path, "jan", [a(JAN, P), b(JAN, Item("300"))])
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 1, 20), "Patch")
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 2, 1), "Rescan")
    milestones.complete(engine, "cso", "V-1", 2, "alice", D(2026, 1, 25), today=TODAY)
    milestones.add(engine, "cso", "V-2", "alice", D(2026, 1, 20), "Patch")
    milestones.complete(engine, "cso", "V-2", 1, "alice", D(2026, 1, 25), today=TODAY)
    imp(engine, tmp_path, "feb", [a(FEB), b(FEB)])  # both close
    # poam completes the latest milestone still open, not the one alice completed
    assert _changes(engine) == [(2, "Complete", D(2026, 1, 25), "alice"), (1, "Complete", FEB.date(), None)]
    # alice completed every milestone of V-2: nothing left for poam to complete
    assert _changes(engine, "V-2") == [(1, "Complete", D(2026, 1, 25), "alice")]
    assert [m.status for m in item(engine).milestones] == ["complete", "complete"]


def test_a_replay_that_reopens_an_item_keeps_a_persons_complete_change(engine: Engine, tmp_path: Path) -> None:
    """January: a has it; February: fixed, V-1 closes (poam's Complete change); alice then records her
    completion of milestone 1. January 15 (b has it), imported last, reopens V-1: poam's Complete
    change is dropped, alice's stays."""
    systems.add_system(engine, "cso", "t")
    imp(engine, tmp_path, "jan", [a(JAN, P)])
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 1, 20), "Patch")
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 2, 1), "Rescan")
    imp(engine, tmp_path, "feb", [a(FEB)])
    milestones.complete(engine, "cso", "V-1", 1, "alice", D(2026, 1, 30), "Patched on a", today=TODAY)
    assert _changes(engine) == [(2, "Complete", FEB.date(), None), (1, "Complete", D(2026, 1, 30), "alice")]
    imp(engine, tmp_path, "mar", [a(MAR, P)])
    imp(engine, tmp_path, "jan15", [b(JAN15, P)])  # late: V-1 stays open through February
    got = item(engine)
    assert got.status is ItemStatus.OPEN
    assert _changes(engine) == [(1, "Complete", D(2026, 1, 30), "alice")]
    assert [(m.number, m.status) for m in got.milestones] == [(1, "complete"), (2, "open")]


def test_an_older_scan_moving_a_closure_leaves_a_persons_complete_change(engine: Engine, tmp_path: Path) -> None:
    """January finds it, March does not (closed in March); alice then completes milestone 1; February,
    imported last, did not see it either: poam's Complete change moves to February, alice's stays."""
    systems.add_system(engine, "cso", "t")
    imp(engine, tmp_path, "jan", [a(JAN, P)])
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 1, 20), "Patch")
    milestones.add(engine, "cso", "V-1", "alice", D(2026, 2, 1), "Rescan")
    imp(engine, tmp_path, "mar", [a(MAR)])
    milestones.complete(engine, "cso", "V-1", 1, "alice", D(2026, 3, 10), "Patched", today=TODAY)
    imp(engine, tmp_path, "feb", [a(FEB)])
    assert item(engine).closed_at == FEB.date()
    assert _changes(engine) == [(2, "Complete", FEB.date(), None), (1, "Complete", D(2026, 3, 10), "alice")]
    assert item(engine).milestone_changes[1].text == "Patched"


def test_closing_on_a_scan_completes_a_new_milestone_added_after_reporting(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    milestones.complete(engine, "cso", "V-1", 1, "alice", D(2026, 1, 10), today=TODAY)
    milestones.record_submission(engine, "cso", "sub", D(2026, 1, 31), today=TODAY)
    milestones.add(engine, "cso", "V-1", "bob", D(2026, 3, 1), "Replace the load balancer")
    imp(engine, tmp_path, "feb", [a(FEB, Item("200", severity=1))])  # V-1 fixed
    assert _changes(engine) == [
        (1, "Complete", D(2026, 1, 10), "alice"),
        (2, "New", D(2026, 3, 1), "bob"),
        (2, "Complete", FEB.date(), None),
    ]
    listed = milestones.listing(engine, "cso", "V-1").milestones
    assert [(m.number, m.status, m.completed_on) for m in listed] == [
        (1, "complete", D(2026, 1, 10)),
        (2, "complete", FEB.date()),
    ]
