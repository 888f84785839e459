"""The POA&M does not depend on the order of imports (issue 7).

Every sighting is kept (`sightings`), with every scan's coverage (`scan_assets`). Importing a scan
that comes after everything stored for its tools is the fast incremental path of
`services.importer`. A scan that comes earlier, in date order, than another stored scan of one of
its tools is *late*: after its incremental import, the weaknesses it touched (those it reported,
and those of its tools with findings on the assets it covered) are replayed from their full
history in date order (`services.replay`) and the stored findings and items are made to match
(`services.rewrite`). Scans of the same time are ordered by SHA-256, never by import order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, func, select, union

from poam.services.replay import Cover, Replay, Seen, Step, Weakness
from poam.services.rewrite import Outcome, Rewriter
from poam.store.tables import findings, scan_assets, scans, sightings, weaknesses

CHUNK = 200
"""Weaknesses replayed together (their history is loaded at once)."""


def order_key(scan: Any) -> tuple[dt.datetime, dt.datetime, str, str]:
    """A scan's place in date order: its start, its end, then its SHA-256 and import key."""
    return (scan.started_at or dt.datetime.min, scan.ended_at or dt.datetime.min, scan.sha256, scan.import_key)


def _lines(text: str | None) -> frozenset[str]:
    return frozenset(x for x in (text or "").split("\n") if x)


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def late_tools(conn: Connection, system_id: int, scan_id: int) -> set[str]:
    """The tools for which this scan is not the last in date order: another stored scan of the
    tool comes after it, or holds a later time."""
    this = conn.execute(select(scans).where(scans.c.id == scan_id)).one()
    key = order_key(this)
    tools = set(
        conn.execute(
            union(
                select(sightings.c.tool).distinct().where(sightings.c.scan_id == scan_id),
                select(scan_assets.c.tool).distinct().where(scan_assets.c.scan_id == scan_id),
            )
        ).scalars()
    )
    if not tools:
        return set()
    query = select(scans.c.id, scans.c.started_at, scans.c.ended_at, scans.c.sha256, scans.c.import_key).where(
        scans.c.system_id == system_id, scans.c.id != scan_id, scans.c.started_at.is_not(None)
    )
    if this.started_at is not None:
        query = query.where(scans.c.started_at >= this.started_at)
    after = [r.id for r in conn.execute(query) if order_key(r) > key]
    late: set[str] = set()
    for chunk in _chunks(after):
        late |= set(
            conn.execute(
                union(
                    select(sightings.c.tool).distinct().where(sightings.c.scan_id.in_(chunk)),
                    select(scan_assets.c.tool).distinct().where(scan_assets.c.scan_id.in_(chunk)),
                )
            ).scalars()
        )
    for tool in sorted(tools - late):
        mine = _min_time(conn, scan_id, tool)
        if mine is not None and this.started_at is not None:
            # Records dated before the scan began are the tool's own history (Tenable's first-seen
            # sighting): they do not make a scan of this month late (before, every in-order Tenable
            # import replayed everything it touched)
            mine = max(mine, this.started_at)
        other = _max_time(conn, system_id, scan_id, tool)
        if mine is not None and other is not None and mine < other:
            late.add(tool)
    return late & tools


def _min_time(conn: Connection, scan_id: int, tool: str) -> dt.datetime | None:
    times = [
        conn.execute(
            select(func.min(sightings.c.observed_at)).where(sightings.c.scan_id == scan_id, sightings.c.tool == tool)
        ).scalar_one_or_none(),
        conn.execute(
            select(func.min(scan_assets.c.seen_at)).where(scan_assets.c.scan_id == scan_id, scan_assets.c.tool == tool)
        ).scalar_one_or_none(),
    ]
    return min((t for t in times if t is not None), default=None)


def _max_time(conn: Connection, system_id: int, scan_id: int, tool: str) -> dt.datetime | None:
    times = [
        conn.execute(
            select(func.max(sightings.c.observed_at)).where(
                sightings.c.system_id == system_id, sightings.c.tool == tool, sightings.c.scan_id != scan_id
            )
        ).scalar_one_or_none(),
        conn.execute(
            select(func.max(scan_assets.c.seen_at))
            .join(scans, scans.c.id == scan_assets.c.scan_id)
            .where(scans.c.system_id == system_id, scan_assets.c.tool == tool, scans.c.id != scan_id)
        ).scalar_one_or_none(),
    ]
    return max((t for t in times if t is not None), default=None)


def affected(conn: Connection, system_id: int, scan_id: int, tools: set[str]) -> list[int]:
    """The weaknesses of these tools the scan reported, or that have findings on assets it covered."""
    found: set[int] = set()
    for tool in sorted(tools):
        found |= set(
            conn.execute(
                select(sightings.c.weakness_id)
                .distinct()
                .where(sightings.c.scan_id == scan_id, sightings.c.tool == tool)
            ).scalars()
        )
        covered = select(scan_assets.c.asset_id).where(scan_assets.c.scan_id == scan_id, scan_assets.c.tool == tool)
        found |= set(
            conn.execute(
                select(findings.c.weakness_id)
                .distinct()
                .where(findings.c.system_id == system_id, findings.c.tool == tool, findings.c.asset_id.in_(covered))
            ).scalars()
        )
    return sorted(found)


def rederive(rewriter: Rewriter, weakness_ids: list[int]) -> Outcome:
    """Replay these weaknesses' histories and make the store match, a chunk at a time."""
    outcome = Outcome()
    for chunk in _chunks(weakness_ids, CHUNK):
        replayed = _replay(rewriter.conn, rewriter.system.id, list(chunk))
        stored = rewriter.load({wid: w for wid, (w, _r) in replayed.items()})
        for wid, (w, history) in replayed.items():
            rewriter.apply(wid, w, history, stored[wid], outcome)
        rewriter.flush(outcome)
    return outcome


def _step(s: Any, credentialed: set[int]) -> Step:
    return Step(
        s.id,
        order_key(s),
        closes=bool(s.closes),
        skipped_families=_lines(s.skipped_families),
        partial_checks=_lines(s.partial_checks),
        partial_paths=_lines(s.partial_paths),
        credentialed=credentialed,
    )


def _replay(conn: Connection, system_id: int, ids: list[int]) -> dict[int, tuple[Any, Replay]]:
    """Load the histories of these weaknesses and replay them."""
    rows = {r.id: r for r in conn.execute(select(weaknesses).where(weaknesses.c.id.in_(ids)))}
    seen: dict[int, dict[int, list[Seen]]] = defaultdict(lambda: defaultdict(list))  # weakness, scan
    places: dict[int, set[int]] = defaultdict(set)
    sc = sightings.c
    query = select(sc.weakness_id, sc.scan_id, sc.asset_id, sc.port, sc.protocol, sc.path, sc.observed_at, sc.status)
    for wid, scan_id, asset_id, port, protocol, path, at, status, since in conn.execute(
        query.add_columns(sc.since).where(sc.weakness_id.in_(ids)).order_by(sc.id)
    ):
        seen[wid][scan_id].append(Seen((asset_id, port, protocol, path), at, status, since))
        places[wid].add(asset_id)
    assets = sorted({a for ws in places.values() for a in ws})
    cover: dict[tuple[str, int], list[tuple[int, Cover]]] = defaultdict(list)  # (tool, asset): (scan, coverage)
    credentialed: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(assets):
        for c in conn.execute(
            select(scan_assets)
            .join(scans, scans.c.id == scan_assets.c.scan_id)
            .where(scans.c.system_id == system_id, scan_assets.c.asset_id.in_(chunk))
        ):
            cover[(c.tool, c.asset_id)].append((c.scan_id, Cover(c.seen_at, c.authenticated, c.checks)))
            if c.authenticated:
                credentialed[c.scan_id].add(c.asset_id)
    scan_ids = sorted(
        {s for by_scan in seen.values() for s in by_scan} | {s for found in cover.values() for s, _c in found}
    )
    info: dict[int, Any] = {}
    for chunk in _chunks(scan_ids):
        for s in conn.execute(select(scans).where(scans.c.id.in_(chunk))):
            info[s.id] = s
    result: dict[int, tuple[Any, Replay]] = {}
    for wid in ids:
        w = rows.get(wid)
        if w is None:
            continue
        steps: dict[int, Step] = {}

        def step(scan_id: int, steps: dict[int, Step] = steps) -> Step:
            if scan_id not in steps:
                steps[scan_id] = _step(info[scan_id], credentialed.get(scan_id, set()))
            return steps[scan_id]

        for scan_id, found in seen[wid].items():
            step(scan_id).seen.extend(found)
        for asset_id in places[wid]:  # only this weakness's assets: cost grows with its own history
            for scan_id, covered in cover.get((w.tool, asset_id), ()):
                step(scan_id).cover[asset_id] = covered
        replayed = Replay(Weakness(w.vuln_id, bool(w.is_config), w.family)).run(list(steps.values()))
        result[wid] = (w, replayed)
    return result
