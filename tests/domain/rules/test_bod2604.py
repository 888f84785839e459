"""bod-26-04 logic on a hand-made Table 1: clock start, missing metadata, several CVEs, fallback."""

import datetime as dt

from poam.domain.models import Level
from poam.domain.rules import Facts, KevFact, SsvcFact
from poam.domain.rules.bod2604 import BodTable, Row, compute
from poam.domain.rules.days import DayTable

UTC = dt.UTC
DETECTED = dt.datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
# CISA BOD 26-04 Table 1 (rules-2026.md section 4), written by hand: None is "fix on system upgrade".
TABLE = BodTable(
    rows=(
        Row(1, True, True, True, True, 3, True),
        Row(2, True, True, True, False, 3, False),
        Row(3, True, True, False, True, 3, True),
        Row(4, True, True, False, False, 14, False),
        Row(5, True, False, True, True, 3, False),
        Row(6, True, False, True, False, 14, False),
        Row(7, True, False, False, True, 14, False),
        Row(8, True, False, False, False, 60, False),
        Row(9, False, True, True, True, 3, True),
        Row(10, False, True, True, False, 14, False),
        Row(11, False, True, False, True, 14, False),
        Row(12, False, True, False, False, 14, False),
        Row(13, False, False, True, True, 60, False),
        Row(14, False, False, True, False, 60, False),
        Row(15, False, False, False, True, None, False),
        Row(16, False, False, False, False, None, False),
    ),
    missing_metadata_days=60,
    source="test",
)
FALLBACK = DayTable(
    "fedramp-rev5", "template", "test", {Level.CRITICAL: 30, Level.HIGH: 30, Level.MODERATE: 90, Level.LOW: 180}
)
SSVC = {"CVE-1": SsvcFact("active", "yes", "total"), "CVE-2": SsvcFact("none", "no", "partial")}


def run(**kw: object):  # type: ignore[no-untyped-def]
    base: dict[str, object] = {"detected_at": DETECTED, "level": Level.HIGH, "ssvc": SSVC}
    base.update(kw)
    return compute(Facts(**base), TABLE, FALLBACK)  # type: ignore[arg-type]


def test_unknown_exposure_counts_as_public() -> None:
    out = run(cves=("CVE-2",), exposure="unknown")
    assert out.deadlines[0].rule == "BOD 26-04 Table 1 row 8"
    assert out.deadlines[0].due == DETECTED + dt.timedelta(days=60)
    assert "unknown counts as public" in out.deadlines[0].basis


def test_an_earlier_kev_addition_starts_the_clock() -> None:
    kev = KevFact("CVE-2", dt.date(2026, 12, 1), dt.date(2026, 12, 22))
    out = run(cves=("CVE-2",), exposure="internal", kev=(kev,))
    d = out.deadlines[0]
    assert d.rule == "BOD 26-04 Table 1 row 12"
    assert d.clock_start == dt.datetime(2026, 12, 1, tzinfo=UTC)
    assert d.due == dt.datetime(2026, 12, 15, tzinfo=UTC)


def test_a_later_kev_addition_does_not_move_the_clock_back() -> None:
    kev = KevFact("CVE-2", dt.date(2026, 12, 20), dt.date(2027, 1, 10))
    d = run(cves=("CVE-2",), exposure="internal", kev=(kev,)).deadlines[0]
    assert d.clock_start == DETECTED and d.due == DETECTED + dt.timedelta(days=14)


def test_no_metadata_and_not_in_kev_is_sixty_days_even_when_public() -> None:
    d = run(cves=("CVE-9",), exposure="public").deadlines[0]
    assert d.due == DETECTED + dt.timedelta(days=60) and "no CVE metadata" in d.rule


def test_in_kev_without_metadata_takes_the_worse_values() -> None:
    kev = KevFact("CVE-9", dt.date(2026, 12, 10), dt.date(2026, 12, 31))
    out = run(cves=("CVE-9",), exposure="internal", kev=(kev,))
    assert out.deadlines[0].rule == "BOD 26-04 Table 1 row 9"
    assert out.forensic_triage


def test_the_earliest_cve_sets_the_item_deadline() -> None:
    out = run(cves=("CVE-2", "CVE-1"), exposure="public")
    assert out.deadlines[0].rule == "BOD 26-04 Table 1 row 5"
    assert out.deadlines[0].due == DETECTED + dt.timedelta(days=3)


def test_fix_on_upgrade_has_no_date() -> None:
    out = run(cves=("CVE-2",), exposure="internal")
    assert out.deadlines[0].due is None and "upgrade" in out.deadlines[0].basis


def test_a_kev_record_asking_for_forensic_triage_adds_the_task() -> None:
    kev = KevFact("CVE-2", dt.date(2026, 12, 10), dt.date(2026, 12, 31), forensic_triage=True)
    out = run(cves=("CVE-2",), exposure="public", kev=(kev,))
    assert out.deadlines[0].rule == "BOD 26-04 Table 1 row 4"
    assert [f.kind for f in out.flags] == ["forensic_triage"]


def test_findings_without_a_cve_follow_the_fallback_table() -> None:
    out = run(cves=(), exposure="public")
    d = out.deadlines[0]
    assert d.due == DETECTED + dt.timedelta(days=30) and "fallback" in d.rule


def test_one_missing_decision_point_takes_the_worse_value_not_sixty_days() -> None:
    out = run(cves=("CVE-5",), exposure="public", ssvc={"CVE-5": SsvcFact(None, "yes", None)})
    d = out.deadlines[0]
    assert d.rule == "BOD 26-04 Table 1 row 5" and d.due == DETECTED + dt.timedelta(days=3)
    assert "(assumed: not given)" in d.basis


def test_kev_saying_no_forensic_triage_wins_over_an_assumed_row() -> None:
    kev = KevFact("CVE-9", dt.date(2026, 12, 10), dt.date(2026, 12, 31), forensic_triage=False)
    out = run(cves=("CVE-9",), exposure="public", kev=(kev,))
    assert out.deadlines[0].rule == "BOD 26-04 Table 1 row 1"  # assumed automatable and total
    assert not out.forensic_triage
    given = run(cves=("CVE-1",), exposure="public", kev=(KevFact("CVE-1", None, dt.date(2026, 12, 31), False),))
    assert given.forensic_triage  # SSVC says automatable and total: row 1 asks for it whatever the record
