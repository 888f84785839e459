"""One writer per system at a time: what makes two concurrent imports both succeed.

On SQLite a write transaction (`BEGIN IMMEDIATE`) already excludes every other writer. On
PostgreSQL writers run side by side, so two imports of one file at once would both insert the
scan (an IntegrityError), and two first imports would both create the default system. A
writer that changes a system's POA&M takes the system's lock first (a transaction-level
advisory lock: it ends with the transaction, also when the process is killed), then reads
what it needs, so that it sees everything the writer before it committed.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from poam.services import systems
from poam.store import db
from poam.store.tables import systems as systems_table

_CREATING = 0
"""The key of creating the first system (system ids start at 1)."""


def system_for_writing(
    conn: Connection, name: str | None, actor: str, create_default: bool = False
) -> systems.SystemInfo:
    """The system a writing command works on (as `systems.resolve`), locked until the end of the
    transaction: a concurrent writer of the same system waits here for this one to commit."""
    if not db.is_postgresql(conn):
        return systems.resolve(conn, name, actor, create_default)
    if create_default and conn.execute(select(systems_table.c.id).limit(1)).first() is None:
        # An empty database: whoever creates the default system first, the others then find it.
        db.lock(conn, _CREATING, "another poam command writing the first system")
    info = systems.resolve(conn, name, actor, create_default)
    db.lock(conn, info.id, f"another import into system {info.name!r}")
    return systems.resolve(conn, info.name, actor)  # as the writer before this one left it
