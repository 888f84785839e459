"""The OpenVAS CSV results parser on hand-written exports and on the corpus files."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.domain.models import Coverage, Finding, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.openvas_csv import OpenvasCsvParser
from poam.parsers.openvas_xml import OpenvasXmlParser
from poam.parsers.registry import read_head
from poam.services.importer import import_file
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_openvas_xml import OS_EOL, SSH, TLS, host, items_by_id, report, result

ROW = {
    "IP": "10.0.0.1",
    "Hostname": "web01.example.com",
    "Port": "443",
    "Port Protocol": "tcp",
    "CVSS": "7.5",
    "Severity": "High",
    "QoD": "80",
    "Solution Type": "VendorFix",
    "NVT Name": "Check 100",
    "Summary": "A summary",
    "Specific Result": "Seen on 443/tcp",
    "NVT OID": TLS,
    "CVEs": "CVE-2026-0001,CVE-2026-0002",
    "Task ID": "t1",
    "Task Name": "Weekly scan",
    "Timestamp": "2026-01-05T10:05:00Z",
    "Result ID": "r1",
    "Impact": "Bad things",
    "Solution": "Upgrade it",
    "Affected Software/OS": "All",
    "Vulnerability Insight": "Why it matters",
    "Other References": "https://example.com/advisory",
}

Register = Callable[..., None]


def write_rows(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or list(ROW)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def parse(path: Path) -> list[object]:
    with path.open("rb") as f:
        return list(OpenvasCsvParser().parse(f, ParseContext(str(path))))


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def test_columns_are_matched_by_name_in_any_order(tmp_path: Path) -> None:
    header = list(reversed(ROW))
    recs = parse(write_rows(tmp_path / "r.csv", [ROW], header))
    (f,) = findings(recs)
    w = f.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity) == ("OpenVAS", TLS, "Check 100", Severity.HIGH)
    assert w.cves == ("CVE-2026-0001", "CVE-2026-0002") and w.solution == "Upgrade it"
    assert w.description == "A summary\n\nInsight: Why it matters\n\nImpact: Bad things\n\nAffected: All"
    assert (f.asset.ip, f.asset.fqdn, f.location, f.evidence) == (
        "10.0.0.1",
        "web01.example.com",
        "443/tcp",
        "Seen on 443/tcp",
    )
    assert f.observed_at == dt.datetime(2026, 1, 5, 10, 5)
    assert not [r for r in recs if isinstance(r, Coverage)]  # a CSV export proves no absence
    scan = recs[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.name) == ("OpenVAS", "Weekly scan")


def test_the_same_result_has_the_same_identity_as_in_the_xml(tmp_path: Path) -> None:
    rows = [ROW, {**ROW, "NVT OID": OS_EOL, "Port": "", "Port Protocol": "", "CVSS": "10.0"}]
    xml = report([result(), result(OS_EOL, port="general/tcp", severity="10.0")])
    (tmp_path / "r.xml").write_text(xml)
    with (tmp_path / "r.xml").open("rb") as f:
        from_xml = [r for r in OpenvasXmlParser().parse(f, ParseContext("r.xml")) if isinstance(r, Finding)]
    from_csv = findings(parse(write_rows(tmp_path / "r.csv", rows)))

    def key(f: Finding) -> tuple[str, str, str, str, Severity]:
        return (f.weakness.tool, f.weakness.vuln_id, f.asset.identifier, f.location, f.weakness.severity)

    assert [key(f) for f in from_csv] == [key(f) for f in from_xml]


def test_log_rows_are_informational_and_cve_results_keep_their_cve(tmp_path: Path) -> None:
    rows = [
        {**ROW, "NVT OID": SSH, "CVSS": "0.0", "Severity": "Log", "Port": "general", "Port Protocol": "tcp"},
        {**ROW, "NVT OID": "CVE-2021-26690", "CVEs": "", "CVSS": "5.0", "Severity": "Medium", "Hostname": "db1"},
    ]
    rows += [{**ROW, "Port": "²"}, {**ROW, "Port": "9" * 5000}, {**ROW, "Port": "70000"}, {**ROW, "Timestamp": "x"}]
    log, cve, *odd = findings(parse(write_rows(tmp_path / "r.csv", rows)))
    assert [f.location for f in odd] == ["", "", "", "443/tcp"]  # odd ports are no ports, never errors
    assert odd[-1].observed_at is not None
    assert log.weakness.severity is Severity.INFO and log.location == ""
    assert cve.weakness.cves == ("CVE-2021-26690",) and cve.weakness.severity is Severity.MEDIUM
    assert (cve.asset.fqdn, cve.asset.name, cve.asset.identifier) == (None, "db1", "10.0.0.1")


FILE_TIME = dt.datetime(2026, 2, 3, 4, 5)


def parse_ctx(path: Path) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), file_time=FILE_TIME)
    with path.open("rb") as f:
        return list(OpenvasCsvParser().parse(f, ctx)), ctx


def test_odd_rows_are_warned_and_the_others_import(tmp_path: Path) -> None:
    # a row without NVT OID or IP once refused the whole file
    rows = [
        {**ROW, "NVT OID": ""},
        {**ROW, "IP": ""},
        {**ROW, "Port": "http"},
        {**ROW, "CVSS": "", "Severity": "Alarm"},
        {**ROW, "Timestamp": "yesterday"},
        {**ROW, "Port": "general", "Port Protocol": "tcp", "CVSS": "0.0", "Severity": "Log"},
    ]
    recs, ctx = parse_ctx(write_rows(tmp_path / "o.csv", rows))
    assert [(f.location, f.weakness.severity, f.observed_at) for f in findings(recs)] == [
        ("", Severity.HIGH, dt.datetime(2026, 1, 5, 10, 5)),
        ("443/tcp", Severity.MEDIUM, dt.datetime(2026, 1, 5, 10, 5)),
        ("443/tcp", Severity.HIGH, FILE_TIME),
        ("", Severity.INFO, dt.datetime(2026, 1, 5, 10, 5)),  # general: host-wide, not odd
    ]
    assert ctx.report.warnings == [
        "row 1: no NVT OID; left out",
        "row 2: no IP; left out",
        "row 3: port 'http' is not a port number; no port",
        "row 4: severity 'Alarm' not recognised; rated Moderate",
        "row 5: Timestamp 'yesterday' is not a date; not used",
    ]
    assert ctx.report.skipped == 2 and ctx.report.used_file_time


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Plugin ID,Host\n1,h\n", "no header row"),
        ("IP;Port;NVT OID\n10.0.0.1;22;1.2.3\n", "no header row"),
    ],
)
def test_a_file_without_the_header_row_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        parse(path)


def test_an_undated_export_takes_the_file_time_and_a_dated_one_does_not(tmp_path: Path) -> None:
    recs, ctx = parse_ctx(write_rows(tmp_path / "u.csv", [{**ROW, "Timestamp": ""}]))
    assert [f.observed_at for f in findings(recs)] == [FILE_TIME] and ctx.report.used_file_time
    recs, ctx = parse_ctx(write_rows(tmp_path / "d.csv", [ROW]))
    assert [f.observed_at for f in findings(recs)] == [dt.datetime(2026, 1, 5, 10, 5)]
    assert not ctx.report.used_file_time


def test_the_cvss_score_is_kept_as_the_xml_keeps_it(tmp_path: Path) -> None:
    rows = [ROW, {**ROW, "NVT OID": SSH, "CVSS": "0.0", "Severity": "Log"}, {**ROW, "NVT OID": OS_EOL, "CVSS": "x"}]
    tls, log, odd = findings(parse(write_rows(tmp_path / "r.csv", rows)))
    assert (tls.weakness.cvss3_score, tls.weakness.cvss2_score) == (7.5, None)
    assert log.weakness.cvss3_score is None  # 0.0 rates a log result: no score
    assert odd.weakness.cvss3_score is None
    (tmp_path / "r.xml").write_text(report([result()]))
    with (tmp_path / "r.xml").open("rb") as f:
        (xml,) = [r for r in OpenvasXmlParser().parse(f, ParseContext("r.xml")) if isinstance(r, Finding)]
    assert xml.weakness.cvss3_score == tls.weakness.cvss3_score


@pytest.mark.corpus
def test_corpus_csv_keeps_the_cvss_score_of_the_xml_of_the_same_scan() -> None:
    # report_detail_v2.csv is the CSV export of report_detail_v2.xml
    name = "defectdojo__openvas__report_detail_v2"
    with (corpus_dir("openvas_xml") / f"{name}.xml").open("rb") as f:
        xml = [r for r in OpenvasXmlParser().parse(f, ParseContext("x")) if isinstance(r, Finding)]
    csv_found = findings(parse(corpus_dir("openvas_csv") / f"{name}.csv"))
    key = [(f.weakness.vuln_id, f.asset.identifier, f.location) for f in xml]
    assert key == [(f.weakness.vuln_id, f.asset.identifier, f.location) for f in csv_found]
    assert [f.weakness.cvss3_score for f in csv_found] == [f.weakness.cvss3_score for f in xml] == [9.8]
    # every non-log row of every corpus CSV keeps its CVSS cell as the score
    for path in sorted(corpus_dir("openvas_csv").iterdir()):
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        scores = {(r["NVT OID"], float(r["CVSS"])) for r in rows if float(r["CVSS"] or 0) > 0}
        got = {(f.weakness.vuln_id, f.weakness.cvss3_score) for f in findings(parse(path)) if f.weakness.cvss3_score}
        assert got == scores, path.name


# --- detection and the real files of the corpus -------------------------------------------------


@pytest.mark.corpus
def test_sniff_claims_exactly_the_openvas_csv_files() -> None:
    folder = corpus_dir("openvas_csv")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if OpenvasCsvParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(folder.iterdir())


def independent_count(path: Path) -> dict[str, set[str]]:
    """OID -> `asset (port/protocol)` texts of rows that are not Log, read with csv.DictReader."""
    found: dict[str, set[str]] = {}
    for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))):
        if row["Severity"] in ("Log", "False Positive") or float(row["CVSS"] or 0) <= 0:
            continue
        name = row["Hostname"]
        loc = f" ({row['Port']}/{row['Port Protocol']})" if row["Port"] else ""
        found.setdefault(row["NVT OID"], set()).add((name if "." in name else row["IP"]) + loc)
    return found


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = sorted(corpus_dir("openvas_csv").iterdir())
    assert len(files) == 5
    for path in files:
        recs = parse(path)
        got: dict[str, set[str]] = {}
        for f in findings(recs):
            if f.weakness.severity is not Severity.INFO:
                got.setdefault(f.weakness.vuln_id, set()).add(
                    f.asset.identifier + (f" ({f.location})" if f.location else "")
                )
        assert got == independent_count(path), path.name
        assert isinstance(recs[-1], Scan)
    cve = findings(parse(corpus_dir("openvas_csv") / "defectdojo__openvas__report_using_CVE.csv"))
    assert len(cve) == 43 and all(f.weakness.cves == (f.weakness.vuln_id,) for f in cve)


# --- end to end ----------------------------------------------------------------------------------


def test_csv_findings_feed_the_xml_items_and_a_later_xml_report_closes_them(
    engine: Engine,
    register_parser: Register,
    tmp_path: Path,
) -> None:
    register_parser(OpenvasCsvParser(), OpenvasXmlParser())
    rows = [ROW, {**ROW, "NVT OID": OS_EOL, "Port": "", "Port Protocol": "", "CVSS": "10.0"}]
    r = import_file(engine, write_rows(tmp_path / "jan.csv", rows))
    assert (r.format, r.new_findings, r.items_opened, r.assets_covered) == ("openvas-csv", 2, 2, 0)
    later_csv = write_rows(tmp_path / "feb.csv", [{**ROW, "Timestamp": "2026-02-01T10:00:00Z"}])
    assert import_file(engine, later_csv).fixed_findings == 0  # a CSV without a row closes nothing
    mar = report(
        [result(when="2026-03-05T10:05:00Z")],
        hosts=[host(start="2026-03-05T10:00:00Z", end="2026-03-05T10:30:00Z")],
        scan=("2026-03-05T10:00:00Z", "2026-03-05T10:30:00Z"),
    )
    (tmp_path / "mar.xml").write_text(mar)
    r = import_file(engine, tmp_path / "mar.xml")
    assert (r.format, r.new_findings, r.fixed_findings, r.items_closed) == ("openvas-xml", 0, 1, 1)
    items = items_by_id(engine)
    assert items[OS_EOL].status is ItemStatus.CLOSED and items[TLS].status is ItemStatus.OPEN  # type: ignore[attr-defined]


@pytest.mark.corpus
def test_corpus_csv_imports_with_the_right_items(engine: Engine, register_parser: Register) -> None:
    register_parser(OpenvasCsvParser())
    path = corpus_dir("openvas_csv") / "defectdojo__openvas__many_vuln.csv"
    import_file(engine, path)
    items = items_by_id(engine)
    assert {k: {a.text for a in i.assets} for k, i in items.items()} == independent_count(path)  # type: ignore[attr-defined]
