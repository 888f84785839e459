import pytest

from poam.domain.models import Level, Severity
from poam.domain.rating import level_from_cvss2, level_from_cvss3, original_rating, rating_source


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0.0, Level.LOW),
        (3.9, Level.LOW),
        (4.0, Level.MODERATE),
        (6.9, Level.MODERATE),
        (7.0, Level.HIGH),
        (8.9, Level.HIGH),
        (9.0, Level.CRITICAL),
        (10.0, Level.CRITICAL),
    ],
)
def test_cvss3_bands(score: float, level: Level) -> None:
    assert level_from_cvss3(score) is level


@pytest.mark.parametrize(
    ("score", "level"), [(3.9, Level.LOW), (4.0, Level.MODERATE), (7.0, Level.HIGH), (10.0, Level.HIGH)]
)
def test_cvss2_has_no_critical_band(score: float, level: Level) -> None:
    assert level_from_cvss2(score) is level


def test_v3_wins_over_v2_and_scanner() -> None:
    assert original_rating(5.3, 9.3, Severity.CRITICAL) is Level.MODERATE
    assert rating_source(5.3, 9.3) == "CVSS v3"


def test_v2_used_when_no_v3() -> None:
    assert original_rating(None, 7.5, Severity.LOW) is Level.HIGH
    assert rating_source(None, 7.5) == "CVSS v2"


def test_scanner_rating_last() -> None:
    assert original_rating(None, None, Severity.MEDIUM) is Level.MODERATE
    assert original_rating(None, None, Severity.CRITICAL) is Level.CRITICAL
    assert rating_source(None, None) == "scanner"


def test_critical_counts_as_high_in_fedramp() -> None:
    assert Level.CRITICAL.fedramp is Level.HIGH
    assert Level.MODERATE.fedramp is Level.MODERATE
