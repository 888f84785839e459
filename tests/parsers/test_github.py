"""The GitHub alerts parser (code scanning, Dependabot, secret scanning) on hand-written lists
and on the real files of the corpus."""

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
from poam.parsers.codescan import WITHHELD
from poam.parsers.github import DEPENDABOT, SECRETS, GithubAlertsParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import corpus_dir

FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
FOLDER = "github_alerts"
REPO = "https://github.com/acme/web"


def write(tmp_path: Path, doc: Any, name: str = "alerts.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def parse_ctx(path: Path, **ctx: Any) -> tuple[list[Any], ParseContext]:
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(GithubAlertsParser().parse(f, context)), context


def parse(path: Path, **ctx: Any) -> list[Any]:
    return parse_ctx(path, **ctx)[0]


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def code_alert(number: int, rule: str = "py/sql-injection", path: str = "src/db.py", line: int = 10, **extra: Any):
    return {
        "number": number,
        "created_at": "2026-01-02T03:04:05Z",
        "updated_at": "2026-01-03T03:04:05Z",
        "url": f"https://api.github.com/repos/acme/web/code-scanning/alerts/{number}",
        "html_url": f"{REPO}/security/code-scanning/{number}",
        "state": "open",
        "fixed_at": None,
        "dismissed_at": None,
        "rule": {
            "id": rule,
            "severity": "error",
            "security_severity_level": "high",
            "description": f"Rule {rule}",
            "tags": ["security", "external/cwe/cwe-089"],
        },
        "tool": {"name": "CodeQL", "version": "2.16.2"},
        "most_recent_instance": {
            "ref": "refs/heads/main",
            "state": "open",
            "message": {"text": "bad query"},
            "location": {"path": path, "start_line": line, "end_line": line},
        },
        **extra,
    }


def dependabot(
    number: int, ghsa: str = "GHSA-aaaa-bbbb-cccc", package: str = "lodash", state: str = "open", **extra: Any
):
    return {
        "number": number,
        "state": state,
        "dependency": {"package": {"ecosystem": "npm", "name": package}, "manifest_path": "web/package-lock.json"},
        "security_advisory": {
            "ghsa_id": ghsa,
            "cve_id": "CVE-2021-23337",
            "summary": "Command injection in lodash",
            "description": "Long text.",
            "severity": "high",
            "identifiers": [{"type": "GHSA", "value": ghsa}, {"type": "CVE", "value": "CVE-2021-23337"}],
            "references": [{"url": "https://nvd.nist.gov/vuln/detail/CVE-2021-23337"}],
            "cvss": {"vector_string": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", "score": 7.2},
            "cwes": [{"cwe_id": "CWE-77", "name": "Command injection"}],
        },
        "security_vulnerability": {
            "package": {"ecosystem": "npm", "name": package},
            "severity": "high",
            "vulnerable_version_range": "< 4.17.21",
            "first_patched_version": {"identifier": "4.17.21"},
        },
        "url": f"https://api.github.com/repos/acme/web/dependabot/alerts/{number}",
        "html_url": f"{REPO}/security/dependabot/{number}",
        "created_at": "2026-01-02T03:04:05Z",
        "fixed_at": None,
        "dismissed_at": None,
        **extra,
    }


def secret_alert(
    number: int, kind: str = "aws_access_key_id", state: str = "open", resolution: Any = None, **extra: Any
):
    return {
        "number": number,
        "created_at": "2026-01-02T03:04:05Z",
        "html_url": f"{REPO}/security/secret-scanning/{number}",
        "state": state,
        "resolution": resolution,
        "resolved_at": "2026-01-20T00:00:00Z" if state == "resolved" else None,
        "secret_type": kind,
        "secret_type_display_name": "AWS Access Key ID",
        "secret": "AKIAIOSFODNN7EXAMPLE",
        "repository": {"full_name": "acme/web", "html_url": REPO},
        "first_location_detected": {"path": "/config/.env", "start_line": 5, "commit_sha": "0123456789abcdef"},
        **extra,
    }


# --- the corpus --------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(corpus_dir(FOLDER).iterdir())


def corpus_file(part: str) -> Path:
    (path,) = [p for p in corpus_files() if part in p.name]
    return path


@pytest.mark.corpus
def test_corpus_counts_by_hand() -> None:
    """(findings, statuses) checked by hand against each file."""
    expected = {
        "github_sast_many_vul": (2, {FindingStatus.OPEN: 2}),
        # adafruit key resolved as a false positive, AWS key open, GitHub token revoked
        "secrets_detection_report_many_vul": (
            3,
            {FindingStatus.SET_ASIDE: 1, FindingStatus.OPEN: 1, FindingStatus.FIXED: 1},
        ),
        "github-0-vuln": (0, {}),
        "github-5-vuln": (5, {FindingStatus.OPEN: 5}),  # one fake advisory id on five packages
        "github-vuln-version": (1, {FindingStatus.OPEN: 1}),
        "github_search": (1, {FindingStatus.OPEN: 1}),  # two alerts of one advisory and package
    }
    for part, (total, statuses) in expected.items():
        recs, ctx = parse_ctx(corpus_file(part))
        found = findings(recs)
        assert len(found) == total, part
        counted: dict[FindingStatus, int] = {}
        for f in found:
            counted[f.status] = counted.get(f.status, 0) + 1
        assert counted == statuses, part
        assert ctx.report.warning_count == 0 and ctx.report.skipped == 0, part
        assert isinstance(recs[-1], Scan)


@pytest.mark.corpus
def test_corpus_independent_count() -> None:
    """REST lists: one finding per tool, rule (or secret type) and file, counted from the file."""
    for part, rule, where in (
        ("github_sast_many_vul", lambda a: a["rule"]["id"], lambda a: a["most_recent_instance"]["location"]["path"]),
        ("secrets_detection_report", lambda a: a["secret_type"], lambda a: a["first_location_detected"]["path"]),
    ):
        alerts = json.loads(corpus_file(part).read_text())
        assert len(findings(parse(corpus_file(part)))) == len({(rule(a), where(a)) for a in alerts})


@pytest.mark.corpus
def test_corpus_code_scanning() -> None:
    recs = parse(corpus_file("github_sast_many_vul"))
    found = {f.weakness.vuln_id: f for f in findings(recs)}
    f = found["py/path-injection"]
    assert (f.weakness.tool, f.weakness.severity, f.path) == ("CodeQL", Severity.HIGH, "src/file2.py")
    assert f.weakness.cwes == ("22", "23", "36", "73", "99")
    assert (f.asset.kind, f.asset.name) == (AssetKind.REPOSITORY, "https://github.com/OWASP/test-repository")
    assert f.observed_at == FILE_TIME and f.since == dt.datetime(2024, 1, 19, 14, 11, 18)
    assert f.evidence == "Line 78: This path depends on a user-provided value. (alert #34, open)"
    (cov,) = [r for r in recs if isinstance(r, Coverage)]
    assert cov.asset.name == "https://github.com/OWASP/test-repository"


@pytest.mark.corpus
def test_corpus_secret_scanning_never_keeps_the_secret() -> None:
    path = corpus_file("secrets_detection_report")
    secrets = [a["secret"] for a in json.loads(path.read_text())]
    recs = parse(path)
    text = "\n".join(str(r) for r in recs)
    assert all(s not in text for s in secrets)
    found = {f.weakness.vuln_id: f for f in findings(recs)}
    revoked = found["github_personal_access_token"]
    assert (revoked.status, revoked.observed_at, revoked.path) == (
        FindingStatus.FIXED,
        dt.datetime(2021, 6, 21, 9, 15, 30),
        "scripts/deploy.sh",
    )
    assert found["adafruit_io_key"].status is FindingStatus.SET_ASIDE
    open_ = found["aws_access_key_id"]
    assert open_.asset.name == "https://github.com/octocat/Hello-World" and WITHHELD in (open_.evidence or "")
    assert open_.weakness.tool == SECRETS and open_.weakness.severity is Severity.HIGH


@pytest.mark.corpus
def test_corpus_dependabot_graphql() -> None:
    (f,) = findings(parse(corpus_file("github-vuln-version")))
    assert (f.weakness.tool, f.weakness.vuln_id, f.path) == (
        DEPENDABOT,
        "GHSA-4wrc-f8pq-fpqp",
        "sompath/pom.xml: org.springframework:spring-web",
    )
    assert f.weakness.cves == ("CVE-2016-1000027",) and f.weakness.severity is Severity.CRITICAL
    assert (f.weakness.cvss3_vector, f.weakness.cvss3_score) == ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8)
    assert f.weakness.solution == "Upgrade org.springframework:spring-web to 6.0.0 or later"
    assert f.evidence == "org.springframework:spring-web = 5.3.29 (maven); vulnerable < 6.0.0; fixed in 6.0.0; alert #1"
    assert f.since == dt.datetime(2024, 1, 26, 2, 42, 32)
    (search,) = findings(parse(corpus_file("github_search")))
    assert (search.asset.name, search.path, search.weakness.vuln_id) == ("gogoph", "log4j:log4j", "GHSA-2qrg-x229-3v8q")
    five = findings(parse(corpus_file("github-5-vuln")))
    assert sorted(f.path or "" for f in five) == [f"package0{n}" for n in range(1, 6)]
    assert {f.asset.name for f in five} == {"test-repository"}


@pytest.mark.corpus
def test_sniff_claims_exactly_the_github_folder() -> None:
    root = corpus_dir(FOLDER).parent
    claimed = set()
    for path in sorted(root.glob("*/*")):
        with path.open("rb") as f:
            if GithubAlertsParser().sniff(read_head(f)):
                claimed.add(path.relative_to(root).as_posix())
    assert claimed == {p.relative_to(root).as_posix() for p in corpus_files()}


# --- hand-written lists ------------------------------------------------------------------------


def test_code_scanning_alerts_of_one_rule_and_file_are_one_finding(tmp_path: Path) -> None:
    doc = [
        code_alert(1, line=10),
        code_alert(2, line=30, state="fixed", fixed_at="2026-01-15T00:00:00Z"),
        code_alert(3, path="src/other.py"),
    ]
    found = {f.path: f for f in findings(parse(write(tmp_path, doc)))}
    assert found["src/db.py"].status is FindingStatus.OPEN  # an open alert wins
    assert found["src/db.py"].evidence == "Line 10: bad query (alert #1, open)"
    assert found["src/db.py"].weakness.cwes == ("89",)


@pytest.mark.parametrize(
    ("security", "level", "severity", "warned"),
    [
        ("critical", "error", Severity.CRITICAL, False),
        ("medium", "error", Severity.MEDIUM, False),
        ("low", "warning", Severity.LOW, False),
        (None, "error", Severity.HIGH, False),
        (None, "warning", Severity.MEDIUM, False),
        (None, "note", Severity.LOW, False),
        (None, "none", Severity.INFO, False),
        (None, "odd", Severity.MEDIUM, True),
    ],
)
def test_code_scanning_severity(tmp_path: Path, security: Any, level: str, severity: Severity, warned: bool) -> None:
    alert = code_alert(1)
    alert["rule"].update(security_severity_level=security, severity=level)
    recs, ctx = parse_ctx(write(tmp_path, [alert]))
    (f,) = findings(recs)
    assert f.weakness.severity is severity and (ctx.report.warning_count == 1) is warned


@pytest.mark.parametrize(
    ("state", "extra", "status", "when"),
    [
        ("open", {}, FindingStatus.OPEN, FILE_TIME),
        ("fixed", {"fixed_at": "2026-01-20T00:00:00Z"}, FindingStatus.FIXED, dt.datetime(2026, 1, 20)),
        ("fixed", {"fixed_at": "None"}, FindingStatus.FIXED, FILE_TIME),
        ("dismissed", {"dismissed_reason": "false positive"}, FindingStatus.SET_ASIDE, FILE_TIME),
        ("auto_dismissed", {}, FindingStatus.SET_ASIDE, FILE_TIME),
    ],
)
def test_states(tmp_path: Path, state: str, extra: dict[str, Any], status: FindingStatus, when: dt.datetime) -> None:
    for alert in (code_alert(1, state=state, **extra), dependabot(1, state=state, **extra)):
        recs, ctx = parse_ctx(write(tmp_path, [alert]))
        (f,) = findings(recs)
        assert (f.status, f.observed_at) == (status, when), alert
        assert ctx.report.warning_count == 0
        assert f.since == (dt.datetime(2026, 1, 2, 3, 4, 5) if status is FindingStatus.OPEN else None)


@pytest.mark.parametrize(
    ("state", "resolution", "status", "warned"),
    [
        ("open", None, FindingStatus.OPEN, False),
        ("resolved", "revoked", FindingStatus.FIXED, False),
        ("resolved", "false_positive", FindingStatus.SET_ASIDE, False),
        ("resolved", "wont_fix", FindingStatus.SET_ASIDE, False),
        ("resolved", "used_in_tests", FindingStatus.SET_ASIDE, False),
        ("resolved", "pattern_deleted", FindingStatus.SET_ASIDE, False),
        ("resolved", "mystery", FindingStatus.SET_ASIDE, True),
        ("limbo", None, FindingStatus.OPEN, True),
        ("ignored", None, FindingStatus.SET_ASIDE, True),
    ],
)
def test_secret_states(tmp_path: Path, state: str, resolution: Any, status: FindingStatus, warned: bool) -> None:
    recs, ctx = parse_ctx(write(tmp_path, [secret_alert(1, state=state, resolution=resolution)]))
    (f,) = findings(recs)
    assert f.status is status and (ctx.report.warning_count == 1) is warned
    assert (f.path, f.asset.name) == ("config/.env", REPO)
    assert "AKIAIOSFODNN7EXAMPLE" not in "\n".join(str(r) for r in recs)


def test_dependabot_rest_alerts(tmp_path: Path) -> None:
    doc = [dependabot(1), dependabot(2, package="minimist", ghsa="GHSA-xxxx-yyyy-zzzz")]
    recs, ctx = parse_ctx(write(tmp_path, doc))
    assert ctx.report.warning_count == 0
    found = {f.path: f for f in findings(recs)}
    assert set(found) == {"web/package-lock.json: lodash", "web/package-lock.json: minimist"}
    f = found["web/package-lock.json: lodash"]
    assert (f.weakness.tool, f.weakness.vuln_id, f.weakness.severity) == (
        DEPENDABOT,
        "GHSA-aaaa-bbbb-cccc",
        Severity.HIGH,
    )
    assert (f.weakness.cvss3_score, f.weakness.cwes, f.weakness.cves) == (7.2, ("77",), ("CVE-2021-23337",))
    assert f.evidence == "lodash (npm); vulnerable < 4.17.21; fixed in 4.17.21; alert #1"
    assert f.asset.name == REPO
    scan = recs[-1]
    assert isinstance(scan, Scan) and scan.tool == DEPENDABOT


def test_several_pages_and_kinds_in_one_file(tmp_path: Path) -> None:
    text = json.dumps([code_alert(1)]) + "\n" + json.dumps([dependabot(1)]) + "\n" + json.dumps(secret_alert(1)) + "\n"
    recs = parse(write(tmp_path, text))
    assert {f.weakness.tool for f in findings(recs)} == {"CodeQL", DEPENDABOT, SECRETS}
    assert [r.asset.name for r in recs if isinstance(r, Coverage)] == [REPO]
    scan = recs[-1]
    assert isinstance(scan, Scan) and scan.tool == "GitHub alerts"


def test_odd_alerts_are_read_past(tmp_path: Path) -> None:
    no_rule = code_alert(2)
    no_rule["rule"] = {}
    no_type = secret_alert(3)
    no_type["secret_type"] = None
    no_advisory = dependabot(4)
    no_advisory["security_advisory"] = {}
    recs, ctx = parse_ctx(write(tmp_path, [code_alert(1), "x", no_rule, no_type, no_advisory]))
    assert len(findings(recs)) == 1 and ctx.report.skipped == 4
    assert ctx.report.warnings[0] == "alert 2: not an object; left out"


def test_repository_names(tmp_path: Path) -> None:
    org_listing = code_alert(1, repository={"full_name": "acme/api", "html_url": "https://github.com/acme/api"})
    api_only = code_alert(2)
    api_only.pop("html_url")
    api_only["repository"] = {"url": "https://api.github.com/repos/acme/lib"}
    ghes = code_alert(3)
    ghes["html_url"] = "https://git.example.com/acme/tool/security/code-scanning/3"
    names = {f.asset.name for f in findings(parse(write(tmp_path, [org_listing, api_only, ghes])))}
    assert names == {"https://github.com/acme/api", "https://github.com/acme/lib", "https://git.example.com/acme/tool"}
    graphql = {
        "data": {
            "repository": {
                "vulnerabilityAlerts": {
                    "nodes": [
                        {
                            "securityVulnerability": {
                                "severity": "LOW",
                                "package": {"name": "x"},
                                "advisory": {"ghsaId": "GHSA-1"},
                            }
                        }
                    ]
                }
            }
        }
    }
    (f,) = findings(parse(write(tmp_path, graphql, "g.json"), asset_name="acme/web"))
    assert f.asset.name == "acme/web"  # the reply names no repository: --asset does


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"data": {"viewer": {"login": "x"}}}', "no repository vulnerabilityAlerts"),
        ('{"data": null, "errors": [{"message": "Bad credentials"}]}', "the GraphQL query failed: Bad credentials"),
        ('{"total": 3}', "not a GitHub alert list"),
        ("[", "not valid JSON"),
    ],
)
def test_broken_structure_is_refused(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, content))


# --- end to end --------------------------------------------------------------------------------


def test_fixed_alerts_close_and_absent_ones_do_not(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    """A listing closes nothing by absence; a fixed alert closes its finding; a dismissed one
    keeps it open; an alert that comes back after its item closed is a new item."""
    register_parser(GithubAlertsParser())

    def run(day: int, *alerts: Any) -> Any:
        return import_file(engine, write(tmp_path, list(alerts), f"{day}.json"), scan_date=dt.datetime(2026, 1, day))

    jan = run(5, code_alert(1), code_alert(2, rule="py/xss", path="src/v.py"), dependabot(3))
    assert (jan.format, jan.new_findings, jan.items_opened) == ("github-alerts", 3, 3)
    filtered = run(6, code_alert(1))  # a listing without the others (filtered, or one page) closes nothing
    assert (filtered.fixed_findings, filtered.items_closed) == (0, 0)
    dismissed = run(7, code_alert(2, rule="py/xss", path="src/v.py", state="dismissed"))
    assert (dismissed.set_aside, dismissed.fixed_findings, dismissed.items_closed) == (1, 0, 0)
    fixed = run(8, code_alert(1, state="fixed", fixed_at="None"), dependabot(3, state="fixed"))
    assert (fixed.fixed_findings, fixed.items_closed) == (2, 2)
    back = run(9, code_alert(1))
    assert (back.new_findings, back.items_opened) == (1, 1)
    other = run(
        10,
        code_alert(
            4,
            rule="py/xss",
            path="src/v.py",
            state="fixed",
            html_url="https://github.com/acme/other/security/code-scanning/4",
        ),
    )
    assert other.fixed_findings == 0  # a fix on another repository
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert sorted((i.source_identifier, i.status.value) for i in items) == [
        ("GHSA-aaaa-bbbb-cccc", "closed"),
        ("py/sql-injection", "closed"),
        ("py/sql-injection", "open"),
        ("py/xss", "open"),
    ]
    assert all(i.status is ItemStatus.OPEN or i.closed_at == dt.date(2026, 1, 8) for i in items)
