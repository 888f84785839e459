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

from sqlalchemy import Connection, case, func, insert, select, update

from poam.domain.models import ChangeKind, Level, Weakness, YesNo
from poam.domain.policy import effective_level, get_policy, scheduled_completion
from poam.domain.rating import original_rating
from poam.services import audit, kev
from poam.services.systems import SystemInfo
from poam.store.tables import findings, items, milestone_changes, milestones, systems, weaknesses

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


def default_controls(w: Weakness) -> tuple[str, ...]:
    """Controls for an item when the source gives none: CM-6 for configuration checks, else RA-5."""
    if w.controls:
        return w.controls
    return ("CM-6",) if w.is_config else ("RA-5",)


def _definition(w: Weakness) -> dict[str, object]:
    values: dict[str, object] = {f: getattr(w, f) for f in _DEFINITION}
    values["severity"] = w.severity.value
    values["cves"] = ",".join(w.cves)
    values["cwes"] = ",".join(w.cwes)
    values["iavas"] = ",".join(w.iavas)
    values["controls"] = ",".join(w.controls)
    return values


class ItemMaker:
    """Item bookkeeping for one import of one system."""

    def __init__(self, conn: Connection, system: SystemInfo, now: dt.datetime) -> None:
        self.conn = conn
        self.system = system
        self.now = now
        self.policy = get_policy(system.policy)
        self.events: list[audit.Event] = []
        self._weakness: dict[tuple[str, str], int] = {}
        self._open: dict[tuple[str, str], int] = {}
        self._touched: set[int] = set()
        self._created: set[int] = set()
        # Lock the system row (PostgreSQL) so concurrent imports cannot hand out the same POA&M id.
        self.next_seq: int = conn.execute(
            select(systems.c.next_seq).where(systems.c.id == system.id).with_for_update()
        ).scalar_one()

    def weakness_id(self, w: Weakness, when: dt.datetime) -> int:
        """The stored definition of this weakness, inserted or refreshed from a newer scan."""
        key = (w.tool, w.vuln_id)
        wid = self._weakness.get(key)
        if wid is not None:
            return wid
        row = self.conn.execute(
            select(weaknesses.c.id, weaknesses.c.updated_at).where(
                weaknesses.c.system_id == self.system.id,
                weaknesses.c.tool == w.tool,
                weaknesses.c.vuln_id == w.vuln_id,
            )
        ).first()
        if row is None:
            wid = self.conn.execute(
                insert(weaknesses).values(
                    system_id=self.system.id,
                    tool=w.tool,
                    vuln_id=w.vuln_id,
                    updated_at=when,
                    **_definition(w),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        else:
            wid = int(row.id)
            if when >= row.updated_at:
                self.conn.execute(
                    update(weaknesses).where(weaknesses.c.id == wid).values(updated_at=when, **_definition(w))
                )
        assert wid is not None
        self._weakness[key] = wid
        return wid

    def touch(self, item_id: int) -> None:
        """Note that an item's findings changed, so it must be settled."""
        self._touched.add(item_id)

    def open_item(self, w: Weakness, weakness_id: int, when: dt.datetime, previous: int | None) -> int:
        """The open item for this weakness, created when there is none."""
        key = (w.tool, w.vuln_id)
        item_id = self._open.get(key)
        if item_id is not None:
            return item_id
        base = select(items.c.id).where(
            items.c.system_id == self.system.id, items.c.tool == w.tool, items.c.vuln_id == w.vuln_id
        )
        item_id = self.conn.execute(
            base.where(items.c.status == "open").order_by(items.c.id.desc()).limit(1)
        ).scalar_one_or_none()
        if item_id is None:
            if previous is None:
                previous = self.conn.execute(
                    base.where(items.c.status == "closed").order_by(items.c.id.desc()).limit(1)
                ).scalar_one_or_none()
            item_id = self._create(w, weakness_id, when, previous)
        self._open[key] = item_id
        return item_id

    def _create(self, w: Weakness, weakness_id: int, when: dt.datetime, previous: int | None) -> int:
        seq = self.next_seq
        self.next_seq += 1
        poam_id = f"{self.system.id_prefix}{seq}"
        level = original_rating(w.cvss3_score, w.cvss2_score, w.severity)
        kev_due = kev.due_date(self.conn, w.cves)
        detected = when.date()
        scheduled = scheduled_completion(detected, level, self.policy, kev_due)
        description = w.description or w.synopsis or w.name
        item_id: int = self.conn.execute(
            insert(items).values(
                system_id=self.system.id,
                poam_id=poam_id,
                seq=seq,
                status="open",
                weakness_id=weakness_id,
                tool=w.tool,
                vuln_id=w.vuln_id,
                is_config=w.is_config,
                controls=",".join(default_controls(w)),
                weakness_name=w.name,
                weakness_description=description,
                detector_source=w.tool,
                point_of_contact=self.system.point_of_contact,
                remediation_plan=w.solution,
                recommendation=w.solution,
                detection_date=detected,
                scheduled_completion_date=scheduled,
                status_date=detected,
                original_risk=level.value,
                adjusted_risk=None,
                kev=kev_due is not None,
                kev_due_date=kev_due,
                cves=",".join(w.cves),
                service_names=self.system.service_names,
                previous_item_id=previous,
                created_at=self.now,
                updated_at=self.now,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        self.conn.execute(
            insert(milestones).values(
                item_id=item_id,
                number=1,
                due_date=scheduled,
                text=f"Remediate on every affected asset and confirm with a follow-up {w.tool} scan.",
                created_at=self.now,
            )
        )
        self._created.add(item_id)
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
        return item_id

    def settle(self) -> tuple[list[str], list[str]]:
        """Close, re-date and stamp every touched item; returns (opened, closed) POA&M ids."""
        self.conn.execute(update(systems).where(systems.c.id == self.system.id).values(next_seq=self.next_seq))
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
        closing = r.status == "open" and s.total > 0 and not s.open_n
        if closing:
            closed_at = s.last_fix.date()
            scan_id = self.conn.execute(
                select(findings.c.fixed_scan_id)
                .where(findings.c.item_id == r.id)
                .order_by(findings.c.fixed_at.desc())
                .limit(1)
            ).scalar_one_or_none()
            values.update(status="closed", closed_at=closed_at, status_date=closed_at, closed_scan_id=scan_id)
            self._complete_milestone(r.id, r.tool, closed_at)
            self.events.append(
                audit.Event(
                    "item.close",
                    "item",
                    r.poam_id,
                    {"closed_at": closed_at, "evidence_scan_id": scan_id},
                    self.system.id,
                )
            )
        elif r.status == "open":
            latest = max(filter(None, (s.last, s.last_fix)), default=None)
            if latest is not None and latest.date() > r.status_date:
                values["status_date"] = latest.date()
        if values:
            values["updated_at"] = self.now
            self.conn.execute(update(items).where(items.c.id == r.id).values(**values))
        return closing

    def _complete_milestone(self, item_id: int, tool: str, closed_at: dt.date) -> None:
        number = self.conn.execute(
            select(func.max(milestones.c.number)).where(milestones.c.item_id == item_id)
        ).scalar_one_or_none()
        self.conn.execute(
            insert(milestone_changes).values(
                item_id=item_id,
                number=number or 1,
                kind=ChangeKind.COMPLETE.value,
                change_date=closed_at,
                text=f"Not detected by the {tool} scan of {closed_at.isoformat()} on any affected asset.",
                created_at=self.now,
            )
        )
