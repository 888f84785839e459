"""Planning fields of an item and teams (issue 9, owners and resources), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from poam.errors import UsageError
from poam.services import inventory, planning, systems, triage
from poam.services.importer import import_file
from poam.store.tables import audit_events
from tests.builders import Host, Item, write_nessus
from tests.services.test_inventory import workbook


def setup(engine: Engine, tmp_path: Path) -> None:
    systems.add_system(engine, "cso", "t", point_of_contact="Default ISSO")
    scan = write_nessus(
        tmp_path / "a.nessus",
        [Host("web", ip="10.0.0.5", items=[Item("100", cvss3=9.8)]), Host("db", ip="10.0.0.6", items=[Item("200")])],
    )
    import_file(engine, scan, system="cso", actor="t")


def events(engine: Engine, action: str) -> list[dict]:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return [
            json.loads(r.detail)
            for r in conn.execute(
                select(audit_events.c.detail).where(audit_events.c.action == action).order_by(audit_events.c.id)
            )
        ]


def test_fields_are_set_audited_and_shown(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    planning.add_team(engine, "cso", "Platform", 20, "alice")
    item = planning.set_fields(
        engine,
        "cso",
        "V-1",
        "alice",
        poc="Jane Doe, platform lead",
        team="Platform",
        resources="2 engineers, maintenance window",
        hours=12.5,
        plan="Upgrade the package fleet-wide",
        comment="Waiting for the change board",
        services=["Portal", "API"],
        controls=["SI-2", "RA-5"],
    )
    assert item.point_of_contact == "Jane Doe, platform lead"
    assert (item.resources_required, item.remediation_plan, item.comments) == (
        "2 engineers, maintenance window",
        "Upgrade the package fleet-wide",
        "Waiting for the change board",
    )
    assert item.controls == ("SI-2", "RA-5") and item.service_names == "Portal\nAPI"
    shown = triage.show(engine, "cso", "V-1")
    assert (shown["team"], shown["hours"], shown["service_names"]) == ("Platform", 12.5, ["Portal", "API"])
    (change,) = events(engine, "item.set")
    assert change["point_of_contact"] == ["Default ISSO", "Jane Doe, platform lead"]
    assert change["hours"] == [None, 12.5] and change["team_id"][0] is None
    (team,) = planning.list_teams(engine, "cso")
    assert (team.name, team.capacity_hours, team.open_items, team.hours_assigned) == ("Platform", 20, 1, 12.5)
    # setting the same values again records nothing
    planning.set_fields(engine, "cso", "V-1", "alice", hours=12.5)
    assert len(events(engine, "item.set")) == 1


def test_an_item_takes_its_assets_owners_until_a_person_sets_one(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    rows = [
        {
            "UNIQUE ASSET IDENTIFIER": "web",
            "IPv4 or IPv6 Address": "10.0.0.5",
            "System Administrator/ Owner": "Web Team",
        },
        {"UNIQUE ASSET IDENTIFIER": "db", "IPv4 or IPv6 Address": "10.0.0.6"},
    ]
    inventory.import_inventory(engine, workbook(tmp_path / "inv.xlsx", rows), "cso", "t")
    assert triage.show(engine, "cso", "V-1")["point_of_contact"] == "Web Team"
    assert triage.show(engine, "cso", "V-2")["point_of_contact"] == "Default ISSO"  # no owner: the system's
    planning.set_fields(engine, "cso", "V-1", "t", poc="Jane Doe")
    assert triage.show(engine, "cso", "V-1")["point_of_contact"] == "Jane Doe"
    planning.set_fields(engine, "cso", "V-1", "t", poc="")
    assert triage.show(engine, "cso", "V-1")["point_of_contact"] == "Web Team"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"hours": -1.0}, "--hours must be"),
        ({"hours": float("nan")}, "--hours must be"),
        ({"team": "Nobody"}, "no team 'Nobody'"),
        ({"controls": ["AC 2 x"]}, "not a NIST SP 800-53 control id"),
        ({"comment": "x" * 10_001}, "longer than 10000"),
        ({}, "give at least one field"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(
    engine: Engine,
    tmp_path: Path,
    kwargs: dict,  # type: ignore[type-arg]
    problem: str,
) -> None:
    setup(engine, tmp_path)
    with pytest.raises(UsageError, match=problem):
        planning.set_fields(engine, "cso", "V-1", "t", **kwargs)
    assert events(engine, "item.set") == []


def test_teams_are_unique_and_need_a_capacity(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    planning.add_team(engine, "cso", "Ops", 10, "t")
    with pytest.raises(UsageError, match="already exists"):
        planning.add_team(engine, "cso", "Ops", 10, "t")
    with pytest.raises(UsageError, match="--capacity"):
        planning.add_team(engine, "cso", "Dev", 0, "t")
    assert [t.name for t in planning.list_teams(engine, "cso")] == ["Ops"]


def test_removing_a_system_deletes_its_data_and_keeps_the_log(engine: Engine, tmp_path: Path) -> None:
    from poam.services import audit, evaluation
    from poam.store.tables import findings, items, scans, sightings

    setup(engine, tmp_path)
    systems.add_system(engine, "other", "t")
    other = write_nessus(tmp_path / "o.nessus", [Host("x", ip="10.9.9.9", items=[Item("300")])])
    import_file(engine, other, system="other", actor="t")
    planning.add_team(engine, "cso", "Ops", 5, "t")
    evaluation.evaluate(engine, "cso", "V-1", "t", irv=True, pain=2, rationale="r", at="2026-01-06T00:00:00Z")
    counts = systems.remove_system(engine, "cso", "admin")
    assert (counts["items"], counts["findings"], counts["teams"], counts["evaluations"]) == (2, 2, 1, 1)
    with engine.connect() as conn:
        assert conn.execute(select(items.c.poam_id)).scalars().all() == ["V-1"]  # the other system's
        assert len(conn.execute(select(findings)).all()) == 1 and len(conn.execute(select(scans)).all()) == 1
        assert len(conn.execute(select(sightings)).all()) == 1
        assert audit.verify(conn) == (audit.head(conn)[1], None)
    assert [s.name for s in systems.list_systems(engine)] == ["other"]
    assert events(engine, "system.remove")[0]["name"] == "cso"


def test_vendor_checkins(engine: Engine, tmp_path: Path) -> None:
    import datetime as dt

    setup(engine, tmp_path)  # detected 2026-01-05
    today = dt.date(2026, 3, 1)
    status = planning.vendor_checkin(
        engine, "cso", "V-1", "alice", dt.date(2026, 1, 20), "fix in 4.2", "Acme Server", today=today
    )
    assert (status.dependency, status.product, status.last_checkin) == (True, "Acme Server", dt.date(2026, 1, 20))
    assert status.next_checkin == dt.date(2026, 2, 19) and status.overdue  # 30 days, passed by 2026-03-01
    status = planning.vendor_checkin(engine, "cso", "V-1", "bob", dt.date(2026, 2, 25), "slipped", today=today)
    assert status.product == "Acme Server" and not status.overdue and len(status.checkins) == 2
    # an older check-in recorded late does not move the last one back
    status = planning.vendor_checkin(engine, "cso", "V-1", "bob", dt.date(2026, 2, 1), None, today=today)
    assert status.last_checkin == dt.date(2026, 2, 25)
    shown = triage.show(engine, "cso", "V-1")
    assert shown["vendor"]["dependency"] is True and shown["vendor"]["last_checkin"] == "2026-02-25"
    with pytest.raises(UsageError, match="in the future"):
        planning.vendor_checkin(engine, "cso", "V-1", "bob", dt.date(2026, 3, 2), None, today=today)
    with pytest.raises(UsageError, match="before V-1 was detected"):
        planning.vendor_checkin(engine, "cso", "V-1", "bob", dt.date(2026, 1, 4), None, today=today)
    assert len(events(engine, "item.vendor_checkin")) == 3
