"""The Qualys VM / VMDR CSV parser on hand-written exports and on the corpus files."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from poam.domain.models import Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.qualys_csv import QualysCsvParser
from poam.parsers.qualys_vm_xml import QualysVmXmlParser
from poam.parsers.registry import read_head
from poam.services.importer import import_file
from poam.store.tables import findings as findings_table
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_qualys_vm_xml import SSH_CAT, group, ip, item, items_by_id, scan_report

PREAMBLE = (
    '"Asset Vuln Datalist Report","04 Feb 2026 10:00AM GMT-0500","1"\n'
    '"TestCompany","123 Test Street","Test City","None","12345","USA"\n'
    '"Test User","testuser","IDM - Scanner VMDR"\n'
)
VMDR = ["CVE", "QID", "Title", "Severity", "KB Severity", "Type Detected", "Last Detected", "First Detected"]
VMDR += ["Protocol", "Port", "Status", "Asset Id", "Asset Name", "Asset IPV4", "Asset IPV6", "Solution", "Threat"]
VMDR += ["Last Fixed", "Results", "CVSSv3.1 Base (nvd)", "Category"]
VMDR_ROW = {
    "CVE": "CVE-2021-44228",
    "QID": "730143",
    "Title": "Apache Log4j RCE",
    "Severity": "5",
    "KB Severity": "5",
    "Type Detected": "Confirmed",
    "Last Detected": "Feb 03, 2026 07:00 AM",
    "First Detected": "Dec 15, 2021 10:00 AM",
    "Protocol": "TCP",
    "Port": "8080",
    "Status": "ACTIVE",
    "Asset Id": "200000001",
    "Asset Name": "JAVAAPP01",
    "Asset IPV4": "10.1.0.50,10.1.0.51",
    "Asset IPV6": "",
    "Solution": "Upgrade Log4j.<P>",
    "Threat": "JNDI injection.",
    "Last Fixed": "",
    "Results": "Log4j 2.14.1 detected",
    "CVSSv3.1 Base (nvd)": "10.0",
    "Category": "Java",
}
SCAN = ["IP", "DNS", "NetBIOS", "OS", "IP Status", "QID", "Title", "Vuln Status", "Type", "Severity", "Port"]
SCAN += ["Protocol", "FQDN", "SSL", "First Detected", "Last Detected", "Date Last Fixed", "CVE ID", "CVSS3 Base"]
SCAN += ["Threat", "Impact", "Solution", "Results"]
SCAN_ROW = {
    "IP": "10.0.0.1",
    "DNS": "web01.example.com",
    "NetBIOS": "WEB01",
    "OS": "Ubuntu 22.04",
    "IP Status": "host scanned, found vuln",
    "QID": "38738",
    "Title": "Title 38738",
    "Vuln Status": "Active",
    "Type": "Vuln",
    "Severity": "3",
    "Port": "22",
    "Protocol": "tcp",
    "FQDN": "",
    "SSL": "",
    "First Detected": "12/01/2025 00:00:00",
    "Last Detected": "01/05/2026 10:00:00",
    "Date Last Fixed": "",
    "CVE ID": "CVE-2026-0001, CVE-2026-0002",
    "CVSS3 Base": "8.1 (AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H)",
    "Threat": "Threat text",
    "Impact": "Impact text",
    "Solution": "Fix it",
    "Results": "output",
}

Register = Callable[..., None]


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]], preamble: str = "") -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, quoting=csv.QUOTE_ALL, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(preamble + out.getvalue(), encoding="utf-8")
    return path


def parse(path: Path) -> list[object]:
    with path.open("rb") as f:
        return list(QualysCsvParser().parse(f, ParseContext(str(path))))


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def test_vmdr_export_with_preamble(tmp_path: Path) -> None:
    rows = [
        VMDR_ROW,
        {**VMDR_ROW, "CVE": "CVE-2021-45046"},  # the same detection, another CVE
        {**VMDR_ROW, "QID": "100003", "Severity": "3", "Status": "FIXED", "Last Fixed": "Jan 20, 2026 08:00 AM"},
        {**VMDR_ROW, "QID": "100004", "Protocol": "'-", "Port": "0", "Asset IPV4": "", "Asset IPV6": "2001:db8::1"},
    ]
    recs = findings(parse(write_rows(tmp_path / "v.csv", VMDR, rows, PREAMBLE)))
    log4j, again, fixed, hostwide = recs
    w = log4j.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity, w.family) == (
        "Qualys",
        "730143",
        "Apache Log4j RCE",
        Severity.CRITICAL,
        "Java",
    )
    assert w.cves == ("CVE-2021-44228", "CVE-2021-45046") and again.weakness is w  # CVEs of all its rows
    assert (w.cvss3_score, w.solution, w.description) == (10.0, "Upgrade Log4j.", "JNDI injection.")
    assert (log4j.asset.ip, log4j.asset.name, log4j.asset.fqdn, log4j.location) == (
        "10.1.0.50",
        "JAVAAPP01",
        None,
        "8080/tcp",
    )
    assert log4j.observed_at == dt.datetime(2026, 2, 3, 12)  # 07:00 at the preamble's GMT-0500
    assert log4j.status is FindingStatus.OPEN and log4j.evidence == "Log4j 2.14.1 detected"
    assert fixed.status is FindingStatus.FIXED and fixed.observed_at == dt.datetime(2026, 1, 20, 13)
    assert (hostwide.location, hostwide.protocol, hostwide.asset.ip) == ("", None, "2001:db8::1")


def test_scan_export_without_preamble(tmp_path: Path) -> None:
    rows = [
        SCAN_ROW,
        {**SCAN_ROW, "QID": "6", "Type": "Ig", "Severity": "1", "Port": "", "Protocol": ""},
        {**SCAN_ROW, "QID": "86000", "Type": "Practice", "Severity": "2", "Port": "443", "FQDN": "www.example.com"},
        {**SCAN_ROW, "Port": "99999", "Last Detected": "01/01/0001 00:00:00", "First Detected": "soon"},
    ]
    recs = parse(write_rows(tmp_path / "s.csv", SCAN, rows))
    vuln, ig, potential, odd = findings(recs)
    assert (odd.location, odd.observed_at) == ("", dt.datetime(1, 1, 1))
    assert (vuln.weakness.severity, vuln.weakness.cvss3_score, vuln.weakness.cves) == (
        Severity.MEDIUM,
        8.1,
        ("CVE-2026-0001", "CVE-2026-0002"),
    )
    a = vuln.asset
    assert (a.ip, a.fqdn, a.netbios, a.os, a.identifier) == (
        "10.0.0.1",
        "web01.example.com",
        "WEB01",
        "Ubuntu 22.04",
        "web01.example.com",
    )
    assert vuln.observed_at == dt.datetime(2026, 1, 5, 10) and vuln.location == "22/tcp"
    assert ig.weakness.severity is Severity.INFO and potential.weakness.severity is Severity.LOW
    assert potential.evidence == "Virtual host: www.example.com\noutput"
    assert not [r for r in recs if isinstance(r, Coverage)]
    scan = recs[-1]
    assert isinstance(scan, Scan) and scan.tool == "Qualys" and scan.ended_at == dt.datetime(2026, 1, 5, 10)


def test_the_same_detection_has_the_same_identity_as_in_the_xml(tmp_path: Path) -> None:
    xml = scan_report(ip("10.0.0.1", "web01.example.com", group("VULNS", SSH_CAT, item("VULN", "38738", "3"))))
    (tmp_path / "s.xml").write_text(xml)
    with (tmp_path / "s.xml").open("rb") as f:
        (x,) = [r for r in QualysVmXmlParser().parse(f, ParseContext("s.xml")) if isinstance(r, Finding)]
    (c,) = findings(parse(write_rows(tmp_path / "s.csv", SCAN, [SCAN_ROW])))
    assert (c.weakness.tool, c.weakness.vuln_id, c.asset.identifier, c.location) == (
        x.weakness.tool,
        x.weakness.vuln_id,
        x.asset.identifier,
        x.location,
    )


def test_preamble_without_rows_is_an_empty_scan(tmp_path: Path) -> None:
    recs = parse(write_rows(tmp_path / "e.csv", VMDR, [], PREAMBLE))
    assert len(recs) == 1 and isinstance(recs[0], Scan)


def test_a_file_without_the_header_row_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no header row"):
        parse(write_rows(tmp_path / "bad.csv", ["Plugin ID", "Host", "Title"], [{"Plugin ID": "1", "Host": "h"}]))


def parse_with(path: Path, **kwargs: object) -> tuple[list[Finding], ParseContext]:
    ctx = ParseContext(str(path), **kwargs)  # type: ignore[arg-type]
    with path.open("rb") as f:
        return findings(list(QualysCsvParser().parse(f, ctx))), ctx


def test_odd_rows_are_read_past_with_a_warning(tmp_path: Path) -> None:
    rows = [
        {**SCAN_ROW, "QID": "abc"},
        {**SCAN_ROW, "QID": "²"},
        {**SCAN_ROW, "QID": "11", "IP": "", "DNS": "", "NetBIOS": ""},
        {**SCAN_ROW, "QID": "12", "Severity": "9"},
        {**SCAN_ROW, "QID": "13", "Vuln Status": "Under Review"},
        {**SCAN_ROW, "QID": "14", "Vuln Status": "Re-Opened"},
        SCAN_ROW,
    ]
    got, ctx = parse_with(write_rows(tmp_path / "s.csv", SCAN, rows))
    assert [(f.weakness.vuln_id, f.weakness.severity, f.status) for f in got] == [
        ("12", Severity.MEDIUM, FindingStatus.OPEN),
        ("13", Severity.MEDIUM, FindingStatus.OPEN),  # an unknown status never closes anything
        ("14", Severity.MEDIUM, FindingStatus.OPEN),
        ("38738", Severity.MEDIUM, FindingStatus.OPEN),
    ]
    assert ctx.report.skipped == 3
    assert ctx.report.warnings == [
        "row 1: QID 'abc' is not a number; left out",
        "row 2: QID '²' is not a number; left out",
        "row 3 (QID 11): no IP, DNS or asset name; left out",
        "row 4 (QID 12): severity '9' not recognised; rated Moderate",
        "row 5 (QID 13): status 'Under Review' not recognised; kept open",
    ]


def test_ignored_and_disabled_detections_are_left_out(tmp_path: Path) -> None:
    header = [*VMDR, "Disabled", "Ignored"]
    rows = [
        {**VMDR_ROW, "Disabled": "No", "Ignored": "No"},
        {**VMDR_ROW, "QID": "11", "Disabled": "No", "Ignored": "Yes"},
        {**VMDR_ROW, "QID": "12", "Disabled": "Yes", "Ignored": "No"},
        {**VMDR_ROW, "QID": "13", "Status": "FIXED", "Ignored": "Yes", "Last Fixed": "Feb 04, 2026 07:00 AM"},
    ]
    got, ctx = parse_with(write_rows(tmp_path / "v.csv", header, rows, PREAMBLE))
    assert [f.weakness.vuln_id for f in got] == ["730143"] and ctx.report.warnings == []


def test_rows_without_dates(tmp_path: Path) -> None:
    undated = {**VMDR_ROW, "Last Detected": "", "First Detected": ""}
    got, ctx = parse_with(write_rows(tmp_path / "v.csv", VMDR, [undated], PREAMBLE), file_time=dt.datetime(2026, 3, 3))
    assert got[0].observed_at == dt.datetime(2026, 2, 4, 15) and not ctx.report.used_file_time  # the report's date
    bad = {**undated, "Last Detected": "soon"}
    got, ctx = parse_with(write_rows(tmp_path / "b.csv", VMDR, [bad], PREAMBLE), file_time=dt.datetime(2026, 3, 3))
    assert got[0].observed_at == dt.datetime(2026, 2, 4, 15)
    assert ctx.report.warnings == ["row 1 (QID 730143): date 'soon' not readable; dated by the report's date"]
    plain = {**SCAN_ROW, "Last Detected": "", "First Detected": ""}
    got, ctx = parse_with(write_rows(tmp_path / "s.csv", SCAN, [plain]), file_time=dt.datetime(2026, 3, 3))
    assert got[0].observed_at == dt.datetime(2026, 3, 3) and ctx.report.used_file_time  # no preamble, no date
    got, ctx = parse_with(write_rows(tmp_path / "d.csv", SCAN, [SCAN_ROW]), file_time=dt.datetime(2026, 3, 3))
    assert got[0].observed_at == dt.datetime(2026, 1, 5, 10) and not ctx.report.used_file_time


# --- detection and the real files of the corpus -------------------------------------------------


@pytest.mark.corpus
def test_sniff_claims_exactly_the_qualys_csv_files() -> None:
    folder = corpus_dir("qualys_csv")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if QualysCsvParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(folder.iterdir())


def independent_count(path: Path) -> tuple[dict[str, set[str]], int]:
    """QID -> `asset (port/protocol)` of non-IG rows after the header row, and the data row count."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    start = next(i for i, r in enumerate(rows) if r and r[0] in ("IP", "QID", "CVE") and "Title" in r)
    header = rows[start]
    found: dict[str, set[str]] = {}
    data = [dict(zip(header, r, strict=False)) for r in rows[start + 1 :] if any(c.strip() for c in r)]
    for row in data:
        if row.get("Type", row.get("Type Detected")) in ("Ig", "Information"):
            continue
        dns = row.get("DNS", row.get("Asset Name", ""))
        address = (row.get("IP") or row.get("Asset IPV4") or row.get("Asset IPV6") or "").split(",")[0]
        name = dns if "." in dns else address or dns
        port = row.get("Port", "")
        loc = f" ({port}/{row['Protocol'].lower()})" if port.isdigit() and port != "0" else ""
        found.setdefault(row["QID"], set()).add(name + loc)
    return found, len(data)


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = sorted(corpus_dir("qualys_csv").iterdir())
    assert len(files) == 7
    for path in files:
        recs = parse(path)
        expected, rows = independent_count(path)
        got: dict[str, set[str]] = {}
        for f in findings(recs):
            if f.weakness.severity is not Severity.INFO:
                got.setdefault(f.weakness.vuln_id, set()).add(
                    f.asset.identifier + (f" ({f.location})" if f.location else "")
                )
        assert got == expected, path.name
        assert len(findings(recs)) == rows and isinstance(recs[-1], Scan), path.name
    many = findings(parse(corpus_dir("qualys_csv") / "defectdojo__qualys_vmdr__many_vulns_qid.csv"))
    assert [f.status for f in many].count(FindingStatus.FIXED) == 1


# --- end to end ----------------------------------------------------------------------------------


def test_a_later_export_closes_only_what_it_marks_fixed(
    engine: Engine, register_parser: Register, tmp_path: Path
) -> None:
    register_parser(QualysCsvParser())
    rows = [SCAN_ROW, {**SCAN_ROW, "QID": "11", "Title": "Hidden RPC"}]
    r = import_file(engine, write_rows(tmp_path / "jan.csv", SCAN, rows))
    assert (r.format, r.items_opened, r.assets_covered) == ("qualys-csv", 2, 0)
    later = {**SCAN_ROW, "Vuln Status": "Fixed", "Date Last Fixed": "02/01/2026 00:00:00"}
    r = import_file(engine, write_rows(tmp_path / "feb.csv", SCAN, [later]))
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    items = items_by_id(engine)
    assert items["38738"].status is ItemStatus.CLOSED  # type: ignore[attr-defined]
    assert items["11"].status is ItemStatus.OPEN  # missing from the export, not fixed  # type: ignore[attr-defined]


@pytest.mark.corpus
def test_corpus_vmdr_export_imports_with_the_right_items(engine: Engine, register_parser: Register) -> None:
    register_parser(QualysCsvParser())
    path = corpus_dir("qualys_csv") / "defectdojo__qualys_vmdr__many_vulns_cve.csv"
    import_file(engine, path)
    expected, _rows = independent_count(path)
    text = path.read_text(encoding="utf-8-sig")
    fixed = {r["QID"] for r in csv.DictReader(io.StringIO(text[text.index('"CVE","CVE-') :])) if r["Status"] == "FIXED"}
    assert fixed == {"800003"}  # a Fixed row for a finding never seen open creates nothing
    items = items_by_id(engine)
    assert {q: {a.text for a in i.assets} for q, i in items.items()} == {  # type: ignore[attr-defined]
        q: assets for q, assets in expected.items() if q not in fixed
    }


@pytest.mark.parametrize("fixed_first", [True, False], ids=["fixed-first", "active-first"])
@pytest.mark.parametrize(
    ("fixed_on", "expected"),
    [
        ("01/04/2026 09:00:00", ("open", ItemStatus.OPEN)),  # an older fix never closes
        ("01/05/2026 10:00:00", ("open", ItemStatus.OPEN)),  # equal times: the failing row wins
        ("01/06/2026 09:00:00", ("fixed", ItemStatus.CLOSED)),  # a newer fix closes
    ],
)
def test_the_newest_row_of_one_finding_decides(
    engine: Engine,
    register_parser: Register,
    tmp_path: Path,
    fixed_first: bool,
    fixed_on: str,
    expected: tuple[str, ItemStatus],
) -> None:
    """Two rows of QID 38738 on 10.0.0.1 port 22 (two virtual hosts): Active, last detected on
    Jan 5 10:00, and Fixed on `fixed_on`. One finding; its newest row decides."""
    register_parser(QualysCsvParser())
    active = {**SCAN_ROW, "FQDN": "a.example.com"}
    fixed = {**SCAN_ROW, "FQDN": "b.example.com", "Vuln Status": "Fixed", "Date Last Fixed": fixed_on}
    rows = [fixed, active] if fixed_first else [active, fixed]
    r = import_file(engine, write_rows(tmp_path / "s.csv", SCAN, rows))
    assert (r.format, r.results) == ("qualys-csv", 2)
    with engine.begin() as conn:
        assert [row.status for row in conn.execute(select(findings_table.c.status))] == [expected[0]]
    assert items_by_id(engine)["38738"].status is expected[1]  # type: ignore[attr-defined]
