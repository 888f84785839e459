"""The template's Scheduled Completion Date: detection plus a day table's days, capped by KEV.

The day tables themselves are data (`data/rules/*.toml`, loaded by `services.rulesets`); the
deadlines each rule set sets are in `domain.rules`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Protocol

from poam.domain.models import Level, YesNo


class HasDays(Protocol):
    """A day table: calendar days allowed per risk level, counted from detection."""

    @property
    def days(self) -> Mapping[Level, int]: ...


def effective_level(original: Level, adjusted: Level | None, risk_adjustment: YesNo) -> Level:
    """The level that sets the deadline: the adjusted one only once a risk adjustment is approved."""
    if risk_adjustment is YesNo.YES and adjusted is not None:
        return adjusted
    return original


def scheduled_completion(
    detected: dt.date,
    level: Level,
    table: HasDays,
    kev_due: dt.date | None = None,
) -> dt.date:
    """Detection date plus the table's days for the level, never later than a KEV due date."""
    due = detected + dt.timedelta(days=table.days[level])
    if kev_due is not None and kev_due < due:
        return kev_due
    return due


def due_date(scheduled: dt.date, kev_due: dt.date | None) -> dt.date:
    """The date an open item becomes late: its scheduled date or its KEV due date, whichever is first."""
    return min(scheduled, kev_due) if kev_due is not None else scheduled


def is_late(scheduled: dt.date, kev_due: dt.date | None, today: dt.date) -> bool:
    """Whether an open item is past its due date."""
    return today > due_date(scheduled, kev_due)
