"""The Nessus CSV parser on hand-written exports and on the real files of the corpus."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.domain.models import Checks, Coverage, Finding, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.nessus_csv import NessusCsvParser, vector, xrefs, zoned
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

HEADER = ["Plugin ID", "CVE", "CVSS", "Risk", "Host", "Protocol", "Port", "Name", "Synopsis", "Description"]
HEADER += ["Solution", "See Also", "Plugin Output", "CVSS v3.0 Base Score", "Risk Factor", "XREF"]
WHEN = dt.datetime(2026, 3, 1, 12, 0)
SCAN_INFO = (
    "Information about this scan : \n\nNessus version : 10.7.1\nScan policy used : Advanced Scan\n"
    "Credentialed checks : yes, as 'root' via ssh\nScan Start Date : {date}\nScan duration : 600 sec\n"
)


def row(plugin: str, host: str = "10.0.0.5", port: str = "443", risk: str = "Medium", **cells: str) -> dict[str, str]:
    base = {
        "Plugin ID": plugin,
        "Host": host,
        "Protocol": "tcp",
        "Port": port,
        "Risk": risk,
        "Name": f"Plugin {plugin}",
    }
    return {**base, **{k.replace("_", " "): v for k, v in cells.items()}}


def info(host: str = "10.0.0.5", date: str = "2026/2/1 9:30 UTC") -> dict[str, str]:
    return row("19506", host, "0", "None", Plugin_Output=SCAN_INFO.format(date=date))


def write(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


def parse(path: Path, scan_date: dt.datetime | None = WHEN) -> list[object]:
    with path.open("rb") as f:
        return list(NessusCsvParser().parse(f, ParseContext(str(path), scan_date=scan_date)))


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def test_rows_differing_only_in_cve_are_one_finding(tmp_path: Path) -> None:
    rows = [
        row("1001", CVE="CVE-2024-0002", CVSS="5.0", Plugin_Output="out", XREF="CWE:79;IAVA:2024-A-0001-S"),
        row("1001", CVE="CVE-2024-0001", CVSS="5.0", Plugin_Output="out", XREF="CWE:79;IAVA:2024-A-0001-S"),
        row("1001", port="8443", CVE="CVE-2024-0002", CVSS="5.0"),
        row("1001", port="8443", CVE="CVE-2024-0001", CVSS="5.0"),
    ]
    found = findings(parse(write(tmp_path / "a.csv", rows)))
    assert [(f.weakness.vuln_id, f.asset.ip, f.location) for f in found] == [
        ("1001", "10.0.0.5", "443/tcp"),
        ("1001", "10.0.0.5", "8443/tcp"),
    ]
    w = found[0].weakness
    assert found[1].weakness is w and w.tool == "Nessus" and w.severity is Severity.MEDIUM
    assert w.cves == ("CVE-2024-0002", "CVE-2024-0001")
    assert (w.cwes, w.iavas, w.cvss2_score, found[0].evidence) == (("79",), ("2024-A-0001-S",), 5.0, "out")


def test_without_informational_rows_nothing_is_covered(tmp_path: Path) -> None:
    records = parse(write(tmp_path / "f.csv", [row("1001"), row("1002", risk="High")]))
    assert not [r for r in records if isinstance(r, Coverage)]
    assert [f.observed_at for f in findings(records)] == [WHEN, WHEN]  # no date in the file: --scan-date
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.started_at) == ("Nessus", WHEN)


def test_informational_rows_make_coverage_with_the_scan_information(tmp_path: Path) -> None:
    rows = [
        row("1001"),
        info(date="2026/2/1 9:30 EST"),
        row("1002", host="web01.example.com"),
        info("web01.example.com"),
    ]
    records = parse(write(tmp_path / "c.csv", rows), scan_date=None)
    covs = [r for r in records if isinstance(r, Coverage)]
    start = dt.datetime(2026, 2, 1, 14, 30)  # 9:30 EST
    assert [(c.asset.ip, c.asset.fqdn) for c in covs] == [("10.0.0.5", None), (None, "web01.example.com")]
    assert (covs[0].started_at, covs[0].ended_at) == (start, start + dt.timedelta(seconds=600))
    assert covs[0].authenticated is True and covs[0].checks is Checks.VULNERABILITY
    assert {f.observed_at for f in findings(records) if f.asset.ip} == {start}
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool_version, scan.name) == ("10.7.1", "Advanced Scan")
    assert scan.started_at == dt.datetime(2026, 2, 1, 9, 30)  # web01's start, in UTC, is the earliest


def test_values_read_safely(tmp_path: Path) -> None:
    rows = [row("1", CVSS="7,5", CVSS_v3_0_Base_Score="75", Risk_Factor="High", Risk="")]
    (f,) = findings(parse(write(tmp_path / "v.csv", rows)))
    assert (f.weakness.cvss2_score, f.weakness.cvss3_score) == (7.5, None)  # 75 is no CVSS score
    assert f.weakness.severity is Severity.HIGH  # Risk empty: Risk Factor
    assert xrefs("CERT #836068,CWE #310, IAVA #0001-A-0560") == (("310",), ("0001-A-0560",))
    assert vector(2, "CVSS2#AV:N/AC:L/Au:N/C:N/I:P/A:N/E:POC/RL:OF/RC:C") == "AV:N/AC:L/Au:N/C:N/I:P/A:N"
    assert vector(3, "AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N/E:P") == "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N"
    assert zoned(dt.datetime(2026, 1, 1, 12), "+02:00") == dt.datetime(2026, 1, 1, 10)
    assert zoned(dt.datetime(2026, 1, 1, 12), "Romance Standard Time") == dt.datetime(2026, 1, 1, 12)


FILE_TIME = dt.datetime(2026, 2, 20, 7, 0)


def parse_ctx(path: Path, scan_date: dt.datetime | None = None) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), scan_date=scan_date, file_time=FILE_TIME)
    with path.open("rb") as f:
        return list(NessusCsvParser().parse(f, ctx)), ctx


def test_odd_cells_are_warned_and_the_other_rows_import(tmp_path: Path) -> None:
    # each of these once refused the whole file
    rows = [
        {**row("1"), "Port": "http"},
        {**row("2"), "Plugin ID": "abc"},
        {**row("3"), "Risk": "Severe"},
        {**row("4"), "Host": " "},
        {**row("5"), "Port": "70000"},
        row("6"),
    ]
    records, ctx = parse_ctx(write(tmp_path / "b.csv", rows))
    assert [(f.weakness.vuln_id, f.location, f.weakness.severity) for f in findings(records)] == [
        ("1", "", Severity.MEDIUM),
        ("3", "443/tcp", Severity.MEDIUM),  # an unknown Risk is Moderate
        ("5", "", Severity.MEDIUM),
        ("6", "443/tcp", Severity.MEDIUM),
    ]
    assert ctx.report.warnings == [
        "row 1: port 'http' is not a port number; no port",
        "row 2: Plugin ID 'abc' is not a plugin number; left out",
        "row 3: severity 'Severe' not recognised; rated Moderate",
        "row 4: the Host cell is empty; left out",
        "row 5: port '70000' is not a port number; no port",
    ]
    assert ctx.report.skipped == 2
    risk = findings(parse(write(tmp_path / "r.csv", [{**row("7"), "Risk": "Severe", "Risk Factor": "High"}])))
    assert [f.weakness.severity for f in risk] == [Severity.HIGH]  # Risk Factor knows it: no warning


def test_undated_export_takes_the_file_time_only_when_a_host_needs_it(tmp_path: Path) -> None:
    records, ctx = parse_ctx(write(tmp_path / "u.csv", [row("1001"), row("1002", risk="High")]))
    assert [f.observed_at for f in findings(records)] == [FILE_TIME, FILE_TIME]
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.started_at, scan.ended_at) == (FILE_TIME, FILE_TIME)
    assert ctx.report.used_file_time
    # every host dated by its scan information: the file time is never asked for
    records, ctx = parse_ctx(write(tmp_path / "d.csv", [row("1001"), info(date="2026/2/1 9:30 UTC")]))
    assert {f.observed_at for f in findings(records)} == {dt.datetime(2026, 2, 1, 9, 30)}
    assert not ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path / "e.csv", []))  # nothing to date
    assert not ctx.report.used_file_time and isinstance(records[-1], Scan) and records[-1].started_at is None


def test_broken_csv_structure_is_still_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8") as f:
        f.write(",".join(HEADER) + "\n1,,,High,10.0.0.1,tcp,22,x,")
        f.write("y" * (10 * 1024 * 1024 + 1) + "\n")
    with pytest.raises(InputError, match="bad CSV near line"):
        parse(big)


def test_header_only_file_is_an_empty_scan(tmp_path: Path) -> None:
    records = parse(write(tmp_path / "e.csv", []))
    assert len(records) == 1 and isinstance(records[0], Scan)
    empty = tmp_path / "z.csv"
    empty.write_text("Plugin,Severity\n1,High\n")
    with pytest.raises(InputError, match="no header row"):
        parse(empty)


def test_sniff_refuses_other_tenable_exports(tmp_path: Path) -> None:
    def sniff(header: list[str]) -> bool:
        path = write(tmp_path / "s.csv", [row("1")], header)
        with path.open("rb") as f:
            return NessusCsvParser().sniff(read_head(f))

    assert sniff(HEADER)
    assert not sniff([*HEADER[:3], "CVSSv3", *HEADER[3:]])  # Tenable WAS
    assert not sniff([*HEADER, "Vulnerability State", "IP Address", "FQDN"])  # Tenable.io


# --- end to end ---------------------------------------------------------------------------------


def items_of(engine: Engine) -> dict[str, list[object]]:
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, None, "t").id, "all")
    return {i.source_identifier: [i.status, sorted(a.text for a in i.assets)] for i in found}


def test_import_then_a_later_full_export_fixes_what_it_no_longer_reports(
    engine: Engine, register_parser: object, tmp_path: Path
) -> None:
    register_parser(NessusCsvParser())  # type: ignore[operator]
    jan = [row("1001"), row("1002", port="22"), row("1001", host="10.0.0.9"), info(date="2026/1/5 10:00")]
    r = import_file(engine, write(tmp_path / "jan.csv", jan))
    assert (r.format, r.tool, r.assets_covered, r.items_opened) == ("nessus-csv", "Nessus", 1, 2)
    assert items_of(engine) == {
        "1001": [ItemStatus.OPEN, ["10.0.0.5 (443/tcp)", "10.0.0.9 (443/tcp)"]],
        "1002": [ItemStatus.OPEN, ["10.0.0.5 (22/tcp)"]],
    }
    # February: 10.0.0.5 fully scanned without 1002; 10.0.0.9 has no informational rows (filtered)
    feb = [row("1001"), info(date="2026/2/5 10:00")]
    r = import_file(engine, write(tmp_path / "feb.csv", feb))
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    assert items_of(engine)["1002"][0] is ItemStatus.CLOSED
    assert items_of(engine)["1001"] == [ItemStatus.OPEN, ["10.0.0.5 (443/tcp)", "10.0.0.9 (443/tcp)"]]


# --- the real files of the corpus ------------------------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("nessus_csv").iterdir())


def independent(path: Path) -> tuple[dict[str, set[str]], set[str]]:
    """Plugin id -> `host (port/proto)` of non-informational rows, and hosts with Risk None rows."""
    plugins: dict[str, set[str]] = {}
    covered: set[str] = set()
    with path.open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["Risk"] == "None":
                covered.add(r["Host"])
                continue
            where = f" ({r['Port']}/{r['Protocol']})" if r["Port"] not in ("", "0") else ""
            plugins.setdefault(r["Plugin ID"], set()).add(r["Host"] + where)
    return plugins, covered


def peer_invalid(folder: str) -> set[str]:
    """Files of a corpus folder that SOURCES.md marks PEER-INVALID."""
    text = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    names = {p.name for p in (CORPUS / folder).iterdir()}
    marked = {
        line.split("|")[1].strip() for line in text.splitlines() if line.startswith("|") and "PEER-INVALID" in line
    }
    return marked & names


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 2
    for path in files:
        if path.name in peer_invalid("nessus_csv"):
            with pytest.raises(InputError):
                parse(path)
            continue
        records = parse(path)
        expected, covered = independent(path)
        got: dict[str, set[str]] = {}
        for f in findings(records):
            if f.weakness.severity is not Severity.INFO:
                where = f" ({f.location})" if f.location else ""
                got.setdefault(f.weakness.vuln_id, set()).add(f.asset.identifier + where)
        assert got == expected, path.name
        assert {c.asset.identifier for c in records if isinstance(c, Coverage)} == covered, path.name
        assert all(f.weakness.tool == "Nessus" for f in findings(records))


@pytest.mark.corpus
def test_corpus_cve_rows_merge_and_scan_information_is_read() -> None:
    folder = corpus_dir("nessus_csv")
    records = parse(folder / "defectdojo__tenable__nessus_many_vuln2-all.csv", scan_date=None)
    with (folder / "defectdojo__tenable__nessus_many_vuln2-all.csv").open(newline="") as f:
        keys = {(r["Plugin ID"], r["Host"], r["Port"], r["Protocol"]) for r in csv.DictReader(f)}
    assert len(findings(records)) == len(keys)
    scan = records[-1]
    assert (
        isinstance(scan, Scan) and scan.tool_version == "8.13.1" and scan.started_at == dt.datetime(2021, 1, 25, 18, 40)
    )
    (cov,) = [r for r in records if isinstance(r, Coverage)]
    assert cov.authenticated is False


@pytest.mark.corpus
def test_sniff_claims_exactly_the_nessus_csv_folder() -> None:
    corpus_dir("nessus_csv")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if NessusCsvParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(corpus_files())


@pytest.mark.corpus
def test_corpus_files_import_with_the_right_items(engine: Engine, register_parser: object) -> None:
    register_parser(NessusCsvParser())  # type: ignore[operator]
    for n, path in enumerate(corpus_files()):
        name = f"s{n}"
        systems.add_system(engine, name, "test")
        result = import_file(engine, path, system=name)
        expected, covered = independent(path)
        with engine.begin() as conn:
            items = load(conn, systems.resolve(conn, name, "t").id, "all")
        assert {i.source_identifier: {a.text for a in i.assets} for i in items} == expected, path.name
        assert result.assets_covered == len(covered)
        assert all(i.detector_source == "Nessus" for i in items)
