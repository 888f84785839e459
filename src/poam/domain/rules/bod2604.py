"""`bod-26-04`: CISA BOD 26-04 "Prioritizing Security Updates Based on Risk" (2026-06-10), Table 1.

Each CVE of an item is looked up in the table by public exposure (an asset nobody classified counts
as public), presence in KEV, SSVC Automatable and Technical Impact. The clock starts at the earlier
of the KEV addition and detection ("whichever event occurs first"), so a later KEV addition can only
shorten it. A CVE with neither SSVC Automatable nor Technical Impact that is not in KEV gets 60 days
(CISA's FAQ: no CVE metadata); a decision point that is missing otherwise is taken at its worse value
(automatable, total), poam's protective reading in the spirit of "unknown exposure counts as public";
forensic triage reached only through such an assumption is not asked when the KEV record says no.
"Fix on system upgrade" is a `remediation` deadline with no date. The item's deadline is its CVEs'
earliest; forensic triage is due when the row or the KEV record asks for it. Findings without a CVE
are outside the directive and follow the system's fallback table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from poam.domain.rules import Deadline, Duration, Facts, Flag, KevFact, Outcome, SsvcFact, start_of_day
from poam.domain.rules import days as day_rules

RULE = "BOD 26-04"


@dataclass(frozen=True, slots=True)
class Row:
    number: int
    public: bool
    kev: bool
    automatable: bool
    total: bool
    days: int | None  # None: fix on system upgrade
    forensic_triage: bool


@dataclass(frozen=True, slots=True)
class BodTable:
    rows: Sequence[Row]
    missing_metadata_days: int  # not in KEV and no CVE metadata (FAQ)
    source: str

    def row(self, public: bool, kev: bool, automatable: bool, total: bool) -> Row:
        for r in self.rows:
            if (r.public, r.kev, r.automatable, r.total) == (public, kev, automatable, total):
                return r
        raise KeyError(f"BOD 26-04 table has no row for {public=}, {kev=}, {automatable=}, {total=}")


def _yes(value: str | None, worst: bool) -> bool:
    return worst if value is None else value == "yes"


def _total(value: str | None, worst: bool) -> bool:
    return worst if value is None else value == "total"


def _cve_deadline(cve: str, facts: Facts, table: BodTable, kev: KevFact | None) -> tuple[Deadline, bool]:
    public = facts.exposure in ("public", "unknown")
    ssvc = facts.ssvc.get(cve) or SsvcFact()
    start = facts.detected_at
    if kev is not None and kev.date_added is not None:
        start = min(start, start_of_day(kev.date_added))
    clock = "KEV addition" if start != facts.detected_at else "detection"
    inputs: dict[str, object] = {
        "cve": cve,
        "exposure": facts.exposure,
        "public": public,
        "kev": kev is not None,
        "automatable": ssvc.automatable,
        "technical_impact": ssvc.technical_impact,
        "clock": clock,
    }
    if kev is None and ssvc.automatable is None and ssvc.technical_impact is None:
        duration = Duration(table.missing_metadata_days)
        return (
            Deadline(
                kind="remediation",
                due=start + duration.delta,
                rule=f"{RULE} (no CVE metadata, not in KEV)",
                basis=f"{cve}: no SSVC Automatable or Technical Impact and not in KEV: {duration} from {clock}",
                clock_start=start,
                duration=str(duration),
                inputs=inputs,
                force="MUST",
            ),
            False,
        )
    row = table.row(public, kev is not None, _yes(ssvc.automatable, True), _total(ssvc.technical_impact, True))
    assumed = ssvc.automatable is None or ssvc.technical_impact is None
    # forensic triage: the row asks for it, unless the row was reached by an assumed value and the KEV
    # record itself says no; or the KEV record asks for it
    forensic = (row.forensic_triage and not (assumed and kev is not None and kev.forensic_triage is False)) or bool(
        kev and kev.forensic_triage
    )
    inputs["row"] = row.number
    words = (
        f"{cve}: {'publicly exposed' if public else 'not public'}"
        f"{' (exposure unknown counts as public)' if facts.exposure == 'unknown' else ''}, "
        f"{'in KEV' if kev else 'not in KEV'}, automatable {'yes' if row.automatable else 'no'}"
        f"{' (assumed: not given)' if ssvc.automatable is None else ''}, technical impact "
        f"{'total' if row.total else 'partial'}{' (assumed: not given)' if ssvc.technical_impact is None else ''}"
    )
    span = Duration(row.days) if row.days is not None else None
    if span is None:
        timeline = "fix on system upgrade (no date)"
    else:
        timeline = f"{span}{' & forensic triage' if row.forensic_triage else ''} from {clock}"
    return (
        Deadline(
            kind="remediation",
            due=start + span.delta if span else None,
            rule=f"{RULE} Table 1 row {row.number}",
            basis=f"{words}: {timeline}",
            clock_start=start,
            duration=str(span) if span else None,
            inputs=inputs,
            force="MUST",
        ),
        forensic,
    )


def compute(facts: Facts, table: BodTable, fallback: day_rules.DayTable) -> Outcome:
    """The item's BOD 26-04 deadline (its CVEs' earliest), or the fallback table's without a CVE."""
    if not facts.cves:
        out = day_rules.compute(facts, fallback, rule=f"{fallback.name} (fallback: no CVE, outside {RULE})")
        return out
    kev = {k.cve: k for k in facts.kev}
    results = [_cve_deadline(cve, facts, table, kev.get(cve)) for cve in facts.cves]
    dated = [d for d, _ in results if d.due is not None]
    chosen = min(dated, key=lambda d: (d.due, d.rule)) if dated else results[0][0]
    flags = []
    triage = [d.inputs["cve"] for d, f in results if f]
    if triage:
        flags.append(
            Flag(
                "forensic_triage",
                RULE,
                "MUST",
                f"forensic triage of the affected assets ({', '.join(map(str, triage))}): assess whether compromised",
            )
        )
    return Outcome((chosen,), tuple(flags))
