import datetime as dt

from poam.domain.review import Aged, Trigger, Work, capacity_plan, triggers_status

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 7, tzinfo=UTC)


def test_work_that_fits_before_its_deadlines_has_no_shortfall() -> None:
    work = [Work("V-1", NOW + dt.timedelta(days=14), 20), Work("V-2", NOW + dt.timedelta(days=28), 20)]
    assert capacity_plan(20, work, NOW) == []  # week 1 does V-1, week 2 V-2


def test_earliest_deadline_first_and_the_days_missed() -> None:
    work = [
        Work("V-3", NOW + dt.timedelta(days=7), 10),  # done after 10 of 20 hours: 3.5 days
        Work("V-1", NOW + dt.timedelta(days=3), 10),  # first: 3.5 days, due in 3 -> 1 day late (0.5 rounded up)
        Work("V-9", None, 100),  # no deadline: last, never a shortfall
        Work("V-5", NOW + dt.timedelta(days=10), None),  # not estimated: takes no time, no shortfall
    ]
    (short,) = capacity_plan(20, work, NOW)
    assert short.key == "V-1" and short.days_late == 1
    assert short.finish == NOW + dt.timedelta(days=3, hours=12)


def test_an_item_already_late_counts_from_its_deadline() -> None:
    (short,) = capacity_plan(40, [Work("V-1", NOW - dt.timedelta(days=10), 40)], NOW)
    assert short.days_late == 17  # finishes a week from now, ten days after the deadline


def test_triggers_count_items_older_than_the_age_of_their_ratings() -> None:
    high = Trigger("Late remediation, High", "DFR", frozenset({"Critical", "High"}), 30, 2)
    today = dt.date(2026, 12, 7)
    items = [
        Aged("V-1", "High", dt.date(2026, 11, 6)),  # 31 days: counts
        Aged("V-2", "Critical", dt.date(2026, 11, 7)),  # 30 days: not older than 30
        Aged("V-3", "Critical", dt.date(2026, 10, 1)),  # counts
        Aged("V-4", "High", dt.date(2026, 10, 1), exempt=True),  # vendor-dependent and checked in
        Aged("V-5", "Moderate", dt.date(2026, 1, 1)),  # another rating
    ]
    (status,) = triggers_status([high], items, today)
    assert status.items == ("V-1", "V-3") and status.reached and status.remaining == 0
    (status,) = triggers_status([high], items[:2], today)
    assert not status.reached and status.remaining == 1
