"""Milestones a person plans, per the FedRAMP POA&M template (columns M and N).

Until an item is first reported in a monthly submission (`items.reported_at`), its planned
milestones (column M) may still be edited: a person's first milestone replaces the automatic one an
import created (the placeholder), and `update` edits a milestone in place. From the first report on,
column M is permanent: a new milestone is a `New` milestone change (numbered after every planned
milestone and earlier New change), and re-dating or completing one is only a change (column N).
Re-dating and completing are always recorded as `Update` and `Complete` changes, with who and when.

Every change is one audit event (`milestone.add`, `milestone.update`, `milestone.complete`,
`item.ready`, `submission.record`) with before and after, recorded after the rows change, in the
same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from poam.domain.milestones import format_change, format_milestone, next_number
from poam.domain.models import ChangeKind, Milestone, MilestoneChange
from poam.errors import UsageError, ValueRefused
from poam.services import audit, systems
from poam.services.planning import _text
from poam.services.systems import SystemInfo
from poam.store import db
from poam.store.tables import assets, findings, items, milestone_changes, milestones

_ENTRY = re.compile(
    r"^[ \t]*\(\d+\)[ \t]*(?:(?:new|update|complete)[ \t]*)?\d{1,4}[\\/\-]\d{1,2}[\\/\-]\d{1,4}[ \t]*:",
    re.MULTILINE | re.IGNORECASE,
)
"""The start of an entry of the template's milestone grammar, planned or change, at a line's start."""

COMPLETED = "Milestone completed."
"""The text of a Complete change when the person gives none."""


@dataclass(frozen=True)
class MilestoneView:
    """One milestone as it stands: a planned one (column M) or one added by a `New` change."""

    number: int
    date: dt.date  # as last re-dated (an Update change), else as planned
    text: str
    status: str  # open, complete
    completed_on: dt.date | None
    placeholder: bool
    origin: str  # planned (column M) or new (a New milestone change)
    by: str | None  # who added it (None: poam itself)
    planned_date: dt.date  # the date first recorded

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "date": self.date.isoformat(),
            "text": self.text,
            "status": self.status,
            "completed_on": self.completed_on.isoformat() if self.completed_on else None,
            "placeholder": self.placeholder,
            "origin": self.origin,
            "by": self.by,
            "planned_date": self.planned_date.isoformat(),
        }


@dataclass(frozen=True)
class Listing:
    """An item's milestones and milestone changes."""

    poam_id: str
    status: str
    reported_at: dt.date | None
    ready: bool
    milestones: list[MilestoneView]
    changes: list[MilestoneChange] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "poam_id": self.poam_id,
            "status": self.status,
            "reported_at": self.reported_at.isoformat() if self.reported_at else None,
            "ready": self.ready,
            "milestones": [m.as_json() for m in self.milestones],
            "milestone_changes": [
                {"number": c.number, "kind": c.kind.value, "date": c.date.isoformat(), "text": c.text, "by": c.by}
                for c in self.changes
            ],
        }


@dataclass(frozen=True)
class Done:
    """What a command did: the entry as the workbook shows it, and a note."""

    poam_id: str
    number: int
    entry: str
    note: str = ""


def milestone_text(value: str, option: str = "--text") -> str:
    """A milestone's (or change's) text: not empty, not too long, and never able to corrupt the
    workbook cell: a line that starts like an entry (`(3) 2026-01-01:`) is refused, and blank
    lines (the cell's entry separator) are dropped."""
    text = _text(value.replace("\r\n", "\n").replace("\r", "\n"), option)
    if not text:
        raise ValueRefused(f"{option} is empty")
    if _ENTRY.search(text):
        raise ValueRefused(
            f"{option} has a line starting like a milestone entry, e.g. '(3) 2026-01-01:', "
            "which would split the workbook's milestone cell; reword that line"
        )
    return "\n".join(line.rstrip() for line in text.split("\n") if line.strip())


def _item(conn: Connection, info: SystemInfo, poam_id: str) -> Any:
    row = conn.execute(
        select(items).where(items.c.system_id == info.id, items.c.poam_id == poam_id).with_for_update()
    ).first()
    if row is None:
        raise UsageError(f"no item {poam_id!r} in system {info.name!r}")
    return row


def _not_before_detection(when: dt.date, row: Any, option: str = "--date") -> None:
    if when < row.detection_date:
        raise ValueRefused(f"{option} {when.isoformat()} is before {row.poam_id} was detected ({row.detection_date})")


def _views(conn: Connection, item_id: int) -> tuple[list[Any], list[MilestoneChange], list[MilestoneView]]:
    """The item's milestone rows, its changes (in order) and every milestone as it stands."""
    rows = list(conn.execute(select(milestones).where(milestones.c.item_id == item_id).order_by(milestones.c.number)))
    changes = [
        MilestoneChange(c.number, ChangeKind(c.kind), c.change_date, c.text, c.actor)
        for c in conn.execute(
            select(milestone_changes).where(milestone_changes.c.item_id == item_id).order_by(milestone_changes.c.id)
        )
    ]
    dated: dict[int, dt.date] = {}
    completed: dict[int, dt.date] = {}
    for c in changes:
        if c.kind is ChangeKind.UPDATE:
            dated[c.number] = c.date
        elif c.kind is ChangeKind.COMPLETE:
            completed.setdefault(c.number, c.date)
    views = []
    for r in rows:
        done = r.completed_on if r.status == "complete" else completed.get(r.number)
        status = "complete" if r.status == "complete" or done is not None else "open"
        views.append(
            MilestoneView(
                r.number,
                dated.get(r.number, r.due_date),
                r.text,
                status,
                done,
                bool(r.placeholder),
                "planned",
                r.actor,
                r.due_date,
            )
        )
    planned = {r.number for r in rows}
    for c in changes:
        if c.kind is ChangeKind.NEW and c.number not in planned:
            done = completed.get(c.number)
            views.append(
                MilestoneView(
                    c.number,
                    dated.get(c.number, c.date),
                    c.text,
                    "complete" if done else "open",
                    done,
                    False,
                    "new",
                    c.by,
                    c.date,
                )
            )
            planned.add(c.number)
    views.sort(key=lambda v: v.number)
    return rows, changes, views


def _find(views: list[MilestoneView], number: int, poam_id: str) -> MilestoneView:
    for v in views:
        if v.number == number:
            return v
    have = ", ".join(str(v.number) for v in views) or "none"
    raise ValueRefused(f"{poam_id} has no milestone ({number}); its milestones are {have}")


def _change(conn: Connection, item_id: int, change: MilestoneChange, stamp: dt.datetime) -> None:
    conn.execute(
        insert(milestone_changes).values(
            item_id=item_id,
            number=change.number,
            kind=change.kind.value,
            change_date=change.date,
            text=change.text,
            created_at=stamp,
            actor=change.by,
        )
    )


def _touch(conn: Connection, item_id: int, stamp: dt.datetime) -> None:
    conn.execute(update(items).where(items.c.id == item_id).values(updated_at=stamp))


def _automatic(r: Any) -> bool:
    return bool(r.placeholder) or r.actor is None


def add(engine: Engine, system: str | None, poam_id: str, actor: str, when: dt.date, text: str) -> Done:
    """Add a milestone due on `when`: a planned one before the item is reported (the first replaces
    the automatic placeholder), a `New` milestone change after."""
    body = milestone_text(text)
    by = actor[:200]
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        row = _item(conn, info, poam_id)
        if row.status != "open":
            raise UsageError(f"{poam_id} is closed; a closed item takes no new milestones")
        _not_before_detection(when, row)
        rows, changes, _ = _views(conn, row.id)
        stamp = audit.now()
        replaced: list[dict[str, Any]] = []
        if row.reported_at is None:
            if rows and not changes and all(_automatic(r) and r.status == "open" for r in rows):
                replaced = [{"number": r.number, "date": r.due_date, "text": r.text} for r in rows]
                conn.execute(delete(milestones).where(milestones.c.item_id == row.id))
                number = 1
            else:
                number = next_number([Milestone(r.number, r.due_date, r.text) for r in rows], changes)
            made = Milestone(number, when, body)
            conn.execute(
                insert(milestones).values(
                    item_id=row.id,
                    number=number,
                    due_date=when,
                    text=body,
                    created_at=stamp,
                    status="open",
                    placeholder=False,
                    actor=by,
                    updated_at=stamp,
                )
            )
            entry, kind = format_milestone(made), "planned"
            note = "replaced the automatic milestone" if replaced else ""
        else:
            number = next_number([Milestone(r.number, r.due_date, r.text) for r in rows], changes)
            change = MilestoneChange(number, ChangeKind.NEW, when, body, by)
            _change(conn, row.id, change, stamp)
            entry, kind = format_change(change), "new"
            note = f"reported on {row.reported_at.isoformat()}: recorded as a New milestone change"
        _touch(conn, row.id, stamp)
        after = {"number": number, "date": when, "text": body, "kind": kind}
        detail: dict[str, Any] = {"milestone": [replaced or None, after], "entry": entry}
        audit.record(conn, actor, [audit.Event("milestone.add", "item", poam_id, detail, info.id)], stamp)
    return Done(poam_id, number, entry, note)


def update_milestone(
    engine: Engine,
    system: str | None,
    poam_id: str,
    number: int,
    actor: str,
    when: dt.date | None = None,
    text: str | None = None,
) -> Done:
    """Re-date milestone `number` and/or give it a new text: always an `Update` change; before the
    item is reported the planned milestone is edited in place too (and stops being the placeholder)."""
    if when is None and text is None:
        raise ValueRefused("give --date, --text or both")
    body = milestone_text(text) if text is not None else None
    by = actor[:200]
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        row = _item(conn, info, poam_id)
        rows, _changes, views = _views(conn, row.id)
        current = _find(views, number, poam_id)
        if current.status == "complete":
            raise ValueRefused(f"{poam_id} milestone ({number}) is complete; add a new one instead")
        if when is not None:
            _not_before_detection(when, row)
        new_date = when or current.date
        if new_date == current.date and (body is None or body == current.text):
            raise ValueRefused(f"{poam_id} milestone ({number}) already has that date and text; nothing to change")
        if body is not None:
            said = body
        else:
            said = f"Rescheduled from {current.date.isoformat()} to {new_date.isoformat()}."
        stamp = audit.now()
        in_place = row.reported_at is None and current.origin == "planned"
        if in_place:
            conn.execute(
                update(milestones)
                .where(milestones.c.item_id == row.id, milestones.c.number == number)
                .values(
                    due_date=new_date,
                    text=body if body is not None else current.text,
                    placeholder=False,
                    actor=by,
                    updated_at=stamp,
                )
            )
        change = MilestoneChange(number, ChangeKind.UPDATE, new_date, said, by)
        _change(conn, row.id, change, stamp)
        _touch(conn, row.id, stamp)
        detail = {
            "number": number,
            "date": [current.date, new_date],
            "text": [current.text, body if body is not None else current.text],
            "planned_edited": in_place,
            "entry": format_change(change),
        }
        audit.record(conn, actor, [audit.Event("milestone.update", "item", poam_id, detail, info.id)], stamp)
    note = "planned milestone edited too (not yet reported)" if in_place else ""
    return Done(poam_id, number, format_change(change), note)


def complete(
    engine: Engine,
    system: str | None,
    poam_id: str,
    number: int,
    actor: str,
    when: dt.date | None = None,
    text: str | None = None,
    today: dt.date | None = None,
) -> Done:
    """Complete milestone `number` on `when` (default today, UTC): a `Complete` change by `actor`,
    and a planned milestone's status and completion date. Refused twice, in the future, or before
    the item was detected."""
    today = today or dt.datetime.now(dt.UTC).date()
    when = when or today
    if when > today:
        raise ValueRefused(f"--date {when.isoformat()} is in the future")
    body = milestone_text(text) if text is not None else COMPLETED
    by = actor[:200]
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        row = _item(conn, info, poam_id)
        _not_before_detection(when, row)
        _rows, _changes, views = _views(conn, row.id)
        current = _find(views, number, poam_id)
        if current.status == "complete":
            raise ValueRefused(
                f"{poam_id} milestone ({number}) is already complete ({current.completed_on.isoformat()})"
                if current.completed_on
                else f"{poam_id} milestone ({number}) is already complete"
            )
        stamp = audit.now()
        if current.origin == "planned":
            conn.execute(
                update(milestones)
                .where(milestones.c.item_id == row.id, milestones.c.number == number)
                .values(status="complete", completed_on=when, updated_at=stamp)
            )
        change = MilestoneChange(number, ChangeKind.COMPLETE, when, body, by)
        _change(conn, row.id, change, stamp)
        _touch(conn, row.id, stamp)
        detail = {
            "number": number,
            "status": ["open", "complete"],
            "completed_on": [None, when],
            "entry": format_change(change),
        }
        audit.record(conn, actor, [audit.Event("milestone.complete", "item", poam_id, detail, info.id)], stamp)
    return Done(poam_id, number, format_change(change))


def listing(engine: Engine, system: str | None, poam_id: str) -> Listing:
    """The item's milestones as they stand and its milestone changes (a read)."""
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        row = conn.execute(select(items).where(items.c.system_id == info.id, items.c.poam_id == poam_id)).first()
        if row is None:
            raise UsageError(f"no item {poam_id!r} in system {info.name!r}")
        _rows, changes, views = _views(conn, row.id)
        return Listing(poam_id, row.status, row.reported_at, bool(row.ready), views, changes)


def missing_for_ready(conn: Connection, row: Any) -> list[str]:
    """What the item lacks to be ready for the monthly submission (empty: nothing)."""
    missing = []
    if row.status != "open":
        missing.append("it is closed")
    owned = row.team_id is not None or bool((row.point_of_contact or "").strip())
    if not owned and not row.poc_set:  # the point of contact is then its assets' owners (inventory)
        owned = (
            conn.execute(
                select(assets.c.id)
                .join(findings, findings.c.asset_id == assets.c.id)
                .where(findings.c.item_id == row.id, assets.c.owner.is_not(None), assets.c.owner != "")
                .limit(1)
            ).first()
            is not None
        )
    if not owned:
        missing.append("an owner (set --poc or --team)")
    _rows, _changes, views = _views(conn, row.id)
    if not any(v.status == "open" and v.by is not None and not v.placeholder for v in views):
        missing.append("an open milestone a person planned (`poam milestone add`; the automatic one does not count)")
    return missing


def apply_ready(conn: Connection, info: SystemInfo, row: Any, ready: bool, actor: str) -> bool:
    """Mark the item ready (or not) inside the caller's transaction, after checking it can be;
    audited as `item.ready`. Returns whether anything changed."""
    if ready:
        missing = missing_for_ready(conn, row)
        if missing:
            raise ValueRefused(f"{row.poam_id} cannot be marked ready: it needs {'; '.join(missing)}")
    if bool(row.ready) == ready:
        return False
    stamp = audit.now()
    conn.execute(update(items).where(items.c.id == row.id).values(ready=ready, updated_at=stamp))
    detail = {"ready": [bool(row.ready), ready]}
    audit.record(conn, actor, [audit.Event("item.ready", "item", row.poam_id, detail, info.id)], stamp)
    return True


def set_ready(engine: Engine, system: str | None, poam_id: str, actor: str, ready: bool) -> bool:
    """`apply_ready` in its own transaction."""
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        return apply_ready(conn, info, _item(conn, info, poam_id), ready, actor)


def record_submission(
    engine: Engine, system: str | None, actor: str, when: dt.date | None = None, today: dt.date | None = None
) -> tuple[dt.date, list[str]]:
    """Record a monthly submission on `when` (default today, UTC): every open item detected by then
    and not yet reported is reported on that date, so its planned milestones become permanent.
    One `submission.record` event per item. (`poam report monthly` will do this itself.)"""
    today = today or dt.datetime.now(dt.UTC).date()
    when = when or today
    if when > today:
        raise ValueRefused(f"--date {when.isoformat()} is in the future")
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        rows = conn.execute(
            select(items.c.id, items.c.poam_id)
            .where(
                items.c.system_id == info.id,
                items.c.status == "open",
                items.c.reported_at.is_(None),
                items.c.detection_date <= when,
            )
            .order_by(items.c.seq)
            .with_for_update()
        ).all()
        if not rows:
            return when, []
        stamp = audit.now()
        ids = [r.id for r in rows]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conn.execute(update(items).where(items.c.id.in_(chunk)).values(reported_at=when, updated_at=stamp))
        events = [
            audit.Event("submission.record", "item", r.poam_id, {"reported_at": [None, when]}, info.id) for r in rows
        ]
        audit.record(conn, actor, events, stamp)
        return when, [r.poam_id for r in rows]
