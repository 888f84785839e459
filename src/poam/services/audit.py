"""The append-only audit log: every change is an event chained to the previous one by hash."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from poam.store.tables import audit_events, lone_surrogate, settings

GENESIS = "0" * 64
_HEAD = "audit_head"


def default_actor() -> str:
    """Who runs the command line: `cli:<user>`."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a container
        return "cli"


def now() -> dt.datetime:
    """The current time as naive UTC, the form the store keeps."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _digest(
    prev: str,
    at: dt.datetime,
    actor: str,
    system_id: int | None,
    action: str,
    entity: str,
    entity_id: str | None,
    detail: str,
) -> str:
    body = json.dumps(
        [prev, at.isoformat(), actor, system_id, action, entity, entity_id, detail],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Event:
    """One change to record."""

    action: str
    entity: str
    entity_id: str | None
    detail: dict[str, Any]
    system_id: int | None = None


def _storable(text: str) -> str:
    """Text as the log keeps it and hashes it: a lone surrogate (a file name's byte that is not
    UTF-8, as Python reads it) written as its escape, `\\udcff`, so the text can be stored exactly."""
    if lone_surrogate(text):
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def record(conn: Connection, actor: str, events: list[Event], at: dt.datetime | None = None) -> None:
    """Append events to the log inside the caller's transaction, extending the hash chain."""
    if not events:
        return
    at = at or now()
    head = conn.execute(select(settings.c.value).where(settings.c.key == _HEAD).with_for_update()).scalar_one_or_none()
    prev = head or GENESIS
    rows = []
    actor = _storable(actor)
    for ev in events:
        detail = _storable(json.dumps(ev.detail, sort_keys=True, default=str, ensure_ascii=False))
        entity_id = _storable(ev.entity_id) if ev.entity_id is not None else None
        digest = _digest(prev, at, actor, ev.system_id, ev.action, ev.entity, entity_id, detail)
        rows.append(
            {
                "at": at,
                "actor": actor,
                "system_id": ev.system_id,
                "action": ev.action,
                "entity": ev.entity,
                "entity_id": entity_id,
                "detail": detail,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    conn.execute(insert(audit_events), rows)
    if head is None:
        conn.execute(insert(settings).values(key=_HEAD, value=prev))
    else:
        conn.execute(update(settings).where(settings.c.key == _HEAD).values(value=prev))


def verify(conn: Connection) -> tuple[int, int | None]:
    """Check the chain: (events checked, id of the first broken event or None)."""
    prev = GENESIS
    count = 0
    for row in _events(conn):
        digest = _digest(prev, row.at, row.actor, row.system_id, row.action, row.entity, row.entity_id, row.detail)
        if row.prev_hash != prev or row.hash != digest:
            return count, int(row.id)
        prev = row.hash
        count += 1
    head = conn.execute(select(settings.c.value).where(settings.c.key == _HEAD)).scalar_one_or_none()
    if count and head != prev:
        return count, -1
    return count, None


def _events(conn: Connection) -> Iterator[Any]:
    yield from conn.execute(select(audit_events).order_by(audit_events.c.id)).yield_per(5000)
