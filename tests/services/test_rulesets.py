"""The rule tables poam ships, checked against the published values written here by hand."""

from pathlib import Path

import pytest

from poam.domain.models import Level
from poam.errors import UsageError
from poam.services import rulesets


@pytest.mark.parametrize(
    ("name", "critical", "high", "moderate", "low"),
    [
        ("fedramp-rev5", 30, 30, 90, 180),  # FedRAMP POA&M template completion guide
        ("cms", 15, 30, 90, 365),  # CMS CISO memo 20-01
        ("dod", 30, 30, 180, 365),  # CAT I / II / III
    ],
)
def test_shipped_day_tables(name: str, critical: int, high: int, moderate: int, low: int) -> None:
    table = rulesets.shipped_day_table(name)
    assert dict(table.days) == {Level.CRITICAL: critical, Level.HIGH: high, Level.MODERATE: moderate, Level.LOW: low}


def test_dod_names_its_categories() -> None:
    dod = rulesets.shipped_day_table("dod")
    assert [dod.label(lv) for lv in (Level.CRITICAL, Level.HIGH, Level.MODERATE, Level.LOW)] == [
        "CAT I",
        "CAT I",
        "CAT II",
        "CAT III",
    ]


def test_shipped_bod_table_is_table_1() -> None:
    # (public, KEV, automatable, total) -> days (None: fix on system upgrade), forensic triage
    published = {
        (True, True, True, True): (3, True),
        (True, True, True, False): (3, False),
        (True, True, False, True): (3, True),
        (True, True, False, False): (14, False),
        (True, False, True, True): (3, False),
        (True, False, True, False): (14, False),
        (True, False, False, True): (14, False),
        (True, False, False, False): (60, False),
        (False, True, True, True): (3, True),
        (False, True, True, False): (14, False),
        (False, True, False, True): (14, False),
        (False, True, False, False): (14, False),
        (False, False, True, True): (60, False),
        (False, False, True, False): (60, False),
        (False, False, False, True): (None, False),
        (False, False, False, False): (None, False),
    }
    table = rulesets.bod_table()
    assert len(table.rows) == 16 and [r.number for r in table.rows] == list(range(1, 17))
    assert {(r.public, r.kev, r.automatable, r.total): (r.days, r.forensic_triage) for r in table.rows} == published
    assert table.missing_metadata_days == 60


def test_a_custom_table(tmp_path: Path) -> None:
    path = tmp_path / "agency.toml"
    path.write_text('name = "agency-x"\n[days]\nCritical = 7\nHigh = 15\nModerate = 60\nLow = 120\n', encoding="utf-8")
    table, text = rulesets.read_custom(path)
    assert table.name == "agency-x" and table.days[Level.HIGH] == 15 and "agency-x" in text


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('name = "x"\n[days]\nCritical = 7\nHigh = 15\nModerate = 60\n', "days.Low"),
        ('name = "x"\n[days]\nCritical = 0\nHigh = 15\nModerate = 60\nLow = 1\n', "days.Critical"),
        ('name = "x"\n[days]\nCritical = "7"\nHigh = 15\nModerate = 60\nLow = 1\n', "days.Critical"),
        ("[days]\nCritical = 7\nHigh = 15\nModerate = 60\nLow = 1\n", "name"),
        ('name = "cms"\n[days]\nCritical = 7\nHigh = 15\nModerate = 60\nLow = 1\n', "another name"),
        ("name = \n", "not a TOML file"),
    ],
)
def test_a_bad_custom_table_is_refused_with_its_problem(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=problem):
        rulesets.read_custom(path)


def test_a_custom_table_must_be_a_small_regular_file(tmp_path: Path) -> None:
    import os

    with pytest.raises(UsageError, match="not a regular file"):
        rulesets.read_custom(tmp_path)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        rulesets.read_custom(fifo)  # never opened: a FIFO would block the read
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 70_000 + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="larger than 64 KiB"):
        rulesets.read_custom(big)
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + b'name = "x"\n[days]\nCritical = 7\nHigh = 15\nModerate = 60\nLow = 90\n')
    assert rulesets.read_custom(bom)[0].name == "x"
    spaced = tmp_path / "spaced.toml"
    spaced.write_text('name = " cms "\n[days]\nCritical = 7\nHigh = 15\nModerate = 60\nLow = 90\n', encoding="utf-8")
    with pytest.raises(UsageError, match="another name"):
        rulesets.read_custom(spaced)
