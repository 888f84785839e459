"""Item seals: the digest of each item's recorded state, chained into the audit log.

`audit.record` ends every audited change by sealing the items it may have changed: their digest is
computed again and, for those whose digest differs from the one last sealed (the `item_seals` cache),
one `items.sealed` event per system lists `{poam_id: digest}`. `audit.verify` rebuilds each item's
last sealed digest from those events (the log is the truth, `item_seals` only saves recomputing) and
compares it with the item's state now: a direct edit of the database that no audited change made is
found, and so is an item added or removed that way.

What the digest covers (`STATE`): the item row's columns that a person or an audited import set,
not the caches derived from them (`DERIVED`: the rule sets' deadlines and flags and what is computed
from them, recomputed by `deadlines.refresh` without an event when nothing a person sees changed;
`updated_at`); its milestones and milestone changes (sorted rows, without ids and write times); and
its deviation requests (every field: type, status, rationale, requested rating, requester,
approver, times, note) and their evidence files (name, size, SHA-256).
`tests/services/test_audit_integrity.py` checks that every column of `items` is in exactly one of
the two lists: a new column is a decision to make, and putting it in
`STATE` changes every digest (raise `VERSION`; items are then reported until sealed again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, false, insert, or_, select, true

from poam.store.tables import deviation_evidence, deviations, item_seals, items, milestone_changes, milestones

VERSION = "1"
SEALED = "items.sealed"
UNSEALED = "items.unsealed"
"""An event listing items found changed without an event before a write began (kept until a person
accepts the state with `poam audit seal`)."""
"""The action of the event that seals items' digests (entity `system`, detail `{poam_id: digest}`)."""

STATE = (
    "poam_id",
    "seq",
    "status",
    "weakness_id",
    "tool",
    "vuln_id",
    "is_config",
    "controls",
    "weakness_name",
    "weakness_description",
    "detector_source",
    "point_of_contact",
    "resources_required",
    "remediation_plan",
    "recommendation",
    "detection_date",
    "scheduled_completion_date",
    "status_date",
    "vendor_dependency",
    "last_vendor_checkin",
    "vendor_product",
    "original_risk",
    "adjusted_risk",
    "risk_adjustment",
    "false_positive",
    "operational_requirement",
    "deviation_rationale",
    "supporting_documents",
    "comments",
    "auto_approve",
    "kev",
    "kev_due_date",
    "cves",
    "service_names",
    "closed_at",
    "closed_scan_id",
    "previous_item_id",
    "created_at",
    "pain",
    "irv",
    "lev",
    "evaluated_at",
    "disposition",
    "disposition_rationale",
    "team_id",
    "hours",
    "cost",
    "technology",
    "poc_set",
    "ready",
    "reported_at",
    "vendor_release_date",
)
"""The `items` columns an item's digest covers."""

IMPORTED = ("origin", "asset_text", "extra")
"""Columns only an imported POA&M item fills (schema 0009): covered too, but added to the digest
only when one differs from a scanned item's default, so items sealed before 0009 keep their digest."""
_IMPORTED_DEFAULT = ("scan", None, "{}")

DERIVED = frozenset(
    {"id", "system_id", "updated_at", "deadlines", "flags", "next_due", "forensic_triage", "rules_stale"}
)
"""The `items` columns it leaves out: the row's identity (the digest is keyed by system and POA&M
id), its write time, and the rule sets' results, a cache of what the covered columns, the system's
rules and the loaded intelligence say."""

MILESTONE = ("number", "due_date", "text", "status", "completed_on", "placeholder", "actor")
CHANGE = ("number", "kind", "change_date", "text", "actor")
DEVIATION = (
    "type",
    "status",
    "rationale",
    "requested_risk",
    "requester",
    "requested_at",
    "approver",
    "decided_at",
    "decision_note",
)
EVIDENCE = ("deviation_id", "name", "sha256", "size")

_CHUNK = 500
_NARROW = 200  # more items named than this in one system: seal the whole system (one query)

Found = dict[int, tuple[int, str, str]]
"""Item id -> (system id, POA&M id, digest)."""


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _row(values: Sequence[Any]) -> list[Any]:
    return [_plain(v) for v in values]


def digests(conn: Connection, where: ColumnElement[bool]) -> Found:
    """The digest of every item the condition selects, in five queries."""
    chosen = select(items.c.id).where(where)
    parts: dict[int, list[list[str]]] = {}
    tables = ((milestones, MILESTONE), (milestone_changes, CHANGE), (deviations, DEVIATION))
    queries = [
        select(table.c.item_id, *(table.c[n] for n in names)).where(table.c.item_id.in_(chosen))
        for table, names in tables
    ]
    queries.append(  # evidence files of the item's deviation requests, by their SHA-256
        select(deviations.c.item_id, *(deviation_evidence.c[n] for n in EVIDENCE))
        .join(deviations, deviations.c.id == deviation_evidence.c.deviation_id)
        .where(deviations.c.item_id.in_(chosen))
    )
    for slot, query in enumerate(queries):
        for row in conn.execute(query):
            text = json.dumps(_row(row[1:]), separators=(",", ":"))
            parts.setdefault(row[0], [[], [], [], []])[slot].append(text)
    out: Found = {}
    columns = (*STATE, *IMPORTED)
    query = select(items.c.id, items.c.system_id, *(items.c[n] for n in columns)).where(where)
    for row in conn.execute(query):
        item_id, system_id, poam_id = row[0], row[1], row[2]
        lists = parts.get(item_id) or [[], [], [], []]
        state = _row(row[2 : 2 + len(STATE)])
        imported = tuple(row[2 + len(STATE) :])
        if tuple(x if x != "" else None for x in imported[:2]) + imported[2:] != _IMPORTED_DEFAULT:
            state.append(list(imported))
        body = json.dumps([VERSION, state, *(sorted(x) for x in lists)], separators=(",", ":"))
        out[item_id] = (system_id, poam_id, hashlib.sha256(body.encode("utf-8")).hexdigest())
    return out


def scope(events: Iterable[Any]) -> ColumnElement[bool] | None:
    """The items that events may have changed: the items an `item` event names, every item of the
    system of any other event, every item when an event has no system (a KEV catalog load); None
    when nothing needs sealing (only exports, which change no item)."""
    everything = False
    whole: set[int] = set()
    named: dict[int, set[str]] = {}
    for ev in events:
        if ev.action in (SEALED, UNSEALED) or ev.action.startswith("export."):
            continue
        if ev.system_id is None:
            everything = True
        elif ev.entity == "item" and ev.entity_id is not None:
            named.setdefault(ev.system_id, set()).add(ev.entity_id)
        else:
            whole.add(ev.system_id)
    if everything:
        return true()
    for system_id, ids in list(named.items()):
        if system_id in whole or len(ids) > _NARROW:
            whole.add(system_id)
            del named[system_id]
    terms: list[ColumnElement[bool]] = []
    if whole:
        terms.append(items.c.system_id.in_(sorted(whole)))
    terms += [and_(items.c.system_id == s, items.c.poam_id.in_(sorted(ids))) for s, ids in sorted(named.items())]
    if not terms:
        return None
    return or_(false(), *terms)


def seal(conn: Connection, where: ColumnElement[bool]) -> dict[int, dict[str, str]]:
    """Compute the digests of the items selected, store those that changed in `item_seals` and
    return them by system: `{system_id: {poam_id: digest}}` (what the `items.sealed` events say)."""
    current = digests(conn, where)
    if not current:
        return {}
    query = select(item_seals.c.item_id, item_seals.c.digest).where(
        item_seals.c.item_id.in_(select(items.c.id).where(where))
    )
    cached = {r[0]: r[1] for r in conn.execute(query)}
    changed = sorted(i for i, (_s, _p, d) in current.items() if cached.get(i) != d)
    if not changed:
        return {}
    for start in range(0, len(changed), _CHUNK):
        chunk = changed[start : start + _CHUNK]
        conn.execute(delete(item_seals).where(item_seals.c.item_id.in_(chunk)))
    conn.execute(insert(item_seals), [{"item_id": i, "digest": current[i][2]} for i in changed])
    out: dict[int, dict[str, str]] = {}
    for i in changed:
        system_id, poam_id, digest = current[i]
        out.setdefault(system_id, {})[poam_id] = digest
    return out
