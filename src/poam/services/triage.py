"""What an item is judged by and where it stands: deadlines with their rules, flags, priority.

`assess` computes, for items of one system, the rule set's deadlines and flags (as `refresh` stores
them) and the priority score factor by factor; `show` is `poam item show`, `ranked` is `poam items`
with `--sort priority` and the filters. Both are reads: nothing is written.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, select

from poam.domain import priority as prio
from poam.domain.models import PoamItem
from poam.domain.rules import UTC, Outcome
from poam.errors import UsageError
from poam.services import audit, deadlines, exposure, rulesets, systems
from poam.services.items import item_json, load
from poam.services.systems import SystemInfo
from poam.store import db
from poam.store.tables import evaluations, items, teams

SORTS = ("id", "priority", "due")


@cache
def weights() -> prio.Weights:
    """The priority weights shipped in `data/rules/priority.toml`."""
    d = tomllib.loads((rulesets.DATA / "priority.toml").read_text(encoding="utf-8"))
    return prio.Weights(
        pain={int(k): int(v) for k, v in d["pain"].items()},
        severity={str(k): int(v) for k, v in d["severity"].items()},
        kev=int(d["kev"]),
        forensic_triage=int(d["forensic_triage"]),
        exploitation={str(k): int(v) for k, v in d["exploitation"].items()},
        automatable=int(d["automatable"]),
        total_impact=int(d["total_impact"]),
        epss=int(d["epss"]),
        exposure={str(k): int(v) for k, v in d["exposure"].items()},
        criticality={str(k): int(v) for k, v in d["criticality"].items()},
        overdue=int(d["overdue"]),
        due_within={int(k): int(v) for k, v in d["due_within"].items()},
        fix_available=int(d["fix_available"]),
    )


@dataclass(frozen=True)
class Assessment:
    facts: deadlines.ItemFacts
    outcome: Outcome
    priority: prio.Priority
    late: bool

    @property
    def pain(self) -> int | None:
        ev = self.facts.facts.evaluations
        return ev[-1].pain if ev else None

    @property
    def awaiting_evaluation(self) -> bool:
        return not self.facts.facts.evaluations


def assess(conn: Connection, item_ids: list[int], now: dt.datetime) -> dict[int, Assessment]:
    gathered = deadlines.gather(conn, item_ids)
    outcomes = deadlines.outcomes(conn, gathered, now)
    closed = _closed(conn, item_ids)
    out = {}
    for item_id, f in gathered.items():
        outcome = outcomes[item_id]
        exploitation, automatable, impact = f.ssvc_worst()
        nearest = outcome.nearest()
        evals = f.facts.evaluations
        inputs = prio.Inputs(
            level=f.facts.level.value,
            pain=evals[-1].pain if evals else None,
            kev=bool(f.facts.kev),
            forensic_triage=outcome.forensic_triage or any(k.forensic_triage for k in f.facts.kev),
            exploitation=exploitation,
            automatable=automatable,
            technical_impact=impact,
            epss=f.epss,
            exposure=f.facts.exposure,
            criticality=f.criticality,
            nearest_due=nearest.due if nearest else None,
            fix_available=f.fix_available,
        )
        if item_id in closed and (closed[item_id][0] or now.date()) <= now.date():  # closed by `now`
            late = _closed_late(outcome, *closed[item_id])
        else:
            late = any(d.due is not None and d.met_at is None and now > d.due for d in outcome.deadlines)
        out[item_id] = Assessment(f, outcome, prio.score(inputs, weights(), now), late)
    return out


FIXING = ("remediation", "kev")
"""The deadlines a closed item is judged by: when it had to be fixed."""


def _closed(conn: Connection, item_ids: list[int]) -> dict[int, tuple[dt.date | None, bool]]:
    """The closed items among `item_ids`: their closing day and whether they closed as a false positive."""
    out = {}
    for chunk in deadlines._chunks(sorted(set(item_ids))):
        query = select(items.c.id, items.c.closed_at, items.c.false_positive).where(
            items.c.id.in_(chunk), items.c.status == "closed"
        )
        for r in conn.execute(query):
            out[r.id] = (r.closed_at, r.false_positive == "Yes")
    return out


def _closed_late(outcome: Outcome, closed_at: dt.date | None, false_positive: bool) -> bool:
    """A closed item was late when it closed after the day a fixing deadline fell due (a false
    positive never was: there was nothing to fix)."""
    if false_positive or closed_at is None:
        return False
    return any(
        d.due is not None and d.kind in FIXING and closed_at > d.due.astimezone(UTC).date() for d in outcome.deadlines
    )


def _ids(conn: Connection, system_id: int) -> dict[str, int]:
    return {
        r.poam_id: r.id for r in conn.execute(select(items.c.poam_id, items.c.id).where(items.c.system_id == system_id))
    }


def _stamp(value: dt.datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def assessment_json(a: Assessment) -> dict[str, Any]:
    """The rule-set part of `item show --json` and `items --json`."""
    f = a.facts.facts
    current = f.evaluations[-1] if f.evaluations else None
    return {
        "deadlines": [deadlines.deadline_json(d) for d in a.outcome.deadlines],
        "flags": [deadlines.flag_json(x) for x in a.outcome.flags],
        "late": a.late,
        "rating": f.level.value,
        "pain": current.pain if current else None,
        "irv": current.irv if current else None,
        "lev": current.lev if current else None,
        "awaiting_evaluation": a.awaiting_evaluation,
        "disposition": f.disposition,
        "exposure": f.exposure,
        "criticality": a.facts.criticality,
        "forensic_triage": a.outcome.forensic_triage or any(bool(k.forensic_triage) for k in f.kev),
        "epss": a.facts.epss,
        "ssvc": {
            cve: {"exploitation": s.exploitation, "automatable": s.automatable, "technical_impact": s.technical_impact}
            for cve, s in f.ssvc.items()
        },
        "priority": {
            "score": a.priority.score,
            "factors": [{"name": x.name, "value": x.value, "points": x.points} for x in a.priority.factors],
        },
    }


def show(engine: Engine, system: str | None, poam_id: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything about one item: its POA&M fields, deadlines with their rules, flags, evaluations
    (the PAIN history) and its priority factor by factor."""
    now = now or dt.datetime.now(UTC)
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        item_id = _ids(conn, info.id).get(poam_id)
        if item_id is None:
            raise UsageError(f"no item {poam_id!r} in system {info.name!r}")
        item = next(i for i in load(conn, info.id, "all") if i.poam_id == poam_id)
        a = assess(conn, [item_id], now)[item_id]
        rule_set = rulesets.for_system(conn, info)
        history = [
            {
                "at": _stamp(e.at.replace(tzinfo=UTC)),
                "kind": e.kind,
                "irv": e.irv,
                "lev": e.lev,
                "pain": e.pain,
                "rationale": e.rationale,
                "reason": e.reason,
                "evaluator": e.evaluator,
            }
            for e in conn.execute(
                select(evaluations).where(evaluations.c.item_id == item_id).order_by(evaluations.c.at, evaluations.c.id)
            )
        ]
        ruled = {"name": rule_set.name, "title": rule_set.title, "class": rule_set.fedramp_class}
        plan = conn.execute(
            select(teams.c.name, items.c.hours)
            .select_from(items.outerjoin(teams, teams.c.id == items.c.team_id))
            .where(items.c.id == item_id)
        ).one()
        from dataclasses import asdict

        from poam.services.planning import vendor_status

        vendor = asdict(vendor_status(conn, item_id, now.date()))
        for key in ("last_checkin", "next_checkin", "release_date"):
            vendor[key] = vendor[key].isoformat() if vendor[key] else None
        planned = {"team": plan.name, "hours": plan.hours, "vendor": vendor}
        from poam.services.deviations import show_part

        return {
            **item_json(item),
            **planned,
            "rule_set": ruled,
            **assessment_json(a),
            "evaluations": history,
            **show_part(conn, item_id),  # the deviation columns and requests
        }


@dataclass(frozen=True)
class Filters:
    late: bool = False
    kev: bool = False
    risk: str | None = None
    pain: int | None = None
    awaiting_evaluation: bool = False
    detector: str | None = None
    asset: str | None = None
    asset_ids: frozenset[int] | None = None  # the assets `asset` names, found by `ranked`

    def keep(self, item: PoamItem, a: Assessment) -> bool:
        if self.late and not a.late:
            return False
        if self.kev and not a.facts.facts.kev:
            return False
        if self.risk and a.facts.facts.level.value.lower() != self.risk.lower():
            return False
        if self.pain is not None and a.pain != self.pain:
            return False
        if self.awaiting_evaluation and not a.awaiting_evaluation:
            return False
        if self.detector and self.detector.lower() not in item.detector_source.lower():
            return False
        return self.asset_ids is None or bool(a.facts.asset_ids & self.asset_ids)


def ranked(
    engine: Engine,
    system: str | None,
    status: str = "open",
    sort: str = "id",
    filters: Filters | None = None,
    now: dt.datetime | None = None,
) -> tuple[SystemInfo, list[tuple[PoamItem, Assessment]]]:
    """The system's items with their assessment, filtered and in the order asked: `id` (POA&M id),
    `priority` (highest score first, then nearest deadline, then id) or `due` (nearest deadline first)."""
    if sort not in SORTS:
        raise UsageError(f"--sort must be one of {', '.join(SORTS)}")
    now = now or dt.datetime.now(UTC)
    filters = filters or Filters()
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        if filters.asset:
            named = exposure.find(conn, info.id, filters.asset)
            if not named:
                raise UsageError(
                    f"no asset {filters.asset.strip()!r} in system {info.name!r}; `poam asset list` shows them"
                )
            filters = replace(filters, asset_ids=frozenset(r.id for r in named))
        listed = load(conn, info.id, status)
        ids = _ids(conn, info.id)
        assessed = assess(conn, [ids[i.poam_id] for i in listed], now)
    rows = [(i, assessed[ids[i.poam_id]]) for i in listed]
    rows = [(i, a) for i, a in rows if filters.keep(i, a)]
    far = dt.datetime.max.replace(tzinfo=UTC)

    def due(a: Assessment) -> dt.datetime:
        nearest = a.outcome.nearest()
        return nearest.due if nearest and nearest.due else far

    if sort == "priority":
        rows.sort(key=lambda r: (-r[1].priority.score, due(r[1])))
    elif sort == "due":
        rows.sort(key=lambda r: due(r[1]))
    return info, rows
