"""Writing the deliverables: the FedRAMP workbook, the OSCAL POA&M and a text summary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from poam.domain.models import ItemStatus, PoamItem
from poam.domain.policy import due_date, get_policy, is_late
from poam.errors import PoamError, UsageError
from poam.exporters import fedramp_xlsx, oscal_poam
from poam.services import audit, kev, systems
from poam.services.items import load
from poam.services.systems import SystemInfo
from poam.store.tables import assets, audit_events, findings, items, scans


@dataclass(frozen=True, slots=True)
class Export:
    """What an export wrote."""

    path: Path
    system: str
    items: int
    detail: dict[str, int]


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: folder does not exist")


def _record(conn: Connection, actor: str, system: SystemInfo, kind: str, path: Path, detail: dict[str, Any]) -> None:
    audit.record(
        conn, actor, [audit.Event(f"export.{kind}", "system", str(system.id), {"file": str(path), **detail}, system.id)]
    )


def export_fedramp(
    engine: Engine, path: Path, system: str | None, actor: str, poam_date: dt.date | None = None
) -> Export:
    """Write the FedRAMP POA&M workbook for the system."""
    _check_target(path)
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        all_items = load(conn, info.id, "all")
        header = fedramp_xlsx.Header(
            csp=info.org or "",
            system_name=info.name,
            impact=info.impact,
            poam_date=poam_date or dt.date.today(),
        )
        counts = fedramp_xlsx.write(path, header, all_items)
        _record(conn, actor, info, "fedramp", path, counts)
    return Export(path, info.name, len(all_items), counts)


def _last_modified(conn: Connection, system_id: int) -> dt.datetime:
    changed = conn.execute(
        select(func.max(audit_events.c.at)).where(
            audit_events.c.system_id == system_id, ~audit_events.c.action.like("export.%")
        )
    ).scalar_one_or_none()
    return changed or dt.datetime(2000, 1, 1)


def oscal_document(conn: Connection, info: SystemInfo) -> dict[str, Any]:
    """The OSCAL POA&M for a system, as JSON data."""
    all_items = load(conn, info.id, "all")
    item_ids = select(items.c.id).where(items.c.system_id == info.id)
    asset_rows = conn.execute(
        select(assets)
        .where(assets.c.id.in_(select(findings.c.asset_id).where(findings.c.item_id.in_(item_ids))))
        .order_by(assets.c.identifier)
    ).all()
    inventory = [
        oscal_poam.InventoryAsset(a.identifier, a.kind, str(a.id), a.ip, a.fqdn, a.netbios, a.mac, a.os)
        for a in asset_rows
    ]
    versions = {
        r.tool: r.tool_version
        for r in conn.execute(
            select(scans.c.tool, scans.c.tool_version)
            .where(scans.c.system_id == info.id, scans.c.tool_version.is_not(None))
            .order_by(scans.c.started_at)
        )
    }
    tools = [oscal_poam.Tool(name, versions.get(name)) for name in sorted({i.detector_source for i in all_items})]
    doc = oscal_poam.Document(
        system_name=info.name,
        org=info.org,
        fedramp_id=info.fedramp_id,
        impact=info.impact,
        last_modified=_last_modified(conn, info.id),
        items=all_items,
        assets=inventory,
        tools=tools,
    )
    return oscal_poam.build(doc)


def export_oscal(engine: Engine, path: Path, system: str | None, actor: str, validate: bool = True) -> Export:
    """Write the OSCAL POA&M JSON; refuse to write a document that breaks the schema."""
    _check_target(path)
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        document = oscal_document(conn, info)
        if validate:
            problems = oscal_poam.schema_errors(document) + oscal_poam.dangling_references(document)
            if problems:
                raise PoamError("the OSCAL document would not be valid: " + "; ".join(problems[:5]))
        oscal_poam.write(path, document)
        count = len(document["plan-of-action-and-milestones"].get("risks", []))
        _record(conn, actor, info, "oscal", path, {"items": count})
    return Export(path, info.name, count, {"poam-items": count})


@dataclass(frozen=True, slots=True)
class Summary:
    """The state of a system's POA&M on a day."""

    system: SystemInfo
    today: dt.date
    open_by_risk: dict[str, int]
    open_total: int
    config_open: int
    closed_total: int
    late: list[PoamItem]
    due_soon: list[PoamItem]
    kev_open: int
    no_poc: int
    scans: int
    assets: int
    kev_catalog: str | None
    last_scan: tuple[str, str | None, dt.datetime | None] | None


def summarize(engine: Engine, system: str | None, today: dt.date | None = None) -> Summary:
    """Counts of open, late and closed items, for the summary report."""
    today = today or dt.date.today()
    with engine.begin() as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        get_policy(info.policy)
        all_items = load(conn, info.id, "all")
        open_items = [i for i in all_items if i.status is ItemStatus.OPEN]
        by_risk = {"High": 0, "Moderate": 0, "Low": 0}
        for i in open_items:
            by_risk[i.original_risk.fedramp.value] += 1
        late = [i for i in open_items if is_late(i.scheduled_completion_date, i.kev_due_date, today)]
        soon = [
            i
            for i in open_items
            if i not in late and (due_date(i.scheduled_completion_date, i.kev_due_date) - today).days <= 30
        ]
        last = conn.execute(
            select(scans.c.filename, scans.c.tool, scans.c.ended_at)
            .where(scans.c.system_id == info.id)
            .order_by(scans.c.ended_at.desc())
            .limit(1)
        ).first()
        return Summary(
            system=info,
            today=today,
            open_by_risk=by_risk,
            open_total=len(open_items),
            config_open=sum(1 for i in open_items if i.is_config),
            closed_total=len(all_items) - len(open_items),
            late=late,
            due_soon=soon,
            kev_open=sum(1 for i in open_items if i.kev),
            no_poc=sum(1 for i in open_items if not i.point_of_contact),
            scans=conn.execute(select(func.count()).where(scans.c.system_id == info.id)).scalar_one(),
            assets=conn.execute(select(func.count()).where(assets.c.system_id == info.id)).scalar_one(),
            kev_catalog=kev.catalog_version(conn),
            last_scan=(last.filename, last.tool, last.ended_at) if last else None,
        )


def summary_text(s: Summary) -> str:
    """The summary as plain text."""
    info = s.system
    lines = [
        f"POA&M summary for {info.name} ({info.impact} impact, policy {info.policy}) on {s.today.isoformat()}",
        "",
        f"Open items: {s.open_total} (High {s.open_by_risk['High']}, Moderate {s.open_by_risk['Moderate']}, "
        f"Low {s.open_by_risk['Low']}); {s.config_open} of them configuration findings",
        f"Late: {len(s.late)}   Due within 30 days: {len(s.due_soon)}   KEV: {s.kev_open}",
        f"Closed items: {s.closed_total}",
        f"Assets: {s.assets}   Scans imported: {s.scans}",
        f"KEV catalog: {s.kev_catalog or 'not loaded (run `poam kev load FILE`)'}",
    ]
    if s.last_scan:
        name, tool, ended = s.last_scan
        lines.append(f"Latest scan: {name} ({tool or 'unknown tool'}, {ended.date().isoformat() if ended else '?'})")
    if s.no_poc:
        lines.append(f"Open items without a point of contact: {s.no_poc}")
    if s.late:
        lines += ["", "Late items:"]
        for i in s.late:
            due = due_date(i.scheduled_completion_date, i.kev_due_date)
            days = (s.today - due).days
            lines.append(
                f"  {i.poam_id:<8} {i.original_risk.fedramp.value:<8} due {due.isoformat()} "
                f"({days} days late)  {i.weakness_name}"
            )
    if s.due_soon:
        lines += ["", "Due within 30 days:"]
        for i in s.due_soon:
            due = due_date(i.scheduled_completion_date, i.kev_due_date)
            lines.append(
                f"  {i.poam_id:<8} {i.original_risk.fedramp.value:<8} due {due.isoformat()}  {i.weakness_name}"
            )
    return "\n".join(lines) + "\n"
