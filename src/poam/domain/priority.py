"""Priority: a transparent score, the sum of points per factor, with every factor shown.

The weights are data (`Weights`, loaded from a TOML file shipped with poam), so a team can read
exactly why one item comes before another. Higher scores come first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Weights:
    pain: Mapping[int, int]  # PAIN rating (once evaluated) -> points
    severity: Mapping[str, int]  # rating (Low, Moderate, High, Critical) -> points, before evaluation
    kev: int
    forensic_triage: int
    exploitation: Mapping[str, int]  # SSVC: none, poc, active
    automatable: int
    total_impact: int
    epss: int  # points at EPSS 1.0 (scaled by the probability)
    exposure: Mapping[str, int]  # public, unknown, internal
    criticality: Mapping[str, int]  # low, moderate, high
    overdue: int
    due_within: Mapping[int, int]  # days -> points when the nearest deadline is that close
    fix_available: int


@dataclass(frozen=True, slots=True)
class Inputs:
    level: str
    pain: int | None = None
    kev: bool = False
    forensic_triage: bool = False
    exploitation: str | None = None
    automatable: str | None = None
    technical_impact: str | None = None
    epss: float | None = None
    exposure: str = "unknown"
    criticality: str | None = None
    nearest_due: dt.datetime | None = None
    fix_available: bool = False


@dataclass(frozen=True, slots=True)
class Factor:
    name: str
    value: object
    points: int


@dataclass(frozen=True, slots=True)
class Priority:
    score: int
    factors: tuple[Factor, ...] = field(default_factory=tuple)


def score(inputs: Inputs, weights: Weights, now: dt.datetime) -> Priority:
    """The score and each factor that went into it (factors worth 0 points are listed too)."""
    factors = []
    if inputs.pain is not None:
        factors.append(Factor("pain", f"N{inputs.pain}", weights.pain.get(inputs.pain, 0)))
    else:
        factors.append(Factor("rating", inputs.level, weights.severity.get(inputs.level, 0)))
    factors.append(Factor("kev", inputs.kev, weights.kev if inputs.kev else 0))
    factors.append(
        Factor("forensic_triage", inputs.forensic_triage, weights.forensic_triage if inputs.forensic_triage else 0)
    )
    factors.append(Factor("exploitation", inputs.exploitation, weights.exploitation.get(inputs.exploitation or "", 0)))
    factors.append(Factor("automatable", inputs.automatable, weights.automatable if inputs.automatable == "yes" else 0))
    factors.append(
        Factor(
            "technical_impact",
            inputs.technical_impact,
            weights.total_impact if inputs.technical_impact == "total" else 0,
        )
    )
    epss_points = round(weights.epss * inputs.epss) if inputs.epss is not None else 0
    factors.append(Factor("epss", inputs.epss, epss_points))
    factors.append(Factor("exposure", inputs.exposure, weights.exposure.get(inputs.exposure, 0)))
    factors.append(Factor("criticality", inputs.criticality, weights.criticality.get(inputs.criticality or "", 0)))
    factors.append(_time_factor(inputs.nearest_due, weights, now))
    factors.append(Factor("fix_available", inputs.fix_available, weights.fix_available if inputs.fix_available else 0))
    return Priority(sum(f.points for f in factors), tuple(factors))


def _time_factor(due: dt.datetime | None, weights: Weights, now: dt.datetime) -> Factor:
    if due is None:
        return Factor("time_to_deadline", None, 0)
    left = due - now
    if left < dt.timedelta(0):
        return Factor("time_to_deadline", f"overdue by {_span(-left)}", weights.overdue)
    for days, points in sorted(weights.due_within.items()):
        if left <= dt.timedelta(days=days):
            return Factor("time_to_deadline", f"due in {_span(left)}", points)
    return Factor("time_to_deadline", f"due in {_span(left)}", 0)


def _span(delta: dt.timedelta) -> str:
    if delta >= dt.timedelta(days=1):
        return f"{delta.days} day{'s' if delta.days != 1 else ''}"
    hours = int(delta.total_seconds() // 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"
