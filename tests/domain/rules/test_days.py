import datetime as dt

from poam.domain.models import Level
from poam.domain.rules import Facts, KevFact
from poam.domain.rules.days import DayTable, compute

UTC = dt.UTC
DETECTED = dt.datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
DOD = DayTable(
    "dod",
    "DoD",
    "test",
    {Level.CRITICAL: 30, Level.HIGH: 30, Level.MODERATE: 180, Level.LOW: 365},
    {Level.CRITICAL: "CAT I", Level.HIGH: "CAT I", Level.MODERATE: "CAT II", Level.LOW: "CAT III"},
)


def test_remediation_is_detection_plus_the_levels_days() -> None:
    out = compute(Facts(DETECTED, Level.MODERATE), DOD)
    (d,) = out.deadlines
    assert d.kind == "remediation" and d.due == dt.datetime(2027, 6, 6, 9, 30, tzinfo=UTC)
    assert d.basis.startswith("CAT II: 180 days")


def test_a_kev_item_gets_the_catalog_date_as_well() -> None:
    kev = (
        KevFact("CVE-B", dt.date(2026, 11, 1), dt.date(2026, 12, 20)),
        KevFact("CVE-A", dt.date(2026, 11, 2), dt.date(2026, 12, 15)),
    )
    out = compute(Facts(DETECTED, Level.LOW, cves=("CVE-A", "CVE-B"), kev=kev), DOD)
    kinds = {d.kind: d for d in out.deadlines}
    assert kinds["kev"].due == dt.datetime(2026, 12, 15, 23, 59, 59, tzinfo=UTC)
    assert out.nearest() is kinds["kev"]


def test_a_vendor_release_restarts_the_clock_only_where_the_table_says_so() -> None:
    released = dt.datetime(2027, 1, 10, tzinfo=UTC)
    facts = Facts(DETECTED, Level.HIGH, vendor_release=released)
    (kept,) = compute(facts, DOD).deadlines
    assert kept.due == dt.datetime(2027, 1, 7, 9, 30, tzinfo=UTC)  # 30 days from detection
    rev5 = DayTable("rev5", "Rev5", "test", DOD.days, vendor_release_restarts=True)
    (restarted,) = compute(facts, rev5).deadlines
    assert restarted.due == dt.datetime(2027, 2, 9, tzinfo=UTC) and restarted.clock_start == released
    assert "vendor's fix release" in restarted.basis and restarted.inputs["vendor_release"] == "2027-01-10"
    # a release date before detection (entered wrongly) never moves the clock back
    early = Facts(DETECTED, Level.HIGH, vendor_release=dt.datetime(2026, 12, 1, tzinfo=UTC))
    assert compute(early, rev5).deadlines[0].due == kept.due
