"""FedRAMP VER report records from the database, and the exports that write them.

A record is one item (one vulnerability; its POA&M id is the provider's tracking id) with what
VER-RPT-VDT asks for: detection time and source, evaluation time, IRV, LEV, current PAIN rating,
completed reductions, the next reduction (estimated at the earliest open milestone, else at the
VDR-TFR-PVR deadline, with the next lower rating as target), whether it is overdue (a deadline of
the system's rule set passed unmet, named in the explanation: VER-TFR-EVU, VDR-TFR-PVR, VER-TFR-MAV,
the KEV due date), supplementary risk information and the final disposition.

Which items a report holds (VER-RPT-PER: "summarizing ALL activity since the previous report"):
every item with activity in the period, read as every item that was open at some time during it
(detected on or before its end and not closed before its start). That covers detection,
evaluation, reductions, deviations decided and closing in the period, since all of those happen to
open items. Accepted vulnerabilities (an approved `accepted` deviation) go to the AVI report, the
others to the VDR. Records show each item as it stood at the end of the period (or now, if that is
earlier): the evaluations made by then, open or closed then, its deadlines judged then; an approved
acceptance and a recorded disposition are taken as they stand when the report is written; deviation
requests made after the records' time are left out, those made before show their status now.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from poam.domain.rules import UTC, Deadline
from poam.errors import PoamError, UsageError, ValueRefused
from poam.exporters import fedramp_schemas, fedramp_ver
from poam.exporters.fedramp_ver import Reduction, VerRecord
from poam.services import audit, deadlines, exporting, systems
from poam.services.systems import SystemInfo
from poam.store.tables import deviations, evaluations, items, milestones, weaknesses

PAIN_TEXT = {
    1: "Exploitation could be expected to have minimal customer effects on one or more agencies that use the "
    "cloud service offering.",
    2: "Exploitation could be expected to have narrow customer effects on one or more agencies that use the "
    "cloud service offering.",
    3: "Exploitation could be expected to have a disruptive customer effect on one agency that uses the cloud "
    "service offering.",
    4: "Exploitation could be expected to have a debilitating customer effect on one agency that uses the cloud "
    "service offering OR a disruptive customer effect on more than one federal agency that uses the cloud "
    "service offering.",
    5: "Exploitation could be expected to have a debilitating customer effect on more than one agency that uses "
    "the cloud service offering.",
}
"""VER-EVA-EPA, quoted from FedRAMP's rules (providers/rev5/rules/vulnerability-evaluation-and-reporting)."""
DEADLINE_NAMES = {
    "evaluation": "evaluation",
    "next_reduction": "next PAIN reduction",
    "accepted": "192-day limit for full mitigation",
    "kev": "CISA KEV due date",
}
MAX_DESCRIPTION = 1000
KINDS = ("vdr", "avi", "ver-history")
TITLES = {
    "vdr": "Vulnerability Detail Report",
    "avi": "Accepted Vulnerability Info",
    "ver-history": "Historical VER Activity",
}


@dataclass(frozen=True)
class Period:
    """A report period: `start` at 00:00:00Z of the first day, `end` at 23:59:59Z of the last."""

    start: dt.datetime
    end: dt.datetime


def period(start: dt.date, end: dt.date) -> Period:
    if end < start:
        raise ValueRefused(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    return Period(
        dt.datetime.combine(start, dt.time(), tzinfo=UTC), dt.datetime.combine(end, dt.time(23, 59, 59), tzinfo=UTC)
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _describe(name: str, description: str | None) -> str:
    """The weakness's name and the start of its description, on one line; never the scanner's
    output for a host (VER-RPT-NID)."""
    name = " ".join((name or "").split()) or "Unnamed weakness"
    text = " ".join((description or "").split())
    if not text or text == name:
        return name
    if len(text) > MAX_DESCRIPTION:
        text = text[: MAX_DESCRIPTION - 3].rstrip() + "..."
    return f"{name}: {text}"


def _missed(d: Deadline, as_of: dt.datetime) -> bool:
    return d.due is not None and d.met_at is None and d.due < as_of


def _explain(d: Deadline) -> str:
    name = DEADLINE_NAMES.get(d.kind, d.kind.replace("_", " "))
    return f"{name} missed: due {_day(d.due)} ({d.rule}: {d.basis})"


def _supplementary(row: Any, facts: deadlines.ItemFacts, flags: list[dict[str, str]]) -> str | None:
    f = facts.facts
    parts = []
    for k in f.kev:
        text = f"CISA KEV: {k.cve}, due {k.due_date.isoformat()}"
        if k.forensic_triage:
            text += ", forensic triage required (BOD 26-04)"
        parts.append(text)
    if f.cves:
        parts.append("CVEs: " + ", ".join(f.cves))
    worst = facts.ssvc_worst()
    if any(worst):
        parts.append(
            f"CISA SSVC: exploitation {worst[0] or 'unknown'}, automatable {worst[1] or 'unknown'}, "
            f"technical impact {worst[2] or 'unknown'}"
        )
    if facts.epss is not None:
        parts.append(f"EPSS {facts.epss:.3f}")
    parts.append(f"exposure of the affected resources: {f.exposure}")
    rating = row.original_risk
    if row.cvss3_score is not None:
        rating += f" (CVSS v3 {row.cvss3_score:g})"
    parts.append(f"original risk rating {rating}")
    parts.extend(x["text"] for x in flags if x["kind"] == "incident")
    if row.vendor_dependency == "Yes":
        parts.append(f"vendor dependency: {row.vendor_product or 'vendor fix awaited'}")
    return "; ".join(parts) or None


def _final(row: Any, status: str, approved_fp: bool) -> str | None:
    """poam's final disposition, or None while active: a closed item is a false positive, or
    remediated when a scan no longer found it (or nothing else was recorded); an open one is final
    once fully mitigated or remediated (the CR26 clocks stop there)."""
    if status == "closed":
        if row.disposition == "false-positive" or approved_fp:
            return "false-positive"
        if row.closed_scan_id is not None or not row.disposition:
            return "remediated"
        return str(row.disposition)
    if row.disposition in ("fully-mitigated", "remediated"):
        return str(row.disposition)
    return None


def _next_reduction(
    plan: list[Any], by_kind: dict[str, Deadline], pain: int, as_of: dt.datetime, accepted: bool
) -> tuple[tuple[dt.datetime, int] | None, str, list[str]]:
    """The estimated time and target of the next reduction (VER-RPT-VDT item 8), what it rests on,
    and why the item is likely to become overdue (item 9): a plan later than a deadline."""
    ahead = [m for m in plan if m.status == "open" and m.due_date >= as_of.date()]
    rule_due = by_kind.get("next_reduction")
    if not ahead:
        if rule_due is not None and rule_due.due is not None and rule_due.due >= as_of:
            return (rule_due.due, pain - 1), f"{rule_due.rule} deadline", []
        return None, "none planned: no open milestone ahead and the VDR-TFR-PVR deadline has passed", []
    m = min(ahead, key=lambda m: (m.due_date, m.number))
    when = dt.datetime.combine(m.due_date, dt.time(23, 59, 59), tzinfo=UTC)
    likely = []
    limits = [by_kind.get("next_reduction")] + ([] if accepted else [by_kind.get("accepted")])
    for d in limits:
        if d is not None and d.due is not None and as_of <= d.due < when:
            likely.append(
                f"likely to become overdue: milestone {m.number} is planned for {m.due_date.isoformat()}, after the "
                f"{DEADLINE_NAMES[d.kind]} deadline {_day(d.due)} ({d.rule})"
            )
    return (when, pain - 1), f"milestone {m.number} (due {m.due_date.isoformat()})", likely


def _deviations(conn: Connection, ids: list[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for chunk in range(0, len(ids), deadlines.CHUNK):
        part = ids[chunk : chunk + deadlines.CHUNK]
        for d in conn.execute(
            select(deviations).where(deviations.c.item_id.in_(part)).order_by(deviations.c.requested_at)
        ):
            out[d.item_id].append(d)
    return out


def _by_item(conn: Connection, table: Any, ids: list[int], order: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for chunk in range(0, len(ids), deadlines.CHUNK):
        part = ids[chunk : chunk + deadlines.CHUNK]
        for r in conn.execute(select(table).where(table.c.item_id.in_(part)).order_by(*order)):
            out[r.item_id].append(r)
    return out


def records(
    conn: Connection, info: SystemInfo, as_of: dt.datetime, within: Period | None = None, open_only: bool = False
) -> list[VerRecord]:
    """The records of the system's items: those open at some time in `within` (all when None),
    or only the open ones; deadlines judged at `as_of`."""
    query = (
        select(items, weaknesses.c.cvss3_score)
        .outerjoin(weaknesses, weaknesses.c.id == items.c.weakness_id)
        .where(items.c.system_id == info.id)
        .order_by(items.c.seq)
    )
    if open_only:
        query = query.where(items.c.status == "open")
    if within is not None:
        query = query.where(items.c.detection_date <= within.end.date())
        query = query.where((items.c.closed_at.is_(None)) | (items.c.closed_at >= within.start.date()))
    rows = conn.execute(query).all()
    ids = [r.id for r in rows]
    gathered = deadlines.gather(conn, ids)
    if within is not None:  # detection times finer than the day (a scan's first sighting)
        rows = [r for r in rows if gathered[r.id].facts.detected_at <= within.end]
        ids = [r.id for r in rows]
    for i in ids:  # the evaluations made by `as_of`
        f = gathered[i]
        kept = tuple(e for e in f.facts.evaluations if e.at <= as_of)
        if len(kept) != len(f.facts.evaluations):
            gathered[i] = replace(f, facts=replace(f.facts, evaluations=kept))
    results = deadlines.outcomes(conn, {i: gathered[i] for i in ids}, as_of)
    history = _by_item(conn, evaluations, ids, (evaluations.c.at, evaluations.c.id))
    for i in ids:
        history[i] = [e for e in history[i] if _aware(e.at) <= as_of]
    plans = _by_item(conn, milestones, ids, (milestones.c.number,))
    devs = _deviations(conn, ids)
    ruled = {"name": info.policy, "class": info.fedramp_class if info.policy == "fedramp-cr26" else None}
    return [
        _record(r, gathered[r.id], results[r.id], history[r.id], plans[r.id], devs[r.id], as_of, ruled) for r in rows
    ]


def _record(
    r: Any,
    facts: deadlines.ItemFacts,
    outcome: Any,
    history: list[Any],
    plan: list[Any],
    devs: list[Any],
    as_of: dt.datetime,
    ruled: dict[str, Any],
) -> VerRecord:
    accepted = next((d for d in devs if d.type == "accepted" and d.status == "approved"), None)
    approved_fp = any(d.type == "false-positive" and d.status == "approved" for d in devs)
    status = "closed" if r.status == "closed" and r.closed_at is not None and r.closed_at <= as_of.date() else "open"
    final = _final(r, status, approved_fp)
    current = history[-1] if history else None
    pain = current.pain if current else None
    by_kind = {d.kind: d for d in outcome.deadlines}
    flags = [deadlines.flag_json(x) for x in outcome.flags]
    # next reduction: the earliest open milestone still ahead, else the VDR-TFR-PVR deadline if ahead
    next_reduction: tuple[dt.datetime, int] | None = None
    basis = None
    likely: list[str] = []
    if status == "open" and final is None and pain is not None and pain >= 2:
        next_reduction, basis, likely = _next_reduction(plan, by_kind, pain, as_of, accepted is not None)
    # overdue: a deadline passed unmet while the item is open
    missed = []
    if status == "open":
        missed = [d for d in outcome.deadlines if _missed(d, as_of) and not (accepted and d.kind == "accepted")]
    reasons = [_explain(d) for d in missed]
    if missed:
        if r.vendor_dependency == "Yes":
            reasons.append(f"waiting on the vendor ({r.vendor_product or 'fix not yet released'})")
        for d in devs:
            if d.status == "pending" and _aware(d.requested_at) <= as_of:
                reasons.append(f"a {d.type} deviation request is pending since {_day(_aware(d.requested_at))}")
    else:
        reasons.extend(likely)
    reductions = tuple(Reduction(_aware(e.at), e.pain) for e in history if e.kind == "reduction")
    extension: dict[str, Any] = {
        "status": status,
        "closedAt": r.closed_at.isoformat() if status == "closed" and r.closed_at else None,
        "origin": r.origin,
        "ruleSet": ruled,
        "deadlines": [deadlines.deadline_json(d) for d in outcome.deadlines],
        "missedDeadlines": [d.rule for d in missed],
        "flags": flags,
        "painHistory": [
            {
                "at": _day(_aware(e.at)),
                "kind": e.kind,
                "irv": e.irv,
                "lev": e.lev,
                "pain": e.pain,
                "rationale": e.rationale,
                "reason": e.reason,
                "evaluator": e.evaluator,
            }
            for e in history
        ],
        "reductions": [{"reducedAt": _day(x.at), "rating": x.rating} for x in reductions],
        "nextReductionBasis": basis,
        "kev": [
            {
                "cve": k.cve,
                "dateAdded": k.date_added.isoformat() if k.date_added else None,
                "dueDate": k.due_date.isoformat(),
                "forensicTriage": k.forensic_triage,
            }
            for k in facts.facts.kev
        ],
        "cves": list(facts.facts.cves),
        "sourceIdentifier": r.vuln_id,
        "originalRiskRating": r.original_risk,
        "adjustedRiskRating": r.adjusted_risk,
        "disposition": r.disposition,
        "dispositionRationale": r.disposition_rationale,
        "affectedResources": _affected(r, len(facts.asset_ids)),
        "milestones": [
            {"number": m.number, "due": m.due_date.isoformat(), "status": m.status, "text": m.text} for m in plan
        ],
        "deviations": [
            {"type": d.type, "status": d.status, "requestedAt": _day(_aware(d.requested_at))}
            for d in devs
            if _aware(d.requested_at) <= as_of
        ],
    }
    acceptance: dict[str, Any] = {}
    if accepted is not None:
        acceptance = {
            "requester": accepted.requester,
            "requestedAt": _day(_aware(accepted.requested_at)),
            "approver": accepted.approver,
            "decidedAt": _day(_aware(accepted.decided_at)) if accepted.decided_at else None,
            "note": accepted.decision_note,
        }
    return VerRecord(
        poam_id=r.poam_id,
        detected_at=facts.facts.detected_at,
        detection_source=" ".join((r.detector_source or "").split()) or "unknown",
        description=_describe(r.weakness_name, r.weakness_description),
        potential_impact=f"N{pain}: {PAIN_TEXT[pain]}" if pain else None,
        evaluated_at=_aware(r.evaluated_at) if r.evaluated_at and _aware(r.evaluated_at) <= as_of else None,
        irv=current.irv if current else None,
        lev=current.lev if current else None,
        pain=pain,
        next_reduction=next_reduction,
        overdue=bool(missed),
        overdue_explanation="; ".join(reasons) or None,
        supplementary=_supplementary(r, facts, flags),
        disposition=final,
        reductions=reductions,
        accepted=accepted is not None,
        acceptance_rationale=accepted.rationale if accepted is not None else None,
        acceptance=acceptance,
        status=status,
        closed_at=r.closed_at if status == "closed" else None,
        extension=extension,
    )


@dataclass(frozen=True)
class Written:
    """What a VER export wrote."""

    path: Path
    kind: str
    system: str
    records: int
    accepted: int
    schema_version: str
    warnings: tuple[str, ...]

    @property
    def items(self) -> int:
        return self.records

    @property
    def detail(self) -> dict[str, int]:
        return {"records": self.records, "accepted": self.accepted}


def _affected(row: Any, scanned: int) -> int:
    """How many resources the item affects: the assets scans found it on; for an item imported from
    a POA&M, at least the lines of its Asset Identifier cell (a line may name a scanned asset)."""
    if row.origin == "scan" or not row.asset_text:
        return scanned
    return max(scanned, len({x.strip() for x in row.asset_text.split("\n") if x.strip()}))


def _unfinished(within: Period | None, now: dt.datetime) -> list[str]:
    """A warning when the report period has not ended yet: the records are as of now."""
    if within is None or within.end <= now:
        return []
    return [
        f"the period ends after now ({within.end.date().isoformat()}): the records are as of "
        f"{_day(now)}; write the report again once the period has ended"
    ]


def _warnings(info: SystemInfo, found: list[VerRecord]) -> list[str]:
    out = []
    if info.policy != "fedramp-cr26":
        out.append(
            f"system {info.name!r} follows rule set {info.policy!r}, not fedramp-cr26: the records have no "
            "CR26 evaluations unless recorded"
        )
    unevaluated = [r.poam_id for r in found if r.pain is None and r.status == "open"]
    if unevaluated:
        out.append(
            f"{len(unevaluated)} open item(s) not evaluated (no IRV, LEV, PAIN), e.g. {', '.join(unevaluated[:5])}: "
            "`poam evaluate ID --irv yes|no --pain 1-5 --rationale TEXT`"
        )
    lapsed = [r.poam_id for r in found if not r.accepted and "VER-TFR-MAV" in r.extension.get("missedDeadlines", [])]
    if lapsed:
        out.append(
            f"{len(lapsed)} item(s) past 192 days from evaluation without a recorded acceptance (VER-TFR-MAV), e.g. "
            f"{', '.join(lapsed[:5])}: reported as overdue in the VDR; record the rationale with "
            "`poam deviation request ID --type accepted --rationale TEXT`"
        )
    return out


def _uri(info: SystemInfo) -> str:
    if not info.cpo_uri:
        raise UsageError(
            f"system {info.name!r} has no Certification Package Overview URI, which every VER report names: "
            f"set it with `poam system set {info.name} --cpo-uri https://...`"
        )
    return info.cpo_uri


def export(
    engine: Engine,
    kind: str,
    path: Path,
    system: str | None,
    actor: str,
    within: Period | None = None,
    schemas_dir: Path | None = None,
    now: dt.datetime | None = None,
) -> Written:
    """Write the VDR (`vdr`), AVI (`avi`) or Historical VER Activity (`ver-history`) report; the
    document is checked against the pinned schema first and never written when it breaks it."""
    if kind not in KINDS:
        raise ValueError(kind)
    if kind != "ver-history" and within is None:
        raise ValueRefused(f"the {TITLES[kind]} needs its report period: --from DATE --to DATE")
    schemas = fedramp_schemas.load(schemas_dir)
    now = _aware(now or dt.datetime.now(UTC)).replace(microsecond=0)
    exporting._check_target(path)
    with exporting.Deliverable(path) as out, engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        uri = _uri(info)
        if kind == "ver-history":
            found = records(conn, info, now, open_only=True)
            document = fedramp_ver.history(uri, now, found, schemas)
        else:
            assert within is not None
            as_of = min(within.end, now)
            found = records(conn, info, as_of, within)
            build = fedramp_ver.vdr if kind == "vdr" else fedramp_ver.avi
            document = build(uri, within.start, within.end, found, schemas)
            found = [r for r in found if r.accepted == (kind == "avi")]
        problems = fedramp_schemas.problems(document, kind, schemas)
        if problems:
            shown = "; ".join(p.line() for p in problems[:5])
            raise PoamError(f"the {TITLES[kind]} would not be valid against its FedRAMP schema: {shown}")
        fedramp_ver.write(out.temp, document)
        accepted = sum(1 for r in found if r.accepted)
        detail: dict[str, Any] = {
            "records": len(found),
            "accepted": accepted,
            "schema": schemas.version(kind),
            "schema_sha256": schemas.files[kind].sha256,
        }
        if within is not None:
            detail["period"] = [within.start.date().isoformat(), within.end.date().isoformat()]
        audit.record(
            conn,
            actor,
            [audit.Event(f"export.{kind}", "system", str(info.id), {"file": str(path), **detail}, info.id)],
        )
        out.install()
    warnings = _warnings(info, found) + _unfinished(within, now)
    return Written(path, kind, info.name, len(found), accepted, schemas.version(kind), tuple(warnings))


def activity_report(
    engine: Engine,
    system: str | None,
    actor: str,
    within: Period,
    html_path: Path,
    pdf_path: Path,
    now: dt.datetime | None = None,
) -> tuple[Written, Written]:
    """Both forms of the human-readable VDR activity report (the monthly package's hook); see
    `services.ver_activity`."""
    from poam.services import ver_activity

    return ver_activity.both(engine, system, actor, within, html_path, pdf_path, now)
