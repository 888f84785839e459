"""The Qualys WAS scan report parser on hand-written reports and on the corpus files."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.qualys_was_xml import EVIDENCE_LIMIT, QualysWasXmlParser
from poam.parsers.registry import read_head
from poam.services.importer import import_file
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_qualys_vm_xml import items_by_id

WHEN = "11 Mar 2020 01:07PM GMT-0400"
B64 = base64.b64encode(b"HTTP/1.1 200 OK\x07\nSet-Cookie: a=1").decode()

Register = Callable[..., None]


def vuln(qid: str = "150004", url: str = "https://app.example.com/search.jsp?q=1", extra: str = "") -> str:
    return (
        f"<VULNERABILITY><UNIQUE_ID>u-{qid}</UNIQUE_ID><ID>1</ID><DETECTION_ID>2</DETECTION_ID><QID>{qid}</QID>"
        f"<URL>{url}</URL><PARAM>q</PARAM><AJAX>false</AJAX><AUTHENTICATION>Not Required</AUTHENTICATION>"
        f"<DETECTION_DATE>{WHEN}</DETECTION_DATE><PAYLOADS><PAYLOAD><NUM>1</NUM><PAYLOAD>q=%3Cscript%3E</PAYLOAD>"
        f"<REQUEST><METHOD>GET</METHOD><URL>{url}</URL><HEADERS><HEADER><key>Host</key><value>x</value></HEADER>"
        f'</HEADERS></REQUEST><RESPONSE><CONTENTS base64="true">{B64}</CONTENTS></RESPONSE></PAYLOAD></PAYLOADS>'
        f"<IGNORED>false</IGNORED>{extra}</VULNERABILITY>"
    )


def qid(number: str, severity: str = "3", category: str = "Confirmed Vulnerability") -> str:
    return (
        f"<QID><QID>{number}</QID><CATEGORY>{category}</CATEGORY><SEVERITY>{severity}</SEVERITY>"
        f"<TITLE>Title {number}</TITLE><GROUP>XSS</GROUP><OWASP>A3</OWASP><WASC>WASC-8</WASC>"
        "<DESCRIPTION><![CDATA[Described<P>here]]></DESCRIPTION><IMPACT>Impact</IMPACT><SOLUTION>Escape</SOLUTION>"
        "<CWE>CWE-79</CWE><CVSS_BASE>4.3</CVSS_BASE><CVSS_V3><BASE>6.1</BASE><TEMPORAL>5.8</TEMPORAL></CVSS_V3></QID>"
    )


def scan(name: str = "Weekly WAS", status: str = "Finished", mode: str = "Vulnerability") -> str:
    return (
        f"<SCAN><NAME>{name}</NAME><REFERENCE>was/1</REFERENCE><START_DATE>{WHEN}</START_DATE>"
        f"<END_DATE>11 Mar 2020 01:42PM GMT-0400</END_DATE><MODE>{mode}</MODE><TYPE>Manual</TYPE>"
        "<WEB_APPLICATION>App</WEB_APPLICATION><SCANNER>External (Scanner: 11.8, WAS: 7.6.34-1)</SCANNER>"
        f"<STATUS>{status}</STATUS><AUTHENTICATION_STATUS>Successful</AUTHENTICATION_STATUS></SCAN>"
    )


def was(
    vulns: list[str],
    glossary: list[str],
    scans: list[str] | None = None,
    filters: tuple[str, ...] = ("REMEDIATION",),
    igs: str = "",
) -> str:
    filter_xml = "".join(f"<FILTER><NAME>{n}</NAME><VALUE>x</VALUE></FILTER>" for n in filters)
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n<WAS_SCAN_REPORT><HEADER><NAME>Scan Report</NAME>"
        "<GENERATION_DATETIME>01 Apr 2020 01:16PM GMT-0400</GENERATION_DATETIME></HEADER>"
        f"<FILTERS>{filter_xml}</FILTERS>"
        "<TARGET><SCAN>Weekly WAS target</SCAN></TARGET><SUMMARY><GLOBAL_SUMMARY><VULNERABILITY>1</VULNERABILITY>"
        f"</GLOBAL_SUMMARY></SUMMARY><RESULTS><VULNERABILITY_LIST>{''.join(vulns)}</VULNERABILITY_LIST>"
        f"<INFORMATION_GATHERED_LIST>{igs}</INFORMATION_GATHERED_LIST></RESULTS>"
        f"<GLOSSARY><QID_LIST>{''.join(glossary)}</QID_LIST></GLOSSARY>"
        f"<APPENDIX><SCAN_LIST>{''.join(scan() if scans is None else scans)}</SCAN_LIST>"
        "<WEBAPP><ID>1</ID><NAME>App</NAME><URL>https://app.example.com/</URL></WEBAPP></APPENDIX></WAS_SCAN_REPORT>"
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def parse(path: Path) -> list[object]:
    with path.open("rb") as f:
        return list(QualysWasXmlParser().parse(f, ParseContext(str(path))))


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[object]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def test_fields_of_a_vulnerability_and_the_coverage_of_its_web_app(tmp_path: Path) -> None:
    ig = "<INFORMATION_GATHERED><QID>6</QID><DATA base64='true'>eA==</DATA></INFORMATION_GATHERED>"
    recs = parse(
        write(tmp_path / "w.xml", was([vuln()], [qid("6", "1", "Information Gathered"), qid("150004")], igs=ig))
    )
    (f,) = findings(recs)  # information gathered is not a finding
    w = f.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity, w.family) == (
        "Qualys WAS",
        "150004",
        "Title 150004",
        Severity.MEDIUM,
        "XSS",
    )
    assert (w.cwes, w.cvss2_score, w.cvss3_score, w.solution) == (("79",), 4.3, 6.1, "Escape")
    assert w.description == "Described\n\nhere" and w.see_also == "OWASP: A3\nWASC: WASC-8"
    assert (f.asset.kind, f.asset.name, f.path, f.location) == (
        AssetKind.WEB_APP,
        "https://app.example.com",
        "/search.jsp",
        "/search.jsp",
    )
    assert f.observed_at == dt.datetime(2020, 3, 11, 17, 7) and f.status is FindingStatus.OPEN
    assert f.evidence is not None
    assert "Parameter: q" in f.evidence and "Request: GET https://app.example.com/search.jsp?q=1" in f.evidence
    assert "Response: HTTP/1.1 200 OK\nSet-Cookie: a=1" in f.evidence  # decoded, control character dropped
    (cov,) = coverage(recs)
    assert cov.asset is f.asset and cov.checks is Checks.VULNERABILITY and cov.authenticated is True
    assert (cov.started_at, cov.ended_at) == (dt.datetime(2020, 3, 11, 17, 7), dt.datetime(2020, 3, 11, 17, 42))
    scan_rec = recs[-1]
    assert isinstance(scan_rec, Scan)
    assert (scan_rec.tool, scan_rec.tool_version, scan_rec.name) == ("Qualys WAS", "7.6.34-1", "Weekly WAS target")


def test_evidence_is_capped_and_bad_base64_is_harmless(tmp_path: Path) -> None:
    huge = base64.b64encode(b"A" * 200_000).decode()
    extra = (
        '<PAYLOADS><PAYLOAD><RESPONSE><CONTENTS base64="true">!!!not*base64</CONTENTS></RESPONSE></PAYLOAD></PAYLOADS>'
    )
    text = was([vuln().replace(B64, huge), vuln("150005", extra=extra)], [qid("150004"), qid("150005")])
    big, odd = findings(parse(write(tmp_path / "w.xml", text)))
    assert big.evidence is not None and len(big.evidence) <= EVIDENCE_LIMIT + 10 and "AAAA" in big.evidence
    assert odd.evidence is not None


def test_severities_categories_status_and_missing_glossary(tmp_path: Path) -> None:
    text = was(
        [vuln("1"), vuln("2"), vuln("3", extra="<STATUS>FIXED</STATUS>"), vuln("4"), vuln("5")],
        [qid("1", "5"), qid("2", "1"), qid("3", "4"), qid("4", "2", "Information Gathered")],
    )
    urgent, minimal, fixed, ig, unknown = findings(parse(write(tmp_path / "w.xml", text)))
    assert (urgent.weakness.severity, minimal.weakness.severity) == (Severity.CRITICAL, Severity.LOW)
    assert fixed.status is FindingStatus.FIXED and fixed.weakness.severity is Severity.HIGH
    assert ig.weakness.severity is Severity.INFO
    assert (unknown.weakness.name, unknown.weakness.severity) == ("QID 5", Severity.MEDIUM)


@pytest.mark.parametrize(
    ("scans", "filters"),
    [
        ([scan(), scan("Other")], ("REMEDIATION",)),  # a report consolidating two scans
        ([scan(status="Canceled")], ("REMEDIATION",)),
        ([scan(mode="Discovery")], ("REMEDIATION",)),
        ([scan()], ("REMEDIATION", "SEVERITY")),  # findings selected by severity
    ],
)
def test_partial_reports_give_no_coverage(tmp_path: Path, scans: list[str], filters: tuple[str, ...]) -> None:
    recs = parse(write(tmp_path / "w.xml", was([vuln()], [qid("150004")], scans, filters)))
    assert coverage(recs) == [] and len(findings(recs)) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<WAS_SCAN_REPORT><HEADER/></WAS_SCAN_REPORT>", "without <RESULTS>"),
        (was([vuln()], [qid("150004")])[:-200], "not well-formed"),
    ],
)
def test_broken_structure_is_an_input_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path / "bad.xml", text))


def parse_with(path: Path, **kwargs: object) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), **kwargs)  # type: ignore[arg-type]
    with path.open("rb") as f:
        return list(QualysWasXmlParser().parse(f, ctx)), ctx


def test_odd_findings_are_read_past_with_a_warning(tmp_path: Path) -> None:
    no_url = vuln("150002").replace("<URL>https://app.example.com/search.jsp?q=1</URL><PARAM>", "<URL>x</URL><PARAM>")
    vulns = [vuln("x"), no_url, vuln("150003", extra="<STATUS>UNDER REVIEW</STATUS>"), vuln("150004"), vuln("150009")]
    text = was(vulns, [qid("150002"), qid("150003", "9"), qid("150004")]).replace(
        "<URL>https://app.example.com/</URL>", ""
    )
    recs, ctx = parse_with(write(tmp_path / "w.xml", text))
    assert [(f.weakness.vuln_id, f.weakness.severity, f.status) for f in findings(recs)] == [
        ("150003", Severity.MEDIUM, FindingStatus.OPEN),
        ("150004", Severity.MEDIUM, FindingStatus.OPEN),
        ("150009", Severity.MEDIUM, FindingStatus.OPEN),
    ]
    assert ctx.report.skipped == 2 and isinstance(recs[-1], Scan) and recs[-1].partial_checks == ("150002",)
    assert ctx.report.warnings == [
        "vulnerability 1 (QID x, line 2): no numeric QID; left out",
        "vulnerability 2 (QID 150002, line 2): no URL ('x'); left out",
        "vulnerability 3 (QID 150003, line 2): severity '9' not recognised; rated Moderate",
        "vulnerability 3 (QID 150003, line 2): status 'UNDER REVIEW' not recognised; kept open",
        "vulnerability 5 (QID 150009, line 2): QID not in the report's glossary: no title or level; rated Moderate",
    ]


def ignored(qid_: str = "150004", url: str = "https://app.example.com/search.jsp?q=1", extra: str = "") -> str:
    return vuln(qid_, url, extra).replace("<IGNORED>false</IGNORED>", "<IGNORED>true</IGNORED>")


def test_ignored_findings_are_set_aside_with_the_identity_of_an_open_one(tmp_path: Path) -> None:
    text = was([vuln(), ignored("150005")], [qid("150004"), qid("150005")])
    recs, ctx = parse_with(write(tmp_path / "w.xml", text))
    assert [(f.weakness.vuln_id, f.asset.name, f.path, f.status) for f in findings(recs)] == [
        ("150004", "https://app.example.com", "/search.jsp", FindingStatus.OPEN),
        ("150005", "https://app.example.com", "/search.jsp", FindingStatus.SET_ASIDE),
    ]
    assert ctx.report.warnings == [] and len(coverage(recs)) == 1
    scan_rec = recs[-1]
    assert isinstance(scan_rec, Scan) and scan_rec.partial_checks == ()  # other paths of 150005 may close


def test_a_status_that_sets_aside_is_set_aside_and_an_ignored_fixed_finding_is_fixed(tmp_path: Path) -> None:
    vulns = [
        vuln("150004", extra="<STATUS>IGNORED</STATUS>"),
        ignored("150005", extra="<STATUS>FIXED</STATUS>"),
        ignored("150006", extra="<STATUS>ACTIVE</STATUS>"),
    ]
    recs, ctx = parse_with(write(tmp_path / "w.xml", was(vulns, [qid("150004"), qid("150005"), qid("150006")])))
    assert [(f.weakness.vuln_id, f.status) for f in findings(recs)] == [
        ("150004", FindingStatus.SET_ASIDE),
        ("150005", FindingStatus.FIXED),
        ("150006", FindingStatus.SET_ASIDE),
    ]
    assert ctx.report.warnings == [
        "vulnerability 1 (QID 150004, line 2): status 'IGNORED' sets the finding aside; read as set aside"
    ]


def test_dates_of_findings(tmp_path: Path) -> None:
    undated = vuln().replace(f"<DETECTION_DATE>{WHEN}</DETECTION_DATE>", "")
    unscanned = was([undated], [qid("150004")], scans=[]).replace(
        "<GENERATION_DATETIME>01 Apr 2020 01:16PM GMT-0400</GENERATION_DATETIME>", ""
    )
    recs, ctx = parse_with(write(tmp_path / "u.xml", unscanned), file_time=dt.datetime(2026, 3, 3))
    (f,) = findings(recs)
    assert f.observed_at == dt.datetime(2026, 3, 3) and ctx.report.used_file_time and not coverage(recs)
    generated = was([undated], [qid("150004")], scans=[])
    recs, ctx = parse_with(write(tmp_path / "g.xml", generated), file_time=dt.datetime(2026, 3, 3))
    assert findings(recs)[0].observed_at == dt.datetime(2020, 4, 1, 17, 16) and not ctx.report.used_file_time
    recs, ctx = parse_with(write(tmp_path / "d.xml", was([vuln()], [qid("150004")])), file_time=dt.datetime(2026, 3, 3))
    assert findings(recs)[0].observed_at == dt.datetime(2020, 3, 11, 17, 7) and not ctx.report.used_file_time


# --- detection and the real files of the corpus -------------------------------------------------


@pytest.mark.corpus
def test_sniff_claims_exactly_the_qualys_was_files() -> None:
    folder = corpus_dir("qualys_was_xml")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if QualysWasXmlParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(folder.iterdir())


def independent_count(path: Path) -> tuple[dict[str, set[str]], set[str]]:
    """QID -> `origin path` of vulnerabilities whose glossary category is not Information Gathered,
    and the web app origins, by plain lxml."""
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    category = {q.findtext("QID"): q.findtext("CATEGORY") for q in tree.iterfind("GLOSSARY/QID_LIST/QID")}
    found: dict[str, set[str]] = {}
    for v in tree.iterfind("RESULTS/VULNERABILITY_LIST/VULNERABILITY"):
        if category[v.findtext("QID")] == "Information Gathered" or v.findtext("IGNORED") == "true":
            continue
        url = urlsplit(v.findtext("URL"))
        found.setdefault(v.findtext("QID"), set()).add(f"{url.scheme}://{url.netloc} {url.path or '/'}")
    apps = {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in tree.xpath("APPENDIX/WEBAPP/URL/text()")}
    return found, apps


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = sorted(corpus_dir("qualys_was_xml").iterdir())
    assert len(files) == 4
    for path in files:
        recs = parse(path)
        expected, apps = independent_count(path)
        got: dict[str, set[str]] = {}
        for f in findings(recs):
            if f.weakness.severity is not Severity.INFO and f.status is not FindingStatus.SET_ASIDE:
                got.setdefault(f.weakness.vuln_id, set()).add(f"{f.asset.name} {f.path}")
        assert got == expected, path.name
        assert {c.asset.name for c in coverage(recs)} == apps, path.name
        assert isinstance(recs[-1], Scan) and recs[-1].started_at is not None
    (f,) = findings(parse(corpus_dir("qualys_was_xml") / "defectdojo__qualys_webapp__discussion_10239.xml"))
    assert f.evidence is not None and "Evidence: malicious_code_action_evidence" in f.evidence


# --- end to end ----------------------------------------------------------------------------------


@pytest.mark.corpus
def test_corpus_report_imports_and_a_later_scan_fixes(
    engine: Engine, register_parser: Register, tmp_path: Path
) -> None:
    register_parser(QualysWasXmlParser())
    path = corpus_dir("qualys_was_xml") / "defectdojo__qualys_webapp__qualys_webapp_many_vuln.xml"
    r = import_file(engine, path)
    assert (r.format, r.tool, r.assets_covered) == ("qualys-was-xml", "Qualys WAS", 1)
    expected, _apps = independent_count(path)
    items = items_by_id(engine)
    assert {k: {a.text for a in i.assets} for k, i in items.items()} == {  # type: ignore[attr-defined]
        q: {t.replace(" ", "") for t in texts} for q, texts in expected.items()
    }
    later = was(
        [vuln("150085", "https://store.example.com/logon/themes/Default/resources/config.xml")],
        [qid("150085")],
        [scan().replace("2020", "2021")],
    ).replace("app.example.com", "store.example.com")
    r = import_file(engine, write(tmp_path / "later.xml", later))
    assert (r.new_findings, r.fixed_findings, r.items_closed) == (0, 3, 2)
    items = items_by_id(engine)
    assert items["150085"].status is ItemStatus.OPEN  # type: ignore[attr-defined]
    assert items["150004"].status is ItemStatus.CLOSED and items["150246"].status is ItemStatus.CLOSED  # type: ignore[attr-defined]


def test_an_ignored_finding_keeps_its_open_finding_open_until_a_scan_no_longer_shows_it(
    engine: Engine, register_parser: Register, tmp_path: Path
) -> None:
    """Ignoring a finding in Qualys WAS is a person's decision, not a fix: a covering scan that
    still reports it (ignored) closes nothing of it and opens nothing; one without it closes it."""
    register_parser(QualysWasXmlParser())
    glossary = [qid("150004"), qid("150005")]

    def report(year: str, *vulns: str) -> Path:
        return write(tmp_path / f"{year}.xml", was(list(vulns), glossary).replace("2020", year))

    first = import_file(engine, report("2021", vuln()))
    assert (first.assets_covered, first.new_findings, first.items_opened) == (1, 1, 1)
    aside = import_file(engine, report("2022", ignored()))
    assert (aside.results, aside.set_aside, aside.fixed_findings, aside.items_closed) == (1, 1, 0, 0)
    more = import_file(engine, report("2023", ignored(), ignored("150005")))  # never seen open: opens nothing
    assert (more.new_findings, more.items_opened, more.fixed_findings) == (0, 0, 0)
    items = items_by_id(engine)
    assert set(items) == {"150004"} and items["150004"].status is ItemStatus.OPEN  # type: ignore[attr-defined]
    gone = import_file(engine, report("2024"))
    assert (gone.fixed_findings, gone.items_closed) == (1, 1)
