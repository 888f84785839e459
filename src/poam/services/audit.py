"""The append-only audit log: every change is an event chained to the previous one by hash."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, true, update

from poam.errors import UsageError, printable
from poam.services import seals
from poam.store.tables import audit_events, items, lone_surrogate, settings, systems

GENESIS = "0" * 64
_HEAD = "audit_head"
KEY_ENV = "POAM_AUDIT_KEY_FILE"
"""The environment variable naming the HMAC key file: when set, events are chained with
HMAC-SHA256 under that key, so a chain recomputed without the key fails `verify --key`."""
KEY_MIN_BYTES = 32


@dataclass(frozen=True, slots=True)
class Key:
    """An HMAC key read from a file; `key_id` (the first 16 hex digits of its SHA-256) names it in the
    log. The bytes are never printed (`repr` leaves them out)."""

    secret: bytes = field(repr=False)
    key_id: str


_KEYS: dict[str, Key] = {}


def load_key(path: str | os.PathLike[str]) -> Key:
    """The key of a file (its bytes as they are, at least 32), read once per path."""
    name = os.fspath(path)
    found = _KEYS.get(name)
    if found is not None:
        return found
    try:
        secret = Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(
            f"audit key file {printable(name)}: cannot read it ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(secret) < KEY_MIN_BYTES:
        raise UsageError(
            f"audit key file {printable(name)}: holds {len(secret)} bytes; a key needs at least {KEY_MIN_BYTES}"
        )
    key = Key(secret, hashlib.sha256(secret).hexdigest()[:16])
    _KEYS[name] = key
    return key


def configured_key() -> Key | None:
    """The key `$POAM_AUDIT_KEY_FILE` names, or None when it is not set (plain SHA-256)."""
    name = os.environ.get(KEY_ENV)
    return load_key(name) if name else None


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
    secret: bytes | None = None,
) -> str:
    """An event's hash: SHA-256 of its fields and the previous hash, or HMAC-SHA256 under a key."""
    body = json.dumps(
        [prev, at.isoformat(), actor, system_id, action, entity, entity_id, detail],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    if secret is not None:
        return hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


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
    """Append events to the log inside the caller's transaction, extending the hash chain (keyed
    when `$POAM_AUDIT_KEY_FILE` is set). Callers record after changing their rows: the items the
    events may have changed are sealed last (`services.seals`), one `items.sealed` event per system
    listing those whose state changed."""
    if not events:
        return
    key = configured_key()
    at = at or now()
    head = conn.execute(select(settings.c.value).where(settings.c.key == _HEAD).with_for_update()).scalar_one_or_none()
    if head is not None:
        last_key = conn.execute(
            select(audit_events.c.key_id).order_by(audit_events.c.id.desc()).limit(1)
        ).scalar_one_or_none()
        if last_key is not None and (key is None or key.key_id != last_key):
            raise UsageError(
                f"the audit log is keyed (key {last_key}): set {KEY_ENV} to that key file to record changes; "
                "an unkeyed or differently keyed event would break the chain"
            )
    where = seals.scope(events)
    if where is not None:
        sealed = seals.seal(conn, where)
        events = [
            *events,
            *(Event(seals.SEALED, "system", str(s), d, s) for s, d in sorted(sealed.items())),
        ]
    prev = head or GENESIS
    rows = []
    actor = _storable(actor)
    secret, key_id = (key.secret, key.key_id) if key else (None, None)
    for ev in events:
        detail = _storable(json.dumps(ev.detail, sort_keys=True, default=str, ensure_ascii=False))
        entity_id = _storable(ev.entity_id) if ev.entity_id is not None else None
        digest = _digest(prev, at, actor, ev.system_id, ev.action, ev.entity, entity_id, detail, secret)
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
                "key_id": key_id,
            }
        )
        prev = digest
    conn.execute(insert(audit_events), rows)
    if head is None:
        conn.execute(insert(settings).values(key=_HEAD, value=prev))
    else:
        conn.execute(update(settings).where(settings.c.key == _HEAD).values(value=prev))


def _sealed_in_log(conn: Connection, system_id: int) -> dict[str, str]:
    """The last sealed digest of each item of one system, as the log says."""
    sealed: dict[int, dict[str, str]] = {}
    query = (
        select(audit_events)
        .where(
            audit_events.c.system_id == system_id,
            audit_events.c.action.in_((seals.SEALED, "item.delete", "system.remove")),
        )
        .order_by(audit_events.c.id)
    )
    for row in conn.execute(query):
        _follow(sealed, row, {})
    return sealed.get(system_id, {})


def precheck(conn: Connection, system_id: int, actor: str) -> list[str]:
    """Before a write to a system: the items whose state differs from what the log last sealed (edited
    outside poam) are recorded in an `items.unsealed` event, so that sealing this write's changes
    cannot hide the edit; `verify` reports them until a person accepts them (`poam audit seal`).
    Once per system and transaction. Returns their POA&M ids."""
    txn = conn.get_transaction()
    seen = conn.info.get("poam_prechecked")
    if seen is None or seen[0] is not txn:  # the connection outlives transactions: one set per transaction
        seen = conn.info["poam_prechecked"] = (txn, set[int]())
    if system_id in seen[1]:
        return []
    seen[1].add(system_id)
    want = _sealed_in_log(conn, system_id)
    if not want:
        return []
    found = {
        poam_id: {"sealed": want[poam_id], "found": digest}
        for _id, (_s, poam_id, digest) in seals.digests(conn, items.c.system_id == system_id).items()
        if poam_id in want and want[poam_id] != digest
    }
    if found:
        record(conn, actor, [Event(seals.UNSEALED, "system", str(system_id), found, system_id)])
    return sorted(found)


def seal_all(conn: Connection, actor: str) -> int:
    """Record every item's current state in the log (`audit.seal`, then one `items.sealed` event per
    system whose items are not sealed as they are): for a database that predates item seals. Returns
    how many items were sealed. Anyone can see in the log who sealed what, and when."""
    last = conn.execute(select(func.max(audit_events.c.id))).scalar_one_or_none() or 0
    record(conn, actor, [Event("audit.seal", "system", None, {"reason": "seal every item's current state"})])
    sealed = conn.execute(
        select(audit_events.c.detail).where(audit_events.c.id > last, audit_events.c.action == seals.SEALED)
    ).scalars()
    return sum(len(json.loads(d)) for d in sealed)


ANCHOR_MISSING = -2
"""`Verification.broken` (the old tuple's second value) when the chain is intact but the anchor given
is not in it."""
NO_KEYED_EVENT = "no event is keyed with this key: the chain was recomputed or the key was never used"

_PROBLEMS = {
    "changed": "changed without an audit event",
    "unsealed": "has no audit event",
    "removed": "removed without an audit event",
    "tampered": "was changed without an audit event, found when a later change began",
}


@dataclass(frozen=True, slots=True)
class ItemProblem:
    """An item whose state is not the one the log last sealed: `changed`, `unsealed` (no seal in the
    log) or `removed` (sealed, not removed by an audited deletion, and gone)."""

    system: str
    poam_id: str
    problem: str
    event: int | None = None  # `tampered`: the items.unsealed event that recorded it

    def __str__(self) -> str:
        where = f" (event {self.event}; accept with `poam audit seal`)" if self.event else ""
        return f"item {self.poam_id} (system {self.system}) {_PROBLEMS[self.problem]}{where}"


@dataclass(eq=False)
class Verification:
    """What `verify` found. The chain: `events` checked good, then the first broken event's id and
    why, a head that is not the last event's hash, an anchor not found, a key problem. The items:
    how many were compared with their last seal, and the problems. For the callers of the old
    tuple, it unpacks and compares as `(events, broken)`."""

    events: int = 0
    broken_event: int | None = None
    broken_reason: str | None = None
    head_problem: str | None = None
    anchor: str | None = None
    anchor_found: bool | None = None  # None: no anchor given
    keyed: int = 0  # events keyed with an HMAC key
    authenticated: int = 0  # of those, checked with the key given
    key_id: str | None = None  # the id of the key given
    key_problem: str | None = None
    items_checked: int = 0
    item_problems: list[ItemProblem] = field(default_factory=list)

    @property
    def chain_intact(self) -> bool:
        return (
            self.broken_event is None
            and self.head_problem is None
            and self.anchor_found is not False
            and self.key_problem is None
        )

    @property
    def ok(self) -> bool:
        return self.chain_intact and not self.item_problems

    @property
    def broken(self) -> int | None:
        """The old answer: the first broken event's id, -1 for the head, `ANCHOR_MISSING`, or None."""
        if self.broken_event is not None:
            return self.broken_event
        if self.head_problem is not None:
            return -1
        if self.anchor_found is False:
            return ANCHOR_MISSING
        return None

    def __iter__(self) -> Iterator[int | None]:
        yield self.events
        yield self.broken

    def __getitem__(self, index: int) -> int | None:
        return (self.events, self.broken)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, tuple):
            return (self.events, self.broken) == other
        if isinstance(other, Verification):
            return self.as_json() == other.as_json()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def as_json(self) -> dict[str, Any]:
        return {
            "intact": self.ok,
            "events": self.events,
            "broken_event": self.broken_event,
            "broken_reason": self.broken_reason,
            "head_problem": self.head_problem,
            "anchor": self.anchor,
            "anchor_found": self.anchor_found,
            "keyed_events": self.keyed,
            "authenticated_events": self.authenticated,
            "key_id": self.key_id,
            "key_problem": self.key_problem,
            "items_checked": self.items_checked,
            "item_problems": [
                {"system": p.system, "poam_id": p.poam_id, "problem": p.problem, "text": str(p)}
                for p in self.item_problems
            ],
        }


def verify(conn: Connection, anchor: str | None = None, key: Key | None = None, items: bool = True) -> Verification:
    """Check the log: each event's hash (HMAC-SHA256 under `key` for keyed events; without it keyed
    events are checked for linkage only), the head, an `anchor` (a head hash kept outside the database:
    it must be the hash of an event), then every item against its last seal (skipped when an event is
    broken: the seals of a broken log prove nothing)."""
    res = Verification(anchor=anchor, key_id=key.key_id if key else None)
    prev = GENESIS
    seen_anchor = anchor is None
    keyed_seen = False
    sealed: dict[int, dict[str, str]] = {}  # system id -> POA&M id -> digest, as the log says
    flagged: dict[tuple[int, str], int] = {}  # (system id, POA&M id) -> the items.unsealed event
    for row in _events(conn):
        reason = None
        if row.prev_hash != prev:
            reason = "its previous hash is not the hash of the event before it"
        elif row.key_id is None:
            if keyed_seen:
                reason = "it is not keyed but events before it are"
            elif row.hash != _digest(
                prev, row.at, row.actor, row.system_id, row.action, row.entity, row.entity_id, row.detail
            ):
                reason = "its hash does not match its content"
        else:
            keyed_seen = True
            if key is not None and row.key_id != key.key_id:
                reason = f"it is keyed with another key (key id {row.key_id})"
            elif key is not None and row.hash != _digest(
                prev, row.at, row.actor, row.system_id, row.action, row.entity, row.entity_id, row.detail, key.secret
            ):
                reason = "its HMAC does not match its content under this key"
            else:
                res.keyed += 1
                res.authenticated += key is not None
        if reason is not None:
            res.broken_event, res.broken_reason = int(row.id), reason
            return res
        prev = row.hash
        res.events += 1
        if not seen_anchor and row.hash == anchor:
            seen_anchor = True
        if items:
            _follow(sealed, row, flagged)
    stored = conn.execute(select(settings.c.value).where(settings.c.key == _HEAD)).scalar_one_or_none()
    if stored != (prev if res.events else None):
        res.head_problem = "the head does not match the last event" if res.events else "the log is empty but has a head"
    if anchor is not None:
        res.anchor_found = seen_anchor
    if key is not None and not res.authenticated:
        res.key_problem = NO_KEYED_EVENT
    if items:
        _check_items(conn, sealed, res, flagged)
    return res


def _follow(sealed: dict[int, dict[str, str]], row: Any, flagged: dict[tuple[int, str], int]) -> None:
    """Follow the seals through one event: sealed digests, audited deletions, items found changed
    without an event (`flagged`, until a person's `audit.seal` accepts them)."""
    if row.action == "audit.seal":
        flagged.clear()
    if row.system_id is None:
        return
    if row.action == seals.UNSEALED:
        for poam_id in json.loads(row.detail):
            flagged.setdefault((row.system_id, poam_id), int(row.id))
    elif row.action == seals.SEALED:
        sealed.setdefault(row.system_id, {}).update(json.loads(row.detail))
    elif row.action == "item.delete" and row.entity == "item":
        sealed.get(row.system_id, {}).pop(row.entity_id, None)
    elif row.action == "system.remove":
        sealed.pop(row.system_id, None)
        for key in [k for k in flagged if k[0] == row.system_id]:
            del flagged[key]


def _check_items(
    conn: Connection, sealed: dict[int, dict[str, str]], res: Verification, flagged: dict[tuple[int, str], int]
) -> None:
    current = seals.digests(conn, true())
    names = {r[0]: r[1] for r in conn.execute(select(systems.c.id, systems.c.name))}
    res.items_checked = len(current)
    present: set[tuple[int, str]] = set()
    for _item_id, (system_id, poam_id, digest) in sorted(current.items()):
        present.add((system_id, poam_id))
        want = sealed.get(system_id, {}).get(poam_id)
        if want != digest and (system_id, poam_id) not in flagged:  # a flagged one is reported below
            problem = "unsealed" if want is None else "changed"
            res.item_problems.append(ItemProblem(names.get(system_id) or f"#{system_id}", poam_id, problem))
    for system_id, digests in sealed.items():
        for poam_id in digests:
            if (system_id, poam_id) not in present:
                res.item_problems.append(ItemProblem(names.get(system_id) or f"#{system_id}", poam_id, "removed"))
    for (system_id, poam_id), event in sorted(flagged.items(), key=lambda x: x[1]):
        res.item_problems.append(ItemProblem(names.get(system_id) or f"#{system_id}", poam_id, "tampered", event))


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
