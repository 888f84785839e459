"""The Qualys PCI scan CSV parser on hand-written reports made to the shape of Qualys PCI
Compliance's vulnerability CSV (the corpus holds none), and its place among the Qualys formats."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.domain.models import Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.qualys_csv import QualysCsvParser
from poam.parsers.qualys_pci_csv import QualysPciCsvParser
from poam.parsers.qualys_vm_xml import QualysVmXmlParser
from poam.parsers.registry import detect, read_head
from poam.services.importer import import_file
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_qualys_csv import SCAN, SCAN_ROW, write_rows
from tests.parsers.test_qualys_vm_xml import group, ip, item, items_by_id, scan_report

Register = Callable[..., None]

PREAMBLE = (
    '"PCI Vulnerabilities Report","22 Sep 2022 02:05PM GMT+0100"\n'
    '"Example Merchant Ltd","1 Harbour Road","Suva","None","00000","Fiji"\n'
    '"Jane Doe","exmpl_jd","Manager"\n'
)
HEADER = ["IP", "HOSTNAME", "LAST SCAN", "QID", "VULN TITLE", "TYPE", "SEVERITY", "PORT", "PROTOCOL"]
HEADER += ["OPERATING SYSTEM", "IS_PCI", "FALSE POSITIVE STATUS", "CVSS_BASE", "Q_SEVERITY", "THREAT", "IMPACT"]
HEADER += ["SOLUTION", "CVSS_TEMPORAL", "CATEGORY", "RESULT", "BUGTRAQID", "CVEID"]
WEB = {
    "IP": "203.0.113.10",
    "HOSTNAME": "www.example.com",
    "LAST SCAN": "22/09/2022 13:01",
    "QID": "86476",
    "VULN TITLE": "Web Server Stopped Responding",
    "TYPE": "POTENTIAL",
    "SEVERITY": "Medium",
    "PORT": "80",
    "PROTOCOL": "tcp",
    "OPERATING SYSTEM": "Linux 2.x",
    "IS_PCI": "Fail",
    "FALSE POSITIVE STATUS": "",
    "CVSS_BASE": "6.4",
    "Q_SEVERITY": "3",
    "THREAT": "The Web server stopped responding to 3 consecutive connection attempts.<P>",
    "IMPACT": "The service was unable to complete testing for HTTP / HTTPS vulnerabilities.",
    "SOLUTION": "Check the Web server status.",
    "CVSS_TEMPORAL": "6.1",
    "CATEGORY": "Web server",
    "RESULT": "The web server did not respond for 4 consecutive HTTP requests.",
    "BUGTRAQID": "-",
    "CVEID": "",
}
SSH = {
    **WEB,
    "QID": "38739",
    "VULN TITLE": "Deprecated SSH Cryptographic Settings",
    "TYPE": "VULN",
    "PORT": "22",
    "CVSS_BASE": "4.3",
    "CATEGORY": "General remote services",
    "RESULT": "Type Name\nkey exchange diffie-hellman-group1-sha1",
    "CVEID": "CVE-2008-5161, CVE-2015-4000",
}
HEADERS = {**WEB, "IP": "203.0.113.11", "HOSTNAME": "", "LAST SCAN": "21/09/2022 09:30", "QID": "11827"}
HEADERS |= {"VULN TITLE": "HTTP Security Header Not Detected", "TYPE": "VULN", "SEVERITY": "Low", "PORT": "443"}
HEADERS |= {"IS_PCI": "Pass", "FALSE POSITIVE STATUS": "Requested", "CVSS_BASE": "2.6", "Q_SEVERITY": "2"}
IG = {**HEADERS, "QID": "6", "VULN TITLE": "DNS Host Name", "TYPE": "IG", "SEVERITY": "Low", "PORT": ""}
IG |= {"IS_PCI": "Pass", "FALSE POSITIVE STATUS": "", "Q_SEVERITY": "1", "CVSS_BASE": ""}
APPROVED = {**SSH, "QID": "38170", "VULN TITLE": "SSL Certificate - Subject Common Name Does Not Match"}
APPROVED |= {"FALSE POSITIVE STATUS": "Approved"}


def write(path: Path, rows: list[dict[str, str]], preamble: str = PREAMBLE, header: list[str] = HEADER) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, extrasaction="ignore")  # Qualys quotes only where needed
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(preamble + out.getvalue(), encoding="utf-8")
    return path


def parse(path: Path, **kwargs: object) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), **kwargs)  # type: ignore[arg-type]
    with path.open("rb") as f:
        return list(QualysPciCsvParser().parse(f, ctx)), ctx


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def test_fields_of_a_pci_report(tmp_path: Path) -> None:
    recs, ctx = parse(write(tmp_path / "pci.csv", [WEB, SSH, HEADERS, IG, APPROVED]))
    web, ssh, headers, ig = findings(recs)  # the approved false positive is left out
    w = web.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity, w.family) == (
        "Qualys",
        "86476",
        "Web Server Stopped Responding",
        Severity.MEDIUM,
        "Web server",
    )
    assert (w.cvss2_score, w.solution) == (6.4, "Check the Web server status.")
    assert w.description == "The Web server stopped responding to 3 consecutive connection attempts."
    assert (web.asset.ip, web.asset.fqdn, web.asset.os, web.location) == (
        "203.0.113.10",
        "www.example.com",
        "Linux 2.x",
        "80/tcp",
    )
    assert web.observed_at == dt.datetime(2022, 9, 22, 12, 1)  # 13:01 at the preamble's GMT+0100
    assert web.status is FindingStatus.OPEN and web.evidence == (
        "The web server did not respond for 4 consecutive HTTP requests.\n"
        "Potential vulnerability (not confirmed by the scanner)\n"
        "PCI: Fail (PCI severity Medium)"
    )
    assert ssh.weakness.cves == ("CVE-2008-5161", "CVE-2015-4000") and ssh.asset is web.asset
    assert (headers.weakness.severity, headers.asset.identifier, headers.location) == (
        Severity.LOW,
        "203.0.113.11",
        "443/tcp",
    )
    assert headers.evidence is not None and headers.evidence.endswith(
        "PCI: Pass (PCI severity Low)\nFalse positive status: Requested"
    )  # a vulnerability that passes PCI, or awaits a false positive review, is still there
    assert ig.weakness.severity is Severity.INFO and ig.location == ""
    assert [(c.asset.identifier, c.started_at) for c in recs if isinstance(c, Coverage)] == [
        ("www.example.com", dt.datetime(2022, 9, 22, 12, 1)),
        ("203.0.113.11", dt.datetime(2022, 9, 21, 8, 30)),
    ]
    scan = recs[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.name, scan.started_at, scan.ended_at) == (
        "Qualys",
        "PCI Vulnerabilities Report",
        dt.datetime(2022, 9, 21, 8, 30),
        dt.datetime(2022, 9, 22, 12, 1),
    )
    assert ctx.report.warnings == [] and not QualysPciCsvParser.closes_by_coverage


def test_the_same_detection_has_the_identity_of_the_other_qualys_reports(tmp_path: Path) -> None:
    pci_row = {**SSH, "IP": "10.0.0.1", "HOSTNAME": "web01.example.com", "QID": "38738"}
    (pci,) = findings(parse(write(tmp_path / "pci.csv", [pci_row]))[0])
    xml = scan_report(
        ip("10.0.0.1", "web01.example.com", group("VULNS", 'value="SSH" port="22" protocol="tcp"', item()))
    )
    (tmp_path / "s.xml").write_text(xml)
    with (tmp_path / "s.xml").open("rb") as f:
        (x,) = [r for r in QualysVmXmlParser().parse(f, ParseContext("s.xml")) if isinstance(r, Finding)]
    with write_rows(tmp_path / "s.csv", SCAN, [SCAN_ROW]).open("rb") as f:
        (c,) = [r for r in QualysCsvParser().parse(f, ParseContext("s.csv")) if isinstance(r, Finding)]
    for other in (x, c):
        assert (pci.weakness.tool, pci.weakness.vuln_id, pci.asset.identifier, pci.location) == (
            other.weakness.tool,
            other.weakness.vuln_id,
            other.asset.identifier,
            other.location,
        )
        assert pci.weakness.severity is other.weakness.severity  # Q_SEVERITY 3, as in the other reports


@pytest.mark.parametrize(
    ("q_severity", "pci_severity", "expected", "warned"),
    [
        ("5", "High", Severity.CRITICAL, False),
        ("4", "High", Severity.HIGH, False),
        ("3", "Medium", Severity.MEDIUM, False),
        ("2", "Low", Severity.LOW, False),
        ("1", "Low", Severity.LOW, False),
        ("", "High", Severity.HIGH, False),  # no Qualys level: the PCI level
        ("", "Low", Severity.LOW, False),
        ("", "4", Severity.HIGH, False),
        ("7", "", Severity.MEDIUM, True),
        ("", "", Severity.MEDIUM, True),
    ],
)
def test_severity(tmp_path: Path, q_severity: str, pci_severity: str, expected: Severity, warned: bool) -> None:
    row = {**SSH, "Q_SEVERITY": q_severity, "SEVERITY": pci_severity}
    recs, ctx = parse(write(tmp_path / "pci.csv", [row]))
    assert findings(recs)[0].weakness.severity is expected
    assert bool(ctx.report.warnings) is warned


@pytest.mark.parametrize(
    ("preamble", "dates", "expected", "warnings"),
    [
        ("", ["22/09/2022 13:01", "05/09/2022 08:00"], [(2022, 9, 22, 13, 1), (2022, 9, 5, 8, 0)], []),  # day first
        ("", ["09/22/2022 01:01 PM", "05/09/2022 08:00"], [(2022, 9, 22, 13, 1), (2022, 5, 9, 8, 0)], []),
        ("", ["2022-09-22T13:01:00Z", "Sep 05, 2022 08:00 AM"], [(2022, 9, 22, 13, 1), (2022, 9, 5, 8, 0)], []),
        (
            "",
            ["05/09/2022 08:00", "05/09/2022 08:00"],
            [(2022, 5, 9, 8, 0), (2022, 5, 9, 8, 0)],
            [
                "row 1 (QID 38739): LAST SCAN '05/09/2022 08:00' could be day/month or month/day, and no date of "
                "the file tells; read as month/day (Qualys' default)"
            ],
        ),
        (
            PREAMBLE,  # the report's date and zone (GMT+0100)
            ["soon", "09/09/2022 08:00"],
            [(2022, 9, 22, 13, 5), (2022, 9, 9, 7, 0)],
            ["row 1 (QID 38739): LAST SCAN 'soon' not readable; dated by the report's date"],
        ),
    ],
)
def test_last_scan_dates(
    tmp_path: Path, preamble: str, dates: list[str], expected: list[tuple[int, ...]], warnings: list[str]
) -> None:
    rows = [{**SSH, "QID": qid, "LAST SCAN": when} for qid, when in zip(("38739", "38740"), dates, strict=True)]
    recs, ctx = parse(write(tmp_path / "pci.csv", rows, preamble=preamble), file_time=dt.datetime(2026, 1, 1))
    assert [f.observed_at for f in findings(recs)] == [dt.datetime(*e) for e in expected]
    assert ctx.report.warnings == warnings and not ctx.report.used_file_time


def test_rows_without_dates_take_the_file_time(tmp_path: Path) -> None:
    recs, ctx = parse(
        write(tmp_path / "pci.csv", [{**SSH, "LAST SCAN": ""}], preamble=""), file_time=dt.datetime(2026, 1, 1)
    )
    assert findings(recs)[0].observed_at == dt.datetime(2026, 1, 1) and ctx.report.used_file_time
    recs, ctx = parse(write(tmp_path / "pci.csv", [{**SSH, "LAST SCAN": ""}]), file_time=dt.datetime(2026, 1, 1))
    assert findings(recs)[0].observed_at == dt.datetime(2022, 9, 22, 13, 5) and not ctx.report.used_file_time
    recs, ctx = parse(write(tmp_path / "pci.csv", [SSH], preamble=""), file_time=dt.datetime(2026, 1, 1))
    assert findings(recs)[0].observed_at == dt.datetime(2022, 9, 22, 13, 1) and not ctx.report.used_file_time
    recs, ctx = parse(write(tmp_path / "pci.csv", [], preamble=""), file_time=dt.datetime(2026, 1, 1))
    assert len(recs) == 1 and not ctx.report.used_file_time  # nothing needed a date


def test_odd_rows_are_read_past_with_a_warning(tmp_path: Path) -> None:
    rows = [
        {**SSH, "QID": "n/a"},
        {**SSH, "QID": "11", "IP": "", "HOSTNAME": ""},
        {**SSH, "QID": "12", "TYPE": "Exposure"},
        {**SSH, "QID": "13", "FALSE POSITIVE STATUS": "Escalated"},
        {**SSH, "QID": "14", "IP": "", "HOSTNAME": "mail.example.com"},
        SSH,
    ]
    recs, ctx = parse(write(tmp_path / "pci.csv", rows))
    assert [(f.weakness.vuln_id, f.asset.identifier, f.weakness.severity) for f in findings(recs)] == [
        ("12", "www.example.com", Severity.MEDIUM),
        ("13", "www.example.com", Severity.MEDIUM),
        ("14", "mail.example.com", Severity.MEDIUM),
        ("38739", "www.example.com", Severity.MEDIUM),
    ]
    assert ctx.report.skipped == 2
    assert ctx.report.warnings == [
        "row 1: QID 'n/a' is not a number; left out",
        "row 2 (QID 11): no IP or host name; left out",
        "row 3 (QID 12): type 'exposure' not recognised; read as a vulnerability",
        "row 4 (QID 13): false positive status 'Escalated' not recognised; kept open",
    ]


def test_a_file_without_the_header_row_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no header row"):
        parse(write(tmp_path / "x.csv", [{"IP": "1"}], header=["IP", "QID", "Title"]))


# --- detection ------------------------------------------------------------------------------------


@pytest.mark.parametrize("preamble", [PREAMBLE, ""], ids=["with-preamble", "header-first"])
def test_detection_by_the_header_row(tmp_path: Path, preamble: str) -> None:
    path = write(tmp_path / "pci.csv", [WEB, SSH], preamble=preamble)
    with path.open("rb") as f:
        head = read_head(f)
        assert QualysPciCsvParser().sniff(head) and not QualysCsvParser().sniff(head)
        assert detect(f, str(path)).id == "qualys-pci-csv"


def test_it_does_not_claim_the_other_qualys_csv_reports(tmp_path: Path) -> None:
    with write_rows(tmp_path / "s.csv", SCAN, [SCAN_ROW]).open("rb") as f:
        assert not QualysPciCsvParser().sniff(read_head(f))


@pytest.mark.corpus
def test_sniff_claims_no_corpus_file() -> None:
    corpus_dir("qualys_csv")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if QualysPciCsvParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set()


# --- end to end -----------------------------------------------------------------------------------


def test_a_pci_report_opens_and_never_closes_and_the_host_based_export_closes(
    engine: Engine, register_parser: Register, tmp_path: Path
) -> None:
    register_parser(QualysPciCsvParser(), QualysCsvParser())
    ssh = {**SSH, "IP": "10.0.0.1", "HOSTNAME": "web01.example.com", "QID": "38738", "LAST SCAN": "15/01/2026 10:00"}
    web = {**WEB, "IP": "10.0.0.1", "HOSTNAME": "web01.example.com", "LAST SCAN": "15/01/2026 10:00"}
    r = import_file(engine, write(tmp_path / "jan.csv", [ssh, web], preamble=""))
    assert (r.format, r.items_opened, r.assets_covered) == ("qualys-pci-csv", 2, 1)
    # February's PCI list no longer shows QID 86476: not proof of a fix (a list, maybe filtered).
    r = import_file(engine, write(tmp_path / "feb.csv", [{**ssh, "LAST SCAN": "15/02/2026 10:00"}], preamble=""))
    assert (r.fixed_findings, r.items_closed) == (0, 0)
    assert items_by_id(engine)["86476"].status is ItemStatus.OPEN  # type: ignore[attr-defined]
    # The host-based VM export says the SSH detection is Fixed: the same finding closes.
    fixed = {**SCAN_ROW, "Vuln Status": "Fixed", "Date Last Fixed": "03/01/2026 00:00:00"}
    r = import_file(engine, write_rows(tmp_path / "mar.csv", SCAN, [fixed]))
    assert (r.format, r.fixed_findings, r.items_closed) == ("qualys-csv", 1, 1)
    assert items_by_id(engine)["38738"].status is ItemStatus.CLOSED  # type: ignore[attr-defined]
