import datetime as dt
from dataclasses import dataclass, field

from poam.domain.models import Level, YesNo
from poam.domain.policy import effective_level, is_late, scheduled_completion

D = dt.date(2026, 1, 1)


@dataclass
class Table:
    days: dict[Level, int] = field(
        default_factory=lambda: {Level.CRITICAL: 30, Level.HIGH: 30, Level.MODERATE: 90, Level.LOW: 180}
    )


def test_detection_plus_the_tables_days() -> None:
    assert scheduled_completion(D, Level.MODERATE, Table()) == dt.date(2026, 4, 1)
    assert scheduled_completion(D, Level.LOW, Table()) == dt.date(2026, 6, 30)


def test_kev_due_date_caps_the_deadline() -> None:
    kev = dt.date(2026, 1, 22)
    assert scheduled_completion(D, Level.MODERATE, Table(), kev) == kev
    # a KEV due date later than the window does not extend it
    assert scheduled_completion(D, Level.HIGH, Table(), dt.date(2026, 6, 1)) == dt.date(2026, 1, 31)


def test_only_approved_adjustment_moves_the_window() -> None:
    assert effective_level(Level.HIGH, Level.MODERATE, YesNo.YES) is Level.MODERATE
    assert effective_level(Level.HIGH, Level.MODERATE, YesNo.PENDING) is Level.HIGH
    assert effective_level(Level.HIGH, None, YesNo.YES) is Level.HIGH


def test_late_uses_the_earlier_of_schedule_and_kev() -> None:
    sched, kev = dt.date(2026, 3, 1), dt.date(2026, 2, 1)
    assert not is_late(sched, None, dt.date(2026, 3, 1))
    assert is_late(sched, None, dt.date(2026, 3, 2))
    assert is_late(sched, kev, dt.date(2026, 2, 2))
