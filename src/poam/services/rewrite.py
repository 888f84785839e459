"""Making the stored findings and items of one weakness match its replayed history.

The replayed item lives are laid onto the weakness's stored items in order (POA&M ids and what
people entered are kept); a life without an item gets a new item (a new POA&M id); an item left
without a life (its findings now belong to another item) is deleted when imports made it and
nobody edited it, else it is kept, closed, without findings. Every change is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from poam.domain.identity import finding_identity
from poam.domain.lifecycle import uncovered_asset_lines
from poam.domain.models import ChangeKind, Level, Severity, Weakness, YesNo
from poam.domain.policy import effective_level, scheduled_completion
from poam.services import audit
from poam.services.itemmaker import ItemMaker, scanned_names, verified
from poam.services.replay import Gen, Life, Replay
from poam.services.sightings import identity_hash
from poam.services.systems import SystemInfo
from poam.store.bulk import insert_rows, update_rows
from poam.store.tables import audit_events, findings, items, milestone_changes

REASON = "an older scan imported late changed this weakness's history"
IMPORT_ACTIONS = ("item.create", "item.close", "item.redate", "item.reopen", "item.relink", "item.deadlines")
"""What imports do to an item (and what follows from the facts: its deadlines); any other action on it
(new controls, an evaluation, a vendor check-in) is a person's edit."""


@dataclass
class Outcome:
    """What rederiving changed, in POA&M ids."""

    opened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def _weakness(w: Any) -> Weakness:
    """The domain weakness from its stored row (for a new item)."""

    def split(text: str | None) -> tuple[str, ...]:
        return tuple(x for x in (text or "").split(",") if x)

    return Weakness(
        tool=w.tool,
        vuln_id=w.vuln_id,
        name=w.name,
        severity=Severity(w.severity),
        family=w.family,
        synopsis=w.synopsis,
        description=w.description,
        solution=w.solution,
        see_also=w.see_also,
        cvss2_score=w.cvss2_score,
        cvss2_vector=w.cvss2_vector,
        cvss3_score=w.cvss3_score,
        cvss3_vector=w.cvss3_vector,
        cvss4_score=w.cvss4_score,
        cvss4_vector=w.cvss4_vector,
        cves=split(w.cves),
        cwes=split(w.cwes),
        iavas=split(w.iavas),
        controls=split(w.controls),
        ccis=split(w.ccis),
        is_config=bool(w.is_config),
    )


class Rewriter:
    """Writes replayed histories back, for one import."""

    def __init__(self, conn: Connection, system: SystemInfo, now: dt.datetime) -> None:
        self.conn = conn
        self.system = system
        self.now = now
        self.maker = ItemMaker(conn, system, now)
        self.events = self.maker.events
        self._changes: list[dict[str, Any]] = []
        self._inserts: list[dict[str, Any]] = []
        self._gone: list[int] = []
        self._lifeless_rows: list[Any] = []

    def finish(self) -> None:
        self.maker.save_seq()

    def load(self, ws: dict[int, Any]) -> dict[int, tuple[list[Any], list[dict[str, Any]]]]:
        """The stored items (in POA&M order) and findings (oldest first) of these weaknesses; an item
        without findings (one a person edited, kept closed when its findings went to other items) is
        left alone."""
        by_key = {(w.tool, w.vuln_id): wid for wid, w in ws.items()}
        stored: dict[int, tuple[list[Any], list[dict[str, Any]]]] = {wid: ([], []) for wid in ws}
        owner: dict[int, int] = {}
        vuln_ids = sorted({w.vuln_id for w in ws.values()})
        for start in range(0, len(vuln_ids), 500):
            for r in self.conn.execute(
                select(items)
                .where(items.c.system_id == self.system.id, items.c.vuln_id.in_(vuln_ids[start : start + 500]))
                .order_by(items.c.seq)
            ):
                wid = by_key.get((r.tool, r.vuln_id))
                if wid is not None:
                    stored[wid][0].append(r)
                    owner[r.id] = wid
        item_ids = sorted(owner)
        for start in range(0, len(item_ids), 500):
            for f in self.conn.execute(
                select(findings).where(findings.c.item_id.in_(item_ids[start : start + 500])).order_by(findings.c.id)
            ).mappings():
                if f["weakness_id"] in stored:
                    stored[f["weakness_id"]][1].append(dict(f))
        for rows, found in stored.values():
            found.sort(key=lambda f: f["id"])
            held = {f["item_id"] for f in found}
            rows[:] = [r for r in rows if r.id in held]  # an item kept closed without findings stays so
        return stored

    def apply(
        self, wid: int, w: Any, replayed: Replay, stored: tuple[list[Any], list[dict[str, Any]]], outcome: Outcome
    ) -> None:
        """Make weakness `wid`'s items and findings what the replay says (the findings are written,
        and items left without a life dealt with, by `flush`)."""
        rows, found = stored
        ids: list[int] = []
        poam: dict[int, str] = {r.id: r.poam_id for r in rows}
        assigned = _match(rows, found, replayed.generations())
        _absorb(rows, replayed, assigned)
        for index, life in enumerate(replayed.lives):
            previous = ids[life.previous] if life.previous is not None else None
            row = assigned.get(index)
            if row is not None:
                self._update(row, life, previous, poam, outcome)
                ids.append(row.id)
            else:
                made = self._create(w, wid, life, previous, outcome)
                poam[made] = outcome.opened[-1]
                ids.append(made)
        self._findings(wid, w, found, replayed.generations(), ids)
        kept = {id(r) for r in assigned.values()}
        self._lifeless_rows += [r for r in rows if id(r) not in kept]

    def flush(self, outcome: Outcome) -> None:
        """Write the findings' changes, then deal with the items left without a life."""
        update_rows(self.conn, findings, self._changes)
        insert_rows(self.conn, findings, self._inserts)
        gone = self._gone
        for start in range(0, len(gone), 500):
            self.conn.execute(delete(findings).where(findings.c.id.in_(gone[start : start + 500])))
        self._changes, self._inserts, self._gone = [], [], []
        lifeless, self._lifeless_rows = self._lifeless_rows, []
        for row in lifeless:
            self._lifeless(row, outcome)

    def _update(self, r: Any, life: Life, previous: int | None, poam: dict[int, str], outcome: Outcome) -> None:
        values: dict[str, object] = {}
        if (
            life.status == "closed"
            and r.origin != "scan"
            and uncovered_asset_lines(r.asset_text, scanned_names(self.conn, r.id))
        ):  # an imported item also names assets no scan showed fixed: it stays open
            life = replace(life, status="open", closed_at=None, closed_scan=None)
        if life.detection != r.detection_date:
            level = effective_level(
                Level(r.original_risk), Level(r.adjusted_risk) if r.adjusted_risk else None, YesNo(r.risk_adjustment)
            )
            scheduled = scheduled_completion(life.detection, level, self.maker.policy, r.kev_due_date)
            values.update(detection_date=life.detection, scheduled_completion_date=scheduled)
            self._event(
                "item.redate",
                r.poam_id,
                detection_date=[r.detection_date, life.detection],
                scheduled_completion_date=[r.scheduled_completion_date, scheduled],
            )
        if previous != r.previous_item_id:
            values["previous_item_id"] = previous
            self._event(
                "item.relink", r.poam_id, previous_item_id=[poam.get(r.previous_item_id), poam.get(previous or -1)]
            )
        if life.status != r.status:
            if life.status == "closed":
                assert life.closed_at is not None
                self.maker.complete_milestone(r.id, r.tool, life.closed_at)
                self._event("item.close", r.poam_id, closed_at=life.closed_at, evidence_scan_id=life.closed_scan)
                outcome.closed.append(r.poam_id)
            else:
                self._drop_completion(r.id)
                self._event("item.reopen", r.poam_id, closed_at=[r.closed_at, None])
                outcome.reopened.append(r.poam_id)
        elif life.status == "closed" and life.closed_at != r.closed_at:
            assert life.closed_at is not None
            self._move_completion(r.id, r.tool, life.closed_at)
            self._event("item.redate", r.poam_id, closed_at=[r.closed_at, life.closed_at])
        current = (r.status, r.closed_at, r.closed_scan_id, r.status_date)
        wanted = (life.status, life.closed_at, life.closed_scan, life.status_date)
        if current != wanted:
            values.update(zip(("status", "closed_at", "closed_scan_id", "status_date"), wanted, strict=True))
        if values:
            values["updated_at"] = self.now
            values["rules_stale"] = True
            self.conn.execute(update(items).where(items.c.id == r.id).values(**values))

    def _create(self, w: Any, wid: int, life: Life, previous: int | None, outcome: Outcome) -> int:
        when = dt.datetime.combine(life.detection, dt.time())
        item_id, poam_id = self.maker.create(_weakness(w), wid, when, previous, REASON)
        outcome.opened.append(poam_id)
        values: dict[str, object] = {"status_date": life.status_date}
        if life.status == "closed":
            assert life.closed_at is not None
            values.update(status="closed", closed_at=life.closed_at, closed_scan_id=life.closed_scan)
            self.maker.complete_milestone(item_id, w.tool, life.closed_at)
            self._event("item.close", poam_id, closed_at=life.closed_at, evidence_scan_id=life.closed_scan)
            outcome.closed.append(poam_id)
        self.conn.execute(update(items).where(items.c.id == item_id).values(**values))
        return item_id

    def _lifeless(self, r: Any, outcome: Outcome) -> None:
        """An item whose findings all belong to other items now."""
        edited = self.conn.execute(
            select(func.count())
            .select_from(audit_events)
            .where(
                audit_events.c.system_id == self.system.id,
                audit_events.c.entity == "item",
                audit_events.c.entity_id == r.poam_id,
                audit_events.c.action.not_in(IMPORT_ACTIONS),
            )
        ).scalar_one()
        exported = self.conn.execute(
            select(func.count())
            .select_from(audit_events)
            .where(
                audit_events.c.system_id == self.system.id,
                audit_events.c.action.like("export.%"),
                audit_events.c.at >= r.created_at,
            )
        ).scalar_one()
        if not edited and not exported:  # nobody saw it or changed it: it never was
            self.conn.execute(delete(items).where(items.c.id == r.id))
            self._event("item.delete", r.poam_id, detection_date=r.detection_date, status=r.status)
            outcome.deleted.append(r.poam_id)
            return
        if r.status == "open":
            closed_at = self.now.date()
            self.conn.execute(
                update(items)
                .where(items.c.id == r.id)
                .values(status="closed", closed_at=closed_at, status_date=closed_at, updated_at=self.now)
            )
            self._event("item.close", r.poam_id, closed_at=closed_at, merged="its findings belong to other items")
            outcome.closed.append(r.poam_id)

    def _findings(self, wid: int, w: Any, found: list[dict[str, Any]], gens: list[Gen], ids: list[int]) -> None:
        paired, unused = _pairing(found, gens)
        latest: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in found:
            latest[(row["asset_id"], row["port"], row["protocol"], row["path"])] = row
        for g, have in paired:
            wanted = {
                "item_id": ids[g.life],
                "status": g.status,
                "first_seen": g.first_seen,
                "last_seen": g.last_seen,
                "fixed_at": g.fixed_at,
                "first_scan_id": g.first_scan,
                "last_scan_id": g.last_scan,
                "fixed_scan_id": g.fixed_scan,
                "authenticated": g.authenticated,
            }
            if have is not None:
                if any(have[k] != v for k, v in wanted.items()):
                    self._changes.append({"id": have["id"], **wanted})
                continue
            self._inserts.append(self._new_row(wid, w, g.place, latest.get(g.place), wanted))
        self._gone += [r["id"] for r in unused]  # records the history no longer has

    def _new_row(
        self, wid: int, w: Any, place: tuple[Any, ...], like: dict[str, Any] | None, wanted: dict[str, Any]
    ) -> dict[str, Any]:
        asset_id, port, protocol, path = place
        ident = identity_hash(finding_identity(wid, asset_id, port, protocol, path))
        return {
            "system_id": self.system.id,
            "weakness_id": wid,
            "asset_id": asset_id,
            "ident": ident,
            "tool": w.tool,
            "port": port,
            "protocol": protocol,
            "path": path,
            "service": like["service"] if like else None,
            "evidence": like["evidence"] if like else None,
            "is_config": bool(w.is_config),
            **wanted,
        }

    def _completion(self, item_id: int) -> int | None:
        return self.conn.execute(
            select(func.max(milestone_changes.c.id)).where(
                milestone_changes.c.item_id == item_id,
                milestone_changes.c.kind == ChangeKind.COMPLETE.value,
                milestone_changes.c.actor.is_(None),  # only poam's own: a person's Complete change stays
            )
        ).scalar_one_or_none()

    def _drop_completion(self, item_id: int) -> None:
        done = self._completion(item_id)
        if done is not None:
            self.conn.execute(delete(milestone_changes).where(milestone_changes.c.id == done))

    def _move_completion(self, item_id: int, tool: str, closed_at: dt.date) -> None:
        done = self._completion(item_id)
        if done is not None:
            self.conn.execute(
                update(milestone_changes)
                .where(milestone_changes.c.id == done)
                .values(change_date=closed_at, text=verified(closed_at, tool))
            )

    def _event(self, action: str, poam_id: str, **detail: object) -> None:
        self.events.append(audit.Event(action, "item", poam_id, {"reason": REASON, **detail}, self.system.id))


def _absorb(rows: list[Any], replayed: Replay, assigned: dict[int, Any]) -> None:
    """An approved false positive (`services.deviations`) is a person's decision the scans cannot
    undo: the replayed lives from its own on become its one life, which keeps the item's closure;
    their findings are recorded on it and no later life reopens it or opens a new item."""
    fp = next((r for r in reversed(rows) if r.status == "closed" and r.false_positive == "Yes"), None)
    if fp is None:
        return
    mine = next((life for life, r in assigned.items() if r is fp), None)
    if mine is None:  # its findings were matched elsewhere: it takes the first life after the others
        mine = max(assigned, default=-1) + 1
        if mine >= len(replayed.lives):
            return
    merged = replayed.lives[mine:]
    for g in replayed.generations():
        if g.life > mine:
            g.life = mine
    life = merged[0]
    life.detection = min(x.detection for x in merged)
    life.status, life.closed_at, life.closed_scan, life.status_date = (
        "closed",
        fp.closed_at,
        fp.closed_scan_id,
        fp.status_date,
    )
    del replayed.lives[mine + 1 :]
    for index in [i for i in assigned if i > mine]:
        del assigned[index]  # that row is left without a life (see `_lifeless`)
    assigned[mine] = fp


def _pairing(
    found: list[dict[str, Any]], gens: list[Gen]
) -> tuple[list[tuple[Gen, dict[str, Any] | None]], list[dict[str, Any]]]:
    """Each replayed generation with the stored record that will hold it, and the stored records
    left over. A stored record belongs to the generation whose life covers its first sighting (the
    latest that began by then, else the first); of several, the oldest record holds it."""
    by_place: dict[tuple[Any, ...], list[Gen]] = {}
    for g in gens:
        by_place.setdefault(g.place, []).append(g)
    held: dict[int, dict[str, Any]] = {}
    unused: list[dict[str, Any]] = []
    for row in found:  # oldest first
        mine = by_place.get((row["asset_id"], row["port"], row["protocol"], row["path"]))
        if not mine:
            unused.append(row)
            continue
        cover = mine[0]
        for g in mine:
            if g.first_seen <= row["first_seen"]:
                cover = g
        if id(cover) in held:
            unused.append(row)
        else:
            held[id(cover)] = row
    return [(g, held.get(id(g))) for g in gens], unused


def _match(rows: list[Any], found: list[dict[str, Any]], gens: list[Gen]) -> dict[int, Any]:
    """Which stored item each replayed life continues: the one that already holds most of its
    findings (ties: the older item), so that an item keeps its POA&M id, dates and what people
    entered, and never takes over another item's findings by position."""
    overlap: dict[tuple[int, int], int] = {}
    for g, row in _pairing(found, gens)[0]:
        if row is None:
            continue
        key = (g.life, row["item_id"])
        overlap[key] = overlap.get(key, 0) + 1
    by_id = {r.id: r for r in rows}
    order = {r.id: n for n, r in enumerate(rows)}  # rows come in POA&M id (seq) order
    assigned: dict[int, Any] = {}
    taken: set[int] = set()
    for (life, item_id), _n in sorted(overlap.items(), key=lambda kv: (-kv[1], order.get(kv[0][1], 0), kv[0][0])):
        if life in assigned or item_id in taken or item_id not in by_id:
            continue
        assigned[life] = by_id[item_id]
        taken.add(item_id)
    return assigned
