"""Migration 0003 fills `sightings` from what the findings of an older database still tell, so that a
scan imported late after the upgrade is replayed against that history."""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlalchemy import Engine, delete, select, text

from poam.services.importer import import_file
from poam.store.tables import sightings
from tests.builders import write_nessus
from tests.services.test_history import FEB, JAN, JAN15, MAR, P, _items, _without_ids, a, b

BACKFILL = importlib.import_module("poam.store.migrations.versions.0003_sightings").BACKFILL


def test_the_backfill_rebuilds_the_sightings_from_findings_and_coverage(engine: Engine, tmp_path: Path) -> None:
    from poam.services import systems

    for name in ("old", "ordered"):
        systems.add_system(engine, name, "t")
    files = {
        "jan": write_nessus(tmp_path / "jan.nessus", [a(JAN, P), b(JAN, P)]),
        "jan15": write_nessus(tmp_path / "jan15.nessus", [a(JAN15, P)]),
        "feb": write_nessus(tmp_path / "feb.nessus", [a(FEB), b(FEB, P)]),
        "mar": write_nessus(tmp_path / "mar.nessus", [a(MAR, P), b(MAR, P)]),
    }
    for name in ("jan", "feb", "mar"):
        import_file(engine, files[name], system="old", parallel=False)
    with engine.begin() as conn:
        old = systems.resolve(conn, "old", "t").id
        kept = sorted(conn.execute(select(sightings.c.asset_id, sightings.c.observed_at, sightings.c.status)).all())
        conn.execute(delete(sightings))  # as a database from before 0003
        for statement in BACKFILL:
            conn.execute(text(statement))
        filled = conn.execute(select(sightings.c.asset_id, sightings.c.observed_at, sightings.c.status)).all()
    assert set(kept) <= set(filled)  # b's February sighting comes back from February's coverage
    # a, reopened in March in its open item, counts as seen by February too: its item stays the same
    assert set(filled) - set(kept) == {(1, FEB, "open")}
    import_file(engine, files["jan15"], system="old", parallel=False)  # late: replayed from the backfill
    for name in ("jan", "jan15", "feb", "mar"):
        import_file(engine, files[name], system="ordered", parallel=False)
    assert _without_ids(_items(engine, "old")) == _without_ids(_items(engine, "ordered"))
    with engine.begin() as conn:
        assert conn.execute(select(sightings.c.id).where(sightings.c.system_id == old)).first() is not None


def test_the_backfill_keeps_a_fix_by_a_scan_that_could_not_close_by_absence(engine: Engine, tmp_path: Path) -> None:
    """A compliance check that PASSED in a file with an unreadable record (a scan stored as not
    closing): its explicit fix is the only trace of the fix. Before, the backfill left it out when
    the scan covered the asset, and a late older scan then reopened the closed item."""
    import datetime as dt

    from poam.services import systems

    def scan(name: str, when: dt.datetime, result: str, unreadable: bool = False) -> Path:
        check = (
            '<ReportItem port="0" svc_name="general" protocol="tcp" severity="3" pluginID="21156" '
            'pluginName="Unix Compliance Checks" pluginFamily="Policy Compliance">'
            "<cm:compliance-check-name>1.1 Ensure password policy</cm:compliance-check-name>"
            "<cm:compliance-check-id>abc123</cm:compliance-check-id>"
            f"<cm:compliance-result>{result}</cm:compliance-result></ReportItem>"
        )
        if unreadable:  # no plugin id: left out with a warning, so the file closes nothing by absence
            check += '<ReportItem port="0" svc_name="general" protocol="tcp" severity="2" pluginName="x"></ReportItem>'
        path = write_nessus(tmp_path / name, [a(when)])
        xml = path.read_text().replace(
            "<NessusClientData_v2>", '<NessusClientData_v2 xmlns:cm="http://www.nessus.org/cm">'
        )
        path.write_text(xml.replace("</HostProperties>", "</HostProperties>" + check))
        return path

    systems.add_system(engine, "s", "t")
    import_file(engine, scan("jan.nessus", JAN, "FAILED"), system="s", parallel=False)
    r = import_file(engine, scan("feb.nessus", FEB, "PASSED", unreadable=True), system="s", parallel=False)
    assert r.warnings >= 1 and r.items_closed == 1
    with engine.begin() as conn:
        conn.execute(delete(sightings))  # as a database from before 0003
        for statement in BACKFILL:
            conn.execute(text(statement))
    import_file(engine, scan("dec.nessus", dt.datetime(2025, 12, 5, 10), "FAILED"), system="s", parallel=False)
    (item,) = _items(engine, "s")
    assert (item["status"].value, item["detected"], item["closed"]) == (
        "closed",
        dt.date(2025, 12, 5),
        dt.date(2026, 2, 5),
    )
