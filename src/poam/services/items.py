"""Reading POA&M items back as domain objects, for listing and export."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, select

from poam.domain.models import (
    AffectedAsset,
    ChangeKind,
    FindingStatus,
    ItemStatus,
    Level,
    Milestone,
    MilestoneChange,
    PoamItem,
    YesNo,
    location_text,
)
from poam.domain.rating import rating_source
from poam.services import audit, systems
from poam.services.systems import SystemInfo
from poam.store import db
from poam.store.tables import assets, findings, items, milestone_changes, milestones, weaknesses

STATUSES = ("open", "closed", "all")


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(p for p in (text or "").split(",") if p)


def _item(
    r: Any,
    affected: tuple[AffectedAsset, ...],
    ms: list[Milestone],
    ch: list[MilestoneChange],
    previous: str | None,
    owners: list[str] | None = None,
) -> PoamItem:
    poc = r.point_of_contact if r.poc_set or not owners else "; ".join(owners)
    return PoamItem(
        poam_id=r.poam_id,
        status=ItemStatus(r.status),
        weakness_name=r.weakness_name,
        weakness_description=r.weakness_description,
        detector_source=r.detector_source,
        source_identifier=r.vuln_id,
        detection_date=r.detection_date,
        scheduled_completion_date=r.scheduled_completion_date,
        status_date=r.status_date,
        original_risk=Level(r.original_risk),
        controls=_split(r.controls),
        assets=affected,
        point_of_contact=poc,
        resources_required=r.resources_required,
        remediation_plan=r.remediation_plan,
        milestones=tuple(ms),
        milestone_changes=tuple(ch),
        vendor_dependency=YesNo(r.vendor_dependency),
        last_vendor_checkin=r.last_vendor_checkin,
        vendor_product=r.vendor_product,
        adjusted_risk=Level(r.adjusted_risk) if r.adjusted_risk else None,
        risk_adjustment=YesNo(r.risk_adjustment),
        false_positive=YesNo(r.false_positive),
        operational_requirement=YesNo(r.operational_requirement),
        deviation_rationale=r.deviation_rationale,
        supporting_documents=r.supporting_documents,
        comments=r.comments,
        auto_approve=YesNo(r.auto_approve),
        kev=bool(r.kev),
        kev_due_date=r.kev_due_date,
        cves=_split(r.cves),
        service_names=r.service_names,
        is_config=bool(r.is_config),
        closed_at=r.closed_at,
        cvss3_score=r.cvss3_score,
        cvss3_vector=r.cvss3_vector,
        cvss2_score=r.cvss2_score,
        cvss2_vector=r.cvss2_vector,
        recommendation=r.recommendation,
        previous_poam_id=previous,
        ready=bool(r.ready),
        reported_at=r.reported_at,
        hours=r.hours,
        cost=r.cost,
        technology=r.technology,
        vendor_release_date=r.vendor_release_date,
        origin=r.origin,
        asset_text=r.asset_text,
        extra=_extra(r.extra),
    )


def _extra(text: str | None) -> dict[str, Any]:
    """An item's `extra` JSON (imported details); an unreadable one counts as empty."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def load(conn: Connection, system_id: int, status: str = "all") -> list[PoamItem]:
    """The system's items in POA&M id order, each with its assets and milestones."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    query = (
        select(
            items,
            weaknesses.c.cvss3_score,
            weaknesses.c.cvss3_vector,
            weaknesses.c.cvss2_score,
            weaknesses.c.cvss2_vector,
        )
        .outerjoin(weaknesses, weaknesses.c.id == items.c.weakness_id)
        .where(items.c.system_id == system_id)
        .order_by(items.c.seq)
    )
    if status != "all":
        query = query.where(items.c.status == status)
    rows = conn.execute(query).all()
    ids = [r.id for r in rows]
    poam_ids = {
        r.id: r.poam_id for r in conn.execute(select(items.c.id, items.c.poam_id).where(items.c.system_id == system_id))
    }
    affected = _affected(conn, ids)
    owners: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(ids):
        for o in conn.execute(
            select(findings.c.item_id, assets.c.owner)
            .join(assets, assets.c.id == findings.c.asset_id)
            .where(findings.c.item_id.in_(chunk), assets.c.owner.is_not(None), assets.c.owner != "")
            .distinct()
            .order_by(findings.c.item_id, assets.c.owner)
        ):
            owners[o.item_id].append(o.owner)
    ms: dict[int, list[Milestone]] = defaultdict(list)
    ch: dict[int, list[MilestoneChange]] = defaultdict(list)
    for chunk in _chunks(ids):
        for c in conn.execute(
            select(milestone_changes).where(milestone_changes.c.item_id.in_(chunk)).order_by(milestone_changes.c.id)
        ):
            ch[c.item_id].append(MilestoneChange(c.number, ChangeKind(c.kind), c.change_date, c.text, c.actor))
        for m in conn.execute(select(milestones).where(milestones.c.item_id.in_(chunk)).order_by(milestones.c.number)):
            done = m.completed_on if m.status == "complete" else None
            if done is None:  # completed by a Complete change (e.g. poam's own when a scan closed the item)
                done = next(
                    (c.date for c in ch[m.item_id] if c.number == m.number and c.kind is ChangeKind.COMPLETE), None
                )
            status = "complete" if m.status == "complete" or done is not None else "open"
            ms[m.item_id].append(Milestone(m.number, m.due_date, m.text, status, done, bool(m.placeholder), m.actor))
    result = []
    for r in rows:
        found = affected.get(r.id, [])
        if r.status == "open":  # an open item lists what is still affected
            found = [a for a in found if a.status is FindingStatus.OPEN]
        found = list({(a.asset_ref, a.location): a for a in found}.values())  # one line per asset and port
        result.append(_item(r, tuple(found), ms[r.id], ch[r.id], poam_ids.get(r.previous_item_id), owners.get(r.id)))
    return result


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _affected(conn: Connection, ids: list[int]) -> dict[int, list[AffectedAsset]]:
    out: dict[int, list[AffectedAsset]] = defaultdict(list)
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(
                findings.c.item_id,
                findings.c.asset_id,
                findings.c.port,
                findings.c.protocol,
                findings.c.path,
                findings.c.status,
                assets.c.identifier,
            )
            .join(assets, assets.c.id == findings.c.asset_id)
            .where(findings.c.item_id.in_(chunk))
            .order_by(findings.c.item_id, assets.c.identifier, findings.c.asset_id, findings.c.port, findings.c.id)
        )
        for row in rows:
            loc = location_text(row.port, row.protocol, row.path)
            out[row.item_id].append(AffectedAsset(row.identifier, loc, FindingStatus(row.status), str(row.asset_id)))
    return out


def item_json(item: PoamItem) -> dict[str, object]:
    """The JSON form `poam items --json` prints."""

    def day(d: dt.date | None) -> str | None:
        return d.isoformat() if d else None

    return {
        "poam_id": item.poam_id,
        "status": item.status.value,
        "weakness_name": item.weakness_name,
        "weakness_description": item.weakness_description,
        "detector_source": item.detector_source,
        "source_identifier": item.source_identifier,
        "assets": item.asset_lines(),
        "controls": list(item.controls),
        "point_of_contact": item.point_of_contact,
        "resources_required": item.resources_required,
        "hours": item.hours,
        "cost": item.cost,
        "technology": item.technology,
        "remediation_plan": item.remediation_plan,
        "comments": item.comments,
        "service_names": [s for s in (item.service_names or "").split("\n") if s],
        "original_risk": item.original_risk.fedramp.value,
        "severity": item.original_risk.value,
        "original_risk_source": rating_source(item.cvss3_score, item.cvss2_score),
        "adjusted_risk": item.adjusted_risk.fedramp.value if item.adjusted_risk else None,
        "detection_date": day(item.detection_date),
        "scheduled_completion_date": day(item.scheduled_completion_date),
        "status_date": day(item.status_date),
        "closed_date": day(item.closed_at),
        "cves": list(item.cves),
        "kev": item.kev,
        "kev_due_date": day(item.kev_due_date),
        "milestones": [
            {
                "number": m.number,
                "date": day(m.date),
                "text": m.text,
                "status": m.status,
                "completed_on": day(m.completed_on),
                "placeholder": m.placeholder,
            }
            for m in item.milestones
        ],
        "milestone_changes": [
            {"number": c.number, "kind": c.kind.value, "date": day(c.date), "text": c.text, "by": c.by}
            for c in item.milestone_changes
        ],
        "ready": item.ready,
        "reported_at": day(item.reported_at),
        "configuration_finding": item.is_config,
        "previous_poam_id": item.previous_poam_id,
    }


def list_items(engine: Engine, system: str | None, status: str = "open") -> tuple[SystemInfo, list[PoamItem]]:
    """The chosen system and its items with that status (a read: it never waits for an import)."""
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        return info, load(conn, info.id, status)


def controls_value(controls: list[str]) -> str:
    """Controls as stored (`AC-2,SI-2(2)`), in canonical form (`ac-2 (4)` -> `AC-2(4)`): each a
    current NIST SP 800-53 Rev 5 control or enhancement of the shipped catalog. An id of the wrong
    shape, an unknown or a withdrawn one is refused (`ValueRefused`, exit status 2)."""
    from poam.domain.controls import catalog_refusal, control_id
    from poam.errors import ValueRefused
    from poam.intel.controls_catalog import controls_catalog

    cleaned = []
    for text in controls:
        for part in text.replace(";", ",").split(","):
            if not part.strip():
                continue
            control = control_id(part)
            if control is None or control_id(part.strip()) != part.strip().upper().replace(" ", ""):
                raise ValueRefused(f"not a NIST SP 800-53 control id: {part.strip()!r} (like AC-2 or SI-2(2))")
            refusal = catalog_refusal(control, controls_catalog())
            if refusal:
                raise ValueRefused(refusal)
            cleaned.append(control)
    if not cleaned:
        raise ValueRefused("give at least one control")
    return ",".join(dict.fromkeys(cleaned))


def set_controls(engine: Engine, system: str | None, poam_id: str, controls: list[str], actor: str) -> PoamItem:
    """Replace an item's Controls (e.g. `AC-2`, `SI-2(2)`); recorded in the audit log."""
    from poam.services import planning

    return planning.set_fields(engine, system, poam_id, actor, controls=controls)
