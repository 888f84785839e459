"""The vendor's fix release date of a vendor-dependent item.

FedRAMP's POA&M template (column P, Completion Guide): once the vendor releases the fix, the
remediation timeframe restarts from the release date, which is written in Comments (column Z).
Rule sets say whether they restart the clock (`vendor_release_restarts` in a day table; the
shipped `fedramp-rev5` table does, the others do not).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select, update

from poam.errors import UsageError, ValueRefused
from poam.services import audit, deadlines, planning, systems
from poam.store.tables import items


def vendor_release(
    engine: Engine,
    system: str | None,
    poam_id: str,
    actor: str,
    when: dt.date,
    note: str | None = None,
    today: dt.date | None = None,
) -> planning.VendorStatus:
    """Record the day the vendor released the fix of a vendor-dependent item; recompute its
    deadlines (audited) where the rule set restarts the clock there."""
    today = today or dt.datetime.now(dt.UTC).date()
    if when > today:
        raise ValueRefused(f"--date {when.isoformat()} is in the future")
    note_text = planning._text(note or "", "--note") or None
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        row = conn.execute(select(items).where(items.c.system_id == info.id, items.c.poam_id == poam_id)).first()
        if row is None:
            raise UsageError(f"no item {poam_id!r} in system {info.name!r}")
        if row.status != "open":
            raise UsageError(f"{poam_id} is closed")
        if row.vendor_dependency != "Yes":
            raise ValueRefused(f"{poam_id} is not vendor-dependent: record a check-in first (`poam vendor checkin`)")
        if when < row.detection_date:
            raise ValueRefused(f"--date {when.isoformat()} is before {poam_id} was detected ({row.detection_date})")
        stamp = audit.now()
        conn.execute(update(items).where(items.c.id == row.id).values(vendor_release_date=when, updated_at=stamp))
        scheduled = planning.reschedule(conn, row.id)  # the template restarts the date where it says so
        detail: dict[str, object] = {
            "vendor_release_date": [
                row.vendor_release_date.isoformat() if row.vendor_release_date else None,
                when.isoformat(),
            ],
            "note": note_text,
        }
        if scheduled[0] != scheduled[1]:
            detail["scheduled_completion_date"] = [scheduled[0].isoformat(), scheduled[1].isoformat()]
        audit.record(conn, actor, [audit.Event("item.vendor_release", "item", poam_id, detail, info.id)], stamp)
        deadlines.mark_stale(conn, items.c.id == row.id)
        deadlines.refresh(conn, actor, f"vendor fix release of {poam_id}", stamp, info.id)
        return planning.vendor_status(conn, row.id, today)
