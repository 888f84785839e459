"""The GitLab security report parser on hand-written reports and on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Checks, Coverage, Finding, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers import gitlab
from poam.parsers.base import ParseContext
from poam.parsers.codescan import WITHHELD
from poam.parsers.gitlab import GitlabParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
FOLDER = "gitlab_reports"


def write(tmp_path: Path, doc: Any, name: str = "gl-report.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def parse_ctx(path: Path, **ctx: Any) -> tuple[list[Any], ParseContext]:
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(GitlabParser().parse(f, context)), context


def parse(path: Path, **ctx: Any) -> list[Any]:
    return parse_ctx(path, **ctx)[0]


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def scan(kind: str = "sast", scanner: str = "semgrep", status: str = "success", **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "start_time": "2026-01-05T10:00:00",
        "end_time": "2026-01-05T10:05:00",
        "scanner": {"id": scanner, "name": scanner.title(), "version": "1.2.3", "vendor": {"name": "GitLab"}},
        **extra,
    }


def sast(rule: str = "bandit.B303-1", file: str = "app/db.py", line: int = 10, severity: str = "High", **extra: Any):
    return {
        "id": f"{rule}-{file}-{line}",
        "name": f"Rule {rule}",
        "description": "A weakness.",
        "severity": severity,
        "location": {"file": file, "start_line": line, "end_line": line},
        "identifiers": [
            {"type": "semgrep_id", "name": rule, "value": rule},
            {
                "type": "cwe",
                "name": "CWE-327",
                "value": "327",
                "url": "https://cwe.mitre.org/data/definitions/327.html",
            },
        ],
        **extra,
    }


def report(*vulns: Any, **top: Any) -> dict[str, Any]:
    return {"version": "15.0.0", "vulnerabilities": list(vulns), "scan": scan(), **top}


def dependency(cve: str | None, package: str, version: str, file: str = "service/go.sum", **extra: Any):
    identifiers = [{"type": "gemnasium", "name": "Gemnasium-1", "value": f"gem-{package}"}]
    if cve:
        identifiers.append({"type": "cve", "name": cve, "value": cve})
    return {
        "id": f"{cve}-{package}-{version}",
        "name": f"Bug in {package}",
        "severity": "High",
        "solution": "Upgrade to version 9 or above.",
        "location": {"file": file, "dependency": {"package": {"name": package}, "version": version}},
        "identifiers": identifiers,
        **extra,
    }


# --- the corpus --------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(corpus_dir(FOLDER).iterdir())


def corpus_file(part: str) -> Path:
    (path,) = [p for p in corpus_files() if part in p.name]
    return path


def _primary(vuln: dict[str, Any]) -> str:
    return next(i["value"] for i in vuln["identifiers"] if i["type"].lower() not in ("cwe", "owasp"))


@pytest.mark.corpus
def test_every_corpus_file_matches_an_independent_count() -> None:
    """SAST and secrets: one finding per analyzer, rule and file; dependency: per advisory,
    package and file; container: per advisory and package; DAST: per rule and path."""
    for path in corpus_files():
        doc = json.loads(path.read_text())
        vulns = doc["vulnerabilities"]
        kind = (doc.get("scan") or {}).get("type")
        if kind == "dependency_scanning":
            cve = [
                next(i["value"] for i in v["identifiers"] if i["type"] == "cve")
                if any(i["type"] == "cve" for i in v["identifiers"])
                else _primary(v)
                for v in vulns
            ]
            expected = {
                (c, v["location"]["file"], v["location"]["dependency"]["package"]["name"])
                for c, v in zip(cve, vulns, strict=True)
            }
        elif kind == "container_scanning":
            expected = {(v["cve"], v["location"]["dependency"]["package"]["name"]) for v in vulns}
        elif kind == "dast":
            expected = {(_primary(v), v["location"]["path"]) for v in vulns}
        else:  # SAST and secret detection: the analyzer is the identifier type's prefix here
            expected = {(v["identifiers"][0]["type"], _primary(v), v["location"]["file"]) for v in vulns}
        recs, ctx = parse_ctx(path, asset_name="gitlab.example.com/acme/web")
        assert len(findings(recs)) == len(expected), path.name
        assert ctx.report.skipped == 0 and ctx.report.warning_count == 0, path.name
        assert isinstance(recs[-1], Scan)


@pytest.mark.corpus
def test_corpus_counts_by_hand() -> None:
    """Counts checked by hand against each file (DefectDojo's differ: see the README fragment)."""
    counts = {
        "container-scanning-report-5-vuln": (5, {Severity.HIGH: 4, Severity.MEDIUM: 1}),
        "gitlab_dast_many_vul": (7, {Severity.HIGH: 1, Severity.MEDIUM: 1, Severity.LOW: 5}),
        "dependency-scanning-report-many-vuln": (3, {Severity.HIGH: 2, Severity.LOW: 1}),
        "gl-sast-report-0-vuln": (0, {}),
        "gl-sast-report-1-vuln": (1, {Severity.CRITICAL: 1}),
        "gl-sast-report-many-vuln": (
            109,
            {Severity.CRITICAL: 13, Severity.HIGH: 1, Severity.MEDIUM: 49, Severity.LOW: 46},
        ),
        "secret_detection_report_3_vuln": (3, {Severity.CRITICAL: 3}),
    }
    for part, (total, severities) in counts.items():
        found = findings(parse(corpus_file(part)))
        assert len(found) == total, part
        by: dict[Severity, int] = {}
        for f in found:
            by[f.weakness.severity] = by.get(f.weakness.severity, 0) + 1
        assert by == severities, part


@pytest.mark.corpus
def test_corpus_container_report() -> None:
    recs = parse(corpus_file("container-scanning-report-5-vuln"))
    (cov,) = coverage(recs)
    assert (cov.asset.kind, cov.asset.name, cov.tool) == (
        AssetKind.CONTAINER_IMAGE,
        "registry/vulnerable-project",
        "GitLab Container Scanning (trivy)",
    )
    assert (cov.started_at, cov.ended_at) == (dt.datetime(2021, 6, 1, 21, 20, 59), dt.datetime(2021, 6, 1, 21, 21))
    found = {f.weakness.vuln_id: f for f in findings(recs)}
    assert set(found) == {"CVE-2020-1751", "CVE-2020-1752", "CVE-2021-3326", "CVE-2021-33574", "CVE-2019-25013"}
    f = found["CVE-2020-1751"]
    assert (f.path, f.weakness.name, f.weakness.cves) == ("libc6", "CVE-2020-1751 in libc6", ("CVE-2020-1751",))
    assert f.evidence == "libc6 2.28-10; on debian 10.9" and f.observed_at == dt.datetime(2021, 6, 1, 21, 21)
    scan_ = recs[-1]
    assert isinstance(scan_, Scan) and (scan_.tool, scan_.tool_version) == (
        "GitLab Container Scanning (trivy)",
        "0.16.0",
    )


@pytest.mark.corpus
def test_corpus_dependency_report_merges_versions_of_one_package() -> None:
    recs = parse(corpus_file("dependency-scanning-report-many-vuln"), asset_name="acme/service")
    (cov,) = coverage(recs)
    assert (cov.asset.name, cov.tool, cov.checks) == (
        "acme/service",
        "GitLab Dependency Scanning (gemnasium)",
        Checks.VULNERABILITY,
    )
    found = {f.weakness.vuln_id: f for f in findings(recs)}
    assert set(found) == {"CVE-2020-29652", "CVE-2020-14040", "7368f513-0aa9-4e34-a08d-40ea81f48e0e"}
    crypto = found["CVE-2020-29652"]
    assert crypto.path == "service/go.sum: golang.org/x/crypto"
    assert crypto.evidence is not None and crypto.evidence.count("golang.org/x/crypto v0.0.0-") == 3
    unknown = found["7368f513-0aa9-4e34-a08d-40ea81f48e0e"]  # Unknown severity, no CVSS: Low
    assert (unknown.weakness.severity, unknown.weakness.cves) == (Severity.LOW, ())


@pytest.mark.corpus
def test_corpus_dast_report_is_per_rule_and_path_without_request_or_response() -> None:
    path = corpus_file("gitlab_dast_many_vul")
    recs = parse(path)
    (cov,) = coverage(recs)
    assert (cov.asset.kind, cov.asset.name, cov.tool) == (
        AssetKind.WEB_APP,
        "http://api-server",
        "GitLab DAST (zaproxy)",
    )
    found = {(f.weakness.vuln_id, f.path): f for f in findings(recs)}
    assert ("10036", "/v1/trees") in found and found[("10036", "/v1/trees")].evidence is not None
    assert "POST | /v1/trees" in (found[("10036", "/v1/trees")].evidence or "")
    pii = found[("10062", "/v1/trees")]
    assert pii.weakness.cwes == ("359",) and pii.observed_at == dt.datetime(2021, 4, 23, 15, 46, 40, 615000)
    text = json.dumps([str(r) for r in recs])
    assert "Mozilla/5.0" not in text and "Cache-Control" not in text  # request and response headers


@pytest.mark.corpus
def test_corpus_secrets_are_located_never_kept() -> None:
    for part in ("secret_detection_report_3_vuln", "gl-sast-report-1-vuln", "gl-sast-report-many-vuln"):
        path = corpus_file(part)
        doc = json.loads(path.read_text())
        extracts = [v["raw_source_code_extract"] for v in doc["vulnerabilities"] if v.get("raw_source_code_extract")]
        recs = parse(path)
        text = "\n".join(str(r) for r in recs)
        for extract in extracts:
            assert extract not in text, part
        secrets = [f for f in findings(recs) if "gitleaks" in f.weakness.tool or "trufflehog" in f.weakness.tool]
        assert secrets and all(WITHHELD in (f.evidence or "") for f in secrets), part
    found = findings(parse(corpus_file("secret_detection_report_3_vuln")))
    assert {(f.weakness.tool, f.weakness.vuln_id, f.path) for f in found} == {
        ("GitLab Secret Detection (gitleaks)", "SSH private key", "README.md"),
        ("GitLab Secret Detection (gitleaks)", "AWS", "README.md"),
        ("GitLab Secret Detection (gitleaks)", "Password in URL", "README.md"),
    }


@pytest.mark.corpus
def test_corpus_old_combined_sast_report_has_one_tool_per_analyzer() -> None:
    """Schema 2.3 without `scan`: each analyzer (from its identifiers) is its own tool and covers
    the repository named by --asset."""
    recs = parse(corpus_file("gl-sast-report-many-vuln"), asset_name="acme/defectdojo")
    assert {c.tool for c in coverage(recs)} == {
        "GitLab SAST (trufflehog)",
        "GitLab SAST (gitleaks)",
        "GitLab SAST (bandit)",
        "GitLab SAST (eslint)",
    }
    assert {c.asset.name for c in coverage(recs)} == {"acme/defectdojo"}
    assert all(f.path and ":" not in f.path for f in findings(recs))  # files, never lines


@pytest.mark.corpus
def test_corpus_empty_report_covers_nothing_without_an_analyzer() -> None:
    recs = parse(corpus_file("gl-sast-report-0-vuln"), asset_name="acme/web")
    assert [type(r) for r in recs] == [Scan]


@pytest.mark.corpus
def test_sniff_claims_exactly_the_gitlab_folder() -> None:
    root = corpus_dir(FOLDER).parent
    claimed = set()
    for path in sorted(root.glob("*/*")):
        with path.open("rb") as f:
            if GitlabParser().sniff(read_head(f)):
                claimed.add(path.relative_to(root).as_posix())
    assert claimed == {p.relative_to(root).as_posix() for p in corpus_files()}


@pytest.mark.corpus
def test_checkmarx_one_in_gitlab_layout_is_left_to_its_own_parser_but_reads_with_format() -> None:
    path = CORPUS / "checkmarx" / "defectdojo__checkmarx_one__checkmarx_one.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with path.open("rb") as f:
        assert not GitlabParser().sniff(read_head(f))
    found = findings(parse(path))
    assert len(found) == 5 and {f.weakness.tool for f in found} == {"GitLab SAST (CxOne-SAST)"}


# --- hand-written reports ----------------------------------------------------------------------


def test_sast_lines_of_one_rule_in_one_file_are_one_finding(tmp_path: Path) -> None:
    doc = report(sast(line=10), sast(line=30, raw_source_code_extract="md5(x)"), sast(file="app/web.py"))
    recs, ctx = parse_ctx(write(tmp_path, doc), asset_name="gitlab.example.com/acme/web")
    assert ctx.report.warning_count == 0
    (cov,) = coverage(recs)
    assert (cov.asset.kind, cov.asset.name, cov.tool, cov.checks) == (
        AssetKind.REPOSITORY,
        "gitlab.example.com/acme/web",
        "GitLab SAST (semgrep)",
        Checks.ALL,
    )
    assert (cov.started_at, cov.ended_at) == (dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 1, 5, 10, 5))
    found = {f.path: f for f in findings(recs)}
    assert set(found) == {"app/db.py", "app/web.py"}
    db = found["app/db.py"]
    assert (db.weakness.tool, db.weakness.vuln_id, db.weakness.cwes) == (
        "GitLab SAST (semgrep)",
        "bandit.B303-1",
        ("327",),
    )
    assert db.evidence is not None and "Line 10" in db.evidence and "Line 30" in db.evidence and "md5(x)" in db.evidence
    assert db.observed_at == dt.datetime(2026, 1, 5, 10, 5)
    assert db.weakness.see_also == "https://cwe.mitre.org/data/definitions/327.html"


@pytest.mark.parametrize(
    ("word", "extra", "severity", "warned"),
    [
        ("Critical", {}, Severity.CRITICAL, False),
        ("High", {}, Severity.HIGH, False),
        ("Medium", {}, Severity.MEDIUM, False),
        ("Low", {}, Severity.LOW, False),
        ("Info", {}, Severity.INFO, False),
        ("Unknown", {}, Severity.LOW, False),
        ("Undefined", {}, Severity.LOW, False),
        (None, {}, Severity.LOW, False),
        (
            "Unknown",
            {"cvss_vectors": [{"vendor": "NVD", "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]},
            Severity.CRITICAL,
            False,
        ),
        ("severe", {}, Severity.MEDIUM, True),
        (7, {}, Severity.MEDIUM, True),
    ],
)
def test_severities(tmp_path: Path, word: Any, extra: dict[str, Any], severity: Severity, warned: bool) -> None:
    vuln = sast(**extra)
    vuln["severity"] = word
    recs, ctx = parse_ctx(write(tmp_path, report(vuln)))
    (f,) = findings(recs)
    assert f.weakness.severity is severity
    assert (ctx.report.warning_count == 1) is warned
    if extra:
        assert f.weakness.cvss3_score == 9.8


def test_secret_detection_keeps_where_never_what(tmp_path: Path) -> None:
    secret = sast(rule="AWS", file="config/.env", line=3, severity="Critical")
    secret["identifiers"] = [{"type": "gitleaks_rule_id", "name": "Gitleaks rule ID AWS", "value": "AWS"}]
    secret["raw_source_code_extract"] = "AKIAIOSFODNN7EXAMPLE"
    secret["description"] = "AWS key AKIAIOSFODNN7EXAMPLE"
    secret["location"]["commit"] = {"sha": "abcdef1234567890", "author": "x"}
    doc = report(secret, scan=scan("secret_detection", "gitleaks"))
    recs = parse(write(tmp_path, doc), asset_name="acme/web")
    (f,) = findings(recs)
    assert (f.weakness.tool, f.weakness.vuln_id, f.path) == ("GitLab Secret Detection (gitleaks)", "AWS", "config/.env")
    assert f.evidence == f"Line 3; commit abcdef123456; {WITHHELD}"
    assert "AKIAIOSFODNN7EXAMPLE" not in "\n".join(str(r) for r in recs)
    assert f.weakness.description is None  # it quoted the secret


def test_dependency_and_container_identity(tmp_path: Path) -> None:
    deps = report(
        dependency("CVE-2021-1", "lodash", "4.17.1"),
        dependency("CVE-2021-1", "lodash", "4.17.2", file="web/package-lock.json"),
        dependency(None, "left-pad", "1.0.0"),
        scan=scan("dependency_scanning", "gemnasium"),
    )
    found = {(f.weakness.vuln_id, f.path) for f in findings(parse(write(tmp_path, deps)))}
    assert found == {
        ("CVE-2021-1", "service/go.sum: lodash"),
        ("CVE-2021-1", "web/package-lock.json: lodash"),
        ("gem-left-pad", "service/go.sum: left-pad"),
    }
    image = dependency("CVE-2022-2", "openssl", "3.0.1")
    image["location"] = {
        "image": "registry.example.com/acme/web:1.2@sha256:abc",
        "operating_system": "alpine 3.17",
        "dependency": {"package": {"name": "openssl"}, "version": "3.0.1"},
    }
    recs = parse(write(tmp_path, report(image, scan=scan("container_scanning", "trivy")), "c.json"))
    (f,) = findings(recs)
    assert (f.asset.kind, f.asset.name, f.path, f.weakness.vuln_id) == (
        AssetKind.CONTAINER_IMAGE,
        "registry.example.com/acme/web",
        "openssl",
        "CVE-2022-2",
    )
    assert [c.asset.name for c in coverage(recs)] == ["registry.example.com/acme/web"]


def test_report_type_from_category_or_location_when_scan_is_absent(tmp_path: Path) -> None:
    dep = dependency("CVE-2021-1", "lodash", "1")
    img = dependency("CVE-2021-2", "zlib", "1")
    img["location"] = {"image": "nginx:1", "dependency": {"package": {"name": "zlib"}, "version": "1"}}
    img["identifiers"] = [{"type": "cve", "name": "CVE-2021-2", "value": "CVE-2021-2"}]
    web = {
        "severity": "Low",
        "identifiers": [{"type": "ZAProxy_PluginId", "value": "10021"}],
        "location": {"hostname": "https://app.example.com", "path": "/login?x=1", "method": "GET"},
    }
    code = sast(category="sast", scanner={"id": "semgrep", "name": "Semgrep"})
    doc = {"version": "2.3", "vulnerabilities": [dep, img, web, code], "remediations": []}
    found = {f.weakness.tool: f for f in findings(parse(write(tmp_path, doc)))}
    assert set(found) == {
        "GitLab Dependency Scanning (gemnasium)",
        "GitLab Container Scanning",
        "GitLab DAST (zaproxy)",
        "GitLab SAST (semgrep)",
    }
    assert found["GitLab DAST (zaproxy)"].path == "/login" and found["GitLab DAST (zaproxy)"].asset.name == (
        "https://app.example.com"
    )
    assert found["GitLab Container Scanning"].asset.name == "library/nginx"


def test_a_failed_analyzer_covers_nothing(tmp_path: Path) -> None:
    recs, ctx = parse_ctx(write(tmp_path, report(sast(), scan=scan(status="failure"))), asset_name="acme/web")
    assert len(findings(recs)) == 1 and coverage(recs) == []
    assert ctx.report.warnings == [
        "report: scan.status 'failure': the analyzer did not finish; this report covers nothing"
    ]


def test_an_unnamed_project_is_never_covered(tmp_path: Path) -> None:
    recs = parse(write(tmp_path, report(sast())))
    assert coverage(recs) == [] and findings(recs)[0].asset.name == gitlab.FALLBACK_ASSET


def test_an_empty_report_of_a_named_analyzer_covers_the_asset(tmp_path: Path) -> None:
    recs = parse(write(tmp_path, report()), asset_name="acme/web")
    (cov,) = coverage(recs)
    assert (cov.asset.name, cov.tool) == ("acme/web", "GitLab SAST (semgrep)")
    dast = parse(
        write(
            tmp_path,
            report(
                scan=scan(
                    "dast",
                    "zaproxy",
                    scanned_resources=[
                        {"method": "GET", "type": "url", "url": "https://app.example.com/a"},
                        {"method": "GET", "type": "url", "url": "https://app.example.com/b"},
                    ],
                )
            ),
            "d.json",
        )
    )
    assert [(c.asset.kind, c.asset.name) for c in coverage(dast)] == [(AssetKind.WEB_APP, "https://app.example.com")]


def test_odd_records_are_read_past_and_withhold_coverage(tmp_path: Path) -> None:
    nameless = {"severity": "High", "location": {"file": "a.py"}, "identifiers": []}
    no_file = sast()
    no_file["location"] = {"start_line": 3}
    named_only = sast(rule="x")
    named_only["identifiers"] = [{"type": "cwe", "value": "79"}]
    doc = report(sast(), "not an object", nameless, no_file, named_only)
    recs, ctx = parse_ctx(write(tmp_path, doc), asset_name="acme/web")
    assert ctx.report.skipped == 2  # the string, and the vulnerability with nothing to name its check
    assert coverage(recs) == []  # a record it could not read may be the finding it no longer lists
    kept = {(f.weakness.vuln_id, f.path) for f in findings(recs)}
    assert kept == {("bandit.B303-1", "app/db.py"), ("bandit.B303-1", None), ("Rule x", "app/db.py")}
    assert any("its check is known by its name" in w for w in ctx.report.warnings)


def test_an_unreadable_scan_date_is_warned_and_the_file_time_used(tmp_path: Path) -> None:
    doc = report(sast(), scan={**scan(), "start_time": "soon", "end_time": None})
    recs, ctx = parse_ctx(write(tmp_path, doc))
    (f,) = findings(recs)
    assert f.observed_at == FILE_TIME and ctx.report.used_file_time
    assert ctx.report.warnings == [
        "report: scan.start_time 'soon' is not a date; dated by --scan-date, else the file's modification time"
    ]
    recs, ctx = parse_ctx(write(tmp_path, report(sast())))
    assert not ctx.report.used_file_time  # dated reports never ask for the file time


def test_dast_findings_take_their_discovery_time_never_before_the_scan(tmp_path: Path) -> None:
    def web(path: str, when: str) -> dict[str, Any]:
        return {
            "severity": "Medium",
            "discovered_at": when,
            "identifiers": [{"type": "ZAProxy_PluginId", "value": "10038"}],
            "location": {"hostname": "https://app.example.com", "path": path, "method": "GET", "param": "q"},
            "evidence": {"summary": "x", "request": {"headers": [{"name": "Cookie", "value": "sid=secret"}]}},
        }

    doc = report(web("/a", "2026-01-05T10:02:00.5"), web("/b", "2025-12-31T00:00:00"), scan=scan("dast", "zaproxy"))
    recs = parse(write(tmp_path, doc))
    when = {f.path: f.observed_at for f in findings(recs)}
    assert when == {"/a": dt.datetime(2026, 1, 5, 10, 2, 0, 500000), "/b": dt.datetime(2026, 1, 5, 10, 5)}
    assert "sid=secret" not in "\n".join(str(r) for r in recs)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", r"not a GitLab security report \(a JSON object"),
        ('{"version": "15.0.0"}', "no `vulnerabilities` list"),
        ('{"version": "15.0.0", "vulnerabilities": {}}', "no `vulnerabilities` list"),
        ('{"version": "15.0.0", "vulnerabilities": [', "not valid JSON"),
        ("", "empty file"),
    ],
)
def test_broken_structure_is_refused(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, content))


def test_several_reports_in_one_file_are_one_import(tmp_path: Path) -> None:
    first = report(sast())
    second = report(dependency("CVE-2021-1", "lodash", "1"), scan=scan("dependency_scanning", "gemnasium"))
    path = write(tmp_path, json.dumps(first) + "\n" + json.dumps(second) + "\n")
    recs = parse(path, asset_name="acme/web")
    assert {c.tool for c in coverage(recs)} == {"GitLab SAST (semgrep)", "GitLab Dependency Scanning (gemnasium)"}
    assert len(findings(recs)) == 2
    final = recs[-1]
    assert isinstance(final, Scan) and final.tool == "GitLab security reports"


def test_streaming_a_large_file_finds_what_reading_it_whole_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = report(sast(), sast(line=20), "odd", sast(file="b.py"))
    second = report(dependency("CVE-2021-1", "lodash", "1"), scan=scan("dependency_scanning", "gemnasium"))
    third = report(scan=scan("secret_detection", "gitleaks"))
    path = write(tmp_path, "\n".join(json.dumps(d) for d in (first, second, third)))
    whole, whole_ctx = parse_ctx(path, asset_name="acme/web")
    monkeypatch.setattr(gitlab, "STREAM_FROM", 0)
    streamed, streamed_ctx = parse_ctx(path, asset_name="acme/web")
    assert [str(r) for r in streamed] == [str(r) for r in whole]
    assert streamed_ctx.report.warnings == whole_ctx.report.warnings
    with pytest.raises(InputError, match="no `version`"):
        parse(write(tmp_path, '{"vulnerabilities": []}', "x.json"))


# --- end to end --------------------------------------------------------------------------------


def test_reimport_closes_what_is_gone_reopens_what_comes_back_and_never_closes_elsewhere(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(GitlabParser())

    def run(day: int, *vulns: Any, asset: str = "acme/web", scanner: str = "semgrep") -> Any:
        doc = report(
            *vulns,
            scan={
                **scan(scanner=scanner),
                "start_time": f"2026-01-{day:02d}T10:00:00",
                "end_time": f"2026-01-{day:02d}T10:05:00",
            },
        )
        return import_file(engine, write(tmp_path, doc, f"{day}-{asset.replace('/', '_')}.json"), asset=asset)

    jan = run(5, sast("rule.a"), sast("rule.b"), sast("rule.c", file="app/x.py"))
    assert (jan.format, jan.new_findings, jan.items_opened, jan.assets_covered) == ("gitlab", 3, 3, 1)
    other = run(6, asset="acme/other")  # another project: closes nothing of acme/web
    assert (other.fixed_findings, other.items_closed) == (0, 0)
    other_tool = run(6, scanner="eslint")  # another analyzer on acme/web: closes nothing of semgrep's
    assert (other_tool.fixed_findings, other_tool.items_closed) == (0, 0)
    feb = run(7, sast("rule.a"), sast("rule.c", file="app/x.py"))
    assert (feb.fixed_findings, feb.items_closed) == (1, 1)
    mar = run(8, sast("rule.a"), sast("rule.b"), sast("rule.c", file="app/x.py"))
    assert (mar.new_findings, mar.items_opened) == (1, 1)  # its item had closed: it recurs as a new item
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    by = {(i.source_identifier, i.status) for i in items}
    assert by == {
        ("rule.a", ItemStatus.OPEN),
        ("rule.b", ItemStatus.CLOSED),
        ("rule.b", ItemStatus.OPEN),
        ("rule.c", ItemStatus.OPEN),
    }
    rule_a = next(i for i in items if i.source_identifier == "rule.a")
    assert [a.text for a in rule_a.assets] == ["acme/web (app/db.py)"]


def test_a_failed_report_closes_nothing(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(GitlabParser())
    first = import_file(engine, write(tmp_path, report(sast("rule.a")), "a.json"), asset="acme/web")
    assert first.new_findings == 1
    failed = report(scan={**scan(status="failure"), "start_time": "2026-01-09T10:00:00", "end_time": None})
    second = import_file(engine, write(tmp_path, failed, "b.json"), asset="acme/web")
    assert (second.fixed_findings, second.assets_covered, second.warnings) == (0, 0, 1)


@pytest.mark.corpus
def test_corpus_files_import_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(GitlabParser())
    for n, path in enumerate(corpus_files()):
        system = f"s{n}"
        systems.add_system(engine, system, "gitlab")
        result = import_file(engine, path, system=system, asset="acme/web", parallel=False)
        assert result.format == "gitlab", path.name
        expected_open = len(
            [f for f in findings(parse(path, asset_name="acme/web")) if f.weakness.severity is not Severity.INFO]
        )
        assert result.new_findings == expected_open, path.name
        assert result.set_aside == 0 and result.fixed_findings == 0, path.name
