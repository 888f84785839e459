"""The Acunetix XML and Acunetix 360 JSON parsers on hand-written reports and on the corpus."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers import acunetix
from poam.parsers.acunetix import Acunetix360Parser, AcunetixXmlParser, read_time
from poam.parsers.base import ParseContext
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import corpus_dir

FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
FOLDER = "acunetix_xml"
Parser = AcunetixXmlParser | Acunetix360Parser


def write(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def parse_ctx(path: Path, parser: Parser | None = None, **ctx: Any) -> tuple[list[Any], ParseContext]:
    parser = parser or (AcunetixXmlParser() if path.suffix == ".xml" else Acunetix360Parser())
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(parser.parse(f, context)), context


def parse(path: Path, **ctx: Any) -> list[Any]:
    return parse_ctx(path, **ctx)[0]


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def item(
    name: str = "Cross site scripting", affects: str = "/search.php", severity: str = "high", **fields: str
) -> str:
    values = {
        "Name": name,
        "ModuleName": "/Scripts/PerScheme/XSS.script",
        "Details": "URL encoded GET input <b>q</b> was set to <pre>&lt;script&gt;secret-response&lt;/script&gt;</pre>",
        "Affects": affects,
        "Parameter": "q",
        "IsFalsePositive": "",
        "Severity": severity,
        "Type": "xss",
        "Impact": "Bad things.",
        "Description": "<p>XSS is <b>bad</b>.</p>",
        "Recommendation": "Escape output.",
        **fields,
    }
    body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in values.items())
    return (
        f'<ReportItem id="1" color="red">{body}'
        "<TechnicalDetails><Request><![CDATA[GET /search.php?q=x HTTP/1.1\nCookie: sid=topsecret]]></Request>"
        "<Response><![CDATA[HTTP/1.1 200 OK]]></Response></TechnicalDetails>"
        '<CWEList><CWE id="79"><![CDATA[CWE-79]]></CWE></CWEList><CVEList></CVEList>'
        "<CVSS><Descriptor><![CDATA[AV:N/AC:M/Au:N/C:N/I:P/A:N]]></Descriptor><Score><![CDATA[4.3]]></Score></CVSS>"
        "<CVSS3><Descriptor><![CDATA[CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N]]></Descriptor>"
        "<Score><![CDATA[]]></Score></CVSS3>"
        "<References><Reference><Database><![CDATA[OWASP]]></Database><URL><![CDATA[https://owasp.org/xss]]></URL>"
        "</Reference></References></ReportItem>"
    )


def xml_report(*items: str, start_url: str = "https://app.example.com", **scan: str) -> str:
    head = {
        "Name": "weekly",
        "StartURL": start_url,
        "StartTime": "05/01/2026, 10:00:00",
        "FinishTime": "05/01/2026, 11:30:00",
        "Aborted": "False",
        "Responsive": "True",
        **scan,
    }
    fields = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in head.items())
    crawler = (
        '<Crawler StartUrl="https://app.example.com/"><SiteFiles><SiteFile id="1"><Name>a</Name>'
        "<FullURL>https://app.example.com/a?token=zzz</FullURL></SiteFile></SiteFiles></Crawler>"
    )
    return (
        f'<?xml version="1.0"?><ScanGroup ExportedOn="06/01/2026, 08:00:00"><Scan>{fields}{crawler}'
        f"<ReportItems>{''.join(items)}</ReportItems></Scan></ScanGroup>"
    )


def vuln360(
    vuln_type: str = "BlindXss", url: str = "http://php.example.com/a.php?id=1", **extra: Any
) -> dict[str, Any]:
    return {
        "LookupId": "x-1",
        "Name": f"Name of {vuln_type}",
        "Type": vuln_type,
        "Url": url,
        "Severity": "High",
        "Certainty": 100,
        "Confirmed": True,
        "State": "Present",
        "FirstSeenDate": "16/06/2021 12:38 PM",
        "LastSeenDate": "25/06/2021 02:01 AM",
        "Classification": {
            "Cwe": "79",
            "Cvss31": {"Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N", "BaseScore": {"Value": "8.6"}},
        },
        "Description": "<p>Desc</p>",
        "RemedialProcedure": "<div>Fix</div>",
        "ExternalReferences": "<a href='https://example.com/xss'>XSS</a>",
        "HttpRequest": {
            "Content": "GET /a.php?id=1 HTTP/1.1\r\nCookie: sid=topsecret",
            "Method": "GET",
            "Parameters": [{"Name": "id", "Value": "1", "Vulnerable": True}],
        },
        "HttpResponse": {"Content": "HTTP/1.1 200 OK\r\n\r\nbody-secret", "StatusCode": 200},
        **extra,
    }


def report360(*vulns: Any, **target: Any) -> str:
    return json.dumps(
        {
            "Generated": "25/06/2021 10:00 AM",
            "Target": {
                "Duration": "00:20:00.5",
                "Initiated": "25/06/2021 01:46 AM",
                "ScanId": "s",
                "Url": "http://php.example.com/",
                **target,
            },
            "Vulnerabilities": list(vulns),
        }
    )


# --- the corpus --------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(corpus_dir(FOLDER).iterdir())


def corpus_file(part: str) -> Path:
    (path,) = [p for p in corpus_files() if part in p.name]
    return path


@pytest.mark.corpus
def test_corpus_counts_by_hand_and_independently() -> None:
    expected = {
        "many_findings.xml": (4, 1),  # four items, one per alert on `/`; CSP informational
        "acunetix360_many_findings": (16, 0),
        "acunetix360_one_finding": (1, 0),
        "acunetix360_zero_finding": (0, 0),
        "issue_10370": (1, 0),
    }
    for part, (total, info) in expected.items():
        path = corpus_file(part)
        recs, ctx = parse_ctx(path)
        found = findings(recs)
        if path.suffix == ".xml":
            items = list(ET.parse(path).getroot().iter("ReportItem"))
            independent = {(i.findtext("Name"), i.findtext("Affects")) for i in items}
        else:
            vulns = json.loads(path.read_text())["Vulnerabilities"]
            independent = {(v["Type"], v["Url"].split("?")[0]) for v in vulns}
        assert len(found) == total == len(independent), part
        assert sum(f.weakness.severity is Severity.INFO for f in found) == info, part
        assert ctx.report.warning_count == 0 and ctx.report.skipped == 0, part
        assert len(coverage(recs)) == 1 and isinstance(recs[-1], Scan), part


@pytest.mark.corpus
def test_corpus_xml() -> None:
    recs = parse(corpus_file("many_findings.xml"))
    (cov,) = coverage(recs)
    # StartURL `www.itsecgames.com` has no scheme: the crawler's start URL gives it
    assert (cov.asset.kind, cov.asset.name, cov.checks) == (
        AssetKind.WEB_APP,
        "http://www.itsecgames.com",
        Checks.VULNERABILITY,
    )
    assert (cov.started_at, cov.ended_at) == (dt.datetime(2020, 2, 27, 12, 56, 9), dt.datetime(2020, 2, 27, 14, 52, 19))
    found = {f.weakness.vuln_id: f for f in findings(recs)}
    slow = found["Slow HTTP Denial of Service Attack"]
    assert (slow.weakness.severity, slow.path, slow.observed_at) == (
        Severity.MEDIUM,
        "/",
        dt.datetime(2020, 2, 27, 14, 52, 19),
    )
    assert (slow.weakness.cvss3_vector, slow.weakness.cvss3_score) == (
        "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L",
        5.3,
    )
    assert (slow.weakness.cvss2_vector, slow.weakness.cvss2_score) == ("AV:N/AC:L/Au:N/C:N/I:N/A:P", 5.0)
    assert found["Possible virtual host found"].weakness.cwes == ("200",)
    vhost = found["Possible virtual host found"].evidence or ""
    assert "beta.itsecgames.com" in vhost and "DOCTYPE" not in vhost  # the response in its details is not kept
    scan = recs[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.name) == ("Acunetix", "scan_name")


@pytest.mark.corpus
def test_corpus_360() -> None:
    path = corpus_file("acunetix360_many_findings")
    recs = parse(path)
    (cov,) = coverage(recs)
    assert (cov.asset.name, cov.started_at, cov.ended_at) == (
        "http://php.testsparker.com",
        dt.datetime(2021, 6, 25, 1, 46),
        dt.datetime(2021, 6, 25, 1, 58, 24),
    )
    found = {(f.weakness.vuln_id, f.path): f for f in findings(recs)}
    sqli = found[("ConfirmedBooleanSqlInjection", "/artist.php")]
    assert (sqli.weakness.tool, sqli.weakness.severity, sqli.weakness.cwes) == (
        "Acunetix 360",
        Severity.CRITICAL,
        ("89",),
    )
    assert sqli.weakness.cvss3_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"
    assert (sqli.observed_at, sqli.since) == (dt.datetime(2021, 6, 25, 2, 1), dt.datetime(2021, 6, 16, 12, 38))
    text = "\n".join(str(r) for r in recs)
    for vuln in json.loads(path.read_text())["Vulnerabilities"]:
        assert vuln["HttpResponse"]["Content"][:300] not in text
        assert vuln["HttpRequest"]["Content"][:300] not in text
    one = findings(parse(corpus_file("acunetix360_one_finding")))[0]
    assert one.observed_at == dt.datetime(2021, 6, 25, 9, 53)  # last seen before this scan began: seen at its start


@pytest.mark.corpus
def test_sniffs_claim_exactly_the_acunetix_folder() -> None:
    root = corpus_dir(FOLDER).parent
    claimed: dict[str, set[str]] = {"acunetix-xml": set(), "acunetix-360": set()}
    for path in sorted(root.glob("*/*")):
        with path.open("rb") as f:
            head = read_head(f)
        for parser in (AcunetixXmlParser(), Acunetix360Parser()):
            if parser.sniff(head):
                claimed[parser.id].add(path.relative_to(root).as_posix())
    mine = [p.relative_to(root).as_posix() for p in corpus_files()]
    assert claimed == {
        "acunetix-xml": {p for p in mine if p.endswith(".xml")},
        "acunetix-360": {p for p in mine if p.endswith(".json")},
    }


# --- hand-written XML ----------------------------------------------------------------------------


def test_items_of_one_alert_and_path_are_one_finding(tmp_path: Path) -> None:
    doc = xml_report(
        item(),
        item(Parameter="page", severity="medium"),
        item(affects="/search.php?x=1;jsessionid=abc", Parameter="x"),
        item(affects="/other.php"),
        item("Vulnerable server", affects="Web Server", severity="low"),
    )
    recs, ctx = parse_ctx(write(tmp_path, doc, "a.xml"))
    assert ctx.report.warning_count == 0
    (cov,) = coverage(recs)
    assert (cov.asset.name, cov.started_at, cov.ended_at) == (
        "https://app.example.com",
        dt.datetime(2026, 1, 5, 10),
        dt.datetime(2026, 1, 5, 11, 30),
    )
    found = {(f.weakness.vuln_id, f.path): f for f in findings(recs)}
    assert set(found) == {
        ("Cross site scripting", "/search.php"),
        ("Cross site scripting", "/other.php"),
        ("Vulnerable server", None),
    }
    xss = found[("Cross site scripting", "/search.php")]
    assert xss.evidence is not None and all(f"parameter: {p}" in xss.evidence for p in ("q", "page", "x"))
    assert xss.weakness.severity is Severity.HIGH and xss.weakness.cwes == ("79",)
    assert xss.weakness.cvss3_score == 5.4 and xss.weakness.cvss2_score == 4.3  # v3 computed from its vector
    assert xss.weakness.see_also == "OWASP: https://owasp.org/xss"
    assert xss.weakness.description == "XSS is bad.\n\nBad things." and xss.weakness.solution == "Escape output."
    assert found[("Vulnerable server", None)].evidence is not None
    assert "affects: Web Server" in (found[("Vulnerable server", None)].evidence or "")
    text = "\n".join(str(r) for r in recs)
    assert "topsecret" not in text and "secret-response" not in text and "token=zzz" not in text


@pytest.mark.parametrize(
    ("word", "severity", "warned"),
    [
        ("critical", Severity.CRITICAL, False),
        ("high", Severity.HIGH, False),
        ("medium", Severity.MEDIUM, False),
        ("low", Severity.LOW, False),
        ("informational", Severity.INFO, False),
        ("info", Severity.INFO, False),
        ("urgent!", Severity.MEDIUM, True),
    ],
)
def test_xml_severities(tmp_path: Path, word: str, severity: Severity, warned: bool) -> None:
    recs, ctx = parse_ctx(write(tmp_path, xml_report(item(severity=word)), "s.xml"))
    (f,) = findings(recs)
    assert f.weakness.severity is severity and (ctx.report.warning_count == 1) is warned


def test_false_positives_are_set_aside_and_an_open_item_wins(tmp_path: Path) -> None:
    doc = xml_report(
        item(IsFalsePositive="True"), item(affects="/b.php", IsFalsePositive="True"), item(affects="/b.php")
    )
    found = {f.path: f.status for f in findings(parse(write(tmp_path, doc, "fp.xml")))}
    assert found == {"/search.php": FindingStatus.SET_ASIDE, "/b.php": FindingStatus.OPEN}


def test_an_aborted_or_unresponsive_scan_covers_nothing(tmp_path: Path) -> None:
    for scan, warning in (({"Aborted": "True"}, "aborted"), ({"Responsive": "False"}, "did not respond")):
        recs, ctx = parse_ctx(write(tmp_path, xml_report(item(), **scan), "x.xml"))
        assert coverage(recs) == [] and len(findings(recs)) == 1
        assert any(warning in w for w in ctx.report.warnings)


def test_xml_dates(tmp_path: Path) -> None:
    assert read_time("27/02/2020, 12:56:09") == dt.datetime(2020, 2, 27, 12, 56, 9)
    assert read_time("05/01/2026, 10:00:00") == dt.datetime(2026, 1, 5, 10)  # day first
    assert read_time("25/06/2021 09:57 PM") == dt.datetime(2021, 6, 25, 21, 57)
    assert read_time("2021-06-25T01:02:03Z") == dt.datetime(2021, 6, 25, 1, 2, 3)
    assert read_time("tomorrow") is None
    recs, ctx = parse_ctx(write(tmp_path, xml_report(item(), StartTime="soon", FinishTime=""), "d.xml"))
    (f,) = findings(recs)
    assert f.observed_at == dt.datetime(2026, 1, 6, 8)  # the group's ExportedOn
    assert ctx.report.warnings == ["scan 1: StartTime 'soon' is not a date; dated by ExportedOn"]
    assert not ctx.report.used_file_time


def test_a_start_url_without_scheme_and_odd_items(tmp_path: Path) -> None:
    doc = xml_report(item(), item(name=""), item(affects="https://cdn.example.com/x.js"), start_url="app.example.com")
    doc = doc.replace('<Crawler StartUrl="https://app.example.com/">', "<Crawler>")
    recs, ctx = parse_ctx(write(tmp_path, doc, "o.xml"))
    assert ctx.report.skipped == 1 and coverage(recs) == []  # an item left out: the site closes nothing
    assert {(f.asset.name, f.path) for f in findings(recs)} == {
        ("http://app.example.com", "/search.php"),
        ("https://cdn.example.com", "/x.js"),
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('<?xml version="1.0"?><ScanGroup ExportedOn="x"></ScanGroup>', "no Scan element"),
        ('<?xml version="1.0"?><ScanGroup><Scan><ReportItems>', "not well-formed XML"),
        ('<?xml version="1.0"?><Other><Scan/></Other>', "no ScanGroup root"),
    ],
)
def test_xml_broken_structure_is_refused(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, content, "b.xml"))


# --- hand-written Acunetix 360 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "warned"),
    [
        ("Present", FindingStatus.OPEN, False),
        ("Revived", FindingStatus.OPEN, False),
        ("Present, AcceptedRisk", FindingStatus.SET_ASIDE, False),
        ("FalsePositive", FindingStatus.SET_ASIDE, False),
        ("Ignored", FindingStatus.SET_ASIDE, False),
        ("Fixed (Confirmed)", FindingStatus.FIXED, False),
        ("FixedUnconfirmed", FindingStatus.FIXED, False),
        ("Puzzling", FindingStatus.OPEN, True),
    ],
)
def test_360_states(tmp_path: Path, state: str, status: FindingStatus, warned: bool) -> None:
    recs, ctx = parse_ctx(write(tmp_path, report360(vuln360(State=state)), "s.json"))
    (f,) = findings(recs)
    assert f.status is status and (ctx.report.warning_count == 1) is warned
    end = dt.datetime(2021, 6, 25, 2, 6)
    assert f.observed_at == (end if status is FindingStatus.FIXED else dt.datetime(2021, 6, 25, 2, 1))


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("Critical", Severity.CRITICAL),
        ("High", Severity.HIGH),
        ("Medium", Severity.MEDIUM),
        ("Low", Severity.LOW),
        ("Information", Severity.INFO),
        ("BestPractice", Severity.INFO),
    ],
)
def test_360_severities(tmp_path: Path, word: str, severity: Severity) -> None:
    (f,) = findings(parse(write(tmp_path, report360(vuln360(Severity=word)), "v.json")))
    assert f.weakness.severity is severity


def test_360_identity_and_what_is_kept(tmp_path: Path) -> None:
    doc = report360(
        vuln360(), vuln360(url="http://php.example.com/a.php?id=2"), vuln360("Csp", "http://php.example.com/")
    )
    recs = parse(write(tmp_path, doc, "i.json"))
    found = {(f.weakness.vuln_id, f.path): f for f in findings(recs)}
    assert set(found) == {("BlindXss", "/a.php"), ("Csp", "/")}
    xss = found[("BlindXss", "/a.php")]
    assert (xss.weakness.cvss3_score, xss.weakness.cwes, xss.weakness.see_also) == (
        8.6,
        ("79",),
        "https://example.com/xss",
    )
    assert xss.evidence is not None and xss.evidence.count("parameter: id") == 2
    text = "\n".join(str(r) for r in recs)
    assert "topsecret" not in text and "body-secret" not in text


def test_360_streaming_reads_what_reading_whole_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = report360(vuln360(), "odd", vuln360("Csp", "http://php.example.com/"))
    path = write(tmp_path, doc + "\n" + report360(), "st.json")
    whole, whole_ctx = parse_ctx(path)
    monkeypatch.setattr(acunetix, "STREAM_FROM", 0)
    streamed, streamed_ctx = parse_ctx(path)
    assert [str(r) for r in streamed] == [str(r) for r in whole]
    warned = ["report 1, vulnerability 2: not an object; left out"]
    assert streamed_ctx.report.warnings == whole_ctx.report.warnings == warned


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"Generated": "x", "Target": {}}', "no `Vulnerabilities` list"),
        ('{"Generated": "x", "Target": {}, "Vulnerabilities": {}}', "no `Vulnerabilities` list"),
        ("[]", "no `Vulnerabilities` list"),
    ],
)
def test_360_broken_structure_is_refused(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, content, "b.json"))


# --- end to end --------------------------------------------------------------------------------


def test_xml_reimport_closes_reopens_and_never_closes_another_site(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(AcunetixXmlParser())

    def run(day: int, *items: str, site: str = "https://app.example.com") -> Any:
        doc = xml_report(
            *items, start_url=site, StartTime=f"{day:02d}/01/2026, 10:00:00", FinishTime=f"{day:02d}/01/2026, 11:00:00"
        )
        return import_file(engine, write(tmp_path, doc, f"{day}-{len(site)}.xml"))

    xss = item()
    sqli = item("SQL injection", "/login.php", "high")
    jan = run(5, xss, sqli)
    assert (jan.format, jan.new_findings, jan.items_opened, jan.assets_covered) == ("acunetix-xml", 2, 2, 1)
    other = run(6, site="https://other.example.com")  # another site: closes nothing here
    assert (other.fixed_findings, other.items_closed) == (0, 0)
    feb = run(7, xss, item("SQL injection", "/login.php", "high", IsFalsePositive="True"))
    assert (feb.set_aside, feb.fixed_findings) == (1, 0)  # set aside: still open
    mar = run(8, xss)
    assert (mar.fixed_findings, mar.items_closed) == (1, 1)
    apr = run(9, xss, sqli)
    assert (apr.new_findings, apr.items_opened) == (1, 1)  # its item had closed: a new item
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert sorted((i.source_identifier, i.status) for i in items) == [
        ("Cross site scripting", ItemStatus.OPEN),
        ("SQL injection", ItemStatus.CLOSED),
        ("SQL injection", ItemStatus.OPEN),
    ]


def test_360_fixed_state_closes(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(Acunetix360Parser())
    first = import_file(
        engine, write(tmp_path, report360(vuln360(), vuln360("Csp", "http://php.example.com/")), "1.json")
    )
    assert (first.format, first.new_findings) == ("acunetix-360", 2)
    later = report360(
        vuln360(State="Fixed (Confirmed)"),
        vuln360("Csp", "http://php.example.com/", LastSeenDate="30/06/2021 01:00 AM"),
        Initiated="30/06/2021 00:50 AM",
    )
    second = import_file(engine, write(tmp_path, later, "2.json"))
    assert (second.fixed_findings, second.items_closed) == (1, 1)


def test_entity_declarations_are_refused(tmp_path: Path) -> None:
    doc = xml_report(item()).replace(
        '<?xml version="1.0"?>', '<?xml version="1.0"?><!DOCTYPE ScanGroup [<!ENTITY x "expanded">]>'
    )
    with pytest.raises(InputError, match="XML entity declarations are not accepted"):
        parse(write(tmp_path, doc, "e.xml"))
