import datetime as dt

from poam.domain.lifecycle import Sighting, classify_sighting, item_status, uncovered_asset_lines
from poam.domain.models import FindingStatus, ItemStatus

T0 = dt.datetime(2026, 1, 1)
T1 = dt.datetime(2026, 2, 1)
T2 = dt.datetime(2026, 3, 1)


def test_classify_sightings() -> None:
    assert classify_sighting(None, None, None, T1) is Sighting.NEW
    assert classify_sighting(FindingStatus.OPEN, None, ItemStatus.OPEN, T1) is Sighting.SEEN
    # seen before it was fixed (an older scan imported late): history only
    assert classify_sighting(FindingStatus.FIXED, T2, ItemStatus.CLOSED, T1) is Sighting.HISTORIC
    # back after the fix while others keep the item open: the finding reopens
    assert classify_sighting(FindingStatus.FIXED, T1, ItemStatus.OPEN, T2) is Sighting.REOPEN
    # back after its item closed: a new item, the closed one stays closed
    assert classify_sighting(FindingStatus.FIXED, T1, ItemStatus.CLOSED, T2) is Sighting.RECUR


def test_item_status() -> None:
    assert item_status(open_findings=0, total_findings=2) is ItemStatus.CLOSED
    assert item_status(open_findings=1, total_findings=2) is ItemStatus.OPEN
    assert item_status(open_findings=0, total_findings=0) is ItemStatus.OPEN


def test_an_imported_items_asset_lines_are_covered_only_by_scanned_assets() -> None:
    cell = "10.0.0.1 (443/tcp)\nhttps://portal.example.com/login\nbastion-1\n\nDB-1"
    assert uncovered_asset_lines(cell, set()) == [
        "10.0.0.1 (443/tcp)",
        "https://portal.example.com/login",
        "bastion-1",
        "DB-1",
    ]
    scanned = {"10.0.0.1", "web-1.example.com", "https://portal.example.com", "db-1"}
    assert uncovered_asset_lines(cell, scanned) == ["bastion-1"]  # names compared in lower case
    assert uncovered_asset_lines("https://portal.example.com.evil.test/x", scanned) == [
        "https://portal.example.com.evil.test/x"
    ]
    assert uncovered_asset_lines(None, scanned) == [] and uncovered_asset_lines("", set()) == []
