import datetime as dt

import pytest

from poam.domain.milestones import (
    MilestoneSyntaxError,
    format_changes,
    format_milestones,
    next_number,
    parse_changes,
    parse_milestones,
)
from poam.domain.models import ChangeKind, Milestone, MilestoneChange

# The example cells of the official template (row 8, columns M and N).
TEMPLATE_M = "(1) 2014/05/23: Milestone Description\n\n(2) 2014-06-12: Milestone \nDescription"
TEMPLATE_N = (
    "(2) Update 2014-06-18 : That milestone was delayed due to a Vendor Dependency\n\n"
    "(3) New 2014-06-13 : This is the details of this new milestone"
)


def test_parses_the_template_example() -> None:
    ms = parse_milestones(TEMPLATE_M)
    assert ms == [
        Milestone(1, dt.date(2014, 5, 23), "Milestone Description"),
        Milestone(2, dt.date(2014, 6, 12), "Milestone \nDescription"),
    ]
    changes = parse_changes(TEMPLATE_N)
    assert [(c.number, c.kind, c.date) for c in changes] == [
        (2, ChangeKind.UPDATE, dt.date(2014, 6, 18)),
        (3, ChangeKind.NEW, dt.date(2014, 6, 13)),
    ]
    assert next_number(ms, changes) == 4


def test_format_round_trips() -> None:
    ms = [Milestone(1, dt.date(2026, 1, 15), "Patch web tier"), Milestone(2, dt.date(2026, 2, 1), "Rescan")]
    text = format_milestones(ms)
    assert text == "(1) 2026-01-15: Patch web tier\n\n(2) 2026-02-01: Rescan"
    assert parse_milestones(text) == ms
    cs = [MilestoneChange(1, ChangeKind.COMPLETE, dt.date(2026, 1, 20), "Done")]
    assert format_changes(cs) == "(1) Complete 2026-01-20 : Done"
    assert parse_changes(format_changes(cs)) == cs


def test_month_first_dates_and_backslashes() -> None:
    assert parse_milestones(r"(1) 01\15\2026: x")[0].date == dt.date(2026, 1, 15)
    assert parse_milestones("(1) 1-15-2026 : x")[0].date == dt.date(2026, 1, 15)


def test_empty_cell_is_no_milestones() -> None:
    assert parse_milestones("  \n") == []
    assert parse_changes("") == []


@pytest.mark.parametrize(
    "text",
    [
        "Patch it by March",
        "(1) 2026-02-30: impossible date",
        "(1) 26-02-01: two-digit year",
        "(1) 2026-01-01: a\n\n(1) 2026-02-01: b",
        "intro\n(1) 2026-01-01: x",
    ],
)
def test_rejects_text_outside_the_grammar(text: str) -> None:
    with pytest.raises(MilestoneSyntaxError):
        parse_milestones(text)


def test_change_kind_is_case_insensitive() -> None:
    assert parse_changes("(4) complete 2026-03-01: ok")[0].kind is ChangeKind.COMPLETE
