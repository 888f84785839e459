"""A file with several records of one finding: the newest record decides, whatever the order of
the records in the file and however they fall into the importer's batches; on equal times within
one file the failing record wins. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from poam.domain.models import ItemStatus
from poam.services import importer
from poam.services.importer import import_file
from poam.store.tables import findings
from tests.builders import write_csv
from tests.services.test_import import items_of

T1 = "2026-01-10T08:00:00.250000Z"
T2 = "2026-01-10T08:00:00.750000Z"  # half a second later: compared at full precision
T0 = "2026-01-01T00:00:00Z"


def rows_file(tmp_path: Path, name: str, rows: list[tuple[str, str]]) -> Path:
    return write_csv(
        tmp_path / name,
        [
            {
                "detector": "Cloud Posture",
                "weakness_id": "S3.1",
                "weakness_name": "Bucket is public",
                "severity": "high",
                "asset": "bucket.example.com",
                "detected": when,
                "status": status,
            }
            for when, status in rows
        ],
    )


def finding_row(engine: Engine) -> tuple[str, dt.datetime | None]:
    with engine.begin() as conn:
        return conn.execute(select(findings.c.status, findings.c.fixed_at)).one()  # type: ignore[return-value]


@pytest.fixture(params=[1, 2000], ids=["batch-of-1", "one-batch"])
def batch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Each record in its own batch (as in a large file), or all in one."""
    monkeypatch.setattr(importer, "BATCH", request.param)
    return int(request.param)


@pytest.mark.parametrize("rows", [[(T1, "open"), (T2, "fixed")], [(T2, "fixed"), (T1, "open")]])
def test_a_newer_passing_record_closes_a_new_finding(
    engine: Engine, tmp_path: Path, batch: int, rows: list[tuple[str, str]]
) -> None:
    r = import_file(engine, rows_file(tmp_path, "a.csv", rows))
    assert r.results == 2
    assert finding_row(engine) == ("fixed", dt.datetime(2026, 1, 10, 8, 0, 0, 750000))
    assert [i.status for i in items_of(engine).values()] == [ItemStatus.CLOSED]  # type: ignore[attr-defined]


@pytest.mark.parametrize("rows", [[(T2, "open"), (T1, "fixed")], [(T1, "fixed"), (T2, "open")]])
def test_an_older_passing_record_never_closes(
    engine: Engine, tmp_path: Path, batch: int, rows: list[tuple[str, str]]
) -> None:
    import_file(engine, rows_file(tmp_path, "a.csv", rows))
    assert finding_row(engine) == ("open", None)


@pytest.mark.parametrize("rows", [[(T1, "open"), (T1, "fixed")], [(T1, "fixed"), (T1, "open")]])
def test_on_equal_times_the_failing_record_wins(
    engine: Engine, tmp_path: Path, batch: int, rows: list[tuple[str, str]]
) -> None:
    import_file(engine, rows_file(tmp_path, "a.csv", [(T0, "open")]))
    r = import_file(engine, rows_file(tmp_path, "b.csv", rows))
    assert finding_row(engine) == ("open", None)
    assert (r.fixed_findings, r.items_closed) == (0, 0)


@pytest.mark.parametrize("rows", [[(T2, "fixed"), (T1, "open")], [(T1, "open"), (T2, "fixed")]])
def test_a_known_finding_closes_on_the_newest_record(
    engine: Engine, tmp_path: Path, batch: int, rows: list[tuple[str, str]]
) -> None:
    import_file(engine, rows_file(tmp_path, "a.csv", [(T0, "open")]))
    r = import_file(engine, rows_file(tmp_path, "b.csv", rows))
    assert finding_row(engine) == ("fixed", dt.datetime(2026, 1, 10, 8, 0, 0, 750000))
    assert (r.fixed_findings, r.reopened_findings, r.items_closed) == (1, 0, 1)


def test_a_fix_in_a_later_file_at_the_same_time_still_closes(engine: Engine, tmp_path: Path) -> None:
    """Across files the later import's word stands (a retest reported the same day)."""
    import_file(engine, rows_file(tmp_path, "a.csv", [(T1, "open")]))
    import_file(engine, rows_file(tmp_path, "b.csv", [(T1, "fixed")]))
    assert finding_row(engine)[0] == "fixed"


def two_assets_file(tmp_path: Path, name: str, rows: list[tuple[str, str, str]]) -> Path:
    """Rows of (asset, time, status) for the same check."""
    return write_csv(
        tmp_path / name,
        [
            {
                "detector": "Cloud Posture",
                "weakness_id": "S3.1",
                "weakness_name": "Bucket is public",
                "severity": "high",
                "asset": asset,
                "detected": when,
                "status": status,
            }
            for asset, when, status in rows
        ],
    )


T3 = "2026-02-10T08:00:00Z"
T4 = "2026-02-11T08:00:00Z"


@pytest.mark.parametrize("order", [1, -1], ids=["fix-first", "failure-first"])
@pytest.mark.parametrize("item_open", [False, True], ids=["item-closed", "item-open"])
def test_a_stored_fixed_finding_stays_fixed_when_the_newest_record_passes(
    engine: Engine, tmp_path: Path, batch: int, order: int, item_open: bool
) -> None:
    """Fixed last month; this file's older record fails again and its newer record passes: the
    newest record decides, so the finding stays fixed and no item opens, in any batch order."""
    b = "bucket.example.com"
    first = [(b, T0, "open"), (b, T1, "fixed")] + ([("other.example.com", T0, "open")] if item_open else [])
    import_file(engine, two_assets_file(tmp_path, "a.csv", first))
    rows = [(b, T3, "open"), (b, T4, "fixed")][::order]
    import_file(engine, two_assets_file(tmp_path, "b.csv", rows))
    with engine.begin() as conn:
        got = conn.execute(
            select(findings.c.status, findings.c.fixed_at, findings.c.asset_id).order_by(findings.c.id)
        ).all()
    bucket = [(status, fixed_at) for status, fixed_at, _a in got if _a == min(a for _s, _f, a in got)]
    # It came back at T3 (a recurrence is history) and the newest record fixed it at T4.
    assert bucket[-1] == ("fixed", dt.datetime(2026, 2, 11, 8)) and all(st == "fixed" for st, _f in bucket)
    still_open = [i for i in items_of(engine).values() if i.status is ItemStatus.OPEN]  # type: ignore[attr-defined]
    assert [[a.identifier for a in i.assets if a.status.value == "open"] for i in still_open] == (
        [["other.example.com"]] if item_open else []
    )


def _expected(stored_open: bool, rows: list[tuple[str, str]]) -> tuple[str, str | None] | None:
    """Worked out by hand from the rule, not by the code: the newest record decides (a failing one
    wins a tie); a fix dates the closure by the first fix after the last failing record."""
    opens = [t for t, s in rows if s == "open"]
    last_open = max(opens) if opens else (T0 if stored_open else None)
    if last_open is None:
        return None  # fixes of a finding never seen open: nothing is stored
    later_fixes = sorted(t for t, s in rows if s == "fixed" and t > last_open)
    return ("fixed", later_fixes[0]) if later_fixes else ("open", None)


TIMES = ["2026-01-10T08:00:01Z", "2026-01-10T08:00:02Z", "2026-01-10T08:00:03Z"]


@pytest.mark.parametrize("stored_open", [False, True], ids=["new", "stored-open"])
def test_every_order_of_a_files_records_gives_the_newest_records_state(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored_open: bool
) -> None:
    """Three or four records of one finding, in every order, each in its own batch."""
    import itertools

    monkeypatch.setattr(importer, "BATCH", 1)
    cases = [
        [(TIMES[0], "fixed"), (TIMES[1], "open"), (TIMES[2], "fixed")],
        [(TIMES[0], "open"), (TIMES[1], "fixed"), (TIMES[2], "open")],
        [(TIMES[0], "open"), (TIMES[1], "fixed"), (TIMES[2], "fixed")],
        [(TIMES[0], "fixed"), (TIMES[1], "open"), (TIMES[1], "fixed"), (TIMES[2], "fixed")],
        [(TIMES[0], "open"), (TIMES[1], "fixed"), (TIMES[1], "open"), (TIMES[2], "fixed")],
    ]
    from poam.services import systems

    n = 0
    for case in cases:
        for order in set(itertools.permutations(case)):
            n += 1
            system = f"s{n}"
            systems.add_system(engine, system, "t")
            if stored_open:
                import_file(engine, rows_file(tmp_path, f"{n}a.csv", [(T0, "open")]), system=system)
            import_file(engine, rows_file(tmp_path, f"{n}b.csv", list(order)), system=system)
            with engine.begin() as conn:
                info = systems.resolve(conn, system, "t")
                got = conn.execute(
                    select(findings.c.status, findings.c.fixed_at)
                    .where(findings.c.system_id == info.id)
                    .order_by(findings.c.id.desc())
                ).first()
            want = _expected(stored_open, list(order))
            if want is None:
                assert got is None, order
            else:
                status, fixed_at = want
                at = dt.datetime.fromisoformat(fixed_at.replace("Z", "")) if fixed_at else None
                assert (got[0], got[1]) == (status, at), (order, stored_open)
