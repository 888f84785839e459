"""Deadlines and priority of items under their system's rule set, from the facts in the store.

`gather` reads what the rule sets need of many items at once (detection time, rating, CVEs, asset
exposure and criticality, KEV, SSVC, EPSS, evaluations, disposition, an approved acceptance).
`refresh` computes the deadlines of the items marked stale (`items.rules_stale`), stores them with
the nearest deadline and the flags, and records an `item.deadlines` audit event whenever a stored
deadline changes (newer KEV data, an asset's exposure, an evaluation, another rule set).
Readers compute the same way without writing (`outcomes`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from poam.domain.models import Level, YesNo
from poam.domain.policy import effective_level
from poam.domain.remediation import NO_FIX
from poam.domain.rules import UTC, Deadline, Evaluation, Facts, Flag, KevFact, Outcome, SsvcFact
from poam.domain.rules import cr26 as cr26_rules
from poam.services import audit, exposure, rulesets
from poam.store.tables import (
    assets,
    deviations,
    epss_scores,
    evaluations,
    findings,
    items,
    kev_entries,
    ssvc_decisions,
    systems,
    weaknesses,
)

CHUNK = 500
_CRIT_ORDER = {"low": 0, "moderate": 1, "high": 2}


@dataclass(frozen=True)
class ItemFacts:
    """The rule sets' facts of one item, and what the priority needs besides."""

    item_id: int
    system_id: int
    facts: Facts
    criticality: str | None
    epss: float | None
    fix_available: bool
    asset_ids: frozenset[int] = frozenset()

    def ssvc_worst(self) -> tuple[str | None, str | None, str | None]:
        """The item's SSVC decision points: the most severe over its CVEs."""
        order = {"none": 0, "poc": 1, "active": 2, "no": 0, "yes": 1, "partial": 0, "total": 1}
        best: list[str | None] = [None, None, None]
        for s in self.facts.ssvc.values():
            for i, value in enumerate((s.exploitation, s.automatable, s.technical_impact)):
                if value is not None and (best[i] is None or order.get(value, 0) > order.get(best[i] or "", 0)):
                    best[i] = value
        return best[0], best[1], best[2]


def aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def gather(conn: Connection, item_ids: Sequence[int]) -> dict[int, ItemFacts]:
    """The facts of these items, read in chunks."""
    out: dict[int, ItemFacts] = {}
    rules_of: dict[int, exposure.PublicRules] = {}
    asset_rows: dict[int, Any] = {}
    asset_exposure: dict[int, str] = {}
    for chunk in _chunks(sorted(set(item_ids))):
        rows = conn.execute(
            select(
                items.c.id,
                items.c.system_id,
                items.c.detection_date,
                items.c.original_risk,
                items.c.adjusted_risk,
                items.c.risk_adjustment,
                items.c.cves,
                items.c.disposition,
                items.c.weakness_id,
                items.c.vendor_release_date,
                items.c.origin,
                items.c.kev,
                items.c.kev_due_date,
            ).where(items.c.id.in_(chunk))
        ).all()
        first_seen: dict[int, dt.datetime] = dict(
            conn.execute(
                select(findings.c.item_id, func.min(findings.c.first_seen))
                .where(findings.c.item_id.in_(chunk))
                .group_by(findings.c.item_id)
            ).all()
        )
        asset_ids: dict[int, set[int]] = defaultdict(set)
        for item_id, asset_id in conn.execute(
            select(findings.c.item_id, findings.c.asset_id).where(findings.c.item_id.in_(chunk)).distinct()
        ):
            asset_ids[item_id].add(asset_id)
        all_assets = sorted({a for s in asset_ids.values() for a in s} - asset_rows.keys())
        for achunk in _chunks(all_assets):
            for a in conn.execute(
                select(
                    assets.c.id,
                    assets.c.system_id,
                    assets.c.exposure,
                    assets.c.public,
                    assets.c.ip,
                    assets.c.fqdn,
                    assets.c.criticality,
                ).where(assets.c.id.in_(achunk))
            ):
                asset_rows[a.id] = a
        for sid in {r.system_id for r in rows} - rules_of.keys():
            s = conn.execute(select(systems.c.public_cidrs, systems.c.public_domains).where(systems.c.id == sid)).one()
            rules_of[sid] = exposure.PublicRules.of(s.public_cidrs, s.public_domains)
        cves = sorted({c for r in rows for c in (r.cves or "").split(",") if c})
        kev: dict[str, KevFact] = {}
        ssvc: dict[str, SsvcFact] = {}
        epss: dict[str, float] = {}
        for cchunk in _chunks(cves):  # type: ignore[arg-type]
            for k in conn.execute(select(kev_entries).where(kev_entries.c.cve.in_(cchunk))):
                kev[k.cve] = KevFact(k.cve, k.date_added, k.due_date, k.forensic_triage)
            for s in conn.execute(select(ssvc_decisions).where(ssvc_decisions.c.cve.in_(cchunk))):
                ssvc[s.cve] = SsvcFact(s.exploitation, s.automatable, s.technical_impact)
            for e in conn.execute(select(epss_scores.c.cve, epss_scores.c.epss).where(epss_scores.c.cve.in_(cchunk))):
                epss[e.cve] = e.epss
        evals: dict[int, list[Evaluation]] = defaultdict(list)
        for e in conn.execute(
            select(evaluations).where(evaluations.c.item_id.in_(chunk)).order_by(evaluations.c.at, evaluations.c.id)
        ):
            evals[e.item_id].append(Evaluation(aware(e.at) or e.at, e.irv, e.lev, e.pain, e.rationale, e.evaluator))
        accepted = set(
            conn.execute(
                select(deviations.c.item_id).where(
                    deviations.c.item_id.in_(chunk), deviations.c.type == "accepted", deviations.c.status == "approved"
                )
            ).scalars()
        )
        wids = sorted({r.weakness_id for r in rows if r.weakness_id})
        solution: dict[int, str | None] = {
            w.id: w.solution
            for w in conn.execute(select(weaknesses.c.id, weaknesses.c.solution).where(weaknesses.c.id.in_(wids)))
        }
        for r in rows:
            detected = first_seen.get(r.id)
            if detected is None or detected.date() > r.detection_date:
                detected = dt.datetime.combine(r.detection_date, dt.time())
            exposures: set[str] = set()
            crits: set[str] = set()
            for aid in asset_ids.get(r.id, ()):
                asset = asset_rows.get(aid)
                if asset is None:
                    continue
                if aid not in asset_exposure:
                    rules = rules_of[asset.system_id]
                    asset_exposure[aid] = exposure.effective(asset.exposure, asset.public, rules, asset.ip, asset.fqdn)[
                        0
                    ]
                exposures.add(asset_exposure[aid])
                if asset.criticality:
                    crits.add(asset.criticality)
            item_cves = tuple(c for c in (r.cves or "").split(",") if c)
            level = effective_level(
                Level(r.original_risk),
                Level(r.adjusted_risk) if r.adjusted_risk else None,
                YesNo(r.risk_adjustment) if r.risk_adjustment in ("Yes", "No") else YesNo.NO,
            )
            text = (solution.get(r.weakness_id) or "").strip()
            facts = Facts(
                detected_at=aware(detected) or detected,
                level=level,
                cves=item_cves,
                exposure=_item_exposure(exposures),
                kev=_kev_facts(r, item_cves, kev),
                ssvc={c: ssvc[c] for c in item_cves if c in ssvc},
                evaluations=tuple(evals.get(r.id, ())),
                disposition=r.disposition,
                accepted=r.id in accepted,
                vendor_release=(
                    dt.datetime.combine(r.vendor_release_date, dt.time(), tzinfo=UTC) if r.vendor_release_date else None
                ),
            )
            out[r.id] = ItemFacts(
                r.id,
                r.system_id,
                facts,
                max(crits, key=lambda c: _CRIT_ORDER.get(c, 0)) if crits else None,
                max((epss[c] for c in item_cves if c in epss), default=None),
                text.lower().rstrip(".") not in NO_FIX,
                frozenset(asset_ids.get(r.id, ())),
            )
    return out


def _kev_facts(row: Any, item_cves: tuple[str, ...], catalog: dict[str, KevFact]) -> tuple[KevFact, ...]:
    """The item's KEV entries from the loaded catalog; for an item imported from a POA&M that
    tracks it as KEV (BOD 22-01 tracking `Yes` with a due date) and that the catalog does not
    name, the due date the POA&M gives, so the KEV deadline stands as the document kept it."""
    found = tuple(catalog[c] for c in item_cves if c in catalog)
    if found or row.origin == "scan" or not row.kev or row.kev_due_date is None:
        return found
    return (KevFact(item_cves[0] if item_cves else "not named in the POA&M", None, row.kev_due_date),)


def _item_exposure(values: set[str]) -> str:
    """Public if any asset is public; else unknown if any is (BOD 26-04 counts it as public); else
    internal. An item with no asset is unknown."""
    if "public" in values:
        return "public"
    if "unknown" in values or not values:
        return "unknown"
    return "internal"


def outcomes(conn: Connection, gathered: dict[int, ItemFacts], now: dt.datetime) -> dict[int, Outcome]:
    """Each item's deadlines and flags under its system's rule set, computed now (nothing written)."""
    sets: dict[int, rulesets.RuleSet] = {}
    out = {}
    for item_id, f in gathered.items():
        if f.system_id not in sets:
            row = conn.execute(select(systems).where(systems.c.id == f.system_id)).one()
            sets[f.system_id] = rulesets.for_system(conn, row)
        outcome = sets[f.system_id].compute(f.facts)
        extra = cr26_rules.accepted_flag(outcome, f.facts, now)
        if extra is not None:
            outcome = Outcome(outcome.deadlines, (*outcome.flags, extra))
        out[item_id] = outcome
    return out


def _stamp(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deadline_json(d: Deadline) -> dict[str, Any]:
    """A deadline as `item show --json` gives it: `kind`, `due` (UTC, or null), `rule`, `basis`, and
    the clock start, duration, force, inputs and when it was met."""
    return {
        "kind": d.kind,
        "due": _stamp(d.due),
        "rule": d.rule,
        "basis": d.basis,
        "clock_start": _stamp(d.clock_start),
        "duration": d.duration,
        "force": d.force,
        "met_at": _stamp(d.met_at),
        "inputs": dict(d.inputs),
    }


def flag_json(f: Flag) -> dict[str, str]:
    return {"kind": f.kind, "rule": f.rule, "force": f.force, "text": f.text}


def mark_stale(conn: Connection, *where: Any) -> None:
    """Mark open items for `refresh` (the ones the conditions select)."""
    conn.execute(update(items).where(items.c.status == "open", *where).values(rules_stale=True))


def refresh(conn: Connection, actor: str, reason: str, now: dt.datetime, system_id: int | None = None) -> int:
    """Recompute and store the deadlines of stale open items (of one system, or all); audit every
    change of a stored deadline. Returns how many items' deadlines changed."""
    query = select(items.c.id, items.c.system_id, items.c.poam_id, items.c.deadlines, items.c.flags).where(
        items.c.status == "open", items.c.rules_stale.is_(True)
    )
    if system_id is not None:
        query = query.where(items.c.system_id == system_id)
    stale = conn.execute(query).all()
    if not stale:
        return 0
    aware_now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    changed = 0
    events: list[audit.Event] = []
    for chunk_start in range(0, len(stale), CHUNK):
        chunk = stale[chunk_start : chunk_start + CHUNK]
        gathered = gather(conn, [r.id for r in chunk])
        results = outcomes(conn, gathered, aware_now)
        updates = []
        for r in chunk:
            outcome = results.get(r.id)
            if outcome is None:
                continue
            new = [deadline_json(d) for d in outcome.deadlines]
            new_flags = [flag_json(f) for f in outcome.flags]
            nearest = outcome.nearest()
            updates.append(
                {
                    "b_id": r.id,
                    "deadlines": json.dumps(new, sort_keys=True),
                    "flags": json.dumps(new_flags, sort_keys=True),
                    "next_due": nearest.due.astimezone(UTC).replace(tzinfo=None) if nearest and nearest.due else None,
                    "forensic_triage": outcome.forensic_triage,
                }
            )
            before = _summary(json.loads(r.deadlines or "[]"), json.loads(r.flags or "[]"))
            after = _summary(new, new_flags)
            if before and before != after:
                changed += 1
                events.append(
                    audit.Event(
                        "item.deadlines",
                        "item",
                        r.poam_id,
                        {"before": before, "after": after, "reason": reason},
                        r.system_id,
                    )
                )
        if updates:
            conn.execute(
                update(items)
                .where(items.c.id == bindparam("b_id"))
                .values(
                    deadlines=bindparam("deadlines"),
                    flags=bindparam("flags"),
                    next_due=bindparam("next_due"),
                    forensic_triage=bindparam("forensic_triage"),
                    rules_stale=False,
                ),
                updates,
            )
    if events:
        audit.record(conn, actor, events, now.replace(tzinfo=None) if now.tzinfo else now)
    return changed


def _summary(deadlines: list[dict[str, Any]], flags: list[dict[str, Any]]) -> dict[str, str]:
    """What an audit event compares: each kind's due time and rule, and the flags raised (a
    forensic triage task or a possible incident appearing is a change to record)."""
    out = {d["kind"]: f"{d['due'] or 'no date'} ({d['rule']})" for d in deadlines}
    for f in flags:
        out[f"flag:{f['kind']}:{f['rule']}"] = f["force"]
    return out
