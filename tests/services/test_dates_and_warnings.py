"""One date rule for every format (--scan-date, else the file's dates, else its modification
time, with the source said), and warnings for odd records, in-process and from the parser child."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.errors import InputError
from poam.services.importer import import_file
from tests.builders import write_csv
from tests.services.test_import import counts, items_of

ROW = {
    "detector": "Pen Test",
    "weakness_id": "PT-1",
    "weakness_name": "XSS",
    "severity": "high",
    "asset": "app.example.com",
    "detected": "2026-01-10",
}
MTIME = dt.datetime(2026, 2, 3, 4, 5, 6)


def csv_file(tmp_path: Path, rows: list[dict[str, str]], name: str = "p.csv") -> Path:
    path = write_csv(tmp_path / name, rows, list(ROW) + ["status", "port"])
    os.utime(path, (MTIME.replace(tzinfo=dt.UTC).timestamp(),) * 2)
    return path


def test_the_files_own_dates(engine: Engine, tmp_path: Path) -> None:
    r = import_file(engine, csv_file(tmp_path, [ROW]))
    assert r.date_source == "file" and r.warnings == 0
    assert items_of(engine)["V-1"].detection_date == dt.date(2026, 1, 10)  # type: ignore[attr-defined]


def test_scan_date_replaces_the_files_dates(engine: Engine, tmp_path: Path) -> None:
    r = import_file(engine, csv_file(tmp_path, [ROW]), scan_date=dt.datetime(2026, 3, 1))
    assert r.date_source == "option"
    assert (r.started_at, r.ended_at) == (dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 1))
    assert items_of(engine)["V-1"].detection_date == dt.date(2026, 3, 1)  # type: ignore[attr-defined]


def test_an_undated_record_takes_the_file_time_and_says_so(engine: Engine, tmp_path: Path) -> None:
    r = import_file(engine, csv_file(tmp_path, [{**ROW, "detected": "someday"}]))
    assert r.date_source == "mtime"
    assert r.warning_lines == ["row 2 (PT-1): detected 'someday' is not a date; dated 2026-02-03"]
    assert items_of(engine)["V-1"].detection_date == dt.date(2026, 2, 3)  # type: ignore[attr-defined]


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "child"])
def test_warnings_are_counted_and_listed(engine: Engine, tmp_path: Path, parallel: bool) -> None:
    rows = [
        {**ROW, "severity": "severe"},
        {**ROW, "weakness_id": "PT-2", "status": "reviewing"},
        {**ROW, "weakness_id": "PT-3", "port": "http"},
        {**ROW, "weakness_id": "PT-4"},
    ]
    r = import_file(engine, csv_file(tmp_path, rows), parallel=parallel)
    assert r.results == 4 and r.new_findings == 4 and r.warnings == 3 and r.date_source == "file"
    assert r.warning_lines == [
        "row 2 (PT-1): severity 'severe' not recognised; rated Moderate",
        "row 3 (PT-2): status 'reviewing' not recognised; kept open",
        "row 4 (PT-3): port 'http' is not a number; no port",
    ]


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "child"])
def test_a_file_whose_every_record_is_unreadable_is_refused(engine: Engine, tmp_path: Path, parallel: bool) -> None:
    import_file(engine, csv_file(tmp_path, [ROW], "first.csv"))
    before = counts(engine)
    bad = csv_file(tmp_path, [{**ROW, "asset": ""}, {**ROW, "weakness_id": ""}], "bad.csv")
    with pytest.raises(
        InputError, match=r"no record could be read \(2 left out; first: row 2: column 'asset' is empty"
    ):
        import_file(engine, bad, parallel=parallel)
    assert counts(engine) == before


def test_a_scan_with_an_unreadable_record_closes_nothing_by_absence(engine: Engine, tmp_path: Path) -> None:
    """The finding a scan no longer lists may be the one it could not read."""
    from sqlalchemy import select

    from poam.store.tables import scans
    from tests.builders import Host, Item, nessus

    def host(when: dt.datetime, *items: Item) -> Host:
        return Host("web01", ip="10.0.0.1", start=when, items=list(items))

    jan = tmp_path / "jan.nessus"
    jan.write_text(nessus([host(dt.datetime(2026, 1, 5), Item("100", severity=3))]))
    import_file(engine, jan)
    feb = tmp_path / "feb.nessus"
    feb.write_text(nessus([host(dt.datetime(2026, 2, 5), Item("999", severity=2))]).replace(' pluginID="999"', ""))
    r = import_file(engine, feb)
    assert (r.fixed_findings, r.items_closed, r.warnings) == (0, 0, 2)
    assert r.warning_lines[-1] == "file: 1 record(s) could not be read: nothing is closed by absence"
    mar = tmp_path / "mar.nessus"
    mar.write_text(nessus([host(dt.datetime(2026, 3, 5))]))
    assert import_file(engine, mar).items_closed == 1  # a clean scan still closes
    with engine.begin() as conn:
        assert conn.execute(select(scans.c.closes).order_by(scans.c.id)).scalars().all() == [True, False, True]


def test_a_record_whose_id_is_too_long_to_store_is_left_out(engine: Engine, tmp_path: Path) -> None:
    rows = [ROW, {**ROW, "weakness_id": "X" * 250}]
    r = import_file(engine, csv_file(tmp_path, rows))
    assert (r.results, r.new_findings, r.warnings) == (1, 1, 1)
    assert r.warning_lines == ["record 2: vuln_id longer than 200 characters ('" + "X" * 40 + "'...); left out"]


def test_a_file_without_records_dates_nothing(engine: Engine, tmp_path: Path) -> None:
    r = import_file(engine, csv_file(tmp_path, []))
    assert (r.results, r.date_source, r.started_at) == (0, "none", None)


def test_a_scan_with_an_unreadable_record_never_closes_a_late_older_finding(engine: Engine, tmp_path: Path) -> None:
    """A late, older scan's finding that a newer scan did not list is fixed by that newer scan, unless
    the newer scan could not read one of its records."""
    from tests.builders import Host, Item, nessus

    def host(when: dt.datetime, *items: Item) -> Host:
        return Host("web01", ip="10.0.0.1", start=when, items=list(items))

    for bad, expected in ((False, "closed"), (True, "open")):
        system = f"s{bad}"
        from poam.services import systems

        systems.add_system(engine, system, "t")
        feb = tmp_path / f"feb{bad}.nessus"
        text = nessus([host(dt.datetime(2026, 2, 5), Item("999", severity=2))])
        feb.write_text(text.replace(' pluginID="999"', "") if bad else text)
        import_file(engine, feb, system=system)
        jan = tmp_path / f"jan{bad}.nessus"
        jan.write_text(nessus([host(dt.datetime(2026, 1, 5), Item("100", severity=3))]))
        import_file(engine, jan, system=system)
        late = [i for i in items_of(engine, system).values() if i.source_identifier == "100"]  # type: ignore[attr-defined]
        assert [i.status.value for i in late] == [expected], bad  # type: ignore[attr-defined]


def test_set_aside_records_and_the_file_time_cross_from_the_parser_child(engine: Engine, tmp_path: Path) -> None:
    import json

    def sarif(name: str, *results: dict[str, object], when: str | None = None) -> Path:
        run: dict[str, object] = {
            "tool": {"driver": {"name": "CodeScanner"}},
            "results": list(results),
            "versionControlProvenance": [{"repositoryUri": "https://github.com/acme/web"}],
        }
        if when:
            run["invocations"] = [{"startTimeUtc": when, "executionSuccessful": True}]
        path = tmp_path / name
        path.write_text(json.dumps({"version": "2.1.0", "runs": [run]}))
        os.utime(path, (MTIME.replace(tzinfo=dt.UTC).timestamp(),) * 2)
        return path

    where = {"physicalLocation": {"artifactLocation": {"uri": "src/app.py"}, "region": {"startLine": 3}}}
    hit = {"ruleId": "R", "message": {"text": "x"}, "locations": [where]}
    import_file(engine, sarif("jan.sarif", hit, when="2026-01-05T10:00:00Z"), parallel=False)
    muted = dict(hit, suppressions=[{"kind": "inSource"}])
    r = import_file(engine, sarif("feb.sarif", muted), parallel=True)
    assert (r.set_aside, r.fixed_findings, r.date_source, r.ended_at) == (1, 0, "mtime", MTIME)
    assert [i.status.value for i in items_of(engine).values()] == ["open"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("detected", "message"),
    [
        ("9999-12-31", "record 1: date 9999-12-31 00:00 is more than a day in the future; give --scan-date"),
        ("2046-01-01", "record 1: date 2046-01-01 00:00 is more than a day in the future"),
        ("1985-06-01", "record 1: date 1985-06-01 00:00 is before 1990"),
    ],
)
def test_dates_outside_reason_refuse_the_file(engine: Engine, tmp_path: Path, detected: str, message: str) -> None:
    """A scan dated 9999 would keep every later scan from closing anything."""
    import_file(engine, csv_file(tmp_path, [ROW], "first.csv"))
    before = counts(engine)
    with pytest.raises(InputError, match=re.escape(message)):
        import_file(engine, csv_file(tmp_path, [{**ROW, "weakness_id": "PT-2", "detected": detected}], "bad.csv"))
    assert counts(engine) == before


def test_a_scan_date_outside_reason_is_refused_and_tomorrow_is_fine(engine: Engine, tmp_path: Path) -> None:
    path = csv_file(tmp_path, [ROW])
    with pytest.raises(InputError, match=r"is more than a day in the future \(given with --scan-date\)"):
        import_file(engine, path, scan_date=dt.datetime(9999, 1, 1))
    soon = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=20)  # a clock a little ahead
    assert import_file(engine, path, scan_date=soon).new_findings == 1


def test_a_port_that_is_no_port_is_left_out(engine: Engine, tmp_path: Path, register_parser: object) -> None:
    """Whatever a parser lets through, a port outside 0-65535 never reaches the store."""
    from poam.domain.models import Asset, Finding, Scan, Severity, Weakness
    from poam.parsers.base import Head, ParseContext

    class Ports:
        id = "test-ports"
        name = "test ports"
        maps_to = "a finding per line"
        closes_by_coverage = False

        def sniff(self, head: Head) -> bool:
            return head.text.startswith("PORTS")

        def parse(self, stream, ctx: ParseContext):  # type: ignore[no-untyped-def]
            w = Weakness("Porter", "P-1", "p", Severity.HIGH)
            for n, line in enumerate(stream.read().decode().split()[1:]):
                yield Finding(w, Asset(ip=f"10.0.0.{n + 1}"), dt.datetime(2026, 1, 5), port=int(line))
            yield Scan("Porter")

    register_parser(Ports())  # type: ignore[operator]
    path = tmp_path / "ports.txt"
    path.write_text("PORTS 443 70000 9223372036854775807 -1 0")
    r = import_file(engine, path)
    assert (r.results, r.new_findings) == (2, 2)
    assert r.warning_lines == [
        "record 2 (P-1): port 70000 is not 0-65535; left out",
        "record 3 (P-1): port 9223372036854775807 is not 0-65535; left out",
        "record 4 (P-1): port -1 is not 0-65535; left out",
    ]


@pytest.mark.parametrize("scan_date", [None, dt.datetime(2026, 2, 1)])
def test_an_implausible_first_detection_time_is_ignored_not_the_file(
    engine: Engine, tmp_path: Path, scan_date: dt.datetime | None
) -> None:
    """A tool's own first-detection time only moves the detection date earlier: a placeholder such
    as 1970-01-01 is dropped with a warning (before: the file was refused, even with --scan-date)."""
    from tests.parsers.test_asff import asff, write

    path = write(tmp_path, {"Findings": [asff(FirstObservedAt="1970-01-01T00:00:00Z")]})
    r = import_file(engine, path, scan_date=scan_date)
    assert r.items_opened == 1
    assert len(r.warning_lines) == 1 and r.warning_lines[0].endswith("first seen 1970-01-01 00:00:00 ignored")
    (item,) = items_of(engine).values()
    assert item.detection_date >= dt.date(2026, 1, 1)  # type: ignore[attr-defined]
