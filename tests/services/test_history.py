"""A scan imported late is replayed into the history of the weaknesses it touched (issue 7): the
findings and items are those of the scans imported in date order, the items are split or merged
when the late scan shows they must be, and every change is audited."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from poam.domain.models import ItemStatus
from poam.services import history, systems
from poam.services.importer import import_file
from poam.services.items import load
from poam.services.rewrite import REASON
from poam.store.tables import audit_events, findings, milestone_changes, scans
from tests.builders import Host, Item, write_nessus

JAN = dt.datetime(2026, 1, 5, 10, 0)
JAN15 = dt.datetime(2026, 1, 15, 10, 0)
FEB = dt.datetime(2026, 2, 5, 10, 0)
MAR = dt.datetime(2026, 3, 5, 10, 0)
P = Item("100", port=443, severity=3, cvss3=7.5, name="Weak TLS")


def a(t: dt.datetime, *it: Item) -> Host:
    return Host("a", ip="10.0.0.1", fqdn="a.example.com", start=t, items=list(it))


def b(t: dt.datetime, *it: Item) -> Host:
    return Host("b", ip="10.0.0.2", fqdn="b.example.com", start=t, items=list(it))


def _import(engine: Engine, tmp_path: Path, system: str, scans_: dict[str, list[Host]], order: str) -> None:
    """A new system, and these scans imported into it in this order."""
    systems.add_system(engine, system, "t")
    _import_more(engine, tmp_path, system, scans_, order)


def _import_more(engine: Engine, tmp_path: Path, system: str, scans_: dict[str, list[Host]], order: str) -> None:
    for name in order.split():
        path = tmp_path / f"{name}.nessus"
        if not path.exists():
            write_nessus(path, scans_[name])
        import_file(engine, path, system=system, parallel=False)


def _items(engine: Engine, system: str) -> list[dict[str, Any]]:
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, system, "t").id, "all")
    return [
        {
            "id": i.poam_id,
            "status": i.status,
            "detected": i.detection_date,
            "due": i.scheduled_completion_date,
            "closed": i.closed_at,
            "assets": sorted(x.text for x in i.assets),
            "previous": i.previous_poam_id,
        }
        for i in found
    ]


def _without_ids(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    detected = {r["id"]: r["detected"] for r in rows}
    return sorted(
        (r["status"].value, r["detected"], r["due"], r["closed"], tuple(r["assets"]), detected.get(r["previous"]))
        for r in rows
    )


def _replayed_actions(engine: Engine) -> list[tuple[str, str]]:
    with engine.begin() as conn:
        rows = conn.execute(select(audit_events.c.action, audit_events.c.entity_id, audit_events.c.detail)).all()
    return [(r.action, r.entity_id) for r in rows if json.loads(r.detail).get("reason") == REASON]


def test_a_scan_that_did_not_see_it_imported_last_splits_the_item(engine: Engine, tmp_path: Path) -> None:
    """Seen in January, gone in February, back in March: imported January, March, February, the
    POA&M is the one of the date order (the February closure is not lost; March opens a new item)."""
    plan = {"jan": [a(JAN, P)], "feb": [a(FEB)], "mar": [a(MAR, P)]}
    _import(engine, tmp_path, "ordered", plan, "jan feb mar")
    _import(engine, tmp_path, "late", plan, "jan mar feb")
    got = _items(engine, "late")
    assert _without_ids(got) == _without_ids(_items(engine, "ordered"))
    first, second = got
    assert (first["id"], first["status"], first["closed"]) == ("V-1", ItemStatus.CLOSED, FEB.date())
    assert (second["id"], second["status"], second["detected"]) == ("V-2", ItemStatus.OPEN, MAR.date())
    assert second["due"] == MAR.date() + dt.timedelta(days=30) and second["previous"] == "V-1"
    assert ("item.create", "V-2") in _replayed_actions(engine)
    with engine.begin() as conn:
        late = systems.resolve(conn, "late", "t").id
        rows = conn.execute(
            select(findings.c.status, findings.c.first_seen, findings.c.fixed_at)
            .where(findings.c.system_id == late)
            .order_by(findings.c.id)
        ).all()
    assert rows == [("fixed", JAN, FEB), ("open", MAR, None)]  # two generations of the finding


def test_a_late_sighting_on_another_asset_keeps_the_item_open_merging_two(engine: Engine, tmp_path: Path) -> None:
    """In date order b's finding (January 15) keeps the item open through February, when a is fixed,
    and March's sighting on a reopens it: one item. Imported last, the January 15 scan merges the
    two items the other order made; the item left without findings is deleted, audited."""
    plan = {"jan": [a(JAN, P)], "jan15": [b(JAN15, P)], "feb": [a(FEB)], "mar": [a(MAR, P)]}
    _import(engine, tmp_path, "ordered", plan, "jan jan15 feb mar")
    _import(engine, tmp_path, "late", plan, "jan feb mar jan15")
    got = _items(engine, "late")
    assert _without_ids(got) == _without_ids(_items(engine, "ordered"))
    assert [(i["id"], i["status"], i["detected"]) for i in got] == [("V-1", ItemStatus.OPEN, JAN.date())]
    assert got[0]["assets"] == ["a.example.com (443/tcp)", "b.example.com (443/tcp)"]
    actions = _replayed_actions(engine)
    assert ("item.delete", "V-2") in actions and ("item.reopen", "V-1") in actions
    with engine.begin() as conn:
        v1 = conn.execute(select(milestone_changes.c.kind)).scalars().all()
    assert "complete" not in [k.lower() for k in v1]  # the wrong closure's Complete change is gone


def test_a_late_sighting_after_a_closure_splits_the_item(engine: Engine, tmp_path: Path) -> None:
    """The reverse: in date order the item closes in February, before b's finding (March) opens a
    new one. Imported January, March, February, b had joined the open item: it is split off."""
    plan = {"jan": [a(JAN, P)], "feb": [a(FEB)], "mar": [b(MAR, P)]}
    _import(engine, tmp_path, "ordered", plan, "jan feb mar")
    _import(engine, tmp_path, "late", plan, "jan mar feb")
    got = _items(engine, "late")
    assert _without_ids(got) == _without_ids(_items(engine, "ordered"))
    assert [(i["status"], i["closed"], i["assets"]) for i in got] == [
        (ItemStatus.CLOSED, FEB.date(), ["a.example.com (443/tcp)"]),
        (ItemStatus.OPEN, None, ["b.example.com (443/tcp)"]),
    ]
    assert got[1]["detected"] == MAR.date() and got[1]["previous"] == got[0]["id"]


def test_imports_in_date_order_are_not_replayed(engine: Engine, tmp_path: Path) -> None:
    plan = {"jan": [a(JAN, P), b(JAN, P)], "feb": [a(FEB)], "mar": [a(MAR, P), b(MAR)]}
    _import(engine, tmp_path, "ordered", plan, "jan feb mar")
    assert _replayed_actions(engine) == []
    with engine.begin() as conn:
        system = systems.resolve(conn, "ordered", "t").id
        ids = conn.execute(select(scans.c.id).order_by(scans.c.id)).scalars().all()
        assert [history.late_tools(conn, system, i) for i in ids] == [{"Nessus"}, {"Nessus"}, set()]


def test_an_edited_item_left_without_findings_is_kept_closed(engine: Engine, tmp_path: Path) -> None:
    """The merge above, when a person had given the second item its controls: it is kept (closed,
    without findings, audited) rather than deleted, and later imports leave it alone."""
    from poam.services.items import set_controls

    plan = {"jan": [a(JAN, P)], "jan15": [b(JAN15, P)], "feb": [a(FEB)], "mar": [a(MAR, P)]}
    _import(engine, tmp_path, "late", plan, "jan feb mar")
    set_controls(engine, "late", "V-2", ["SI-2"], "alice")
    _import_more(engine, tmp_path, "late", plan, "jan15")
    got = {i["id"]: i for i in _items(engine, "late")}
    assert (got["V-1"]["status"], got["V-1"]["assets"]) == (
        ItemStatus.OPEN,
        ["a.example.com (443/tcp)", "b.example.com (443/tcp)"],
    )
    assert (got["V-2"]["status"], got["V-2"]["assets"]) == (ItemStatus.CLOSED, [])
    assert ("item.close", "V-2") in _replayed_actions(engine)
    write_nessus(tmp_path / "apr.nessus", [a(MAR + dt.timedelta(days=31)), b(MAR + dt.timedelta(days=31))])
    _import_more(engine, tmp_path, "late", plan, "apr")
    _import_more(engine, tmp_path, "late", {"jan20": [a(JAN15 + dt.timedelta(days=5), P)]}, "jan20")
    after = {i["id"]: i for i in _items(engine, "late")}
    assert set(after) == {"V-1", "V-2"} and after["V-2"] == got["V-2"]
    assert after["V-1"]["status"] is ItemStatus.CLOSED


def test_a_merge_keeps_each_item_with_its_own_findings(engine: Engine, tmp_path: Path) -> None:
    """Lives are laid on the stored items that hold their findings, never by position: before, a
    late merge deleted the open item V-3 and reopened V-2 with its detection date moved later
    (Mar 5 -> May 5), its deadline later and its Complete milestone change dropped."""
    d = {m: dt.datetime(2026, m, 5, 10) for m in range(1, 6)}
    plan = {
        "jan": [a(d[1], P)],
        "jan15": [b(JAN15, P)],
        "feb": [a(d[2])],
        "mar": [a(d[3], P), b(d[3])],
        "apr": [a(d[4])],
        "may": [a(d[5], P)],
    }
    _import(engine, tmp_path, "late", plan, "jan feb mar apr may")
    before = {i["id"]: i for i in _items(engine, "late")}
    assert [(k, v["status"], v["detected"]) for k, v in before.items()] == [
        ("V-1", ItemStatus.CLOSED, dt.date(2026, 1, 5)),
        ("V-2", ItemStatus.CLOSED, dt.date(2026, 3, 5)),
        ("V-3", ItemStatus.OPEN, dt.date(2026, 5, 5)),
    ]
    _import_more(engine, tmp_path, "late", plan, "jan15")
    after = {i["id"]: i for i in _items(engine, "late")}
    # in date order: V-1 stays open through Feb (b still open), both close by Apr 5; May opens anew
    assert [(k, v["status"], v["detected"], v["closed"]) for k, v in after.items()] == [
        ("V-1", ItemStatus.CLOSED, dt.date(2026, 1, 5), dt.date(2026, 4, 5)),
        ("V-3", ItemStatus.OPEN, dt.date(2026, 5, 5), None),
    ]
    assert after["V-3"]["due"] == before["V-3"]["due"]  # the open item kept its id and its deadline
    _import(engine, tmp_path, "ordered", plan, "jan jan15 feb mar apr may")
    strip = [{k: v for k, v in i.items() if k != "id"} for i in _items(engine, "ordered")]
    assert [{k: v for k, v in i.items() if k not in ("id", "previous")} for i in after.values()] == [
        {k: v for k, v in i.items() if k != "previous"} for i in strip
    ]


def test_tenable_exports_imported_in_order_are_not_late(engine: Engine, tmp_path: Path) -> None:
    """A Tenable export also reports each finding's first discovery, months before the scan: that
    history does not make this month's scan late (before, every in-order import replayed)."""
    import csv

    header = [
        "Plugin",
        "Plugin Name",
        "Severity",
        "IP Address",
        "Protocol",
        "Port",
        "First Discovered",
        "Last Observed",
    ]
    systems.add_system(engine, "s", "t")
    for month in (1, 2, 3):
        path = tmp_path / f"m{month}.csv"
        with path.open("w", newline="") as f:
            out = csv.DictWriter(f, header)
            out.writeheader()
            for ip in ("10.0.0.5", "10.0.0.6"):
                out.writerow(
                    {
                        "Plugin": "100",
                        "Plugin Name": "P",
                        "Severity": "High",
                        "IP Address": ip,
                        "Protocol": "TCP",
                        "Port": "443",
                        "First Discovered": "Jan 5, 2025 10:00:00 UTC",
                        "Last Observed": f"{dt.date(2026, month, 5):%b} 5, 2026 10:00:00 UTC",
                    }
                )
        r = import_file(engine, path, system="s", parallel=False)
        with engine.begin() as conn:
            assert history.late_tools(conn, systems.resolve(conn, "s", "t").id, r.scan_id) == set(), month


def test_an_exported_item_left_without_findings_is_kept_closed(engine: Engine, tmp_path: Path) -> None:
    """An item that went into a deliverable is never deleted by a replay: reviewers have seen it."""
    from poam.services import exporting

    plan = {"jan": [a(JAN, P)], "jan15": [b(JAN15, P)], "feb": [a(FEB)], "mar": [a(MAR, P)]}
    _import(engine, tmp_path, "late", plan, "jan feb mar")
    exporting.export_oscal(engine, tmp_path / "poam.json", "late", "alice")
    _import_more(engine, tmp_path, "late", plan, "jan15")
    got = {i["id"]: i for i in _items(engine, "late")}
    assert (got["V-2"]["status"], got["V-2"]["assets"]) == (ItemStatus.CLOSED, [])
    assert ("item.delete", "V-2") not in _replayed_actions(engine)
    # without the export, the same history deletes it (the test of the merge above)
    (tmp_path / "other").mkdir()
    _import(engine, tmp_path / "other", "other", plan, "jan feb mar jan15")
    assert [i["id"] for i in _items(engine, "other")] == ["V-1"]


def test_a_deadline_change_is_not_a_persons_edit(engine: Engine, tmp_path: Path) -> None:
    """Deadlines follow the facts (here a new rule set): that change is recorded on the item but does
    not make it an edited item, so the merge above still deletes the item left without findings."""
    plan = {"jan": [a(JAN, P)], "jan15": [b(JAN15, P)], "feb": [a(FEB)], "mar": [a(MAR, P)]}
    _import(engine, tmp_path, "late", plan, "jan feb mar")
    _info, changed = systems.set_rules(engine, "late", "t", "cms", None, None)
    assert changed == 1  # V-2, the open item: its deadline now comes from the cms table (an item.deadlines event)
    _import_more(engine, tmp_path, "late", plan, "jan15")
    assert [i["id"] for i in _items(engine, "late")] == ["V-1"]
    assert ("item.delete", "V-2") in _replayed_actions(engine)
