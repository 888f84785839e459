"""`fedramp-cr26`: the FedRAMP Consolidated Rules 2026 VDR/VER model for Rev5 (from 2026-12-07).

- `evaluation`: evaluate within the class's window from detection (VER-TFR-EVU: B 7, C 5, D 2 days).
- `next_reduction`: reach a lower PAIN rating within the `pain_timeframes` cell for the class, the
  current rating and IRV/LEV (VDR-TFR-PVR). The clock starts at the evaluation that set the current
  rating (the first evaluation, or the latest recorded reduction or raise): poam's reading of "within
  the timeframes from evaluation", since each reduction is itself a completed evaluation
  (VER-RPT-VDT item 7). A change of IRV or LEV alone picks another column but keeps the clock.
- `accepted`: 192 days from the first evaluation (VER-TFR-MAV), never re-armed; past it, an item not
  fully mitigated or remediated is flagged as an accepted vulnerability needing a rationale.
- `kev`: the CISA KEV due date, even when fully mitigated (VDR-TFR-KEV).
- Flags: IRV+LEV above N3 (VER-TFR-IRI) and NIRV+LEV at N5 (VER-TFR-NRI) as a possible FedRAMP
  Reportable Incident, with the class's force (MAY is information, SHOULD is a flag).

The tables come from the official rules JSON (`Cr26Tables`), never from constants here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from poam.domain.rules import Deadline, Duration, Evaluation, Facts, Flag, Outcome, kev_deadlines

CLASSES = ("b", "c", "d")
COLUMNS = ("irv_lev", "nirv_lev", "nlev")
COLUMN_TITLES = {"irv_lev": "IRV+LEV", "nirv_lev": "NIRV+LEV", "nlev": "NLEV"}
DONE = ("fully-mitigated", "remediated", "false-positive")
"""Dispositions that end the reduction and acceptance clocks (a fully mitigated item keeps its KEV date)."""


@dataclass(frozen=True, slots=True)
class Cr26Tables:
    """The VDR/VER timeframes of one rules dataset."""

    version: str
    evaluation: Mapping[str, Duration]  # class -> VER-TFR-EVU window
    pain: Mapping[str, Mapping[int, Mapping[str, Duration]]]  # class -> rating -> column -> timeframe
    accepted: Duration  # VER-TFR-MAV
    incident_force: Mapping[str, str]  # class -> VER-TFR-IRI force
    nirv_incident_force: Mapping[str, str]  # class -> VER-TFR-NRI force
    evaluation_force: Mapping[str, str]
    pain_force: Mapping[str, str]


def column(irv: bool, lev: bool) -> str:
    """The `pain_timeframes` column: IRV+LEV, NIRV+LEV, or NLEV whatever the reachability."""
    if not lev:
        return "nlev"
    return "irv_lev" if irv else "nirv_lev"


def rating_set_at(evaluations: tuple[Evaluation, ...]) -> Evaluation:
    """The evaluation that set the current PAIN rating: the latest one whose rating differs from
    the one before it (the first evaluation when the rating never changed)."""
    setter = evaluations[0]
    for before, after in zip(evaluations, evaluations[1:], strict=False):
        if after.pain != before.pain:
            setter = after
    return setter


def compute(facts: Facts, tables: Cr26Tables, cls: str) -> Outcome:
    """The deadlines and flags of one item under the tables for class `cls` (b, c or d)."""
    if cls not in tables.evaluation:
        raise ValueError(f"class {cls!r} is not in the rules (choose b, c or d)")
    deadlines: list[Deadline] = []
    flags: list[Flag] = []
    window = tables.evaluation[cls]
    first = facts.evaluations[0] if facts.evaluations else None
    deadlines.append(
        Deadline(
            kind="evaluation",
            due=facts.detected_at + window.delta,
            rule="VER-TFR-EVU",
            basis=f"Class {cls.upper()}: evaluate within {window} of detection",
            clock_start=facts.detected_at,
            duration=str(window),
            inputs={"class": cls, "rules_version": tables.version},
            force=tables.evaluation_force.get(cls),
            met_at=first.at if first else None,
        )
    )
    if first is not None:
        current = facts.evaluations[-1]
        done = facts.disposition in DONE
        if current.pain >= 2 and not done:
            setter = rating_set_at(facts.evaluations)
            col = column(current.irv, current.lev)
            timeframe = tables.pain[cls][current.pain][col]
            reduced = setter is not first
            deadlines.append(
                Deadline(
                    kind="next_reduction",
                    due=setter.at + timeframe.delta,
                    rule="VDR-TFR-PVR",
                    basis=(
                        f"Class {cls.upper()}, N{current.pain} {COLUMN_TITLES[col]}: "
                        f"reach N{current.pain - 1} or lower within {timeframe} of the "
                        f"{'change' if reduced else 'evaluation'} that set N{current.pain}"
                    ),
                    clock_start=setter.at,
                    duration=str(timeframe),
                    inputs={
                        "class": cls,
                        "pain": current.pain,
                        "irv": current.irv,
                        "lev": current.lev,
                        "column": col,
                        "target": current.pain - 1,
                        "rules_version": tables.version,
                    },
                    force=tables.pain_force.get(cls),
                )
            )
        if facts.disposition not in DONE:
            due = first.at + tables.accepted.delta
            deadlines.append(
                Deadline(
                    kind="accepted",
                    due=due,
                    rule="VER-TFR-MAV",
                    basis=(
                        f"not fully mitigated or remediated within {tables.accepted} of the first evaluation: "
                        "an accepted vulnerability (never re-armed)"
                    ),
                    clock_start=first.at,
                    duration=str(tables.accepted),
                    inputs={
                        "first_evaluation": first.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "rules_version": tables.version,
                    },
                    force="MUST",
                )
            )
        if facts.disposition not in DONE:  # fully mitigated or remediated: no longer a possible incident
            flags.extend(_incident_flags(current, tables, cls))
    if facts.disposition not in ("remediated", "false-positive"):
        deadlines.extend(kev_deadlines(facts, "VDR-TFR-KEV", "applies even when fully mitigated", "SHOULD"))
    return Outcome(tuple(deadlines), tuple(flags))


def accepted_flag(outcome: Outcome, facts: Facts, now: dt.datetime) -> Flag | None:
    """VER-TFR-MAV: past 192 days from evaluation and not fully mitigated or remediated, the item is an
    accepted vulnerability; poam flags it and requires a rationale, never accepting it silently."""
    for d in outcome.deadlines:
        if d.kind == "accepted" and d.due is not None and now > d.due:
            if facts.accepted:
                return Flag("accepted", "VER-TFR-MAV", "MUST", "accepted vulnerability (rationale recorded)")
            return Flag(
                "accepted",
                "VER-TFR-MAV",
                "MUST",
                f"accepted vulnerability since {d.due.strftime('%Y-%m-%dT%H:%M:%SZ')}: record an acceptance rationale",
            )
    return None


def _incident_flags(current: Evaluation, tables: Cr26Tables, cls: str) -> list[Flag]:
    flags = []
    if current.irv and current.lev and current.pain > 3:
        force = tables.incident_force.get(cls, "MAY")
        flags.append(
            Flag(
                "incident",
                "VER-TFR-IRI",
                force,
                f"IRV+LEV at N{current.pain}: {'treat' if force != 'MAY' else 'may be treated'} as a possible "
                "FedRAMP Reportable Incident until partially mitigated to N3 or below",
            )
        )
    if not current.irv and current.lev and current.pain == 5:
        force = tables.nirv_incident_force.get(cls, "MAY")
        flags.append(
            Flag(
                "incident",
                "VER-TFR-NRI",
                force,
                f"NIRV+LEV at N5: {'treat' if force != 'MAY' else 'may be treated'} as a possible "
                "FedRAMP Reportable Incident until partially mitigated to N4 or below",
            )
        )
    return flags
