"""Pure parts of `poam review`: will each team's open work fit before its deadlines, and how
close a system is to FedRAMP's performance triggers. Tables are data passed in."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WEEK = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Work:
    """One open item a team owns: the hours it needs and the deadline it must meet (or None)."""

    key: str
    due: dt.datetime | None
    hours: float | None  # None: not estimated


@dataclass(frozen=True, slots=True)
class Shortfall:
    key: str
    due: dt.datetime
    finish: dt.datetime
    days_late: int  # whole days past the deadline, rounded up


def capacity_plan(capacity_per_week: float, work: Sequence[Work], now: dt.datetime) -> list[Shortfall]:
    """The items a team will finish after their deadlines, working earliest deadline first at its
    weekly capacity from now (items without a deadline come last; unestimated ones take no time)."""
    if capacity_per_week <= 0:
        raise ValueError("capacity must be positive")
    far = dt.datetime.max.replace(tzinfo=now.tzinfo)
    ordered = sorted(work, key=lambda w: (w.due or far, w.key))
    spent = 0.0
    out = []
    for w in ordered:
        spent += w.hours or 0.0
        if w.due is None or not w.hours:
            continue
        finish = now + WEEK * (spent / capacity_per_week)
        if finish > w.due:
            late = math.ceil((finish - w.due) / dt.timedelta(days=1))
            out.append(Shortfall(w.key, w.due, finish, max(late, 1)))
    return out


@dataclass(frozen=True, slots=True)
class Trigger:
    name: str
    level: str  # the escalation it reaches: DFR, CAP
    ratings: frozenset[str]
    aged_over_days: int
    count: int


@dataclass(frozen=True, slots=True)
class Aged:
    """One open item as the triggers count it."""

    key: str
    rating: str
    detected: dt.date
    exempt: bool = False  # vendor-dependent and checked in within 30 days


@dataclass(frozen=True, slots=True)
class TriggerStatus:
    trigger: Trigger
    items: tuple[str, ...]

    @property
    def reached(self) -> bool:
        return len(self.items) >= self.trigger.count

    @property
    def remaining(self) -> int:
        """How many more such items reach the trigger (0 once reached)."""
        return max(self.trigger.count - len(self.items), 0)


def triggers_status(triggers: Iterable[Trigger], open_items: Sequence[Aged], today: dt.date) -> list[TriggerStatus]:
    """For each trigger, the open items that count toward it: of its ratings, not exempt, and older
    than its age (days since detection)."""
    out = []
    for t in triggers:
        counted = tuple(
            sorted(
                i.key
                for i in open_items
                if i.rating in t.ratings and not i.exempt and (today - i.detected).days > t.aged_over_days
            )
        )
        out.append(TriggerStatus(t, counted))
    return out
