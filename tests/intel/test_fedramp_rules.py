"""The FedRAMP consolidated rules: the shipped copy is the pinned file; a newer one can be loaded."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.errors import InputError
from poam.intel import fedramp_rules
from poam.services import intel
from tests.conftest import reference_file

REFERENCE = "fedramp-2026/fedramp-rules/fedramp-consolidated-rules.json"


def test_the_shipped_rules_are_the_pinned_reference_file() -> None:
    shipped = fedramp_rules.bundled()
    assert (shipped.version, shipped.last_updated) == ("2026.07.14.01", "2026-07-14")
    assert shipped.document == json.loads(reference_file(REFERENCE).read_text(encoding="utf-8"))
    # the rules counted independently: the ids keyed to an object in the raw text of the FRR section
    raw = reference_file(REFERENCE).read_text(encoding="utf-8")
    start = raw.index('\n  "FRR": {')
    section = raw[start : raw.index('\n  "KSI": {', start)]
    assert shipped.rule_count() == len(re.findall(r'\n\s+"[A-Z]{2,5}-[A-Z]{2,5}-[A-Z0-9]{2,8}": \{', section))
    assert "VER-TFR-EVU" in raw and shipped.rule_count() > 200


def test_a_tampered_shipped_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    tampered = tmp_path / "rules.json.gz"
    doc = fedramp_rules.bundled().document | {"info": {**fedramp_rules.bundled().document["info"], "version": "9"}}
    tampered.write_bytes(gzip.compress(json.dumps(doc).encode()))
    monkeypatch.setattr(fedramp_rules, "BUNDLED", tampered)
    fedramp_rules.bundled.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="not the pinned FedRAMP rules file"):
            fedramp_rules.bundled()
    finally:
        fedramp_rules.bundled.cache_clear()


def test_a_newer_rules_file_is_loaded_and_used(engine: Engine, tmp_path: Path) -> None:
    doc = json.loads(reference_file(REFERENCE).read_text(encoding="utf-8"))
    doc["info"]["version"], doc["info"]["last_updated"] = "2026.09.13.02", "2026-09-13"
    newer = tmp_path / "fedramp-consolidated-rules.json"
    newer.write_text(json.dumps(doc), encoding="utf-8")
    loaded = intel.load(engine, newer, "t")
    assert (loaded.source, loaded.version, loaded.dated) == ("fedramp-rules", "2026.09.13.02", dt.datetime(2026, 9, 13))
    with engine.begin() as conn:
        assert intel.active_rules(conn).version == "2026.09.13.02"
    (st,) = [s for s in intel.status(engine) if s.source == "fedramp-rules"]
    assert (st.version, st.file) == ("2026.09.13.02", "fedramp-consolidated-rules.json")


def test_without_a_load_the_shipped_rules_are_in_force(engine: Engine) -> None:
    with engine.begin() as conn:
        assert intel.active_rules(conn).version == "2026.07.14.01"
    (st,) = [s for s in intel.status(engine) if s.source == "fedramp-rules"]
    assert (st.file, st.loaded_at, st.stale) == ("shipped with poam", None, False)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["info"].update(version="2025.01.01.01"), "older than the 2026.07.14.01 poam ships"),
        (lambda d: d.pop("FRR"), "not a valid FedRAMP consolidated rules file: /: "),
        (
            lambda d: (
                d["info"].update(version="2026.09.13.02")
                or d["FRR"]["VER"]["data"]["all"]["TFR"]["VER-TFR-MAV"].update(timeframe_type="weeks")
            ),
            "a timeframe poam cannot read: 'weeks' 192",
        ),
        (
            lambda d: (
                d["info"].update(version="2026.09.13.02")
                or d["FRR"]["VDR"]["data"]["all"]["TFR"]["VDR-TFR-PVR"]["varies_by_class"]["d"].pop("pain_timeframes")
            ),
            "the VDR/VER timeframe tables cannot be read (KeyError)",
        ),
    ],
    ids=["older", "invalid", "unreadable-timeframe", "missing-table"],
)
def test_an_older_or_invalid_rules_file_is_refused(
    engine: Engine, tmp_path: Path, change: object, problem: str
) -> None:
    doc = json.loads(reference_file(REFERENCE).read_text(encoding="utf-8"))
    change(doc)  # type: ignore[operator]
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(problem)):
        intel.load(engine, path, "t")
    with engine.begin() as conn:
        assert intel.active_rules(conn).version == "2026.07.14.01"


# VDR-TFR-PVR as published (docs/rules-2026.md 1.4), written by hand: (LEV+IRV, LEV+NIRV, NLEV)
# in days, "12h" for Class D N5 LEV+IRV.
PUBLISHED_PVR = {
    "b": {5: (4, 8, 32), 4: (8, 32, 64), 3: (32, 64, 192), 2: (96, 160, 192)},
    "c": {5: (2, 4, 16), 4: (4, 8, 64), 3: (16, 32, 128), 2: (48, 128, 192)},
    "d": {5: ("12h", 1, 8), 4: (2, 8, 32), 3: (8, 16, 64), 2: (24, 96, 192)},
}


def test_the_cr26_tables_read_from_the_shipped_rules_match_the_published_ones() -> None:
    from poam.domain.rules import Duration

    tables = fedramp_rules.cr26_tables(fedramp_rules.bundled())
    for cls, rows in PUBLISHED_PVR.items():
        assert sorted(tables.pain[cls]) == [2, 3, 4, 5]  # N1 has no target
        for pain, cells in rows.items():
            expected = {
                col: Duration(12, "hours") if v == "12h" else Duration(int(v))
                for col, v in zip(("irv_lev", "nirv_lev", "nlev"), cells, strict=True)
            }
            assert tables.pain[cls][pain] == expected, (cls, pain)
    assert tables.evaluation == {"b": Duration(7), "c": Duration(5), "d": Duration(2)}
    assert tables.accepted == Duration(192)
    assert tables.incident_force == {"b": "MAY", "c": "SHOULD", "d": "SHOULD"}
    assert tables.nirv_incident_force == {"b": "MAY", "c": "MAY", "d": "SHOULD"}
