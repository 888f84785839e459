"""Planning an item's fix: teams and their capacity, and the fields a person sets on an item
(point of contact, team, resources, staff hours, remediation plan, comments, services, controls).

Every change is one audited `item.set` (or `team.add`) event with before and after. An item's point
of contact is the one a person set; until then it is its assets' owners (from the inventory), else
the system's default.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, select, update

from poam.domain.models import PoamItem
from poam.errors import UsageError, ValueRefused
from poam.services import audit, systems
from poam.store import db
from poam.store.tables import items, teams, vendor_checkins

MAX_TEXT = 10_000
MAX_HOURS = 100_000.0
MAX_COST = 1_000_000_000.0


@dataclass(frozen=True)
class Team:
    name: str
    capacity_hours: float
    open_items: int = 0
    hours_assigned: float = 0.0


def _text(value: str, option: str, limit: int = MAX_TEXT) -> str:
    text = value.strip()
    if len(text) > limit:
        raise ValueRefused(f"{option} is longer than {limit} characters")
    if "\x00" in text:
        raise ValueRefused(f"{option} holds a NUL character")
    return text


def _hours(value: float, option: str) -> float:
    if not math.isfinite(value) or value < 0 or value > MAX_HOURS:
        raise ValueRefused(f"{option} must be a number of hours from 0 to {MAX_HOURS:,.0f}, not {value}")
    return round(value, 2)


def add_team(engine: Engine, system: str | None, name: str, capacity: float, actor: str) -> Team:
    """A team that fixes weaknesses, with the staff hours per week it can give them."""
    name = _text(name, "team name", 200)
    if not name:
        raise ValueRefused("a team needs a name")
    if not math.isfinite(capacity) or not 0 < capacity <= 10_000:
        raise ValueRefused(f"--capacity must be hours per week from more than 0 to 10,000, not {capacity}")
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        if conn.execute(select(teams.c.id).where(teams.c.system_id == info.id, teams.c.name == name)).first():
            raise UsageError(f"team {name!r} already exists in system {info.name!r}")
        team_id = conn.execute(
            insert(teams).values(system_id=info.id, name=name, capacity_hours=capacity, created_at=audit.now())
        ).inserted_primary_key[0]  # type: ignore[index]
        detail = {"name": name, "capacity_hours": capacity}
        audit.record(conn, actor, [audit.Event("team.add", "team", str(team_id), detail, info.id)])
    return Team(name, capacity)


def list_teams(engine: Engine, system: str | None) -> list[Team]:
    """The system's teams with their open items and the staff hours those need."""
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        load = {
            r.team_id: (r.n, r.hours or 0.0)
            for r in conn.execute(
                select(items.c.team_id, func.count().label("n"), func.sum(items.c.hours).label("hours"))
                .where(items.c.system_id == info.id, items.c.status == "open", items.c.team_id.is_not(None))
                .group_by(items.c.team_id)
            )
        }
        rows = conn.execute(select(teams).where(teams.c.system_id == info.id).order_by(teams.c.name)).all()
        return [Team(r.name, r.capacity_hours, *load.get(r.id, (0, 0.0))) for r in rows]


def set_fields(
    engine: Engine,
    system: str | None,
    poam_id: str,
    actor: str,
    *,
    poc: str | None = None,
    team: str | None = None,
    resources: str | None = None,
    hours: float | None = None,
    plan: str | None = None,
    comment: str | None = None,
    services: list[str] | None = None,
    controls: list[str] | None = None,
    ready: bool | None = None,
    cost: float | None = None,
    technology: str | None = None,
) -> PoamItem:
    """Set fields of one item (None leaves a field as it is; an empty text clears it, and an empty
    --poc goes back to the assets' owners). One audited event lists what changed; `ready` (marked
    ready for the monthly submission, after the fields) is its own `item.ready` event."""
    from poam.services import milestones
    from poam.services.items import controls_value, load

    values: dict[str, object] = {}
    if poc is not None:
        text = _text(poc, "--poc", 500)
        values.update(point_of_contact=text or None, poc_set=bool(text))
    if resources is not None:
        values["resources_required"] = _text(resources, "--resources") or None
    if hours is not None:
        values["hours"] = _hours(hours, "--hours")
    if cost is not None:
        if not math.isfinite(cost) or not 0 <= cost <= MAX_COST:
            raise ValueRefused(f"--cost must be an amount from 0 to {MAX_COST:,.0f}, not {cost}")
        values["cost"] = round(cost, 2)
    if technology is not None:
        values["technology"] = _text(technology, "--technology", 500) or None
    if plan is not None:
        values["remediation_plan"] = _text(plan, "--plan") or None
    if comment is not None:
        values["comments"] = _text(comment, "--comment") or None
    if services is not None:
        names = [_text(s, "--service", 200) for s in services]
        values["service_names"] = "\n".join(n for n in names if n) or None
    if controls is not None:
        values["controls"] = controls_value(controls)
    if not values and team is None and ready is None:
        raise ValueRefused("give at least one field to set (see `poam item set --help`)")
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        row = conn.execute(select(items).where(items.c.system_id == info.id, items.c.poam_id == poam_id)).first()
        if row is None:
            raise UsageError(f"no item {poam_id!r} in system {info.name!r}")
        if team is not None:
            if team.strip():
                team_id = conn.execute(
                    select(teams.c.id).where(teams.c.system_id == info.id, teams.c.name == team.strip())
                ).scalar_one_or_none()
                if team_id is None:
                    raise UsageError(f"no team {team.strip()!r} in system {info.name!r}; add it with `poam team add`")
                values["team_id"] = team_id
            else:
                values["team_id"] = None
        changes = {k: [getattr(row, k), v] for k, v in values.items() if getattr(row, k) != v}
        if changes:
            conn.execute(update(items).where(items.c.id == row.id).values(**values, updated_at=audit.now()))
            audit.record(conn, actor, [audit.Event("item.set", "item", poam_id, changes, info.id)])
        if ready is not None:
            row = conn.execute(select(items).where(items.c.id == row.id)).one()
            milestones.apply_ready(conn, info, row, ready, actor)
        return next(i for i in load(conn, info.id, "all") if i.poam_id == poam_id)


CHECKIN_DAYS = 30
"""FedRAMP's template: a vendor-dependent item is checked with the vendor at least every 30 days."""


@dataclass(frozen=True)
class VendorStatus:
    dependency: bool
    product: str | None
    last_checkin: dt.date | None
    next_checkin: dt.date | None  # None once the vendor has released the fix
    overdue: bool
    checkins: list[dict[str, str | None]]
    release_date: dt.date | None = None  # the vendor's fix release date


def vendor_checkin(
    engine: Engine,
    system: str | None,
    poam_id: str,
    actor: str,
    when: dt.date,
    note: str | None = None,
    product: str | None = None,
    today: dt.date | None = None,
) -> VendorStatus:
    """Record a check-in with the vendor: the item becomes vendor-dependent (with the product if
    given) and its last check-in date moves to this one if later. Audited."""
    today = today or dt.datetime.now(dt.UTC).date()
    if when > today:
        raise ValueRefused(f"--date {when.isoformat()} is in the future")
    note_text = _text(note or "", "--note") or None
    product_text = _text(product or "", "--product", 500) or None
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        row = conn.execute(select(items).where(items.c.system_id == info.id, items.c.poam_id == poam_id)).first()
        if row is None:
            raise UsageError(f"no item {poam_id!r} in system {info.name!r}")
        if when < row.detection_date:
            raise ValueRefused(f"--date {when.isoformat()} is before {poam_id} was detected ({row.detection_date})")
        stamp = audit.now()
        conn.execute(
            insert(vendor_checkins).values(
                item_id=row.id,
                checkin_date=when,
                note=note_text,
                product=product_text,
                actor=actor[:200],
                recorded_at=stamp,
            )
        )
        last = max(filter(None, (row.last_vendor_checkin, when)))
        values: dict[str, object] = {"vendor_dependency": "Yes", "last_vendor_checkin": last, "updated_at": stamp}
        if product_text:
            values["vendor_product"] = product_text
        conn.execute(update(items).where(items.c.id == row.id).values(**values))
        detail = {
            "date": when.isoformat(),
            "note": note_text,
            "product": [row.vendor_product, product_text or row.vendor_product],
            "vendor_dependency": [row.vendor_dependency, "Yes"],
        }
        audit.record(conn, actor, [audit.Event("item.vendor_checkin", "item", poam_id, detail, info.id)], stamp)
        return vendor_status(conn, row.id, today)


def vendor_status(conn: Connection, item_id: int, today: dt.date) -> VendorStatus:
    """Whether the item depends on a vendor, its check-ins, and whether the next one is overdue."""
    row = conn.execute(
        select(
            items.c.vendor_dependency,
            items.c.vendor_product,
            items.c.last_vendor_checkin,
            items.c.status,
            items.c.vendor_release_date,
        ).where(items.c.id == item_id)
    ).one()
    dependency = row.vendor_dependency == "Yes"
    next_checkin = row.last_vendor_checkin + dt.timedelta(days=CHECKIN_DAYS) if row.last_vendor_checkin else None
    if row.vendor_release_date is not None:
        next_checkin = None  # the fix is out: no more check-ins, the remediation clock runs
    checkins = [
        {"date": c.checkin_date.isoformat(), "note": c.note, "product": c.product, "by": c.actor}
        for c in conn.execute(
            select(vendor_checkins).where(vendor_checkins.c.item_id == item_id).order_by(vendor_checkins.c.checkin_date)
        )
    ]
    overdue = dependency and row.status == "open" and next_checkin is not None and today > next_checkin
    return VendorStatus(
        dependency,
        row.vendor_product,
        row.last_vendor_checkin,
        next_checkin,
        overdue,
        checkins,
        row.vendor_release_date,
    )


def reschedule(conn: Connection, item_id: int) -> tuple[dt.date, dt.date]:
    """Recompute the template's Scheduled Completion Date (column L) of an item as the template's own
    formula does: detection plus the rule set's template days for the rating, the adjusted one once
    an AO-approved risk adjustment is recorded ("only AO-approved risk adjustments may alter the
    scheduled completion date"), from the vendor's fix release date where the table restarts the
    clock there ("the CSP may overwrite the auto-calculated date"), never after a KEV due date.
    Returns (before, after); the caller audits a change."""
    from poam.domain.models import Level, YesNo
    from poam.domain.policy import effective_level, scheduled_completion
    from poam.services import rulesets
    from poam.store.tables import systems as systems_table

    r = conn.execute(select(items).where(items.c.id == item_id)).one()
    table = rulesets.for_system(
        conn, conn.execute(select(systems_table).where(systems_table.c.id == r.system_id)).one()
    )
    level = effective_level(
        Level(r.original_risk),
        Level(r.adjusted_risk) if r.adjusted_risk else None,
        YesNo(r.risk_adjustment) if r.risk_adjustment in ("Yes", "No") else YesNo.NO,
    )
    start = r.detection_date
    if table.template.vendor_release_restarts and r.vendor_release_date and r.vendor_release_date > start:
        start = r.vendor_release_date
    after = scheduled_completion(start, level, table.template, r.kev_due_date)
    if after != r.scheduled_completion_date:
        conn.execute(update(items).where(items.c.id == item_id).values(scheduled_completion_date=after))
    return r.scheduled_completion_date, after
