"""The Burp Suite issues export parser on hand-written exports and on the real files of the corpus."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import Coverage, Finding, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.burp import EVIDENCE_LIMIT, EXTENSION_TYPE, BurpXmlParser, export_time
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

EXPORT_TIME = "Sat Sep 13 22:39:44 CEST 2014"


def issue(
    type_id: str = "1049088",
    name: str = "SQL injection",
    host: str = "http://bwa",
    ip: str = "192.168.1.7",
    path: str = "/bodgeit/login.jsp",
    location: str | None = None,
    severity: str = "High",
    request: str | None = "POST /bodgeit/login.jsp HTTP/1.1\r\nHost: bwa\r\n\r\nuser=a",
    response: str | None = "HTTP/1.1 500 Internal Server Error\r\n\r\n<html>oops</html>",
    **extra: str,
) -> str:
    fields = {
        "serialNumber": "1234",
        "type": type_id,
        "name": name,
        "host": host,
        "path": path,
        "location": location or path,
        "severity": severity,
        "confidence": "Firm",
        "issueBackground": "<p>SQL injection <b>vulnerabilities</b> arise when...</p>",
        "remediationBackground": "<p>Use parameterized queries.</p>",
        "vulnerabilityClassifications": '<ul><li><a href="https://cwe.mitre.org/data/definitions/89.html">CWE-89: SQLi'
        "</a></li><li>CWE-94: Code</li></ul>",
        "issueDetail": "The <b>username</b> parameter appears to be vulnerable.",
        **extra,
    }
    out = ["<issue>"]
    for key, value in fields.items():
        if key == "host":
            out.append(f"<host ip={quoteattr(ip)}>{escape(value)}</host>")
        elif value is not None:
            out.append(f"<{key}><![CDATA[{value}]]></{key}>")
    if request is not None or response is not None:
        out.append("<requestresponse>")
        if request is not None:
            b64 = base64.b64encode(request.encode()).decode()
            out.append(f'<request method="POST" base64="true"><![CDATA[{b64}]]></request>')
        if response is not None:
            b64 = base64.b64encode(response.encode()).decode()
            out.append(f'<response base64="true"><![CDATA[{b64}]]></response>')
        out.append("<responseRedirected>false</responseRedirected></requestresponse>")
    out.append("</issue>")
    return "".join(out)


def export(*issues: str, attrs: str = f'burpVersion="2023.1" exportTime="{EXPORT_TIME}"') -> str:
    return '<?xml version="1.0"?>\n<!DOCTYPE issues [\n<!ELEMENT issues (issue*)>\n]>\n' + (
        f"<issues {attrs}>\n" + "\n".join(issues) + "\n</issues>"
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def parse(path: Path, ctx: ParseContext | None = None) -> list[object]:
    with path.open("rb") as f:
        return list(BurpXmlParser().parse(f, ctx or ParseContext(str(path))))


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def test_fields_of_an_issue(tmp_path: Path) -> None:
    recs = parse(write(tmp_path, "b.xml", export(issue(location="/bodgeit/login.jsp [username parameter]"))))
    (cov,) = [r for r in recs if isinstance(r, Coverage)]
    (f,) = findings(recs)
    w = f.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity, w.cwes) == (
        "Burp Suite",
        "1049088",
        "SQL injection",
        Severity.HIGH,
        ("89", "94"),
    )
    assert w.description == "SQL injection vulnerabilities arise when..." and w.solution == "Use parameterized queries."
    assert (f.asset.name, f.asset.ip, f.path, f.port) == ("http://bwa", "192.168.1.7", "/bodgeit/login.jsp", None)
    assert cov.asset is f.asset and not BurpXmlParser.closes_by_coverage
    assert f.evidence == (
        "/bodgeit/login.jsp [username parameter] | confidence: Firm | POST /bodgeit/login.jsp HTTP/1.1"
        " | HTTP/1.1 500 Internal Server Error\nThe username parameter appears to be vulnerable."
    )
    assert f.observed_at == dt.datetime(2014, 9, 13, 20, 39, 44)  # CEST is UTC+2
    scan = recs[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.tool_version) == ("Burp Suite", "2023.1")


def test_insertion_points_of_one_path_merge_into_one_finding(tmp_path: Path) -> None:
    text = export(
        issue(location="/login.jsp [username parameter]", path="/login.jsp", severity="Low"),
        issue(location="/login.jsp [password parameter]", path="/login.jsp?debug=1", severity="High"),
        issue(location="/basket.jsp [b_id cookie]", path="/basket.jsp", severity="Medium"),
        issue(type_id="5245344", name="Frameable response", severity="Information", path="/"),
    )
    fs = findings(parse(write(tmp_path, "b.xml", text)))
    got = {(f.weakness.vuln_id, f.path): f for f in fs}
    assert set(got) == {("1049088", "/login.jsp"), ("1049088", "/basket.jsp"), ("5245344", "/")}
    login = got[("1049088", "/login.jsp")]
    assert login.weakness.severity is Severity.HIGH  # the highest of the merged issues
    assert "[username parameter]" in (login.evidence or "") and "[password parameter]" in (login.evidence or "")
    assert got[("5245344", "/")].weakness.severity is Severity.INFO
    assert fs[0].weakness.severity is Severity.HIGH  # highest first: the stored definition of a type


def test_path_from_location_when_path_is_missing(tmp_path: Path) -> None:
    (f,) = findings(parse(write(tmp_path, "b.xml", export(issue(path="", location="/cart.php [id parameter]")))))
    assert f.path == "/cart.php" and "[id parameter]" in (f.evidence or "")


def test_extension_issues_are_told_apart_by_name(tmp_path: Path) -> None:
    text = export(
        issue(type_id=EXTENSION_TYPE, name="Content Sniffing  not disabled", severity="Low"),
        issue(type_id=EXTENSION_TYPE, name="Interesting Header(s)", severity="Low"),
    )
    ids = sorted(f.weakness.vuln_id for f in findings(parse(write(tmp_path, "b.xml", text))))
    assert ids == [f"{EXTENSION_TYPE}:Content Sniffing not disabled", f"{EXTENSION_TYPE}:Interesting Header(s)"]


def test_large_responses_are_never_kept(tmp_path: Path) -> None:
    body = "HTTP/1.1 200 OK\r\n\r\n" + "A" * 3_000_000
    many = [issue(location=f"/p [param{i}]", path="/p", response=body if i == 0 else None) for i in range(60)]
    (f,) = findings(parse(write(tmp_path, "b.xml", export(*many))))
    evidence = f.evidence or ""
    assert "HTTP/1.1 200 OK" in evidence and "AAAA" not in evidence
    assert len(evidence) < EVIDENCE_LIMIT + 100 and evidence.endswith("more issue(s)")


def parse_with(path: Path, **kwargs: object) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), **kwargs)  # type: ignore[arg-type]
    with path.open("rb") as f:
        return list(BurpXmlParser().parse(f, ctx)), ctx


def test_false_positives_are_skipped_and_unknown_severities_are_moderate(tmp_path: Path) -> None:
    fs = findings(parse(write(tmp_path, "b.xml", export(issue(severity="False positive"), issue(path="/x")))))
    assert [f.path for f in fs] == ["/x"]
    recs, ctx = parse_with(write(tmp_path, "c.xml", export(issue(severity="Severe"), issue(type_id="2", path="/y"))))
    assert [(f.weakness.vuln_id, f.weakness.severity) for f in findings(recs)] == [
        ("2", Severity.HIGH),
        ("1049088", Severity.MEDIUM),
    ]
    assert ctx.report.warnings == ["issue 1 (SQL injection): severity 'Severe' not recognised; rated Moderate"]


def test_issues_without_type_or_host_are_left_out_with_a_warning(tmp_path: Path) -> None:
    text = export(issue(type_id=""), issue(host=""), issue(path="/ok"))
    recs, ctx = parse_with(write(tmp_path, "b.xml", text))
    assert [f.path for f in findings(recs)] == ["/ok"] and ctx.report.skipped == 2
    assert ctx.report.warnings == [
        "issue 1 (SQL injection): no <type>; left out",
        "issue 2 (SQL injection): no <host>; left out",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed Jan 27 22:43:35 WIB 2021", dt.datetime(2021, 1, 27, 15, 43, 35)),
        ("Fri Apr 30 11:45:49 IST 2021", dt.datetime(2021, 4, 30, 6, 15, 49)),
        ("Mon Mar  3 08:00:00 EST 2025", dt.datetime(2025, 3, 3, 13, 0, 0)),
        ("Mon Mar 3 08:00:00 XYZT 2025", dt.datetime(2025, 3, 3, 8, 0, 0)),  # unknown zone: as UTC
        ("2025-03-03T08:00:00Z", dt.datetime(2025, 3, 3, 8, 0, 0)),
        ("someday", None),
    ],
)
def test_export_time(text: str, expected: dt.datetime | None) -> None:
    assert export_time(text) == expected


def test_dates_missing_or_unreadable(tmp_path: Path) -> None:
    p = write(tmp_path, "b.xml", export(issue(), attrs='burpVersion="1"'))
    recs, ctx = parse_with(p, file_time=dt.datetime(2026, 1, 2))
    (f,) = findings(recs)
    assert f.observed_at == dt.datetime(2026, 1, 2) and ctx.report.used_file_time and ctx.report.warnings == []
    bad = write(tmp_path, "c.xml", export(issue(), attrs='exportTime="soon"'))
    recs, ctx = parse_with(bad, file_time=dt.datetime(2026, 1, 2))
    assert findings(recs)[0].observed_at == dt.datetime(2026, 1, 2) and ctx.report.used_file_time
    assert ctx.report.warnings == ["export: exportTime 'soon' not readable; dated by the file's time"]
    recs, ctx = parse_with(bad, scan_date=dt.datetime(2026, 5, 1))
    assert findings(recs)[0].observed_at == dt.datetime(2026, 5, 1) and not ctx.report.used_file_time
    assert ctx.report.warnings == ["export: exportTime 'soon' not readable; dated by --scan-date"]
    dated = write(tmp_path, "d.xml", export(issue()))
    recs, ctx = parse_with(dated, file_time=dt.datetime(2026, 1, 2))
    assert findings(recs)[0].observed_at == dt.datetime(2014, 9, 13, 20, 39, 44) and not ctx.report.used_file_time
    empty = write(tmp_path, "e.xml", export(attrs='burpVersion="1"'))
    recs, ctx = parse_with(empty, file_time=dt.datetime(2026, 1, 2))
    assert len(recs) == 1 and not ctx.report.used_file_time  # nothing needed a date


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (export(issue(), issue())[:900], "not well-formed XML"),
        ("<report><issue/></report>", "no <issues> root"),
        (
            '<?xml version="1.0"?><!DOCTYPE issues [<!ENTITY x "y">]><issues burpVersion="1"></issues>',
            "entity declarations",
        ),
    ],
)
def test_bad_exports(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, "bad.xml", text))


def test_sniff_needs_burp_markers(tmp_path: Path) -> None:
    def head(text: str) -> Any:
        p = write(tmp_path, "h.xml", text)
        with p.open("rb") as f:
            return read_head(f)

    assert BurpXmlParser().sniff(head(export(issue())))
    assert not BurpXmlParser().sniff(head("<issues><issue><id>1</id></issue></issues>"))


# --- the real Burp files of the corpus ---------------------------------------------------------


def _independent_count(path: Path) -> tuple[dict[tuple[str, str, str], str], set[tuple[str, str]]]:
    """(vuln id, host, path) -> highest severity word, and the (host, ip) pairs, with plain lxml."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    order = ["Information", "Low", "Medium", "High"]
    out: dict[tuple[str, str, str], str] = {}
    hosts = set()
    for i in tree.iter("issue"):
        sev = i.findtext("severity")
        if sev == "False positive":
            continue
        t = i.findtext("type")
        vid = f"{t}:{' '.join(i.findtext('name').split())}" if t == "134217728" else t
        host = i.find("host")
        hosts.add((host.text, host.get("ip")))
        key = (vid, host.text, i.findtext("path").split("?")[0] or "/")
        out[key] = max(out.get(key, "Information"), sev, key=order.index)
    return out, hosts


_WORD = {Severity.INFO: "Information", Severity.LOW: "Low", Severity.MEDIUM: "Medium", Severity.HIGH: "High"}


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = sorted(corpus_dir("burp_xml").iterdir())
    assert len(files) >= 4
    for path in files:
        records = parse(path)
        expected, hosts = _independent_count(path)
        got = {(f.weakness.vuln_id, f.asset.name, f.path): _WORD[f.weakness.severity] for f in findings(records)}
        assert got == expected, path.name
        assert {(c.asset.name, c.asset.ip) for c in records if isinstance(c, Coverage)} == hosts, path.name
        assert isinstance(records[-1], Scan) and records[-1].started_at is not None, path.name


@pytest.mark.corpus
def test_corpus_cwes_and_times() -> None:
    folder = corpus_dir("burp_xml")
    (f,) = findings(parse(folder / "defectdojo__burp__one_finding_with_cwe.xml"))
    assert f.weakness.cwes == ("524", "525") and f.observed_at == dt.datetime(2021, 1, 27, 15, 43, 35)
    blank = findings(parse(folder / "defectdojo__burp__one_finding_with_blank_response.xml"))
    assert [g.weakness.vuln_id for g in blank] == ["1049088"] and "HTTP/1.1 500" not in (blank[0].evidence or "")


@pytest.mark.corpus
def test_sniff_claims_exactly_its_folder() -> None:
    corpus_dir("burp_xml")
    for path in sorted(CORPUS.glob("*/*")):
        if path.is_file():
            with path.open("rb") as f:
                assert BurpXmlParser().sniff(read_head(f)) is (path.parent.name == "burp_xml"), path


# --- end to end --------------------------------------------------------------------------------


def items_by_id(engine: Engine, system: str | None = None) -> dict[str, Any]:
    with engine.begin() as conn:
        return {i.source_identifier: i for i in load(conn, systems.resolve(conn, system, "t").id, "all")}


def test_an_export_never_closes_what_it_leaves_out(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(BurpXmlParser())
    jan = export(
        issue(location="/login.jsp [username parameter]", path="/login.jsp"),
        issue(location="/login.jsp [password parameter]", path="/login.jsp"),
        issue(type_id="2097920", name="Cross-site scripting (reflected)", path="/search", severity="High"),
        issue(type_id="5245344", name="Frameable response", path="/", severity="Information"),
        attrs='burpVersion="2023.1" exportTime="Mon Jan 05 10:00:00 UTC 2026"',
    )
    r = import_file(engine, write(tmp_path, "jan.xml", jan))
    assert (r.format, r.tool, r.results, r.informational, r.items_opened, r.assets_covered) == (
        "burp-xml",
        "Burp Suite",
        3,
        1,
        2,
        1,
    )
    items = items_by_id(engine)
    assert [a.text for a in items["1049088"].assets] == ["http://bwa/login.jsp"]
    # February's export lists only the XSS: the SQL injection stays open (an export is a selection).
    feb = export(
        issue(type_id="2097920", name="Cross-site scripting (reflected)", path="/search"),
        attrs='burpVersion="2023.1" exportTime="Thu Feb 05 10:00:00 UTC 2026"',
    )
    r2 = import_file(engine, write(tmp_path, "feb.xml", feb))
    assert (r2.fixed_findings, r2.items_closed) == (0, 0)
    items = items_by_id(engine)
    assert all(i.status is ItemStatus.OPEN for i in items.values())


@pytest.mark.corpus
def test_corpus_files_import_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(BurpXmlParser())
    for n, path in enumerate(sorted(corpus_dir("burp_xml").iterdir())):
        name = f"b{n}"
        systems.add_system(engine, name, "test")
        result = import_file(engine, path, system=name)
        counted, hosts = _independent_count(path)
        expected: dict[str, set[str]] = {}
        for (vid, host, p), sev in counted.items():
            if sev != "Information":
                expected.setdefault(vid, set()).add(host.rstrip("/") + p)
        items = items_by_id(engine, name)
        assert {k: {a.text for a in i.assets} for k, i in items.items()} == expected, path.name
        assert result.assets_covered == len(hosts) and result.fixed_findings == 0
