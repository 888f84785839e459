"""Monthly snapshots of a POA&M, their differences, and the POA&M as it stood on a past day.

**As of a day** (`as_of`, `poam items --as-of DATE`): rebuilt from the stored history, at the end of
that day (23:59:59 UTC):

- which items, and whether open or closed: by the dates the records carry. An item is listed once
  detected (detection date on or before the day) and is closed
  if its closing date is on or before the day, else open (its closing date then blank). A scan
  imported late counts at its scan date (its `item.redate` is not undone): the POA&M is as the
  evidence dates it, not as the database learnt it.
- fields people change: every audited change made after that day is undone, newest first, from the
  old values the audit log keeps (`item.set`: point of contact, resources, hours, cost, technology,
  plan, comments, services, controls; `item.ready`; `submission.record`; the rating
  and deviation columns of `deviation.approve`/`reject`).
- milestones: poam's automatic ones with their item (one a person's milestone replaced later comes
  back, from the `milestone.add` event); those people added, if added by then; each
  completed only if completed by then; a planned milestone edited later (`milestone.update`) gets
  its date and text back. Milestone changes people recorded by then, and poam's own (a scan closed
  the item) dated on or before the day.
- evaluations: the PAIN, IRV and LEV of the last evaluation made by then (none: awaiting evaluation).
- deadlines, lateness and priority: computed by the rule set at the end of that day.

It cannot rebuild: the affected assets (listed as they are now), the status date when a later scan
moved it (left blank), facts fetched later (KEV catalog,
EPSS, SSVC: deadlines use today's data, and evaluations recorded later still enter the deadline
computation), weakness texts refreshed by later scans, and items deleted since. For exactly what
was reported, use the month's snapshot (`poam report diff`).

**Snapshots** (`freeze`): the month's items as `as_of` lists them at the end of the month (or now,
for the current month), stored as gzip JSON in `report_snapshots` with the SHA-256 of the JSON.
Freezing a month again with the same content changes nothing; with other content it is refused
unless `replace` is given, and then the old snapshot is replaced and a `report.snapshot` audit event
records both digests (every freeze is audited).

**Diff** (`diff`): new (in the later snapshot, not the earlier), closed (closed in the later and open
in, or absent from, the earlier) and changed items (in both, with each changed field).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from poam.domain.models import Level
from poam.domain.rules import UTC
from poam.errors import UsageError, ValueRefused
from poam.services import audit, reporting, systems, triage
from poam.services.items import item_json, load
from poam.services.systems import SystemInfo
from poam.store import db
from poam.store.tables import audit_events, evaluations, items, milestone_changes, milestones, report_snapshots

_SIMPLE = {
    "point_of_contact": "point_of_contact",
    "resources_required": "resources_required",
    "hours": "hours",
    "cost": "cost",
    "technology": "technology",
    "remediation_plan": "remediation_plan",
    "comments": "comments",
    "ready": "ready",
    "reported_at": "reported_at",
    "detection_date": "detection_date",
    "scheduled_completion_date": "scheduled_completion_date",
    "closed_at": "closed_date",
}
"""Stored column (as audit details name it) -> field of `poam items --json`."""
_EVIDENCE = frozenset({"item.redate", "item.close", "item.create", "scan.import"})
"""Events whose dates come from the evidence: kept whenever they were recorded."""
_DIFF_IGNORED = frozenset({"priority", "deadlines", "flags", "epss", "ssvc", "milestone_changes"})
"""Fields `diff` does not compare: derived each day (priority, EPSS) or repeated by other fields."""


def _day(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def _field(column: str, value: Any) -> tuple[str, Any] | None:
    """An audit detail's stored value as the `--json` field it sets (None: not a listed field)."""
    if column in ("detection_date", "scheduled_completion_date", "closed_at", "reported_at"):
        return _SIMPLE[column], _day(value)
    if column in _SIMPLE:
        return _SIMPLE[column], value
    if column == "service_names":
        return "service_names", [s for s in (value or "").split("\n") if s]
    if column == "controls":
        return "controls", [c for c in (value or "").split(",") if c]
    if column == "adjusted_risk":
        return "adjusted_risk", Level(value).fedramp.value if value else None
    return None


def _undo(row: dict[str, Any], action: str, detail: dict[str, Any]) -> None:
    """Put back the values an audited change replaced."""
    if action in ("deviation.approve", "deviation.reject") and isinstance(detail.get("before"), dict):
        for column, old in detail["before"].items():
            found = _field(column, old)
            if found:
                row[found[0]] = found[1]
        return
    if action in _EVIDENCE:
        return
    if action == "milestone.add":  # the added one is left out by its date; the automatic one it replaced returns
        replaced = (detail.get("milestone") or [None])[0] or []
        numbers = {m["number"] for m in row["milestones"]}
        for m in replaced:
            if m["number"] not in numbers:
                row["milestones"].append(
                    {
                        "number": m["number"],
                        "date": _day(m["date"]),
                        "text": m["text"],
                        "status": "open",
                        "completed_on": None,
                        "placeholder": True,
                    }
                )
        row["milestones"].sort(key=lambda m: m["number"])
        return
    if action == "milestone.update" and detail.get("planned_edited"):
        for m in row["milestones"]:
            if m["number"] == detail.get("number"):
                m["date"] = _day(detail["date"][0])
                m["text"] = detail["text"][0]
        return
    for column, value in detail.items():
        if isinstance(value, list) and len(value) == 2:
            found = _field(column, value[0])
            if found:
                row[found[0]] = found[1]


def end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=UTC)


def rows_as_of(conn: Connection, info: SystemInfo, day: dt.date) -> list[dict[str, Any]]:
    """Every item of the system as it stood at the end of `day` (see the module's rules), each as
    `poam items --json` lists it, in POA&M id order."""
    moment = end_of(day)
    naive = moment.replace(tzinfo=None)
    listed = load(conn, info.id, "all")
    query = select(items.c.poam_id, items.c.id).where(items.c.system_id == info.id)
    ids = {r.poam_id: r.id for r in conn.execute(query)}
    assessed = triage.assess(conn, [ids[i.poam_id] for i in listed], moment)
    item_ids = list(ids.values())
    kept_ms: dict[int, dict[int, Any]] = defaultdict(dict)
    kept_changes: dict[int, list[bool]] = defaultdict(list)
    last_eval: dict[int, Any] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        for m in conn.execute(select(milestones).where(milestones.c.item_id.in_(chunk))):
            if m.created_at <= naive or m.actor is None:  # poam's own (automatic) ones come with the item
                kept_ms[m.item_id][m.number] = m
        for c in conn.execute(
            select(milestone_changes).where(milestone_changes.c.item_id.in_(chunk)).order_by(milestone_changes.c.id)
        ):  # poam's own changes (a scan closed the item) are dated by the evidence
            kept_changes[c.item_id].append(c.created_at <= naive if c.actor is not None else c.change_date <= day)
        for e in conn.execute(
            select(evaluations).where(evaluations.c.item_id.in_(chunk)).order_by(evaluations.c.at, evaluations.c.id)
        ):
            if e.at <= naive:
                last_eval[e.item_id] = e
    later: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for ev in conn.execute(
        select(audit_events.c.entity_id, audit_events.c.action, audit_events.c.detail)
        .where(audit_events.c.system_id == info.id, audit_events.c.entity == "item", audit_events.c.at > naive)
        .order_by(audit_events.c.id.desc())
    ):
        later[ev.entity_id].append((ev.action, json.loads(ev.detail)))
    out = []
    for item in listed:
        item_id = ids[item.poam_id]
        row: dict[str, Any] = {**item_json(item), **triage.assessment_json(assessed[item_id])}
        row["milestones"] = [m for m in row["milestones"] if m["number"] in kept_ms[item_id]]
        row["milestone_changes"] = [
            c for c, kept in zip(row["milestone_changes"], kept_changes[item_id], strict=True) if kept
        ]
        for action, detail in later.get(item.poam_id, []):
            _undo(row, action, detail)
        if row["detection_date"] is None or row["detection_date"] > day.isoformat():
            continue
        closed = row["closed_date"]
        if closed is not None and closed <= day.isoformat():
            row["status"] = "closed"
        else:
            row["status"], row["closed_date"] = "open", None
        for m in row["milestones"]:
            if m["completed_on"] is not None and m["completed_on"] > day.isoformat():
                m["status"], m["completed_on"] = "open", None
        current = last_eval.get(item_id)
        row["pain"], row["irv"], row["lev"] = (current.pain, current.irv, current.lev) if current else (None,) * 3
        row["awaiting_evaluation"] = current is None
        if row["status_date"] is not None and row["status_date"] > day.isoformat():
            row["status_date"] = None  # a later scan moved it; the date it had then is not kept
        if row["reported_at"] is not None and row["reported_at"] > day.isoformat():
            row["reported_at"] = None
        out.append(row)
    return out


def as_of(
    engine: Engine, system: str | None, day: dt.date, status: str = "open", today: dt.date | None = None
) -> tuple[SystemInfo, list[dict[str, Any]]]:
    """`poam items --as-of DAY`: the items of that status as they stood at the end of the day."""
    today = today or dt.datetime.now(UTC).date()
    if day > today:
        raise ValueRefused(f"--as-of {day.isoformat()} is in the future")
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        rows = rows_as_of(conn, info, day)
    return info, [r for r in rows if status == "all" or r["status"] == status]


def _encode(rows: list[dict[str, Any]]) -> tuple[bytes, str]:
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    return gzip.compress(text, compresslevel=9, mtime=0), hashlib.sha256(text).hexdigest()


@dataclass(frozen=True, slots=True)
class Frozen:
    """A month's snapshot: `outcome` is frozen, unchanged (same content already stored) or replaced."""

    month: str
    sha256: str
    items: int
    outcome: str
    taken_at: dt.datetime


def freeze(
    conn: Connection, info: SystemInfo, month: str, actor: str, replace: bool = False, now: dt.datetime | None = None
) -> Frozen:
    """Store the month's snapshot inside the caller's transaction (see the module's rules)."""
    p = reporting.period(month)
    now = now or dt.datetime.now(UTC)
    if p.first > now.date():
        raise ValueRefused(f"--month: {p.month} has not begun")
    rows = rows_as_of(conn, info, min(p.last, now.date()))
    content, digest = _encode(rows)
    old = conn.execute(
        select(report_snapshots.c.id, report_snapshots.c.sha256, report_snapshots.c.taken_at)
        .where(report_snapshots.c.system_id == info.id, report_snapshots.c.month == p.month)
        .with_for_update()
    ).first()
    stamp = audit.now()
    if old is not None and old.sha256 == digest:
        return Frozen(p.month, digest, len(rows), "unchanged", old.taken_at)
    if old is not None and not replace:
        raise UsageError(
            f"{p.month} is already frozen for {info.name} ({old.taken_at:%Y-%m-%dT%H:%M:%SZ}, sha256 "
            f"{old.sha256[:12]}) and the POA&M has changed since; give --replace to replace that snapshot "
            "(recorded in the audit log)"
        )
    if old is not None:
        conn.execute(delete(report_snapshots).where(report_snapshots.c.id == old.id))
    conn.execute(
        insert(report_snapshots).values(
            system_id=info.id, month=p.month, taken_at=stamp, actor=actor[:200], sha256=digest, content=content
        )
    )
    detail: dict[str, Any] = {"month": p.month, "sha256": digest, "items": len(rows)}
    if old is not None:
        detail["replaced"] = {"sha256": old.sha256, "taken_at": old.taken_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    audit.record(conn, actor, [audit.Event("report.snapshot", "system", str(info.id), detail, info.id)], stamp)
    return Frozen(p.month, digest, len(rows), "replaced" if old is not None else "frozen", stamp)


def load_snapshot(conn: Connection, info: SystemInfo, month: str) -> list[dict[str, Any]]:
    """A frozen month's items; refused (exit status 2) when the month was never frozen."""
    p = reporting.period(month, "month")
    content = conn.execute(
        select(report_snapshots.c.content).where(
            report_snapshots.c.system_id == info.id, report_snapshots.c.month == p.month
        )
    ).scalar_one_or_none()
    if content is None:
        raise ValueRefused(
            f"{p.month}: no snapshot for {info.name} (`poam report monthly --month {p.month} OUT_DIR` freezes it)"
        )
    rows: list[dict[str, Any]] = json.loads(gzip.decompress(content))
    return rows


def diff(engine: Engine, system: str | None, month_a: str, month_b: str) -> dict[str, Any]:
    """New, closed and changed items between two frozen months (a read)."""
    a_p, b_p = reporting.period(month_a, "month"), reporting.period(month_b, "month")
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        before = {r["poam_id"]: r for r in load_snapshot(conn, info, a_p.month)}
        after = {r["poam_id"]: r for r in load_snapshot(conn, info, b_p.month)}

    def brief(r: dict[str, Any]) -> dict[str, Any]:
        return {k: r.get(k) for k in ("poam_id", "status", "rating", "weakness_name", "detection_date", "closed_date")}

    new = [brief(r) for k, r in after.items() if k not in before]
    closed = [
        brief(r)
        for k, r in after.items()
        if r["status"] == "closed" and (k not in before or before[k]["status"] == "open")
    ]
    closed_ids = {r["poam_id"] for r in closed}
    changed = []
    for k, r in after.items():
        if k not in before or k in closed_ids:
            continue
        old = before[k]
        fields = [
            {"field": f, "before": old.get(f), "after": r.get(f)}
            for f in sorted(set(old) | set(r))
            if f not in _DIFF_IGNORED and old.get(f) != r.get(f)
        ]
        if fields:
            changed.append({"poam_id": k, "rating": r.get("rating"), "changes": fields})
    gone = sorted(k for k in before if k not in after)
    return {
        "system": info.name,
        "from": a_p.month,
        "to": b_p.month,
        "new": new,
        "closed": closed,
        "changed": changed,
        "missing": gone,
    }


def select_rows(
    rows: list[dict[str, Any]],
    *,
    sort: str = "id",
    late: bool = False,
    kev: bool = False,
    risk: str | None = None,
    pain: int | None = None,
    awaiting_evaluation: bool = False,
    detector: str | None = None,
    asset: str | None = None,
) -> list[dict[str, Any]]:
    """`poam items` filters and sorts applied to rows as `as_of` gives them (`asset` matches an
    affected asset's identifier, without its port)."""
    far = "9999-12-31T23:59:59Z"

    def keep(r: dict[str, Any]) -> bool:
        return not (
            (late and not r["late"])
            or (kev and not r["kev"])
            or (risk and str(r["rating"]).lower() != risk.lower())
            or (pain is not None and r["pain"] != pain)
            or (awaiting_evaluation and not r["awaiting_evaluation"])
            or (detector and detector.lower() not in r["detector_source"].lower())
            or (asset and not any(a.split(" ")[0].split(":")[0] == asset.strip() for a in r["assets"]))
        )

    def due(r: dict[str, Any]) -> str:
        dues = [d["due"] for d in r["deadlines"] if d["due"] and not d["met_at"]]
        return min(dues, default=far)

    kept = [r for r in rows if keep(r)]
    if sort == "priority":
        kept.sort(key=lambda r: (-r["priority"]["score"], due(r)))
    elif sort == "due":
        kept.sort(key=due)
    return kept
