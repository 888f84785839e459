"""The Snyk CLI JSON parser on hand-written results and on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.registry import read_head
from poam.parsers.snyk import SnykParser
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_trivy import only_input_errors

WHEN = dt.datetime(2026, 1, 5, 10, 0)
FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
FALLBACK = "; a fallback identity, so this file gives its asset no coverage"


def write(tmp_path: Path, doc: Any, name: str = "snyk.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def parse(path: Path, asset: str | None = None) -> list[Any]:
    with path.open("rb") as f:
        return list(SnykParser().parse(f, ParseContext(str(path), scan_date=WHEN, asset_name=asset)))


def parse_ctx(path: Path, **ctx: Any) -> tuple[list[Any], ParseContext]:
    """The records and the context (its warnings and date source) of a file, dated by its time."""
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(SnykParser().parse(f, context)), context


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def issue(
    vid: str, pkg: str, version: str = "1.0", via: tuple[str, ...] = ("app@1.0.0",), **extra: Any
) -> dict[str, Any]:
    return {
        "id": vid,
        "title": f"Issue {vid}",
        "severity": "high",
        "packageName": pkg,
        "version": version,
        "from": [*via, f"{pkg}@{version}"],
        "identifiers": {"CVE": [], "CWE": []},
        "upgradePath": [],
        "isUpgradable": False,
        **extra,
    }


def project(vulns: list[Any], name: str = "com.acme:api", **extra: Any) -> dict[str, Any]:
    return {
        "vulnerabilities": vulns,
        "ok": not vulns,
        "dependencyCount": 9,
        "packageManager": "maven",
        "projectName": name,
        "path": "/src",
        **extra,
    }


def test_fields_and_deduplication_across_dependency_paths(tmp_path: Path) -> None:
    described = issue(
        "SNYK-JAVA-X-1",
        "com.acme:lib",
        "1.2",
        CVSSv3="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        cvssScore=9.8,
        severityWithCritical="critical",
        identifiers={"CVE": ["CVE-2024-0001"], "CWE": ["CWE-502"]},
        description="## Overview\nBad.\n## Remediation\nUpgrade `com.acme:lib` to version 1.3 or higher.\n## Refs\n",
        fixedIn=["1.3"],
        references=[{"title": "advisory", "url": "https://example.com/a"}],
    )
    again = {**described, "from": ["app@1.0.0", "other@2", "com.acme:lib@1.2"]}
    records = parse(write(tmp_path, project([described, again, issue("SNYK-JAVA-Y-2", "com.acme:other")])))
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name, cov.checks) == (AssetKind.REPOSITORY, "com.acme:api", Checks.VULNERABILITY)
    got = {f.weakness.vuln_id: f for f in findings(records)}
    assert set(got) == {"SNYK-JAVA-X-1", "SNYK-JAVA-Y-2"}
    f = got["SNYK-JAVA-X-1"]
    assert f.path == "com.acme:lib" and f.observed_at == WHEN
    assert "via app@1.0.0 > com.acme:lib@1.2" in (f.evidence or "") and "other@2" in (f.evidence or "")
    w = f.weakness
    assert (w.tool, w.severity, w.cvss3_score, w.cves, w.cwes) == (
        "Snyk",
        Severity.CRITICAL,
        9.8,
        ("CVE-2024-0001",),
        ("502",),
    )
    assert w.solution == "Upgrade `com.acme:lib` to version 1.3 or higher."
    assert w.see_also == "https://example.com/a"
    assert isinstance(records[-1], Scan) and records[-1].name == "com.acme:api"


def test_all_projects_array_and_container_with_applications(tmp_path: Path) -> None:
    many = [project([issue("SNYK-1", "a")], name="com.acme:one"), project([], name="com.acme:two")]
    records = parse(write(tmp_path, many))
    assert sorted(c.asset.name or "" for c in coverage(records)) == ["com.acme:one", "com.acme:two"]
    assert records[-1].name == "2 projects"
    container = project(
        [issue("SNYK-DEBIAN12-OPENSSL-1", "openssl", via=("docker-image|acme/web@1.2",))],
        name="docker-image|registry.acme.io/team/web",
        packageManager="deb",
        docker={"baseImage": "debian:12"},
        applications=[project([issue("SNYK-JS-LODASH-1", "lodash")], name="web-frontend", packageManager="npm")],
    )
    records = parse(write(tmp_path, container, "c.json"))
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name) == (AssetKind.CONTAINER_IMAGE, "registry.acme.io/team/web")
    assert {(f.asset.name, f.path) for f in findings(records)} == {
        ("registry.acme.io/team/web", "openssl"),
        ("registry.acme.io/team/web", "lodash"),
    }


def test_licence_issues_are_left_out_and_missing_names_fall_back(tmp_path: Path) -> None:
    lic = issue("snyk:lic:npm:x:GPL-3.0", "x", type="license")
    doc = {"vulnerabilities": [lic, issue("SNYK-1", "y", cvssScore=None, CVSSv3=None)], "ok": False}
    records = parse(write(tmp_path, doc))
    assert [f.weakness.vuln_id for f in findings(records)] == ["SNYK-1"]
    assert coverage(records) == [] and findings(records)[0].asset.name == "unnamed"
    named = parse(write(tmp_path, doc), asset="github.com/acme/api")
    assert [c.asset.name for c in coverage(named)] == ["github.com/acme/api"]
    assert findings(named)[0].weakness.cvss3_score is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"ok": false, "error": "Could not detect supported target files in /src", "path": "/src"}', "could not test"),
        ('[{"ok": false, "error": {"message": "Authentication failed"}}]', "Authentication failed"),
        ('{"ok": true, "projectName": "x"}', "no project object with `vulnerabilities`"),
        ('{"vulnerabilities": "x", "ok": true}', "vulnerabilities is a str"),
        ("[1]", "no project object"),
        ("[]", "no project object"),
        ('[{"ok": false, "error": "first"}]\n{"ok": false, "error": "second"}', "could not test the project: first"),
        ("nope", "not valid JSON"),
        ('{"vulnerabilities": [], "ok": true}\nnope', "JSON value 2 is not valid"),
    ],
)
def test_bad_input_is_an_input_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        parse(path)


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    odd = {
        "vulnerabilities": [
            {
                "id": "SNYK-1",
                "packageName": "p",
                "severity": ["x"],
                "cvssScore": "high",
                "identifiers": [],
                "from": "x",
                "fixedIn": None,
                "references": "x",
                "description": 5,
            }
        ],
        "ok": False,
        "projectName": 3,
    }
    records, ctx = parse_ctx(write(tmp_path, odd))
    (f,) = findings(records)
    assert f.weakness.severity is Severity.MEDIUM and f.asset.name == "3"  # a severity poam cannot read
    assert ctx.report.warnings == ["project 1 (3), issue 1 (SNYK-1): severity \"['x']\" not recognised; rated Moderate"]


# --- the real Snyk files of the corpus -------------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("snyk_json").iterdir())


def _independent(doc: Any) -> dict[str, set[tuple[str, str]]]:
    """Project name -> (issue id, package) pairs, applications under their container project."""
    out: dict[str, set[tuple[str, str]]] = {}
    for p in doc if isinstance(doc, list) else [doc]:
        name = p["projectName"]
        if name.startswith("docker-image|"):
            name = name.split("|", 1)[1].split(":")[0]
            name = name if "/" in name else f"library/{name}"
        pairs = out.setdefault(name, set())
        for part in [p, *p.get("applications", [])]:
            pairs.update((v["id"], v["packageName"]) for v in part["vulnerabilities"])
    return out


@pytest.mark.corpus
def test_every_corpus_file_matches_an_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 10
    for path in files:
        doc = json.loads(path.read_text())
        records = parse(path)
        got: dict[str, set[tuple[str, str]]] = {c.asset.name or "": set() for c in coverage(records)}
        for f in findings(records):
            got.setdefault(f.asset.name or "", set()).add((f.weakness.vuln_id, f.path or ""))
        assert got == _independent(doc), path.name
        assert sum(len(v) for v in got.values()) == len(findings(records)), path.name
        kinds = {c.asset.kind for c in coverage(records)}
        if "severityThreshold" in str(doc):  # a run limited to critical issues covers nothing
            assert kinds == set(), path.name
        else:
            kind = AssetKind.CONTAINER_IMAGE if "docker" in str(doc)[:20000] else AssetKind.REPOSITORY
            assert kinds == {kind}, path.name
        assert isinstance(records[-1], Scan) and records[-1].tool == "Snyk"


@pytest.mark.corpus
def test_corpus_cves_and_scores() -> None:
    for path in corpus_files():
        doc = json.loads(path.read_text())
        vulns = [
            v
            for p in (doc if isinstance(doc, list) else [doc])
            for part in [p, *p.get("applications", [])]
            for v in part["vulnerabilities"]
        ]
        got = {f.weakness.vuln_id: f.weakness for f in findings(parse(path))}
        for v in vulns:
            w = got[v["id"]]
            assert set(w.cves) == set(v["identifiers"].get("CVE") or []), path.name
            assert (w.cvss3_score is None) == (v.get("cvssScore") is None and not v.get("CVSSv3")), path.name


def test_sniff_claims_exactly_the_snyk_folder() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if SnykParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(corpus_files())


# --- end to end ------------------------------------------------------------------------------


def test_import_end_to_end_and_a_later_scan_fixes(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(SnykParser())
    jan = project([issue("SNYK-1", "a"), issue("SNYK-1", "a", via=("app@1", "b@2")), issue("SNYK-2", "c")])
    feb = project([issue("SNYK-2", "c", "1.1")])
    r = import_file(engine, write(tmp_path, jan, "jan.json"), scan_date=WHEN)
    assert (r.format, r.tool, r.assets_covered, r.results, r.items_opened) == ("snyk", "Snyk", 1, 2, 2)
    r = import_file(engine, write(tmp_path, feb, "feb.json"), scan_date=WHEN + dt.timedelta(days=30))
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert items["SNYK-1"].status.value == "closed"
    assert [a.text for a in items["SNYK-2"].assets] == ["com.acme:api (c)"]


def test_a_severity_threshold_or_an_ignore_policy_closes_nothing_it_left_out(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(SnykParser())
    jan = project([issue("SNYK-1", "a"), issue("SNYK-2", "c", severity="low"), issue("SNYK-3", "d")])
    import_file(engine, write(tmp_path, jan, "jan.json"), scan_date=WHEN)
    critical_only = project([], severityThreshold="critical")
    r = import_file(engine, write(tmp_path, critical_only, "feb.json"), scan_date=WHEN + dt.timedelta(days=30))
    assert (r.assets_covered, r.fixed_findings) == (0, 0)
    ignored = {"ignore": [{"id": "SNYK-3", "packageName": "d"}], "patch": []}
    mar = project([issue("SNYK-2", "c", severity="low")], severityThreshold="low", filtered=ignored)
    r = import_file(engine, write(tmp_path, mar, "mar.json"), scan_date=WHEN + dt.timedelta(days=60))
    assert (r.assets_covered, r.fixed_findings) == (1, 1)  # SNYK-1 fixed; SNYK-3 ignored by policy, still open
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert {k: i.status.value for k, i in items.items()} == {"SNYK-1": "closed", "SNYK-2": "open", "SNYK-3": "open"}


def ignoring(*issues: Any) -> dict[str, Any]:
    """A project's `filtered` member: the issues a Snyk policy ignores (full issue objects)."""
    rule = {"reason": "not reachable", "expires": "2099-01-01T00:00:00.000Z", "source": "cli", "path": ["*"]}
    return {"ignore": [{**i, "filtered": {"ignored": [rule]}} if isinstance(i, dict) else i for i in issues]}


def test_issues_an_ignore_policy_filters_are_set_aside_with_their_identity(tmp_path: Path) -> None:
    app = project(
        [issue("SNYK-JS-LODASH-1", "lodash")],
        name="web-frontend",
        packageManager="npm",
        filtered=ignoring(issue("SNYK-JS-AXIOS-2", "axios")),
    )
    container = project(
        [issue("SNYK-DEBIAN12-OPENSSL-1", "openssl")],
        name="docker-image|registry.acme.io/team/web",
        packageManager="deb",
        filtered=ignoring(
            issue("SNYK-DEBIAN12-ZLIB-3", "zlib", fixedIn=["1.3"]),
            issue("SNYK-DEBIAN12-OPENSSL-1", "openssl", via=("other@1",)),
            issue("snyk:lic:deb:x:GPL-3.0", "x", type="license"),
        ),
        applications=[app],
    )
    records, ctx = parse_ctx(write(tmp_path, container))
    got = {(f.weakness.vuln_id, f.asset.name, f.path): f.status for f in findings(records)}
    image = "registry.acme.io/team/web"
    assert got == {
        ("SNYK-DEBIAN12-OPENSSL-1", image, "openssl"): FindingStatus.OPEN,  # an open issue wins
        ("SNYK-DEBIAN12-ZLIB-3", image, "zlib"): FindingStatus.SET_ASIDE,
        ("SNYK-JS-LODASH-1", image, "lodash"): FindingStatus.OPEN,
        ("SNYK-JS-AXIOS-2", image, "axios"): FindingStatus.SET_ASIDE,
    }
    assert [c.asset.name for c in coverage(records)] == [image] and ctx.report.warnings == []
    assert isinstance(records[-1], Scan) and records[-1].partial_checks == ()  # not the whole issue id
    zlib = next(f.weakness for f in findings(records) if f.weakness.vuln_id == "SNYK-DEBIAN12-ZLIB-3")
    assert zlib.name == "Issue SNYK-DEBIAN12-ZLIB-3" and zlib.solution == "Upgrade zlib to 1.3"


def test_an_unreadable_ignored_issue_withholds_coverage(tmp_path: Path) -> None:
    doc = project([issue("SNYK-1", "a")], filtered=ignoring("junk", {"packageName": "b"}))
    records, ctx = parse_ctx(write(tmp_path, doc))
    assert [f.weakness.vuln_id for f in findings(records)] == ["SNYK-1"] and coverage(records) == []
    assert ctx.report.warnings[:2] == [
        "project 1 (com.acme:api), ignored issue 1: not an object; left out",
        "project 1 (com.acme:api), ignored issue 2: an issue without id; left out",
    ]


def test_an_ignored_issue_keeps_its_open_finding_open_until_it_is_gone(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    """Ignoring an issue in a Snyk policy is a person's decision, not a fix: a test that still
    reports it (ignored) closes nothing of it, nor of the issue's other packages' findings
    elsewhere, and opens nothing; a test without it closes it."""
    register_parser(SnykParser())

    def month(days: int, name: str, vulns: list[Any], ignored: list[Any]) -> None:
        path = write(tmp_path, project(vulns, filtered=ignoring(*ignored)), f"{name}.json")
        results.append(import_file(engine, path, scan_date=WHEN + dt.timedelta(days=days)))

    results: list[Any] = []
    month(0, "jan", [issue("SNYK-1", "a"), issue("SNYK-1", "b")], [])
    month(30, "feb", [], [issue("SNYK-1", "a")])  # b no longer there: fixed, though SNYK-1 is ignored on a
    month(31, "feb2", [], [issue("SNYK-1", "a"), issue("SNYK-9", "z")])
    month(60, "mar", [], [])
    jan, feb, feb2, mar = results
    assert (jan.assets_covered, jan.new_findings, jan.items_opened) == (1, 2, 1)
    assert (feb.set_aside, feb.fixed_findings, feb.items_closed) == (1, 1, 0)
    assert (feb2.new_findings, feb2.items_opened, feb2.fixed_findings) == (0, 0, 0)
    assert (mar.fixed_findings, mar.items_closed) == (1, 1)


@pytest.mark.corpus
def test_corpus_file_imports(engine: Engine, register_parser: Any) -> None:
    register_parser(SnykParser())
    path = corpus_dir("snyk_json") / "defectdojo__snyk__all-projects_many_vulns.json"
    r = import_file(engine, path, scan_date=WHEN)
    assert (r.assets_covered, r.results) == (3, 4)
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    guava = next(i for i in items if i.source_identifier == "SNYK-JAVA-COMGOOGLEGUAVA-1015415")
    assert sorted(a.text for a in guava.assets) == [
        "com.test:project-a (com.google.guava:guava)",
        "com.test:project-b (com.google.guava:guava)",
        "com.test:version-collision (com.google.guava:guava)",
    ]


@pytest.mark.corpus
def test_mutated_corpus_files_give_input_errors_or_records() -> None:
    only_input_errors(SnykParser(), "snyk_json")


# --- lenient on values, several results in one file, dates (issue 6) --------------------------


def test_odd_issues_are_warned_or_left_out_and_withhold_coverage(tmp_path: Path) -> None:
    nameless = {**issue("SNYK-2", "x"), "from": ["app@1.0.0", "@scope/inner@2.1.0"]}
    del nameless["packageName"]
    anonymous = {"id": "SNYK-3", "severity": "low"}
    matches = [
        issue("SNYK-1", "a", severity="severe"),
        nameless,
        anonymous,
        "SNYK-4",
        {**issue("SNYK-5", "b"), "id": None},
        issue("SNYK-6", "c", severity="bad", cvssScore=9.1),
    ]
    records, ctx = parse_ctx(write(tmp_path, project(matches)))
    got = {(f.weakness.vuln_id, f.path): f.weakness.severity for f in findings(records)}
    assert got == {
        ("SNYK-1", "a"): Severity.MEDIUM,
        ("SNYK-2", "@scope/inner"): Severity.HIGH,
        ("SNYK-3", "(unknown package)"): Severity.LOW,
        ("SNYK-6", "c"): Severity.CRITICAL,
    }
    assert coverage(records) == []  # two issues could not be read: the project is not covered
    p = "project 1 (com.acme:api)"
    assert ctx.report.warnings == [
        f"{p}, issue 1 (SNYK-1): severity 'severe' not recognised; rated Moderate",
        f"{p}, issue 2 (SNYK-2): no packageName; package '@scope/inner' from its `from` path{FALLBACK}",
        f"{p}, issue 3 (SNYK-3): no packageName; package '(unknown package)'{FALLBACK}",
        f"{p}, issue 4: not an object; left out",
        f"{p}, issue 5: an issue without id; left out",
        f"{p}, issue 6 (SNYK-6): severity 'bad' not recognised; rated critical by its CVSS score",
        "asset com.acme:api: a record could not be read; no coverage, so this file closes nothing on it",
    ]


def test_a_project_snyk_could_not_test_is_left_out_of_the_others(tmp_path: Path) -> None:
    failed = {"ok": False, "error": "Could not detect supported target files\nin /src/b", "path": "/src/b"}
    container = project(
        [issue("SNYK-DEBIAN-1", "openssl")],
        name="docker-image|acme/web",
        applications=[project([issue("SNYK-JS-1", "lodash")], name="web-frontend"), {"ok": False, "error": "x"}],
    )
    many = [project([issue("SNYK-1", "a")], name="com.acme:one"), failed, 7, container]
    records, ctx = parse_ctx(write(tmp_path, many))
    assert [c.asset.name for c in coverage(records)] == ["com.acme:one"]  # the image's application failed
    assert sorted((f.asset.name, f.weakness.vuln_id) for f in findings(records)) == [
        ("acme/web", "SNYK-DEBIAN-1"),
        ("acme/web", "SNYK-JS-1"),
        ("com.acme:one", "SNYK-1"),
    ]
    assert ctx.report.skipped == 3 and records[-1].name == "2 projects"
    assert ctx.report.warnings[:3] == [
        "project 2: Snyk could not test it: Could not detect supported target files; left out",
        "project 3: not an object; left out",
        "project 4 (acme/web), application 2: Snyk could not test it: x; left out",
    ]


def test_several_results_in_one_file_are_one_import(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(SnykParser())
    one = project([issue("SNYK-1", "a")], name="com.acme:one")
    more = [project([issue("SNYK-1", "a", severity="critical")], name="com.acme:two"), project([], name="com.acme:3")]
    for joiner in ("", "\n", "\n\n"):
        path = tmp_path / "runs.json"
        path.write_text(joiner.join(json.dumps(d) for d in (one, more)))
        with path.open("rb") as f:
            assert SnykParser().sniff(read_head(f))
        records, ctx = parse_ctx(path)
        assert [c.asset.name for c in coverage(records)] == ["com.acme:one", "com.acme:two", "com.acme:3"]
        assert {f.weakness.severity for f in findings(records)} == {Severity.CRITICAL}  # worst in the file
        assert [r for r in records if isinstance(r, Scan)] == [Scan("Snyk", None, "3 projects", FILE_TIME, FILE_TIME)]
        assert ctx.report.warnings == [] and ctx.report.used_file_time
    r = import_file(engine, path, scan_date=WHEN)
    assert (r.format, r.assets_covered, r.results, r.date_source) == ("snyk", 3, 2, "option")
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps({"vulnerabilities": [issue("SNYK-9", "z")], "ok": False}) + "\n" + json.dumps(more))
    r = import_file(engine, lines, format_id="snyk", scan_date=WHEN)
    assert (r.format, r.results, r.assets_covered) == ("snyk", 2, 2)


def test_snyk_files_are_dated_by_the_file_time_only_when_a_record_needs_it(tmp_path: Path) -> None:
    records, ctx = parse_ctx(write(tmp_path, project([issue("SNYK-1", "a")])))
    assert {f.observed_at for f in findings(records)} == {FILE_TIME} and ctx.report.used_file_time
    assert coverage(records)[0].started_at == FILE_TIME
    records, ctx = parse_ctx(write(tmp_path, project([issue("SNYK-1", "a")])), scan_date=WHEN)
    assert findings(records)[0].observed_at == WHEN and not ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path, {"vulnerabilities": [], "ok": True}))  # unnamed, clean: nothing to date
    assert records == [Scan("Snyk", None, "unnamed")] and not ctx.report.used_file_time


def test_an_unreadable_issue_closes_nothing(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(SnykParser())
    import_file(
        engine, write(tmp_path, project([issue("SNYK-1", "a"), issue("SNYK-2", "c")]), "jan.json"), scan_date=WHEN
    )
    feb = project([issue("SNYK-2", "c"), {"packageName": "a", "severity": "high"}])
    r = import_file(engine, write(tmp_path, feb, "feb.json"), scan_date=WHEN + dt.timedelta(days=30))
    assert (r.assets_covered, r.fixed_findings, r.warnings) == (0, 0, 2)
    r = import_file(
        engine, write(tmp_path, project([issue("SNYK-2", "c")]), "mar.json"), scan_date=WHEN + dt.timedelta(days=60)
    )
    assert (r.assets_covered, r.fixed_findings) == (1, 1)


# --- a fallback identity, dependencies Snyk could not identify: nothing closed by absence --------

FALLBACK_ASSET = (
    "asset acme/web: a record was kept under a fallback identity; no coverage, so this file closes nothing on it"
)


def libssl(**extra: Any) -> dict[str, Any]:
    """A container issue as Snyk writes it: `packageName` is the source package, `name` the binary one."""
    base = issue("SNYK-DEBIAN11-OPENSSL-1", "openssl", "1.1.1w-0", via=("docker-image|acme/web@1.2",))
    return {**base, "name": "openssl/libssl1.1", "from": [*base["from"][:-1], "openssl/libssl1.1@1.1.1w-0"], **extra}


@pytest.mark.parametrize(
    ("gone", "warning"),
    [
        (("packageName",), "no packageName; package 'openssl/libssl1.1' from its name"),
        (("packageName", "name"), "no packageName; package 'openssl/libssl1.1' from its `from` path"),
        (("packageName", "name", "from"), "no packageName; package '(unknown package)'"),
    ],
)
def test_an_issue_with_a_fallback_package_closes_nothing_by_absence(
    engine: Engine, register_parser: Any, tmp_path: Path, gone: tuple[str, ...], warning: str
) -> None:
    register_parser(SnykParser())
    image = "docker-image|acme/web:1.2"
    jan = project([libssl(), issue("SNYK-DEBIAN11-ZLIB-2", "zlib")], name=image)
    assert import_file(engine, write(tmp_path, jan, "jan.json"), scan_date=WHEN).items_opened == 2
    odd = {k: v for k, v in libssl().items() if k not in gone}
    feb = project([odd, issue("SNYK-DEBIAN11-ZLIB-2", "zlib")], name=image)
    r = import_file(engine, write(tmp_path, feb, "feb.json"), scan_date=dt.datetime(2026, 2, 5))
    assert (r.results, r.new_findings, r.assets_covered, r.fixed_findings) == (2, 1, 0, 0)
    p = "project 1 (acme/web), issue 1 (SNYK-DEBIAN11-OPENSSL-1)"
    assert r.warning_lines == [f"{p}: {warning}{FALLBACK}", FALLBACK_ASSET]
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert {i.status.value for i in items} == {"open"}


UNIDENTIFIED = (
    "Snyk could not identify some dependencies (hasUnknownVersions), so they were not tested; "
    "no coverage, so this file closes nothing on the project"
)


def test_dependencies_snyk_could_not_identify_close_nothing(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(SnykParser())
    jan = project([issue("SNYK-JS-A-1", "a"), issue("SNYK-JS-B-2", "b")], name="web")
    assert import_file(engine, write(tmp_path, jan, "jan.json"), scan_date=WHEN).items_opened == 2
    feb = project([issue("SNYK-JS-A-1", "a")], name="web", hasUnknownVersions=True)
    r = import_file(engine, write(tmp_path, feb, "feb.json"), scan_date=dt.datetime(2026, 2, 5))
    assert (r.assets_covered, r.fixed_findings, r.warning_lines) == (0, 0, [f"project 1 (web): {UNIDENTIFIED}"])
    # in an image, an application Snyk found there with unidentified dependencies
    image = "docker-image|acme/web:1.2"
    apps = [project([issue("SNYK-JS-C-3", "c")], name="app"), project([], name="frontend", hasUnknownVersions=False)]
    mar = project([], name=image, applications=apps)
    r = import_file(engine, write(tmp_path, mar, "mar.json"), scan_date=dt.datetime(2026, 3, 5))
    assert (r.assets_covered, r.items_opened) == (1, 1)
    apps = [project([], name="app", hasUnknownVersions=True)]
    r = import_file(
        engine,
        write(tmp_path, project([], name=image, applications=apps), "apr.json"),
        scan_date=dt.datetime(2026, 4, 5),
    )
    assert (r.assets_covered, r.fixed_findings) == (0, 0)
    assert r.warning_lines == [f"project 1 (acme/web), application 1: {UNIDENTIFIED}"]
    r = import_file(
        engine, write(tmp_path, feb | {"hasUnknownVersions": False}, "may.json"), scan_date=dt.datetime(2026, 5, 5)
    )
    assert (r.assets_covered, r.fixed_findings) == (1, 1)  # identified: SNYK-JS-B-2 is gone
