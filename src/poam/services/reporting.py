"""What happened to a system's POA&M in one month: the data of the executive summary.

Definitions (the report states them too):

- The period of a month is its first to its last day, UTC. The report stands at the end of the last
  day (23:59:59 UTC), or at the moment it is made when that is earlier (the current month).
- Open on a day: detected on or before it and not closed by its end. New: detected in the period.
  Closed: closed in the period. Open at start + new - closed = open at end.
- Rating: the item's rating as it stands now (the adjusted one once a risk adjustment is approved).
- Overdue: open when the report stands, with a rule deadline of its rule set (remediation, KEV,
  evaluation, next PAIN reduction) that has passed and is not met: what `poam items --late` lists on
  that day, from the deadlines in `services.deadlines`, not only the Scheduled Completion Date. An
  item past the CR26 acceptance point (VER-TFR-MAV) is listed as an accepted vulnerability instead.
- Late: closed in the period after a fixing deadline (remediation, KEV, next PAIN reduction;
  `review.FIX_KINDS`) had passed: remediated, but late.
- Accepted: open, and either past the CR26 acceptance point (flag `accepted`, VER-TFR-MAV) or with an
  approved deviation of type accepted or operational requirement.
- Thresholds: FedRAMP's ConMon performance triggers (`data/rules/fedramp-pmg.toml`) counted over
  the items open when the report stands, as `poam review` counts them.
- Pending deviations and vendor check-ins are as they stand when the report is made.

`month(engine, system, "2026-12")` gathers it all (a read); `month_json` is its JSON form.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from poam.domain import review as rv
from poam.domain.models import PoamItem, YesNo
from poam.domain.rules import UTC
from poam.errors import ValueRefused
from poam.services import deviations, exporting, review, triage
from poam.services.planning import CHECKIN_DAYS
from poam.services.systems import SystemInfo

RATINGS = ("Critical", "High", "Moderate", "Low")
OVERDUE_KINDS = ("remediation", "kev", "evaluation", "next_reduction")
ACCEPTING_DEVIATIONS = ("accepted", "operational-requirement")
HISTORY_MONTHS = 12
"""Months in the open-items-over-time chart (the report's month and the eleven before it)."""
_MONTH = re.compile(r"\A(\d{4})-(\d{2})\Z")


@dataclass(frozen=True, slots=True)
class Period:
    """A month's report period: first to last day, UTC."""

    month: str
    first: dt.date
    last: dt.date

    @property
    def end(self) -> dt.datetime:
        """The end of the last day, UTC."""
        return dt.datetime.combine(self.last, dt.time(23, 59, 59), tzinfo=UTC)


def period(month: str, option: str = "--month") -> Period:
    """The period of `YYYY-MM`; anything else is refused (exit status 2)."""
    found = _MONTH.match(month.strip())
    if not found or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1900:
        raise ValueRefused(f"{option}: {month!r} is not a month (YYYY-MM, like 2026-12)")
    year, number = int(found[1]), int(found[2])
    first = dt.date(year, number, 1)
    following = dt.date(year + number // 12, number % 12 + 1, 1)
    return Period(f"{year:04d}-{number:02d}", first, following - dt.timedelta(days=1))


def previous_months(p: Period, count: int) -> list[Period]:
    """The `count` months ending with `p`, oldest first."""
    out = [p]
    while len(out) < count:
        before = out[-1].first - dt.timedelta(days=1)
        out.append(period(f"{before.year:04d}-{before.month:02d}"))
    return out[::-1]


def open_on(item: PoamItem, day: dt.date) -> bool:
    """Whether the item was open at the end of `day` (by its detection and closing dates)."""
    return item.detection_date <= day and (item.closed_at is None or item.closed_at > day)


@dataclass(frozen=True, slots=True)
class Row:
    """One item in a table of the report."""

    poam_id: str
    rating: str
    weakness: str
    detected: dt.date
    closed: dt.date | None = None
    deadline: str | None = None
    due: dt.datetime | None = None
    rule: str | None = None
    days_over: int | None = None
    note: str | None = None


@dataclass
class Month:
    """The month's figures; counts by rating are dicts keyed by RATINGS."""

    system: SystemInfo
    period: Period
    as_of: dt.datetime
    open_start: int
    open_end: int
    new: dict[str, int]
    closed: dict[str, int]
    late: dict[str, int]
    overdue: dict[str, int]
    open_by_rating: dict[str, int]
    new_items: list[Row]
    closed_items: list[Row]
    late_items: list[Row]
    overdue_items: list[Row]
    accepted: list[Row]
    pending_deviations: list[dict[str, Any]]
    vendor: list[dict[str, Any]]
    thresholds: dict[str, Any]
    history_days: list[dt.date]
    history: dict[str, list[int]]
    ageing: dict[str, list[int]]
    totals: dict[str, Any] = field(default_factory=dict)


def _by_rating(rows: list[Row]) -> dict[str, int]:
    counts = dict.fromkeys(RATINGS, 0)
    for r in rows:
        counts[r.rating] = counts.get(r.rating, 0) + 1
    return counts


def month(engine: Any, system: str | None, month_text: str, now: dt.datetime | None = None) -> Month:
    """Gather the month's figures for the system (a read: nothing is written)."""
    from poam.exporters.reports import charts

    p = period(month_text)
    now = now or dt.datetime.now(UTC)
    as_of = min(p.end, now)
    day = as_of.date()
    if p.first > now.date():
        raise ValueRefused(f"--month: {p.month} has not begun")
    info, rows = triage.ranked(engine, system, "all", "id", now=as_of)
    rating = {i.poam_id: a.facts.facts.level.value for i, a in rows}

    def row(i: PoamItem, **kw: Any) -> Row:
        return Row(i.poam_id, rating[i.poam_id], i.weakness_name, i.detection_date, i.closed_at, **kw)

    open_now = [(i, a) for i, a in rows if open_on(i, day)]
    new_items = [row(i) for i, _ in rows if p.first <= i.detection_date <= day]
    closed_items = [row(i) for i, _ in rows if i.closed_at is not None and p.first <= i.closed_at <= day]

    late_items = []
    for i, a in rows:
        if i.closed_at is None or not p.first <= i.closed_at <= day or i.false_positive is YesNo.YES:
            continue  # a false positive was never a weakness to fix: never closed late
        fixes = [d for d in a.outcome.deadlines if d.kind in review.FIX_KINDS and d.due is not None]
        missed = [d for d in fixes if d.due is not None and i.closed_at > d.due.date()]
        if missed:
            first = min(missed, key=lambda d: d.due or as_of)
            assert first.due is not None
            over = (i.closed_at - first.due.date()).days
            late_items.append(row(i, deadline=first.kind, due=first.due, rule=first.rule, days_over=over))

    accepted_ids: dict[str, str] = {}
    for i, a in open_now:
        for f in a.outcome.flags:
            if f.kind == "accepted":
                accepted_ids[i.poam_id] = f"{f.rule}: {f.text}"
    open_ids = {i.poam_id for i, _ in open_now}
    for d in deviations.list_all(engine, info.name, "approved"):
        if d["type"] in ACCEPTING_DEVIATIONS and d["poam_id"] in open_ids:
            accepted_ids.setdefault(
                d["poam_id"], f"approved {deviations.LABELS.get(d['type'], d['type'])} deviation ({d['decided_at']})"
            )
    overdue_items = []
    for i, a in open_now:
        if i.poam_id in accepted_ids:
            continue  # an accepted item is listed as accepted, not as overdue
        missed = [
            d
            for d in a.outcome.deadlines
            if d.kind in OVERDUE_KINDS and d.due is not None and d.met_at is None and as_of > d.due
        ]
        if missed:
            first = min(missed, key=lambda d: d.due or as_of)
            assert first.due is not None
            over = (as_of - first.due).days
            overdue_items.append(row(i, deadline=first.kind, due=first.due, rule=first.rule, days_over=over))
    by_id = {i.poam_id: i for i, _ in rows}
    accepted = [row(by_id[k], note=v) for k, v in accepted_ids.items()]
    order = {i.poam_id: n for n, (i, _) in enumerate(rows)}
    accepted.sort(key=lambda r: order[r.poam_id])

    pending = [
        {k: d[k] for k in ("poam_id", "type", "requester", "requested_at", "rationale")}
        for d in deviations.list_all(engine, info.name, "pending")
    ]
    vendor = []
    for i, _ in open_now:
        if i.vendor_dependency.value != "Yes":
            continue
        due = i.last_vendor_checkin + dt.timedelta(days=CHECKIN_DAYS) if i.last_vendor_checkin else None
        vendor.append(
            {
                "poam_id": i.poam_id,
                "rating": rating[i.poam_id],
                "product": i.vendor_product,
                "last_checkin": i.last_vendor_checkin,
                "next_checkin": due,
                "checkin_overdue": due is None or due < day,
                "fix_released": i.vendor_release_date,
            }
        )

    source, triggers = review.performance_triggers()
    aged = [
        rv.Aged(
            i.poam_id,
            rating[i.poam_id],
            max(i.detection_date, i.vendor_release_date or i.detection_date),
            exempt=i.vendor_dependency.value == "Yes"
            and i.last_vendor_checkin is not None
            and (day - i.last_vendor_checkin).days <= CHECKIN_DAYS,
        )
        for i, _ in open_now
    ]
    thresholds = {
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
            for s in rv.triggers_status(triggers, aged, day)
        ],
    }

    months = previous_months(p, HISTORY_MONTHS)
    days = [min(m.last, day) for m in months if m.first <= day]
    history = {r: [sum(1 for i, _ in rows if rating[i.poam_id] == r and open_on(i, d)) for d in days] for r in RATINGS}
    ageing = {r: [0] * len(charts.BUCKETS) for r in RATINGS}
    for i, _ in open_now:
        ageing[rating[i.poam_id]][charts.bucket((day - i.detection_date).days)] += 1

    summary = exporting.summarize(engine, info.name, day)
    open_start = sum(1 for i, _ in rows if open_on(i, p.first - dt.timedelta(days=1)))
    return Month(
        system=info,
        period=p,
        as_of=as_of,
        open_start=open_start,
        open_end=len(open_now),
        new=_by_rating(new_items),
        closed=_by_rating(closed_items),
        late=_by_rating(late_items),
        overdue=_by_rating(overdue_items),
        open_by_rating={r: sum(1 for i, _ in open_now if rating[i.poam_id] == r) for r in RATINGS},
        new_items=new_items,
        closed_items=closed_items,
        late_items=sorted(late_items, key=lambda r: -(r.days_over or 0)),
        overdue_items=sorted(overdue_items, key=lambda r: -(r.days_over or 0)),
        accepted=accepted,
        pending_deviations=pending,
        vendor=vendor,
        thresholds=thresholds,
        history_days=days,
        history=history,
        ageing=ageing,
        totals={
            "assets": summary.assets,
            "scans": summary.scans,
            "kev_open": sum(1 for i, _ in open_now if i.kev),
            "kev_catalog": summary.kev_catalog,
            "latest_scan": summary.last_scan[0] if summary.last_scan else None,
        },
    )


def _stamp(value: dt.datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def row_json(r: Row) -> dict[str, Any]:
    out: dict[str, Any] = {
        "poam_id": r.poam_id,
        "rating": r.rating,
        "weakness": r.weakness,
        "detected": _day(r.detected),
        "closed": _day(r.closed),
    }
    if r.deadline:
        out.update({"deadline": r.deadline, "due": _stamp(r.due), "rule": r.rule, "days_over": r.days_over})
    if r.note:
        out["note"] = r.note
    return out


def month_json(m: Month) -> dict[str, Any]:
    """The month as JSON data (dates ISO 8601)."""
    return {
        "system": m.system.name,
        "rule_set": m.system.policy,
        "month": m.period.month,
        "period": {"from": m.period.first.isoformat(), "to": m.period.last.isoformat()},
        "as_of": _stamp(m.as_of),
        "open_at_start": m.open_start,
        "open_at_end": m.open_end,
        "open_by_rating": m.open_by_rating,
        "new": m.new,
        "closed": m.closed,
        "late": m.late,
        "overdue": m.overdue,
        "new_items": [row_json(r) for r in m.new_items],
        "closed_items": [row_json(r) for r in m.closed_items],
        "late_items": [row_json(r) for r in m.late_items],
        "overdue_items": [row_json(r) for r in m.overdue_items],
        "accepted": [row_json(r) for r in m.accepted],
        "pending_deviations": m.pending_deviations,
        "vendor_dependencies": [
            {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in x.items()} for x in m.vendor
        ],
        "thresholds": m.thresholds,
        "open_over_time": {
            "days": [d.isoformat() for d in m.history_days],
            **{r: m.history[r] for r in RATINGS},
        },
        "ageing": m.ageing,
        **m.totals,
    }
