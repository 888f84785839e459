import datetime as dt

import pytest

from poam.domain.models import Level, YesNo
from poam.domain.policy import CMS, FEDRAMP_REV5, effective_level, get_policy, is_late, scheduled_completion

D = dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("level", "days"),
    [(Level.CRITICAL, 30), (Level.HIGH, 30), (Level.MODERATE, 90), (Level.LOW, 180)],
)
def test_fedramp_rev5_windows(level: Level, days: int) -> None:
    assert scheduled_completion(D, level) == D + dt.timedelta(days=days)


def test_kev_due_date_caps_the_deadline() -> None:
    kev = dt.date(2026, 1, 22)
    assert scheduled_completion(D, Level.MODERATE, FEDRAMP_REV5, kev) == kev
    # a KEV due date later than the window does not extend it
    assert scheduled_completion(D, Level.HIGH, FEDRAMP_REV5, dt.date(2026, 6, 1)) == dt.date(2026, 1, 31)


def test_only_approved_adjustment_moves_the_window() -> None:
    assert effective_level(Level.HIGH, Level.MODERATE, YesNo.YES) is Level.MODERATE
    assert effective_level(Level.HIGH, Level.MODERATE, YesNo.PENDING) is Level.HIGH
    assert effective_level(Level.HIGH, None, YesNo.YES) is Level.HIGH


def test_cms_policy_has_critical_and_a_year_for_low() -> None:
    assert scheduled_completion(D, Level.CRITICAL, CMS) == D + dt.timedelta(days=15)
    assert scheduled_completion(D, Level.LOW, CMS) == D + dt.timedelta(days=365)


def test_unknown_policy_names_the_choices() -> None:
    with pytest.raises(KeyError, match="fedramp-rev5"):
        get_policy("nope")


def test_late_uses_the_earlier_of_schedule_and_kev() -> None:
    sched, kev = dt.date(2026, 3, 1), dt.date(2026, 2, 1)
    assert not is_late(sched, None, dt.date(2026, 3, 1))
    assert is_late(sched, None, dt.date(2026, 3, 2))
    assert is_late(sched, kev, dt.date(2026, 2, 2))
