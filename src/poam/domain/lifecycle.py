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
