"""`poam review`: what needs attention in a system now.

Late items and those due within 7 and 30 days (by the system's rule set), items awaiting a CR26
evaluation, accepted-vulnerability and forensic-triage flags, overdue milestones, stale status
dates, vendor check-ins due, pending deviation requests, items without an owner, each team's
capacity against the hours its items need before their deadlines, and FedRAMP's performance
triggers for late remediation with how close the system is to each. A read: nothing is written.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections import defaultdict
from functools import cache
from typing import Any

from sqlalchemy import Engine, select

from poam.domain import review as rv
from poam.domain.rules import UTC
from poam.services import rulesets, triage
from poam.services.planning import CHECKIN_DAYS
from poam.store import db
from poam.store.tables import deviations, items, milestones, teams

STALE_DAYS = 30
"""A status date older than this is stale: FedRAMP asks for the POA&M to be updated monthly (CMSG)."""
SOON = (7, 30)


@cache
def performance_triggers() -> tuple[str, tuple[rv.Trigger, ...]]:
    """FedRAMP's late-remediation triggers, from `data/rules/fedramp-pmg.toml`."""
    data = tomllib.loads((rulesets.DATA / "fedramp-pmg.toml").read_text(encoding="utf-8"))
    found = tuple(
        rv.Trigger(t["name"], t["level"], frozenset(t["ratings"]), int(t["aged_over_days"]), int(t["count"]))
        for t in data["trigger"]
    )
    return str(data["source"]), found


def _stamp(value: dt.datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


FIX_KINDS = ("remediation", "kev", "next_reduction")
"""The deadlines a team's fixing work must meet (an evaluation or an acceptance is not fixing work)."""


def _fix_due(a: triage.Assessment) -> dt.datetime | None:
    dues = [d.due for d in a.outcome.deadlines if d.kind in FIX_KINDS and d.due is not None and d.met_at is None]
    return min(dues, default=None)


def review(engine: Engine, system: str | None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything `poam review` shows, as plain data (the `--json` form)."""
    now = now or dt.datetime.now(UTC)
    today = now.date()
    info, rows = triage.ranked(engine, system, "open", "due", now=now)
    by_id = {i.poam_id: (i, a) for i, a in rows}
    out: dict[str, Any] = {"system": info.name, "rule_set": info.policy, "as_of": _stamp(now)}

    late: list[dict[str, Any]] = []
    soon: dict[int, list[dict[str, Any]]] = {d: [] for d in SOON}
    for item, a in rows:
        missed = [d for d in a.outcome.deadlines if d.due is not None and d.met_at is None and now > d.due]
        nearest = a.outcome.nearest()
        base = {"poam_id": item.poam_id, "weakness": item.weakness_name, "rating": a.facts.facts.level.value}
        if missed:
            first = min(missed, key=lambda d: d.due or now)
            days = (now - first.due).days if first.due else 0
            late.append(
                {**base, "deadline": first.kind, "due": _stamp(first.due), "rule": first.rule, "days_late": days}
            )
        elif nearest is not None and nearest.due is not None:
            left = nearest.due - now
            for limit in SOON:
                if left <= dt.timedelta(days=limit):
                    soon[limit].append(
                        {**base, "deadline": nearest.kind, "due": _stamp(nearest.due), "rule": nearest.rule}
                    )
                    break
    late.sort(key=lambda x: -int(x["days_late"] or 0))
    out["late"] = late
    out["due_7_days"] = soon[7]
    out["due_30_days"] = soon[30]
    out["awaiting_evaluation"] = (
        [i.poam_id for i, a in rows if a.awaiting_evaluation] if info.policy == "fedramp-cr26" else []
    )
    out["accepted_flags"] = [
        {"poam_id": i.poam_id, "rule": f.rule, "text": f.text}
        for i, a in rows
        for f in a.outcome.flags
        if f.kind == "accepted"
    ]
    out["forensic_triage"] = [
        {"poam_id": i.poam_id, "cves": [k.cve for k in a.facts.facts.kev if k.forensic_triage] or list(i.cves)}
        for i, a in rows
        if a.outcome.forensic_triage or any(k.forensic_triage for k in a.facts.facts.kev)
    ]
    out["stale_status"] = [
        {"poam_id": i.poam_id, "status_date": i.status_date.isoformat(), "days": (today - i.status_date).days}
        for i, _ in rows
        if (today - i.status_date).days > STALE_DAYS
    ]

    with db.read(engine) as conn:
        open_rows = conn.execute(
            select(
                items.c.id,
                items.c.poam_id,
                items.c.team_id,
                items.c.hours,
                items.c.point_of_contact,
                items.c.vendor_release_date,
            ).where(items.c.system_id == info.id, items.c.status == "open")
        ).all()
        poam_of = {r.id: r.poam_id for r in open_rows}
        out["overdue_milestones"] = [
            {
                "poam_id": poam_of[m.item_id],
                "number": m.number,
                "date": m.due_date.isoformat(),
                "text": m.text,
                "days_overdue": (today - m.due_date).days,
                "placeholder": bool(m.placeholder),
            }
            for m in conn.execute(
                select(milestones)
                .where(
                    milestones.c.item_id.in_(list(poam_of) or [-1]),
                    milestones.c.status == "open",
                    milestones.c.due_date < today,
                )
                .order_by(milestones.c.due_date, milestones.c.item_id, milestones.c.number)
            )
        ]
        released = {r.poam_id for r in open_rows if r.vendor_release_date}
        pending = conn.execute(
            select(deviations, items.c.poam_id)
            .join(items, items.c.id == deviations.c.item_id)
            .where(items.c.system_id == info.id, deviations.c.status == "pending")
            .order_by(deviations.c.requested_at)
        ).all()
        team_rows = conn.execute(select(teams).where(teams.c.system_id == info.id).order_by(teams.c.name)).all()

    checkins = []
    for item, _ in rows:
        if item.vendor_dependency.value != "Yes" or item.poam_id in released:
            continue
        due = item.last_vendor_checkin + dt.timedelta(days=CHECKIN_DAYS) if item.last_vendor_checkin else None
        if due is None or due <= today + dt.timedelta(days=7):
            checkins.append(
                {
                    "poam_id": item.poam_id,
                    "product": item.vendor_product,
                    "last_checkin": item.last_vendor_checkin.isoformat() if item.last_vendor_checkin else None,
                    "next_checkin": due.isoformat() if due else None,
                    "overdue": due is None or due < today,
                }
            )
    out["vendor_checkins_due"] = checkins
    out["pending_deviations"] = [
        {
            "poam_id": d.poam_id,
            "type": d.type,
            "requester": d.requester,
            "requested_at": _stamp(d.requested_at.replace(tzinfo=UTC)),
            "days_pending": (now - d.requested_at.replace(tzinfo=UTC)).days,
        }
        for d in pending
    ]
    out["no_owner"] = [r.poam_id for r in open_rows if not r.team_id and not (r.point_of_contact or "").strip()]
    out["no_owner"].sort(key=lambda p: p)

    work: dict[int, list[rv.Work]] = defaultdict(list)
    for r in open_rows:
        if r.team_id is None:
            continue
        work[r.team_id].append(
            rv.Work(r.poam_id, _fix_due(by_id[r.poam_id][1]) if r.poam_id in by_id else None, r.hours)
        )
    capacity = []
    for t in team_rows:
        mine = work.get(t.id, [])
        shortfalls = rv.capacity_plan(t.capacity_hours, mine, now)
        capacity.append(
            {
                "team": t.name,
                "capacity_hours_per_week": t.capacity_hours,
                "open_items": len(mine),
                "hours_needed": round(sum(w.hours or 0.0 for w in mine), 2),
                "unestimated": sorted(w.key for w in mine if w.hours is None),
                "shortfalls": [
                    {"poam_id": s.key, "due": _stamp(s.due), "finish": _stamp(s.finish), "days_late": s.days_late}
                    for s in shortfalls
                ],
            }
        )
    out["capacity"] = capacity

    source, triggers = performance_triggers()
    aged = [
        rv.Aged(
            i.poam_id,
            a.facts.facts.level.value,
            max(i.detection_date, i.vendor_release_date or i.detection_date),  # the clock restarts at a fix release
            exempt=i.vendor_dependency.value == "Yes"
            and i.last_vendor_checkin is not None
            and (today - i.last_vendor_checkin).days <= CHECKIN_DAYS,
        )
        for i, a in rows
    ]
    out["performance"] = {
        "source": source,
        "triggers": [
            {
                "trigger": s.trigger.name,
                "level": s.trigger.level,
                "aged_over_days": s.trigger.aged_over_days,
                "threshold": s.trigger.count,
                "count": len(s.items),
                "remaining": s.remaining,
                "reached": s.reached,
                "items": list(s.items),
            }
            for s in rv.triggers_status(triggers, aged, today)
        ],
    }
    return out
