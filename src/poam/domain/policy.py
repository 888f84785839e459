"""Remediation policies: how many days each risk level has, and the scheduled completion date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from poam.domain.models import Level, YesNo


@dataclass(frozen=True, slots=True)
class Policy:
    """A named remediation policy: calendar days allowed per risk level, counted from detection."""

    name: str
    title: str
    days: Mapping[Level, int]
    source: str


FEDRAMP_REV5 = Policy(
    name="fedramp-rev5",
    title="FedRAMP Rev5: High/Critical 30, Moderate 90, Low 180 days",
    days={Level.CRITICAL: 30, Level.HIGH: 30, Level.MODERATE: 90, Level.LOW: 180},
    source="FedRAMP POA&M Template Completion Guide v2.2; Rev5 playbook (poam.md)",
)

CMS = Policy(
    name="cms",
    title="CMS/HHS: Critical 15, High 30, Moderate 90, Low 365 days",
    days={Level.CRITICAL: 15, Level.HIGH: 30, Level.MODERATE: 90, Level.LOW: 365},
    source="CMS CISO Memo 20-01 (HHS POA&M standard)",
)

POLICIES: dict[str, Policy] = {p.name: p for p in (FEDRAMP_REV5, CMS)}


def get_policy(name: str) -> Policy:
    """The policy of that name; KeyError names the choices."""
    try:
        return POLICIES[name]
    except KeyError:
        raise KeyError(f"unknown policy {name!r}; choose one of: {', '.join(sorted(POLICIES))}") from None


def effective_level(original: Level, adjusted: Level | None, risk_adjustment: YesNo) -> Level:
    """The level that sets the deadline: the adjusted one only once a risk adjustment is approved."""
    if risk_adjustment is YesNo.YES and adjusted is not None:
        return adjusted
    return original


def scheduled_completion(
    detected: dt.date,
    level: Level,
    policy: Policy = FEDRAMP_REV5,
    kev_due: dt.date | None = None,
) -> dt.date:
    """Detection date plus the policy's days for the level, never later than a KEV due date."""
    due = detected + dt.timedelta(days=policy.days[level])
    if kev_due is not None and kev_due < due:
        return kev_due
    return due


def due_date(scheduled: dt.date, kev_due: dt.date | None) -> dt.date:
    """The date an open item becomes late: its scheduled date or its KEV due date, whichever is first."""
    return min(scheduled, kev_due) if kev_due is not None else scheduled


def is_late(scheduled: dt.date, kev_due: dt.date | None, today: dt.date) -> bool:
    """Whether an open item is past its due date."""
    return today > due_date(scheduled, kev_due)
