"""Monthly snapshots, their differences and the POA&M as it stood on a past day, on SQLite and
PostgreSQL.

The story: a scan on 2026-10-05 finds three weaknesses on web01 (V-1 High, V-2 Moderate, V-3 Low);
a scan on 2026-11-09 still finds V-2's and a new High one (V-4), so V-1 and V-3 close that day.
Later (in December) a person edits V-2 and adds a milestone to it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from poam.errors import UsageError, ValueRefused
from poam.services import audit, milestones, planning, snapshots, systems
from poam.services.importer import import_file
from poam.store.tables import audit_events, report_snapshots
from tests.builders import Host, Item, write_nessus

OCT = dt.datetime(2026, 10, 5, 9, 0)
NOV = dt.datetime(2026, 11, 9, 9, 0)
DEC = dt.datetime(2026, 12, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def story(engine: Engine, tmp_path: Path) -> Engine:
    systems.add_system(engine, "cso", "t")
    first = [Item("100", severity=3), Item("200", severity=2), Item("300", severity=1)]
    second = [Item("200", severity=2), Item("400", severity=3)]
    import_file(engine, write_nessus(tmp_path / "oct.nessus", [Host("web01", ip="10.0.0.1", start=OCT, items=first)]))
    import_file(engine, write_nessus(tmp_path / "nov.nessus", [Host("web01", ip="10.0.0.1", start=NOV, items=second)]))
    return engine


def listed(engine: Engine, day: dt.date, status: str = "all") -> dict[str, dict]:  # type: ignore[type-arg]
    _info, rows = snapshots.as_of(engine, None, day, status, today=DEC.date())
    return {r["poam_id"]: r for r in rows}


def info(engine: Engine) -> systems.SystemInfo:
    with engine.connect() as conn:
        return systems.resolve(conn, None, "t")


def test_as_of_lists_items_by_their_detection_and_closing_dates(story: Engine) -> None:
    assert listed(story, dt.date(2026, 10, 4)) == {}
    october = listed(story, dt.date(2026, 10, 20))
    assert {k: (r["status"], r["closed_date"]) for k, r in october.items()} == {
        "V-1": ("open", None),
        "V-2": ("open", None),
        "V-3": ("open", None),
    }
    november = listed(story, dt.date(2026, 11, 9))
    assert {k: (r["status"], r["closed_date"]) for k, r in november.items()} == {
        "V-1": ("closed", "2026-11-09"),
        "V-2": ("open", None),
        "V-3": ("closed", "2026-11-09"),
        "V-4": ("open", None),
    }
    assert sorted(listed(story, dt.date(2026, 11, 9), "open")) == ["V-2", "V-4"]
    # V-1 (High, 30 days) was due 2026-11-04: on 2026-11-05 it stood open and late
    assert listed(story, dt.date(2026, 11, 5))["V-1"]["late"] is True
    assert listed(story, dt.date(2026, 11, 3))["V-1"]["late"] is False


def test_as_of_undoes_later_edits_and_milestones(story: Engine) -> None:
    automatic = listed(story, dt.date(2026, 11, 20))["V-2"]["milestones"]
    assert [(m["number"], m["placeholder"]) for m in automatic] == [(1, True)]
    planning.set_fields(story, None, "V-2", "alice", comment="Waiting for the vendor", poc="Alice")
    milestones.add(story, None, "V-2", "alice", dt.date(2027, 1, 15), "Upgrade the web tier.")
    now = listed(story, DEC.date())["V-2"]
    assert (now["comments"], now["point_of_contact"]) == ("Waiting for the vendor", "Alice")
    assert [(m["number"], m["text"], m["placeholder"]) for m in now["milestones"]] == [
        (1, "Upgrade the web tier.", False)
    ]
    before = listed(story, dt.date(2026, 11, 20))["V-2"]
    assert (before["comments"], before["point_of_contact"]) == (None, None)
    assert before["milestones"] == automatic  # the automatic milestone it replaced comes back


def test_as_of_refuses_a_future_day(story: Engine) -> None:
    with pytest.raises(ValueRefused, match="in the future"):
        snapshots.as_of(story, None, dt.date(2026, 12, 16), today=DEC.date())


def test_freeze_stores_gzip_json_with_its_digest_and_audits(story: Engine) -> None:
    cso = info(story)
    with story.begin() as conn:
        frozen = snapshots.freeze(conn, cso, "2026-10", "alice", now=DEC)
    assert (frozen.outcome, frozen.items) == ("frozen", 3)
    with story.begin() as conn:
        row = conn.execute(select(report_snapshots)).one()
        events = conn.execute(select(audit_events).where(audit_events.c.action == "report.snapshot")).all()
    text = gzip.decompress(row.content)
    assert hashlib.sha256(text).hexdigest() == row.sha256 == frozen.sha256
    assert [r["poam_id"] for r in json.loads(text)] == ["V-1", "V-2", "V-3"]
    assert (row.month, row.actor) == ("2026-10", "alice")
    assert [json.loads(e.detail) for e in events] == [{"month": "2026-10", "sha256": row.sha256, "items": 3}]


def test_freezing_again_same_content_is_a_no_op_and_later_edits_do_not_touch_a_past_month(story: Engine) -> None:
    cso = info(story)
    with story.begin() as conn:
        first = snapshots.freeze(conn, cso, "2026-11", "alice", now=DEC)
    planning.set_fields(story, None, "V-2", "alice", comment="edited in December")
    with story.begin() as conn:
        again = snapshots.freeze(conn, cso, "2026-11", "bob", now=DEC)
    assert (again.outcome, again.sha256) == ("unchanged", first.sha256)
    with story.begin() as conn:
        assert conn.execute(select(func.count()).select_from(report_snapshots)).scalar_one() == 1


def test_a_changed_month_is_refused_unless_replaced_with_an_audit_event(story: Engine) -> None:
    cso = info(story)
    with story.begin() as conn:
        first = snapshots.freeze(conn, cso, "2026-12", "alice", now=DEC)
    planning.set_fields(story, None, "V-4", "alice", comment="new note")
    with pytest.raises(UsageError, match="already frozen .* give --replace"), story.begin() as conn:
        snapshots.freeze(conn, cso, "2026-12", "bob", now=DEC)
    with story.begin() as conn:
        second = snapshots.freeze(conn, cso, "2026-12", "bob", replace=True, now=DEC)
    assert second.outcome == "replaced" and second.sha256 != first.sha256
    with story.begin() as conn:
        stored = conn.execute(select(report_snapshots.c.sha256, report_snapshots.c.actor)).all()
        events = [
            json.loads(e.detail)
            for e in conn.execute(select(audit_events.c.detail).where(audit_events.c.action == "report.snapshot"))
        ]
        assert audit.verify(conn).ok
    assert [tuple(r) for r in stored] == [(second.sha256, "bob")]
    assert events[-1]["replaced"]["sha256"] == first.sha256 and events[-1]["sha256"] == second.sha256


def test_diff_lists_new_closed_and_changed_items(story: Engine) -> None:
    cso = info(story)
    with story.begin() as conn:
        snapshots.freeze(conn, cso, "2026-10", "t", now=DEC)
        snapshots.freeze(conn, cso, "2026-11", "t", now=DEC)
    d = snapshots.diff(story, None, "2026-10", "2026-11")
    assert (d["from"], d["to"]) == ("2026-10", "2026-11")
    assert [(x["poam_id"], x["status"]) for x in d["new"]] == [("V-4", "open")]
    assert [(x["poam_id"], x["closed_date"]) for x in d["closed"]] == [("V-1", "2026-11-09"), ("V-3", "2026-11-09")]
    assert d["changed"] == []  # V-2 was seen again, nothing about it changed
    assert d["missing"] == []


def test_diff_lists_each_changed_field(story: Engine) -> None:
    cso = info(story)
    now = dt.datetime.now(dt.UTC)
    this_month = now.strftime("%Y-%m")
    with story.begin() as conn:
        snapshots.freeze(conn, cso, "2026-11", "t", now=now)
    planning.set_fields(story, None, "V-2", "alice", comment="Waiting for the vendor", hours=6)
    with story.begin() as conn:
        snapshots.freeze(conn, cso, this_month, "t", now=now)
    d = snapshots.diff(story, None, "2026-11", this_month)
    assert (d["new"], d["closed"]) == ([], [])
    assert d["changed"] == [
        {
            "poam_id": "V-2",
            "rating": "Moderate",
            "changes": [
                {"field": "comments", "before": None, "after": "Waiting for the vendor"},
                {"field": "hours", "before": None, "after": 6.0},
            ],
        }
    ]


def test_diff_of_a_month_never_frozen_is_refused(story: Engine) -> None:
    cso = info(story)
    with story.begin() as conn:
        snapshots.freeze(conn, cso, "2026-10", "t", now=DEC)
    with pytest.raises(ValueRefused, match=r"2026-11: no snapshot for cso"):
        snapshots.diff(story, None, "2026-10", "2026-11")
    with pytest.raises(ValueRefused, match="not a month"):
        snapshots.diff(story, None, "2026-10", "2026-13")


def test_a_month_not_begun_cannot_be_frozen(story: Engine) -> None:
    cso = info(story)
    with pytest.raises(ValueRefused, match="has not begun"), story.begin() as conn:
        snapshots.freeze(conn, cso, "2027-01", "t", now=DEC)
