"""The Qualys VM XML parser (scan reports and asset data reports) on hand-written and corpus files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine, select

from poam.domain.models import Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.qualys_vm_xml import QualysVmXmlParser, qualys_time
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from poam.store.tables import findings as findings_table
from tests.conftest import CORPUS, corpus_dir

JAN = "2026-01-05T10:00:00Z"

Register = Callable[..., None]


def item(tag: str = "VULN", qid: str = "38738", severity: str = "3", extra: str = "") -> str:
    return (
        f'<{tag} number="{qid}" severity="{severity}" cveid="CVE-2026-0001,CVE-2026-0002">'
        f"<TITLE><![CDATA[Title {qid}]]></TITLE><LAST_UPDATE>2020-01-01T00:00:00Z</LAST_UPDATE>"
        "<CVSS_BASE>5</CVSS_BASE><CVSS_TEMPORAL>4.8</CVSS_TEMPORAL><CVSS3_BASE>7.5</CVSS3_BASE><PCI_FLAG>0</PCI_FLAG>"
        "<DIAGNOSIS><![CDATA[The key is <B>small</B>.<P>]]></DIAGNOSIS><CONSEQUENCE>Bad</CONSEQUENCE>"
        f"<SOLUTION><![CDATA[Fix it]]></SOLUTION><RESULT><![CDATA[output {qid}]]></RESULT>{extra}</{tag}>"
    )


def group(name: str, cat: str, *items: str) -> str:
    return f"<{name}><CAT {cat}>{''.join(items)}</CAT></{name}>"


def ip(value: str = "10.0.0.1", name: str = "web01.example.com", *groups: str) -> str:
    return (
        f'<IP value="{value}" name="{name}"><OS><![CDATA[Ubuntu 22.04]]></OS>'
        f"<NETBIOS_HOSTNAME>WEB01</NETBIOS_HOSTNAME>{''.join(groups)}</IP>"
    )


def scan_report(*ips: str, date: str = JAN, status: str = "FINISHED", duration: str = "00:30:00") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        '<!DOCTYPE SCAN SYSTEM "https://qualysguard.qg2.apps.qualys.com/scan-1.dtd">\n'
        "<!-- Generating XML report -->\n"
        f'<SCAN value="scan/1.2"><HEADER><KEY value="USERNAME">user</KEY><KEY value="DATE">{date}</KEY>'
        f'<KEY value="TITLE"><![CDATA[Weekly scan]]></KEY><KEY value="DURATION">{duration}</KEY>'
        f'<KEY value="STATUS">{status}</KEY></HEADER>{"".join(ips)}</SCAN>\n<!-- CONFIDENTIAL -->\n'
    )


SSH_CAT = 'value="SSH" port="22" protocol="tcp"'


def full_ip(value: str = "10.0.0.1", name: str = "web01.example.com") -> str:
    return ip(
        value,
        name,
        group("INFOS", 'value="Information gathering"', item("INFO", "6", "1")),
        group("SERVICES", 'value="TCP/IP"', item("SERVICE", "82023", "1")),
        group("VULNS", SSH_CAT, item("VULN", "38738", "3")),
        group("VULNS", 'value="Local"', item("VULN", "123168", "5")),
        group(
            "PRACTICES",
            'value="Local" port="8080" protocol="tcp" fqdn="www.example.com"',
            item("PRACTICE", "124848", "4"),
        ),
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def parse(path: Path) -> list[object]:
    with path.open("rb") as f:
        return list(QualysVmXmlParser().parse(f, ParseContext(str(path))))


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[object]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def test_scan_report_results_assets_and_coverage(tmp_path: Path) -> None:
    recs = parse(write(tmp_path / "s.xml", scan_report(full_ip(), ip("10.0.0.2", "No registered hostname"))))
    info, service, ssh, local, potential = findings(recs)
    assert (info.weakness.severity, service.weakness.severity) == (Severity.INFO, Severity.INFO)
    w = ssh.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity, w.family) == (
        "Qualys",
        "38738",
        "Title 38738",
        Severity.MEDIUM,
        "SSH",
    )
    assert (w.cvss2_score, w.cvss3_score, w.cves) == (5.0, 7.5, ("CVE-2026-0001", "CVE-2026-0002"))
    assert w.description == "The key is small." and w.solution == "Fix it"
    assert (ssh.location, ssh.evidence, ssh.observed_at) == ("22/tcp", "output 38738", dt.datetime(2026, 1, 5, 10))
    assert local.location == "" and local.weakness.severity is Severity.CRITICAL
    assert potential.weakness.severity is Severity.HIGH and potential.location == "8080/tcp"
    assert potential.evidence == "Virtual host: www.example.com\noutput 124848"
    a = ssh.asset
    assert (a.ip, a.fqdn, a.netbios, a.os, a.identifier) == (
        "10.0.0.1",
        "web01.example.com",
        "WEB01",
        "Ubuntu 22.04",
        "web01.example.com",
    )
    cov1, cov2 = coverage(recs)
    assert cov1.asset is a and cov1.checks is Checks.VULNERABILITY
    assert (cov1.started_at, cov1.ended_at) == (dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 1, 5, 10, 30))
    assert (cov2.asset.ip, cov2.asset.fqdn, cov2.asset.identifier) == (
        "10.0.0.2",
        None,
        "10.0.0.2",
    )  # host without vulns
    scan = recs[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.name, scan.ended_at) == ("Qualys", "Weekly scan", cov1.ended_at)


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("5", Severity.CRITICAL), ("4", Severity.HIGH), ("3", Severity.MEDIUM), ("2", Severity.LOW), ("1", Severity.LOW)],
)
def test_qualys_severity_levels(tmp_path: Path, severity: str, expected: Severity) -> None:
    text = scan_report(ip("10.0.0.1", "h", group("VULNS", SSH_CAT, item("VULN", "11", severity))))
    assert findings(parse(write(tmp_path / "s.xml", text)))[0].weakness.severity is expected


def test_an_unfinished_scan_covers_nothing(tmp_path: Path) -> None:
    recs = parse(write(tmp_path / "s.xml", scan_report(full_ip(), status="CANCELED")))
    assert coverage(recs) == [] and len(findings(recs)) == 5


def host(*infos: str, ip: str = "10.0.0.1", dns: str = "web01.example.com") -> str:
    return (
        f"<HOST><IP>{ip}</IP><TRACKING_METHOD>IP</TRACKING_METHOD><DNS><![CDATA[{dns}]]></DNS>"
        f"<NETBIOS><![CDATA[WEB01]]></NETBIOS><OPERATING_SYSTEM><![CDATA[Ubuntu]]></OPERATING_SYSTEM>"
        f"<VULN_INFO_LIST>{''.join(infos)}</VULN_INFO_LIST></HOST>"
    )


def info(qid: str, kind: str = "Vuln", port: str = "22", status: str = "Active", extra: str = "") -> str:
    port_xml = f"<PORT>{port}</PORT><SERVICE>ssh</SERVICE><PROTOCOL>tcp</PROTOCOL>" if port else ""
    status_xml = f"<VULN_STATUS>{status}</VULN_STATUS>" if status else ""
    return (
        f'<VULN_INFO><QID id="qid_{qid}">{qid}</QID><TYPE>{kind}</TYPE>{port_xml}<SSL>false</SSL>'
        f"<RESULT><![CDATA[result {qid}]]></RESULT><FIRST_FOUND>2025-12-01T00:00:00Z</FIRST_FOUND>"
        f"<LAST_FOUND>{JAN}</LAST_FOUND><TIMES_FOUND>3</TIMES_FOUND>{status_xml}{extra}</VULN_INFO>"
    )


def details(qid: str, severity: str = "4") -> str:
    return (
        f'<VULN_DETAILS id="qid_{qid}"><QID id="qid_{qid}">{qid}</QID><TITLE><![CDATA[Title {qid}]]></TITLE>'
        f"<SEVERITY>{severity}</SEVERITY><CATEGORY>SSH</CATEGORY><THREAT><![CDATA[Threat<P>]]></THREAT>"
        "<IMPACT>Impact</IMPACT><SOLUTION>Patch</SOLUTION><PCI_FLAG>1</PCI_FLAG>"
        "<CVSS_SCORE><CVSS_BASE>9.3 (AV:N/AC:M/Au:N/C:C/I:C/A:C)</CVSS_BASE></CVSS_SCORE>"
        "<CVSS3_SCORE><CVSS3_BASE>8.1</CVSS3_BASE></CVSS3_SCORE>"
        "<CVE_ID_LIST><CVE_ID><ID><![CDATA[CVE-2026-1111]]></ID></CVE_ID></CVE_ID_LIST></VULN_DETAILS>"
    )


def asset_data(*hosts: str, glossary: tuple[str, ...] = ()) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        '<!DOCTYPE ASSET_DATA_REPORT SYSTEM "https://qualysguard.qualys.eu/asset_data_report.dtd">\n'
        "<ASSET_DATA_REPORT><HEADER><GENERATION_DATETIME>2026-01-06T08:00:00Z</GENERATION_DATETIME>"
        "<TEMPLATE><![CDATA[Technical Report]]></TEMPLATE></HEADER>"
        f"<HOST_LIST>{''.join(hosts)}</HOST_LIST>"
        f"<GLOSSARY><VULN_DETAILS_LIST>{''.join(glossary)}</VULN_DETAILS_LIST></GLOSSARY></ASSET_DATA_REPORT>"
    )


def test_asset_data_report_joins_the_glossary_that_follows_the_hosts(tmp_path: Path) -> None:
    text = asset_data(
        host(
            info("38738"),
            info("6", kind="Ig", port="", status=""),
            info("11", status="Fixed", extra="<LAST_FIXED>2026-01-04T09:00:00Z</LAST_FIXED>"),
            info("99999", port=""),
        ),
        glossary=(details("38738"), details("6", "1"), details("11", "2")),
    )
    recs = parse(write(tmp_path / "a.xml", text))
    vuln, ig, fixed, unknown = findings(recs)
    w = vuln.weakness
    assert (w.vuln_id, w.name, w.severity, w.family, w.cves) == (
        "38738",
        "Title 38738",
        Severity.HIGH,
        "SSH",
        ("CVE-2026-1111",),
    )
    assert (w.cvss2_score, w.cvss2_vector, w.cvss3_score, w.description) == (
        9.3,
        "AV:N/AC:M/Au:N/C:C/I:C/A:C",
        8.1,
        "Threat",
    )
    assert (vuln.location, vuln.service, vuln.evidence, vuln.status) == (
        "22/tcp",
        "ssh",
        "result 38738",
        FindingStatus.OPEN,
    )
    assert vuln.asset.fqdn == "web01.example.com" and vuln.asset.netbios == "WEB01"
    assert ig.weakness.severity is Severity.INFO
    assert fixed.status is FindingStatus.FIXED and fixed.observed_at == dt.datetime(2026, 1, 4, 9)
    assert (unknown.weakness.name, unknown.weakness.severity) == ("QID 99999", Severity.MEDIUM)
    assert coverage(recs) == []  # a report of the findings database: no proof of absence
    scan = recs[-1]
    assert isinstance(scan, Scan) and scan.name == "Technical Report"


def test_odd_detections_of_an_asset_data_report(tmp_path: Path) -> None:
    text = asset_data(
        host(
            info("38738"),
            info("x1"),
            info("11", status="Re-Opened"),
            info("12", status="Reviewing"),
            info("13", status="Ignored"),
            info("99999"),
        ),
        "<HOST><DNS>n/a</DNS><VULN_INFO_LIST>" + info("38738") + "</VULN_INFO_LIST></HOST>",
        glossary=(details("38738"), details("11"), details("12"), details("13", "7")),
    )
    recs, ctx = parse_with(write(tmp_path / "a.xml", text))
    assert [(f.weakness.vuln_id, f.weakness.severity, f.status) for f in findings(recs)] == [
        ("38738", Severity.HIGH, FindingStatus.OPEN),
        ("11", Severity.HIGH, FindingStatus.OPEN),
        ("12", Severity.HIGH, FindingStatus.OPEN),  # an unknown status never closes anything
        ("99999", Severity.MEDIUM, FindingStatus.OPEN),
    ]
    assert ctx.report.skipped == 2
    assert ctx.report.warnings == [
        "host 10.0.0.1, QID x1 (line 3): no numeric QID; left out",
        "host 10.0.0.1, QID 12 (line 3): status 'Reviewing' not recognised; kept open",
        "host 10.0.0.1, QID 13 (line 3): status 'Ignored' sets the detection aside; left out",
        "host 10.0.0.1, QID 99999 (line 3): QID not in the report's glossary: no title or level; rated Moderate",
        "host at line 3 (with its detections): no IP, DNS or NetBIOS name; left out",
    ]


def test_asset_data_dates_each_detection_by_its_own_time(tmp_path: Path) -> None:
    fixed = info("11", status="Fixed", extra="<LAST_FIXED>2026-01-04T09:00:00Z</LAST_FIXED>")
    retested = info("12", status="Fixed", extra="<LAST_TEST>2026-01-04T10:00:00Z</LAST_TEST>")
    undated = (
        info("13")
        .replace(f"<LAST_FOUND>{JAN}</LAST_FOUND>", "")
        .replace("<FIRST_FOUND>2025-12-01T00:00:00Z</FIRST_FOUND>", "")
    )
    unreadable = info("14").replace(JAN, "someday").replace("2025-12-01T00:00:00Z", "never")
    text = asset_data(host(info("38738"), fixed, retested, undated, unreadable), glossary=(details("38738"),))
    recs, ctx = parse_with(write(tmp_path / "a.xml", text), file_time=dt.datetime(2026, 3, 3))
    assert [f.observed_at for f in findings(recs)] == [
        dt.datetime(2026, 1, 5, 10),
        dt.datetime(2026, 1, 4, 9),
        dt.datetime(2026, 1, 4, 10),
        dt.datetime(2026, 1, 6, 8),  # no date of its own: the report's generation date
        dt.datetime(2026, 1, 6, 8),
    ]
    assert not ctx.report.used_file_time
    assert "host 10.0.0.1, QID 14 (line 3): date 'someday' not readable; dated by the report's date" in (
        ctx.report.warnings
    )
    bare = text.replace("<GENERATION_DATETIME>2026-01-06T08:00:00Z</GENERATION_DATETIME>", "")
    recs, ctx = parse_with(write(tmp_path / "b.xml", bare), file_time=dt.datetime(2026, 3, 3))
    assert findings(recs)[3].observed_at == dt.datetime(2026, 3, 3) and ctx.report.used_file_time


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('<SCAN value="x"><ERROR number="2003">No hosts alive</ERROR></SCAN>', "No hosts alive"),
        ("<NOT_QUALYS/>", "not a Qualys VM report"),
        (scan_report(full_ip())[:-120], "not well-formed"),
    ],
)
def test_broken_structure_is_an_input_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path / "bad.xml", text))


def parse_with(path: Path, **kwargs: object) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), **kwargs)  # type: ignore[arg-type]
    with path.open("rb") as f:
        return list(QualysVmXmlParser().parse(f, ctx)), ctx


def test_odd_results_of_a_scan_report_are_left_out_with_a_warning(tmp_path: Path) -> None:
    good = group("VULNS", SSH_CAT, item("VULN", "38738", "3"), item("VULN", "abc", "3"))
    text = scan_report(
        ip("10.0.0.1", "web01.example.com", good),
        '<IP value="" name=""><VULNS><CAT value="SSH" port="22">' + item("VULN", "11", "2") + "</CAT></VULNS></IP>",
        '<IP value="" name="db01.example.com"><VULNS><CAT value="SSH" port="22" protocol="tcp">'
        + item("VULN", "12", "4")
        + "</CAT></VULNS></IP>",
    ).replace("</HEADER>", '</HEADER><VULN number="13" severity="3"><TITLE>stray</TITLE></VULN>')
    recs, ctx = parse_with(write(tmp_path / "s.xml", text))
    assert [(f.weakness.vuln_id, f.asset.identifier) for f in findings(recs)] == [
        ("38738", "web01.example.com"),
        ("12", "db01.example.com"),  # no address, but a name: still a host
    ]
    assert [c.asset.identifier for c in coverage(recs)] == ["web01.example.com", "db01.example.com"]
    assert ctx.report.skipped == 3
    assert ctx.report.warnings == [
        "<VULN> at line 4: outside an IP's results; left out",
        "IP 10.0.0.1, QID abc (line 4): no numeric QID; left out",
        "IP ?, QID 11 (line 4): the IP has no address or name; left out",
        "IP at line 4: no address or name; not counted as scanned",
    ]


def test_missing_or_unknown_levels_are_moderate_with_a_warning(tmp_path: Path) -> None:
    vulns = group("VULNS", SSH_CAT, item("VULN", "11", "9"), item("VULN", "12", ""), item("VULN", "13", "4"))
    infos = group("INFOS", 'value="Information gathering"', item("INFO", "6", ""))
    recs, ctx = parse_with(write(tmp_path / "s.xml", scan_report(ip("10.0.0.1", "h", vulns, infos))))
    assert [(f.weakness.vuln_id, f.weakness.severity) for f in findings(recs)] == [
        ("11", Severity.MEDIUM),
        ("12", Severity.MEDIUM),
        ("13", Severity.HIGH),
        ("6", Severity.INFO),  # information gathered needs no level
    ]
    assert ctx.report.warnings == [
        "IP 10.0.0.1, QID 11 (line 4): severity '9' not recognised; rated Moderate",
        "IP 10.0.0.1, QID 12 (line 4): severity missing not recognised; rated Moderate",
    ]


def test_a_scan_error_next_to_results_is_a_warning(tmp_path: Path) -> None:
    text = scan_report(full_ip()).replace("</SCAN>", '<ERROR number="1999">Scan partially failed</ERROR></SCAN>')
    recs, ctx = parse_with(write(tmp_path / "s.xml", text))
    assert len(findings(recs)) == 5 and len(coverage(recs)) == 1
    assert ctx.report.warnings == [
        "scan: Qualys reports an error (1999 Scan partially failed); the IPs it lists are read"
    ]


def test_a_scan_report_without_a_date_takes_the_file_time(tmp_path: Path) -> None:
    undated = scan_report(full_ip()).replace(f'<KEY value="DATE">{JAN}</KEY>', "")
    recs, ctx = parse_with(write(tmp_path / "u.xml", undated), file_time=dt.datetime(2026, 2, 2, 2))
    assert {f.observed_at for f in findings(recs)} == {dt.datetime(2026, 2, 2, 2)}
    assert coverage(recs)[0].started_at == dt.datetime(2026, 2, 2, 2) and ctx.report.used_file_time
    assert ctx.report.warnings == []
    bad = scan_report(full_ip(), date="soon")
    recs, ctx = parse_with(write(tmp_path / "b.xml", bad), file_time=dt.datetime(2026, 2, 2, 2))
    assert findings(recs)[0].observed_at == dt.datetime(2026, 2, 2, 2) and ctx.report.used_file_time
    assert ctx.report.warnings == ["header: date 'soon' not readable; dated by the file's time"]
    recs, ctx = parse_with(write(tmp_path / "d.xml", scan_report(full_ip())), file_time=dt.datetime(2026, 2, 2, 2))
    assert findings(recs)[0].observed_at == dt.datetime(2026, 1, 5, 10) and not ctx.report.used_file_time
    empty = '<SCAN value="x"><HEADER><KEY value="TITLE">t</KEY></HEADER></SCAN>'
    recs, ctx = parse_with(write(tmp_path / "e.xml", empty), file_time=dt.datetime(2026, 2, 2, 2))
    assert len(recs) == 1 and not ctx.report.used_file_time  # nothing needed a date


def test_qualys_dates() -> None:
    assert qualys_time("11 Mar 2020 01:07PM GMT-0400") == dt.datetime(2020, 3, 11, 17, 7)
    assert qualys_time("Feb 03, 2026 07:00 AM", dt.timedelta(hours=-5)) == dt.datetime(2026, 2, 3, 12)
    assert qualys_time("05/13/2021 07:08:28") == dt.datetime(2021, 5, 13, 7, 8, 28)
    assert qualys_time("2019-07-31T21:57:48Z", dt.timedelta(hours=3)) == dt.datetime(2019, 7, 31, 21, 57, 48)
    assert qualys_time("'-") is None and qualys_time("not a date") is None


# --- detection and the real files of the corpus -------------------------------------------------


@pytest.mark.corpus
def test_sniff_claims_exactly_the_qualys_vm_xml_files() -> None:
    folder = corpus_dir("qualys_vm_xml")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if QualysVmXmlParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(folder.iterdir())


def _name(ip: str, dns: str | None) -> str:
    dns = (dns or "").strip()
    return dns if "." in dns and not dns.lower().startswith("no registered") else ip


def independent_count(path: Path) -> tuple[dict[str, set[str]], set[str]]:
    """QID -> `asset (port/protocol)` of vulnerabilities (not information gathered), and the scan
    report's IPs, with plain lxml."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    found: dict[str, set[str]] = {}
    hosts: set[str] = set()
    for ip_el in tree.iter("IP"):
        if ip_el.getparent().tag != "SCAN":
            continue
        hosts.add(ip_el.get("value"))
        for el in [*ip_el.iterfind("VULNS/CAT/VULN"), *ip_el.iterfind("PRACTICES/CAT/PRACTICE")]:
            cat = el.getparent()
            loc = f" ({cat.get('port')}/{cat.get('protocol')})" if cat.get("port") else ""
            found.setdefault(el.get("number"), set()).add(_name(ip_el.get("value"), ip_el.get("name")) + loc)
    for host_el in tree.iter("HOST"):
        for v in host_el.iterfind("VULN_INFO_LIST/VULN_INFO"):
            if v.findtext("TYPE") == "Ig":
                continue
            loc = f" ({v.findtext('PORT')}/{v.findtext('PROTOCOL')})" if v.findtext("PORT") else ""
            name = _name(host_el.findtext("IP"), host_el.findtext("DNS"))
            found.setdefault(v.findtext("QID").strip(), set()).add(name + loc)
    return found, hosts


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = sorted(corpus_dir("qualys_vm_xml").iterdir())
    assert len(files) == 6
    for path in files:
        recs = parse(path)
        expected, hosts = independent_count(path)
        got: dict[str, set[str]] = {}
        for f in findings(recs):
            if f.weakness.severity is not Severity.INFO:
                got.setdefault(f.weakness.vuln_id, set()).add(
                    f.asset.identifier + (f" ({f.location})" if f.location else "")
                )
        assert got == expected, path.name
        assert {c.asset.ip for c in coverage(recs)} == hosts, path.name
        assert isinstance(recs[-1], Scan) and recs[-1].started_at is not None
    sample = findings(parse(corpus_dir("qualys_vm_xml") / "defectdojo__qualys__Qualys_Sample_Report.xml"))
    assert len(sample) == 301 and sum(f.weakness.severity is Severity.INFO for f in sample) == 209
    assert all(f.weakness.name != f"QID {f.weakness.vuln_id}" for f in sample)  # every QID joined its glossary


# --- end to end ----------------------------------------------------------------------------------


def items_by_id(engine: Engine) -> dict[str, object]:
    with engine.begin() as conn:
        return {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}


def test_a_later_scan_fixes_and_an_asset_data_report_closes(
    engine: Engine, register_parser: Register, tmp_path: Path
) -> None:
    register_parser(QualysVmXmlParser())
    r = import_file(engine, write(tmp_path / "jan.xml", scan_report(full_ip())))
    assert (r.format, r.items_opened, r.assets_covered, r.informational) == ("qualys-vm-xml", 3, 1, 2)
    assert [a.text for a in items_by_id(engine)["38738"].assets] == ["web01.example.com (22/tcp)"]  # type: ignore[attr-defined]
    feb_ip = ip("10.0.0.1", "web01.example.com", group("VULNS", SSH_CAT, item("VULN", "38738", "3")))
    r = import_file(engine, write(tmp_path / "feb.xml", scan_report(feb_ip, date="2026-02-05T10:00:00Z")))
    assert (r.fixed_findings, r.items_closed) == (2, 2)
    mar = asset_data(
        host(info("38738", status="Fixed", extra="<LAST_FIXED>2026-03-01T00:00:00Z</LAST_FIXED>")),
        glossary=(details("38738", "3"),),
    )
    r = import_file(engine, write(tmp_path / "mar.xml", mar))
    assert (r.fixed_findings, r.items_closed, r.assets_covered) == (1, 1, 0)
    assert all(i.status is ItemStatus.CLOSED for i in items_by_id(engine).values())  # type: ignore[attr-defined]


@pytest.mark.corpus
def test_corpus_scan_report_imports_with_the_right_items(engine: Engine, register_parser: Register) -> None:
    register_parser(QualysVmXmlParser())
    path = corpus_dir("qualys_vm_xml") / "defectdojo__qualys_infrascan_webgui__qualys_infrascan_webgui_multiple.xml"
    result = import_file(engine, path)
    expected, hosts = independent_count(path)
    assert result.assets_covered == len(hosts) == 2
    assert {k: {a.text for a in i.assets} for k, i in items_by_id(engine).items()} == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize("fixed_first", [True, False], ids=["fixed-first", "active-first"])
@pytest.mark.parametrize(
    ("fixed_on", "expected"),
    [
        ("2026-01-04T09:00:00Z", ("open", ItemStatus.OPEN)),  # an older fix never closes
        (JAN, ("open", ItemStatus.OPEN)),  # equal times: the failing record wins
        ("2026-01-06T09:00:00Z", ("fixed", ItemStatus.CLOSED)),  # a newer fix closes
    ],
)
def test_the_newest_detection_of_one_finding_decides(
    engine: Engine,
    register_parser: Register,
    tmp_path: Path,
    fixed_first: bool,
    fixed_on: str,
    expected: tuple[str, ItemStatus],
) -> None:
    """An asset data report lists QID 38738 on port 22 twice (two virtual hosts): Active, last
    found on Jan 5, and Fixed on `fixed_on`. One finding; its newest record decides."""
    register_parser(QualysVmXmlParser())
    active = info("38738", extra="<FQDN>a.example.com</FQDN>")
    fixed = info("38738", status="Fixed", extra=f"<FQDN>b.example.com</FQDN><LAST_FIXED>{fixed_on}</LAST_FIXED>")
    text = asset_data(host(*((fixed, active) if fixed_first else (active, fixed))), glossary=(details("38738"),))
    r = import_file(engine, write(tmp_path / "a.xml", text))
    assert (r.format, r.results) == ("qualys-vm-xml", 2)
    with engine.begin() as conn:
        assert [row.status for row in conn.execute(select(findings_table.c.status))] == [expected[0]]
    assert items_by_id(engine)["38738"].status is expected[1]  # type: ignore[attr-defined]
