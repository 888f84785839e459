"""The Tenable.sc / Tenable.io CSV parser on hand-written exports and on the corpus files."""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.domain.models import Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.registry import read_head
from poam.parsers.tenable_csv import TenableCsvParser, when
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_nessus_csv import peer_invalid

SC_HEADER = ["Plugin", "Plugin Name", "Family", "Severity", "IP Address", "Protocol", "Port", "MAC Address"]
SC_HEADER += ["DNS Name", "NetBIOS Name", "Plugin Output", "Solution", "CVSS V2 Base Score", "CVSS V3 Base Score"]
SC_HEADER += ["CVSS V3 Vector", "CVE", "Cross References", "First Discovered", "Last Observed"]
IO_HEADER = ["Plugin ID", "CVE", "CVSS", "Risk", "Host", "Protocol", "Port", "Name", "Plugin Output", ""]
IO_HEADER += ["Vulnerability State", "IP Address", "FQDN", "NetBios", "OS", "Plugin Family", "CVSS3 Base Score"]
IO_HEADER += ["First Found", "Last Found", "Severity", "Original Severity", "Last Fixed"]
JAN = "Jan 5, 2026 10:00:00 MST"
FEB = "Feb 5, 2026 10:00:00 MST"


def sc(plugin: str, ip: str = "10.0.0.5", port: str = "443", severity: str = "High", **cells: str) -> dict[str, str]:
    base = {"Plugin": plugin, "Plugin Name": f"Plugin {plugin}", "Severity": severity, "IP Address": ip}
    base |= {"Protocol": "TCP", "Port": port, "First Discovered": JAN, "Last Observed": FEB}
    return base | {k.replace("_", " "): v for k, v in cells.items()}


def io(plugin: str, host: str = "db01.example.com", state: str = "Active", **cells: str) -> dict[str, str]:
    base = {"Plugin ID": plugin, "Name": f"Plugin {plugin}", "Risk": "Medium", "Host": host, "Protocol": "TCP"}
    base |= {"Port": "0", "Vulnerability State": state, "IP Address": "10.0.0.7", "FQDN": host}
    base |= {"First Found": "2026-01-05T10:00:00.123Z", "Last Found": "2026-02-05T10:00:00Z"}
    return base | {k.replace("_", " "): v for k, v in cells.items()}


def write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") if h else "" for h in header])
    return path


def parse(path: Path, scan_date: dt.datetime | None = None) -> list[object]:
    with path.open("rb") as f:
        return list(TenableCsvParser().parse(f, ParseContext(str(path), scan_date=scan_date)))


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def test_tenable_sc_rows(tmp_path: Path) -> None:
    rows = [
        sc(
            "73756",
            MAC_Address="9c:8e:99:1b:8b:dc",
            NetBIOS_Name="WORKGROUP\\DB01",
            CVE="CVE-2013-2566,CVE-2015-2808",
            Cross_References="CWE #310,IAVA #0001-A-0560",
            CVSS_V3_Vector="AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N/E:P/RL:O/RC:C",
            Plugin_Output="Plugin Output: \nfound it",
        ),
    ]
    records = parse(write(tmp_path / "sc.csv", SC_HEADER, rows))
    first, last = findings(records)
    assert (first.observed_at, last.observed_at) == (dt.datetime(2026, 1, 5, 17), dt.datetime(2026, 2, 5, 17))  # MST
    assert first.weakness is last.weakness and (first.location, last.location) == ("443/tcp", "443/tcp")
    w, a = last.weakness, last.asset
    assert (w.tool, w.vuln_id, w.severity, w.cves) == (
        "Tenable.sc",
        "73756",
        Severity.HIGH,
        ("CVE-2013-2566", "CVE-2015-2808"),
    )
    assert (w.cwes, w.iavas) == (("310",), ("0001-A-0560",))
    assert w.cvss3_vector == "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N" and w.cvss3_score == 7.5
    assert (a.ip, a.netbios, a.mac, last.evidence) == ("10.0.0.5", "DB01", "9c:8e:99:1b:8b:dc", "found it")
    assert not [r for r in records if isinstance(r, Coverage)]
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.started_at) == ("Tenable.sc", dt.datetime(2026, 2, 5, 17))


def test_no_first_sighting_when_times_are_equal_or_informational(tmp_path: Path) -> None:
    rows = [sc("1", First_Discovered=FEB), sc("2", severity="Info"), sc("3", First_Discovered="", Last_Observed="")]
    when_given = dt.datetime(2026, 3, 1)
    found = findings(parse(write(tmp_path / "t.csv", SC_HEADER, rows), scan_date=when_given))
    assert [(f.weakness.vuln_id, f.observed_at) for f in found] == [
        ("1", dt.datetime(2026, 2, 5, 17)),
        ("2", dt.datetime(2026, 2, 5, 17)),
        ("3", when_given),  # no dates in the row: --scan-date
    ]


def test_tenable_io_rows_merge_cves_and_fixed_rows_close(tmp_path: Path) -> None:
    rows = [
        io("176703", CVE="CVE-2021-46666", Severity="3", Original_Severity="3", Risk="High"),
        io("176703", CVE="CVE-2021-46663", Severity="3", Original_Severity="3", Risk="High"),
        io("164329", state="Fixed", Last_Fixed="2026-03-01T00:00:00Z", Original_Severity="2", Severity="1"),
        io("164330", host="10.0.0.8", state="Resurfaced", FQDN="", IP_Address="10.0.0.8", NetBios="WEB"),
    ]
    records = parse(write(tmp_path / "io.csv", IO_HEADER, rows))
    found = findings(records)
    assert [(f.weakness.vuln_id, f.status, f.observed_at) for f in found] == [
        ("176703", FindingStatus.OPEN, dt.datetime(2026, 1, 5, 10, 0, 0, 123000)),
        ("176703", FindingStatus.OPEN, dt.datetime(2026, 2, 5, 10)),
        ("164329", FindingStatus.FIXED, dt.datetime(2026, 3, 1)),  # at Last Fixed, no first sighting
        ("164330", FindingStatus.OPEN, dt.datetime(2026, 1, 5, 10, 0, 0, 123000)),
        ("164330", FindingStatus.OPEN, dt.datetime(2026, 2, 5, 10)),
    ]
    assert found[0].weakness.cves == ("CVE-2021-46666", "CVE-2021-46663")
    assert (found[0].weakness.tool, found[0].weakness.severity) == ("Tenable.io", Severity.HIGH)
    assert found[2].weakness.severity is Severity.MEDIUM  # the original severity, before a recast
    assert (found[0].asset.fqdn, found[0].asset.ip, found[0].location) == ("db01.example.com", "10.0.0.7", "")
    assert (found[3].asset.ip, found[3].asset.fqdn, found[3].asset.netbios) == ("10.0.0.8", None, "WEB")
    scan = records[-1]
    assert isinstance(scan, Scan) and scan.tool == "Tenable.io" and scan.ended_at == dt.datetime(2026, 3, 1)


FILE_TIME = dt.datetime(2026, 4, 2, 6, 0)


def parse_ctx(path: Path) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), file_time=FILE_TIME)
    with path.open("rb") as f:
        return list(TenableCsvParser().parse(f, ctx)), ctx


def test_odd_cells_are_warned_and_the_other_rows_import(tmp_path: Path) -> None:
    # each of these once refused the whole file
    rows = [
        io("1", state="Accepted"),
        io("2", Port="-1"),
        io("3", Host="", FQDN="", IP_Address=""),
        io("4", state="Mitigated"),
        io("5", Risk="Urgentish"),
        io("6"),
        io("7", Last_Found="soon"),
    ]
    records, ctx = parse_ctx(write(tmp_path / "io.csv", IO_HEADER, rows))
    last = [f for f in findings(records) if f.observed_at == dt.datetime(2026, 2, 5, 10)]
    assert [(f.weakness.vuln_id, f.location, f.status, f.weakness.severity) for f in last] == [
        ("2", "", FindingStatus.OPEN, Severity.MEDIUM),  # no port
        ("4", "", FindingStatus.OPEN, Severity.MEDIUM),  # an unknown state never closes anything
        ("5", "", FindingStatus.OPEN, Severity.MEDIUM),  # an unknown severity is Moderate
        ("6", "", FindingStatus.OPEN, Severity.MEDIUM),
    ]
    assert ctx.report.warnings == [
        "row 1: Vulnerability State 'Accepted' sets the risk aside; left out (neither open nor fixed)",
        "row 2: port '-1' is not a port number; no port",
        "row 3: no host, IP address, DNS name or NetBIOS name; left out",
        "row 4: status 'Mitigated' not recognised; kept open",
        "row 5: severity 'Urgentish' not recognised; rated Moderate",
        "row 7: last found 'soon' is not a date; not used",
    ]
    assert [f.observed_at for f in findings(records) if f.weakness.vuln_id == "7"] == [
        dt.datetime(2026, 1, 5, 10, 0, 0, 123000)  # First Found: the only date left
    ]
    assert ctx.report.skipped == 1
    records, ctx = parse_ctx(write(tmp_path / "sc.csv", SC_HEADER, [sc("x1"), sc("7", severity="Urgentish")]))
    assert [f.weakness.severity for f in findings(records)] == [Severity.MEDIUM, Severity.MEDIUM]
    assert ctx.report.warnings == [
        "row 1: plugin id 'x1' is not a plugin number; left out",
        "row 2: severity 'Urgentish' not recognised; rated Moderate",
    ]


def test_an_export_without_dates_takes_the_file_time_and_a_dated_one_does_not(tmp_path: Path) -> None:
    undated = [h for h in SC_HEADER if h not in ("First Discovered", "Last Observed")]
    records, ctx = parse_ctx(write(tmp_path / "u.csv", undated, [sc("1"), sc("2", port="22")]))
    assert [f.observed_at for f in findings(records)] == [FILE_TIME, FILE_TIME]
    assert ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path / "d.csv", SC_HEADER, [sc("1"), sc("2", port="22")]))
    assert {f.observed_at for f in findings(records)} == {dt.datetime(2026, 1, 5, 17), dt.datetime(2026, 2, 5, 17)}
    assert not ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path / "io.csv", IO_HEADER, [io("1", First_Found="", Last_Found="")]))
    assert [f.observed_at for f in findings(records)] == [FILE_TIME] and ctx.report.used_file_time


def test_times() -> None:
    assert when("Feb 19, 2024 21:01:01 UTC") == dt.datetime(2024, 2, 19, 21, 1, 1)
    assert when("Aug 18, 2004 12:00:00 MDT") == dt.datetime(2004, 8, 18, 18)
    assert when("2023-06-08T01:58:56.166Z") == dt.datetime(2023, 6, 8, 1, 58, 56, 166000)
    assert when("N/A") is None and when("Feb 31, 2024 21:01:01 UTC") is None


# --- end to end ---------------------------------------------------------------------------------


def items_of(engine: Engine) -> dict[tuple[str, str], object]:
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, None, "t").id, "all")
    return {(i.detector_source, i.source_identifier): i for i in found}


def test_import_dates_items_from_first_seen_and_closes_only_fixed_rows(
    engine: Engine, register_parser: object, tmp_path: Path
) -> None:
    register_parser(TenableCsvParser())  # type: ignore[operator]
    r = import_file(engine, write(tmp_path / "sc.csv", SC_HEADER, [sc("1001"), sc("1002", port="22")]))
    assert (r.format, r.tool, r.items_opened, r.assets_covered) == ("tenable-csv", "Tenable.sc", 2, 0)
    item = items_of(engine)[("Tenable.sc", "1001")]
    assert item.detection_date == dt.date(2026, 1, 5)  # type: ignore[attr-defined]  # First Discovered
    # a later export without 1002 does not close it: the export may be filtered
    later = [sc("1001", Last_Observed="Mar 5, 2026 10:00:00 MST")]
    r = import_file(engine, write(tmp_path / "sc2.csv", SC_HEADER, later))
    assert r.fixed_findings == 0 and items_of(engine)[("Tenable.sc", "1002")].status is ItemStatus.OPEN  # type: ignore[attr-defined]

    r = import_file(engine, write(tmp_path / "io.csv", IO_HEADER, [io("2001"), io("2002")]))
    assert (r.tool, r.items_opened) == ("Tenable.io", 2)
    fixed = [io("2001", state="Fixed", Last_Fixed="2026-03-01T00:00:00Z"), io("2002")]
    r = import_file(engine, write(tmp_path / "io2.csv", IO_HEADER, fixed))
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    items = items_of(engine)
    assert items[("Tenable.io", "2001")].status is ItemStatus.CLOSED  # type: ignore[attr-defined]
    assert items[("Tenable.io", "2002")].status is ItemStatus.OPEN  # type: ignore[attr-defined]


# --- the real files of the corpus ------------------------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("tenable_sc_io_csv").iterdir())


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def independent(path: Path) -> tuple[str, dict[str, set[str]]]:
    """The tool, and plugin id -> `asset (port/proto)` of non-informational rows (plain csv)."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if any(v.strip() for v in r.values() if isinstance(v, str))]
    with path.open(newline="", encoding="utf-8") as f:
        tool = "Tenable.sc" if next(csv.reader(f))[0] == "Plugin" else "Tenable.io"
    plugins: dict[str, set[str]] = {}
    for r in rows:
        if tool == "Tenable.sc":
            plugin, level, ident = r["Plugin"], r["Severity"], r["DNS Name"] or r["IP Address"]
        else:
            plugin, level = r["Plugin ID"], r["Risk"]
            ident = r["FQDN"] or (r["Host"] if not _is_ip(r["Host"]) else "") or r["IP Address"]
        if level in ("Info", "None", ""):
            continue
        where = f" ({r['Port']}/{r['Protocol'].lower()})" if r["Port"] not in ("", "0") else ""
        plugins.setdefault(plugin, set()).add(ident + where)
    return tool, plugins


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 3
    for path in files:
        if path.name in peer_invalid("tenable_sc_io_csv"):
            with pytest.raises(InputError):
                parse(path)
            continue
        records = parse(path)
        tool, expected = independent(path)
        got: dict[str, set[str]] = {}
        for f in findings(records):
            assert f.weakness.tool == tool and f.status is FindingStatus.OPEN, path.name
            where = f" ({f.location})" if f.location else ""
            got.setdefault(f.weakness.vuln_id, set()).add(f.asset.identifier + where)
        assert got == expected, path.name
        scan = records[-1]
        assert isinstance(scan, Scan) and scan.tool == tool and scan.started_at is not None


@pytest.mark.corpus
def test_sniff_claims_exactly_the_tenable_sc_io_folder() -> None:
    corpus_dir("tenable_sc_io_csv")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if TenableCsvParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(corpus_files())


@pytest.mark.corpus
def test_corpus_files_import_with_the_right_items(engine: Engine, register_parser: object) -> None:
    register_parser(TenableCsvParser())  # type: ignore[operator]
    for n, path in enumerate(corpus_files()):
        name = f"s{n}"
        systems.add_system(engine, name, "test")
        result = import_file(engine, path, system=name)
        tool, expected = independent(path)
        with engine.begin() as conn:
            items = load(conn, systems.resolve(conn, name, "t").id, "all")
        assert {i.source_identifier for i in items} == set(expected), path.name
        for i in items:  # hosts sharing a NetBIOS name and a MAC address are one asset in the store
            assert {a.text for a in i.assets} <= expected[i.source_identifier], path.name
            assert {a.location for a in i.assets} == {e.partition(" (")[2][:-1] for e in expected[i.source_identifier]}
        assert result.tool == tool and all(i.detector_source == tool for i in items)
    # issue_9612: first discovered Feb 5, last observed Feb 19: the item dates from the first; the
    # two IP addresses with one NetBIOS name and MAC address are one host
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, "s0", "t").id, "all")
    assert [i.detection_date for i in items] == [dt.date(2024, 2, 5)]
    assert len({a.asset_ref for a in items[0].assets}) == 1
