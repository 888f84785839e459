"""Day tables: calendar days per risk level from detection (`fedramp-rev5`, `cms`, `dod`, custom).

The FedRAMP POA&M template rule (30/90/180 days, still the default for a new system), CMS's
15/30/90/365, DoD's CAT I/II/III and any table a user writes in TOML are all this one function
over a different table. A KEV item also gets its CISA due date as a separate `kev` deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from poam.domain.models import Level
from poam.domain.rules import Deadline, Duration, Facts, Outcome, kev_deadlines


@dataclass(frozen=True, slots=True)
class DayTable:
    name: str
    title: str
    source: str
    days: Mapping[Level, int]
    labels: Mapping[Level, str] | None = None  # how the table names each level (DoD: CAT I, II, III)
    kev_due: bool = True  # whether the KEV catalog's due date applies as well
    vendor_release_restarts: bool = False  # the clock restarts at the vendor's fix release date

    def label(self, level: Level) -> str:
        return (self.labels or {}).get(level) or level.value


def compute(facts: Facts, table: DayTable, rule: str | None = None) -> Outcome:
    """`remediation` = detection + the table's days for the item's rating (from the vendor's fix
    release date instead, when the table says the clock restarts there); `kev` when in the catalog."""
    days = table.days[facts.level]
    duration = Duration(days)
    label = table.label(facts.level)
    start, since = facts.detected_at, "detection"
    inputs: dict[str, object] = {"rating": facts.level.value, "table": table.name}
    if table.vendor_release_restarts and facts.vendor_release is not None and facts.vendor_release > start:
        start, since = facts.vendor_release, "the vendor's fix release"
        inputs["vendor_release"] = facts.vendor_release.date().isoformat()
    remediation = Deadline(
        kind="remediation",
        due=start + duration.delta,
        rule=rule or table.name,
        basis=f"{label}: {duration} from {since} ({table.title})",
        clock_start=start,
        duration=str(duration),
        inputs=inputs,
    )
    kev = kev_deadlines(facts, rule or table.name, "the catalog's date caps the table's") if table.kev_due else []
    return Outcome((remediation, *kev))
