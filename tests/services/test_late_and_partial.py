"""Harder lifecycle cases: scans imported out of order, CSV retests, unauthenticated rescans."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, select

from poam.domain.models import ItemStatus
from poam.services.importer import import_file
from poam.store.tables import findings
from tests.builders import Host, Item, write_csv, write_nessus
from tests.services.test_import import FEB, JAN, MAR, items_of

JAN20 = dt.datetime(2026, 1, 20, 10, 0)
APR = dt.datetime(2026, 4, 5, 10, 0)
P = Item("100", port=443, severity=3, cvss3=7.5)


def a(t: dt.datetime, *it: Item, auth: bool | None = None) -> Host:
    return Host("a", ip="10.0.0.1", fqdn="a.example.com", start=t, items=list(it), credentialed=auth)


def b(t: dt.datetime, *it: Item) -> Host:
    return Host("b", ip="10.0.0.2", fqdn="b.example.com", start=t, items=list(it))


def imp(engine: Engine, tmp_path: Path, name: str, hosts: list[Host]):  # type: ignore[no-untyped-def]
    return import_file(engine, write_nessus(tmp_path / name, hosts))


def test_late_older_scan_does_not_reopen_what_a_newer_scan_fixed(engine: Engine, tmp_path: Path) -> None:
    imp(engine, tmp_path, "jan.nessus", [a(JAN, P), b(JAN, P)])
    imp(engine, tmp_path, "feb.nessus", [a(FEB), b(FEB, P)])  # fixed on a
    imp(engine, tmp_path, "apr.nessus", [a(APR), b(APR, P)])  # still fixed on a
    r = imp(engine, tmp_path, "mar.nessus", [a(MAR, P), b(MAR, P)])  # March, imported last: a was back then
    assert r.reopened_findings == 0
    item = items_of(engine)["V-1"]
    assert [x.text for x in item.assets] == ["b.example.com (443/tcp)"]  # type: ignore[attr-defined]
    with engine.begin() as conn:
        on_a = conn.execute(select(findings.c.status, findings.c.fixed_at).where(findings.c.asset_id == 1)).all()
    assert on_a == [("fixed", APR)]


def test_late_sighting_is_history_of_the_item_open_at_that_time(engine: Engine, tmp_path: Path) -> None:
    imp(engine, tmp_path, "jan.nessus", [a(JAN, P)])  # V-1
    imp(engine, tmp_path, "feb.nessus", [a(FEB)])  # V-1 closes
    imp(engine, tmp_path, "mar.nessus", [a(MAR, P)])  # recurrence: V-2
    r = imp(engine, tmp_path, "jan20.nessus", [a(JAN20, P)])  # inside V-1's life, imported late
    assert (r.items_opened, r.reopened_findings) == (0, 0)
    items = items_of(engine)
    v2 = items["V-2"]
    assert v2.detection_date == MAR.date()  # type: ignore[attr-defined]
    assert v2.scheduled_completion_date == MAR.date() + dt.timedelta(days=30)  # type: ignore[attr-defined]
    assert items["V-1"].status is ItemStatus.CLOSED  # type: ignore[attr-defined]


def test_late_sighting_on_another_asset_joins_the_item_of_its_time(engine: Engine, tmp_path: Path) -> None:
    imp(engine, tmp_path, "jan.nessus", [a(JAN, P), b(JAN)])
    imp(engine, tmp_path, "feb.nessus", [a(FEB), b(FEB)])  # V-1 closes
    r = imp(engine, tmp_path, "jan20.nessus", [a(JAN20, P), b(JAN20, P)])  # b had it too, fixed by February
    assert r.items_opened == 0
    items = items_of(engine)
    assert list(items) == ["V-1"]
    assert {x.text for x in items["V-1"].assets} == {"a.example.com (443/tcp)", "b.example.com (443/tcp)"}  # type: ignore[attr-defined]


def test_unauthenticated_rescan_does_not_close_credentialed_findings(engine: Engine, tmp_path: Path) -> None:
    local = Item("200", port=0, severity=4, cvss3=9.8, name="Missing kernel patch")
    imp(engine, tmp_path, "jan.nessus", [a(JAN, local, auth=True)])
    r = imp(engine, tmp_path, "feb.nessus", [a(FEB, auth=False)])
    assert r.fixed_findings == 0
    assert items_of(engine)["V-1"].status is ItemStatus.OPEN  # type: ignore[attr-defined]
    r = imp(engine, tmp_path, "mar.nessus", [a(MAR, auth=True)])  # a credentialed rescan proves the fix
    assert r.closed_ids == ["V-1"]


def test_unauthenticated_rescan_closes_what_an_unauthenticated_scan_found(engine: Engine, tmp_path: Path) -> None:
    imp(engine, tmp_path, "jan.nessus", [a(JAN, P, auth=False)])
    r = imp(engine, tmp_path, "feb.nessus", [a(FEB, auth=False)])
    assert r.closed_ids == ["V-1"]


def _csv(tmp_path: Path, name: str, rows: list[tuple[str, str]]) -> Path:
    return write_csv(
        tmp_path / name,
        [
            {
                "detector": "Pen Test",
                "weakness_id": "PT-1",
                "weakness_name": "XSS",
                "severity": "high",
                "asset": "app.example.com",
                "detected": day,
                "status": status,
            }
            for day, status in rows
        ],
    )


def test_a_fixed_row_never_moves_the_detection_date(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, _csv(tmp_path, "a.csv", [("2026-03-01", "open")]))
    import_file(engine, _csv(tmp_path, "b.csv", [("2026-01-01", "fixed")]))
    item = items_of(engine)["V-1"]
    assert item.detection_date == dt.date(2026, 3, 1)  # type: ignore[attr-defined]
    assert item.status is ItemStatus.OPEN  # a fix dated before the sighting proves nothing  # type: ignore[attr-defined]


def test_row_order_in_a_csv_does_not_matter(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, _csv(tmp_path, "a.csv", [("2026-02-01", "fixed"), ("2026-01-01", "open")]))
    item = items_of(engine)["V-1"]
    assert item.status is ItemStatus.CLOSED and item.closed_at == dt.date(2026, 2, 1)  # type: ignore[attr-defined]


def test_open_fixed_open_in_one_csv_ends_open(engine: Engine, tmp_path: Path) -> None:
    r = import_file(
        engine, _csv(tmp_path, "a.csv", [("2026-03-01", "open"), ("2026-01-01", "open"), ("2026-02-01", "fixed")])
    )
    assert r.items_opened == 1
    item = items_of(engine)["V-1"]
    assert item.status is ItemStatus.OPEN  # type: ignore[attr-defined]
    with engine.begin() as conn:
        row = conn.execute(
            select(findings.c.status, findings.c.first_seen, findings.c.last_seen, findings.c.fixed_at)
        ).one()
    assert row == ("open", dt.datetime(2026, 1, 1), dt.datetime(2026, 3, 1), None)


def test_overlong_values_are_refused_or_cut_on_every_database(engine: Engine, tmp_path: Path) -> None:
    import pytest

    from poam.errors import InputError

    row = {
        "detector": "Pen Test",
        "weakness_id": "X" * 300,
        "weakness_name": "n",
        "severity": "low",
        "asset": "h.example.com",
        "detected": "2026-01-01",
    }
    with pytest.raises(InputError, match="vuln_id longer than 200"):
        import_file(engine, write_csv(tmp_path / "a.csv", [row], list(row)))
    long_fields = {**row, "weakness_id": "PT-1", "service": "s" * 500, "protocol": "p" * 50}
    r = import_file(engine, write_csv(tmp_path / "b.csv", [long_fields], list(long_fields)))
    assert r.items_opened == 1


def test_an_older_scan_does_not_bring_back_an_old_ip(engine: Engine, tmp_path: Path) -> None:
    from poam.store.tables import assets

    imp(engine, tmp_path, "feb.nessus", [Host("a", ip="10.0.0.7", fqdn="a.example.com", start=FEB, items=[P])])
    imp(engine, tmp_path, "jan.nessus", [Host("a", ip="10.0.0.1", fqdn="a.example.com", start=JAN, items=[P])])
    with engine.begin() as conn:
        assert conn.execute(select(assets.c.ip, assets.c.first_seen)).all() == [("10.0.0.7", JAN)]


def test_a_late_older_scan_that_did_not_see_a_fixed_finding_moves_its_closure_earlier(
    engine: Engine, tmp_path: Path
) -> None:
    """January finds it, March does not (closed in March); February, imported last, did not see it
    either: it was fixed by February, as it would be had the scans come in order."""
    from sqlalchemy import select

    from poam.store.tables import audit_events, milestone_changes

    imp(engine, tmp_path, "jan.nessus", [a(JAN, P)])
    imp(engine, tmp_path, "mar.nessus", [a(MAR)])
    assert items_of(engine)["V-1"].closed_at == MAR.date()  # type: ignore[attr-defined]
    r = imp(engine, tmp_path, "feb.nessus", [a(FEB)])
    assert (r.fixed_findings, r.items_closed) == (0, 0)
    item = items_of(engine)["V-1"]
    assert (item.status, item.closed_at, item.status_date) == (ItemStatus.CLOSED, FEB.date(), FEB.date())  # type: ignore[attr-defined]
    with engine.begin() as conn:
        assert conn.execute(select(milestone_changes.c.change_date)).scalars().all() == [FEB.date()]
        actions = conn.execute(select(audit_events.c.action).order_by(audit_events.c.id)).scalars().all()
    assert [a for a in actions if a != "items.sealed"][-1] == "item.redate"
