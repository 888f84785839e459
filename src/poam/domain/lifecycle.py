"""The lifecycle of findings and items.

A finding is open until a later scan that covered its asset (same tool) does not report it.
An item is open while any of its findings is open. A weakness that comes back after its item
closed opens a new item; closed items stay closed.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from poam.domain.models import FindingStatus, ItemStatus


class Sighting(StrEnum):
    """What a new sighting of a finding does to what is already known of it."""

    NEW = "new"  # never seen: a new finding
    SEEN = "seen"  # still open: update last seen
    HISTORIC = "historic"  # an older sighting of a finding fixed later: only widens first seen
    REOPEN = "reopen"  # fixed, but its item is still open: the finding opens again
    RECUR = "recur"  # fixed and its item closed: a new finding on a new or open item


def classify_sighting(
    status: FindingStatus | None,
    fixed_at: dt.datetime | None,
    item_status: ItemStatus | None,
    observed_at: dt.datetime,
) -> Sighting:
    """Decide what a sighting at `observed_at` means for the latest record of that finding."""
    if status is None:
        return Sighting.NEW
    if status is FindingStatus.OPEN:
        return Sighting.SEEN
    if fixed_at is not None and observed_at <= fixed_at:
        return Sighting.HISTORIC
    if item_status is ItemStatus.OPEN:
        return Sighting.REOPEN
    return Sighting.RECUR


def item_status(open_findings: int, total_findings: int) -> ItemStatus:
    """Open while any finding is open; closed once every finding is fixed. An item without
    findings (entered by hand) is open."""
    return ItemStatus.CLOSED if total_findings and not open_findings else ItemStatus.OPEN


def uncovered_asset_lines(asset_text: str | None, scanned: set[str]) -> list[str]:
    """The lines of an imported item's Asset Identifier cell that name no asset a scan found the
    weakness on. `scanned` holds those assets' names in lower case (identifier, IP address, host
    name, NetBIOS name, name). A line names an asset by its text before ` (` (`10.0.0.1 (443/tcp)`
    names `10.0.0.1`); a URL line names a scanned web site it starts with. Scans close such an item
    only when this list is empty: a weakness kept on assets no scan covers is not fixed by a scan
    of the others."""
    out = []
    sites = [s.rstrip("/") for s in scanned if "://" in s]
    for line in (asset_text or "").split("\n"):
        name = line.split(" (", 1)[0].strip().lower()
        if not name or name in scanned:
            continue
        if "://" in name and any(name == s or name.startswith(s + "/") for s in sites):
            continue
        out.append(line.strip())
    return out
