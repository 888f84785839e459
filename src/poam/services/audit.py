"""The append-only audit log: every change is an event chained to the previous one by hash."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

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


ANCHOR_MISSING = -2
"""`verify`'s answer when the chain is intact but the anchor given is not in it."""


def verify(conn: Connection, anchor: str | None = None) -> tuple[int, int | None]:
    """Check the chain: (events checked, id of the first broken event or None; -1 for a head that
    does not match the last event, `ANCHOR_MISSING` when `anchor`, a head hash recorded outside the
    database, is not the hash of an event of the chain: events were removed or the chain recomputed)."""
    prev = GENESIS
    count = 0
    seen_anchor = anchor is None
    for row in _events(conn):
        digest = _digest(prev, row.at, row.actor, row.system_id, row.action, row.entity, row.entity_id, row.detail)
        if row.prev_hash != prev or row.hash != digest:
            return count, int(row.id)
        prev = row.hash
        count += 1
        if not seen_anchor and row.hash == anchor:
            seen_anchor = True
    head = conn.execute(select(settings.c.value).where(settings.c.key == _HEAD)).scalar_one_or_none()
    if count and head != prev:
        return count, -1
    if not seen_anchor:
        return count, ANCHOR_MISSING
    return count, None


def head(conn: Connection) -> tuple[str, int]:
    """The chain's head hash (the genesis value for an empty log) and how many events it holds."""
    value = conn.execute(select(settings.c.value).where(settings.c.key == _HEAD)).scalar_one_or_none()
    count = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    return value or GENESIS, int(count)


def item_history(conn: Connection, system_id: int, poam_id: str) -> list[dict[str, Any]]:
    """An item's story from the log: its own events, and the imports that opened or closed it."""
    query = (
        select(audit_events)
        .where(
            audit_events.c.system_id == system_id,
            or_(
                and_(audit_events.c.entity == "item", audit_events.c.entity_id == poam_id),
                and_(audit_events.c.action == "scan.import", audit_events.c.detail.contains(json.dumps(poam_id))),
            ),
        )
        .order_by(audit_events.c.id)
    )
    out = []
    for row in conn.execute(query):
        detail = json.loads(row.detail)
        if row.action == "scan.import":
            opened, closed = poam_id in detail.get("items_opened", []), poam_id in detail.get("items_closed", [])
            if not (opened or closed):
                continue
            detail = {
                "file": detail.get("file"),
                "sha256": detail.get("sha256"),
                "opened" if opened else "closed": True,
            }
        out.append(
            {
                "id": row.id,
                "at": row.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "actor": row.actor,
                "action": row.action,
                "detail": detail,
                "hash": row.hash,
            }
        )
    return out


def _events(conn: Connection) -> Iterator[Any]:
    yield from conn.execute(select(audit_events).order_by(audit_events.c.id)).yield_per(5000)
