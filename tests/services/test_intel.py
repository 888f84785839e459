"""`poam intel load` recognises each file by its content and `poam intel status` says what is loaded,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from poam.cli import cli
from poam.errors import InputError
from poam.services import intel
from poam.store.tables import audit_events, epss_scores
from tests.conftest import reference_file
from tests.intel.test_epss import FILE


def scores(engine: Engine) -> dict[str, tuple[float, float]]:
    with engine.begin() as conn:
        return {r.cve: (r.epss, r.percentile) for r in conn.execute(select(epss_scores))}


def by_source(engine: Engine, source: str, today: dt.date | None = None) -> intel.SourceStatus:
    (found,) = [s for s in intel.status(engine, today) if s.source == source]
    return found


def test_epss_loads_and_replaces_the_previous_day(engine: Engine, tmp_path: Path) -> None:
    first = tmp_path / "epss_scores-2025-03-15.csv.gz"
    first.write_bytes(gzip.compress(FILE))
    loaded = intel.load(engine, first, "alice")
    assert (loaded.source, loaded.version, loaded.dated, loaded.records) == (
        "epss",
        "v2025.03.14",
        dt.datetime(2025, 3, 15, 12, 55),
        2,
    )
    assert scores(engine) == {"CVE-1999-0001": (0.01297, 0.79275), "CVE-2024-3094": (0.84302, 0.9929)}
    nxt = tmp_path / "epss_scores-2025-03-16.csv"
    nxt.write_bytes(
        b"#model_version:v2025.03.14,score_date:2025-03-16T12:55:00Z\ncve,epss,percentile\nCVE-2024-3094,0.9,0.999\n"
    )
    intel.load(engine, nxt, "alice")
    assert scores(engine) == {"CVE-2024-3094": (0.9, 0.999)}
    st = by_source(engine, "epss", dt.date(2025, 3, 20))
    assert (st.source, st.version, st.records, st.age_days, st.stale, st.file) == (
        "epss",
        "v2025.03.14",
        1,
        4,
        False,
        "epss_scores-2025-03-16.csv",
    )
    assert by_source(engine, "epss", dt.date(2025, 3, 30)).stale
    with engine.begin() as conn:
        events = conn.execute(select(func.count()).where(audit_events.c.action == "intel.load")).scalar_one()
    assert events == 2


def test_a_bad_epss_file_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(FILE)
    intel.load(engine, good, "t")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(FILE + b"CVE-1999-0001,0.5,0.5\n")  # a CVE twice: not one day's file
    with pytest.raises(InputError, match="CVE-1999-0001 is listed twice"):
        intel.load(engine, bad, "t")
    assert len(scores(engine)) == 2 and by_source(engine, "epss").file == "good.csv"


def test_the_real_kev_catalog_loads_through_intel_load(engine: Engine) -> None:
    path = reference_file("kev/known_exploited_vulnerabilities.json")
    loaded = intel.load(engine, path, "t")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert (loaded.source, loaded.version, loaded.records) == (
        "kev",
        expected["catalogVersion"],
        len(expected["vulnerabilities"]),
    )
    assert by_source(engine, "kev").dated is not None


def test_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    good = tmp_path / "epss.csv.gz"
    good.write_bytes(gzip.compress(FILE))
    other = tmp_path / "notes.txt"
    other.write_text("hello", encoding="utf-8")
    r = CliRunner().invoke(cli, ["--db", db, "intel", "load", str(other), str(good)])
    assert r.exit_code == 2
    assert r.stderr.strip() == (
        f"poam: error: {other}: not threat data poam knows (the CISA KEV catalog as JSON or CSV, FIRST EPSS scores)"
    )
    assert r.stdout.strip() == f"{good}: FIRST EPSS scores v2025.03.14 of 2025-03-15: 2 records; model v2025.03.14"
    r = CliRunner().invoke(cli, ["--db", db, "intel", "status", "--json"])
    assert r.exit_code == 0
    shown = {s["source"]: s for s in json.loads(r.stdout)}
    assert set(shown) == {"epss", "fedramp-rules", "cci"}
    assert (shown["epss"]["records"], shown["epss"]["dated"]) == (2, "2025-03-15T12:55:00Z")
    r = CliRunner().invoke(cli, ["--db", db, "intel", "status"])
    assert r.exit_code == 0 and "FIRST EPSS scores" in r.stdout


def test_vulnrichment_loads_from_a_folder_and_is_shown(engine: Engine, tmp_path: Path) -> None:
    from poam.store.tables import ssvc_decisions
    from tests.intel.test_vulnrichment import EXPECTED, NAMES

    folder = tmp_path / "vulnrichment"
    folder.mkdir()
    for name in NAMES:
        (folder / name).write_bytes(reference_file(f"fedramp-2026/cisa-vulnrichment/{name}").read_bytes())
    loaded = intel.load(engine, folder, "t")
    assert (loaded.source, loaded.records, loaded.dated) == (
        "vulnrichment",
        3,
        dt.datetime(2026, 6, 2, 14, 44, 12, 872324),
    )
    with engine.begin() as conn:
        stored = {
            r.cve: (r.exploitation, r.automatable, r.technical_impact) for r in conn.execute(select(ssvc_decisions))
        }
    assert stored == {c: (d.exploitation, d.automatable, d.technical_impact) for c, d in EXPECTED.items()}
    st = by_source(engine, "vulnrichment", dt.date(2026, 6, 10))
    assert (st.name, st.records, st.age_days, st.stale) == ("CISA Vulnrichment SSVC", 3, 8, False)


def test_the_cci_list_loads_through_intel_load(engine: Engine) -> None:
    from poam.store.tables import cci_map

    shipped = by_source(engine, "cci")
    assert (shipped.version, shipped.file, shipped.loaded_at) == ("2016-06-27", "shipped with poam", None)
    loaded = intel.load(engine, reference_file("cci/U_CCI_List.xml"), "t")
    assert (loaded.source, loaded.version, loaded.dated) == ("cci", "2016-06-27", dt.datetime(2016, 6, 27))
    with engine.begin() as conn:
        stored = conn.execute(select(func.count()).select_from(cci_map)).scalar_one()
    assert loaded.records == stored and stored > 3000
    assert by_source(engine, "cci").file == "U_CCI_List.xml"
