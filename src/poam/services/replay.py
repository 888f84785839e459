"""Replaying one weakness's full history in memory, scan by scan in date order.

Each step does what importing that scan in date order does (`services.sightings`,
`services.coverage`, `services.itemmaker`): its sightings in time order, then its explicit fixes,
then what its coverage proves fixed, then the items it touched are settled. The result, the
finding generations and the item lives, is the same whatever order the scans were imported in.
No database here: `services.history` loads the steps and writes the result back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from poam.domain.models import Checks

Place = tuple[int, int | None, str | None, str | None]
"""A finding of the weakness: (asset id, port, protocol, path)."""

_ORDER = {"open": 0, "set-aside": 1, "fixed": 2}


@dataclass(frozen=True, slots=True)
class Seen:
    """One sighting in one scan."""

    place: Place
    at: dt.datetime
    status: str  # open, set-aside or fixed
    since: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Cover:
    """A scan's coverage of one asset for the weakness's tool."""

    seen_at: dt.datetime
    authenticated: bool | None
    checks: str


@dataclass
class Step:
    """What one scan holds for the weakness."""

    scan_id: int
    key: tuple[dt.datetime, dt.datetime, str, str]
    """The date order: the scan's start and end, then its SHA-256 and import key (never the import order)."""
    closes: bool = False
    skipped_families: frozenset[str] = frozenset()
    partial_checks: frozenset[str] = frozenset()
    partial_paths: frozenset[str] = frozenset()
    seen: list[Seen] = field(default_factory=list)
    cover: dict[int, Cover] = field(default_factory=dict)
    credentialed: set[int] = field(default_factory=set)
    """Assets the scan covered with credentials, for any tool."""


@dataclass
class Gen:
    """One generation (stored record) of a finding."""

    place: Place
    life: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    first_scan: int
    last_scan: int
    status: str = "open"
    fixed_at: dt.datetime | None = None
    fixed_scan: int | None = None
    authenticated: bool = False


@dataclass
class Life:
    """One POA&M item of the weakness: from its first finding until all its findings are fixed."""

    detection: dt.date
    status_date: dt.date
    previous: int | None
    status: str = "open"
    closed_at: dt.date | None = None
    closed_scan: int | None = None


@dataclass(frozen=True, slots=True)
class Weakness:
    """What the rules need of the weakness."""

    vuln_id: str
    is_config: bool
    family: str | None


class Replay:
    """The history of one weakness, built step by step."""

    def __init__(self, weakness: Weakness) -> None:
        self.weakness = weakness
        self.gens: dict[Place, list[Gen]] = {}
        self.lives: list[Life] = []

    def run(self, steps: list[Step]) -> Replay:
        for step in sorted(steps, key=lambda s: s.key):
            self.step(step)
        return self

    def generations(self) -> list[Gen]:
        return [g for gens in self.gens.values() for g in gens]

    def _open_life(self) -> int | None:
        return next((i for i, life in enumerate(self.lives) if life.status == "open"), None)

    def step(self, s: Step) -> None:
        """Import one scan, as `services.importer` does in date order."""
        touched: set[int] = set()
        wanted: list[tuple[dt.datetime, int | None]] = []  # the request for a new item: (when, previous)
        pending: list[Gen] = []  # generations waiting for that new item (life -1)
        open_life = self._open_life()
        ordered = sorted(range(len(s.seen)), key=lambda i: (s.seen[i].at, _ORDER[s.seen[i].status], i))
        for i in ordered:
            x = s.seen[i]
            if x.status != "fixed":
                self._sight(s, x, open_life, touched, wanted, pending)
        if pending:
            when, previous = wanted[0]
            if previous is None:
                previous = len(self.lives) - 1 if self.lives else None  # the latest closed item
            self.lives.append(Life(when.date(), when.date(), previous))
            for g in pending:
                g.life = len(self.lives) - 1
            touched.add(len(self.lives) - 1)
        for i in ordered:  # explicit fixes, after every other record of the file
            x = s.seen[i]
            if x.status == "fixed":
                self._fix(s, x, touched)
        for g in self.generations():
            if g.last_scan == s.scan_id and g.place[0] in s.credentialed:
                g.authenticated = True
        if s.closes:
            self._reconcile(s, touched)
        for life in sorted(touched):
            self._settle(life)

    def _sight(
        self,
        s: Step,
        x: Seen,
        open_life: int | None,
        touched: set[int],
        wanted: list[tuple[dt.datetime, int | None]],
        pending: list[Gen],
    ) -> None:
        t = x.at
        gens = self.gens.setdefault(x.place, [])
        rec = _covering(gens, t)
        if x.status == "set-aside":
            if rec is not None and rec.status == "open" and t > rec.last_seen:
                rec.last_seen, rec.last_scan = t, s.scan_id
            return
        if rec is None:
            self._new(s, x, None, open_life, touched, wanted, pending)
            return
        if t < rec.first_seen:
            rec.first_seen = t
            _touch(touched, rec.life)
            return
        if rec.status == "open":
            if t >= rec.last_seen:
                rec.last_seen, rec.last_scan = t, s.scan_id
            return
        assert rec.fixed_at is not None
        if t <= rec.fixed_at:
            rec.last_seen = max(rec.last_seen, t)
            return
        if rec is not gens[-1]:
            nxt = gens[gens.index(rec) + 1]
            nxt.first_seen = min(nxt.first_seen, t)
            _touch(touched, nxt.life)
            return
        if rec.life < 0 or self.lives[rec.life].status == "open":  # reopened: its item is still open
            rec.status, rec.fixed_at, rec.fixed_scan = "open", None, None
            rec.last_seen, rec.last_scan = t, s.scan_id
            _touch(touched, rec.life)
            return
        self._new(s, x, rec.life, open_life, touched, wanted, pending)  # it recurs after its item closed

    def _new(
        self,
        s: Step,
        x: Seen,
        previous: int | None,
        open_life: int | None,
        touched: set[int],
        wanted: list[tuple[dt.datetime, int | None]],
        pending: list[Gen],
    ) -> None:
        t = x.at
        start = min(t, x.since) if x.since is not None and previous is None else t
        gen = Gen(x.place, -1, start, t, s.scan_id, s.scan_id)
        self.gens[x.place].append(gen)
        if open_life is not None:
            gen.life = open_life
            touched.add(open_life)
            return
        pending.append(gen)
        if not wanted:
            wanted.append((start, previous))
        elif start < wanted[0][0]:
            wanted[0] = (start, previous if previous is not None else wanted[0][1])

    def _fix(self, s: Step, x: Seen, touched: set[int]) -> None:
        gens = self.gens.get(x.place)
        rec = _covering(gens, x.at) if gens else None
        if rec is None or rec.status != "open":
            return
        t = x.at
        if t > rec.last_seen or t == rec.last_seen and rec.last_scan != s.scan_id:
            rec.status, rec.fixed_at, rec.fixed_scan, rec.last_scan = "fixed", t, s.scan_id, s.scan_id
            _touch(touched, rec.life)

    def _could_see(self, s: Step, g: Gen, cover: Cover) -> bool:
        w = self.weakness
        return (
            g.last_seen < cover.seen_at
            and (cover.authenticated is not False or not g.authenticated)
            and _can_show(cover.checks, w.is_config)
            and not (w.family and w.family in s.skipped_families)
            and w.vuln_id not in s.partial_checks
            and not (g.place[3] is not None and g.place[3] in s.partial_paths)
        )

    def _reconcile(self, s: Step, touched: set[int]) -> None:
        for g in self.generations():
            cover = s.cover.get(g.place[0])
            if cover is None or not self._could_see(s, g, cover):
                continue
            if g.status == "open":
                g.status, g.fixed_at, g.fixed_scan = "fixed", cover.seen_at, s.scan_id
                _touch(touched, g.life)
            elif g.fixed_at is not None and g.fixed_at > cover.seen_at:
                g.fixed_at, g.fixed_scan = cover.seen_at, s.scan_id
                _touch(touched, g.life)

    def _settle(self, index: int) -> None:
        """As `ItemMaker._settle`: widen the detection date, close, or move a closure earlier."""
        life = self.lives[index]
        mine = [g for g in self.generations() if g.life == index]
        if not mine:
            return
        first = min(g.first_seen for g in mine).date()
        life.detection = min(life.detection, first)
        fixes = [g for g in mine if g.fixed_at is not None]
        last_fix = max(fixes, key=lambda g: g.fixed_at or dt.datetime.min) if fixes else None
        if life.status == "open" and all(g.status == "fixed" for g in mine):
            assert last_fix is not None and last_fix.fixed_at is not None
            life.status, life.closed_at, life.closed_scan = "closed", last_fix.fixed_at.date(), last_fix.fixed_scan
            life.status_date = life.closed_at
        elif life.status == "closed" and last_fix is not None and last_fix.fixed_at is not None:
            if life.closed_at is not None and last_fix.fixed_at.date() < life.closed_at:
                life.closed_at, life.closed_scan = last_fix.fixed_at.date(), last_fix.fixed_scan
                life.status_date = life.closed_at
        elif life.status == "open":
            times = [g.last_seen for g in mine] + [g.fixed_at for g in fixes if g.fixed_at is not None]
            latest = max(times).date()
            life.status_date = max(life.status_date, latest)


def _touch(touched: set[int], life: int) -> None:
    if life >= 0:
        touched.add(life)


def _can_show(checks: str, is_config: bool) -> bool:
    return checks == Checks.ALL.value or checks == (Checks.CONFIGURATION if is_config else Checks.VULNERABILITY).value


def _covering(gens: list[Gen], t: dt.datetime) -> Gen | None:
    """The generation whose life covers `t`: the latest that began at or before it, else the first."""
    chosen = None
    for g in gens:
        if g.first_seen <= t:
            chosen = g
    return chosen if chosen is not None else (gens[0] if gens else None)
