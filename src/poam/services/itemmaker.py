"""Creating and settling POA&M items during an import.

One open item per system, detector and scanner vulnerability id. A new item gets the next
POA&M id (never reused), its original risk rating, its scheduled completion date under the
system's policy (capped by a KEV due date) and a first planned milestone. After the findings
are in, every touched item is settled: closed when all its findings are fixed, its detection
date widened to the earliest sighting, its status date moved to the latest change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, insert, or_, select, update

from poam.domain.controls import controls_for_item
from poam.domain.identity import item_key
from poam.domain.lifecycle import item_status, uncovered_asset_lines
from poam.domain.models import ChangeKind, ItemStatus, Level, Weakness, YesNo
from poam.domain.policy import effective_level, scheduled_completion
from poam.domain.rating import original_rating
from poam.domain.remediation import default_plan
from poam.services import audit, cci, kev, rulesets
from poam.services.systems import SystemInfo
from poam.store.tables import assets, findings, items, milestone_changes, milestones, systems, weaknesses

_DEFINITION = (
    "name",
    "severity",
    "family",
    "synopsis",
    "description",
    "solution",
    "see_also",
    "cvss2_score",
    "cvss2_vector",
    "cvss3_score",
    "cvss3_vector",
    "cvss4_score",
    "cvss4_vector",
    "is_config",
)


def _definition(w: Weakness) -> dict[str, object]:
    values: dict[str, object] = {f: getattr(w, f) for f in _DEFINITION}
    for name, size in (("family", 200), ("cvss2_vector", 200), ("cvss3_vector", 200), ("cvss4_vector", 300)):
        if values[name]:
            values[name] = str(values[name])[:size]  # scanner text: cut to the column, never refused
    values["severity"] = w.severity.value
    values["cves"] = ",".join(w.cves)
    values["cwes"] = ",".join(w.cwes)
    values["iavas"] = ",".join(w.iavas)
    values["controls"] = ",".join(w.controls)
    values["ccis"] = ",".join(w.ccis)
    return values


def scanned_names(conn: Connection, item_id: int) -> set[str]:
    """The names (lower case) of every asset a scan found the item's weakness on: identifier, IP
    address, host name, NetBIOS name and name (`lifecycle.uncovered_asset_lines`)."""
    query = (
        select(assets.c.identifier, assets.c.ip, assets.c.fqdn, assets.c.netbios, assets.c.name)
        .join(findings, findings.c.asset_id == assets.c.id)
        .where(findings.c.item_id == item_id)
        .distinct()
    )
    return {str(v).lower() for row in conn.execute(query) for v in row if v}


class ItemMaker:
    """Item bookkeeping for one import of one system."""

    def __init__(self, conn: Connection, system: SystemInfo, now: dt.datetime) -> None:
        self.conn = conn
        self.system = system
        self.now = now
        self.policy = rulesets.for_system(conn, system).template
        self.events: list[audit.Event] = []
        self._weakness: dict[tuple[str, str], int] = {}
        self._passing_only: set[tuple[str, str]] = set()  # defined so far by passing results only
        self.created: set[int] = set()
        """Weaknesses first stored by this import: only this import can have findings of them."""
        self._open: dict[tuple[str, str], int] = {}
        self._wanted: dict[tuple[str, str], tuple[Weakness, int, dt.datetime, int | None]] = {}
        self._touched: set[int] = set()
        self._created: set[int] = set()
        # Lock the system row (PostgreSQL) so concurrent imports cannot hand out the same POA&M id.
        self.next_seq: int = conn.execute(
            select(systems.c.next_seq).where(systems.c.id == system.id).with_for_update()
        ).scalar_one()

    def weakness_ids(self, seen: list[tuple[Weakness, dt.datetime, bool]]) -> dict[tuple[str, str], int]:
        """Stored definitions for these weaknesses: inserted when new, refreshed from a newer scan.
        Each entry says whether the weakness was seen present; a passing result (Security Hub calls
        a passed control INFORMATIONAL) never refreshes the definition of the failing one."""
        latest: dict[tuple[str, str], tuple[Weakness, dt.datetime]] = {}
        passing: dict[tuple[str, str], tuple[Weakness, dt.datetime]] = {}
        for w, when, present in seen:
            key = (w.tool, w.vuln_id)
            if key in self._weakness and not (present and key in self._passing_only):
                continue
            table = latest if present else passing
            if key not in table or when > table[key][1]:
                table[key] = (w, when)
        refreshable = set(latest)
        self._passing_only -= refreshable
        self._passing_only |= set(passing) - refreshable
        for key, value in passing.items():
            latest.setdefault(key, (value[0], dt.datetime.min))  # stored if new, never refreshing
        if latest:
            known: dict[tuple[str, str], tuple[int, dt.datetime]] = {}
            vuln_ids = sorted({k[1] for k in latest})
            for start in range(0, len(vuln_ids), 500):
                for row in self.conn.execute(
                    select(weaknesses.c.id, weaknesses.c.tool, weaknesses.c.vuln_id, weaknesses.c.updated_at).where(
                        weaknesses.c.system_id == self.system.id,
                        weaknesses.c.vuln_id.in_(vuln_ids[start : start + 500]),
                    )
                ):
                    known[(row.tool, row.vuln_id)] = (row.id, row.updated_at)
            new_rows: list[dict[str, object]] = []
            refresh: list[dict[str, object]] = []
            for key, (w, when) in latest.items():
                if key in known:
                    wid, updated = known[key]
                    self._weakness[key] = wid
                    if key in refreshable and when >= updated:
                        # A newer file refreshes what it says; what it leaves out (a CSV export has
                        # no plugin family) keeps the value a richer file gave.
                        given = {k: v for k, v in _definition(w).items() if v not in (None, "") or k == "is_config"}
                        refresh.append({"_id": wid, "updated_at": when, **given})
                else:
                    new_rows.append(
                        {
                            "system_id": self.system.id,
                            "tool": w.tool,
                            "vuln_id": w.vuln_id,
                            "updated_at": when,
                            **_definition(w),
                        }
                    )
            if new_rows:
                stmt = insert(weaknesses).returning(
                    weaknesses.c.id, weaknesses.c.tool, weaknesses.c.vuln_id, sort_by_parameter_order=True
                )
                for row in self.conn.execute(stmt, new_rows):
                    self._weakness[(row.tool, row.vuln_id)] = row.id
                    self.created.add(row.id)
            shapes: dict[tuple[str, ...], list[dict[str, object]]] = {}
            for values in refresh:
                shapes.setdefault(tuple(sorted(values)), []).append(values)
            for shape, batch in shapes.items():
                cols = [c for c in shape if c != "_id"]
                self.conn.execute(
                    update(weaknesses)
                    .where(weaknesses.c.id == bindparam("_id"))
                    .values({c: bindparam(c) for c in cols}),
                    batch,
                )
        return self._weakness

    def touch(self, item_id: int) -> None:
        """Note that an item's findings changed, so it must be settled."""
        self._touched.add(item_id)

    def request(self, w: Weakness, weakness_id: int, when: dt.datetime, previous: int | None) -> tuple[str, str]:
        """Ask for the open item of this weakness; `materialize` finds or creates it."""
        key = item_key(w)
        if key not in self._open:
            asked = self._wanted.get(key)
            if asked is None or when < asked[2]:
                self._wanted[key] = (w, weakness_id, when, previous if previous else (asked[3] if asked else None))
        return key

    def item_at(self, w: Weakness, when: dt.datetime) -> tuple[int, str] | None:
        """The stored item of this weakness whose life covers `when` (for history from late imports)."""
        day = when.date()
        row = self.conn.execute(
            select(items.c.id, items.c.status)
            .where(
                items.c.system_id == self.system.id,
                items.c.tool == w.tool,
                items.c.vuln_id == w.vuln_id,
                items.c.detection_date <= day,
                or_(items.c.closed_at.is_(None), items.c.closed_at >= day),
            )
            .order_by(items.c.id.desc())
            .limit(1)
        ).first()
        return (row.id, row.status) if row else None

    def item_id(self, key: tuple[str, str]) -> int:
        """The open item's id once materialized."""
        return self._open[key]

    def materialize(self) -> None:
        """Find the open items asked for, and create the ones that do not exist yet (in bulk)."""
        wanted, self._wanted = self._wanted, {}
        if not wanted:
            return
        vuln_ids = sorted({k[1] for k in wanted})
        latest_closed: dict[tuple[str, str], int] = {}
        absorbing: dict[tuple[str, str], int] = {}
        for start in range(0, len(vuln_ids), 500):
            rows = self.conn.execute(
                select(items.c.id, items.c.tool, items.c.vuln_id, items.c.status, items.c.false_positive)
                .where(items.c.system_id == self.system.id, items.c.vuln_id.in_(vuln_ids[start : start + 500]))
                .order_by(items.c.id)
            )
            for row in rows:
                key = (row.tool, row.vuln_id)
                if key not in wanted:
                    continue
                if row.status == "open":
                    self._open[key] = row.id
                elif row.false_positive == "Yes":
                    absorbing[key] = row.id
                else:
                    latest_closed[key] = row.id
        for key, item_id in absorbing.items():  # an approved false positive takes the weakness's findings
            self._open.setdefault(key, item_id)  # (services.deviations): never a new item for it
        to_create = [(k, v) for k, v in wanted.items() if k not in self._open]
        if not to_create:
            return
        cves = sorted({c for _k, (w, *_rest) in to_create for c in w.cves})
        kev_dues = kev.due_dates(self.conn, cves)
        new_items: list[dict[str, Any]] = []
        firsts: list[dict[str, Any]] = []
        for key, (w, weakness_id, when, previous) in to_create:
            item, milestone = self._new_item(w, weakness_id, when, previous or latest_closed.get(key), kev_dues)
            new_items.append(item)
            firsts.append(milestone)
        stmt = insert(items).returning(items.c.id, items.c.tool, items.c.vuln_id, sort_by_parameter_order=True)
        created = list(self.conn.execute(stmt, new_items))
        for made, milestone in zip(created, firsts, strict=True):
            self._open[(made.tool, made.vuln_id)] = made.id
            self._created.add(made.id)
            milestone["item_id"] = made.id
        self.conn.execute(insert(milestones), firsts)

    def create(
        self, w: Weakness, weakness_id: int, when: dt.datetime, previous: int | None, reason: str
    ) -> tuple[int, str]:
        """Insert one item now, with its first milestone (a life that replaying a weakness's
        history found, see `services.history`): its id and POA&M id."""
        kev_dues = kev.due_dates(self.conn, sorted(set(w.cves)))
        row, milestone = self._new_item(w, weakness_id, when, previous, kev_dues)
        self.events[-1].detail["reason"] = reason
        item_id = self.conn.execute(insert(items).values(**row)).inserted_primary_key[0]  # type: ignore[index]
        self.conn.execute(insert(milestones).values(item_id=item_id, **milestone))
        return int(item_id), str(row["poam_id"])

    def save_seq(self) -> None:
        """Store the next POA&M sequence number (`settle` does it too)."""
        self.conn.execute(update(systems).where(systems.c.id == self.system.id).values(next_seq=self.next_seq))

    def _new_item(
        self,
        w: Weakness,
        weakness_id: int,
        when: dt.datetime,
        previous: int | None,
        kev_dues: dict[str, dt.date],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        seq = self.next_seq
        self.next_seq += 1
        poam_id = f"{self.system.id_prefix}{seq}"
        level = original_rating(w.cvss3_score, w.cvss2_score, w.severity)
        kev_due = min((kev_dues[c] for c in w.cves if c in kev_dues), default=None)
        detected = when.date()
        scheduled = scheduled_completion(detected, level, self.policy, kev_due)
        row = {
            "system_id": self.system.id,
            "poam_id": poam_id,
            "seq": seq,
            "status": "open",
            "weakness_id": weakness_id,
            "tool": w.tool,
            "vuln_id": w.vuln_id,
            "is_config": w.is_config,
            "controls": ",".join(controls_for_item(w, cci.controls(self.conn, w.ccis) if w.ccis else ())),
            "weakness_name": w.name,
            "weakness_description": w.description or w.synopsis or w.name,
            "detector_source": w.tool,
            "point_of_contact": self.system.point_of_contact,
            "remediation_plan": default_plan(w.solution),
            "recommendation": w.solution,
            "detection_date": detected,
            "scheduled_completion_date": scheduled,
            "status_date": detected,
            "original_risk": level.value,
            "kev": kev_due is not None,
            "kev_due_date": kev_due,
            "cves": ",".join(w.cves),
            "service_names": self.system.service_names,
            "previous_item_id": previous,
            "created_at": self.now,
            "updated_at": self.now,
        }
        milestone = {
            "number": 1,
            "due_date": scheduled,
            "text": f"Remediate on every affected asset and confirm with a follow-up {w.tool} scan.",
            "created_at": self.now,
            "placeholder": True,  # a person's first milestone replaces it until the item is reported
        }
        detail: dict[str, object] = {
            "poam_id": poam_id,
            "weakness": w.name,
            "source_identifier": w.vuln_id,
            "original_risk": level.value,
            "detection_date": detected,
            "scheduled_completion_date": scheduled,
        }
        if kev_due:
            detail["kev_due_date"] = kev_due
        if previous:
            detail["previous_item_id"] = previous
        self.events.append(audit.Event("item.create", "item", poam_id, detail, self.system.id))
        return row, milestone

    def settle(self) -> tuple[list[str], list[str]]:
        """Close, re-date and stamp every touched item; returns (opened, closed) POA&M ids."""
        self.save_seq()
        opened: list[str] = []
        closed: list[str] = []
        ids = sorted(self._touched | self._created)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            stats = {
                r.item_id: r
                for r in self.conn.execute(
                    select(
                        findings.c.item_id,
                        func.count().label("total"),
                        func.sum(case((findings.c.status == "open", 1), else_=0)).label("open_n"),
                        func.min(findings.c.first_seen).label("first"),
                        func.max(findings.c.last_seen).label("last"),
                        func.max(findings.c.fixed_at).label("last_fix"),
                    )
                    .where(findings.c.item_id.in_(chunk))
                    .group_by(findings.c.item_id)
                )
            }
            # what the rule sets read (detection, assets, status) may have changed: deadlines are recomputed
            self.conn.execute(update(items).where(items.c.id.in_(chunk)).values(rules_stale=True))
            for row in self.conn.execute(select(items).where(items.c.id.in_(chunk)).order_by(items.c.seq)):
                st = stats.get(row.id)
                if st is None:
                    continue
                if row.id in self._created:
                    opened.append(row.poam_id)
                if self._settle(row, st):
                    closed.append(row.poam_id)
        return opened, closed

    def _settle(self, r: Any, s: Any) -> bool:
        values: dict[str, object] = {}
        first = s.first.date()
        if first < r.detection_date:
            level = effective_level(
                Level(r.original_risk),
                Level(r.adjusted_risk) if r.adjusted_risk else None,
                YesNo(r.risk_adjustment),
            )
            scheduled = scheduled_completion(first, level, self.policy, r.kev_due_date)
            values.update(detection_date=first, scheduled_completion_date=scheduled)
            self.events.append(
                audit.Event(
                    "item.redate",
                    "item",
                    r.poam_id,
                    {
                        "reason": "an earlier sighting was imported",
                        "detection_date": [r.detection_date, first],
                        "scheduled_completion_date": [r.scheduled_completion_date, scheduled],
                    },
                    self.system.id,
                )
            )
        closing = r.status == "open" and item_status(s.open_n or 0, s.total) is ItemStatus.CLOSED
        if closing and r.origin != "scan" and uncovered_asset_lines(r.asset_text, scanned_names(self.conn, r.id)):
            closing = False  # an imported item also names assets no scan showed fixed: it stays open
        if closing:
            closed_at = s.last_fix.date()
            scan_id = self.conn.execute(
                select(findings.c.fixed_scan_id)
                .where(findings.c.item_id == r.id)
                .order_by(findings.c.fixed_at.desc())
                .limit(1)
            ).scalar_one_or_none()
            values.update(status="closed", closed_at=closed_at, status_date=closed_at, closed_scan_id=scan_id)
            self.complete_milestone(r.id, r.tool, closed_at)
            self.events.append(
                audit.Event(
                    "item.close",
                    "item",
                    r.poam_id,
                    {"closed_at": closed_at, "evidence_scan_id": scan_id},
                    self.system.id,
                )
            )
        elif (
            r.status == "closed"
            and r.false_positive != "Yes"  # an approved false positive closed on its approval date
            and s.last_fix is not None
            and s.last_fix.date() < r.closed_at
        ):
            self._redate_closure(r, s.last_fix.date(), values)
        elif r.status == "open":
            latest = max(filter(None, (s.last, s.last_fix)), default=None)
            if latest is not None and latest.date() > r.status_date:
                values["status_date"] = latest.date()
        if values:
            values["updated_at"] = self.now
            self.conn.execute(update(items).where(items.c.id == r.id).values(**values))
        return closing

    def _redate_closure(self, r: Any, closed_at: dt.date, values: dict[str, object]) -> None:
        """An older scan imported late already showed the last fix: the item closed earlier than
        recorded (audited, as a late import's earlier detection date is)."""
        scan_id = self.conn.execute(
            select(findings.c.fixed_scan_id)
            .where(findings.c.item_id == r.id)
            .order_by(findings.c.fixed_at.desc(), findings.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        values.update(closed_at=closed_at, status_date=closed_at, closed_scan_id=scan_id)
        done = self.conn.execute(
            select(func.max(milestone_changes.c.id)).where(
                milestone_changes.c.item_id == r.id,
                milestone_changes.c.kind == ChangeKind.COMPLETE.value,
                milestone_changes.c.actor.is_(None),  # poam's own Complete change, never a person's
            )
        ).scalar_one_or_none()
        if done is not None:
            self.conn.execute(
                update(milestone_changes)
                .where(milestone_changes.c.id == done)
                .values(change_date=closed_at, text=verified(closed_at, r.tool))
            )
        self.events.append(
            audit.Event(
                "item.redate",
                "item",
                r.poam_id,
                {
                    "reason": "an older scan imported late already showed it fixed",
                    "closed_at": [r.closed_at, closed_at],
                    "evidence_scan_id": scan_id,
                },
                self.system.id,
            )
        )

    def complete_milestone(self, item_id: int, tool: str, closed_at: dt.date) -> None:
        """poam's own Complete change (actor None) for the item a scan closed: on its latest milestone
        still open (a planned one or a New change); milestones a person completed are left alone,
        and when a person completed them all there is nothing to complete."""
        changes = self.conn.execute(
            select(milestone_changes.c.number, milestone_changes.c.kind).where(milestone_changes.c.item_id == item_id)
        ).all()
        planned = self.conn.execute(
            select(milestones.c.number, milestones.c.status).where(milestones.c.item_id == item_id)
        ).all()
        completed = {n for n, kind in changes if kind == ChangeKind.COMPLETE.value}
        candidates = [n for n, status in planned if status != "complete"]
        candidates += [n for n, kind in changes if kind == ChangeKind.NEW.value]
        number = max((n for n in candidates if n not in completed), default=None)
        if number is None and (planned or completed):
            return
        self.conn.execute(
            insert(milestone_changes).values(
                item_id=item_id,
                number=number or 1,
                kind=ChangeKind.COMPLETE.value,
                change_date=closed_at,
                text=verified(closed_at, tool),
                created_at=self.now,
            )
        )


def verified(closed_at: dt.date, tool: str) -> str:
    """The text of the Complete milestone change that closes an item."""
    return f"Verified fixed on {closed_at.isoformat()}: {tool} no longer finds it on any affected asset."
