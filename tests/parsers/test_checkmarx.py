"""The Checkmarx parsers (CxSAST XML, Checkmarx One JSON) on hand-written files and on the corpus."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.checkmarx import KICS, SAST, SCA, CheckmarxXmlParser
from poam.parsers.checkmarx_one import CheckmarxOneParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_trivy import only_input_errors

WHEN = dt.datetime(2026, 3, 1, 12, 0)


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


def write(tmp_path: Path, doc: object, name: str = "cx.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


# --- CxSAST XML -----------------------------------------------------------------------------------


def node(file: str, line: int, name: str, code: str = "") -> str:
    snippet = f"<Snippet><Line><Number>{line}</Number><Code>{code}</Code></Line></Snippet>" if code else ""
    return (
        f"<PathNode><FileName>{file}</FileName><Line>{line}</Line><Column>1</Column><NodeId>1</NodeId>"
        f"<Name>{name}</Name>{snippet}</PathNode>"
    )


def result(
    source: str = "src/Web.java",
    sink: str = "src/Db.java",
    line: int = 40,
    state: str = "0",
    false_positive: str = "False",
    severity: str = "High",
    code: str = "stmt.executeQuery(q);",
    similarity: str = "-1145",
) -> str:
    return (
        f'<Result NodeId="1" FileName="{source}" Status="Recurrent" Line="3" Column="1" '
        f'FalsePositive="{false_positive}" '
        f'Severity="{severity}" state="{state}" DeepLink="https://cx/x">'
        f'<Path ResultId="1" PathId="2" SimilarityId="{similarity}">'
        f"{node(source, 3, 'getParameter')}{node(sink, line, 'executeQuery', code)}</Path></Result>"
    )


def query(name: str = "SQL_Injection", *results: str, severity: str = "High", cwe: str = "89") -> str:
    return (
        f'<Query id="594" categories="OWASP Top 10 2017;A1-Injection" cweId="{cwe}" name="{name}" '
        f'group="Java_High_Risk" Severity="{severity}" Language="Java">{"".join(results)}</Query>'
    )


def cx_xml(*queries: str, project: str = "Webgoat", scan_type: str = "Full", start: str | None = None) -> str:
    start = start or "Sunday, February 25, 2018 11:35:52 AM"
    return (
        '\ufeff<?xml version="1.0" encoding="utf-8"?>\n'
        f'<CxXMLResults ScanId="1000227" ProjectName="{project}" ScanStart="{start}" '
        f'ReportCreationTime="Monday, April 22, 2019 3:12:18 PM" CheckmarxVersion="8.6.0 HF1" ScanType="{scan_type}">'
        f"{''.join(queries)}</CxXMLResults>"
    )


def test_xml_results_of_one_query_and_sink_file_are_one_finding(tmp_path: Path) -> None:
    text = cx_xml(
        query(
            "SQL_Injection",
            result(line=40),
            result(source="src/Other.java", line=52, similarity="7"),
            result(sink="src/Dao.java", line=9),
        ),
        query("Hardcoded_password_in_Connection_String", result(sink="src/Cfg.java", code='pw = "hunter2"'), cwe="259"),
    )
    recs, ctx = parsed(CheckmarxXmlParser(), write(tmp_path, text, "cx.xml"))
    assert [type(r) for r in recs] == [Coverage, Finding, Finding, Finding, Scan]
    assert ctx.report.warnings == []
    (cov,) = coverage(recs)
    assert (cov.asset.name, cov.tool, cov.started_at) == ("Webgoat", SAST, dt.datetime(2018, 2, 25, 11, 35, 52))
    db, dao, cfg = findings(recs)
    assert (db.weakness.tool, db.weakness.vuln_id, db.path) == (SAST, "SQL_Injection", "src/Db.java")
    assert (db.weakness.name, db.weakness.family, db.weakness.cwes) == ("SQL Injection", "Java_High_Risk", ("89",))
    assert db.evidence == (
        "Line 40: executeQuery from getParameter (src/Web.java:3); similarity -1145\n    stmt.executeQuery(q);\n"
        "Line 52: executeQuery from getParameter (src/Other.java:3); similarity 7\n    stmt.executeQuery(q);"
    )
    assert dao.path == "src/Dao.java" and db.asset.kind is AssetKind.REPOSITORY
    assert cfg.evidence is not None and "hunter2" not in cfg.evidence and "not kept" in cfg.evidence
    scan = recs[-1]
    assert (scan.tool, scan.tool_version, scan.name) == (SAST, "8.6.0 HF1", "1000227")


@pytest.mark.parametrize(
    ("state", "false_positive", "status"),
    [
        ("0", "False", FindingStatus.OPEN),  # To Verify
        ("1", "False", FindingStatus.SET_ASIDE),  # Not Exploitable
        ("2", "False", FindingStatus.OPEN),  # Confirmed
        ("3", "False", FindingStatus.OPEN),  # Urgent
        ("4", "False", FindingStatus.OPEN),  # Proposed Not Exploitable: a proposal, not a decision
        ("0", "True", FindingStatus.SET_ASIDE),
        ("", "False", FindingStatus.OPEN),
    ],
)
def test_xml_result_states(tmp_path: Path, state: str, false_positive: str, status: FindingStatus) -> None:
    text = cx_xml(query("SQL_Injection", result(state=state, false_positive=false_positive)))
    (f,) = findings(parse(CheckmarxXmlParser(), write(tmp_path, text, "cx.xml")))
    assert f.status is status


def test_xml_odd_values(tmp_path: Path) -> None:
    text = cx_xml(
        query("A", result(state="7", severity="Severe")),
        query("B", result(severity="Critical"), result(severity="Information", sink="src/B.java")),
        '<Query id="1" Severity="High">' + result() + "</Query>",
        start="not a date",
    )
    recs, ctx = parsed(CheckmarxXmlParser(), write(tmp_path, text, "cx.xml"), scan_date=WHEN)
    got = {(f.weakness.vuln_id, f.path): (f.status, f.weakness.severity) for f in findings(recs)}
    assert got == {
        ("A", "src/Db.java"): (FindingStatus.OPEN, Severity.MEDIUM),
        ("B", "src/Db.java"): (FindingStatus.OPEN, Severity.CRITICAL),
        ("B", "src/B.java"): (FindingStatus.OPEN, Severity.CRITICAL),  # the query's rating: its highest
    }
    assert ctx.report.skipped == 1
    assert set(ctx.report.warnings) >= {
        "result 1 (A): severity 'Severe' not recognised; rated Moderate",
        "result 1 (A): state '7' is not one of Checkmarx's; kept open",
    }
    assert findings(recs)[0].observed_at == dt.datetime(2019, 4, 22, 15, 12, 18)  # ReportCreationTime


def test_xml_incremental_or_unnamed_scans_cover_nothing(tmp_path: Path) -> None:
    incremental, ctx = parsed(
        CheckmarxXmlParser(), write(tmp_path, cx_xml(query("A", result()), scan_type="Incremental"))
    )
    assert coverage(incremental) == [] and len(findings(incremental)) == 1
    assert ctx.report.warnings == [
        "file: an incremental scan (only changed files were analysed): nothing is closed by absence"
    ]
    unnamed = parse(CheckmarxXmlParser(), write(tmp_path, cx_xml(query("A", result()), project="")))
    assert coverage(unnamed) == [] and findings(unnamed)[0].asset.name == "Checkmarx project"
    named = parse(
        CheckmarxXmlParser(), write(tmp_path, cx_xml(query("A", result()), project="")), asset_name="acme/web"
    )
    assert [c.asset.name for c in coverage(named)] == ["acme/web"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<CxXMLResults", "not well-formed XML"),
        ("<Other><Query name='x'/></Other>", "not a CxSAST XML report"),
    ],
)
def test_broken_xml_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(CheckmarxXmlParser(), write(tmp_path, text, "cx.xml"))


# --- Checkmarx One JSON -------------------------------------------------------------------------


def api_sast(
    query: str = "SQL_Injection",
    file: str = "/src/Db.java",
    line: int = 40,
    state: str = "TO_VERIFY",
    status: str = "RECURRENT",
    severity: str = "HIGH",
    found: str = "2026-01-05T10:00:00Z",
) -> dict[str, Any]:
    return {
        "type": "sast",
        "id": "1",
        "similarityId": "123",
        "status": status,
        "state": state,
        "severity": severity,
        "foundAt": found,
        "firstFoundAt": "2025-06-01T00:00:00Z",
        "description": "Tainted data reaches a query.",
        "data": {
            "queryName": query,
            "group": "Java_High_Risk",
            "nodes": [
                {"fileName": "/src/Web.java", "line": 3, "name": "getParameter"},
                {"fileName": file, "line": line, "name": "executeQuery"},
            ],
        },
        "vulnerabilityDetails": {"cweId": 89},
    }


def api_sca(cve: str = "CVE-2013-7285", state: str = "TO_VERIFY") -> dict[str, Any]:
    return {
        "type": "sca",
        "id": cve,
        "similarityId": cve,
        "status": "NEW",
        "state": state,
        "severity": "HIGH",
        "foundAt": "2026-01-05T10:00:00Z",
        "description": "XStream remote code execution.",
        "data": {
            "packageIdentifier": "Maven-com.thoughtworks.xstream:xstream-1.4.5",
            "recommendedVersion": "1.4.17",
            "scaPackageData": {
                "id": "Maven-com.thoughtworks.xstream:xstream-1.4.5",
                "locations": ["pom.xml"],
                "dependencyPaths": [
                    [{"id": "Maven-com.thoughtworks.xstream:xstream-1.4.5", "name": "com.thoughtworks.xstream:xstream"}]
                ],
            },
            "packageData": [{"url": "https://github.com/advisories/GHSA-f554-x222-wgf7"}],
        },
        "vulnerabilityDetails": {"cweId": "CWE-78", "cvssScore": 9.8, "cveName": cve, "cvss": {"version": 3}},
    }


def api_kics(name: str = "Missing User Instruction", file: str = "/Dockerfile") -> dict[str, Any]:
    return {
        "type": "kics",
        "id": "k1",
        "similarityId": "abc",
        "status": "RECURRENT",
        "state": "TO_VERIFY",
        "severity": "MEDIUM",
        "foundAt": "2026-01-05T10:00:00Z",
        "description": "A user should be specified.",
        "data": {"queryName": name, "group": "Build Process", "line": 1, "filename": file, "issueType": "Missing"},
        "vulnerabilityDetails": {"cvss": {}},
    }


def page(*results: Any) -> dict[str, Any]:
    return {"results": list(results), "totalCount": len(results), "scanID": "s-1"}


def test_results_api_page(tmp_path: Path) -> None:
    doc = page(
        api_sast(),
        api_sast(line=41, state="NOT_EXPLOITABLE"),
        api_sast("Stored_XSS", "/src/View.jsp", state="CONFIRMED"),
        api_sast("Log_Forging", "/src/Log.java", state="NOT_EXPLOITABLE"),
        api_sast("Heap_Inspection", "/src/Mem.java", status="FIXED", found="2026-01-04T00:00:00Z"),
        api_sca(),
        api_kics(),
        {"type": "containers", "similarityId": "x"},
        "not a result",
    )
    recs, ctx = parsed(CheckmarxOneParser(), write(tmp_path, doc), asset_name="acme/web")
    assert coverage(recs) == []  # a listing: covers nothing
    got = {(f.weakness.tool, f.weakness.vuln_id, f.path): f.status for f in findings(recs)}
    assert got == {
        (SAST, "SQL_Injection", "src/Db.java"): FindingStatus.OPEN,
        (SAST, "Stored_XSS", "src/View.jsp"): FindingStatus.OPEN,
        (SAST, "Log_Forging", "src/Log.java"): FindingStatus.SET_ASIDE,
        (SAST, "Heap_Inspection", "src/Mem.java"): FindingStatus.FIXED,
        (SCA, "CVE-2013-7285", "com.thoughtworks.xstream:xstream"): FindingStatus.OPEN,
        (KICS, "Missing User Instruction", "Dockerfile"): FindingStatus.OPEN,
    }
    assert ctx.report.skipped == 2
    sqli = findings(recs)[0]
    assert sqli.evidence == "Line 40: executeQuery from getParameter (/src/Web.java:3); similarity 123"
    assert sqli.observed_at == dt.datetime(2026, 1, 5, 10) and sqli.since == dt.datetime(2025, 6, 1)
    assert {f.asset.name for f in findings(recs)} == {"acme/web"}
    sca = next(f for f in findings(recs) if f.weakness.tool == SCA)
    w = sca.weakness
    assert (w.cves, w.cwes, w.cvss3_score, w.solution) == (
        ("CVE-2013-7285",),
        ("78",),
        9.8,
        "Upgrade com.thoughtworks.xstream:xstream to 1.4.17",
    )
    assert sca.evidence == "Installed: com.thoughtworks.xstream:xstream 1.4.5 (pom.xml); fixed in 1.4.17"
    kics = next(f for f in findings(recs) if f.weakness.tool == KICS)
    assert kics.weakness.is_config and not sca.weakness.is_config


def test_states_and_statuses_of_checkmarx_one(tmp_path: Path) -> None:
    cases = {
        "TO_VERIFY": FindingStatus.OPEN,
        "To verify": FindingStatus.OPEN,
        "PROPOSED_NOT_EXPLOITABLE": FindingStatus.OPEN,
        "URGENT": FindingStatus.OPEN,
        "Not exploitable": FindingStatus.SET_ASIDE,
        "IGNORED": FindingStatus.SET_ASIDE,  # means set aside: warned
        "MY_CUSTOM_STATE": FindingStatus.OPEN,  # a custom state: warned
    }
    for state, status in cases.items():
        recs, ctx = parsed(CheckmarxOneParser(), write(tmp_path, page(api_sast(state=state))))
        assert findings(recs)[0].status is status, state
        assert bool(ctx.report.warnings) == (state in ("IGNORED", "MY_CUSTOM_STATE")), state


def scan_report(
    *queries: dict[str, Any], excluded: list[str] | None = None, iac: list[Any] | None = None
) -> dict[str, Any]:
    return {
        "reportCreationDate": "2026-01-05T12:00:00Z",
        "reportType": "Vulnerability Type",
        "reportHeader": {
            "projectName": "acme/web",
            "scanDate": "2026-01-05T10:00:00Z",
            "scanners": ["SAST", "SCA", "IaC"],
        },
        "reportFilters": {
            "filters": [
                {
                    "filterName": "Severity",
                    "included": ["High", "Medium", "Low", "Information"],
                    "excluded": excluded or [],
                },
                {"filterName": "Scanners", "included": ["SAST", "SCA", "IaC"], "excluded": []},
            ],
            "resultsLimit": "10000",
        },
        "scanInformation": {
            "scannerStatus": [
                {"name": "SCA", "status": "Completed"},
                {"name": "IaC", "status": "Failed"},
                {"name": "SAST", "status": "Completed"},
            ]
        },
        "scanResults": {"resultsList": list(queries)},
        "iacScanResults": {"technology": iac or []},
        "scaScanResults": {"totalResults": 0, "packages": []},
        "vulnerabilityDetails": [
            {"vulnerabilityName": "SQL_Injection", "risk": "Data theft.", "generalRecommendations": "Bind."}
        ],
    }


def report_query(name: str, *vulns: dict[str, Any]) -> dict[str, Any]:
    return {
        "queryName": name,
        "cweId": 89,
        "queryPath": "Java/Java_High_Risk/SQL_Injection",
        "vulnerabilities": list(vulns),
    }


def report_vuln(sink: str = "/src/Db.java", state: str = "To Verify", line: int = 40) -> dict[str, Any]:
    return {
        "similarityId": 1,
        "status": "Recurrent",
        "state": state,
        "severity": "High",
        "foundDate": "2026-01-05T10:05:00Z",
        "firstFoundDate": "2025-12-01T00:00:00Z",
        "sourceFileName": "/src/Web.java",
        "destinationFileName": sink,
        "sourceNode": "getParameter",
        "destinationNode": "executeQuery",
        "sourceLine": 3,
        "destinationLine": line,
        "destinationCode": "stmt.executeQuery(q);",
    }


def test_scan_report_covers_the_engines_it_holds_in_full(tmp_path: Path) -> None:
    iac = [
        {
            "name": "Dockerfile",
            "queries": [
                {
                    "queryName": "Missing User Instruction",
                    "category": "Build",
                    "resultsList": [
                        {
                            "severity": "Medium",
                            "status": "New",
                            "state": "To Verify",
                            "lastDetectionDate": "2026-01-05T10:00:00Z",
                            "fileName": "/Dockerfile",
                        }
                    ],
                }
            ],
        }
    ]
    doc = scan_report(
        report_query("SQL_Injection", report_vuln(), report_vuln(line=50, state="Not Exploitable")), iac=iac
    )
    recs, ctx = parsed(CheckmarxOneParser(), write(tmp_path, doc))
    assert {(c.asset.name, c.tool) for c in coverage(recs)} == {("acme/web", SAST), ("acme/web", SCA)}
    assert ctx.report.warnings == ["report: engine iac did not complete: it covers nothing"]
    sqli, docker = findings(recs)
    assert (sqli.path, sqli.status, sqli.weakness.description, sqli.weakness.solution) == (
        "src/Db.java",
        FindingStatus.OPEN,
        "Data theft.",
        "Bind.",
    )
    assert sqli.evidence == (
        "Line 40: executeQuery from getParameter (/src/Web.java:3); similarity 1\n    stmt.executeQuery(q);"
    )
    assert (docker.weakness.tool, docker.path, docker.weakness.is_config) == (KICS, "Dockerfile", True)
    filtered, ctx = parsed(
        CheckmarxOneParser(),
        write(tmp_path, scan_report(report_query("SQL_Injection", report_vuln()), excluded=["Low"])),
    )
    assert coverage(filtered) == [] and "excludes results" in ctx.report.warnings[0]


def test_json_report_and_cli_gitlab_layout(tmp_path: Path) -> None:
    report = {
        "reportId": "r",
        "reportHeader": {"projectName": "DIVA", "createdDate": "2022-02-25T21:56:10.318Z"},
        "executiveSummary": {},
        "scanResults": {
            "sast": {
                "languages": [
                    {
                        "languageName": "Java",
                        "queries": [
                            {
                                "queryName": "CSRF",
                                "vulnerabilities": [
                                    {
                                        "id": "x",
                                        "similarityId": 5,
                                        "status": "NEW",
                                        "state": "To verify",
                                        "severity": "MEDIUM",
                                        "cweId": 352,
                                        "nodes": [{"fileName": "/app/A.java", "line": 67, "name": "execSQL"}],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            },
            "sca": None,
            "kics": {"results": [1]},
        },
    }
    recs, ctx = parsed(CheckmarxOneParser(), write(tmp_path, report))
    (f,) = findings(recs)
    assert (f.weakness.vuln_id, f.path, f.asset.name, f.observed_at) == (
        "CSRF",
        "app/A.java",
        "DIVA",
        dt.datetime(2022, 2, 25, 21, 56, 10, 318000),
    )
    assert coverage(recs) == [] and ctx.report.warnings == ["scanResults.kics: not read (a form poam does not know)"]
    gitlab = {
        "version": "15.0.0",
        "scan": {
            "end_time": "2024-01-18T09:12:43",
            "scanner": {"id": "CxOne-SAST", "vendor": {"name": "Checkmarx"}},
            "type": "sast",
        },
        "vulnerabilities": [
            {
                "category": "Checkmarx-sast",
                "name": "Client_DOM_XSS",
                "description": "XSS at line 7.",
                "severity": "High",
                "location": {"file": "/src/App.tsx", "start_line": 7},
            },
            {
                "category": "Checkmarx-sast",
                "name": "Use_Of_Hardcoded_Password",
                "description": 'Uses "hunter2".',
                "severity": "Low",
                "location": {"file": "/src/Cfg.tsx", "start_line": 9},
            },
        ],
    }
    path = write(tmp_path, gitlab)
    with path.open("rb") as fh:
        assert CheckmarxOneParser().sniff(read_head(fh))
    recs = parse(CheckmarxOneParser(), path)
    xss, password = findings(recs)
    assert (xss.weakness.vuln_id, xss.path, xss.evidence, xss.observed_at) == (
        "Client_DOM_XSS",
        "src/App.tsx",
        "Line 7: XSS at line 7.",
        dt.datetime(2024, 1, 18, 9, 12, 43),
    )
    assert password.evidence == "Line 9" and coverage(recs) == []


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("[1, 2]", "not a Checkmarx One JSON document"),
        ('{"reportType": "x", "reportHeader": {}}\n{"foo": 1}', "document 2: not a Checkmarx One JSON document"),
        ("{", "not valid JSON"),
    ],
)
def test_broken_json_is_refused(tmp_path: Path, doc: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(CheckmarxOneParser(), write(tmp_path, doc))


# --- the corpus -----------------------------------------------------------------------------------

FOLDER = "checkmarx"
EXPECTED = {  # file: (parser, findings, open, set aside, open by severity), checked by hand
    "defectdojo__checkmarx__multiple_findings.xml": ("checkmarx-xml", 2, 2, 0, {"high": 2}),
    "defectdojo__checkmarx__no_finding.xml": ("checkmarx-xml", 0, 0, 0, {}),
    "defectdojo__checkmarx__single_finding_false_positive.xml": ("checkmarx-xml", 1, 0, 1, {}),
    "defectdojo__checkmarx__utf8_various_non_ascii_char.xml": ("checkmarx-xml", 1, 1, 0, {"high": 1}),
    "defectdojo__checkmarx__multiple_findings.json": ("checkmarx-json", 8, 8, 0, {"high": 2, "medium": 1, "low": 5}),
    "defectdojo__checkmarx_one__checkmarx_one.json": ("checkmarx-json", 5, 5, 0, {"medium": 2, "low": 1, "info": 2}),
    "defectdojo__checkmarx_one__checkmarx_one_sca_10770.json": ("checkmarx-json", 7, 7, 0, {"high": 7}),
    "defectdojo__checkmarx_one__many_findings.json": ("checkmarx-json", 5, 5, 0, {"high": 1, "medium": 2, "low": 2}),
    "defectdojo__checkmarx_one__vulnerabilities_from_scan_results.json": (
        "checkmarx-json",
        57,
        57,
        0,
        {"high": 1, "medium": 26, "low": 27, "info": 3},
    ),
}
PARSERS: dict[str, Any] = {"checkmarx-xml": CheckmarxXmlParser(), "checkmarx-json": CheckmarxOneParser()}


def corpus_files() -> list[Path]:
    return sorted(corpus_dir(FOLDER).iterdir())


def _independent(path: Path) -> set[tuple[Any, Any]]:
    """(query or rule, sink file) of every result, read with a plain parse of the documented layout."""
    if path.suffix == ".xml":
        root = etree.parse(str(path)).getroot()
        return {
            (q.get("name"), r.findall("Path/PathNode")[-1].findtext("FileName"))
            for q in root.iter("Query")
            for r in q.iter("Result")
        }
    doc = json.loads(path.read_text(encoding="utf-8-sig"))
    keys: set[tuple[Any, Any]] = set()
    for r in doc.get("results", []):
        data = r["data"]
        if r["type"] == "sast":
            keys.add((data["queryName"], data["nodes"][-1]["fileName"].lstrip("/")))
        elif r["type"] == "kics":
            keys.add((data["queryName"], data["filename"].lstrip("/")))
        else:
            keys.add((r["vulnerabilityDetails"].get("cveName") or r["id"], "package"))
    for language in ((doc.get("scanResults") or {}).get("sast") or {}).get("languages", []):
        for q in language["queries"]:
            keys |= {(q["queryName"], v["nodes"][-1]["fileName"].lstrip("/")) for v in q["vulnerabilities"]}
    for q in (doc.get("scanResults") or {}).get("resultsList", []):
        keys |= {(q["queryName"], v["destinationFileName"].lstrip("/")) for v in q["vulnerabilities"]}
    for t in (doc.get("iacScanResults") or {}).get("technology", []):
        for q in t["queries"]:
            keys |= {(q["queryName"], v["fileName"].lstrip("/")) for v in q["resultsList"]}
    for v in doc.get("vulnerabilities", []):
        keys.add((v["name"], v["location"]["file"].lstrip("/")))
    return keys


@pytest.mark.corpus
def test_every_corpus_file_with_hand_checked_counts() -> None:
    files = corpus_files()
    assert {p.name for p in files} == set(EXPECTED)
    for path in files:
        parser_id, total, opened, aside, severities = EXPECTED[path.name]
        recs, ctx = parsed(PARSERS[parser_id], path, scan_date=WHEN)
        found = findings(recs)
        assert len(found) == total, path.name
        assert sum(f.status is FindingStatus.OPEN for f in found) == opened, path.name
        assert sum(f.status is FindingStatus.SET_ASIDE for f in found) == aside, path.name
        assert Counter(f.weakness.severity.value for f in found if f.status is FindingStatus.OPEN) == severities
        got = {(f.weakness.vuln_id, "package" if f.weakness.tool == SCA else f.path or "") for f in found}
        assert got == _independent(path), path.name
        assert ctx.report.warnings == [], path.name
        assert isinstance(recs[-1], Scan)


@pytest.mark.corpus
def test_corpus_coverage_and_assets() -> None:
    folder = corpus_dir(FOLDER)
    xml = parse(CheckmarxXmlParser(), folder / "defectdojo__checkmarx__no_finding.xml")
    assert [(c.asset.name, c.tool) for c in coverage(xml)] == [("Webgoat", SAST)]
    report = parse(CheckmarxOneParser(), folder / "defectdojo__checkmarx_one__vulnerabilities_from_scan_results.json")
    assert {(c.asset.name, c.tool) for c in coverage(report)} == {
        ("example-123/loiskjdye", t) for t in (SAST, SCA, KICS)
    }
    api = parse(CheckmarxOneParser(), folder / "defectdojo__checkmarx_one__checkmarx_one_sca_10770.json")
    assert coverage(api) == [] and {f.asset.name for f in findings(api)} == {"Checkmarx project"}
    packages = {f.path for f in findings(api) if f.weakness.tool == SCA}
    assert packages == {"com.thoughtworks.xstream:xstream", "jquery", "tar"}  # never a version


def test_sniff_claims_exactly_the_checkmarx_folder() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    claims: dict[str, list[str]] = {}
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            head = read_head(f)
        ids = [i for i, p in PARSERS.items() if p.sniff(head)]
        if ids:
            claims[path.name] = ids
    assert claims == {p.name: [EXPECTED[p.name][0]] for p in corpus_files()}


@pytest.mark.corpus
def test_mutated_corpus_files_give_input_errors_or_records() -> None:
    only_input_errors(CheckmarxOneParser(), FOLDER, count=25)


# --- end to end ---------------------------------------------------------------------------------


def test_a_later_full_scan_closes_what_it_no_longer_reports(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(CheckmarxXmlParser(), CheckmarxOneParser())

    def run(day: int, *queries: str, project: str = "Webgoat", scan_type: str = "Full") -> Any:
        start = f"Monday, January {day:02d}, 2026 10:00:00 AM"
        text = cx_xml(*queries, project=project, scan_type=scan_type, start=start)
        return import_file(engine, write(tmp_path, text, f"{day}.xml"))

    jan = run(5, query("SQL_Injection", result()), query("Stored_XSS", result(sink="src/View.jsp")))
    assert (jan.format, jan.tool, jan.assets_covered, jan.items_opened) == ("checkmarx-xml", SAST, 1, 2)
    feb = run(12, query("SQL_Injection", result(line=44)))
    assert (feb.fixed_findings, feb.items_closed) == (1, 1)
    other = run(13, project="api")  # another project closes nothing of Webgoat
    assert (other.assets_covered, other.fixed_findings) == (1, 0)
    incremental = run(14, scan_type="Incremental")
    assert (incremental.assets_covered, incremental.fixed_findings) == (0, 0)
    aside = run(19, query("SQL_Injection", result(state="1")))  # Not Exploitable: still open on the POA&M
    assert (aside.set_aside, aside.fixed_findings, aside.items_closed) == (1, 0, 0)
    back = run(26, query("SQL_Injection", result()), query("Stored_XSS", result(sink="src/View.jsp")))
    assert (back.new_findings, back.items_opened) == (1, 1)  # XSS is back after its item closed
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    xss = sorted((i for i in items if i.source_identifier == "Stored_XSS"), key=lambda i: i.poam_id)
    assert [i.status for i in xss] == [ItemStatus.CLOSED, ItemStatus.OPEN]
    sqli = next(i for i in items if i.source_identifier == "SQL_Injection")
    assert [a.text for a in sqli.assets] == ["Webgoat (src/Db.java)"] and sqli.status is ItemStatus.OPEN


def test_an_api_listing_closes_only_through_fixed_results(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(CheckmarxOneParser())
    jan = import_file(
        engine, write(tmp_path, page(api_sast(), api_sast("Stored_XSS", "/src/View.jsp")), "jan.json"), asset="acme/web"
    )
    assert (jan.assets_covered, jan.items_opened) == (0, 2)
    feb_doc = page(api_sast(found="2026-02-05T10:00:00Z"))
    feb = import_file(engine, write(tmp_path, feb_doc, "feb.json"), asset="acme/web")
    assert (feb.fixed_findings, feb.items_closed) == (0, 0)  # silence proves nothing
    fixed = page(api_sast("Stored_XSS", "/src/View.jsp", status="FIXED", found="2026-02-06T10:00:00Z"))
    mar = import_file(engine, write(tmp_path, fixed, "mar.json"), asset="acme/web")
    assert (mar.fixed_findings, mar.items_closed) == (1, 1)
