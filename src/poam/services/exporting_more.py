"""More deliverables: the eMASS POA&M workbook, CSV files of items and findings, and the FedRAMP
Deviation Request form. Each is written atomically (`exporting.Deliverable`) and recorded as an
`export.<kind>` audit event in the same transaction, like the FedRAMP workbook."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from poam.domain.milestones import format_changes, format_milestones
from poam.domain.models import ItemStatus, Level, PoamItem
from poam.domain.policy import is_late
from poam.errors import ValueRefused, printable
from poam.exporters import csv_export, dr_form, dr_form_template, emass
from poam.services import evidence as documents
from poam.services import systems
from poam.services.exporting import Deliverable, Export, _record
from poam.services.items import STATUSES, item_json, load
from poam.services.triage import assessment_json, ranked
from poam.store.tables import assets, deviations, findings, items, weaknesses

SCOPES = ("all", "late")
"""`--scope`: every item, or the open ones past their due date (as `export fedramp --scope`)."""
WHAT = ("items", "findings")
"""What `export csv` writes: one row per item, or one per finding."""
ASSESSMENT_COLUMNS = (
    "rating",
    "late",
    "next_due",
    "next_due_rule",
    "pain",
    "irv",
    "lev",
    "awaiting_evaluation",
    "disposition",
    "exposure",
    "criticality",
    "forensic_triage",
    "priority",
)
"""The scalar fields `poam items --json` adds from the rule set, as CSV columns."""


def check_target(path: Path) -> None:
    """Refuse an output path that cannot be a file (exit status 2, nothing written)."""
    if path.is_dir():
        raise ValueRefused(f"{printable(str(path))}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise ValueRefused(f"{printable(str(path))}: folder {printable(str(path.parent))} does not exist")


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueRefused(f"--scope must be one of {', '.join(SCOPES)}, not {printable(scope)!r}")


def _scoped(found: list[PoamItem], scope: str, day: dt.date) -> list[PoamItem]:
    """All the items, or (`late`) the open ones past their due date on `day`: the earlier of the
    Scheduled Completion Date and the KEV due date, as `export fedramp --scope late` judges it."""
    if scope == "all":
        return found
    return [
        i for i in found if i.status is ItemStatus.OPEN and is_late(i.scheduled_completion_date, i.kev_due_date, day)
    ]


def _ccis(conn: Connection, system_id: int) -> dict[str, tuple[str, ...]]:
    rows = conn.execute(
        select(items.c.poam_id, weaknesses.c.ccis)
        .join(weaknesses, weaknesses.c.id == items.c.weakness_id)
        .where(items.c.system_id == system_id, weaknesses.c.ccis != "")
    )
    return {r.poam_id: tuple(c for c in r.ccis.split(",") if c) for r in rows}


def emass_extras(conn: Connection, system_id: int) -> dict[str, emass.Extra]:
    """Per item: the CCIs of its check, an approved accepted vulnerability (CR26) and the rating a
    pending risk adjustment asks for."""
    ccis = _ccis(conn, system_id)
    accepted: dict[str, str] = {}
    proposed: dict[str, Level] = {}
    for r in conn.execute(
        select(
            items.c.poam_id, deviations.c.type, deviations.c.status, deviations.c.rationale, deviations.c.requested_risk
        )
        .join(items, items.c.id == deviations.c.item_id)
        .where(items.c.system_id == system_id)
        .order_by(deviations.c.requested_at, deviations.c.id)
    ):
        if r.type == "accepted" and r.status == "approved":
            accepted[r.poam_id] = r.rationale
        elif r.type == "risk-adjustment" and r.status == "pending" and r.requested_risk:
            proposed[r.poam_id] = Level(r.requested_risk)
    return {
        k: emass.Extra(ccis.get(k, ()), k in accepted, accepted.get(k), proposed.get(k))
        for k in set(ccis) | set(accepted) | set(proposed)
    }


def export_emass(
    engine: Engine,
    path: Path,
    system: str | None,
    actor: str,
    layout: str = "classic",
    today: dt.date | None = None,
    scope: str = "all",
) -> Export:
    """Write the eMASS POA&M workbook (`classic` or `milestone-rows` layout) for the system; `scope`
    `late`: only the open items past their due date (as `export fedramp --scope late`)."""
    if layout not in emass.LAYOUTS:
        raise ValueRefused(f"--layout must be one of {', '.join(emass.LAYOUTS)}, not {layout!r}")
    _check_scope(scope)
    check_target(path)
    day = today or dt.date.today()
    with Deliverable(path) as out, engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        all_items = _scoped(load(conn, info.id, "open" if scope == "late" else "all"), scope, day)
        header = emass.Header(info.name, info.org, actor, day, info.point_of_contact)
        extras = emass_extras(conn, info.id)
        counts = emass.write(out.temp, header, all_items, extras, layout)
        missing = {
            "without_resources_required": sum(1 for i in all_items if not i.resources_text()),
            "without_office_org": sum(1 for i in all_items if not emass.office(i, header)),
        }
        detail = {**counts, **missing}
        _record(conn, actor, info, "emass", path, {**detail, "layout": layout, "scope": scope})
        out.install()
    return Export(path, info.name, len(all_items), detail)


def _item_rows(found: list[tuple[PoamItem, Any]]) -> Iterator[dict[str, object]]:
    for item, a in found:
        row: dict[str, object] = dict(item_json(item))
        row["milestones"] = format_milestones(item.milestones)
        row["milestone_changes"] = format_changes(item.milestone_changes)
        extra = assessment_json(a)
        nearest = a.outcome.nearest()
        row.update({k: extra.get(k) for k in ASSESSMENT_COLUMNS if k in extra})
        row["priority"] = a.priority.score
        row["next_due"] = nearest.due.strftime("%Y-%m-%dT%H:%M:%SZ") if nearest and nearest.due else None
        row["next_due_rule"] = nearest.rule if nearest else None
        yield row


def item_columns() -> tuple[str, ...]:
    """The columns of `export csv --what items`: those of `poam items --json`, POA&M fields first."""
    sample = PoamItem("V-0", ItemStatus.OPEN, "", "", "", "", dt.date.min, dt.date.min, dt.date.min, Level.LOW)
    return (*item_json(sample).keys(), *ASSESSMENT_COLUMNS)


def _finding_rows(conn: Connection, system_id: int, status: str, seen: set[str]) -> Iterator[dict[str, object]]:
    """One row per finding of the system's items (of that item status), in POA&M id order; the
    POA&M ids met are added to `seen`."""
    query = (
        select(
            items.c.poam_id,
            items.c.status.label("item_status"),
            assets.c.identifier,
            findings.c.port,
            findings.c.protocol,
            findings.c.path,
            findings.c.status,
            findings.c.first_seen,
            findings.c.last_seen,
            findings.c.fixed_at,
            findings.c.tool,
            weaknesses.c.vuln_id,
            weaknesses.c.name,
        )
        .join(items, items.c.id == findings.c.item_id)
        .join(assets, assets.c.id == findings.c.asset_id)
        .join(weaknesses, weaknesses.c.id == findings.c.weakness_id)
        .where(findings.c.system_id == system_id)
        .order_by(items.c.seq, assets.c.identifier, findings.c.port, findings.c.path, findings.c.id)
    )
    if status != "all":
        query = query.where(items.c.status == status)

    def stamp(value: dt.datetime | None) -> str | None:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None

    for r in conn.execute(query):
        seen.add(r.poam_id)
        yield {
            "poam_id": r.poam_id,
            "item_status": r.item_status,
            "asset": r.identifier,
            "port": r.port if r.port else None,
            "protocol": (r.protocol or "").lower() if r.port else None,
            "path": r.path,
            "status": r.status,
            "first_seen": stamp(r.first_seen),
            "last_seen": stamp(r.last_seen),
            "fixed_at": stamp(r.fixed_at),
            "tool": r.tool,
            "source_identifier": r.vuln_id,
            "weakness_name": r.name,
        }


def export_csv(
    engine: Engine,
    path: Path,
    system: str | None,
    actor: str,
    what: str = "items",
    status: str = "all",
    bom: bool = True,
    scope: str = "all",
    today: dt.date | None = None,
) -> Export:
    """Write a CSV file: one row per item (the columns of `poam items --json`) or per finding (of
    those items); `scope` `late`: only the open items past their due date (`today`)."""
    if what not in WHAT:
        raise ValueRefused(f"--what must be one of {', '.join(WHAT)}, not {what!r}")
    if status not in STATUSES:
        raise ValueRefused(f"--status must be one of {', '.join(STATUSES)}, not {status!r}")
    _check_scope(scope)
    check_target(path)
    day = today or dt.date.today()
    if scope == "late":
        status = "open"
    found: list[tuple[PoamItem, Any]] = []
    if what == "items":
        _info, found = ranked(engine, system, status, "id")
        kept = {i.poam_id for i in _scoped([i for i, _a in found], scope, day)}
        found = [(i, a) for i, a in found if i.poam_id in kept]
    with Deliverable(path) as out, engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        seen: set[str] = set()
        if what == "items":
            rows = csv_export.write(out.temp, item_columns(), _item_rows(found), bom)
            seen = {i.poam_id for i, _a in found}
        else:
            late = None if scope == "all" else {i.poam_id for i in _scoped(load(conn, info.id, "open"), scope, day)}
            chosen = (r for r in _finding_rows(conn, info.id, status, seen) if late is None or r["poam_id"] in late)
            rows = csv_export.write(out.temp, csv_export.FINDING_COLUMNS, chosen, bom)
            if late is not None:
                seen &= late
        detail = {what: rows}
        params = {"what": what, "status": status, "scope": scope, "bom": bom}
        _record(conn, actor, info, "csv", path, {**detail, **params})
        out.install()
    return Export(path, info.name, len(seen), detail)


def _evidence_lines(files: list[dict[str, object]]) -> tuple[str, ...]:
    return tuple(f"{f['name']} (sha256 {str(f['sha256'])[:12]})" for f in files)


def dr_entries(conn: Connection, system_id: int) -> list[dr_form.Entry]:
    """The system's pending false positive, operational requirement and risk adjustment requests,
    one row each, except that an item's pending operational requirement and risk adjustment make
    one `OR RA` row (the form: "A single DR may simultaneously justify a risk adjustment and an
    operational requirement"). Accepted vulnerabilities (CR26) are reported in the AVI, not here."""
    rows = list(
        conn.execute(
            select(deviations, items.c.poam_id)
            .join(items, items.c.id == deviations.c.item_id)
            .where(items.c.system_id == system_id, deviations.c.status == "pending", deviations.c.type != "accepted")
            .order_by(items.c.seq, deviations.c.requested_at, deviations.c.id)
        )
    )
    if not rows:
        return []
    evidence = documents.of_deviations(conn, [r.id for r in rows])
    by_id = {i.poam_id: i for i in load(conn, system_id, "all")}
    grouped: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in rows:
        grouped[r.poam_id][r.type] = r
    entries = []
    for poam_id, kinds in grouped.items():
        item = by_id[poam_id]
        ra, op, fp = kinds.get("risk-adjustment"), kinds.get("operational-requirement"), kinds.get("false-positive")
        if fp is not None:
            entries.append(
                dr_form.Entry(
                    fp.id,
                    "FP",
                    item,
                    fp.requested_at.date(),
                    fp.rationale,
                    fp_evidence=_evidence_lines(evidence[fp.id]),
                    notes=(f"poam request #{fp.id} by {fp.requester}",),
                )
            )
        if ra is not None and op is not None:
            first = min((ra, op), key=lambda r: (r.requested_at, r.id))
            entries.append(
                dr_form.Entry(
                    first.id,
                    "OR RA",
                    item,
                    max(ra.requested_at, op.requested_at).date(),
                    f"Risk Adjustment : {ra.rationale}\n\nOperational Requirement : {op.rationale}",
                    Level(ra.requested_risk) if ra.requested_risk else None,
                    or_statement=op.rationale,
                    or_evidence=_evidence_lines(evidence[op.id]),
                    ra_evidence=_evidence_lines(evidence[ra.id]),
                    notes=(f"poam requests #{ra.id} (RA) by {ra.requester} and #{op.id} (OR) by {op.requester}",),
                )
            )
        elif ra is not None:
            entries.append(
                dr_form.Entry(
                    ra.id,
                    "RA",
                    item,
                    ra.requested_at.date(),
                    ra.rationale,
                    Level(ra.requested_risk) if ra.requested_risk else None,
                    ra_evidence=_evidence_lines(evidence[ra.id]),
                    notes=(f"poam request #{ra.id} by {ra.requester}",),
                )
            )
        elif op is not None:
            entries.append(
                dr_form.Entry(
                    op.id,
                    "OR",
                    item,
                    op.requested_at.date(),
                    op.rationale,
                    or_statement=op.rationale,
                    or_evidence=_evidence_lines(evidence[op.id]),
                    notes=(f"poam request #{op.id} by {op.requester}",),
                )
            )
    return entries


def export_dr_form(
    engine: Engine,
    path: Path,
    system: str | None,
    actor: str,
    today: dt.date | None = None,
    template: Path | None = None,
) -> Export:
    """Write the FedRAMP Deviation Request form filled with the system's pending requests (with none,
    the empty form saying so): poam's copy of the form's layout, or the user's copy (`template`)."""
    check_target(path)
    if template is not None:
        problem = dr_form_template.check_suffix(template, path)
        if problem:
            raise ValueRefused(printable(problem))
    with Deliverable(path) as out, engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        entries = dr_entries(conn, info.id)
        header = dr_form.Header(
            info.org or "", info.name, info.impact.capitalize(), today or dt.date.today(), info.point_of_contact or ""
        )
        if template is None:
            counts = dr_form.write(out.temp, header, entries)
        else:
            note = dr_form.empty_note(header.system_name, header.submitted)
            counts = dr_form_template.fill(template, out.temp, header, entries, note)
        poam_ids = sorted({e.item.poam_id for e in entries})
        detail = {**counts, "poam_ids": poam_ids, "template": str(template) if template else None}
        _record(conn, actor, info, "dr-form", path, detail)
        out.install()
    return Export(path, info.name, len(poam_ids), counts)
