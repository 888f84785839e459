import datetime as dt

from poam.domain.lifecycle import Sighting, classify_sighting, item_status
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
