"""Applying a batch of sightings (findings as one scan saw them) to the stored findings.

A finding may have several generations: it is fixed, comes back after its item closed, and
starts a new record on a new item. A sighting is applied to the generation whose life covers
its time, so that an older scan imported late only adds history and never touches a later
generation or reopens what a newer scan already showed fixed. Every sighting is also kept in
`sightings`: after a late scan, `services.history` derives the weaknesses it touched again from
their full history, in date order (which may split or merge generations and items).
"""

from __future__ import annotations

import datetime as dt
import zlib
from array import array
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, select, update

from poam.domain.identity import finding_identity
from poam.domain.lifecycle import Sighting, classify_sighting
from poam.domain.models import Finding, FindingStatus, ItemStatus, Weakness
from poam.errors import InputError
from poam.services.assets import AssetResolver
from poam.services.itemmaker import ItemMaker
from poam.store.bulk import insert_rows
from poam.store.tables import findings, items, lone_surrogate, sightings

Identity = tuple[int, int, str]


def identity_hash(ident: Identity) -> int:
    """A 63-bit hash of a finding's identity (CRC-32 and Adler-32 of its text), indexed in the
    store for lookups; a collision only brings in a record that is then left out."""
    data = f"{ident[0]}|{ident[1]}|{ident[2]}".encode()
    return (zlib.crc32(data) << 31) | (zlib.adler32(data) >> 1)


"""A finding's identity in the store: (weakness id, asset id, location); the weakness id stands
for the system, tool and scanner vulnerability id (see `domain.identity.finding_identity`)."""


class LaterCoverage(Protocol):
    """What newer scans covered, for an older file imported late (see `services.coverage`)."""

    def newest(self, tool: str) -> dt.datetime | None: ...

    def later(
        self, weakness: Weakness, asset_id: int, when: dt.datetime, path: str | None = None
    ) -> tuple[dt.datetime, int] | None: ...


_ORDER = {FindingStatus.OPEN: 0, FindingStatus.SET_ASIDE: 1, FindingStatus.FIXED: 2}
"""Records of one time are applied failing first (then a fix at the same time loses: see `_apply`)."""
_UPDATED = ("status", "first_seen", "last_seen", "fixed_at", "fixed_scan_id", "last_scan_id", "evidence")
_LIMITS = {"tool": 200, "vuln_id": 200}


class _HashFilter:
    """A set of identity hashes in fixed memory (2 MiB, a Bloom filter): it may answer "maybe"
    for a hash never added (then the finding is looked up, as without it), never "no" for one
    added. About 1 false "maybe" in 2,000 after 200,000 hashes."""

    _BITS = 1 << 24

    def __init__(self) -> None:
        self.bits = bytearray(self._BITS >> 3)

    def add_all(self, hashes: Iterable[int]) -> None:
        bits, mask = self.bits, self._BITS - 1
        for h in hashes:
            for k in (h & mask, (h >> 31) & mask):
                bits[k >> 3] |= 1 << (k & 7)

    def __contains__(self, h: int) -> bool:
        bits, mask = self.bits, self._BITS - 1
        return all(bits[k >> 3] & (1 << (k & 7)) for k in (h & mask, (h >> 31) & mask))


class Counts:
    """What a batch did to findings."""

    def __init__(self) -> None:
        self.new = 0
        self.fixed = 0
        self.reopened = 0


class SightingWriter:
    """Writes batches of sightings for one import."""

    def __init__(
        self,
        conn: Connection,
        system_id: int,
        scan_id: int,
        source: str,
        assets: AssetResolver,
        items_: ItemMaker,
        later_coverage: LaterCoverage | None,
        warn: Callable[[str, str], None] | None = None,
    ) -> None:
        self.conn = conn
        self.warn = warn
        """Where an odd value is noted (`ParseReport.warn`)."""
        self.system_id = system_id
        self.scan_id = scan_id
        self.source = source
        self.assets = assets
        self.items = items_
        self.later_coverage = later_coverage
        self._newest: dict[str, dt.datetime | None] = {}
        self.counts = Counts()
        self._hashes: dict[Identity, int] = {}
        self._inserted = _HashFilter()  # identity hashes of the findings this import inserted
        self._fix_hashes = array("q")
        self._fix_times = array("q")
        """The file's explicit fixes (identity hash, microseconds since the epoch), applied by
        `finish` after every other record: a fix then meets every failing record of the file,
        whatever their order or batches, and the newest record decides. 16 bytes a fix."""

    def write(self, batch: list[Finding]) -> None:
        """Apply one batch: look up the stored generations, classify, insert and update."""
        for w in {id(f.weakness): f.weakness for f in batch}.values():  # parsers share Weakness objects
            for name, limit in _LIMITS.items():
                value = getattr(w, name)
                if len(value) > limit:
                    raise InputError(self.source, f"{name} longer than {limit} characters: {value[:40]!r}...")
                if lone_surrogate(value):
                    raise InputError(self.source, f"{name} {value[:40]!r} holds a lone surrogate: it cannot be stored")
            if self.warn is not None and any(lone_surrogate(v) for v in _texts(w)):
                self.warn(f"{w.tool} {w.vuln_id}", "text holding lone surrogates (\\ud800...): stored as U+FFFD")
        for f in batch:
            if f.path and lone_surrogate(f.path):
                raise InputError(self.source, f"path {f.path[:40]!r} holds a lone surrogate: it cannot be stored")
        batch = [_stored_form(f) for f in batch]
        # Apply in time order, whatever the file's order; explicit fixes wait for `finish`.
        batch = sorted(batch, key=lambda f: (f.observed_at, _ORDER[f.status]))
        seen = {(id(f.weakness), f.observed_at, f.status): f for f in batch}.values()  # one per definition
        weakness_ids = self.items.weakness_ids(
            [(f.weakness, f.observed_at, f.status is FindingStatus.OPEN) for f in seen]
        )
        keyed = []
        history: list[dict[str, Any]] = []
        for f in batch:
            asset_id = self.assets.resolve(f.asset, f.observed_at)
            weakness_id = weakness_ids[(f.weakness.tool, f.weakness.vuln_id)]
            ident = finding_identity(weakness_id, asset_id, f.port, f.protocol, f.path)
            history.append(
                {
                    "system_id": self.system_id,
                    "scan_id": self.scan_id,
                    "weakness_id": weakness_id,
                    "asset_id": asset_id,
                    "tool": f.weakness.tool,
                    "port": f.port,
                    "protocol": f.protocol,
                    "path": f.path,
                    "status": f.status.value,
                    "observed_at": f.observed_at,
                    "since": f.since,
                }
            )
            if f.status is FindingStatus.FIXED:  # applied last, in time order (see `finish`)
                self._fix_hashes.append(identity_hash(ident))
                self._fix_times.append(_micros(f.observed_at))
                continue
            keyed.append((ident, asset_id, weakness_id, f))
        insert_rows(self.conn, sightings, history)  # every sighting is kept (see `services.history`)
        generations = self._generations({k[0] for k in keyed})
        inserts: list[dict[str, Any]] = []
        updates: dict[int, dict[str, Any]] = {}
        for ident, asset_id, weakness_id, f in keyed:
            self._apply(ident, asset_id, weakness_id, f, generations, inserts, updates)
        self.items.materialize()
        for row in inserts:
            wanted = row.pop("_item")
            row.pop("_item_status", None)
            row["item_id"] = wanted if isinstance(wanted, int) else self.items.item_id(wanted)
            self.items.touch(row["item_id"])
        if inserts:
            self._inserted.add_all(r["ident"] for r in inserts)
            insert_rows(self.conn, findings, inserts)
            self.counts.new += len(inserts)
            self.counts.fixed += sum(1 for r in inserts if r["fixed_scan_id"] == self.scan_id)
        if updates:
            stmt = (
                update(findings)
                .where(findings.c.id == bindparam("_id"))
                .values({c: bindparam("_" + c) for c in _UPDATED})
            )
            self.conn.execute(stmt, [{"_" + k: u[k] for k in ("id", *_UPDATED)} for u in updates.values()])

    def finish(self) -> None:
        """Apply the file's explicit fixes, oldest first, after every other record of the file: a
        fix closes the generation that covers its time when that generation is open and was last
        seen before it (on equal times a failing record of the same file wins; a later file's fix
        at the same time still closes). A fix of a finding never seen open does nothing."""
        order = sorted(range(len(self._fix_times)), key=self._fix_times.__getitem__)
        for start in range(0, len(order), 2000):
            chunk = order[start : start + 2000]
            found = self._by_hash({self._fix_hashes[i] for i in chunk})
            updates: dict[int, dict[str, Any]] = {}
            for i in chunk:
                gens = found.get(self._fix_hashes[i])
                t = _from_micros(self._fix_times[i])
                rec = _covering(gens, t) if gens else None
                if rec is None or rec["status"] != "open":
                    continue
                same_file = rec["last_scan_id"] == self.scan_id
                if t > rec["last_seen"] or t == rec["last_seen"] and not same_file:
                    rec.update(status="fixed", fixed_at=t, fixed_scan_id=self.scan_id, last_scan_id=self.scan_id)
                    updates[rec["id"]] = rec
                    self.counts.fixed += 1
                    self._touch(rec["item_id"])
            if updates:
                stmt = (
                    update(findings)
                    .where(findings.c.id == bindparam("_id"))
                    .values({c: bindparam("_" + c) for c in _UPDATED})
                )
                self.conn.execute(stmt, [{"_" + k: u[k] for k in ("id", *_UPDATED)} for u in updates.values()])
        self._fix_hashes, self._fix_times = array("q"), array("q")

    def _by_hash(self, hashes: set[int]) -> dict[int, list[dict[str, Any]]]:
        """The stored generations of the findings with these identity hashes, oldest first; a hash
        that two findings share (a collision) gives none: such a fix is not applied."""
        rows: dict[int, dict[Identity, list[dict[str, Any]]]] = {}
        ordered = sorted(hashes)
        for start in range(0, len(ordered), 500):
            for row in self.conn.execute(
                select(findings).where(findings.c.ident.in_(ordered[start : start + 500])).order_by(findings.c.id)
            ).mappings():
                ident = finding_identity(row["weakness_id"], row["asset_id"], row["port"], row["protocol"], row["path"])
                rows.setdefault(row["ident"], {}).setdefault(ident, []).append(dict(row))
        return {h: next(iter(by.values())) for h, by in rows.items() if len(by) == 1}

    def _generations(self, idents: set[Identity]) -> dict[Identity, list[dict[str, Any]]]:
        """Every stored record of these findings, oldest first (looked up by identity hash)."""
        found: dict[Identity, list[dict[str, Any]]] = {}
        self._hashes = {i: identity_hash(i) for i in idents}
        # a weakness new in this import has no stored findings but those this import inserted
        created, inserted = self.items.created, self._inserted
        hashes = sorted({h for i, h in self._hashes.items() if i[0] not in created or h in inserted})
        for start in range(0, len(hashes), 500):
            rows = self.conn.execute(
                select(findings, items.c.status.label("_item_status"))
                .join(items, items.c.id == findings.c.item_id)
                .where(findings.c.ident.in_(hashes[start : start + 500]))
                .order_by(findings.c.id)
            ).mappings()
            for row in rows:
                ident = finding_identity(row["weakness_id"], row["asset_id"], row["port"], row["protocol"], row["path"])
                if ident in idents:  # a hash collision brings in another finding: skip it
                    found.setdefault(ident, []).append(dict(row))
        return found

    def _apply(
        self,
        ident: Identity,
        asset_id: int,
        weakness_id: int,
        f: Finding,
        generations: dict[Identity, list[dict[str, Any]]],
        inserts: list[dict[str, Any]],
        updates: dict[int, dict[str, Any]],
    ) -> None:
        """Apply one sighting to the generation of its finding whose life covers its time."""
        t = f.observed_at
        gens = generations.setdefault(ident, [])
        rec = _covering(gens, t)
        if f.status is FindingStatus.SET_ASIDE:
            # Still reported, set aside by a person: an open finding is seen (so this file's absence
            # of it closes nothing); nothing else changes.
            if rec is not None and rec["status"] == "open" and t > rec["last_seen"]:
                rec.update(last_seen=t, last_scan_id=self.scan_id)
                if rec.get("id") is not None:
                    updates[rec["id"]] = rec
            return
        if rec is None:
            self._new(ident, gens, asset_id, weakness_id, f, None, inserts)
            return
        if rec.get("id") is not None:
            updates[rec["id"]] = rec
        item_id = rec.get("item_id")
        if t < rec["first_seen"]:  # before anything known of this finding: history only
            rec["first_seen"] = t
            self._touch(item_id)
            return
        kind = classify_sighting(FindingStatus(rec["status"]), rec["fixed_at"], ItemStatus(rec["_item_status"]), t)
        if kind is Sighting.SEEN:
            if t >= rec["last_seen"]:
                rec.update(last_seen=t, last_scan_id=self.scan_id, evidence=f.evidence)
            return
        if kind is Sighting.HISTORIC:
            rec["last_seen"] = max(rec["last_seen"], t)
            return
        # Seen after this generation was fixed.
        if rec is not gens[-1]:  # a later generation exists: the recurrence began earlier than known
            nxt = gens[gens.index(rec) + 1]
            nxt["first_seen"] = min(nxt["first_seen"], t)
            if nxt.get("id") is not None:
                updates[nxt["id"]] = nxt
            self._touch(nxt.get("item_id"))
            return
        later = self._later(f.weakness, asset_id, t, f.path)
        if later is not None:  # a newer scan, imported earlier, covered the asset and did not see it
            if kind is Sighting.REOPEN:
                rec.update(last_seen=t, fixed_at=later[0], fixed_scan_id=later[1])
            else:
                self._new(ident, gens, asset_id, weakness_id, f, rec, inserts)
            return
        if kind is Sighting.REOPEN:
            rec.update(
                status="open",
                fixed_at=None,
                fixed_scan_id=None,
                last_seen=t,
                last_scan_id=self.scan_id,
                evidence=f.evidence,
            )
            if rec.get("id") is not None:
                self.counts.reopened += 1
            self._touch(item_id)
            return
        self._new(ident, gens, asset_id, weakness_id, f, rec, inserts)  # RECUR: its item closed; a new generation

    def _later(
        self, w: Weakness, asset_id: int, t: dt.datetime, path: str | None = None
    ) -> tuple[dt.datetime, int] | None:
        """A newer scan that showed this finding gone (only ever for files imported late)."""
        cover = self.later_coverage
        if cover is None:
            return None
        if w.tool in self._newest:
            newest = self._newest[w.tool]
        else:
            newest = self._newest[w.tool] = cover.newest(w.tool)
        return cover.later(w, asset_id, t, path) if newest is not None and newest > t else None

    def _touch(self, item_id: Any) -> None:
        if isinstance(item_id, int):
            self.items.touch(item_id)

    def _new(
        self,
        ident: Identity,
        gens: list[dict[str, Any]],
        asset_id: int,
        weakness_id: int,
        f: Finding,
        previous: dict[str, Any] | None,
        inserts: list[dict[str, Any]],
    ) -> None:
        """A new record (generation) of this finding, on the right item."""
        t = f.observed_at
        later = self._later(f.weakness, asset_id, t, f.path)
        start = t  # first seen: the tool's own detection time, for a finding new to poam
        if f.since is not None and previous is None and later is None:
            start = min(t, f.since)
        item: Any = None
        item_status = "open"
        if later is not None:
            # Already fixed by a newer scan: history that belongs to the item that was open at time t.
            hit = self.items.item_at(f.weakness, t)
            if hit is not None:
                item, item_status = hit
        if item is None:
            prev_item = previous.get("item_id") if previous else None
            item = self.items.request(f.weakness, weakness_id, start, prev_item if isinstance(prev_item, int) else None)
        new: dict[str, Any] = {
            "system_id": self.system_id,
            "_item": item,
            "_item_status": item_status,
            "item_id": item if isinstance(item, int) else None,
            "weakness_id": weakness_id,
            "asset_id": asset_id,
            "ident": self._hashes[ident],
            "tool": f.weakness.tool,
            "port": f.port,
            "protocol": f.protocol,
            "path": f.path,
            "service": f.service,
            "evidence": f.evidence,
            "status": "open",
            "is_config": f.weakness.is_config,
            "authenticated": False,
            "first_seen": start,
            "last_seen": t,
            "fixed_at": None,
            "first_scan_id": self.scan_id,
            "last_scan_id": self.scan_id,
            "fixed_scan_id": None,
        }
        if later is not None:
            new.update(status="fixed", fixed_at=later[0], fixed_scan_id=later[1])
        inserts.append(new)
        gens.append(new)


_EPOCH = dt.datetime(1970, 1, 1)


def _micros(t: dt.datetime) -> int:
    """A naive UTC time as whole microseconds since the epoch (exact, unlike a float)."""
    return (t - _EPOCH) // dt.timedelta(microseconds=1)


def _from_micros(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def _covering(gens: list[dict[str, Any]], t: dt.datetime) -> dict[str, Any] | None:
    """The generation whose life covers `t`: the latest that began at or before it, else the first."""
    chosen = None
    for rec in gens:
        if rec["first_seen"] <= t:
            chosen = rec
    return chosen if chosen is not None else (gens[0] if gens else None)


def _texts(w: Weakness) -> list[str]:
    """The descriptive text of a weakness."""
    return [v for v in (w.name, w.synopsis, w.description, w.solution, w.see_also, w.family) if v]


def _stored_form(f: Finding) -> Finding:
    """The finding as the store will hold it, so that the identity computed now is the one looked
    up next time: no NUL characters (PostgreSQL refuses them), protocol and service cut to their
    columns. The common case, nothing to change, costs a few checks."""
    w = f.weakness
    if "\x00" in w.tool or "\x00" in w.vuln_id:
        w = replace(w, tool=w.tool.replace("\x00", ""), vuln_id=w.vuln_id.replace("\x00", ""))
    protocol = f.protocol.replace("\x00", "")[:20] or None if f.protocol else None
    service = f.service.replace("\x00", "")[:100] or None if f.service else None
    path = f.path.replace("\x00", "") or None if f.path else None
    if w is f.weakness and (protocol, service, path) == (f.protocol, f.service, f.path):
        return f
    return replace(f, weakness=w, protocol=protocol, service=service, path=path)
