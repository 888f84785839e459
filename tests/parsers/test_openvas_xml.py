"""The OpenVAS / Greenbone GMP report XML parser on hand-written reports and on the corpus files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.openvas_xml import OpenvasXmlParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

TLS = "1.3.6.1.4.1.25623.1.0.100"
SSH = "1.3.6.1.4.1.25623.1.0.200"
OS_EOL = "1.3.6.1.4.1.25623.1.0.300"
V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"  # 7.5
TERM = "apply_overrides=0 levels=hml rows=-1 min_qod=70 first=1 sort-reverse=severity notes=1 overrides=1"

Register = Callable[..., None]


def result(
    oid: str = TLS,
    port: str = "443/tcp",
    severity: str = "7.5",
    threat: str = "High",
    host: str = "10.0.0.1",
    hostname: str = "web01.example.com",
    when: str = "2026-01-05T10:05:00Z",
    extra: str = "",
    nvt: str | None = None,
) -> str:
    nvt = nvt or (
        f"<name>Check {oid[-3:]}</name><family>General</family><cvss_base>{severity}</cvss_base>"
        f'<severities score="{severity}"><severity type="cvss_base_v3"><score>{severity}</score>'
        f"<value>{V3}</value></severity></severities>"
        "<tags>summary=A summary\n   on two lines|insight=Why it matters|affected=All|solution=Upgrade"
        "|solution_type=VendorFix</tags><solution type='VendorFix'>Upgrade it</solution>"
        '<refs><ref type="cve" id="CVE-2026-0001"/><ref type="url" id="https://example.com/advisory"/></refs>'
    )
    return (
        f'<result id="r{oid[-3:]}{port}"><name>Check {oid[-3:]}</name><owner><name>admin</name></owner>'
        f"<creation_time>{when}</creation_time><modification_time>{when}</modification_time>"
        f'<host>{host}<asset asset_id="a1"/><hostname>{hostname}</hostname></host><port>{port}</port>'
        f'<nvt oid="{oid}"><type>nvt</type>{nvt}</nvt><threat>{threat}</threat><severity>{severity}</severity>'
        f"<qod><value>80</value><type>remote_banner</type></qod><description>Seen on {port}\n</description>"
        f"{extra}</result>"
    )


def host(ip: str = "10.0.0.1", start: str = "2026-01-05T10:00:00Z", end: str = "2026-01-05T10:30:00Z") -> str:
    return (
        f"<host><ip>{ip}</ip><asset asset_id=''/><start>{start}</start><end>{end}</end>"
        "<detail><name>hostname</name><value>web01.example.com</value></detail>"
        "<detail><name>best_os_txt</name><value>Ubuntu 22.04</value></detail>"
        "<detail><name>MAC</name><value>00:11:22:33:44:55</value></detail>"
        "<detail><name>Auth-SSH-Success</name><value>Protocol SSH, Port 22, User scan</value></detail></host>"
    )


def report(
    results: list[str],
    hosts: list[str] | None = None,
    term: str = TERM,
    status: str = "Done",
    envelope: bool = True,
    attrs: str = "",
    scan: tuple[str, str] = ("2026-01-05T10:00:00Z", "2026-01-05T10:30:00Z"),
) -> str:
    hosts = [host()] if hosts is None else hosts
    inner = (
        f'<report id="inner"{attrs}><gmp><version>22.6</version></gmp><filters id="0"><term>{term}</term></filters>'
        f"<scan_run_status>{status}</scan_run_status><task id='t'><name>Weekly scan</name></task>"
        f"<timestamp>{scan[0]}</timestamp><scan_start>{scan[0]}</scan_start>"
        f'<ports start="1" max="-1"><count>1</count><port>443/tcp<host>10.0.0.1</host></port></ports>'
        f'<results start="1" max="-1">{"".join(results)}</results>{"".join(hosts)}'
        f"<scan_end>{scan[1]}</scan_end></report>"
    )
    if not envelope:
        return '<?xml version="1.0"?>\n' + inner
    return (
        '<report id="outer" format_id="a994b278-1f62-11e1-96ac-406186ea4fc5" extension="xml" '
        f'content_type="text/xml"><name>2026-01-05</name><report_format id="x"><name>XML</name></report_format>'
        f"{inner}</report>"
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def parse(path: Path, **ctx: object) -> list[object]:
    with path.open("rb") as f:
        return list(OpenvasXmlParser().parse(f, ParseContext(str(path), **ctx)))  # type: ignore[arg-type]


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[object]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def test_fields_of_a_result_and_its_host(tmp_path: Path) -> None:
    recs = parse(write(tmp_path / "r.xml", report([result()])))
    (cov,) = coverage(recs)
    (f,) = findings(recs)
    scan = recs[-1]
    assert isinstance(scan, Scan)
    w = f.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity, w.family) == ("OpenVAS", TLS, "Check 100", Severity.HIGH, "General")
    assert (w.cvss3_vector, w.cvss3_score, w.cves) == (V3, 7.5, ("CVE-2026-0001",))
    assert w.synopsis == "A summary\non two lines" and w.solution == "Upgrade it"
    assert w.description is not None and "Insight: Why it matters" in w.description
    assert w.see_also == "https://example.com/advisory"
    assert (f.port, f.protocol, f.location, f.evidence) == (443, "tcp", "443/tcp", "Seen on 443/tcp")
    assert f.observed_at == dt.datetime(2026, 1, 5, 10, 5) and f.status is FindingStatus.OPEN
    a = f.asset
    assert (a.ip, a.fqdn, a.os, a.mac, a.identifier) == (
        "10.0.0.1",
        "web01.example.com",
        "Ubuntu 22.04",
        "00:11:22:33:44:55",
        "web01.example.com",
    )
    assert cov.asset is a and cov.authenticated is True and cov.checks is Checks.VULNERABILITY
    assert (cov.started_at, cov.ended_at) == (dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 1, 5, 10, 30))
    assert (scan.tool, scan.tool_version, scan.name) == ("OpenVAS", "22.6", "Weekly scan")
    assert (scan.started_at, scan.ended_at) == (dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 1, 5, 10, 30))


def test_inner_report_alone_reads_the_same(tmp_path: Path) -> None:
    both = [result(), result(SSH, port="22/tcp", severity="5.3", threat="Medium")]
    outer = parse(write(tmp_path / "a.xml", report(both)))
    inner = parse(write(tmp_path / "b.xml", report(both, envelope=False)))
    assert findings(outer) == findings(inner) and len(findings(inner)) == 2
    assert coverage(outer) == coverage(inner)
    wrapped = '<get_reports_response status="200" status_text="OK">' + report(both)[0:] + "</get_reports_response>"
    assert findings(parse(write(tmp_path / "c.xml", wrapped))) == findings(outer)


def test_general_port_log_and_false_positive_results(tmp_path: Path) -> None:
    recs = parse(
        write(
            tmp_path / "r.xml",
            report(
                [
                    result(OS_EOL, port="general/tcp", severity="10.0"),
                    result(SSH, port="22/tcp", severity="0.0", threat="Log"),
                    result(TLS, severity="-1.0", threat="False Positive"),
                    result("1.3.6.1.4.1.25623.1.0.400", port="general/CPE-T", severity="", threat="Medium"),
                ]
            ),
        )
    )
    eol, log, fp, cpe = findings(recs)
    assert (eol.port, eol.protocol, eol.location, eol.weakness.severity) == (None, None, "", Severity.CRITICAL)
    assert log.weakness.severity is Severity.INFO and log.status is FindingStatus.OPEN  # counted only
    assert fp.status is FindingStatus.SET_ASIDE  # an override to False Positive: a person's decision
    assert cpe.weakness.severity is Severity.MEDIUM and cpe.location == ""


def test_a_false_positive_override_keeps_its_open_finding_open(
    engine: Engine, register_parser: Register, tmp_path: Path
) -> None:
    """An override is not a fix: the next report still lists the result, so the finding stays open
    until a report no longer lists it at all."""
    register_parser(OpenvasXmlParser())
    import_file(engine, write(tmp_path / "jan.xml", report([result()])))

    def month(n: int, *results: str) -> Path:
        day = f"2026-0{n}-05T10:"
        text = report(
            list(results),
            hosts=[host(start=day + "00:00Z", end=day + "30:00Z")],
            scan=(day + "00:00Z", day + "30:00Z"),
        )
        return write(tmp_path / f"{n}.xml", text)

    overridden = "<original_threat>High</original_threat><original_severity>7.5</original_severity>"
    fp = result(severity="-1.0", threat="False Positive", when="2026-02-05T10:05:00Z", extra=overridden)
    r = import_file(engine, month(2, fp))
    assert (r.set_aside, r.fixed_findings, r.items_closed) == (1, 0, 0)
    assert items_by_id(engine)[TLS].status is ItemStatus.OPEN  # type: ignore[attr-defined]
    r = import_file(engine, month(3))
    assert (r.fixed_findings, r.items_closed) == (1, 1)


def test_old_nvt_fields_give_cvss2_and_cve_list(tmp_path: Path) -> None:
    nvt = (
        "<name>Old check</name><family>FTP</family><cvss_base>5.0</cvss_base><cve>CVE-2011-0001, CVE-2011-0002</cve>"
        "<tags>cvss_base_vector=AV:N/AC:L/Au:N/C:P/I:N/A:N|summary=old</tags>"
    )
    (f,) = findings(parse(write(tmp_path / "r.xml", report([result(nvt=nvt, severity="5.0", threat="Medium")]))))
    w = f.weakness
    assert (w.cvss2_vector, w.cvss2_score, w.cvss3_score) == ("AV:N/AC:L/Au:N/C:P/I:N/A:N", 5.0, None)
    assert w.cves == ("CVE-2011-0001", "CVE-2011-0002") and w.name == "Old check" and w.solution is None


@pytest.mark.parametrize(
    "term",
    [
        "apply_overrides=0 levels=hm rows=-1 min_qod=70",  # low results left out
        "levels=hml rows=1 first=1",  # one row: the page is full, more may exist
        "levels=hml rows=-1 first=11",  # a later page
        "levels=hml rows=-1 apache",  # a text search
        "levels=hml rows=-1 host=10.0.0.9",  # a host filter
    ],
)
def test_a_filtered_report_gives_no_coverage(tmp_path: Path, term: str) -> None:
    recs = parse(write(tmp_path / "r.xml", report([result()], term=term)))
    assert coverage(recs) == [] and len(findings(recs)) == 1


def test_an_unfinished_scan_covers_only_finished_hosts(tmp_path: Path) -> None:
    hosts = [host(), host("10.0.0.2", end="")]
    recs = parse(write(tmp_path / "r.xml", report([result()], hosts=hosts, status="Stopped")))
    assert [c.asset.ip for c in coverage(recs)] == ["10.0.0.1"]
    done = parse(write(tmp_path / "d.xml", report([result()], hosts=hosts)))
    assert [c.asset.ip for c in coverage(done)] == ["10.0.0.1", "10.0.0.2"]  # hosts without findings too


def test_result_host_without_host_details_is_covered_from_the_scan_window(tmp_path: Path) -> None:
    text = report([result(host="10.0.0.7", hostname="db7", when="2026-01-05T09:00:00Z")], hosts=[])
    recs = parse(write(tmp_path / "r.xml", text))
    (cov,) = coverage(recs)
    (f,) = findings(recs)
    assert (cov.asset.ip, cov.asset.fqdn, cov.asset.name, cov.asset.identifier) == ("10.0.0.7", None, "db7", "10.0.0.7")
    assert cov.started_at == dt.datetime(2026, 1, 5, 10)
    assert f.observed_at == cov.started_at  # never before the coverage that would otherwise close it


def test_compliance_results_and_delta_reports(tmp_path: Path) -> None:
    audit = [
        result(SSH, port="general/tcp", severity="0.0", threat="Log", extra="<compliance>yes</compliance>"),
        result(TLS, port="general/tcp", severity="0.0", threat="Log", extra="<compliance>no</compliance>"),
    ]
    recs = parse(write(tmp_path / "a.xml", report(audit)))
    yes, no = findings(recs)
    assert yes.status is FindingStatus.FIXED and yes.weakness.is_config
    assert no.status is FindingStatus.OPEN and no.weakness.is_config and no.weakness.severity is Severity.MEDIUM
    assert coverage(recs)[0].checks is Checks.ALL
    delta = [
        result(extra="<delta>gone</delta>"),
        result(SSH, port="22/tcp", extra=f"<delta>changed{result(SSH, port='22/tcp')}<diff>x</diff></delta>"),
    ]
    recs = parse(write(tmp_path / "d.xml", report(delta, attrs=' type="delta"')))
    gone, changed = findings(recs)  # the previous result inside <delta> is not a finding
    assert gone.status is FindingStatus.FIXED and changed.status is FindingStatus.OPEN
    assert coverage(recs) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('<get_reports_response status="404" status_text="Failed to find report"/>', "GMP error 404"),
        ("<report><name>x</name></report>", "not a GMP report"),
        (report([result()])[:-400], "not well-formed XML"),
        ('<!DOCTYPE r [<!ENTITY x "y">]><report>&x;</report>', "entity declarations"),
    ],
)
def test_bad_input_is_an_input_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path / "bad.xml", text))


def test_missing_dates_fall_back_to_the_scan_date(tmp_path: Path) -> None:
    text = report([result(when="")], hosts=[], scan=("", ""))
    when = dt.datetime(2026, 2, 1)
    recs = parse(write(tmp_path / "r.xml", text), scan_date=when)
    assert findings(recs)[0].observed_at == when and coverage(recs)[0].started_at == when


FILE_TIME = dt.datetime(2026, 2, 3, 4, 5)


def parse_ctx(path: Path) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), file_time=FILE_TIME)
    with path.open("rb") as f:
        return list(OpenvasXmlParser().parse(f, ctx)), ctx


def test_an_undated_report_takes_the_file_time_and_a_dated_one_does_not(tmp_path: Path) -> None:
    recs, ctx = parse_ctx(write(tmp_path / "u.xml", report([result(when="")], hosts=[], scan=("", ""))))
    assert findings(recs)[0].observed_at == FILE_TIME and coverage(recs)[0].started_at == FILE_TIME
    assert ctx.report.used_file_time
    recs, ctx = parse_ctx(write(tmp_path / "d.xml", report([result()])))
    assert findings(recs)[0].observed_at == dt.datetime(2026, 1, 5, 10, 5) and not ctx.report.used_file_time


def test_odd_results_are_warned_and_the_others_import(tmp_path: Path) -> None:
    # a result without NVT OID or host address once refused the whole report
    results = [
        result().replace('oid="1.3.6.1.4.1.25623.1.0.100"', 'oid=""'),
        result(SSH, host=""),
        result(SSH, port="https/tcp"),
        result(OS_EOL, severity="", threat="Alarm"),
        result(TLS, port="general/tcp", severity="", threat=""),
        result(TLS, port="22/tcp", severity="0.0", threat=""),
    ]
    recs, ctx = parse_ctx(write(tmp_path / "o.xml", report(results)))
    assert [(f.weakness.vuln_id, f.location, f.weakness.severity) for f in findings(recs)] == [
        (SSH, "", Severity.HIGH),  # a port that is no number: no port
        (OS_EOL, "443/tcp", Severity.MEDIUM),  # an unknown threat without a score: Moderate
        (TLS, "", Severity.MEDIUM),  # neither score nor threat: Moderate
        (TLS, "22/tcp", Severity.INFO),  # a score of 0.0 without a threat: a log result, as before
    ]
    assert [w.split(": ", 1)[1] for w in ctx.report.warnings] == [
        "no NVT OID; left out",
        "no host address; left out",
        "port 'https/tcp' is not a port number; no port",
        "severity 'Alarm' not recognised; rated Moderate",
        "severity missing not recognised; rated Moderate",
    ]
    assert ctx.report.skipped == 2 and ctx.report.warnings[0].startswith("result 'r100443/tcp' (line ")


# --- detection and the real files of the corpus -------------------------------------------------


@pytest.mark.corpus
def test_sniff_claims_exactly_the_openvas_xml_files() -> None:
    corpus_dir("openvas_xml")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if OpenvasXmlParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(corpus_dir("openvas_xml").iterdir())


def independent_count(path: Path) -> tuple[dict[str, set[str]], set[str]]:
    """OID -> `asset (port)` texts of non-informational results, and the hosts, by plain lxml."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    found: dict[str, set[str]] = {}
    hosts = {h.findtext("ip") for h in tree.iter("host") if h.getparent().tag == "report"}
    for r in tree.iter("result"):
        if r.getparent().tag != "results":
            continue
        h = r.find("host")
        ip, name = h.text.strip(), (h.findtext("hostname") or "").strip()
        hosts.add(ip)
        threat, score = (r.findtext("threat") or "").strip(), float(r.findtext("severity") or 0)
        if threat in ("Log", "Debug", "False Positive", "Error") or score <= 0:
            continue
        port = r.findtext("port").strip()
        loc = f" ({port})" if port.split("/")[0].isdigit() else ""
        found.setdefault(r.find("nvt").get("oid"), set()).add((name if "." in name else ip) + loc)
    return found, hosts


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = sorted(corpus_dir("openvas_xml").iterdir())
    assert len(files) == 3
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
    many = parse(corpus_dir("openvas_xml") / "defectdojo__openvas__many_vuln.xml")
    assert len(findings(many)) == 44 and {f.weakness.tool for f in findings(many)} == {"OpenVAS"}
    v2 = findings(parse(corpus_dir("openvas_xml") / "defectdojo__openvas__report_detail_v2.xml"))
    assert v2[0].weakness.cvss3_score == 9.8 and len(v2[0].weakness.cves) == 93
    assert v2[0].observed_at == dt.datetime(2025, 8, 22, 14, 55, 31)  # +02:00 as UTC


# --- end to end ----------------------------------------------------------------------------------


def items_by_id(engine: Engine, system: str | None = None) -> dict[str, object]:
    with engine.begin() as conn:
        return {i.source_identifier: i for i in load(conn, systems.resolve(conn, system, "t").id, "all")}


@pytest.mark.corpus
def test_corpus_report_imports_with_the_right_items(engine: Engine, register_parser: Register) -> None:
    register_parser(OpenvasXmlParser())
    path = corpus_dir("openvas_xml") / "defectdojo__openvas__many_vuln.xml"
    result = import_file(engine, path)
    assert result.format == "openvas-xml" and result.tool == "OpenVAS" and result.assets_covered == 1
    expected, _hosts = independent_count(path)
    items = items_by_id(engine)
    assert {k: {a.text for a in i.assets} for k, i in items.items()} == expected  # type: ignore[attr-defined]


def test_a_later_report_fixes_what_it_no_longer_finds(
    engine: Engine, register_parser: Register, tmp_path: Path
) -> None:
    register_parser(OpenvasXmlParser())
    jan = report([result(), result(OS_EOL, port="general/tcp", severity="10.0")])
    r = import_file(engine, write(tmp_path / "jan.xml", jan))
    assert (r.new_findings, r.items_opened, r.assets_covered) == (2, 2, 1)
    items = items_by_id(engine)
    assert [a.text for a in items[TLS].assets] == ["web01.example.com (443/tcp)"]  # type: ignore[attr-defined]
    feb = report(
        [result(when="2026-02-05T10:05:00Z")],
        hosts=[host(start="2026-02-05T10:00:00Z", end="2026-02-05T10:30:00Z")],
        scan=("2026-02-05T10:00:00Z", "2026-02-05T10:30:00Z"),
    )
    r = import_file(engine, write(tmp_path / "feb.xml", feb))
    assert (r.fixed_findings, r.items_closed, r.new_findings) == (1, 1, 0)
    items = items_by_id(engine)
    assert items[OS_EOL].status is ItemStatus.CLOSED  # type: ignore[attr-defined]
    assert items[TLS].status is ItemStatus.OPEN  # type: ignore[attr-defined]
