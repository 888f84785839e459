"""The Tenable WAS XML and CSV parsers on hand-written reports and on the corpus files."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.nessus import NessusParser
from poam.parsers.registry import read_head
from poam.parsers.tenable_was import TenableWasCsvParser, TenableWasXmlParser, origin, page
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.builders import Host, Item, write_nessus
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_nessus_csv import peer_invalid

XSS = ("98104", 3, "Vulnerability has been detected on URL 'https://app.example.com/search.jsp?q=1' by exploiting")
CSP = ("112551", 1, "https://app.example.com/")
CERT = ("112491", 0, "Certificate 1\n--------------\nCommon Name: app.example.com")
CSV_HEADER = ["Plugin ID", "CVE", "CVSS", "CVSSv3", "Risk", "Host", "Protocol", "Port", "Name", "Synopsis"]
CSV_HEADER += ["Description", "Solution", "See Also", "Plugin Output"]
RISK = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}


def was_xml(
    path: Path,
    items: list[tuple[str, int, str]],
    host: str = "https://app.example.com/",
    start: str | None = "2026-03-12T12:34:30.12031+00:00",
) -> Path:
    props = '<tag name="system-type">web_application</tag>'
    if start:
        props += f'<tag name="HOST_START">{start}</tag><tag name="HOST_END">2026-03-12T14:00:00+00:00</tag>'
    body = "".join(
        f'<ReportItem pluginFamily="Web Applications" pluginName="Check {pid}" pluginID="{pid}" severity="{sev}"'
        f' protocol="TCP" svc_name="www" port="443"><plugin_output>{escape(out)}</plugin_output>'
        f"<risk_factor>{RISK[sev]}</risk_factor><cvss>5.0</cvss><cvssv3>6.1</cvssv3><xref>CWE:79</xref>"
        f"<see_also>https://owasp.org/a</see_also><see_also>https://owasp.org/b</see_also></ReportItem>"
        for pid, sev, out in items
    )
    path.write_text(
        '<?xml version="1.0" ?><NessusClientData_v2><Policy><policyName></policyName></Policy>'
        f'<Report name="app scan" type="was"><ReportHost name={quoteattr(host)}><HostProperties>{props}'
        f"</HostProperties>{body}</ReportHost></Report></NessusClientData_v2>"
    )
    return path


def was_csv(path: Path, items: list[tuple[str, int, str]], host: str = "app.example.com", proto: str = "https") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        for pid, sev, out in items:
            cells = {"Plugin ID": pid, "Risk": RISK[sev], "Host": host, "Protocol": proto, "Name": f"Check {pid}"}
            w.writerow([cells.get(h, out if h == "Plugin Output" else "") for h in CSV_HEADER])
    return path


def parse(path: Path, scan_date: dt.datetime | None = None) -> list[object]:
    parser = TenableWasXmlParser() if path.suffix == ".xml" else TenableWasCsvParser()
    with path.open("rb") as f:
        return list(parser.parse(f, ParseContext(str(path), scan_date=scan_date)))


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def test_xml_findings_are_web_app_pages(tmp_path: Path) -> None:
    records = parse(was_xml(tmp_path / "a.xml", [XSS, CSP, CERT]))
    (cov,) = [r for r in records if isinstance(r, Coverage)]
    assert cov.asset.kind is AssetKind.WEB_APP and cov.asset.name == "https://app.example.com"
    assert (cov.started_at, cov.ended_at) == (dt.datetime(2026, 3, 12, 12, 34, 30), dt.datetime(2026, 3, 12, 14))
    found = findings(records)
    assert [(f.weakness.vuln_id, f.weakness.severity, f.path, f.port) for f in found] == [
        ("98104", Severity.HIGH, "/search.jsp", None),
        ("112551", Severity.LOW, "/", None),
        ("112491", Severity.INFO, None, None),  # no URL in the output: the whole application
    ]
    w = found[0].weakness
    assert (w.tool, w.family, w.cwes, w.cvss2_score, w.cvss3_score) == (
        "Tenable WAS",
        "Web Applications",
        ("79",),
        5.0,
        6.1,
    )
    assert w.see_also == "https://owasp.org/a\nhttps://owasp.org/b"
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.name) == ("Tenable WAS", "app scan")


def test_xml_time_from_scan_information_or_fallback(tmp_path: Path) -> None:
    info = ("98000", 0, "Scan Information\nScan Start Date : 2026-04-01 08:00:00 UTC\nDuration: 10 min")
    records = parse(was_xml(tmp_path / "i.xml", [XSS, info], start=None))
    assert {f.observed_at for f in findings(records)} == {dt.datetime(2026, 4, 1, 8)}
    given = dt.datetime(2026, 5, 1)
    records = parse(was_xml(tmp_path / "n.xml", [XSS], start=None), scan_date=given)
    assert {f.observed_at for f in findings(records)} == {given}


def test_urls_and_origins() -> None:
    assert page("see http://app.example.com:80/a/b?x=1#f.", "http://app.example.com") == "/a/b"
    assert page("redirected to https://login.example.com/sso?t=1", "https://app.example.com") == (
        "https://login.example.com/sso"
    )
    assert page("no url here", "https://app.example.com") is None
    assert origin("app.example.com", "http", "") == "http://app.example.com"
    assert origin("app.example.com", "https", "8443") == "https://app.example.com:8443"
    assert origin("HTTPS://App.Example.com:443/x") == "https://app.example.com"


def test_csv_rows_and_coverage_by_informational_rows(tmp_path: Path) -> None:
    records = parse(was_csv(tmp_path / "a.csv", [XSS, CSP, CERT]), scan_date=dt.datetime(2026, 3, 1))
    (cov,) = [r for r in records if isinstance(r, Coverage)]
    assert cov.asset.name == "https://app.example.com" and cov.started_at == dt.datetime(2026, 3, 1)
    assert [(f.weakness.vuln_id, f.path) for f in findings(records)] == [
        ("98104", "/search.jsp"),
        ("112551", "/"),
        ("112491", None),
    ]
    filtered = parse(was_csv(tmp_path / "f.csv", [XSS]))
    assert not [r for r in filtered if isinstance(r, Coverage)]


FILE_TIME = dt.datetime(2026, 3, 20, 9, 0)


def parse_ctx(path: Path) -> tuple[list[object], ParseContext]:
    parser = TenableWasXmlParser() if path.suffix == ".xml" else TenableWasCsvParser()
    ctx = ParseContext(str(path), file_time=FILE_TIME)
    with path.open("rb") as f:
        return list(parser.parse(f, ctx)), ctx


def test_broken_xml_is_still_refused(tmp_path: Path) -> None:
    text = was_xml(tmp_path / "x.xml", [XSS, CSP]).read_text()
    cut = tmp_path / "cut.xml"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="not well-formed XML"):
        parse(cut)


def test_odd_xml_items_are_warned_and_the_others_import(tmp_path: Path) -> None:
    # a pluginID that is no number once refused the whole file
    path = was_xml(tmp_path / "p.xml", [("abc", 1, "x"), XSS, ("98105", 3, "y")])
    path.write_text(path.read_text().replace('pluginID="98105" severity="3"', 'pluginID="98105" severity="9"'))
    path.write_text(path.read_text().replace("<risk_factor>high</risk_factor>", "", 2))
    records, ctx = parse_ctx(path)
    assert [(f.weakness.vuln_id, f.weakness.severity) for f in findings(records)] == [
        ("98104", Severity.HIGH),
        ("98105", Severity.MEDIUM),
    ]
    assert [w.split(": ", 1)[1] for w in ctx.report.warnings] == [
        "pluginID 'abc' is not a plugin number; left out",
        "severity '9' not recognised; rated Moderate",
    ]
    assert ctx.report.warnings[0].startswith("ReportItem on https://app.example.com (line ")


def test_a_report_host_that_names_no_web_application_is_left_out(tmp_path: Path) -> None:
    path = was_xml(tmp_path / "h.xml", [XSS])
    text = path.read_text()
    host = text.replace('<ReportHost name="https://app.example.com/">', '<ReportHost name="">', 1)
    host = host.replace('svc_name="www" port="443"', 'svc_name="" port=""')
    body = host[host.index("<ReportHost") : host.index("</Report>")]
    path.write_text(text.replace("</Report>", body + "</Report>"))  # a second, nameless host
    records, ctx = parse_ctx(path)
    assert {f.asset.name for f in findings(records)} == {"https://app.example.com"}
    assert ctx.report.skipped == 1 and "names no web application; left out" in ctx.report.warnings[0]


def test_odd_csv_rows_are_warned_and_the_others_import(tmp_path: Path) -> None:
    path = was_csv(tmp_path / "p.csv", [("98x", 1, "x"), XSS, CSP])
    text = path.read_text().replace("112551,,,,low,app.example.com", "112551,,,,low,", 1)
    path.write_text(text)
    records, ctx = parse_ctx(path)
    assert [f.weakness.vuln_id for f in findings(records)] == ["98104"]
    assert ctx.report.warnings == [
        "row 1: Plugin ID '98x' is not a plugin number; left out",
        "row 3: the Host cell is empty; left out",
    ]


def test_undated_reports_take_the_file_time_and_dated_ones_do_not(tmp_path: Path) -> None:
    records, ctx = parse_ctx(was_xml(tmp_path / "n.xml", [XSS], start=None))
    assert {f.observed_at for f in findings(records)} == {FILE_TIME} and ctx.report.used_file_time
    records, ctx = parse_ctx(was_xml(tmp_path / "d.xml", [XSS]))
    assert {f.observed_at for f in findings(records)} == {dt.datetime(2026, 3, 12, 12, 34, 30)}
    assert not ctx.report.used_file_time
    records, ctx = parse_ctx(was_csv(tmp_path / "c.csv", [XSS]))  # the CSV export has no dates
    assert {f.observed_at for f in findings(records)} == {FILE_TIME} and ctx.report.used_file_time
    info = ("98000", 0, "Scan Information\nScan Start Date : 2026-04-01 08:00:00 UTC")
    records, ctx = parse_ctx(was_csv(tmp_path / "i.csv", [XSS, info]))
    assert {f.observed_at for f in findings(records)} == {dt.datetime(2026, 4, 1, 8)}
    assert not ctx.report.used_file_time


def test_nessus_and_was_sniffs_tell_the_envelopes_apart(tmp_path: Path) -> None:
    def heads(path: Path) -> tuple[bool, bool]:
        with path.open("rb") as f:
            head = read_head(f)
        return NessusParser().sniff(head), TenableWasXmlParser().sniff(head)

    assert heads(was_xml(tmp_path / "w.xml", [XSS])) == (False, True)
    assert heads(write_nessus(tmp_path / "n.nessus", [Host("web01", ip="10.0.0.1", items=[Item("1")])])) == (
        True,
        False,
    )
    untyped = was_xml(tmp_path / "u.xml", [XSS])
    untyped.write_text(untyped.read_text().replace(' type="was"', "").replace("web_application", "webapp"))
    assert heads(untyped) == (False, True)  # still a URL host


# --- end to end ---------------------------------------------------------------------------------


def items_of(engine: Engine) -> dict[str, tuple[ItemStatus, list[str]]]:
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, None, "t").id, "all")
    return {i.source_identifier: (i.status, sorted(a.text for a in i.assets)) for i in found}


def test_import_xml_then_csv_then_a_later_xml_fixes(engine: Engine, register_parser: object, tmp_path: Path) -> None:
    register_parser(TenableWasXmlParser(), TenableWasCsvParser())  # type: ignore[operator]
    r = import_file(engine, was_xml(tmp_path / "mar.xml", [XSS, CSP, CERT]))
    assert (r.format, r.tool, r.assets_covered, r.items_opened) == ("tenable-was", "Tenable WAS", 1, 2)
    assert items_of(engine) == {
        "98104": (ItemStatus.OPEN, ["https://app.example.com/search.jsp"]),
        "112551": (ItemStatus.OPEN, ["https://app.example.com/"]),
    }
    # the CSV export of the same scan feeds the same findings
    r = import_file(engine, was_csv(tmp_path / "mar.csv", [XSS, CSP, CERT]), scan_date=dt.datetime(2026, 3, 12, 13))
    assert (r.format, r.new_findings, r.fixed_findings, r.items_opened) == ("tenable-was-csv", 0, 0, 0)
    # April: the page no longer has the XSS
    april = was_xml(tmp_path / "apr.xml", [CSP, CERT], start="2026-04-12T12:00:00Z")
    r = import_file(engine, april)
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    assert items_of(engine)["98104"][0] is ItemStatus.CLOSED
    assert items_of(engine)["112551"][0] is ItemStatus.OPEN


# --- the real files of the corpus ------------------------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("tenable_was").iterdir())


def _expected_page(output: str, site: str) -> str:
    """`site` plus the path of the first http(s) URL of an output, read with urllib."""
    for token in re.split(r"[\s'\"]+", output):
        if token.startswith(("http://", "https://")):
            parts = urlsplit(token)
            return site + (parts.path or "/") if f"{parts.scheme}://{parts.netloc}" == site else token
    return site


def independent(path: Path) -> tuple[dict[str, set[str]], set[str]]:
    """Plugin id -> affected URL of non-informational results, and the covered applications."""
    plugins: dict[str, set[str]] = {}
    covered: set[str] = set()
    if path.suffix == ".xml":
        tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
        for host in tree.iter("ReportHost"):
            split = urlsplit(host.get("name") or "")
            site = f"{split.scheme}://{split.netloc}"
            covered.add(site)
            for item in host.iter("ReportItem"):
                if item.get("severity") != "0":
                    output = item.findtext("plugin_output") or ""
                    plugins.setdefault(item.get("pluginID") or "", set()).add(_expected_page(output, site))
        return plugins, covered
    with path.open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if not r["Plugin ID"]:
                continue
            site = f"{r['Protocol']}://{r['Host']}"
            if r["Risk"] == "info":
                covered.add(site)
                continue
            plugins.setdefault(r["Plugin ID"], set()).add(_expected_page(r["Plugin Output"], site))
    return plugins, covered


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 4
    for path in files:
        if path.name in peer_invalid("tenable_was"):
            with pytest.raises(InputError):
                parse(path)
            continue
        records = parse(path)
        expected, covered = independent(path)
        got: dict[str, set[str]] = {}
        for f in findings(records):
            assert f.weakness.tool == "Tenable WAS" and f.asset.kind is AssetKind.WEB_APP
            if f.weakness.severity is not Severity.INFO:
                got.setdefault(f.weakness.vuln_id, set()).add((f.asset.name or "") + (f.path or ""))
        assert got == expected, path.name
        assert {c.asset.name for c in records if isinstance(c, Coverage)} == covered, path.name
        assert isinstance(records[-1], Scan)


@pytest.mark.corpus
def test_corpus_xml_time_is_host_start() -> None:
    records = parse(corpus_dir("tenable_was") / "defectdojo__tenable__nessus_was_many_vuln.xml")
    assert {f.observed_at for f in findings(records)} == {dt.datetime(2021, 3, 12, 12, 34, 30)}


@pytest.mark.corpus
def test_sniffs_claim_exactly_the_tenable_was_folder_and_nessus_keeps_its_own() -> None:
    folder = corpus_dir("tenable_was")
    claimed: dict[str, set[Path]] = {"xml": set(), "csv": set(), "nessus": set()}
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            head = read_head(f)
        for key, parser in (("xml", TenableWasXmlParser()), ("csv", TenableWasCsvParser()), ("nessus", NessusParser())):
            if parser.sniff(head):
                claimed[key].add(path)
    assert claimed["xml"] == set(folder.glob("*.xml"))
    assert claimed["csv"] == set(folder.glob("*.csv"))
    nessus_xml = CORPUS / "nessus_xml"
    if nessus_xml.is_dir():
        assert claimed["nessus"] == set(nessus_xml.iterdir())


@pytest.mark.corpus
def test_corpus_files_import_with_the_right_items(engine: Engine, register_parser: object) -> None:
    register_parser(TenableWasXmlParser(), TenableWasCsvParser())  # type: ignore[operator]
    for n, path in enumerate(corpus_files()):
        name = f"s{n}"
        systems.add_system(engine, name, "test")
        result = import_file(engine, path, system=name)
        expected, covered = independent(path)
        with engine.begin() as conn:
            items = load(conn, systems.resolve(conn, name, "t").id, "all")
        assert {i.source_identifier: {a.text for a in i.assets} for i in items} == expected, path.name
        assert result.assets_covered == len(covered) and result.tool == "Tenable WAS"
