"""Rule sets: pure functions from an item's facts and a table passed in to its deadlines.

Every rule set (`fedramp-cr26`, `bod-26-04`, day tables such as `fedramp-rev5`, `cms`, `dod` and
custom ones) answers the same question: given what is known of one open item, which deadlines
apply, by which rule, counted from when. Tables are data (the official FedRAMP rules JSON, TOML
files shipped with poam or written by a user); nothing here reads a file or a database.

All times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from poam.domain.models import Level

UTC = dt.UTC
KINDS = ("evaluation", "next_reduction", "accepted", "kev", "remediation")
EXPOSURES = ("public", "internal", "unknown")
DISPOSITIONS = ("false-positive", "fully-mitigated", "partially-mitigated", "remediated")


@dataclass(frozen=True, slots=True)
class Duration:
    """A table's timeframe: an amount of days or hours (CR26 writes Class D N5 IRV+LEV as 12 hours)."""

    amount: int
    unit: str = "days"  # days or hours

    @property
    def delta(self) -> dt.timedelta:
        return dt.timedelta(hours=self.amount) if self.unit == "hours" else dt.timedelta(days=self.amount)

    def __str__(self) -> str:
        unit = self.unit if self.amount != 1 else self.unit.rstrip("s")
        return f"{self.amount} {unit}"


@dataclass(frozen=True, slots=True)
class Deadline:
    """One deadline with the rule that sets it: `due` is exactly `clock_start` plus the duration,
    or None when the rule sets no date (BOD 26-04 "fix on system upgrade")."""

    kind: str
    due: dt.datetime | None
    rule: str
    basis: str
    clock_start: dt.datetime | None = None
    duration: str | None = None
    inputs: Mapping[str, object] = field(default_factory=dict)
    force: str | None = None  # MUST, SHOULD, MAY as the rule says; None for agency day tables
    met_at: dt.datetime | None = None  # when it was met (the evaluation deadline, once evaluated)

    def missed(self, now: dt.datetime) -> bool:
        """Whether the deadline has passed without being met."""
        if self.due is None:
            return False
        if self.met_at is not None:
            return self.met_at > self.due
        return now > self.due


@dataclass(frozen=True, slots=True)
class Flag:
    """Something a rule asks a person to do or know: a possible reportable incident, an accepted
    vulnerability that needs a rationale, a forensic triage task."""

    kind: str  # incident, accepted, forensic_triage
    rule: str
    force: str
    text: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One recorded CR26 evaluation or change of it (PAIN reductions are the later ones)."""

    at: dt.datetime
    irv: bool
    lev: bool
    pain: int
    rationale: str = ""
    evaluator: str = ""


@dataclass(frozen=True, slots=True)
class KevFact:
    cve: str
    date_added: dt.date | None
    due_date: dt.date
    forensic_triage: bool | None = None


@dataclass(frozen=True, slots=True)
class SsvcFact:
    """CISA's SSVC decision points for one CVE (CISA Vulnrichment), each None when not given."""

    exploitation: str | None = None  # none, poc, active
    automatable: str | None = None  # yes, no
    technical_impact: str | None = None  # partial, total


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rule sets need to know of one item."""

    detected_at: dt.datetime
    level: Level  # the effective rating (an approved risk adjustment's, else the original)
    cves: tuple[str, ...] = ()
    exposure: str = "unknown"  # the item's: public if any asset is public, unknown if any is unknown
    kev: tuple[KevFact, ...] = ()
    ssvc: Mapping[str, SsvcFact] = field(default_factory=dict)
    evaluations: tuple[Evaluation, ...] = ()  # in time order
    disposition: str | None = None
    accepted: bool = False  # an approved acceptance (with its rationale) is recorded
    vendor_release: dt.datetime | None = None  # when the vendor released the fix of a vendor-dependent item


@dataclass(frozen=True, slots=True)
class Outcome:
    deadlines: tuple[Deadline, ...]
    flags: tuple[Flag, ...] = ()

    @property
    def forensic_triage(self) -> bool:
        return any(f.kind == "forensic_triage" for f in self.flags)

    def nearest(self) -> Deadline | None:
        """The earliest dated deadline not yet met."""
        open_ = [d for d in self.deadlines if d.due is not None and d.met_at is None]
        return min(open_, key=lambda d: d.due or dt.datetime.max.replace(tzinfo=UTC), default=None)


def kev_end_of_day(day: dt.date) -> dt.datetime:
    """A KEV due date as a time: the end of that day in UTC (the catalog gives a calendar date)."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=UTC)


def start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=UTC)


def kev_deadlines(facts: Facts, rule: str, basis: str, force: str | None = None) -> list[Deadline]:
    """One `kev` deadline: the earliest CISA due date of the item's CVEs in the catalog."""
    if not facts.kev:
        return []
    entry = min(facts.kev, key=lambda k: (k.due_date, k.cve))
    return [
        Deadline(
            kind="kev",
            due=kev_end_of_day(entry.due_date),
            rule=rule,
            basis=f"{entry.cve}: CISA KEV due date {entry.due_date.isoformat()} ({basis})",
            clock_start=start_of_day(entry.date_added) if entry.date_added else None,
            inputs={"cve": entry.cve, "kev_due_date": entry.due_date.isoformat()},
            force=force,
        )
    ]
