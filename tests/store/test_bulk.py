from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, insert, select

from poam.store.bulk import insert_rows
from poam.store.tables import systems


def test_fast_insert_stores_what_core_would(engine: Engine) -> None:
    when = dt.datetime(2026, 1, 5, 10, 30, 15, 123456)
    rows = [
        {
            "name": f"s{i}",
            "impact": "Low",
            "policy": "fedramp-rev5",
            "id_prefix": "V-",
            "created_at": when,
            "org": None,
            "next_seq": 1,
        }
        for i in range(3)
    ]
    with engine.begin() as conn:
        insert_rows(conn, systems, rows)
        conn.execute(insert(systems), {**rows[0], "name": "core"})
        got = conn.execute(
            select(systems.c.name, systems.c.created_at, systems.c.next_seq, systems.c.org).order_by(systems.c.id)
        ).all()
    assert got == [("s0", when, 1, None), ("s1", when, 1, None), ("s2", when, 1, None), ("core", when, 1, None)]


def test_fast_insert_wants_every_defaulted_column(engine: Engine) -> None:
    import pytest

    with engine.begin() as conn, pytest.raises(ValueError, match="next_seq"):
        insert_rows(
            conn,
            systems,
            [{"name": "x", "impact": "Low", "policy": "p", "id_prefix": "V-", "created_at": dt.datetime(2026, 1, 1)}],
        )


def test_nul_characters_are_dropped_on_every_database(engine: Engine) -> None:
    when = dt.datetime(2026, 1, 5)
    row = {
        "name": "a\x00b",
        "impact": "Low",
        "policy": "p",
        "id_prefix": "V-",
        "created_at": when,
        "org": "o\x00",
        "next_seq": 1,
    }
    with engine.begin() as conn:
        insert_rows(conn, systems, [row])
        conn.execute(insert(systems), {**row, "name": "c\x00d"})
        assert conn.execute(select(systems.c.name, systems.c.org).order_by(systems.c.id)).all() == [
            ("ab", "o"),
            ("cd", "o"),
        ]
