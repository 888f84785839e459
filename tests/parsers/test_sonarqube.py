"""The SonarQube parser (issues and hotspots API pages, bare issue lists, sonar-report JSON) on
hand-written files and on the corpus."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.registry import read_head
from poam.parsers.sonarqube import SonarQubeParser
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import corpus_dir
from tests.parsers.test_stig_ckl import assert_sniff_claims_exactly
from tests.parsers.test_trivy import only_input_errors

WHEN = dt.datetime(2026, 3, 1, 12, 0)


def write(tmp_path: Path, doc: object, name: str = "sonar.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def parsed(path: Path, **ctx: Any) -> tuple[list[Any], ParseContext]:
    context = ParseContext(str(path), **{"scan_date": WHEN, **ctx})
    with path.open("rb") as f:
        return list(SonarQubeParser().parse(f, context)), context


def parse(path: Path, **ctx: Any) -> list[Any]:
    return parsed(path, **ctx)[0]


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def issue(
    rule: str = "java:S3649",
    file: str = "src/Db.java",
    line: int = 10,
    kind: str = "VULNERABILITY",
    severity: str = "CRITICAL",
    status: str = "OPEN",
    resolution: str | None = None,
    project: str = "acme-web",
    **extra: Any,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "key": f"k{line}",
        "rule": rule,
        "severity": severity,
        "component": f"{project}:{file}" if file else project,
        "project": project,
        "line": line,
        "status": status,
        "message": f"Fix line {line}.",
        "tags": ["cwe", "cwe-89", "owasp-a1"],
        "creationDate": "2025-10-16T15:05:35+0000",
        "updateDate": "2026-01-03T08:00:46+0000",
        "type": kind,
        **extra,
    }
    if resolution:
        found["resolution"] = resolution
    return found


def issues_page(*issues: Any, **extra: Any) -> dict[str, Any]:
    return {
        "total": len(issues),
        "p": 1,
        "ps": 100,
        "paging": {"pageIndex": 1},
        "issues": list(issues),
        "components": [],
        **extra,
    }


def test_vulnerabilities_of_one_rule_in_one_file_are_one_finding(tmp_path: Path) -> None:
    doc = issues_page(
        issue(line=10),
        issue(line=30, severity="BLOCKER"),
        issue(file="src/Other.java"),
        issue(
            "java:S2076",
            "src/Cmd.java",
            kind="CODE_SMELL",
            impacts=[{"softwareQuality": "SECURITY", "severity": "HIGH"}],
        ),
        issue("java:S1854", "src/Db.java", kind="CODE_SMELL", severity="MAJOR"),
        issue("java:S2259", "src/Db.java", kind="BUG", severity="MAJOR"),
        issue("java:S1481", "src/Db.java", kind="CODE_SMELL", status="CLOSED", resolution="FIXED"),
        rules=[{"key": "java:S3649", "name": "Database queries should not be vulnerable to injection attacks"}],
    )
    recs, ctx = parsed(write(tmp_path, doc))
    assert coverage(recs) == [] and ctx.report.warnings == []
    got = {(f.weakness.vuln_id, f.path): (f.status, f.weakness.severity) for f in findings(recs)}
    assert got == {
        ("java:S3649", "src/Db.java"): (FindingStatus.OPEN, Severity.CRITICAL),
        ("java:S3649", "src/Other.java"): (FindingStatus.OPEN, Severity.CRITICAL),
        ("java:S2076", "src/Cmd.java"): (FindingStatus.OPEN, Severity.HIGH),  # a SECURITY impact
        ("java:S1854", "src/Db.java"): (FindingStatus.OPEN, Severity.INFO),  # code smell: informational
        ("java:S2259", "src/Db.java"): (FindingStatus.OPEN, Severity.INFO),  # bug: informational
    }
    first = findings(recs)[0]
    w = first.weakness
    assert (w.tool, w.name, w.family, w.cwes, w.cves) == (
        "SonarQube",
        "Database queries should not be vulnerable to injection attacks",
        "Vulnerability",
        ("89",),
        (),
    )
    assert first.evidence == "Line 10: Fix line 10.\nLine 30: Fix line 30."
    assert first.asset.kind is AssetKind.REPOSITORY and first.asset.name == "acme-web"
    assert first.observed_at == WHEN and first.since == dt.datetime(2025, 10, 16, 15, 5, 35)


@pytest.mark.parametrize(
    ("status", "resolution", "expected"),
    [
        ("OPEN", None, FindingStatus.OPEN),
        ("CONFIRMED", None, FindingStatus.OPEN),
        ("REOPENED", None, FindingStatus.OPEN),
        ("RESOLVED", "FIXED", FindingStatus.FIXED),
        ("CLOSED", "FIXED", FindingStatus.FIXED),
        ("CLOSED", "REMOVED", FindingStatus.FIXED),
        ("RESOLVED", "FALSE-POSITIVE", FindingStatus.SET_ASIDE),
        ("RESOLVED", "WONTFIX", FindingStatus.SET_ASIDE),
        ("ACCEPTED", None, FindingStatus.SET_ASIDE),  # SonarQube 10 issueStatus
        ("FIXED", None, FindingStatus.FIXED),
    ],
)
def test_issue_statuses(tmp_path: Path, status: str, resolution: str | None, expected: FindingStatus) -> None:
    (f,) = findings(
        parse(
            write(
                tmp_path, issues_page(issue(status=status, resolution=resolution, closeDate="2026-01-20T10:00:00+0100"))
            )
        )
    )
    assert f.status is expected
    if expected is FindingStatus.FIXED:
        assert f.observed_at == dt.datetime(2026, 1, 20, 9, 0) and f.since is None  # closed at its closeDate
    else:
        assert f.observed_at == WHEN


def test_open_beats_set_aside_beats_fixed_in_one_file(tmp_path: Path) -> None:
    doc = issues_page(
        issue(line=1, status="CLOSED", resolution="FIXED"),
        issue(line=2, status="RESOLVED", resolution="WONTFIX"),
        issue("java:S2", line=3, status="CLOSED", resolution="FIXED"),
        issue("java:S2", line=4, status="OPEN"),
    )
    got = {f.weakness.vuln_id: (f.status, f.evidence) for f in findings(parse(write(tmp_path, doc)))}
    assert got == {
        "java:S3649": (FindingStatus.SET_ASIDE, "Line 2: Fix line 2."),
        "java:S2": (FindingStatus.OPEN, "Line 4: Fix line 4."),
    }


def test_odd_values_are_read_past(tmp_path: Path) -> None:
    doc = issues_page(
        issue(severity="SEVERE"),
        issue("r:2", status="PARKED"),
        issue("r:3", status="RESOLVED", resolution="SUPPRESSED"),
        issue("r:4", kind="ODDITY"),
        {"key": "x"},
        "not an issue",
    )
    recs, ctx = parsed(write(tmp_path, doc))
    got = {f.weakness.vuln_id: (f.status, f.weakness.severity) for f in findings(recs)}
    assert got == {
        "java:S3649": (FindingStatus.OPEN, Severity.MEDIUM),
        "r:2": (FindingStatus.OPEN, Severity.HIGH),
        "r:3": (FindingStatus.SET_ASIDE, Severity.HIGH),
        "r:4": (FindingStatus.OPEN, Severity.INFO),
    }
    assert ctx.report.skipped == 2
    assert ctx.report.warnings[:4] == [
        "issue 1 (java:S3649): severity 'SEVERE' not recognised; rated Moderate",
        "issue 2 (r:2): status 'PARKED' not recognised; kept open",
        "issue 3 (r:3): status 'RESOLVED SUPPRESSED' read as set aside",
        "issue 4 (r:4): type 'ODDITY' is not one of SonarQube's; not read as a weakness",
    ]


def test_hotspots_page(tmp_path: Path) -> None:
    def hotspot(
        rule: str, line: int, probability: str = "HIGH", status: str = "TO_REVIEW", resolution: str | None = None
    ) -> dict[str, Any]:
        found = {
            "key": f"h{line}",
            "component": "keyfoot",
            "project": "acme-web",
            "securityCategory": "xss",
            "vulnerabilityProbability": probability,
            "status": status,
            "line": line,
            "message": "Make sure this is safe.",
            "creationDate": "2024-02-13T09:15:26+0000",
            "ruleKey": rule,
        }
        return {**found, "resolution": resolution} if resolution else found

    doc = {
        "paging": {"pageIndex": 1, "total": 4},
        "hotspots": [
            hotspot("ts:S5247", 1),
            hotspot("ts:S1", 2, "LOW", "REVIEWED", "SAFE"),
            hotspot("ts:S2", 3, "MEDIUM", "REVIEWED", "FIXED"),
            hotspot("ts:S3", 4, "LOW", "REVIEWED", "ACKNOWLEDGED"),
        ],
        "components": [{"key": "keyfoot", "qualifier": "FIL", "path": "src/app/footer.html"}],
    }
    path = write(tmp_path, doc)
    with path.open("rb") as f:
        assert SonarQubeParser().sniff(read_head(f))
    got = {f.weakness.vuln_id: (f.status, f.weakness.severity, f.path) for f in findings(parse(path))}
    assert got == {
        "ts:S5247": (FindingStatus.OPEN, Severity.HIGH, "src/app/footer.html"),
        "ts:S1": (FindingStatus.SET_ASIDE, Severity.LOW, "src/app/footer.html"),
        "ts:S2": (FindingStatus.FIXED, Severity.MEDIUM, "src/app/footer.html"),
        "ts:S3": (FindingStatus.OPEN, Severity.LOW, "src/app/footer.html"),
    }


def sonar_report(*issues: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "date": "Thursday, Jan 18, 2024",
        "projectName": "Vulnerable app",
        "inNewCodePeriod": False,
        "allBugs": False,
        "sonarBaseURL": "https://sonar.example.com",
        "sonarComponent": "vulnerable-app",
        "rules": {
            "python:S4502": {
                "name": "Disabling CSRF protections is security-sensitive",
                "htmlDesc": "<p>CSRF <b>bad</b></p>",
                "severity": "CRITICAL",
            }
        },
        "issues": list(issues),
        "hotspotKeys": ["h1"],
        **extra,
    }


def report_issue(
    rule: str = "python:S4502", line: int = 8, key: str = "h1", severity: str = "CRITICAL"
) -> dict[str, Any]:
    return {
        "rule": rule,
        "severity": severity,
        "status": "TO_REVIEW",
        "component": "app.py",
        "line": line,
        "description": "x",
        "message": "Make sure.",
        "key": key,
    }


def test_sonar_report_covers_its_project(tmp_path: Path) -> None:
    recs, ctx = parsed(write(tmp_path, sonar_report(report_issue(), report_issue("python:S1", 3, "v1", "MAJOR"))))
    (cov,) = coverage(recs)
    assert (cov.asset.name, cov.started_at) == ("vulnerable-app", dt.datetime(2024, 1, 18))
    csrf, other = findings(recs)
    assert (csrf.weakness.name, csrf.weakness.description, csrf.weakness.family, csrf.path) == (
        "Disabling CSRF protections is security-sensitive",
        "CSRF bad",
        "Security Hotspot",
        "app.py",
    )
    assert (other.weakness.severity, other.weakness.family, other.observed_at) == (
        Severity.MEDIUM,
        "Vulnerability",
        dt.datetime(2024, 1, 18),
    )
    new_code, ctx = parsed(write(tmp_path, sonar_report(report_issue(), inNewCodePeriod=True)))
    assert coverage(new_code) == [] and ctx.report.warnings == [
        "report: limited to new code: nothing is closed by absence"
    ]
    bugs, ctx = parsed(write(tmp_path, sonar_report(report_issue(), allBugs=True)))
    assert len(coverage(bugs)) == 1 and "allBugs" in ctx.report.warnings[0]
    odd, ctx = parsed(write(tmp_path, sonar_report(report_issue(), date="someday")), scan_date=None, file_time=WHEN)
    assert findings(odd)[0].observed_at == WHEN and ctx.report.used_file_time


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"issues": {}}', "no issues or hotspots list"),
        ('[1, "x"]\n{"foo": 1}', "document 2: not a SonarQube JSON document"),
        ("{", "not valid JSON"),
    ],
)
def test_broken_files_are_refused(tmp_path: Path, doc: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, doc))


# --- the corpus -----------------------------------------------------------------------------------

FOLDER = "sonarqube_json"
EXPECTED = {  # file: (findings, security weaknesses open, informational, covered project), checked by hand
    "defectdojo__api_sonarqube__issues.json": (
        2,
        0,
        2,
        None,
    ),  # 1 bug and 1 open code smell; a code smell resolved as false positive
    "defectdojo__sonarqube__findings_over_api.json": (
        3,
        1,
        2,
        None,
    ),  # the 3 dependency-check issues on the project are one finding
    "defectdojo__sonarqube__findings_over_api_hotspots.json": (4, 4, 0, None),
    "defectdojo__sonarqube__sonar-6-findings.json": (2, 2, 0, "vulnerable-flask-app"),  # 2 rules in 1 file (6 hotspots)
    "defectdojo__sonarqube__sonar-no-finding.json": (0, 0, 0, "vulnerable-flask-app"),
    "defectdojo__sonarqube__sonar-single-finding.json": (1, 1, 0, "vulnerable-flask-app"),
}


def corpus_files() -> list[Path]:
    return sorted(corpus_dir(FOLDER).iterdir())


def _independent(doc: Any) -> set[tuple[str, str]]:
    """(rule, file) of the documented lists, read with plain json."""
    issues = doc if isinstance(doc, list) else doc.get("issues") or doc.get("hotspots") or []
    paths = {c["key"]: c.get("path") for c in ([] if isinstance(doc, list) else doc.get("components", []))}
    out = set()
    for i in issues:
        if i.get("resolution") and i.get("type") in ("CODE_SMELL", "BUG"):
            continue
        component = i["component"]
        path = paths.get(component) or (component.split(":", 1)[1] if ":" in component else component)
        out.add((i.get("rule") or i["ruleKey"], "" if component == i.get("project") else path.replace("//", "/")))
    return out


@pytest.mark.corpus
def test_every_corpus_file_with_hand_checked_counts() -> None:
    files = corpus_files()
    assert {p.name for p in files} == set(EXPECTED)
    for path in files:
        recs, ctx = parsed(path)
        found = findings(recs)
        total, weaknesses, informational, project = EXPECTED[path.name]
        assert len(found) == total, path.name
        assert sum(f.weakness.severity is not Severity.INFO for f in found) == weaknesses, path.name
        assert sum(f.weakness.severity is Severity.INFO for f in found) == informational, path.name
        assert [c.asset.name for c in coverage(recs)] == ([project] if project else []), path.name
        assert {(f.weakness.vuln_id, f.path or "") for f in found} == _independent(json.loads(path.read_text())), (
            path.name
        )
        assert ctx.report.warnings == [] and isinstance(recs[-1], Scan), path.name


@pytest.mark.corpus
def test_corpus_ratings_and_dependency_check_issues() -> None:
    folder = corpus_dir(FOLDER)
    six = {f.weakness.vuln_id: f for f in findings(parse(folder / "defectdojo__sonarqube__sonar-6-findings.json"))}
    assert six["python:S4502"].weakness.severity is Severity.HIGH  # CRITICAL (DefectDojo: High)
    assert six["python:S4792"].weakness.severity is Severity.LOW  # MINOR, 5 lines (DefectDojo: 5 Low findings)
    assert six["python:S4792"].evidence is not None and six["python:S4792"].evidence.count("Line ") == 5
    assert six["python:S4792"].weakness.cves == ()  # the CVEs the rule's description cites are not the finding's
    api = findings(parse(folder / "defectdojo__sonarqube__findings_over_api.json"))
    (dependency,) = [f for f in api if f.weakness.severity is not Severity.INFO]
    assert (dependency.path, dependency.weakness.severity) == (None, Severity.HIGH)
    assert set(dependency.weakness.cves) == {"CVE-2024-2529", "CVE-2023-52428"}


def test_sniff_claims_exactly_the_sonarqube_folder() -> None:
    assert_sniff_claims_exactly(SonarQubeParser(), FOLDER)


@pytest.mark.corpus
def test_mutated_corpus_files_give_input_errors_or_records() -> None:
    only_input_errors(SonarQubeParser(), FOLDER)


# --- end to end ---------------------------------------------------------------------------------


def test_sonar_reports_close_what_is_gone_and_api_pages_only_through_fixes(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(SonarQubeParser())

    def report(day: int, *issues: dict[str, Any], component: str = "vulnerable-app") -> Any:
        doc = sonar_report(*issues, date=f"2026-01-{day:02d}", sonarComponent=component)
        return import_file(engine, write(tmp_path, doc, f"{day}.json"))

    jan = report(5, report_issue(), report_issue("python:S1", 3, "v1", "MAJOR"))
    assert (jan.format, jan.tool, jan.assets_covered, jan.items_opened) == ("sonarqube", "SonarQube", 1, 2)
    feb = report(6, report_issue())
    assert (feb.fixed_findings, feb.items_closed) == (1, 1)
    other = report(7, component="other-app")
    assert (other.assets_covered, other.fixed_findings) == (1, 0)
    back = report(8, report_issue(), report_issue("python:S1", 3, "v1", "MAJOR"))
    assert (back.new_findings, back.items_opened) == (1, 1)  # S1 is back after its item closed
    page = issues_page(issue("python:S1", "app.py", 3, project="vulnerable-app"))
    listed = import_file(engine, write(tmp_path, page, "page.json"), scan_date=dt.datetime(2026, 1, 9))
    assert (listed.assets_covered, listed.fixed_findings, listed.new_findings) == (0, 0, 0)
    gone = issues_page(
        issue(
            "python:S1",
            "app.py",
            3,
            project="vulnerable-app",
            status="CLOSED",
            resolution="FIXED",
            closeDate="2026-01-10T10:00:00+0000",
        )
    )
    fixed = import_file(engine, write(tmp_path, gone, "gone.json"))  # no --scan-date: the fix keeps its closeDate
    assert (fixed.fixed_findings, fixed.items_closed) == (1, 1)
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    s1 = sorted((i for i in items if i.source_identifier == "python:S1"), key=lambda i: i.poam_id)
    assert [i.status for i in s1] == [ItemStatus.CLOSED, ItemStatus.CLOSED]
    assert s1[1].closed_at == dt.date(2026, 1, 10)
    csrf = next(i for i in items if i.source_identifier == "python:S4502")
    assert [a.text for a in csrf.assets] == ["vulnerable-app (app.py)"] and csrf.status is ItemStatus.OPEN
