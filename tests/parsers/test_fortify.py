"""The Fortify parsers (FPR, bare FVDL, report XML) on hand-written files and on the corpus."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers import fortify
from poam.parsers.base import ParseContext
from poam.parsers.fortify import FortifyFprParser, FortifyFvdlParser
from poam.parsers.fortify_report import FortifyReportXmlParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

WHEN = dt.datetime(2026, 3, 1, 12, 0)
NS = "xmlns://www.fortifysoftware.com/schema/fvdl"
SQLI = "SQLI-0000-0000-0000-000000000001"
XSS = "XSS-0000-0000-0000-000000000002"
LOG = "LOG-0000-0000-0000-000000000003"


# --- builders --------------------------------------------------------------------------------


def vuln(
    class_id: str = SQLI,
    path: str = "src/db.java",
    line: int = 10,
    iid: str = "I1",
    confidence: str = "5.0",
    severity: str = "4.0",
    kind: str = "SQL Injection",
    subtype: str = "",
    ref: str | None = None,
) -> str:
    location = (
        f'<NodeRef id="{ref}"/>'
        if ref
        else f'<Node isDefault="true"><SourceLocation path="{path}" line="{line}" lineEnd="{line}"/></Node>'
    )
    return (
        f"<Vulnerability><ClassInfo><ClassID>{class_id}</ClassID><Kingdom>Input Validation</Kingdom>"
        f"<Type>{kind}</Type>{f'<Subtype>{subtype}</Subtype>' if subtype else ''}<AnalyzerName>dataflow</AnalyzerName>"
        f"<DefaultSeverity>{severity}</DefaultSeverity></ClassInfo>"
        f"<InstanceInfo><InstanceID>{iid}</InstanceID><InstanceSeverity>{severity}</InstanceSeverity>"
        f"<Confidence>{confidence}</Confidence></InstanceInfo>"
        f"<AnalysisInfo><Unified><Context/><Trace><Primary><Entry>{location}</Entry></Primary></Trace></Unified>"
        "</AnalysisInfo></Vulnerability>"
    )


def rule(class_id: str = SQLI, impact: str = "5.0", accuracy: str = "5.0", probability: str = "5.0") -> str:
    groups = {
        "Impact": impact,
        "Accuracy": accuracy,
        "Probability": probability,
        "altcategoryCWE": "CWE ID 89, CWE ID 564",
        "altcategoryDISACCI2": "CCI-001310,CCI-002754",
    }
    meta = "".join(f'<Group name="{k}">{v}</Group>' for k, v in groups.items() if v)
    return f'<Rule id="{class_id}"><MetaInfo>{meta}</MetaInfo></Rule>'


def fvdl(
    *vulns: str,
    rules: tuple[str, ...] = (),
    build: str | None = "web",
    created: str | None = '<CreatedTS date="2026-01-05" time="10:00:00"/>',
    write_date: str | None = '<WriteDate date="2026-01-05" time="10:00:00.123+02:00"/>',
    pool: str = "",
    base: str = "/home/ci/web",
) -> str:
    build_xml = f"<BuildID>{build}</BuildID>" if build else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<FVDL xmlns="{NS}" version="1.12">{created or ""}{write_date or ""}'
        f"<UUID>u</UUID><Build>{build_xml}<SourceBasePath>{base}</SourceBasePath></Build>"
        f"<Vulnerabilities>{''.join(vulns)}</Vulnerabilities>"
        f"{f'<UnifiedNodePool>{pool}</UnifiedNodePool>' if pool else ''}"
        f'<Description classID="{SQLI}"><Abstract>&lt;Content&gt;Bad &lt;b&gt;SQL&lt;/b&gt;.&lt;/Content&gt;</Abstract>'
        "<Explanation>&lt;Content&gt;Long story.&lt;/Content&gt;</Explanation>"
        "<Recommendations>&lt;Content&gt;Use bind variables.&lt;/Content&gt;</Recommendations>"
        "<References><Reference><Title>OWASP SQLi</Title></Reference></References></Description>"
        "<Snippets><Snippet id='s1'><Text>password = 'hunter2'</Text></Snippet></Snippets>"
        f"<EngineData><EngineVersion>24.2.0</EngineVersion><RuleInfo>{''.join(rules)}</RuleInfo></EngineData></FVDL>"
    )


def audit(*issues: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ns2:Audit xmlns:ns2="xmlns://www.fortify.com/schema/audit">'
        f"<ns2:ProjectInfo><ns2:Name>x.fpr</ns2:Name></ns2:ProjectInfo><ns2:IssueList>{''.join(issues)}"
        "</ns2:IssueList></ns2:Audit>"
    )


def issue(iid: str, suppressed: bool = False, analysis: str | None = None) -> str:
    tag = f'<ns2:Tag id="{fortify.ANALYSIS_TAG}"><ns2:Value>{analysis}</ns2:Value></ns2:Tag>' if analysis else ""
    flag = ' suppressed="true"' if suppressed else ""
    return f'<ns2:Issue instanceId="{iid}"{flag} revision="0">{tag}</ns2:Issue>'


def fpr(
    tmp_path: Path,
    fvdl_text: str,
    audit_text: str | None = None,
    name: str = "scan.fpr",
    extra: dict[str, bytes] | None = None,
) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("audit.fvdl", fvdl_text)
        if audit_text is not None:
            z.writestr("audit.xml", audit_text)
        z.writestr("VERSION", "24.2")
        for member, data in (extra or {}).items():
            z.writestr(member, data)
    return path


def write(tmp_path: Path, text: str, name: str = "audit.fvdl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def parsed(parser: Any, path: Path, **ctx: Any) -> tuple[list[Any], ParseContext]:
    context = ParseContext(str(path), **ctx)
    with path.open("rb") as f:
        return list(parser.parse(f, context)), context


def parse(parser: Any, path: Path, **ctx: Any) -> list[Any]:
    return parsed(parser, path, **ctx)[0]


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


# --- FVDL -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("impact", "accuracy", "probability", "confidence", "severity"),
    [
        ("5.0", "5.0", "5.0", "5.0", Severity.CRITICAL),  # likelihood 5
        ("2.5", "2.5", "5.0", "5.0", Severity.CRITICAL),  # likelihood 2.5 x 5 x 5 / 25 = 2.5
        ("4.0", "3.0", "4.0", "5.0", Severity.HIGH),  # likelihood 2.4 (Hardcoded Password)
        ("2.0", "4.0", "4.0", "5.0", Severity.MEDIUM),  # likelihood 3.2
        ("2.0", "1.0", "3.0", "5.0", Severity.LOW),  # likelihood 0.6 (Password in Comment)
        ("2.4", "5.0", "5.0", "2.4", Severity.LOW),  # likelihood 2.4 x 5 x 5 / 25 = 2.4
    ],
)
def test_fortify_priority_order_from_rule_metadata_and_confidence(
    tmp_path: Path, impact: str, accuracy: str, probability: str, confidence: str, severity: Severity
) -> None:
    text = fvdl(vuln(confidence=confidence), rules=(rule(impact=impact, accuracy=accuracy, probability=probability),))
    recs, ctx = parsed(FortifyFvdlParser(), write(tmp_path, text))
    (f,) = findings(recs)
    assert f.weakness.severity is severity
    assert ctx.report.warnings == []


def test_without_rule_metadata_the_instance_severity_and_confidence_rate_it(tmp_path: Path) -> None:
    text = fvdl(vuln(severity="3.0", confidence="2.0"), vuln(XSS, severity="", confidence=""))
    recs, ctx = parsed(FortifyFvdlParser(), write(tmp_path, text))
    got = {f.weakness.vuln_id: f.weakness.severity for f in findings(recs)}
    assert got == {SQLI: Severity.HIGH, XSS: Severity.MEDIUM}
    assert ctx.report.warnings == [
        "vulnerability 2 (XSS-0000-0000-0000-000000000002): severity missing not recognised; rated Moderate",
        "file: 1 rule(s) without Impact/Accuracy/Probability metadata: "
        "their priority is taken from InstanceSeverity and Confidence",
    ]


def test_instances_of_one_rule_in_one_file_are_one_finding(tmp_path: Path) -> None:
    text = fvdl(
        vuln(path="src/db.java", line=10, iid="I1"),
        vuln(path="/home/ci/web/src/db.java", line=30, iid="I2", confidence="1.0"),
        vuln(path="src\\other.java", line=5, iid="I3"),
        rules=(rule(),),
    )
    recs = parse(FortifyFvdlParser(), write(tmp_path, text))
    assert [type(r) for r in recs] == [Coverage, Finding, Finding, Scan]
    first, second = findings(recs)
    assert (first.path, second.path) == ("src/db.java", "src/other.java")
    assert first.evidence == "Line 10: instance I1\nLine 30: instance I2"
    w = first.weakness
    assert (w.tool, w.vuln_id, w.name, w.family, w.severity) == (
        "Fortify SCA",
        SQLI,
        "SQL Injection",
        "Input Validation",
        Severity.CRITICAL,  # the highest of its instances (I2: likelihood 1.0, High)
    )
    assert w.cwes == ("89", "564") and w.ccis == ("CCI-001310", "CCI-002754") and w.controls == ()
    assert (w.synopsis, w.description, w.solution, w.see_also) == (
        "Bad SQL.",
        "Long story.",
        "Use bind variables.",
        "OWASP SQLi",
    )
    assert first.asset.kind is AssetKind.REPOSITORY and first.asset.name == "web"
    assert "hunter2" not in repr(recs)  # snippets are never read
    scan = recs[-1]
    assert (scan.tool, scan.tool_version, scan.name) == ("Fortify SCA", "24.2.0", "web")


def test_a_default_node_in_the_node_pool_is_found(tmp_path: Path) -> None:
    pool = (
        '<Node id="7"><SourceLocation path="src/a.java" line="3"/></Node>'
        '<Node id="8" isDefault="true"><SourceLocation path="src/sink.java" line="44"/></Node>'
    )
    text = fvdl(vuln(ref="7").replace("</Entry>", '</Entry><Entry><NodeRef id="8"/></Entry>'), pool=pool)
    (f,) = findings(parse(FortifyFvdlParser(), write(tmp_path, text)))
    assert (f.path, f.evidence) == ("src/sink.java", "Line 44: instance I1")


def test_dates_asset_and_coverage(tmp_path: Path) -> None:
    recs = parse(FortifyFvdlParser(), write(tmp_path, fvdl(vuln(), rules=(rule(),))))
    (cov,) = coverage(recs)
    assert cov.started_at == dt.datetime(2026, 1, 5, 8, 0)  # 10:00 at +02:00, as WriteDate says
    assert findings(recs)[0].observed_at == cov.started_at
    recs = parse(FortifyFvdlParser(), write(tmp_path, fvdl(vuln(), write_date=None)))
    assert coverage(recs)[0].started_at == dt.datetime(2026, 1, 5, 10, 0)
    undated, ctx = parsed(
        FortifyFvdlParser(), write(tmp_path, fvdl(vuln(), created=None, write_date=None)), scan_date=WHEN
    )
    assert findings(undated)[0].observed_at == WHEN and not ctx.report.used_file_time
    mtime = dt.datetime(2026, 2, 2, 2, 2)
    _recs, ctx = parsed(
        FortifyFvdlParser(), write(tmp_path, fvdl(vuln(), created=None, write_date=None)), file_time=mtime
    )
    assert ctx.report.used_file_time
    # --asset wins over the build id (a label that often carries the build number)
    named = parse(FortifyFvdlParser(), write(tmp_path, fvdl(vuln())), asset_name="git.example.com/acme/web")
    assert {c.asset.name for c in coverage(named)} == {"git.example.com/acme/web"}
    unnamed = parse(FortifyFvdlParser(), write(tmp_path, fvdl(vuln(), build=None)))
    assert coverage(unnamed) == [] and findings(unnamed)[0].asset.name == "Fortify project"


def test_odd_records_are_read_past(tmp_path: Path) -> None:
    no_class = vuln().replace(f"<ClassID>{SQLI}</ClassID>", "")
    no_place = vuln(XSS).replace("<Trace>", "<Gone>").replace("</Trace>", "</Gone>")
    recs, ctx = parsed(FortifyFvdlParser(), write(tmp_path, fvdl(no_class, no_place, vuln(LOG))))
    assert ctx.report.skipped == 1
    assert {(f.weakness.vuln_id, f.path) for f in findings(recs)} == {(XSS, None), (LOG, "src/db.java")}
    assert coverage(recs) == []  # a finding kept on the build itself: nothing closed by absence
    assert any("location cannot be read" in w for w in ctx.report.warnings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<FVDL", "not well-formed XML"),
        ('<?xml version="1.0"?><Report><Vulnerability/></Report>', "not a Fortify FVDL document"),
        ('<!DOCTYPE FVDL [<!ENTITY x "y">]><FVDL/>', "entity declarations"),
    ],
)
def test_broken_fvdl_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(FortifyFvdlParser(), write(tmp_path, text))


# --- FPR ------------------------------------------------------------------------------------------


def test_fpr_triage_sets_aside_suppressed_and_not_an_issue(tmp_path: Path) -> None:
    text = fvdl(
        vuln(iid="A"),
        vuln(XSS, "src/view.jsp", iid="B"),
        vuln(LOG, "src/log.java", iid="C"),
        vuln(LOG, "src/other.java", iid="D"),
        vuln(LOG, "src/other.java", line=12, iid="E"),
        vuln(SQLI, "src/x.java", iid="F"),
        rules=(rule(), rule(XSS), rule(LOG)),
    )
    triage = audit(
        issue("A", analysis="Exploitable"),
        issue("B", suppressed=True),
        issue("C", analysis="Not an Issue"),
        issue("D", suppressed=True),  # E of the same rule and file is open: the finding is open
        issue("F", analysis="1 - Critical"),  # not a value of Fortify's Analysis tag: open, warned
    )
    recs, ctx = parsed(FortifyFprParser(), fpr(tmp_path, text, triage))
    got = {(f.weakness.vuln_id, f.path): f.status for f in findings(recs)}
    assert got == {
        (SQLI, "src/db.java"): FindingStatus.OPEN,
        (XSS, "src/view.jsp"): FindingStatus.SET_ASIDE,
        (LOG, "src/log.java"): FindingStatus.SET_ASIDE,
        (LOG, "src/other.java"): FindingStatus.OPEN,
        (SQLI, "src/x.java"): FindingStatus.OPEN,
    }
    assert ctx.report.warnings == [
        "vulnerability 6 (SQLI-0000-0000-0000-000000000001): Analysis '1 - Critical' is not one of Fortify's; kept open"
    ]
    other = next(f for f in findings(recs) if f.path == "src/other.java")
    assert other.evidence == "Line 12: instance E"  # the open instance decides
    # the same FVDL alone: nothing set aside
    bare = findings(parse(FortifyFvdlParser(), write(tmp_path, text)))
    assert {f.status for f in bare} == {FindingStatus.OPEN}


def test_fpr_without_audit_xml_and_in_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "nested.fpr"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("out/audit.fvdl", fvdl(vuln(), rules=(rule(),)))
    with path.open("rb") as f:
        assert FortifyFprParser().sniff(read_head(f))
    assert len(findings(parse(FortifyFprParser(), path))) == 1


def test_fpr_zip_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = fvdl(vuln(), rules=(rule(),))
    with pytest.raises(InputError, match="not a readable zip archive"):
        parse(FortifyFprParser(), write(tmp_path, "PK\x03\x04 not really", "bad.fpr"))
    no_fvdl = tmp_path / "no.fpr"
    with zipfile.ZipFile(no_fvdl, "w") as z:
        z.writestr("audit.xml", audit())
    with pytest.raises(InputError, match="no audit.fvdl member"):
        parse(FortifyFprParser(), no_fvdl)
    with pytest.raises(InputError, match="unsafe path"):
        parse(FortifyFprParser(), fpr(tmp_path, good, extra={"../evil.txt": b"x"}))
    sources = {f"src-archive/{n}.java": b"class A {}" for n in range(1500)}  # a real FPR's scanned sources
    assert len(findings(parse(FortifyFprParser(), fpr(tmp_path, good, audit(), extra=sources)))) == 1
    monkeypatch.setattr(fortify, "FPR_MAX_MEMBERS", 2)
    with pytest.raises(InputError, match="more than 2 members"):
        parse(FortifyFprParser(), fpr(tmp_path, good, audit()))
    monkeypatch.setattr(fortify, "FPR_MAX_MEMBERS", 100_000)
    bomb = fvdl(vuln()).replace("<UUID>u</UUID>", "<UUID>" + "u" * (3 * 1024 * 1024) + "</UUID>")
    with pytest.raises(InputError, match="compressed suspiciously well"):
        parse(FortifyFprParser(), fpr(tmp_path, bomb))
    monkeypatch.setattr(fortify, "ZIP_MAX_TOTAL", 1000)
    with pytest.raises(InputError, match="zip content larger than"):
        parse(FortifyFprParser(), fpr(tmp_path, good))
    monkeypatch.setattr(fortify, "ZIP_MAX_TOTAL", 256 * 1024 * 1024)
    with pytest.raises(InputError, match=r"scan.fpr \(audit.xml\)"):
        parse(FortifyFprParser(), fpr(tmp_path, good, "<Audit"))


def test_a_member_larger_than_it_declares_is_refused(tmp_path: Path) -> None:
    path = fpr(tmp_path, fvdl(vuln(), rules=(rule(),)))
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("audit.fvdl")
    info.file_size = 100  # what a lying header would say
    member = fortify._Member(zipfile.ZipFile(path), info, ParseContext("x.fpr"))
    with pytest.raises(InputError, match="larger than it declares|cannot read zip member"):
        member.read(10_000)


# --- report XML -------------------------------------------------------------------------------------


def report_issue(iid: str, rule_id: str, path: str, line: int = 1, friority: str = "High", analysis: str = "") -> str:
    tag = f"<Tag><Name>Analysis</Name><Value>{analysis}</Value></Tag>" if analysis else ""
    return (
        f'<Issue iid="{iid}" ruleID="{rule_id}"><Category>SQL Injection</Category><Folder>{friority}</Folder>'
        f"<Kingdom>Input Validation</Kingdom><Abstract>Bad SQL in {path}.</Abstract><Friority>{friority}</Friority>"
        f"{tag}<Primary><FileName>{path.rsplit('/', 1)[-1]}</FileName><FilePath>{path}</FilePath>"
        f"<LineStart>{line}</LineStart><Snippet>password = 'hunter2'</Snippet></Primary></Issue>"
    )


def report(
    *issues: str, text: str = "On Jan 4, 2023, a source code review was performed over the shop code base."
) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ReportDefinition type="standard">'
        "<TemplateName>Fortify Security Report</TemplateName><ReportSection><SubSection>"
        f"<Text>{text}</Text></SubSection></ReportSection><ReportSection><SubSection><IssueListing>"
        "<Chart><GroupingSection count='3'><groupTitle>SQL Injection</groupTitle><MajorAttributeSummary>"
        "<MetaInfo><Name>Abstract</Name><Value>Generic SQL abstract.</Value></MetaInfo>"
        "<MetaInfo><Name>Recommendations</Name><Value>Bind it.</Value></MetaInfo></MajorAttributeSummary>"
        f"{''.join(issues)}</GroupingSection></Chart></IssueListing></SubSection></ReportSection></ReportDefinition>"
    )


def test_report_xml_issues(tmp_path: Path) -> None:
    text = report(
        report_issue("1", SQLI, "src/a.java", 3, "Critical"),
        report_issue("2", SQLI, "src/a.java", 9, "Low"),
        report_issue("1", SQLI, "src/a.java", 3, "Critical"),  # listed again in another section
        report_issue("3", XSS, "src/b.jsp", 4, "Medium", analysis="Not an Issue"),
        report_issue("4", LOG, "src/c.java", 5, "Urgent-ish"),
        '<Issue iid="5"><Category>x</Category></Issue>',
    )
    recs, ctx = parsed(FortifyReportXmlParser(), write(tmp_path, text, "report.xml"))
    assert coverage(recs) == []
    got = {(f.weakness.vuln_id, f.path): (f.status, f.weakness.severity) for f in findings(recs)}
    assert got == {
        (SQLI, "src/a.java"): (FindingStatus.OPEN, Severity.CRITICAL),
        (XSS, "src/b.jsp"): (FindingStatus.SET_ASIDE, Severity.MEDIUM),
        (LOG, "src/c.java"): (FindingStatus.OPEN, Severity.MEDIUM),
    }
    sqli = findings(recs)[0]
    assert sqli.evidence == ("Line 3: Bad SQL in src/a.java. (instance 1)\nLine 9: Bad SQL in src/a.java. (instance 2)")
    assert (sqli.weakness.synopsis, sqli.weakness.solution) == ("Generic SQL abstract.", "Bind it.")
    assert sqli.asset.name == "shop" and sqli.observed_at == dt.datetime(2023, 1, 4)
    assert "hunter2" not in repr(recs)
    assert ctx.report.skipped == 1 and any("'Urgent-ish' not recognised" in w for w in ctx.report.warnings)
    undated = parse(
        FortifyReportXmlParser(),
        write(tmp_path, report(report_issue("1", SQLI, "a"), text="x"), "u.xml"),
        scan_date=WHEN,
    )
    assert findings(undated)[0].observed_at == WHEN and findings(undated)[0].asset.name == "Fortify project"
    with pytest.raises(InputError, match="not a Fortify report"):
        parse(FortifyReportXmlParser(), write(tmp_path, "<Other><Issue ruleID='x'/></Other>", "o.xml"))


# --- the corpus -----------------------------------------------------------------------------------

FOLDER = "fortify_fpr"
PARSERS: dict[str, Any] = {
    "fortify-fpr": FortifyFprParser(),
    "fortify-fvdl": FortifyFvdlParser(),
    "fortify-xml": FortifyReportXmlParser(),
}


def _fvdl_bytes(path: Path) -> tuple[bytes, bytes | None]:
    if path.suffix == ".fpr":
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            return z.read("audit.fvdl"), z.read("audit.xml") if "audit.xml" in names else None
    return path.read_bytes(), None


def _independent_fvdl(path: Path) -> tuple[set[tuple[Any, Any]], set[str]]:
    """Distinct (ClassID, default node path) of the FVDL, and the instances audit.xml sets aside,
    read with a plain lxml parse."""
    data, audit_data = _fvdl_bytes(path)
    ns = {"f": NS}
    root = etree.fromstring(data)
    keys = set()
    for v in root.findall("f:Vulnerabilities/f:Vulnerability", ns):
        node = v.find(".//f:Primary/f:Entry/f:Node[@isDefault='true']/f:SourceLocation", ns)
        assert node is not None
        keys.add((v.findtext("f:ClassInfo/f:ClassID", namespaces=ns), node.get("path")))
    aside: set[str] = set()
    if audit_data:
        a = etree.fromstring(audit_data)
        ans = {"a": "xmlns://www.fortify.com/schema/audit"}
        for i in a.findall(".//a:Issue", ans):
            value = i.findtext(f"a:Tag[@id='{fortify.ANALYSIS_TAG}']/a:Value", namespaces=ans)
            if i.get("suppressed") == "true" or value == "Not an Issue":
                aside.add(str(i.get("instanceId")))
    return keys, aside


EXPECTED = {  # file: (findings, open, set aside, severities of the open ones), checked by hand
    "defectdojo__fortify__hello_world.fpr": (4, 3, 1, {"low": 1, "high": 1, "critical": 1}),
    "defectdojo__fortify__fortify_dedupe_uid_repro_scan1.fpr": (2, 2, 0, {"low": 1, "high": 1}),
    "defectdojo__fortify__many_findings.fpr": (23, 23, 0, {"low": 22, "medium": 1}),
    "defectdojo__fortify__audit.fvdl": (23, 23, 0, {"low": 22, "medium": 1}),
    "defectdojo__fortify__fortify_few_findings.xml": (2, 2, 0, {"high": 2}),
    "defectdojo__fortify__fortify_many_findings.xml": (
        128,
        128,
        0,
        {"low": 98, "high": 20, "critical": 8, "medium": 2},
    ),
    "defectdojo__fortify__issue6082.xml": (2, 0, 2, {}),
}


def corpus_files() -> list[Path]:
    return sorted(corpus_dir(FOLDER).iterdir())


@pytest.mark.corpus
def test_every_corpus_file_with_hand_checked_counts() -> None:
    files = corpus_files()
    assert {p.name for p in files} == set(EXPECTED)
    for path in files:
        parser = PARSERS[
            "fortify-fpr" if path.suffix == ".fpr" else "fortify-fvdl" if path.suffix == ".fvdl" else "fortify-xml"
        ]
        recs, ctx = parsed(parser, path)
        found = findings(recs)
        total, opened, aside, severities = EXPECTED[path.name]
        assert len(found) == total, path.name
        assert sum(f.status is FindingStatus.OPEN for f in found) == opened, path.name
        assert sum(f.status is FindingStatus.SET_ASIDE for f in found) == aside, path.name
        assert Counter(f.weakness.severity.value for f in found if f.status is FindingStatus.OPEN) == severities
        assert isinstance(recs[-1], Scan) and recs[-1].tool == "Fortify SCA"
        assert all(f.path and ":" not in f.path for f in found), path.name  # a file, never a line
        if path.suffix in (".fpr", ".fvdl"):
            keys, set_aside = _independent_fvdl(path)
            assert {(f.weakness.vuln_id, f.path) for f in found} == keys, path.name
            assert len(coverage(recs)) == 1 and not ctx.report.used_file_time
        else:
            doc = etree.parse(str(path)).getroot()
            issues = {(i.get("ruleID"), i.findtext("Primary/FilePath")) for i in doc.iter("Issue")}
            assert {(f.weakness.vuln_id, f.path) for f in found} == issues
            assert coverage(recs) == []


@pytest.mark.corpus
def test_corpus_hello_world_triage_and_ratings() -> None:
    recs, ctx = parsed(FortifyFprParser(), corpus_dir(FOLDER) / "defectdojo__fortify__hello_world.fpr")
    by_id = {f.weakness.name: f for f in findings(recs)}
    assert by_id["Build Misconfiguration: External Maven Dependency Repository"].status is FindingStatus.SET_ASIDE
    assert by_id["Password Management: Hardcoded Password"].weakness.severity is Severity.HIGH  # DefectDojo: High
    assert by_id["Password Management: Password in Comment"].weakness.severity is Severity.LOW  # DefectDojo: Low
    assert by_id["Privacy Violation"].weakness.severity is Severity.CRITICAL
    assert {f.asset.name for f in findings(recs)} == {"HelloWorld"}
    assert coverage(recs)[0].started_at == dt.datetime(2025, 3, 10, 10, 6, 3)  # 15:36:03 at +05:30
    # audit.xml tags D3166922... with '1 - Critical' under the Analysis tag's id: not a Fortify value
    assert ctx.report.warning_count == 1


def test_sniff_claims_exactly_the_fortify_folder() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    claims: dict[str, list[str]] = {}
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            head = read_head(f)
        ids = [i for i, p in PARSERS.items() if p.sniff(head)]
        if ids:
            claims[path.relative_to(CORPUS).as_posix()] = ids
    assert set(claims) == {p.relative_to(CORPUS).as_posix() for p in corpus_files()}
    assert all(len(ids) == 1 for ids in claims.values())


# --- end to end ---------------------------------------------------------------------------------


def test_a_later_fpr_of_the_build_closes_what_it_no_longer_reports(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(FortifyFprParser(), FortifyFvdlParser(), FortifyReportXmlParser())
    rules = (rule(), rule(XSS, impact="2.0"))

    def scan(day: int, *vulns: str, build: str = "web", triage: str | None = None) -> Any:
        created = f'<CreatedTS date="2026-01-{day:02d}" time="10:00:00"/>'
        text = fvdl(*vulns, rules=rules, build=build, created=created, write_date=None)
        return import_file(engine, fpr(tmp_path, text, triage, name=f"{day}.fpr"))

    jan = scan(5, vuln(), vuln(XSS, "src/view.jsp", iid="X1"))
    assert (jan.format, jan.tool, jan.assets_covered, jan.items_opened) == ("fortify-fpr", "Fortify SCA", 1, 2)
    feb = scan(6, vuln(line=12))
    assert (feb.fixed_findings, feb.items_closed) == (1, 1)
    other = scan(7, build="api")  # another build covers nothing of web
    assert (other.assets_covered, other.fixed_findings, other.items_closed) == (1, 0, 0)
    aside = scan(8, vuln(iid="S"), triage=audit(issue("S", suppressed=True)))  # suppressed: still open
    assert (aside.set_aside, aside.fixed_findings, aside.items_closed) == (1, 0, 0)
    back = scan(9, vuln(), vuln(XSS, "src/view.jsp", iid="X1"))  # XSS is back after its item closed
    assert (back.new_findings, back.items_opened) == (1, 1)
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    xss = sorted((i for i in items if i.source_identifier == XSS), key=lambda i: i.poam_id)
    assert [i.status for i in xss] == [ItemStatus.CLOSED, ItemStatus.OPEN]
    assert xss[0].closed_at == dt.date(2026, 1, 6) and xss[1].previous_poam_id == xss[0].poam_id
    sqli = next(i for i in items if i.source_identifier == SQLI)
    assert [a.text for a in sqli.assets] == ["web (src/db.java)"] and sqli.detector_source == "Fortify SCA"


def test_a_report_xml_closes_nothing(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(FortifyFprParser(), FortifyReportXmlParser())
    created = '<CreatedTS date="2023-01-01" time="10:00:00"/>'
    text = fvdl(vuln(), vuln(XSS, "src/view.jsp"), rules=(rule(), rule(XSS)), build="shop", created=created)
    assert import_file(engine, fpr(tmp_path, text)).items_opened == 2
    r = import_file(engine, write(tmp_path, report(report_issue("1", SQLI, "src/db.java")), "r.xml"))
    assert (r.format, r.assets_covered, r.fixed_findings, r.new_findings) == ("fortify-xml", 0, 0, 0)


def test_streaming_keeps_memory_flat_for_bulky_sections(tmp_path: Path) -> None:
    """Snippets and node pools are released as they pass; a big FVDL reads like a small one."""
    pool = "".join(f'<Node id="{n}"><SourceLocation path="src/p{n}.java" line="{n}"/></Node>' for n in range(5000))
    vulns = [vuln(ref=str(n), iid=f"I{n}") for n in range(0, 5000, 50)]
    recs = parse(FortifyFvdlParser(), write(tmp_path, fvdl(*vulns, rules=(rule(),), pool=pool)))
    assert len(findings(recs)) == 100  # each pooled location resolved
    assert {f.path for f in findings(recs)} == {f"src/p{n}.java" for n in range(0, 5000, 50)}
