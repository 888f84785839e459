"""Fast bulk inserts for the import hot path.

SQLAlchemy Core's executemany runs every value through its type processors, which costs more
than the insert itself for hundreds of thousands of rows. Here the statement is compiled once
by SQLAlchemy for the connection's dialect and the rows go straight to the driver, with the
only conversion the drivers need: SQLite stores dates and date-times as text in SQLAlchemy's
formats (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS.ffffff`); psycopg takes Python values as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Table, bindparam, insert, update
from sqlalchemy.types import TypeDecorator

from poam.store.tables import _no_nul, lone_surrogate


def _text(value: dt.date) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(" ", "microseconds")
    return value.isoformat()


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys, which must include every column that has a
    Python-side default (the defaults are not applied here)."""
    if not rows:
        return
    keys = list(rows[0])
    missing = [c.key for c in table.columns if c.default is not None and c.key not in keys]
    if missing:
        raise ValueError(f"insert_rows into {table.name}: give a value for {', '.join(missing)}")
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=keys)
    text_keys = [k for k in keys if isinstance(table.c[k].type, TypeDecorator)]  # no NUL (see tables.py)
    joined = ["".join(filter(None, (r[k] for r in rows))) for k in text_keys]
    if any("\x00" in text or lone_surrogate(text) for text in joined):
        rows = [{**r, **{k: _no_nul(r[k]) for k in text_keys}} for r in rows]
    if compiled.positiontup is None:  # named paramstyle (psycopg): the rows are the parameters
        conn.exec_driver_sql(str(compiled), list(rows))
        return
    names = list(compiled.positiontup)
    getter = itemgetter(*names)
    dates = []
    if conn.dialect.name == "sqlite":
        dates = [i for i, n in enumerate(names) if isinstance(table.c[n].type, Date | DateTime)]
    if not dates:
        conn.exec_driver_sql(str(compiled), [getter(r) for r in rows])
        return
    params = []
    texts: dict[dt.date, str] = {}  # rows of one scan share a few times: convert each once
    for r in rows:
        values = list(getter(r))
        for i in dates:
            value = values[i]
            if value is not None:
                text = texts.get(value)
                if text is None:
                    text = texts[value] = _text(value)
                values[i] = text
        params.append(tuple(values))
    conn.exec_driver_sql(str(compiled), params)


def update_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Update rows by `id`: each row gives its `id` and new values for the same other columns (the
    statement is compiled once and the rows go straight to the driver, as in `insert_rows`)."""
    if not rows:
        return
    keys = [k for k in rows[0] if k != "id"]
    stmt = update(table).where(table.c.id == bindparam("_id")).values({k: bindparam("_" + k) for k in keys})
    compiled = stmt.compile(dialect=conn.dialect)
    named = [{"_" + k: v for k, v in r.items()} for r in rows]
    if compiled.positiontup is None:
        conn.exec_driver_sql(str(compiled), named)
        return
    names = list(compiled.positiontup)
    dates = set()
    if conn.dialect.name == "sqlite":
        dates = {n for n in names if isinstance(table.c[n[1:]].type, Date | DateTime)}
    params = [
        tuple(_text(r[n]) if n in dates and r[n] is not None else r[n] for n in names)  # SQLite: dates as text
        for r in named
    ]
    conn.exec_driver_sql(str(compiled), params)
