"""Checking control ids against a NIST SP 800-53 Rev 5 control table (a small hand-made one)."""

from __future__ import annotations

import pytest

from poam.domain.controls import ControlCatalog, Withdrawn, catalog_refusal, parse_catalog

TABLE = """\
# a comment, then one control a line
AC-2\tactive
AC-2(1)\tactive
AC-2(10)\twithdrawn\tincorporated-into\tAC-2k
SA-12\twithdrawn\tincorporated-into\tSR
SA-12(1)\twithdrawn\tmoved-to\tSR-5
SA-12(13)\twithdrawn\tincorporated-into\tMA-6,RA-9
SC-19\twithdrawn
"""


@pytest.fixture
def table() -> ControlCatalog:
    return parse_catalog(TABLE.splitlines())


def test_the_table_is_parsed(table: ControlCatalog) -> None:
    assert table.active == {"AC-2", "AC-2(1)"} and len(table) == 7
    assert table.withdrawn["SA-12(13)"] == Withdrawn("incorporated-into", ("MA-6", "RA-9"))
    assert table.withdrawn["SC-19"] == Withdrawn("", ())


def test_active_controls_pass(table: ControlCatalog) -> None:
    assert catalog_refusal("AC-2", table) is None
    assert catalog_refusal("AC-2(1)", table) is None


def test_unknown_controls_are_refused(table: ControlCatalog) -> None:
    assert catalog_refusal("XX-99", table) == "not a NIST SP 800-53 Rev 5 control: 'XX-99'"
    assert catalog_refusal("AC-2(2)", table) == "not a NIST SP 800-53 Rev 5 control: 'AC-2(2)'"


def test_withdrawn_controls_are_refused_with_where_they_went(table: ControlCatalog) -> None:
    assert catalog_refusal("SA-12", table) == "'SA-12' was withdrawn in Rev 5 (incorporated into the SR family)"
    assert catalog_refusal("SA-12(1)", table) == "'SA-12(1)' was withdrawn in Rev 5 (moved to SR-5)"
    assert catalog_refusal("SA-12(13)", table) == "'SA-12(13)' was withdrawn in Rev 5 (incorporated into MA-6, RA-9)"
    assert catalog_refusal("AC-2(10)", table) == "'AC-2(10)' was withdrawn in Rev 5 (incorporated into AC-2k)"
    assert catalog_refusal("SC-19", table) == "'SC-19' was withdrawn in Rev 5"


@pytest.mark.parametrize(
    "line",
    ["ac-2\tactive", "AC-02\tactive", "AC-2\tretired", "AC-2\tactive\textra", "AC-2\twithdrawn\tmoved-to", "AC-2"],
)
def test_bad_lines_are_rejected(line: str) -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_catalog([line])


def test_a_repeated_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="line 2: bad or repeated"):
        parse_catalog(["AC-2\tactive", "AC-2\twithdrawn"])
