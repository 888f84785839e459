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

    def label(self, level: Level) -> str:
        return (self.labels or {}).get(level) or level.value


def compute(facts: Facts, table: DayTable, rule: str | None = None) -> Outcome:
    """`remediation` = detection + the table's days for the item's rating; `kev` when in the catalog."""
    days = table.days[facts.level]
    duration = Duration(days)
    label = table.label(facts.level)
    remediation = Deadline(
        kind="remediation",
        due=facts.detected_at + duration.delta,
        rule=rule or table.name,
        basis=f"{label}: {duration} from detection ({table.title})",
        clock_start=facts.detected_at,
        duration=str(duration),
        inputs={"rating": facts.level.value, "table": table.name},
    )
    kev = kev_deadlines(facts, rule or table.name, "the catalog's date caps the table's") if table.kev_due else []
    return Outcome((remediation, *kev))
