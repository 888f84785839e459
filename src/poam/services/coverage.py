"""What a scan covered, and what that proves fixed.

A scan covers assets for a tool (one file may hold several tools' runs): a finding of that tool,
open on a covered asset and not seen again, is fixed, unless the scan could not have seen it:
another kind of checks (vulnerability vs configuration), a credentialed finding and an
unauthenticated scan, a family of checks the scan did not run, or a check whose results the file
lists only in part. The same rules decide, for an older file imported late, whether a newer scan
already showed a finding gone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, and_, exists, func, insert, or_, select, update

from poam.domain.models import Checks, Coverage, Scan, Weakness
from poam.services.assets import AssetResolver
from poam.store.tables import findings, scan_assets, scans, weaknesses


@dataclass
class _Entry:
    seen_at: dt.datetime
    authenticated: bool | None
    checks: Checks


def _merge_auth(a: bool | None, b: bool | None) -> bool | None:
    """Credentialed if any pass over the host was; unknown only if every pass was unknown."""
    if a or b:
        return True
    return False if False in (a, b) else None


MAX_PARTIAL_PATHS = 5000
"""A scan that did not fully check more places than this closes nothing by absence (and the list
stays within every database's limit of bound values)."""


def _lines(text: str) -> set[str]:
    """A stored newline-joined list."""
    return {x for x in text.split("\n") if x}


def _can_show(checks: str, is_config: bool) -> bool:
    return checks == Checks.ALL.value or checks == (Checks.CONFIGURATION if is_config else Checks.VULNERABILITY).value


class CoverageBook:
    """The coverage of one import."""

    def __init__(self, conn: Connection, system_id: int, scan_id: int, assets: AssetResolver) -> None:
        self.conn = conn
        self.system_id = system_id
        self.scan_id = scan_id
        self.assets = assets
        self.entries: dict[tuple[int, str | None], _Entry] = {}
        self._newest: dict[str, dt.datetime | None] = {}
        self._later: dict[tuple[str, int, dt.datetime, str, str], tuple[dt.datetime, int] | None] = {}

    def add(self, cov: Coverage, when: dt.datetime) -> None:
        """Note that the scan looked at this asset (for its own tool, or the one named)."""
        asset_id = self.assets.resolve(cov.asset, when)
        key = (asset_id, cov.tool)
        known = self.entries.get(key)
        if known is None:
            self.entries[key] = _Entry(when, cov.authenticated, cov.checks)
        else:  # the same asset again in one file, or its credential status learned later
            known.seen_at = min(known.seen_at, when)
            known.authenticated = _merge_auth(known.authenticated, cov.authenticated)
            if known.checks != cov.checks:
                known.checks = Checks.ALL

    def store(self, tool: str) -> set[str]:
        """Record the coverage (entries without a tool are the scan's `tool`); the tools covered."""
        merged: dict[tuple[int, str | None], _Entry] = {}
        for (asset_id, own), entry in self.entries.items():
            key = (asset_id, own or tool)
            other = merged.get(key)
            if other is None:
                merged[key] = entry
            else:
                other.seen_at = min(other.seen_at, entry.seen_at)
                other.authenticated = _merge_auth(other.authenticated, entry.authenticated)
                other.checks = other.checks if other.checks == entry.checks else Checks.ALL
        self.entries = merged
        rows = [
            {
                "scan_id": self.scan_id,
                "asset_id": a,
                "tool": t,
                "seen_at": e.seen_at,
                "authenticated": e.authenticated,
                "checks": e.checks.value,
            }
            for (a, t), e in merged.items()
        ]
        for start in range(0, len(rows), 2000):
            self.conn.execute(insert(scan_assets), rows[start : start + 2000])
        return {t for _a, t in merged if t}

    def asset_count(self) -> int:
        """How many assets the scan covered (whatever the tool)."""
        return len({a for a, _t in self.entries})

    def credentialed_assets(self) -> list[int]:
        """Assets scanned with credentials."""
        return sorted({a for (a, _t), e in self.entries.items() if e.authenticated})

    def newest(self, tool: str) -> dt.datetime | None:
        """The latest time another scan of this tool that can prove absence covered any asset."""
        if tool not in self._newest:
            self._newest[tool] = self.conn.execute(
                select(func.max(scan_assets.c.seen_at))
                .join(scans, scans.c.id == scan_assets.c.scan_id)
                .where(
                    scans.c.system_id == self.system_id,
                    scan_assets.c.tool == tool,
                    scans.c.id != self.scan_id,
                    scans.c.closes.is_(True),
                )
            ).scalar_one_or_none()
        return self._newest[tool]

    def later(
        self, weakness: Weakness, asset_id: int, when: dt.datetime, path: str | None = None
    ) -> tuple[dt.datetime, int] | None:
        """The first other scan of this tool that covered the asset after `when` and could have
        seen this weakness at this path (for an older file imported late): its time and id, or None."""
        tool = weakness.tool
        newest = self.newest(tool)
        if newest is None or newest <= when:
            return None  # no other scan of this tool looked later: the common case
        key = (tool, asset_id, when, weakness.vuln_id, path or "")
        if key not in self._later:
            here = [e for (a, _t), e in self.entries.items() if a == asset_id]
            credentialed_here = any(e.authenticated for e in here)
            rows = self.conn.execute(
                select(
                    scan_assets.c.seen_at,
                    scan_assets.c.scan_id,
                    scan_assets.c.authenticated,
                    scan_assets.c.checks,
                    scans.c.skipped_families,
                    scans.c.partial_checks,
                    scans.c.partial_paths,
                )
                .join(scans, scans.c.id == scan_assets.c.scan_id)
                .where(
                    scan_assets.c.asset_id == asset_id,
                    scan_assets.c.tool == tool,
                    scans.c.id != self.scan_id,
                    scans.c.closes.is_(True),  # only scans that can prove absence
                    scan_assets.c.seen_at > when,
                )
                .order_by(scan_assets.c.seen_at)
            )
            found = next(
                (
                    r
                    for r in rows
                    if _can_show(r.checks, weakness.is_config)
                    and not (credentialed_here and r.authenticated is False)
                    and not (weakness.family and weakness.family in _lines(r.skipped_families))
                    and weakness.vuln_id not in _lines(r.partial_checks)
                    and not (path and path in _lines(r.partial_paths))
                ),
                None,
            )
            self._later[key] = (found.seen_at, found.scan_id) if found else None
        return self._later[key]

    def reconcile(self, tool: str, info: Scan | None) -> tuple[list[int], list[int]]:
        """Fix this tool's open findings on assets it covered here that it did not report, and
        move earlier the fix of those a later scan (imported before this one) showed fixed: the
        ids of the items whose findings closed, and of those whose fixes moved."""
        if info and len(info.partial_paths) > MAX_PARTIAL_PATHS:  # too many places unchecked to trust it
            return [], []
        cover = scan_assets.alias("cover")
        covered_here = and_(
            cover.c.scan_id == self.scan_id,
            cover.c.tool == tool,
            cover.c.asset_id == findings.c.asset_id,
        )
        seen_at = select(cover.c.seen_at).where(covered_here).scalar_subquery()
        could_see = [
            findings.c.system_id == self.system_id,
            findings.c.tool == tool,
            exists().where(
                covered_here,
                findings.c.last_seen < cover.c.seen_at,
                # an unauthenticated scan never closes what a credentialed scan found
                or_(cover.c.authenticated.is_not(False), findings.c.authenticated.is_(False)),
                # a vulnerability scan never closes configuration findings, nor the reverse
                or_(
                    cover.c.checks == Checks.ALL.value,
                    and_(cover.c.checks == Checks.CONFIGURATION.value, findings.c.is_config.is_(True)),
                    and_(cover.c.checks == Checks.VULNERABILITY.value, findings.c.is_config.is_(False)),
                ),
            ),
        ]
        if info and info.skipped_families:  # checks the scan did not run cannot have been found fixed
            not_run = select(weaknesses.c.id).where(
                weaknesses.c.system_id == self.system_id, weaknesses.c.family.in_(info.skipped_families)
            )
            could_see.append(findings.c.weakness_id.not_in(not_run))
        if info and info.partial_checks:  # nor those whose results it lists only in part
            partial = select(weaknesses.c.id).where(
                weaknesses.c.system_id == self.system_id,
                weaknesses.c.tool == tool,
                weaknesses.c.vuln_id.in_(info.partial_checks),
            )
            could_see.append(findings.c.weakness_id.not_in(partial))
        if info and info.partial_paths:  # nor those in places it did not fully check
            could_see.append(or_(findings.c.path.is_(None), findings.c.path.not_in(info.partial_paths)))
        fix = (
            update(findings)
            .where(findings.c.status == "open", *could_see)
            .values(status="fixed", fixed_at=seen_at, fixed_scan_id=self.scan_id)
            .returning(findings.c.item_id)
        )
        closed = list(self.conn.execute(fix).scalars())
        # An older scan imported late that already did not see a fixed finding proves the fix earlier.
        earlier = (
            update(findings)
            .where(findings.c.status == "fixed", findings.c.fixed_at > seen_at, *could_see)
            .values(fixed_at=seen_at, fixed_scan_id=self.scan_id)
            .returning(findings.c.item_id)
        )
        return closed, list(self.conn.execute(earlier).scalars())

    def mark_credentialed(self) -> None:
        """Findings this scan saw on hosts it scanned with credentials are marked as such."""
        hosts = self.credentialed_assets()
        for start in range(0, len(hosts), 500):
            self.conn.execute(
                update(findings)
                .where(
                    findings.c.last_scan_id == self.scan_id,
                    findings.c.asset_id.in_(hosts[start : start + 500]),
                    findings.c.authenticated.is_(False),
                )
                .values(authenticated=True)
            )
