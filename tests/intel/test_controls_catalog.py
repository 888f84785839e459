"""The shipped NIST SP 800-53 Rev 5 control list, checked against facts typed by hand from the
published catalog (SP 800-53 Rev 5 and its releases 5.1.1 and 5.2.0)."""

from __future__ import annotations

import re
from collections import Counter
from importlib.resources import files

import pytest

from poam.domain.controls import Withdrawn, catalog_refusal
from poam.intel.controls_catalog import RESOURCE, controls_catalog


def test_the_list_is_shipped_as_package_data() -> None:
    assert files("poam.data").joinpath(RESOURCE).is_file()


@pytest.mark.parametrize(
    "control",
    ["AC-1", "AC-2", "AC-2(13)", "AC-25", "CM-6", "RA-5", "SI-2", "SI-2(2)", "SC-7(5)", "PM-32", "SR-12", "PT-8"],
)
def test_current_controls_are_known(control: str) -> None:
    assert catalog_refusal(control, controls_catalog()) is None


@pytest.mark.parametrize(
    "control",
    # IA-13 and its enhancements came with release 5.1.1; SA-15(13), SA-24 and SI-2(7) with 5.2.0
    ["IA-13", "IA-13(1)", "IA-13(2)", "IA-13(3)", "SA-15(13)", "SA-24", "SI-2(7)"],
)
def test_controls_of_later_releases_are_known(control: str) -> None:
    assert catalog_refusal(control, controls_catalog()) is None


@pytest.mark.parametrize("control", ["AC-2(14)", "XX-99", "AC-26", "PM-33", "SR-13", "SI-2(8)", "AP-1", "AR-2"])
def test_ids_not_in_rev5_are_unknown(control: str) -> None:
    assert catalog_refusal(control, controls_catalog()) == f"not a NIST SP 800-53 Rev 5 control: {control!r}"


def test_withdrawn_controls_and_where_they_went() -> None:
    withdrawn = controls_catalog().withdrawn
    assert withdrawn["SA-12"] == Withdrawn("incorporated-into", ("SR",))  # supply chain protection -> SR family
    assert withdrawn["SA-12(1)"] == Withdrawn("moved-to", ("SR-5",))
    assert withdrawn["AC-13"] == Withdrawn("incorporated-into", ("AC-2", "AU-6"))
    assert withdrawn["AC-2(10)"] == Withdrawn("incorporated-into", ("AC-2k",))
    assert withdrawn["SC-19"] == Withdrawn("", ())  # Voice over IP: withdrawn with no successor
    assert catalog_refusal("SA-12", controls_catalog()) == (
        "'SA-12' was withdrawn in Rev 5 (incorporated into the SR family)"
    )


def test_counts() -> None:
    catalog = controls_catalog()
    ids = catalog.active | catalog.withdrawn.keys()
    base = Counter(c.split("-")[0] for c in ids if "(" not in c)
    # AC-1..AC-25, PM-1..PM-32, SR-1..SR-12 (base controls, withdrawn ones included)
    assert (base["AC"], base["PM"], base["SR"]) == (25, 32, 12)
    assert len(base) == 20 and sum(base.values()) == 324
    assert len(ids) == 1196 and len(catalog.withdrawn) == 182


def test_the_header_names_its_source() -> None:
    text = files("poam.data").joinpath(RESOURCE).read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("uuid 613fca2d-704a-42e7-8e2b-b206fb92b456" in line for line in header)
    assert any(re.search(r"SHA-256 [0-9a-f]{64}", line) for line in header)
