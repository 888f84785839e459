"""Deviation requests (FedRAMP POA&M template columns T-Y and AA; CR26 accepted vulnerabilities).

A deviation of an item goes none -> pending -> approved or rejected: a false positive (`fp`), a risk
adjustment (`ra`), an operational requirement (`or`), or, under `fedramp-cr26` only, an accepted
vulnerability (`accepted`, VER-RPT-AVI). One pending request per item and type; a rejected one may be
requested again. The person who approves or rejects is never the one who asked, except for an
auto-approved risk adjustment (the template's Auto-Approve column, from the Automated Vulnerability
Risk Adjustment Framework: one level down, scanner findings only).

The template columns are derived from the requests after every change: `Risk Adjustment`, `False
Positive`, `Operational Requirement` are `Pending` while a request waits, `Yes` once one is approved
and `No` otherwise; `Adjusted Risk Rating` is the approved risk adjustment's rating; `Deviation
Rationale` lists `Deviation Type : Rationale` of the approved and pending ones; `Supporting
Documents` lists `Deviation Request : name (sha256 12 hex)` for their evidence files.

An approved false positive closes the item for good: later scans (in order or late) record their
findings on it and never reopen it nor open a new item of the weakness (`itemmaker`, `rewrite`).
Every change is one audited event recorded after the rows changed, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from poam.domain.models import Level
from poam.errors import UsageError, ValueRefused
from poam.services import audit, deadlines, planning, systems
from poam.services import evidence as documents
from poam.store import db
from poam.store.tables import deviation_evidence, deviations, evaluations, items

TYPES = {
    "fp": "false-positive",
    "ra": "risk-adjustment",
    "or": "operational-requirement",
    "accepted": "accepted",
}
"""Command-line short names and the stored type names."""
SHORT = {v: k for k, v in TYPES.items()}
LABELS = {
    "false-positive": "False Positive",
    "risk-adjustment": "Risk Adjustment",
    "operational-requirement": "Operational Requirement",
    "accepted": "Accepted Vulnerability",
}
"""`Deviation Type` as the template's Deviation Rationale column writes it."""
COLUMNS = {
    "risk-adjustment": "risk_adjustment",
    "false-positive": "false_positive",
    "operational-requirement": "operational_requirement",
}
STATUSES = ("pending", "approved", "rejected")
RISKS = ("low", "moderate", "high")
"""Largest evidence file stored (25 MiB)."""
MAX_TEXT = 10_000
AUTO_TYPES = ("risk-adjustment",)
"""Auto-approval is for risk adjustments only: the Automated Vulnerability Risk Adjustment Framework
(FedRAMP, DRAFT v0.1, 2018-03-20) adjusts "the risk level for vulnerabilities identified by an automated
scanning tool" and allows one FedRAMP level down (High to Moderate, Moderate to Low)."""
ITEM_COLUMNS = (
    "status",
    "closed_at",
    "status_date",
    "scheduled_completion_date",
    "adjusted_risk",
    "risk_adjustment",
    "false_positive",
    "operational_requirement",
    "deviation_rationale",
    "supporting_documents",
    "auto_approve",
    "disposition",
    "disposition_rationale",
)
"""The item columns an audit event shows before and after."""
DOC_PREFIX = "Deviation Request : "


@dataclass(frozen=True)
class Result:
    """What a request, approval or rejection did."""

    poam_id: str
    deviation_id: int
    type: str
    status: str
    item: dict[str, Any]
    """The item's columns after the change (`ITEM_COLUMNS`)."""
    rule_set: str
    evidence: tuple[dict[str, object], ...] = ()
    deadlines_changed: int = 0


def type_name(value: str) -> str:
    """The stored type name of `fp`, `ra`, `or`, `accepted` (or of a stored name itself)."""
    key = value.strip().lower()
    if key in TYPES:
        return TYPES[key]
    if key in SHORT:
        return key
    raise ValueRefused(f"--type must be one of {', '.join(TYPES)}, not {value!r}")


def _text(value: str | None, option: str) -> str:
    text = (value or "").strip()
    if len(text) > MAX_TEXT:
        raise ValueRefused(f"{option} is longer than {MAX_TEXT:,} characters")
    if "\x00" in text:
        raise ValueRefused(f"{option} holds a NUL character")
    return text


def _item(conn: Connection, system_id: int, system_name: str, poam_id: str) -> Any:
    row = conn.execute(select(items).where(items.c.system_id == system_id, items.c.poam_id == poam_id)).first()
    if row is None:
        raise UsageError(f"no item {poam_id!r} in system {system_name!r}")
    return row


def _snapshot(conn: Connection, item_id: int) -> dict[str, Any]:
    row = conn.execute(select(*(items.c[c] for c in ITEM_COLUMNS)).where(items.c.id == item_id)).one()
    return {c: getattr(row, c) for c in ITEM_COLUMNS}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    keys = [k for k in ITEM_COLUMNS if before[k] != after[k]]
    return {"before": {k: before[k] for k in keys}, "after": {k: after[k] for k in keys}}


def _rows(conn: Connection, item_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(deviations)
            .where(deviations.c.item_id == item_id)
            .order_by(deviations.c.requested_at, deviations.c.id)
        )
    )


def _current_level(row: Any, rows: Iterable[Any]) -> Level:
    """The item's rating now: the latest approved risk adjustment's, else the original."""
    approved = [r for r in rows if r.type == "risk-adjustment" and r.status == "approved" and r.requested_risk]
    if approved:
        return Level(approved[-1].requested_risk)
    return Level(row.original_risk)


def _person(name: str) -> str:
    """A person's name as requester and approver are compared: `Jane.Doe ` is `jane.doe`."""
    return " ".join(name[:200].split()).casefold()


def _is_auto(r: Any) -> bool:
    return bool(r.status == "approved" and r.approver == r.requester)


def sync(conn: Connection, item_id: int) -> None:
    """Set the item's template columns from its deviation requests (see the module's text); lines
    of Supporting Documents that are not this module's are kept."""
    rows = _rows(conn, item_id)
    item = conn.execute(select(items.c.supporting_documents).where(items.c.id == item_id)).one()
    values: dict[str, object] = {}
    for kind, column in COLUMNS.items():
        mine = [r for r in rows if r.type == kind]
        if any(r.status == "pending" for r in mine):
            values[column] = "Pending"
        elif any(r.status == "approved" for r in mine):
            values[column] = "Yes"
        else:
            values[column] = "No"
    current: list[Any] = []  # the latest approved and the pending request of each type
    for kind in LABELS:
        mine = [r for r in rows if r.type == kind]
        approved = [r for r in mine if r.status == "approved"]
        current += approved[-1:] + [r for r in mine if r.status == "pending"]
    current.sort(key=lambda r: (r.requested_at, r.id))
    ra = [r for r in rows if r.type == "risk-adjustment" and r.status == "approved" and r.requested_risk]
    values["adjusted_risk"] = ra[-1].requested_risk if ra else None
    values["deviation_rationale"] = "\n\n".join(f"{LABELS[r.type]} : {r.rationale}" for r in current) or None
    values["auto_approve"] = "Yes" if any(_is_auto(r) for r in current) else "No"
    docs: list[str] = []
    ids = [r.id for r in current]
    if ids:
        for e in conn.execute(
            select(deviation_evidence.c.name, deviation_evidence.c.sha256)
            .where(deviation_evidence.c.deviation_id.in_(ids))
            .order_by(deviation_evidence.c.deviation_id, deviation_evidence.c.id)
        ):
            line = f"{DOC_PREFIX}{e.name} ({e.sha256[:12]})"
            if line not in docs:
                docs.append(line)
    others = [x for x in (item.supporting_documents or "").split("\n") if x and not x.startswith(DOC_PREFIX)]
    values["supporting_documents"] = "\n".join(others + docs) or None
    conn.execute(update(items).where(items.c.id == item_id).values(**values))


def _refresh(conn: Connection, actor: str, item_id: int, reason: str, stamp: dt.datetime, system_id: int) -> int:
    deadlines.mark_stale(conn, items.c.id == item_id)
    return deadlines.refresh(conn, actor, reason, stamp, system_id)


def request(
    engine: Engine,
    system: str | None,
    poam_id: str,
    actor: str,
    kind: str,
    rationale: str | None,
    *,
    adjusted_risk: str | None = None,
    evidence: Sequence[Path | str] = (),
    auto_approve: bool = False,
    note: str | None = None,
) -> Result:
    """Request a deviation of an open item (with evidence files); `auto_approve` records its approval
    by the requester at once (risk adjustments of one level only)."""
    kind = type_name(kind)
    short = SHORT[kind]
    text = _text(rationale, "--rationale")
    if not text:
        raise ValueRefused(f"a {LABELS[kind].lower()} request needs --rationale TEXT")
    wanted: Level | None = None
    if adjusted_risk is not None and kind != "risk-adjustment":
        raise ValueRefused(f"--adjusted-risk is for a risk adjustment (--type ra), not --type {short}")
    if kind == "risk-adjustment":
        if not adjusted_risk:
            raise ValueRefused("a risk adjustment (--type ra) needs --adjusted-risk low|moderate|high")
        if adjusted_risk.strip().lower() not in RISKS:
            raise ValueRefused(f"--adjusted-risk must be one of {', '.join(RISKS)}, not {adjusted_risk!r}")
        wanted = Level(adjusted_risk.strip().capitalize())
    if auto_approve and kind not in AUTO_TYPES:
        raise ValueRefused(
            f"--auto-approve is for risk adjustments only (--type ra): FedRAMP's Automated Vulnerability Risk "
            f"Adjustment Framework adjusts scanner risk ratings; a {LABELS[kind].lower()} needs a person's approval"
        )
    decision_note = _text(note, "--note") or None
    files = documents.read_files(evidence)
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        if auto_approve and not info.auto_approve:
            raise ValueRefused(
                f"system {info.name!r} has no AO-approved automated risk adjustment process: record it first with "
                f"`poam system set {info.name} --auto-approve yes` (FedRAMP's Automated Vulnerability Risk Adjustment "
                "Framework applies to providers whose AO approved it)"
            )
        row = _item(conn, info.id, info.name, poam_id)
        if row.status != "open":
            raise UsageError(f"{poam_id} is closed: deviations are requested for open items only")
        if kind == "accepted" and info.policy != "fedramp-cr26":
            raise ValueRefused(
                f"an accepted vulnerability (--type accepted) is a FedRAMP CR26 rule (VER-RPT-AVI); system "
                f"{info.name!r} follows rule set {info.policy!r}, not fedramp-cr26"
            )
        if (
            kind == "accepted"
            and not conn.execute(select(evaluations.c.id).where(evaluations.c.item_id == row.id).limit(1)).first()
        ):
            raise ValueRefused(
                f"{poam_id} has not been evaluated: an accepted vulnerability is reported with its evaluation "
                f"(VER-RPT-AVI: IRV, LEV, PAIN); run `poam evaluate {poam_id}` first"
            )
        rows = _rows(conn, row.id)
        mine = [r for r in rows if r.type == kind]
        pending = next((r for r in mine if r.status == "pending"), None)
        if pending is not None:
            raise UsageError(
                f"{poam_id} already has a pending {LABELS[kind].lower()} request (#{pending.id}): "
                "approve or reject it first"
            )
        if kind != "risk-adjustment" and any(r.status == "approved" for r in mine):
            raise UsageError(f"{poam_id} already has an approved {LABELS[kind].lower()}")
        original = Level(row.original_risk).fedramp
        current = _current_level(row, rows).fedramp
        if wanted is not None:
            if wanted.rank >= original.rank:
                raise ValueRefused(
                    f"--adjusted-risk {wanted.value} is not lower than {poam_id}'s original rating {original.value}"
                )
            if wanted.rank >= current.rank:
                raise ValueRefused(
                    f"--adjusted-risk {wanted.value} is not lower than {poam_id}'s approved adjusted rating "
                    f"{current.value}"
                )
            if auto_approve and original.rank - wanted.rank > 1:
                raise ValueRefused(
                    f"--auto-approve lowers a rating one level only ({original.value} to "
                    f"{Level.MODERATE.value if original is Level.HIGH else Level.LOW.value}): the Automated "
                    "Vulnerability Risk Adjustment Framework leaves further downgrades to a manual request"
                )
        if kind == "operational-requirement" and current.rank >= Level.HIGH.rank:
            ra_open = any(r.type == "risk-adjustment" and r.status in ("pending", "approved") for r in rows)
            if not ra_open:
                raise ValueRefused(
                    f"{poam_id} is rated {current.value}: FedRAMP does not approve an operational requirement "
                    "for a High vulnerability; request a risk adjustment first (--type ra)"
                )
        stamp = audit.now()
        before = _snapshot(conn, row.id)
        dev_id = conn.execute(
            insert(deviations).values(
                item_id=row.id,
                type=kind,
                status="pending",
                rationale=text,
                requested_risk=wanted.value if wanted else None,
                requester=actor[:200],
                requested_at=stamp,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        if files:
            conn.execute(
                insert(deviation_evidence),
                [
                    {
                        "deviation_id": dev_id,
                        "name": f.name,
                        "sha256": f.sha256,
                        "size": f.size,
                        "content": f.content,
                        "added_at": stamp,
                    }
                    for f in files
                ],
            )
        sync(conn, row.id)
        after = _snapshot(conn, row.id)
        detail: dict[str, Any] = {
            "deviation": dev_id,
            "type": kind,
            "rationale": text,
            "evidence": [f.public() for f in files],
            **_changes(before, after),
        }
        if wanted is not None:
            detail["requested_risk"] = wanted.value
            detail["original_risk"] = original.value
        if auto_approve:
            detail["auto_approve"] = True
        audit.record(conn, actor, [audit.Event("deviation.request", "item", poam_id, detail, info.id)], stamp)
        status, changed = "pending", 0
        if auto_approve:
            auto_note = decision_note or (
                "auto-approved under the CSP's automated vulnerability risk adjustment process "
                "(FedRAMP Automated Vulnerability Risk Adjustment Framework)"
            )
            changed = _decide(conn, info, row, dev_id, actor, "approved", auto_note, stamp)
            status = "approved"
        rule = info.policy
        return Result(
            poam_id,
            int(dev_id),
            kind,
            status,
            _snapshot(conn, row.id),
            rule,
            tuple(f.public() for f in files),
            changed,
        )


def approve(engine: Engine, system: str | None, poam_id: str, actor: str, kind: str, note: str | None = None) -> Result:
    """Approve the pending request of this type (by someone other than its requester)."""
    return _decision(engine, system, poam_id, actor, kind, "approved", note)


def reject(engine: Engine, system: str | None, poam_id: str, actor: str, kind: str, note: str | None = None) -> Result:
    """Reject the pending request of this type (by someone other than its requester); it may be
    requested again."""
    return _decision(engine, system, poam_id, actor, kind, "rejected", note)


def _decision(
    engine: Engine, system: str | None, poam_id: str, actor: str, kind: str, status: str, note: str | None
) -> Result:
    kind = type_name(kind)
    text = _text(note, "--note") or None
    with engine.begin() as conn:
        info = systems.resolve(conn, system, actor)
        row = _item(conn, info.id, info.name, poam_id)
        pending = conn.execute(
            select(deviations).where(
                deviations.c.item_id == row.id, deviations.c.type == kind, deviations.c.status == "pending"
            )
        ).first()
        if pending is None:
            raise UsageError(f"{poam_id} has no pending {LABELS[kind].lower()} request (--type {SHORT[kind]})")
        if _person(pending.requester) == _person(actor):
            raise ValueRefused(
                f"{actor} requested this {LABELS[kind].lower()} (#{pending.id}): the requester cannot "
                f"{'approve' if status == 'approved' else 'reject'} it; another person must decide"
            )
        if status == "approved" and row.status != "open":
            raise UsageError(f"{poam_id} is closed: its pending request can be rejected, not approved")
        stamp = audit.now()
        changed = _decide(conn, info, row, pending.id, actor, status, text, stamp)
        evidence = tuple(
            {"name": e.name, "sha256": e.sha256, "size": e.size}
            for e in conn.execute(
                select(deviation_evidence.c.name, deviation_evidence.c.sha256, deviation_evidence.c.size)
                .where(deviation_evidence.c.deviation_id == pending.id)
                .order_by(deviation_evidence.c.id)
            )
        )
        return Result(poam_id, int(pending.id), kind, status, _snapshot(conn, row.id), info.policy, evidence, changed)


def _decide(
    conn: Connection,
    info: systems.SystemInfo,
    row: Any,
    dev_id: int,
    actor: str,
    status: str,
    note: str | None,
    stamp: dt.datetime,
) -> int:
    """Record the decision, apply what an approval does to the item, audit it, refresh deadlines."""
    dev = conn.execute(select(deviations).where(deviations.c.id == dev_id)).one()
    kind = dev.type
    poam_id: str = row.poam_id
    if status == "approved" and kind == "operational-requirement":
        current = _current_level(row, _rows(conn, row.id)).fedramp
        if current.rank >= Level.HIGH.rank:
            raise ValueRefused(
                f"{poam_id} is still rated {current.value}: FedRAMP does not approve an operational requirement "
                "for a High vulnerability; approve a risk adjustment first"
            )
    before = _snapshot(conn, row.id)
    conn.execute(
        update(deviations)
        .where(deviations.c.id == dev_id)
        .values(status=status, approver=actor[:200], decided_at=stamp, decision_note=note)
    )
    closing = status == "approved" and kind == "false-positive"
    if closing:
        day = stamp.date()
        conn.execute(
            update(items)
            .where(items.c.id == row.id)
            .values(
                status="closed",
                closed_at=day,
                status_date=day,
                closed_scan_id=None,
                disposition="false-positive",
                disposition_rationale=dev.rationale,
                updated_at=stamp,
            )
        )
    else:
        conn.execute(update(items).where(items.c.id == row.id).values(updated_at=stamp))
    sync(conn, row.id)
    if status == "approved" and kind == "risk-adjustment":
        planning.reschedule(conn, row.id)  # the template's column L follows an approved adjustment
    after = _snapshot(conn, row.id)
    evidence = [
        {"name": e.name, "sha256": e.sha256}
        for e in conn.execute(
            select(deviation_evidence.c.name, deviation_evidence.c.sha256)
            .where(deviation_evidence.c.deviation_id == dev_id)
            .order_by(deviation_evidence.c.id)
        )
    ]
    detail: dict[str, Any] = {
        "deviation": dev_id,
        "type": kind,
        "rationale": dev.rationale,
        "requester": dev.requester,
        "note": note,
        "evidence": evidence,
        **_changes(before, after),
    }
    if dev.requested_risk:
        detail["requested_risk"] = dev.requested_risk
    if status == "approved" and _person(dev.requester) == _person(actor):
        detail["auto_approved"] = True
    action = "deviation.approve" if status == "approved" else "deviation.reject"
    events = [audit.Event(action, "item", poam_id, detail, info.id)]
    if closing:
        events.append(
            audit.Event(
                "item.close",
                "item",
                poam_id,
                {"closed_at": stamp.date(), "reason": "approved false positive", "deviation": dev_id},
                info.id,
            )
        )
    audit.record(conn, actor, events, stamp)
    if status != "approved" or closing:
        return 0
    return _refresh(conn, actor, row.id, f"{action} {kind} of {poam_id}", stamp, info.id)


def _json_row(r: Any, evidence: list[dict[str, object]]) -> dict[str, Any]:
    def when(value: dt.datetime | None) -> str | None:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None

    return {
        "id": r.id,
        "type": r.type,
        "status": r.status,
        "rationale": r.rationale,
        "requested_risk": r.requested_risk,
        "requester": r.requester,
        "requested_at": when(r.requested_at),
        "approver": r.approver,
        "decided_at": when(r.decided_at),
        "note": r.decision_note,
        "auto_approved": _is_auto(r),
        "evidence": evidence,
    }


def for_item(conn: Connection, item_id: int) -> list[dict[str, Any]]:
    """The item's deviation requests, oldest first, with their evidence (for `poam item show`)."""
    rows = _rows(conn, item_id)
    evidence = documents.of_deviations(conn, [r.id for r in rows])
    return [_json_row(r, evidence[r.id]) for r in rows]


def show_part(conn: Connection, item_id: int) -> dict[str, Any]:
    """What `poam item show` adds: the deviation template columns and the requests."""
    r = conn.execute(
        select(
            items.c.risk_adjustment,
            items.c.false_positive,
            items.c.operational_requirement,
            items.c.deviation_rationale,
            items.c.supporting_documents,
            items.c.auto_approve,
        ).where(items.c.id == item_id)
    ).one()
    return {
        "risk_adjustment": r.risk_adjustment,
        "false_positive": r.false_positive,
        "operational_requirement": r.operational_requirement,
        "deviation_rationale": r.deviation_rationale,
        "supporting_documents": r.supporting_documents,
        "auto_approve": r.auto_approve,
        "deviations": for_item(conn, item_id),
    }


def list_all(engine: Engine, system: str | None, status: str | None = None) -> list[dict[str, Any]]:
    """The system's deviation requests (of one status, or all), by item then time."""
    if status is not None and status not in STATUSES:
        raise ValueRefused(f"--status must be one of {', '.join(STATUSES)}")
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        query = (
            select(deviations, items.c.poam_id, items.c.seq)
            .join(items, items.c.id == deviations.c.item_id)
            .where(items.c.system_id == info.id)
            .order_by(items.c.seq, deviations.c.requested_at, deviations.c.id)
        )
        if status is not None:
            query = query.where(deviations.c.status == status)
        rows = list(conn.execute(query))
        evidence = documents.of_deviations(conn, [r.id for r in rows])
        return [{"poam_id": r.poam_id, **_json_row(r, evidence[r.id])} for r in rows]


def write_evidence(engine: Engine, system: str | None, poam_id: str, kind: str, out: Path) -> list[Path]:
    """Write the evidence files of the item's latest request of this type into folder `out`, under
    their stored (safe) names, after checking each file's SHA-256; nothing is written if one fails."""
    kind = type_name(kind)
    if not out.is_dir():
        raise UsageError(f"{out}: no such folder")
    with db.read(engine) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        row = _item(conn, info.id, info.name, poam_id)
        dev = conn.execute(
            select(deviations.c.id)
            .where(deviations.c.item_id == row.id, deviations.c.type == kind)
            .order_by(deviations.c.requested_at.desc(), deviations.c.id.desc())
            .limit(1)
        ).first()
        if dev is None:
            raise UsageError(f"{poam_id} has no {LABELS[kind].lower()} request (--type {SHORT[kind]})")
        files = list(
            conn.execute(
                select(deviation_evidence)
                .where(deviation_evidence.c.deviation_id == dev.id)
                .order_by(deviation_evidence.c.id)
            )
        )
    return documents.write_checked(files, out, poam_id)
