"""The vendor's fix release date restarts the remediation clock where the rule set says so."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.errors import UsageError, ValueRefused
from poam.services import planning, systems, triage, vendors
from tests.services.test_planning import events, setup

TODAY = dt.date(2026, 3, 1)


def remediation_due(engine: Engine, poam_id: str) -> str:
    shown = triage.show(engine, "cso", poam_id)
    return next(d["due"] for d in shown["deadlines"] if d["kind"] == "remediation")


def test_release_restarts_the_fedramp_rev5_clock(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)  # V-1 Critical (CVSS 9.8), detected 2026-01-05, fedramp-rev5 by default
    assert remediation_due(engine, "V-1").startswith("2026-02-04")  # 30 days from detection
    with pytest.raises(ValueRefused, match="not vendor-dependent"):
        vendors.vendor_release(engine, "cso", "V-1", "alice", dt.date(2026, 2, 10), today=TODAY)
    planning.vendor_checkin(engine, "cso", "V-1", "alice", dt.date(2026, 1, 20), "fix due in 4.2", "Acme", today=TODAY)
    status = vendors.vendor_release(engine, "cso", "V-1", "alice", dt.date(2026, 2, 10), "Acme 4.2", today=TODAY)
    assert status.release_date == dt.date(2026, 2, 10)
    assert status.next_checkin is None and not status.overdue  # no more check-ins once the fix is out
    assert remediation_due(engine, "V-1").startswith("2026-03-12")  # 30 days from 2026-02-10
    shown = triage.show(engine, "cso", "V-1")
    assert shown["vendor"]["release_date"] == "2026-02-10"
    assert "vendor's fix release" in next(d["basis"] for d in shown["deadlines"] if d["kind"] == "remediation")
    # the template's Scheduled Completion Date restarts too (column L; the Completion Guide lets it)
    assert events(engine, "item.vendor_release") == [
        {
            "note": "Acme 4.2",
            "scheduled_completion_date": ["2026-02-04", "2026-03-12"],
            "vendor_release_date": [None, "2026-02-10"],
        }
    ]
    deadline_events = events(engine, "item.deadlines")
    assert deadline_events and "2026-03-12" in str(deadline_events[-1])


def test_release_is_kept_but_does_not_restart_cms(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    systems.configure(engine, "cso", "t", policy="cms")
    assert remediation_due(engine, "V-1").startswith("2026-01-20")  # CMS Critical: 15 days
    planning.vendor_checkin(engine, "cso", "V-1", "alice", dt.date(2026, 1, 10), None, "Acme", today=TODAY)
    vendors.vendor_release(engine, "cso", "V-1", "alice", dt.date(2026, 2, 10), today=TODAY)
    assert remediation_due(engine, "V-1").startswith("2026-01-20")


def test_release_refusals(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    planning.vendor_checkin(engine, "cso", "V-1", "alice", dt.date(2026, 1, 20), None, "Acme", today=TODAY)
    with pytest.raises(ValueRefused, match="in the future"):
        vendors.vendor_release(engine, "cso", "V-1", "alice", dt.date(2026, 3, 2), today=TODAY)
    with pytest.raises(ValueRefused, match="before V-1 was detected"):
        vendors.vendor_release(engine, "cso", "V-1", "alice", dt.date(2026, 1, 4), today=TODAY)
    with pytest.raises(UsageError, match="no item"):
        vendors.vendor_release(engine, "cso", "V-99", "alice", dt.date(2026, 2, 1), today=TODAY)
    assert events(engine, "item.vendor_release") == []
