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
