"""CR26 evaluations (VER-EVA) and dispositions of items: `poam evaluate`.

The first evaluation of an item records IRV, LEV, the PAIN rating N1-N5, a rationale, the evaluator
and the time it was completed; LEV defaults to yes (VER-EVA-AIA: exploitation is assumed automatable
unless there is evidence otherwise). Each later call records only what changed, with a rationale; a
lower rating is a reduction (it re-arms the `next_reduction` clock), a higher one needs a reason.
A disposition (VER-RPT-VDT item 11) is recorded with its rationale; a false positive opens the same
request-and-approval record (`deviations`, type false-positive) the planning workflow uses.
Every change is audited and the item's deadlines are computed again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from poam.domain.rules import DISPOSITIONS, UTC
from poam.errors import UsageError, ValueRefused
from poam.services import audit, deadlines, systems
from poam.store.tables import deviations, evaluations, items

MAX_RATIONALE = 10_000


@dataclass(frozen=True)
class Recorded:
    poam_id: str
    kind: str  # evaluation, reduction, raise, update, disposition
    pain: int | None
    irv: bool | None
    lev: bool | None
    lev_assumed: bool = False
    disposition: str | None = None
    deviation_id: int | None = None
    deadlines_changed: int = 0


def parse_time(text: str, now: dt.datetime) -> dt.datetime:
    """An ISO 8601 date-time with `Z` or an offset, not in the future, as aware UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ValueRefused(f"--at {text!r} is not an ISO 8601 date-time (like 2026-12-08T14:30:00Z)") from None
    if value.tzinfo is None:
        raise ValueRefused(f"--at {text!r} needs a time zone: end it with Z or an offset such as +00:00")
    value = value.astimezone(UTC)
    if value > now:
        raise ValueRefused(f"--at {text!r} is in the future; an evaluation is recorded once completed")
    return value


def _rationale(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValueRefused(f"{what} needs --rationale TEXT")
    if len(text) > MAX_RATIONALE:
        raise ValueRefused(f"--rationale is longer than {MAX_RATIONALE} characters")
    return text


def evaluate(
    engine: Engine,
    system: str | None,
    poam_id: str,
    actor: str,
    *,
    irv: bool | None = None,
    lev: bool | None = None,
    pain: int | None = None,
    rationale: str | None = None,
    reason: str | None = None,
    at: str | None = None,
    disposition: str | None = None,
    now: dt.datetime | None = None,
) -> Recorded:
    """Record an evaluation, a change of it, or a disposition of one open item."""
    now_aware = (now or dt.datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if pain is not None and not 1 <= pain <= 5:
        raise ValueRefused(f"--pain must be 1 to 5 (N1-N5), not {pain}")
    if disposition is not None and disposition not in DISPOSITIONS:
        raise ValueRefused(f"--disposition must be one of {', '.join(DISPOSITIONS)}")
    if irv is None and lev is None and pain is None and disposition is None:
        raise ValueRefused("give --irv, --lev and --pain (an evaluation) or --disposition")
    when = parse_time(at, now_aware) if at else now_aware
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        row = conn.execute(select(items).where(items.c.system_id == info.id, items.c.poam_id == poam_id)).first()
        if row is None:
            raise UsageError(f"no item {poam_id!r} in system {info.name!r}")
        if row.status != "open":
            raise UsageError(f"{poam_id} is closed: only open items are evaluated")
        stamp = audit.now()
        result = Recorded(poam_id, "disposition", row.pain, row.irv, row.lev)
        if irv is not None or lev is not None or pain is not None:
            result = _record(conn, info.id, row, actor, irv, lev, pain, rationale, reason, when, stamp)
        if disposition is not None:
            result = _dispose(conn, info.id, row, actor, disposition, rationale, stamp, result)
        deadlines.mark_stale(conn, items.c.id == row.id)
        changed = deadlines.refresh(conn, actor, f"{result.kind} of {poam_id}", stamp, info.id)
        return Recorded(**{**result.__dict__, "deadlines_changed": changed})


def _record(
    conn: Connection,
    system_id: int,
    row: Any,
    actor: str,
    irv: bool | None,
    lev: bool | None,
    pain: int | None,
    rationale: str | None,
    reason: str | None,
    when: dt.datetime,
    stamp: dt.datetime,
) -> Recorded:
    r = row  # an items row
    poam_id: str = r.poam_id
    detected = deadlines.gather(conn, [r.id])[r.id].facts.detected_at  # as the deadlines count it
    if when < detected:
        raise ValueRefused(
            f"--at {when.strftime('%Y-%m-%dT%H:%M:%SZ')} is before {poam_id} was detected "
            f"({detected.strftime('%Y-%m-%dT%H:%M:%SZ')})"
        )
    last = conn.execute(
        select(evaluations)
        .where(evaluations.c.item_id == r.id)
        .order_by(evaluations.c.at.desc(), evaluations.c.id.desc())
    ).first()
    lev_assumed = False
    if last is None:
        if pain is None or irv is None:
            raise ValueRefused(f"the first evaluation of {poam_id} needs --irv yes|no and --pain 1-5 (and --rationale)")
        if lev is None:
            lev, lev_assumed = True, True  # VER-EVA-AIA: assume automatable exploitation without evidence
        text = _rationale(rationale, "an evaluation")
        kind = "evaluation"
    else:
        last_at = last.at.replace(tzinfo=UTC)
        if when < last_at:
            raise ValueRefused(
                f"--at {when.isoformat()} is before the last recorded evaluation of {poam_id} ({last_at.isoformat()})"
            )
        new = (
            last.irv if irv is None else irv,
            last.lev if lev is None else lev,
            last.pain if pain is None else pain,
        )
        if new == (last.irv, last.lev, last.pain):
            raise UsageError(f"{poam_id} is already evaluated that way (IRV, LEV and PAIN unchanged)")
        irv, lev, pain = new
        if pain > last.pain and not (reason or "").strip():
            raise ValueRefused(f"raising {poam_id} from N{last.pain} to N{pain} needs --reason TEXT")
        kind = "reduction" if pain < last.pain else "raise" if pain > last.pain else "update"
        text = _rationale(rationale, f"a {kind}" if kind != "update" else "a change of IRV or LEV")
    conn.execute(
        insert(evaluations).values(
            item_id=r.id,
            at=when.replace(tzinfo=None),
            kind=kind,
            irv=irv,
            lev=lev,
            pain=pain,
            rationale=text,
            reason=(reason or "").strip() or None,
            evaluator=actor[:200],
            recorded_at=stamp,
        )
    )
    values: dict[str, object] = {"irv": irv, "lev": lev, "pain": pain, "updated_at": stamp}
    if last is None:
        values["evaluated_at"] = when.replace(tzinfo=None)
    conn.execute(update(items).where(items.c.id == r.id).values(**values))
    detail: dict[str, object] = {
        "kind": kind,
        "at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "irv": [None if last is None else last.irv, irv],
        "lev": [None if last is None else last.lev, lev],
        "pain": [None if last is None else last.pain, pain],
        "rationale": text,
    }
    if lev_assumed:
        detail["lev_assumed"] = "VER-EVA-AIA"
    if reason:
        detail["reason"] = reason.strip()
    audit.record(conn, actor, [audit.Event("item.evaluate", "item", poam_id, detail, system_id)], stamp)
    return Recorded(poam_id, kind, pain, irv, lev, lev_assumed)


def _dispose(
    conn: Connection,
    system_id: int,
    row: Any,
    actor: str,
    disposition: str,
    rationale: str | None,
    stamp: dt.datetime,
    result: Recorded,
) -> Recorded:
    r = row
    poam_id: str = r.poam_id
    text = _rationale(rationale, f"disposition {disposition}")
    if disposition == "false-positive":
        pending = conn.execute(
            select(deviations.c.id).where(
                deviations.c.item_id == r.id,
                deviations.c.type == "false-positive",
                deviations.c.status == "pending",
            )
        ).first()
        if pending is not None:
            raise UsageError(f"{poam_id} already has a pending false-positive request (#{pending.id})")
        dev_id = conn.execute(
            insert(deviations).values(
                item_id=r.id,
                type="false-positive",
                status="pending",
                rationale=text,
                requester=actor[:200],
                requested_at=stamp,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        from poam.services.deviations import sync

        sync(conn, r.id)  # the template's False Positive column: Pending
        audit.record(
            conn,
            actor,
            [
                audit.Event(
                    "deviation.request",
                    "item",
                    poam_id,
                    {"deviation": dev_id, "type": "false-positive", "rationale": text, "via": "evaluate"},
                    system_id,
                )
            ],
            stamp,
        )
        return Recorded(
            poam_id, "disposition", result.pain, result.irv, result.lev, result.lev_assumed, disposition, dev_id
        )
    old = r.disposition
    conn.execute(
        update(items)
        .where(items.c.id == r.id)
        .values(disposition=disposition, disposition_rationale=text, updated_at=stamp)
    )
    audit.record(
        conn,
        actor,
        [
            audit.Event(
                "item.disposition",
                "item",
                poam_id,
                {"disposition": [old, disposition], "rationale": text},
                system_id,
            )
        ],
        stamp,
    )
    return Recorded(poam_id, "disposition", result.pain, result.irv, result.lev, result.lev_assumed, disposition)
