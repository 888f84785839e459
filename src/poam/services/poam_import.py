"""Importing the items of a POA&M kept elsewhere (a FedRAMP workbook, an OSCAL POA&M).

    import_items(engine, path, records, system=None, actor="cli", origin="poam-xlsx",
                 *, warnings=(), file_format=None, system_names=()) -> PoamImportResult

`records` are `domain.imported.ImportedItem`s, in document order, as a reader gives them;
`origin` is `poam-xlsx` or `oscal` (stored on each item created); `warnings` are the reader's
lines (`where: problem`), reported with the result; `file_format` names the format in the
result and the audit event (default: the origin); `system_names` are the names the document
gives its system (see `import_items`). Everything is written in ONE transaction with
its audit events (the log seals the items): on any error nothing is written. The system is
locked for writing as a scan import locks it; `system=None` is the only system (or `default`,
created in an empty database).

What one record becomes:
- a new POA&M id: an item with that id, as given (`origin`, the Asset Identifier cell kept in
  `asset_text`, details with no column in `extra`); its planned milestones and milestone changes;
  a vendor check-in on its Last Vendor Check-in Date; a deviation request per Risk Adjustment,
  False Positive and Operational Requirement that says `Pending` (pending) or `Yes` (approved: the
  workbook records the AO's decision, CG columns U-W "Pending -> Yes (AO approved)"; approver
  `imported`, or the requester itself when Auto-Approve says Yes), with the Deviation Rationale
  part of its type (`Risk Adjustment : ...`) as rationale; no milestone at all: poam's automatic
  first one (every item has one, rules-2026 / CG column M), while the workbook cell stays empty.
- an existing POA&M id: the item is updated where the record differs from what poam would
  export for it now (cell by cell): the changed columns are set, new milestones and milestone
  changes added, deviation requests moved to the status the record gives; one
  `item.import_update` event lists each change as [before, after]. Items that came from scans
  keep what the scans decide (detector, source id, assets, detection date, original rating, open
  or closed): a record that differs there is warned about. Milestones already reported are
  permanent (CG column M): a record that changes one is warned about, never applied.
- the same document imported again: every cell equal, nothing is written (no event).

The system's `next_seq` moves past every imported id of the form `<prefix><number>`, so items
poam creates later never take an imported id. Cells poam would write otherwise (a text date, a
control list spelled another way) are kept in `extra["cells"]` (`domain.kept_cells`) and the
workbook export writes them back as given while the item is unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, select, update

from poam.domain import kept_cells
from poam.domain.imported import ImportedItem
from poam.domain.models import ItemStatus, Milestone, MilestoneChange, PoamItem, YesNo
from poam.errors import InputError, printable
from poam.exporters.fedramp_xlsx import HEADERS, row_values
from poam.services import audit, deadlines
from poam.services.deviations import LABELS
from poam.services.importer import file_sha256
from poam.services.items import load
from poam.store.tables import (
    deviations,
    items,
    milestone_changes,
    milestones,
    systems,
    vendor_checkins,
)

ORIGINS = ("poam-xlsx", "oscal")
BATCH = 500
"""New items are inserted this many at a time."""
MAX_POAM_ID = 100
"""The longest POA&M id the store keeps (its column)."""
APPROVER = "imported"
"""The approver of a deviation the imported POA&M records as approved (the AO's decision, made
outside poam)."""
PLACEHOLDER = "Remediate and confirm the fix with a follow-up scan."
"""The automatic first milestone of an imported item that has none."""

_DEVIATION_COLUMNS = (
    ("risk-adjustment", "risk_adjustment", "Risk Adjustment"),
    ("false-positive", "false_positive", "False Positive"),
    ("operational-requirement", "operational_requirement", "Operational Requirement"),
)
_CELL_FIELDS: dict[str, tuple[str, ...]] = {
    "Controls": ("controls",),
    "Weakness Name": ("weakness_name",),
    "Weakness Description": ("weakness_description",),
    "Weakness Detector Source": ("detector_source", "tool"),
    "Weakness Source Identifier": ("vuln_id",),
    "Asset Identifier": ("asset_text",),
    "Point of Contact": ("point_of_contact", "poc_set"),
    "Resources Required": ("resources_required", "hours", "cost", "technology"),
    "Overall Remediation Plan": ("remediation_plan",),
    "Original Detection Date": ("detection_date",),
    "Scheduled Completion Date": ("scheduled_completion_date",),
    "Status Date": ("status_date",),
    "Vendor Dependency": ("vendor_dependency",),
    "Last Vendor Check-in Date": ("last_vendor_checkin",),
    "Vendor Dependent Product Name": ("vendor_product",),
    "Original Risk Rating": ("original_risk",),
    "Adjusted Risk Rating": ("adjusted_risk",),
    "Risk Adjustment": ("risk_adjustment",),
    "False Positive": ("false_positive",),
    "Operational Requirement": ("operational_requirement",),
    "Deviation Rationale": ("deviation_rationale",),
    "Supporting Documents": ("supporting_documents",),
    "Comments": ("comments", "vendor_release_date"),
    "Auto-Approve": ("auto_approve",),
    "Binding Operational Directive 22-01 tracking": ("kev",),
    "Binding Operational Directive 22-01 Due Date": ("kev_due_date",),
    "CVE": ("cves",),
    "Service Name": ("service_names",),
}
"""The item columns each workbook cell sets (milestones, changes and the sheet are handled apart)."""
_SCAN_OWNED = (
    "Weakness Detector Source",
    "Weakness Source Identifier",
    "Asset Identifier",
    "Original Detection Date",
    "Original Risk Rating",
)
"""Cells of an item that came from scans which the scans decide, not an imported document."""


@dataclass
class PoamImportResult:
    """What importing one POA&M document did."""

    source: str
    sha256: str
    format: str
    system: str
    origin: str
    items: int = 0
    """Records the document gave (left-out rows are warnings)."""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    created_ids: list[str] = field(default_factory=list)
    updated_ids: list[str] = field(default_factory=list)
    warnings: int = 0
    warning_lines: list[str] = field(default_factory=list)

    def warn(self, where: str, problem: str) -> None:
        self.warnings += 1
        if len(self.warning_lines) < 1000:
            self.warning_lines.append(f"{where}: {problem}")


def import_items(
    engine: Engine,
    path: Path | str,
    records: Iterable[ImportedItem],
    system: str | None = None,
    actor: str = "cli",
    origin: str = "poam-xlsx",
    *,
    warnings: Sequence[str] = (),
    file_format: str | None = None,
    system_names: Sequence[str] = (),
) -> PoamImportResult:
    """Write the records of one POA&M document in one transaction (see the module's text).

    Records are matched to the system's items by POA&M id alone, so a document of another system
    would update unrelated items that share an id. `system_names` are the names the document
    gives its system, as its reader gives them (the workbook's System Name; an OSCAL POA&M's
    title and FedRAMP system-id, `oscal_poam.system_names`). When it gives some and none is the
    system's name or FedRAMP id (compared whatever the case, with runs of spaces as one), the
    result's first warning line says so (`document: names system ...`); the import still goes
    ahead (a warning, not a refusal: a system may have been renamed, and `--system` already picks
    the target). No warning when the document names no system, or when the system held no item
    before (a new system, the `default` one an empty database gets: nothing to mix up).
    """
    from poam.services.locks import system_for_writing

    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS}, not {origin!r}")
    path = Path(path)
    source = str(path)
    try:
        sha = file_sha256(path)
    except OSError as exc:
        raise InputError(source, f"cannot read: {exc.strerror}") from None
    result = PoamImportResult(source=source, sha256=sha, format=file_format or origin, system="", origin=origin)
    result.warnings, result.warning_lines = len(warnings), list(warnings[:1000])
    chosen = _distinct(list(records), result)
    if not chosen:
        first = f" (first: {warnings[0]})" if warnings else ""
        raise InputError(source, f"no POA&M item could be read{first}")
    with engine.begin() as conn:
        info = system_for_writing(conn, system, actor, create_default=True)
        result.system = info.name
        holds = conn.execute(select(func.count()).where(items.c.system_id == info.id)).scalar_one()
        other = _other_system(system_names, info) if holds else None  # an empty system: nothing to mix up
        if other is not None:
            result.warnings += 1
            result.warning_lines = [f"document: {other}", *result.warning_lines][:1000]
        _Writer(conn, info, actor, result, path.name).run(chosen)
    return result


def _plain_name(text: str) -> str:
    """A name as compared: runs of spaces as one, whatever the case."""
    return " ".join(text.split()).casefold()


def _other_system(names: Sequence[str], info: Any) -> str | None:
    """The warning when the document names a system and none of its names is this system's name
    or FedRAMP id; None otherwise (or when it names none)."""
    given = [" ".join(n.split()) for n in names if n and n.strip()]
    if not given:
        return None
    ours = {_plain_name(info.name)} | ({_plain_name(info.fedramp_id)} if info.fedramp_id else set())
    if any(_plain_name(n) in ours for n in given):
        return None
    shown = " / ".join(repr(printable(n[:100])) for n in given)
    return (
        f"names system {shown}, not {printable(info.name)!r} (the system it is imported into); "
        "its items are matched to this system's by POA&M id alone"
    )


@dataclass(frozen=True)
class DocumentContent:
    """What a reader gives: the records, the warning lines (`where: problem`) and the names the
    document gives its system (`import_items` compares them with the system imported into)."""

    records: list[ImportedItem]
    warnings: list[str]
    system_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentReader:
    """A reader of POA&M documents for `poam import`: `looks_like` detects the document by its
    content, `read` gives its records, warning lines and system names (or raises `InputError`);
    `name` is what `poam formats` calls the format."""

    format: str
    origin: str
    looks_like: Callable[[Path], bool]
    read: Callable[[Path], DocumentContent]
    name: str = ""


def _workbook(path: Path) -> DocumentContent:
    from poam.parsers import poam_xlsx

    book = poam_xlsx.read(path)
    return DocumentContent(book.items, book.warnings, (book.system_name,) if book.system_name else ())


def _looks_like_workbook(path: Path) -> bool:
    from poam.parsers import poam_xlsx

    return poam_xlsx.looks_like(path)


def _oscal(path: Path) -> DocumentContent:
    from poam.parsers import oscal_poam

    document = oscal_poam.load(path)
    records, lines = oscal_poam.records(document)
    return DocumentContent(records, lines, oscal_poam.system_names(document))


def _looks_like_oscal(path: Path) -> bool:
    from poam.parsers import oscal_poam

    return oscal_poam.looks_like(path)


READERS: list[DocumentReader] = [
    DocumentReader(
        "fedramp-poam-xlsx", "poam-xlsx", _looks_like_workbook, _workbook, "FedRAMP POA&M workbook (.xlsx, .xlsm)"
    ),
    DocumentReader("oscal-poam", "oscal", _looks_like_oscal, _oscal, "OSCAL POA&M (JSON or XML)"),
]
"""The POA&M document readers `poam import` tries before the scan parsers (add one to route a format)."""


def reader_for(path: Path, format_id: str | None = None) -> DocumentReader | None:
    """The POA&M reader of this file: the one `format_id` names, else the first that recognises
    the content; None when it is not a POA&M document (a scan file)."""
    if format_id is not None:
        return next((r for r in READERS if r.format == format_id), None)
    if not path.is_file():
        return None
    return next((r for r in READERS if r.looks_like(path)), None)


def import_document(
    engine: Engine, path: Path, reader: DocumentReader, system: str | None = None, actor: str = "cli"
) -> PoamImportResult:
    """Read a POA&M document with its reader and import its items (`import_items`)."""
    read = reader.read(path)
    return import_items(
        engine,
        path,
        read.records,
        system,
        actor,
        reader.origin,
        warnings=read.warnings,
        file_format=reader.format,
        system_names=read.system_names,
    )


def describe(r: PoamImportResult) -> str:
    """One line saying what an import of a POA&M document did."""
    warned = f"; {r.warnings} warning(s)" if r.warnings else ""
    return (
        f"{printable(r.source)}: {r.format}, {r.items} item(s) read into system {printable(r.system)}: "
        f"{r.created} created, {r.updated} updated, {r.unchanged} unchanged{warned}"
    )


def _distinct(records: list[ImportedItem], result: PoamImportResult) -> list[ImportedItem]:
    """The records with a usable POA&M id, the first of each id (a repeated id is warned about)."""
    seen: dict[str, str] = {}
    out = []
    for rec in records:
        result.items += 1
        poam_id = rec.item.poam_id
        if not poam_id.strip() or len(poam_id) > MAX_POAM_ID:
            problem = "no POAM ID" if not poam_id.strip() else f"POAM ID longer than {MAX_POAM_ID} characters"
            result.warn(rec.where, f"{problem}; left out")
            continue
        if poam_id in seen:
            result.warn(rec.where, f"POAM ID {printable(poam_id)} again (first at {seen[poam_id]}); left out")
            continue
        seen[poam_id] = rec.where
        out.append(rec)
    return out


def _plain(value: Any) -> Any:
    """A value as an audit event shows it."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class _Writer:
    def __init__(self, conn: Connection, info: Any, actor: str, result: PoamImportResult, filename: str) -> None:
        self.conn = conn
        self.info = info
        self.actor = actor[:200]
        self.result = result
        self.filename = filename
        self.now = audit.now()
        self.events: list[audit.Event] = []
        self.next_seq: int = conn.execute(
            select(systems.c.next_seq).where(systems.c.id == info.id).with_for_update()
        ).scalar_one()
        self.pattern = re.compile(re.escape(info.id_prefix) + r"0*(\d{1,9})")

    def run(self, records: list[ImportedItem]) -> None:
        stored = {i.poam_id: i for i in load(self.conn, self.info.id, "all")}
        ids = {
            r.poam_id: r.id
            for r in self.conn.execute(select(items.c.poam_id, items.c.id).where(items.c.system_id == self.info.id))
        }
        touched: list[int] = []
        new: list[tuple[ImportedItem, PoamItem]] = []
        for rec in records:
            item = self._final(rec)
            old = stored.get(item.poam_id)
            if old is None:
                new.append((rec, item))
            elif self._update(rec, item, old, ids[old.poam_id]):
                touched.append(ids[old.poam_id])
            else:
                self.result.unchanged += 1
        for start in range(0, len(new), BATCH):
            touched += self._create(new[start : start + BATCH])
        self.conn.execute(update(systems).where(systems.c.id == self.info.id).values(next_seq=self.next_seq))
        r = self.result
        if not r.created_ids and not r.updated_ids:
            return  # the same document again: nothing to record
        detail = {
            "file": r.source,
            "sha256": r.sha256,
            "format": r.format,
            "origin": r.origin,
            "items": r.items,
            "created": r.created_ids,
            "updated": r.updated_ids,
            "unchanged": r.unchanged,
            "warnings": r.warnings,
        }
        events = [audit.Event("poam.import", "system", str(self.info.id), detail, self.info.id), *self.events]
        audit.record(self.conn, self.actor, events, self.now)
        deadlines.mark_stale(self.conn, items.c.id.in_(touched))
        deadlines.refresh(self.conn, self.actor, f"POA&M imported: {r.source}", self.now, self.info.id)

    # -- the item as it will be stored ---------------------------------------------------------

    def _final(self, rec: ImportedItem) -> PoamItem:
        """The record's item with its origin, Asset Identifier text and kept cells: the cells the
        document gave are those of the record (with the reader's kept cells), and poam keeps the
        ones it would write otherwise, including an automatic first milestone it adds."""
        extra = dict(rec.extra)
        given = row_values(
            dataclasses.replace(rec.item, origin=self.result.origin, asset_text=rec.asset_text, extra=extra)
        )
        item = rec.item
        if not item.milestones:
            first = Milestone(1, item.scheduled_completion_date, PLACEHOLDER, placeholder=True)
            item = dataclasses.replace(item, milestones=(first,))
        extra.pop(kept_cells.KEY, None)
        bare = dataclasses.replace(item, origin=self.result.origin, asset_text=rec.asset_text, extra={})
        cells = kept_cells.kept(HEADERS, given, row_values(bare))
        if cells:
            extra[kept_cells.KEY] = cells
        return dataclasses.replace(bare, extra=extra)

    def _columns(self, item: PoamItem) -> dict[str, Any]:
        """The item's `items` columns (those an import sets)."""
        return {
            "status": item.status.value,
            "tool": item.detector_source[:200],
            "vuln_id": item.source_identifier[:200],
            "is_config": item.is_config,
            "controls": ",".join(item.controls),
            "weakness_name": item.weakness_name,
            "weakness_description": item.weakness_description,
            "detector_source": item.detector_source[:200],
            "point_of_contact": item.point_of_contact,
            "poc_set": item.point_of_contact is not None,
            "resources_required": item.resources_required,
            "remediation_plan": item.remediation_plan,
            "recommendation": item.recommendation,
            "detection_date": item.detection_date,
            "scheduled_completion_date": item.scheduled_completion_date,
            "status_date": item.status_date,
            "vendor_dependency": item.vendor_dependency.value,
            "last_vendor_checkin": item.last_vendor_checkin,
            "vendor_product": item.vendor_product,
            "original_risk": item.original_risk.value,
            "adjusted_risk": item.adjusted_risk.value if item.adjusted_risk else None,
            "risk_adjustment": item.risk_adjustment.value,
            "false_positive": item.false_positive.value,
            "operational_requirement": item.operational_requirement.value,
            "deviation_rationale": item.deviation_rationale,
            "supporting_documents": item.supporting_documents,
            "comments": item.comments,
            "auto_approve": item.auto_approve.value,
            "kev": item.kev,
            "kev_due_date": item.kev_due_date,
            "cves": ",".join(item.cves),
            "service_names": item.service_names,
            "closed_at": (item.closed_at or item.status_date) if item.status is ItemStatus.CLOSED else None,
            "hours": item.hours,
            "cost": item.cost,
            "technology": item.technology,
            "reported_at": item.reported_at,
            "vendor_release_date": item.vendor_release_date,
            "asset_text": item.asset_text,
            "extra": json.dumps(dict(item.extra), sort_keys=True, ensure_ascii=False),
        }

    # -- a new item ----------------------------------------------------------------------------

    def _seq(self, poam_id: str) -> int:
        """The item's sequence number: the number of an id of the system's form (`V-12`: 12), which
        `next_seq` then moves past; else the next one."""
        m = self.pattern.fullmatch(poam_id)
        if m:
            seq = int(m.group(1))
            self.next_seq = max(self.next_seq, seq + 1)
            return seq
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def _create(self, batch: list[tuple[ImportedItem, PoamItem]]) -> list[int]:
        """Insert new items (in bulk) with their milestones, changes, deviations and check-ins."""
        rows = [
            {
                "system_id": self.info.id,
                "poam_id": item.poam_id,
                "seq": self._seq(item.poam_id),
                **self._columns(item),
                "origin": self.result.origin,
                "created_at": self.now,
                "updated_at": self.now,
            }
            for _rec, item in batch
        ]
        stmt = insert(items).returning(items.c.id, sort_by_parameter_order=True)
        made = [int(r.id) for r in self.conn.execute(stmt, rows)]
        children: dict[Table, list[dict[str, Any]]] = {
            milestones: [],
            milestone_changes: [],
            deviations: [],
            vendor_checkins: [],
        }
        for item_id, (rec, item) in zip(made, batch, strict=True):
            self._milestones(item_id, item.milestones, (), children[milestones])
            self._changes(item_id, item.milestone_changes, (), children[milestone_changes])
            self._deviations(item_id, item, {}, children[deviations])
            if item.last_vendor_checkin is not None:
                self._checkin(item_id, item, children[vendor_checkins])
            self._created(rec, item)
        for table, values in children.items():
            if values:
                self.conn.execute(insert(table), values)
        return made

    def _created(self, rec: ImportedItem, item: PoamItem) -> None:
        detail: dict[str, Any] = {
            "file": self.result.source,
            "where": rec.where,
            "origin": self.result.origin,
            "status": item.status.value,
            "original_risk": item.original_risk.value,
            "detection_date": item.detection_date,
            "scheduled_completion_date": item.scheduled_completion_date,
            "milestones": len(item.milestones),
            "milestone_changes": len(item.milestone_changes),
        }
        self.events.append(audit.Event("item.import", "item", item.poam_id, detail, self.info.id))
        self.result.created += 1
        self.result.created_ids.append(item.poam_id)

    def _milestones(
        self,
        item_id: int,
        wanted: Sequence[Milestone],
        stored: Sequence[Milestone],
        into: list[dict[str, Any]] | None = None,
    ) -> list[str]:
        """Insert the planned milestones not stored yet (by number; into a batch when given); a
        stored one that differs is changed in place (the caller decides when it may be). Returns
        what was done."""
        have = {m.number: m for m in stored}
        done: list[str] = []
        for m in wanted:
            old = have.get(m.number)
            values = {
                "due_date": m.date,
                "text": m.text,
                "status": "complete" if m.status == "complete" else "open",
                "completed_on": m.completed_on,
                "placeholder": m.placeholder,
                "actor": None if m.placeholder else (m.by or self.actor),
            }
            if old is None:
                self._insert(
                    milestones, {"item_id": item_id, "number": m.number, "created_at": self.now, **values}, into
                )
                done.append(f"({m.number}) added")
            elif (old.date, old.text) != (m.date, m.text):
                self.conn.execute(
                    update(milestones)
                    .where(milestones.c.item_id == item_id, milestones.c.number == m.number)
                    .values(updated_at=self.now, **values)
                )
                done.append(f"({m.number}) replaced")
        return done

    def _insert(self, table: Table, row: dict[str, Any], into: list[dict[str, Any]] | None) -> None:
        """Insert a row now, or add it to a batch inserted later."""
        if into is None:
            self.conn.execute(insert(table).values(**row))
        else:
            into.append(row)

    def _changes(
        self,
        item_id: int,
        wanted: Sequence[MilestoneChange],
        stored: Sequence[MilestoneChange],
        into: list[dict[str, Any]] | None = None,
    ) -> int:
        have = {(c.number, c.kind, c.date, c.text) for c in stored}
        new = [c for c in wanted if (c.number, c.kind, c.date, c.text) not in have]
        for c in new:
            row = {
                "item_id": item_id,
                "number": c.number,
                "kind": c.kind.value,
                "change_date": c.date,
                "text": c.text,
                "created_at": self.now,
                "actor": c.by or self.actor,
            }
            self._insert(milestone_changes, row, into)
        return len(new)

    def _checkin(self, item_id: int, item: PoamItem, into: list[dict[str, Any]] | None = None) -> None:
        row = {
            "item_id": item_id,
            "checkin_date": item.last_vendor_checkin,
            "note": f"Last vendor check-in recorded in {self.filename[:200]}",
            "product": item.vendor_product,
            "actor": self.actor,
            "recorded_at": self.now,
        }
        self._insert(vendor_checkins, row, into)

    def _deviations(
        self, item_id: int, item: PoamItem, stored: dict[str, str], into: list[dict[str, Any]] | None = None
    ) -> list[str]:
        """Move each deviation type to the status the record gives (`Yes` approved, `Pending`
        pending, `No` none), from `stored` (the latest request's status by type). Returns what was done."""
        parts = _rationales(item.deviation_rationale)
        done: list[str] = []
        for kind, column, label in _DEVIATION_COLUMNS:
            answer = getattr(item, column)
            have = stored.get(kind)
            want = {YesNo.YES: "approved", YesNo.PENDING: "pending"}.get(answer)
            if want == have or (want is None and have in (None, "rejected")):
                continue
            if want is None and have == "approved":
                self.result.warn(item.poam_id, f"{label} is No but an approved one is recorded; kept")
                continue
            if want is None or (want == "approved" and have == "pending"):
                status = "rejected" if want is None else "approved"
                self.conn.execute(
                    update(deviations)
                    .where(deviations.c.item_id == item_id, deviations.c.type == kind, deviations.c.status == "pending")
                    .values(
                        status=status,
                        approver=self._approver(item, kind),
                        decided_at=self.now,
                        decision_note=f"{label} is {answer.value} in {self.filename[:200]}",
                    )
                )
                done.append(f"{kind} {status}")
                continue
            auto = want == "approved" and kind == "risk-adjustment" and item.auto_approve is YesNo.YES
            risk = item.adjusted_risk.value if item.adjusted_risk else None
            row = {
                "item_id": item_id,
                "type": kind,
                "status": want,
                "rationale": parts.get(kind) or item.deviation_rationale or f"(no rationale in {self.filename[:200]})",
                "requested_risk": risk if kind == "risk-adjustment" else None,
                "requester": self.actor,
                "requested_at": self.now,
                "approver": (self.actor if auto else APPROVER) if want == "approved" else None,
                "decided_at": self.now if want == "approved" else None,
                "decision_note": f"{label} is {answer.value} in {self.filename[:200]}" if want == "approved" else None,
            }
            self._insert(deviations, row, into)
            done.append(f"{kind} {want}")
        return done

    def _approver(self, item: PoamItem, kind: str) -> str:
        if kind == "risk-adjustment" and item.auto_approve is YesNo.YES:
            return self.actor
        return APPROVER

    # -- an existing item ----------------------------------------------------------------------

    def _update(self, rec: ImportedItem, item: PoamItem, old: PoamItem, item_id: int) -> bool:
        """Apply what differs; False when nothing does."""
        now_cells = row_values(old)
        new_cells = row_values(item)
        differing = [h for h, a, b in zip(HEADERS, now_cells, new_cells, strict=True) if _cell(a) != _cell(b)]
        scan_item = old.origin == "scan"
        moved = (old.status, old.is_config) != (item.status, item.is_config)
        if scan_item:
            refused = [h for h in differing if h in _SCAN_OWNED]
            if moved:
                refused.append("sheet (open, closed or configuration finding)")
                moved = False
            if refused:
                self.result.warn(
                    rec.where,
                    f"{printable(item.poam_id)} came from scans, which decide its {', '.join(refused)}; "
                    "kept as poam has it",
                )
            differing = [h for h in differing if h not in _SCAN_OWNED]
        row = self.conn.execute(select(items).where(items.c.id == item_id)).one()
        wanted = self._columns(item)
        fields = {f for h in differing for f in _CELL_FIELDS.get(h, ())}
        if moved:
            fields |= {"status", "is_config", "closed_at"}
        if not scan_item:
            fields.add("extra")
        values = {f: wanted[f] for f in sorted(fields) if getattr(row, f) != wanted[f]}
        changes: dict[str, Any] = {f: [_plain(getattr(row, f)), _plain(v)] for f, v in values.items() if f != "extra"}
        if "Planned Milestones" in differing:
            done = self._milestones_update(rec, item, old, item_id)
            if done:
                changes["milestones"] = done
        if "Milestone Changes" in differing:
            added = self._changes(item_id, item.milestone_changes, old.milestone_changes)
            if added:
                changes["milestone_changes"] = f"{added} added"
        if {"Risk Adjustment", "False Positive", "Operational Requirement"} & set(differing):
            latest: dict[str, str] = {}
            for d in self.conn.execute(
                select(deviations.c.type, deviations.c.status)
                .where(deviations.c.item_id == item_id)
                .order_by(deviations.c.requested_at, deviations.c.id)
            ):
                latest[d.type] = d.status
            done = self._deviations(item_id, item, latest)
            if done:
                changes["deviations"] = done
        if "last_vendor_checkin" in values and item.last_vendor_checkin is not None:
            self._checkin(item_id, item)
        if not values and not changes:
            return False
        if values:
            self.conn.execute(update(items).where(items.c.id == item_id).values(**values, updated_at=self.now))
        if changes:
            detail = {"file": self.result.source, "where": rec.where, **changes}
            self.events.append(audit.Event("item.import_update", "item", item.poam_id, detail, self.info.id))
        else:  # only kept cells changed (a spelling): still sealed, under the import's event
            self.events.append(
                audit.Event("item.import_update", "item", item.poam_id, {"file": self.result.source}, self.info.id)
            )
        self.result.updated += 1
        self.result.updated_ids.append(item.poam_id)
        return True

    def _milestones_update(self, rec: ImportedItem, item: PoamItem, old: PoamItem, item_id: int) -> list[str]:
        """New planned milestones are added; one that differs from the stored one replaces it while
        the item is not reported (or the stored one is poam's automatic one); else it is warned about."""
        stored = {m.number: m for m in old.milestones}
        allowed: list[Milestone] = []
        for m in item.milestones:
            before = stored.get(m.number)
            if m.placeholder and old.milestones:
                continue  # poam's automatic one for a record without milestones: never over a real one
            if (
                before is None
                or before.placeholder
                or old.reported_at is None
                or (before.date, before.text)
                == (
                    m.date,
                    m.text,
                )
            ):
                allowed.append(m)
            else:
                self.result.warn(
                    rec.where,
                    f"milestone ({m.number}) of {printable(item.poam_id)} differs from the one recorded, which is "
                    "permanent once reported (record the change in Milestone Changes); kept",
                )
        return self._milestones(item_id, allowed, old.milestones)


def _cell(value: Any) -> Any:
    return kept_cells.plain(value)


_RATIONALE = re.compile(
    r"^\s*(risk adjustment|false positive|operational requirement)\s*:\s*", re.IGNORECASE | re.MULTILINE
)
_KINDS = {label.lower(): kind for kind, label in LABELS.items()}


def _rationales(text: str | None) -> dict[str, str]:
    """The Deviation Rationale cell's `Deviation Type : Rationale` parts, by type."""
    out: dict[str, str] = {}
    if not text:
        return out
    matches = list(_RATIONALE.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[m.end() : end].strip()
        kind = _KINDS.get(" ".join(m.group(1).lower().split()))
        if kind and body:
            out.setdefault(kind, body)
    return out
