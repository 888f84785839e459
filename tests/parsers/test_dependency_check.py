"""The OWASP Dependency-Check parsers (XML and JSON reports) on hand-written reports and on the
real files of the corpus."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from lxml import etree
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.dependency_check import DependencyCheckJsonParser, DependencyCheckXmlParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_trivy import only_input_errors

FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
NS = "https://jeremylong.github.io/DependencyCheck/dependency-check.4.1.xsd"
FALLBACK = "; a fallback identity, so this file gives its asset no coverage"


def parse_ctx(path: Path, parser: Any, **ctx: Any) -> tuple[list[Any], ParseContext]:
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(parser.parse(f, context)), context


def parser_for(path: Path) -> Any:
    return DependencyCheckJsonParser() if path.suffix == ".json" else DependencyCheckXmlParser()


def parse(path: Path, **ctx: Any) -> list[Any]:
    return parse_ctx(path, parser_for(path), **ctx)[0]


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


# --- hand-written reports, in both formats -------------------------------------------------------


def v3(score: float = 9.8, severity: str = "CRITICAL") -> dict[str, Any]:
    return {
        "baseScore": score,
        "attackVector": "NETWORK",
        "attackComplexity": "LOW",
        "privilegesRequired": "NONE",
        "userInteraction": "NONE",
        "scope": "UNCHANGED",
        "confidentialityImpact": "HIGH",
        "integrityImpact": "HIGH",
        "availabilityImpact": "HIGH",
        "baseSeverity": severity,
        "version": "3.1",
    }


def v2(score: float = 7.5) -> dict[str, Any]:
    return {
        "score": score,
        "accessVector": "NETWORK",
        "accessComplexity": "LOW",
        "authenticationr": "NONE",
        "confidentialityImpact": "PARTIAL",
        "integrityImpact": "PARTIAL",
        "availabilityImpact": "PARTIAL",
        "severity": "HIGH",
        "version": "2.0",
    }


def vulnerability(name: str, severity: str | None = "HIGH", **extra: Any) -> dict[str, Any]:
    v: dict[str, Any] = {
        "source": "NVD",
        "name": name,
        "description": f"About {name}",
        "references": [{"source": "MISC", "url": f"https://example.org/{name}", "name": name}],
        "vulnerableSoftware": [],
    }
    if severity is not None:
        v["severity"] = severity
    return {**v, **extra}


def dependency(
    file_name: str,
    purl: str | None,
    vulns: list[Any],
    suppressed: list[Any] | None = None,
    path: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    dep: dict[str, Any] = {
        "isVirtual": False,
        "fileName": file_name,
        "filePath": path or f"/app/lib/{file_name}",
        "vulnerabilities": vulns,
        **extra,
    }
    if purl:
        dep["packages"] = [{"id": purl, "confidence": "HIGHEST"}]
    if suppressed:
        dep["suppressedVulnerabilities"] = suppressed
    return dep


def json_report(
    deps: list[Any],
    name: str = "acme-api",
    date: str | None = "2026-01-05T10:00:00.123456789Z",
    exceptions: list[str] | None = None,
) -> dict[str, Any]:
    info: dict[str, Any] = {"name": name}
    if date is not None:
        info["reportDate"] = date
    scan: dict[str, Any] = {"engineVersion": "9.0.9", "dataSource": []}
    if exceptions:
        scan["analysisExceptions"] = [{"exception": {"message": m}} for m in exceptions]
    return {"reportSchema": "1.1", "scanInfo": scan, "projectInfo": info, "dependencies": deps}


def _xml_block(tag: str, values: dict[str, Any]) -> str:
    return f"<{tag}>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in values.items()) + f"</{tag}>"


def _xml_vuln(v: dict[str, Any], tag: str) -> str:
    parts = [f"<name>{escape(v['name'])}</name>"]
    if "severity" in v:
        parts.append(f"<severity>{escape(v['severity'])}</severity>")
    for key, xml_tag in (("cvssv2", "cvssV2"), ("cvssv3", "cvssV3")):
        if key in v:
            parts.append(_xml_block(xml_tag, v[key]))
    if v.get("cwes"):
        parts.append("<cwes>" + "".join(f"<cwe>{c}</cwe>" for c in v["cwes"]) + "</cwes>")
    parts.append(f"<description>{escape(v['description'])}</description>")
    if v.get("notes"):
        parts.append(f"<notes>{escape(v['notes'])}</notes>")
    parts.append("<references>" + "".join(_xml_block("reference", r) for r in v["references"]) + "</references>")
    soft = "".join(
        "<software"
        + "".join(f' {k}="{escape(str(val))}"' for k, val in s.items() if k != "id")
        + f">{escape(s['id'])}</software>"
        for s in (w["software"] for w in v["vulnerableSoftware"])
    )
    parts.append(f"<vulnerableSoftware>{soft}</vulnerableSoftware>")
    return f'<{tag} source="{v["source"]}">' + "".join(parts) + f"</{tag}>"


def xml_report(report: dict[str, Any]) -> str:
    """The XML report of the same content as a JSON report built above."""
    info, scan = report["projectInfo"], report["scanInfo"]
    exceptions = "".join(
        f"<exception><message>{escape(e['exception']['message'])}</message></exception>"
        for e in scan.get("analysisExceptions", [])
    )
    deps = []
    for d in report["dependencies"]:
        ids = "".join(
            f'<package confidence="HIGHEST"><id>{escape(p["id"])}</id></package>' for p in d.get("packages", [])
        )
        related = "".join(
            f"<relatedDependency><fileName>{escape(r['fileName'])}</fileName><filePath>{escape(r['filePath'])}</filePath>"
            "</relatedDependency>"
            for r in d.get("relatedDependencies", [])
        )
        vulns = "".join(_xml_vuln(v, "vulnerability") for v in d["vulnerabilities"])
        vulns += "".join(_xml_vuln(v, "suppressedVulnerability") for v in d.get("suppressedVulnerabilities", []))
        deps.append(
            f'<dependency isVirtual="false"><fileName>{escape(d["fileName"])}</fileName>'
            f"<filePath>{escape(d['filePath'])}</filePath><md5/><sha1/><sha256/>"
            + (f"<relatedDependencies>{related}</relatedDependencies>" if related else "")
            + "<evidenceCollected/>"
            + (f"<identifiers>{ids}</identifiers>" if ids else "")
            + (f"<vulnerabilities>{vulns}</vulnerabilities>" if vulns else "")
            + "</dependency>"
        )
    date = f"<reportDate>{info['reportDate']}</reportDate>" if "reportDate" in info else ""
    exc = f"<analysisExceptions>{exceptions}</analysisExceptions>" if exceptions else ""
    return (
        f'<?xml version="1.0"?>\n<analysis xmlns="{NS}">'
        f"<scanInfo><engineVersion>{scan['engineVersion']}</engineVersion>"
        f"{exc}</scanInfo><projectInfo><name>{escape(info['name'])}</name>{date}<credits>NVD</credits></projectInfo>"
        f"<dependencies>{''.join(deps)}</dependencies></analysis>\n"
    )


def write(tmp_path: Path, report: dict[str, Any], kind: str, name: str = "dependency-check-report") -> Path:
    path = tmp_path / f"{name}.{kind}"
    path.write_text(json.dumps(report) if kind == "json" else xml_report(report))
    return path


def matched(cpe: str, **bounds: str) -> list[dict[str, Any]]:
    return [{"software": {"id": cpe, "vulnerabilityIdMatched": "true", **bounds}}]


@pytest.mark.parametrize("kind", ["json", "xml"])
def test_fields_of_a_vulnerable_dependency(tmp_path: Path, kind: str) -> None:
    log4j = vulnerability(
        "CVE-2021-44228",
        "CRITICAL",
        cvssv3=v3(10.0),
        cvssv2=v2(9.3),
        cwes=["CWE-502", "CWE-400"],
        vulnerableSoftware=matched("cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*", versionEndExcluding="2.15.0"),
    )
    dep = dependency(
        "log4j-core-2.14.1.jar",
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        [log4j],
        relatedDependencies=[
            {"fileName": "other.ear: log4j-core-2.14.1.jar", "filePath": "/opt/other.ear/log4j-core-2.14.1.jar"}
        ],
    )
    path = write(tmp_path, json_report([dep]), kind)
    with path.open("rb") as f:
        assert parser_for(path).sniff(read_head(f))
    records = parse(path)
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name, cov.checks, cov.started_at) == (
        AssetKind.REPOSITORY,
        "acme-api",
        Checks.VULNERABILITY,
        dt.datetime(2026, 1, 5, 10, 0, 0, 123456),
    )
    (f,) = findings(records)
    w = f.weakness
    assert (w.tool, w.vuln_id, w.name, w.severity, w.cves, w.cwes, w.family) == (
        "OWASP Dependency-Check",
        "CVE-2021-44228",
        "CVE-2021-44228",
        Severity.CRITICAL,
        ("CVE-2021-44228",),
        ("502", "400"),
        "NVD",
    )
    assert (w.cvss3_score, w.cvss3_vector, w.cvss2_score, w.cvss2_vector) == (
        10.0,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        9.3,
        "AV:N/AC:L/Au:N/C:P/I:P/A:P",
    )
    assert (w.solution, w.see_also, w.description) == (
        "Upgrade apache log4j to 2.15.0",
        "https://example.org/CVE-2021-44228",
        "About CVE-2021-44228",
    )
    assert (f.path, f.status, f.observed_at) == (
        "pkg:maven/org.apache.logging.log4j/log4j-core",
        FindingStatus.OPEN,
        dt.datetime(2026, 1, 5, 10, 0, 0, 123456),
    )
    assert f.evidence == (
        "log4j-core-2.14.1.jar version 2.14.1; at /app/lib/log4j-core-2.14.1.jar; also at "
        "/opt/other.ear/log4j-core-2.14.1.jar; source NVD; not affected from 2.15.0 (apache log4j)"
    )
    assert records[-1] == Scan(
        "OWASP Dependency-Check",
        "9.0.9",
        "acme-api",
        dt.datetime(2026, 1, 5, 10, 0, 0, 123456),
        dt.datetime(2026, 1, 5, 10, 0, 0, 123456),
    )


@pytest.mark.parametrize("kind", ["json", "xml"])
@pytest.mark.parametrize(
    ("severity", "extra", "expected"),
    [
        ("CRITICAL", {}, Severity.CRITICAL),
        ("HIGH", {}, Severity.HIGH),
        ("MEDIUM", {}, Severity.MEDIUM),
        ("moderate", {}, Severity.MEDIUM),  # npm's word
        ("LOW", {"cvssv3": v3(9.8)}, Severity.LOW),  # the word wins
        ("Unknown", {"cvssv3": v3(7.5, "HIGH")}, Severity.HIGH),
        ("Unknown", {}, Severity.LOW),
        (None, {"cvssv3": v3(5.3, "MEDIUM")}, Severity.MEDIUM),  # no word: the v3 base severity
        (None, {"cvssv2": v2(7.5)}, Severity.HIGH),
        ("6.1", {}, Severity.MEDIUM),  # an unscored source's number: a score
    ],
)
def test_severity(tmp_path: Path, kind: str, severity: str | None, extra: dict[str, Any], expected: Severity) -> None:
    dep = dependency("a.jar", "pkg:maven/g/a@1", [vulnerability("CVE-1", severity, **extra)])
    records, ctx = parse_ctx(
        write(tmp_path, json_report([dep]), kind),
        DependencyCheckJsonParser() if kind == "json" else DependencyCheckXmlParser(),
    )
    assert findings(records)[0].weakness.severity is expected and ctx.report.warnings == []


@pytest.mark.parametrize("kind", ["json", "xml"])
def test_suppressed_vulnerabilities_are_set_aside_with_the_identity_of_open_ones(tmp_path: Path, kind: str) -> None:
    deps = [
        dependency(
            "a-1.jar",
            "pkg:maven/g/a@1",
            [vulnerability("CVE-1")],
            [vulnerability("CVE-2", "CRITICAL", notes="Not reachable from our code.")],
        ),
        dependency("a-1.jar", "pkg:maven/g/a@1", [], [vulnerability("CVE-1", "CRITICAL")], path="/other/a-1.jar"),
    ]
    records, ctx = parse_ctx(write(tmp_path, json_report(deps), kind), parser_for(Path(f"x.{kind}")))
    got = {(f.weakness.vuln_id, f.path): f for f in findings(records)}
    assert {k: f.status for k, f in got.items()} == {
        ("CVE-1", "pkg:maven/g/a"): FindingStatus.OPEN,  # an open record wins over a suppressed one
        ("CVE-2", "pkg:maven/g/a"): FindingStatus.SET_ASIDE,
    }
    assert got[("CVE-1", "pkg:maven/g/a")].weakness.severity is Severity.HIGH  # the open record's word
    assert "suppressed: Not reachable from our code." in (got[("CVE-2", "pkg:maven/g/a")].evidence or "")
    assert len(coverage(records)) == 1 and ctx.report.warnings == []


@pytest.mark.parametrize("kind", ["json", "xml"])
def test_locations_without_a_package_url_and_packages_at_several_paths(tmp_path: Path, kind: str) -> None:
    deps = [
        dependency(
            "dom4j-2.1.1.jar", "pkg:maven/org.dom4j/dom4j@2.1.1", [vulnerability("CVE-1")], path="/a/dom4j-2.1.1.jar"
        ),
        dependency(
            "dom4j-2.1.1.jar", "pkg:maven/org.dom4j/dom4j@2.1.1", [vulnerability("CVE-1")], path="/b/dom4j-2.1.1.jar"
        ),
        dependency("native.dll", None, [vulnerability("CVE-1")], path="C:\\app\\native.dll"),
        dependency("yargs-parser:5.0.0", "pkg:npm/yargs-parser@5.0.0", [vulnerability("1500", "low", source="NPM")]),
    ]
    got = {(f.weakness.vuln_id, f.path): f for f in findings(parse(write(tmp_path, json_report(deps), kind)))}
    assert set(got) == {
        ("CVE-1", "pkg:maven/org.dom4j/dom4j"),
        ("CVE-1", "C:\\app\\native.dll"),
        ("1500", "pkg:npm/yargs-parser"),
    }
    evidence = got[("CVE-1", "pkg:maven/org.dom4j/dom4j")].evidence or ""
    assert "at /a/dom4j-2.1.1.jar" in evidence and "at /b/dom4j-2.1.1.jar" in evidence


@pytest.mark.parametrize("kind", ["json", "xml"])
def test_analysis_exceptions_and_unnamed_projects_cover_nothing(tmp_path: Path, kind: str) -> None:
    dep = dependency("a.jar", "pkg:maven/g/a@1", [vulnerability("CVE-1")])
    path = write(tmp_path, json_report([dep], exceptions=["OSS Index: 401 Unauthorized\n\tat x"]), kind)
    records, ctx = parse_ctx(path, parser_for(path))
    assert coverage(records) == [] and len(findings(records)) == 1
    assert ctx.report.warnings == [
        "report: Dependency-Check reported 1 analysis exception(s) (first: OSS Index: 401 Unauthorized); some "
        "vulnerabilities may be missing: no coverage, so this file closes nothing"
    ]
    for name in ("", "${projName}"):
        path = write(tmp_path, json_report([dep], name=name), kind, "unnamed")
        records = parse(path)
        assert coverage(records) == [] and findings(records)[0].asset.name == "unnamed"
        assert [c.asset.name for c in coverage(parse(path, asset_name="git.example.com/acme/api"))] == [
            "git.example.com/acme/api"
        ]


@pytest.mark.parametrize("kind", ["json", "xml"])
def test_dates_from_the_report_else_the_file_time(tmp_path: Path, kind: str) -> None:
    dep = dependency("a.jar", "pkg:maven/g/a@1", [vulnerability("CVE-1")])
    records, ctx = parse_ctx(write(tmp_path, json_report([dep], date=None), kind), parser_for(Path(f"x.{kind}")))
    assert findings(records)[0].observed_at == FILE_TIME and ctx.report.used_file_time
    records, ctx = parse_ctx(
        write(tmp_path, json_report([dep], date="2016-11-05T14:52:15.748-0400"), kind), parser_for(Path(f"x.{kind}"))
    )
    assert findings(records)[0].observed_at == dt.datetime(2016, 11, 5, 18, 52, 15, 748000)
    records, ctx = parse_ctx(write(tmp_path, json_report([dep], date="soon"), kind), parser_for(Path(f"x.{kind}")))
    assert findings(records)[0].observed_at == FILE_TIME
    assert ctx.report.warnings == [
        "report: reportDate 'soon' is not a date; dated by --scan-date, else the file's modification time"
    ]


def test_odd_json_records_are_warned_or_left_out_and_withhold_coverage(tmp_path: Path) -> None:
    deps = [
        dependency("a.jar", "pkg:maven/g/a@1", [vulnerability("CVE-1", "severe"), "junk", {"severity": "HIGH"}]),
        "junk",
        {"vulnerabilities": [vulnerability("CVE-2")]},
    ]
    records, ctx = parse_ctx(write(tmp_path, json_report(deps), "json"), DependencyCheckJsonParser())
    got = {(f.weakness.vuln_id, f.path): f for f in findings(records)}
    assert set(got) == {("CVE-1", "pkg:maven/g/a"), ("CVE-2", "(unknown package)")}
    assert got[("CVE-1", "pkg:maven/g/a")].weakness.severity is Severity.MEDIUM
    assert coverage(records) == [] and ctx.report.skipped == 3
    assert ctx.report.warnings == [
        "dependency 1 (a.jar), vulnerability 1 (CVE-1): severity 'severe' not recognised; rated Moderate",
        "dependency 1 (a.jar), vulnerability 2: not an object; left out",
        "dependency 1 (a.jar), vulnerability 3: no vulnerability name; left out",
        "dependency 2: not an object; left out",
        f"dependency 3 (unnamed): no package URL, fileName or filePath; package '(unknown package)'{FALLBACK}",
        "asset acme-api: a record could not be read; no coverage, so this file closes nothing on it",
    ]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ('{"reportSchema": "1.1", "dependencies": {}}', "r.json", "dependencies is a dict, not a list"),
        ('{"reportSchema": "1.1", "scanInfo": {}}', "r.json", "not a Dependency-Check JSON report"),
        ('{"reportSchema": "1.1", "dependencies": [{"vulnerabilities": {}}]}', "r.json", "vulnerabilities is a dict"),
        ('{"reportSchema": "1.1", "dependencies": []}\n[]', "r.json", "report 2 is not a Dependency-Check"),
        ('<?xml version="1.0"?><report><dependencies/></report>', "r.xml", "no <analysis> root"),
        (f'<?xml version="1.0"?><analysis xmlns="{NS}"><dependencies>', "r.xml", "not well-formed XML"),
        (
            f'<?xml version="1.0"?><!DOCTYPE analysis [<!ENTITY x "y">]><analysis xmlns="{NS}"><dependencies/>'
            "</analysis>",
            "r.xml",
            "entity declarations are not accepted",
        ),
    ],
)
def test_broken_structure_is_an_input_error(tmp_path: Path, content: str, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        parse(path)


def test_xml_of_schema_1_with_legacy_cvss_and_maven_identifiers(tmp_path: Path) -> None:
    xml = """<?xml version="1.0"?>
<analysis xmlns="https://jeremylong.github.io/DependencyCheck/dependency-check.1.3.xsd">
  <scanInfo></scanInfo>
  <projectInfo><name>Legacy</name><reportDate>2016-11-05T14:52:15.748-0400</reportDate></projectInfo>
  <dependencies><dependency><fileName>library-6.7.8.jar</fileName><filePath>/lib/library-6.7.8.jar</filePath>
    <identifiers><identifier type="maven" confidence="HIGHEST"><name>org.owasp:library:6.7.8</name></identifier>
    </identifiers>
    <vulnerabilities><vulnerability><name>CVE-0000-0001</name><cvssScore>7.5</cvssScore>
      <cvssAccessVector>NETWORK</cvssAccessVector><cvssAccessComplexity>LOW</cvssAccessComplexity>
      <cvssAuthenticationr>NONE</cvssAuthenticationr><cvssConfidentialImpact>PARTIAL</cvssConfidentialImpact>
      <cvssIntegrityImpact>PARTIAL</cvssIntegrityImpact><cvssAvailabilityImpact>PARTIAL</cvssAvailabilityImpact>
      <severity>Moderate</severity><cwe>CWE-79 Cross-site Scripting</cwe><description>Bad
          vulnerability.</description></vulnerability></vulnerabilities>
  </dependency></dependencies>
</analysis>"""
    path = tmp_path / "legacy.xml"
    path.write_text(xml)
    (f,) = findings(parse(path))
    assert (f.path, f.weakness.severity, f.weakness.cvss2_score, f.weakness.cvss2_vector, f.weakness.cwes) == (
        "pkg:maven/org.owasp/library",
        Severity.MEDIUM,
        7.5,
        "AV:N/AC:L/Au:N/C:P/I:P/A:P",
        ("79",),
    )
    assert f.weakness.description == "Bad vulnerability."


def test_several_json_reports_in_one_file_are_one_import(tmp_path: Path) -> None:
    one = json_report([dependency("a.jar", "pkg:maven/g/a@1", [vulnerability("CVE-1")])])
    two = json_report(
        [dependency("a.jar", "pkg:maven/g/a@1", [vulnerability("CVE-1", "CRITICAL")])],
        name="acme-web",
        date="2026-01-07T09:00:00Z",
    )
    path = tmp_path / "both.json"
    path.write_text(json.dumps(one) + "\n" + json.dumps(two) + "\n")
    with path.open("rb") as f:
        assert DependencyCheckJsonParser().sniff(read_head(f))
    records = parse(path)
    assert [(c.asset.name, c.started_at) for c in coverage(records)] == [
        ("acme-api", dt.datetime(2026, 1, 5, 10, 0, 0, 123456)),
        ("acme-web", dt.datetime(2026, 1, 7, 9, 0)),
    ]
    assert {f.weakness.severity for f in findings(records)} == {Severity.CRITICAL} and records[-1].name == "2 projects"


# --- the real files of the corpus -----------------------------------------------------------------

# Counted by hand: (vulnerability, location) of open and of suppressed records, and the covered project.
_DOM4J = "pkg:maven/org.dom4j/dom4j"
_YARGS = "pkg:npm/yargs-parser"
_DLL2, _DLL3 = (
    "C:\\\\Projectestproject\\\\libraries\\\\component2.dll",
    "C:\\\\Projectestproject\\\\libraries\\\\component3.dll",
)
EXPECTED: dict[str, tuple[int, int, str | None]] = {
    # engine 7.3.0: 26 vulnerabilities and 8 suppressed ones, each on its own package
    "defectdojo__dependency_check__PR6439.xml": (26, 8, "Business Process Center - Runtime Environment"),
    "defectdojo__dependency_check__dc_empty.xml": (0, 0, None),  # no dependencies, and <name/>: nothing named
    # 7 vulnerability records (two of CVE-0000-0001 on the same dom4j package URL) and 2 suppressed
    "defectdojo__dependency_check__multiple_vulnerabilities_has_multiple_findings.xml": (6, 2, "Test Project"),
    "defectdojo__dependency_check__single_dependency_with_related_no_vulnerability.xml": (0, 0, "Test Project"),
    "defectdojo__dependency_check__single_vuln.xml": (1, 0, "Test Project"),
    "defectdojo__dependency_check__version-6.5.3.xml": (1, 0, None),  # an empty project name
    "qualys-ta-splunk__dependency-check-report.json": (0, 0, None),  # no dependencies; name `${projName}`
}


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("dependency_check").iterdir())


def _independent_xml(path: Path) -> tuple[int, int]:
    """Vulnerability and suppressed records of an XML report, counted with a plain tree walk."""
    root = etree.parse(str(path)).getroot()
    open_ = sum(1 for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname == "vulnerability")
    aside = sum(
        1 for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname == "suppressedVulnerability"
    )
    return open_, aside


@pytest.mark.corpus
def test_every_corpus_file_gives_the_counted_findings() -> None:
    files = corpus_files()
    assert {p.name for p in files} == set(EXPECTED)
    for path in files:
        open_count, aside_count, project = EXPECTED[path.name]
        records = parse(path)
        got = findings(records)
        assert sum(f.status is FindingStatus.OPEN for f in got) == open_count, path.name
        assert sum(f.status is FindingStatus.SET_ASIDE for f in got) == aside_count, path.name
        assert [c.asset.name for c in coverage(records)] == ([project] if project else []), path.name
        if path.suffix == ".xml":
            records_open, records_aside = _independent_xml(path)
            merged = 1 if "multiple_vulnerabilities" in path.name else 0
            assert (records_open - merged, records_aside) == (open_count, aside_count), path.name


@pytest.mark.corpus
def test_corpus_values() -> None:
    folder = corpus_dir("dependency_check")
    multiple = {
        (f.weakness.vuln_id, f.path): f
        for f in findings(
            parse(folder / "defectdojo__dependency_check__multiple_vulnerabilities_has_multiple_findings.xml")
        )
    }
    assert set(multiple) == {
        ("CVE-0000-0001", _DOM4J),
        ("1500", _YARGS),
        ("CVE-2020-7608", _YARGS),
        ("CWE-400: Uncontrolled Resource Consumption ('Resource Exhaustion')", _YARGS),
        ("CVE-0000-0001", _DLL2),
        ("CVE-0000-0001", _DLL3),
        ("CVE-2019-7238", _DLL3),
        ("CVE-2017-1000487", _DLL3),
    }
    assert multiple[("1500", _YARGS)].weakness.severity is Severity.LOW
    assert "unscored" in (multiple[("1500", _YARGS)].evidence or "")
    cwe = multiple[("CWE-400: Uncontrolled Resource Consumption ('Resource Exhaustion')", _YARGS)].weakness
    assert (cwe.cwes, cwe.cvss3_score, cwe.cves) == (("400",), 7.5, ())
    plexus = multiple[("CVE-2017-1000487", _DLL3)]
    assert (plexus.status, plexus.weakness.solution) == (FindingStatus.SET_ASIDE, None)
    big = {
        (f.weakness.vuln_id, f.path): f for f in findings(parse(folder / "defectdojo__dependency_check__PR6439.xml"))
    }
    jackson = big[("CVE-2022-42003", "pkg:maven/com.fasterxml.jackson.core/jackson-databind")]
    assert (jackson.weakness.severity, jackson.weakness.cvss3_score, jackson.weakness.solution) == (
        Severity.HIGH,
        7.5,
        "Upgrade fasterxml jackson-databind to 2.13.4.1",
    )
    assert jackson.observed_at == dt.datetime(2022, 12, 14, 1, 35, 43, 684166)
    log4shell = big[("CVE-2021-44228", "pkg:maven/org.ops4j.pax.logging/pax-logging-log4j2")]
    assert (log4shell.status, log4shell.weakness.cvss3_score) == (FindingStatus.SET_ASIDE, 10.0)
    scan = parse(folder / "defectdojo__dependency_check__PR6439.xml")[-1]
    assert isinstance(scan, Scan) and scan.tool_version == "7.3.0"


def test_sniff_claims_exactly_the_dependency_check_folder() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    claimed: dict[str, set[Path]] = {"xml": set(), "json": set()}
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            head = read_head(f)
            if DependencyCheckXmlParser().sniff(head):
                claimed["xml"].add(path)
            if DependencyCheckJsonParser().sniff(head):
                claimed["json"].add(path)
    files = corpus_files()
    assert claimed["xml"] == {p for p in files if p.suffix == ".xml"}
    assert claimed["json"] == {p for p in files if p.suffix == ".json"}


@pytest.mark.corpus
def test_mutated_corpus_files_give_input_errors_or_records() -> None:
    only_input_errors(DependencyCheckJsonParser(), "dependency_check")


# --- end to end ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["json", "xml"])
def test_a_later_report_closes_what_is_gone_and_a_return_opens_a_new_item(
    engine: Engine, register_parser: Any, tmp_path: Path, kind: str
) -> None:
    register_parser(DependencyCheckXmlParser(), DependencyCheckJsonParser())

    def month(day: int, deps: list[Any], name: str = "acme-api") -> Any:
        report = json_report(deps, name=name, date=f"2026-0{day}-05T10:00:00Z")
        return import_file(engine, write(tmp_path, report, kind, f"{day}-{name}"))

    log4j = dependency(
        "log4j-core-2.14.1.jar", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", [vulnerability("CVE-1")]
    )
    codec = dependency("commons-codec-1.9.jar", "pkg:maven/commons-codec/commons-codec@1.9", [vulnerability("CVE-2")])
    jan = month(1, [log4j, codec])
    assert (jan.format, jan.tool, jan.assets_covered, jan.items_opened) == (
        f"dependency-check-{kind}",
        "OWASP Dependency-Check",
        1,
        2,
    )
    other = month(2, [], name="acme-web")  # another project closes nothing here
    assert (other.assets_covered, other.fixed_findings) == (1, 0)
    upgraded = dependency("log4j-core-2.17.1.jar", "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1", [])
    feb = month(3, [upgraded, codec])
    assert (feb.fixed_findings, feb.items_closed) == (1, 1)
    mar = month(4, [log4j, codec])
    assert (mar.new_findings, mar.items_opened) == (1, 1)
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, None, "t").id, "all")
    cve1 = sorted((i for i in found if i.source_identifier == "CVE-1"), key=lambda i: i.poam_id)
    assert [i.status for i in cve1] == [ItemStatus.CLOSED, ItemStatus.OPEN] and cve1[1].previous_poam_id == cve1[
        0
    ].poam_id
    assert [a.text for a in next(i for i in found if i.source_identifier == "CVE-2").assets] == [
        "acme-api (pkg:maven/commons-codec/commons-codec)"
    ]


def test_a_suppressed_vulnerability_keeps_its_open_finding_open_until_it_is_gone(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(DependencyCheckJsonParser())

    def month(day: int, vulns: list[Any], suppressed: list[Any]) -> Any:
        report = json_report(
            [dependency("a.jar", "pkg:maven/g/a@1", vulns, suppressed)], date=f"2026-0{day}-05T10:00:00Z"
        )
        return import_file(engine, write(tmp_path, report, "json", f"{day}"))

    assert month(1, [vulnerability("CVE-1")], []).items_opened == 1
    feb = month(2, [], [vulnerability("CVE-1", notes="accepted")])
    assert (feb.set_aside, feb.fixed_findings, feb.items_closed) == (1, 0, 0)
    new = month(3, [], [vulnerability("CVE-1"), vulnerability("CVE-9")])
    assert (new.new_findings, new.items_opened) == (0, 0)
    gone = month(4, [], [])
    assert (gone.fixed_findings, gone.items_closed) == (1, 1)


@pytest.mark.corpus
def test_corpus_files_import(engine: Engine, register_parser: Any) -> None:
    register_parser(DependencyCheckXmlParser(), DependencyCheckJsonParser())
    folder = corpus_dir("dependency_check")
    r = import_file(engine, folder / "defectdojo__dependency_check__PR6439.xml")
    assert (r.format, r.assets_covered, r.results, r.set_aside, r.date_source) == (
        "dependency-check-xml",
        1,
        34,
        8,
        "file",
    )
    r = import_file(engine, folder / "qualys-ta-splunk__dependency-check-report.json")
    assert (r.format, r.results, r.assets_covered) == ("dependency-check-json", 0, 0)
