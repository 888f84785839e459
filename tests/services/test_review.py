"""`poam review` on SQLite and PostgreSQL: what needs attention, at two moments of a month."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, insert, select

from poam.services import planning, review
from poam.store.tables import deviations, items
from tests.services.test_planning import setup

UTC = dt.UTC


def test_review_lists_what_needs_attention(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)  # V-1 Critical and V-2, detected 2026-01-05 10:00, fedramp-rev5 (30 days)
    planning.add_team(engine, "cso", "Platform", 10, "alice")
    planning.set_fields(engine, "cso", "V-1", "alice", team="Platform", hours=40)
    planning.vendor_checkin(engine, "cso", "V-2", "alice", dt.date(2026, 1, 6), None, "Acme", today=dt.date(2026, 1, 6))
    with engine.begin() as conn:
        v2 = conn.execute(select(items.c.id).where(items.c.poam_id == "V-2")).scalar_one()
        conn.execute(
            insert(deviations).values(
                item_id=v2,
                type="operational-requirement",
                status="pending",
                rationale="needed by the legacy client",
                requester="bob",
                requested_at=dt.datetime(2026, 1, 20, 9, 0),
            )
        )

    r = review.review(engine, "cso", dt.datetime(2026, 1, 30, tzinfo=UTC))
    assert r["late"] == []
    assert [(x["poam_id"], x["due"]) for x in r["due_7_days"]] == [("V-1", "2026-02-04T10:00:00Z")]
    # the vendor check-in of 2026-01-06 is due 2026-02-05, within a week
    assert r["vendor_checkins_due"] == [
        {
            "poam_id": "V-2",
            "product": "Acme",
            "last_checkin": "2026-01-06",
            "next_checkin": "2026-02-05",
            "overdue": False,
        }
    ]
    assert [(d["poam_id"], d["type"], d["days_pending"]) for d in r["pending_deviations"]] == [
        ("V-2", "operational-requirement", 9)
    ]
    # 40 hours at 10 a week from 2026-01-30 ends 2026-02-27, 23 days after V-1's deadline (rounded up)
    (team,) = r["capacity"]
    assert (team["team"], team["open_items"], team["hours_needed"]) == ("Platform", 1, 40)
    assert [(s["poam_id"], s["days_late"]) for s in team["shortfalls"]] == [("V-1", 23)]
    assert r["overdue_milestones"] == [] and r["stale_status"] == []
    assert all(t["count"] == 0 for t in r["performance"]["triggers"])

    later = review.review(engine, "cso", dt.datetime(2026, 3, 10, tzinfo=UTC))
    assert [(x["poam_id"], x["days_late"]) for x in later["late"]] == [("V-1", 33)]  # due 2026-02-04 10:00
    assert ("V-1", 1) in [(m["poam_id"], m["number"]) for m in later["overdue_milestones"]]
    assert {s["poam_id"] for s in later["stale_status"]} == {"V-1", "V-2"}  # status dates of 2026-01-05
    assert later["vendor_checkins_due"][0]["overdue"] is True
    high = {(t["trigger"], t["level"]): t for t in later["performance"]["triggers"]}
    # V-1 is 64 days old: counts toward both High triggers (5 needed), 4 short of each
    assert high[("Late remediation, High", "DFR")]["items"] == ["V-1"]
    assert high[("Late remediation, High", "CAP")]["remaining"] == 4
    assert high[("Late remediation, Moderate", "DFR")]["count"] == 0


def test_no_owner_and_an_empty_system(engine: Engine, tmp_path: Path) -> None:
    from poam.services import systems

    systems.add_system(engine, "empty", "t")
    r = review.review(engine, "empty", dt.datetime(2026, 1, 30, tzinfo=UTC))
    assert r["late"] == r["no_owner"] == r["capacity"] == [] and r["rule_set"] == "fedramp-rev5"
    setup(engine, tmp_path)
    with engine.begin() as conn:  # an item whose owner nobody knows
        conn.execute(items.update().where(items.c.poam_id == "V-2").values(point_of_contact=None))
    assert review.review(engine, "cso", dt.datetime(2026, 1, 30, tzinfo=UTC))["no_owner"] == ["V-2"]
