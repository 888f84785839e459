"""The Semgrep parser (CLI --json and the App supply-chain API document) on hand-written files
and on the corpus."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.registry import read_head
from poam.parsers.semgrep import SemgrepParser
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import corpus_dir

WHEN = dt.datetime(2026, 3, 1, 12, 0)


def write(tmp_path: Path, doc: object, name: str = "semgrep.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def parse(path: Path, **ctx: Any) -> list[object]:
    return parsed(path, **{"scan_date": WHEN, **ctx})[0]


def parsed(path: Path, **ctx: Any) -> tuple[list[object], ParseContext]:
    """The records and the context (its report: warnings, skips, date from file time)."""
    context = ParseContext(str(path), **ctx)
    with path.open("rb") as f:
        return list(SemgrepParser().parse(f, context)), context


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def match(
    check: str, path: str = "src/app.py", line: int = 10, severity: str = "WARNING", **extra: Any
) -> dict[str, Any]:
    return {
        "check_id": check,
        "path": path,
        "start": {"line": line, "col": 1},
        "end": {"line": line, "col": 9},
        "extra": {
            "message": f"bad thing\nat {line}",
            "severity": severity,
            "lines": f"code({line})",
            "metadata": {"cwe": ["CWE-89: SQL Injection"], "references": ["https://example.com/r"]},
            **extra,
        },
    }


def cli(*results: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": "1.84.1", "results": list(results), "errors": [], "paths": {"scanned": []}, **top}


def test_matches_of_one_rule_in_one_file_are_one_finding(tmp_path: Path) -> None:
    doc = cli(match("python.sqli.raw-query", "./src\\db.py", 10), match("python.sqli.raw-query", "src/db.py", 30))
    recs = parse(write(tmp_path, doc))
    (f,) = findings(recs)
    assert (f.weakness.tool, f.weakness.vuln_id, f.path) == ("Semgrep", "python.sqli.raw-query", "src/db.py")
    assert f.weakness.name == "raw-query" and f.weakness.cwes == ("89",)
    assert f.weakness.description == "bad thing at 10" and f.weakness.see_also == "https://example.com/r"
    assert f.evidence is not None and "Line 10: bad thing at 10\n    code(10)" in f.evidence and "Line 30" in f.evidence
    assert f.observed_at == WHEN and f.asset.kind is AssetKind.REPOSITORY and f.asset.name == "Semgrep project"
    assert [type(r) for r in recs] == [Finding, Scan]  # an unnamed project covers nothing
    cov = parse(write(tmp_path, doc), asset_name="github.com/acme/web")[0]
    assert isinstance(cov, Coverage) and cov.asset.name == "github.com/acme/web"
    assert isinstance(recs[-1], Scan) and recs[-1].tool_version == "1.84.1"


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("ERROR", Severity.HIGH),
        ("WARNING", Severity.MEDIUM),
        ("INFO", Severity.LOW),
        ("CRITICAL", Severity.CRITICAL),
        ("HIGH", Severity.HIGH),
        ("MEDIUM", Severity.MEDIUM),
        ("LOW", Severity.LOW),
        ("INVENTORY", Severity.INFO),
    ],
)
def test_severity_words(tmp_path: Path, word: str, severity: Severity) -> None:
    (f,) = findings(parse(write(tmp_path, cli(match("r", severity=word)))))
    assert f.weakness.severity is severity


def test_ignored_matches_are_set_aside_and_cwe_as_text(tmp_path: Path) -> None:
    doc = cli(match("a", is_ignored=True), match("b", metadata={"cwe": "CWE-79: XSS"}), match("c", metadata=None))
    found = findings(parse(write(tmp_path, doc), asset_name="github.com/acme/web"))
    assert [(f.weakness.vuln_id, f.weakness.cwes, f.status) for f in found] == [
        ("b", ("79",), FindingStatus.OPEN),
        ("c", (), FindingStatus.OPEN),
        ("a", ("89",), FindingStatus.SET_ASIDE),
    ]
    assert {(f.asset.name, f.path) for f in found} == {("github.com/acme/web", "src/app.py")}


def test_an_ignored_match_beside_an_open_one_of_its_rule_and_file(tmp_path: Path) -> None:
    doc = cli(
        match("a", line=3, severity="INFO", is_ignored=True),
        match("a", line=9, severity="ERROR"),
        match("d", "src/x.py", severity="ERROR", is_ignored=True),
        match("d", "src/x.py", line=12, severity="INFO", is_ignored=True),
    )
    found = findings(parse(write(tmp_path, doc), asset_name="github.com/acme/web"))
    assert [(f.weakness.vuln_id, f.path, f.status, f.weakness.severity) for f in found] == [
        ("a", "src/app.py", FindingStatus.OPEN, Severity.HIGH),  # rated by its open matches only
        ("a", "src/app.py", FindingStatus.SET_ASIDE, Severity.HIGH),
        ("d", "src/x.py", FindingStatus.SET_ASIDE, Severity.HIGH),
    ]
    assert found[0].evidence is not None and "Line 3" not in found[0].evidence


def test_supply_chain_matches_are_located_at_the_package(tmp_path: Path) -> None:
    sca = {"dependency_match": {"found_dependency": {"package": "lodash", "version": "4.17.20", "ecosystem": "npm"}}}
    meta = {"sca-vuln-database-identifier": "CVE-2021-23337"}
    doc = cli(match("ssc-1234", "package-lock.json", 200, "HIGH", sca_info=sca, metadata=meta))
    (f,) = findings(parse(write(tmp_path, doc)))
    assert (f.path, f.weakness.name, f.weakness.cves) == ("lodash", "CVE-2021-23337 in lodash", ("CVE-2021-23337",))
    assert f.evidence == "Installed: lodash 4.17.20 (package-lock.json)"


def test_a_run_with_errors_holds_what_it_did_not_analyse(tmp_path: Path) -> None:
    """An error of level `error` that names no file (the run failed) withholds coverage; one of any
    level naming a file leaves that file not fully analysed (a partial path of the scan); a warning
    naming no file changes nothing."""
    warn = cli(match("a"), errors=[{"level": "warn", "type": "Syntax error", "path": "x.py"}])
    recs = parse(write(tmp_path, warn), asset_name="web")
    assert [type(r) for r in recs] == [Coverage, Finding, Scan] and recs[-1].partial_paths == ("x.py",)
    error = cli(match("a"), errors=[{"level": "error", "type": "Timeout", "path": "x.py"}])
    recs = parse(write(tmp_path, error), asset_name="web")
    assert [type(r) for r in recs] == [Coverage, Finding, Scan] and recs[-1].partial_paths == ("x.py",)
    rules = cli(match("a"), errors=[{"level": "error", "type": "InvalidRuleSchemaError", "message": "bad rule"}])
    assert [type(r) for r in parse(write(tmp_path, rules), asset_name="web")] == [Finding, Scan]
    unnamed = cli(match("a"), errors=[{"level": "warn", "type": "SemgrepCoreAccountTierTooLow"}])
    assert [type(r) for r in parse(write(tmp_path, unnamed), asset_name="web")] == [Coverage, Finding, Scan]


def vuln(rule: str, repo: str, package: str, triage: str = "NEW", **extra: Any) -> dict[str, Any]:
    return {
        "title": f"Bug in {package}",
        "advisory": {
            "ruleId": rule,
            "title": f"Bug in {package}",
            "severity": "CRITICAL",
            "references": {"cveIds": ["CVE-2022-0686"], "cweIds": ["CWE-639: Bypass"], "urls": ["https://x"]},
        },
        "repositoryName": repo,
        "matchedDependency": {"name": package, "versionSpecifier": "1.5.1"},
        "closestSafeDependency": {"name": package, "versionSpecifier": "1.5.8"},
        "dependencyFileLocation": {"path": "package-lock.json", "startLine": "22"},
        "triage": {"status": triage},
        "openedAt": "2026-01-10T02:03:04Z",
        "usages": [{"location": {"path": "src/a.ts", "startLine": "24"}}],
        **extra,
    }


def test_app_api_page_findings_per_repository_and_package(tmp_path: Path) -> None:
    doc = {
        "vulns": [
            vuln("ssc-1", "acme/web", "url-parse"),
            vuln("ssc-1", "acme/api", "url-parse", "CLOSED"),
            vuln("ssc-2", "acme/web", "grpcio", "IGNORED"),
        ],
        "hasMore": True,
        "cursor": "1",
    }
    recs = parse(write(tmp_path, doc))
    assert not [r for r in recs if isinstance(r, Coverage)]  # a page of a listing closes nothing by absence
    found = findings(recs)
    assert [(f.weakness.vuln_id, f.asset.name, f.path, f.status) for f in found] == [
        ("ssc-1", "acme/web", "url-parse", FindingStatus.OPEN),
        ("ssc-1", "acme/api", "url-parse", FindingStatus.FIXED),
        ("ssc-2", "acme/web", "grpcio", FindingStatus.SET_ASIDE),
    ]
    assert found[2].since is None
    web = found[0]
    assert (web.observed_at, web.since) == (WHEN, dt.datetime(2026, 1, 10, 2, 3, 4))  # listed now, opened then
    assert found[1].observed_at == WHEN
    assert (web.weakness.severity, web.weakness.cves, web.weakness.cwes) == (
        Severity.CRITICAL,
        ("CVE-2022-0686",),
        ("639",),
    )
    assert web.evidence is not None and "Used at src/a.ts, line 24" in web.evidence and "1.5.8" in web.evidence


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("[]", "JSON object expected"),
        ('{"results": {}}', "no results or vulns list"),
        ('{"results": [], "errors": []}\n[]', "document 2: not a Semgrep JSON document"),
        ('{"results": [], "errors": []}{"vulns": {}}', "document 2: not a Semgrep JSON document .no results"),
        ('{"results": [], "errors": []}{"results": [', "JSON value 2 is not valid"),
    ],
)
def test_bad_input_is_an_input_error(tmp_path: Path, doc: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, doc))


def test_odd_results_are_read_past_with_warnings(tmp_path: Path) -> None:
    no_severity = match("b", "src/b.py")
    no_severity["extra"] = None
    doc = cli(match("a", severity="BAD"), 1, {"path": "x.py"}, no_severity, match("c", severity="ERROR"))  # type: ignore[arg-type]
    recs, ctx = parsed(write(tmp_path, doc), scan_date=WHEN)
    assert [(f.weakness.vuln_id, f.weakness.severity) for f in findings(recs)] == [
        ("a", Severity.MEDIUM),
        ("b", Severity.MEDIUM),
        ("c", Severity.HIGH),
    ]
    assert ctx.report.warnings == [
        "result 1 (a): severity 'BAD' not recognised; rated Moderate",
        "result 2: not an object; left out",
        "result 3: has no check_id; left out",
        "result 4 (b): severity missing not recognised; rated Moderate",
    ]
    assert ctx.report.skipped == 2


def test_a_file_whose_every_result_is_unreadable_is_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no record could be read \(2 left out; first: result 1: not an object"):
        import_file(engine, write(tmp_path, cli(7, {"path": "a.py"})), format_id="semgrep")  # type: ignore[arg-type]


def test_odd_api_vulns_are_read_past_with_warnings(tmp_path: Path) -> None:
    odd = vuln("ssc-4", "acme/web", "d")
    odd["advisory"]["severity"] = "SEVERE"
    doc = {
        "vulns": [
            7,
            {"advisory": {"ruleId": "ssc-0"}},
            vuln("ssc-1", "acme/web", "a", "REVIEWING"),
            vuln("ssc-2", "acme/web", "b", "WAITING"),
            vuln("ssc-3", "acme/web", "c", "FALSE_POSITIVE"),
            odd,
            vuln("ssc-5", "acme/web", "e", "PROVISIONALLY_IGNORED"),
            vuln("ssc-6", "acme/web", "f", openedAt="last week"),
        ]
    }
    recs, ctx = parsed(write(tmp_path, doc), scan_date=WHEN)
    assert [(f.weakness.vuln_id, f.status, f.weakness.severity) for f in findings(recs)] == [
        ("ssc-1", FindingStatus.OPEN, Severity.CRITICAL),
        ("ssc-2", FindingStatus.OPEN, Severity.CRITICAL),
        ("ssc-3", FindingStatus.SET_ASIDE, Severity.CRITICAL),
        ("ssc-4", FindingStatus.OPEN, Severity.MEDIUM),
        ("ssc-5", FindingStatus.SET_ASIDE, Severity.CRITICAL),
        ("ssc-6", FindingStatus.OPEN, Severity.CRITICAL),
    ]
    assert findings(recs)[-1].since is None
    assert ctx.report.warnings == [
        "vuln 1: not an object; left out",
        "vuln 2: has no advisory.ruleId or matchedDependency.name; left out",
        "vuln 4 (ssc-2): status 'WAITING' not recognised; kept open",
        "vuln 5 (ssc-3): triage status 'FALSE_POSITIVE' read as ignored; set aside",
        "vuln 6 (ssc-4): severity 'SEVERE' not recognised; rated Moderate",
        "vuln 8 (ssc-6): openedAt 'last week' is not a date; detected at the listing's time",
    ]


def test_concatenated_outputs_and_json_lines_are_one_import(engine: Engine, tmp_path: Path) -> None:
    first = cli(match("py.sqli", "src/db.py", 10, "ERROR"), match("py.xss", "src/v.py", 3))
    second = cli(match("py.sqli", "src/db.py", 30, "ERROR"), match("py.eval", "src/e.py", 1, "INFO"), version="1.90.0")
    pretty = json.dumps(first, indent=2) + json.dumps(second, indent=2)
    lines = json.dumps(first) + "\n" + json.dumps(second) + "\n"
    for n, body in enumerate((pretty, lines)):
        path = write(tmp_path, body, f"{n}.json")
        recs = parse(path, asset_name="github.com/acme/web")
        found = findings(recs)
        assert [(f.weakness.vuln_id, f.path) for f in found] == [
            ("py.sqli", "src/db.py"),
            ("py.xss", "src/v.py"),
            ("py.eval", "src/e.py"),
        ]
        assert found[0].evidence is not None and "Line 10" in found[0].evidence and "Line 30" in found[0].evidence
        assert [type(r) for r in recs].count(Coverage) == 1
        scan = recs[-1]
        assert isinstance(scan, Scan) and scan.tool_version == "1.84.1"
        assert sniff(path.read_bytes())
        system = f"s{n}"
        systems.add_system(engine, system, "test")
        r = import_file(engine, path, system=system, format_id="semgrep", asset="github.com/acme/web")
        assert (r.format, r.results, r.new_findings, r.assets_covered) == ("semgrep", 3, 3, 1)
    with_error = cli(match("a"), errors=[{"level": "error", "type": "Timeout", "path": "x.py"}])
    body = json.dumps(first) + "\n" + json.dumps(with_error)
    assert parse(write(tmp_path, body), asset_name="web")[-1].partial_paths == ("x.py",)


def test_concatenated_api_pages_are_one_listing(tmp_path: Path) -> None:
    page1 = {"vulns": [vuln("ssc-1", "acme/web", "url-parse")], "hasMore": True, "cursor": "1"}
    page2 = {"vulns": [vuln("ssc-1", "acme/web", "url-parse"), vuln("ssc-2", "acme/api", "grpcio")], "hasMore": False}
    path = write(tmp_path, json.dumps(page1) + json.dumps(page2))
    found = findings(parse(path))
    assert [(f.weakness.vuln_id, f.asset.name) for f in found] == [("ssc-1", "acme/web"), ("ssc-2", "acme/api")]
    assert sniff(path.read_bytes())


def test_semgrep_files_are_undated_so_they_take_the_file_time(tmp_path: Path) -> None:
    mtime = dt.datetime(2026, 2, 3, 4, 5, 6)
    for doc in (cli(match("a")), cli(), {"vulns": [vuln("ssc-1", "acme/web", "p")]}):
        recs, ctx = parsed(write(tmp_path, doc), file_time=mtime)
        assert ctx.report.used_file_time
        assert all(f.observed_at >= mtime for f in findings(recs))
        scan = recs[-1]
        assert isinstance(scan, Scan) and scan.started_at == mtime
        recs, ctx = parsed(write(tmp_path, doc), file_time=mtime, scan_date=WHEN)
        assert not ctx.report.used_file_time and all(f.observed_at == WHEN for f in findings(recs))


def sniff(data: bytes) -> bool:
    return SemgrepParser().sniff(read_head(io.BytesIO(data)))


def test_sniff() -> None:
    assert sniff(b'{"results": [], "errors": []}')
    assert sniff(json.dumps(cli(match("a"))).encode())
    assert sniff(b'{"vulns": [], "hasMore": false, "cursor": ""}')
    assert not sniff(b'{"results": [{"id": 1}], "errors": []}')
    assert not sniff(b'{"results": [], "errors": [], "generated_at": "x", "metrics": {}}')  # Bandit
    assert not sniff(b'{"vulns": [{"id": "CVE-1"}]}')


# --- the real Semgrep files of the corpus ------------------------------------------------------


def _expected(path: Path) -> tuple[set[tuple[str, str, str]], int]:
    """(rule, asset, location) of every reported result, and how many are fixed."""
    doc = json.loads(path.read_text())
    if "vulns" in doc:
        kept = [v for v in doc["vulns"] if v["triage"]["status"] != "IGNORED"]
        keys = {(v["advisory"]["ruleId"], v["repositoryName"], v["matchedDependency"]["name"]) for v in kept}
        return keys, sum(1 for v in kept if v["triage"]["status"] in ("CLOSED", "FIXED"))
    keys = {
        (r["check_id"], "Semgrep project", r["path"].replace("\\", "/").removeprefix("./"))
        for r in doc["results"]
        if not r["extra"].get("is_ignored")
    }
    return keys, 0


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("semgrep_json").iterdir())


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 11
    for path in files:
        records = parse(path)
        found = [f for f in findings(records) if f.status is not FindingStatus.SET_ASIDE]
        keys, fixed = _expected(path)
        assert {(f.weakness.vuln_id, f.asset.name, f.path) for f in found} == keys, path.name
        assert len(found) == len(keys), path.name
        assert sum(f.status is FindingStatus.FIXED for f in found) == fixed, path.name
        covers = [r for r in records if isinstance(r, Coverage)]
        assert covers == [], path.name  # CLI output names no project; API findings are filtered
        assert isinstance(records[-1], Scan) and records[-1].tool == "Semgrep"


@pytest.mark.corpus
def test_corpus_repeated_matches_become_one_finding_listing_both_lines() -> None:
    path = corpus_dir("semgrep_json") / "defectdojo__semgrep__repeated_findings.json"
    lines = sorted(r["start"]["line"] for r in json.loads(path.read_text())["results"])
    (f,) = findings(parse(path))
    assert f.evidence is not None and all(f"Line {n}:" in f.evidence for n in lines)


@pytest.mark.corpus
def test_sniff_claims_exactly_the_semgrep_folder() -> None:
    root = corpus_dir("semgrep_json").parent
    claimed = set()
    for path in sorted(root.glob("*/*")):
        with path.open("rb") as f:
            if SemgrepParser().sniff(read_head(f)):
                claimed.add(path.relative_to(root).as_posix())
    assert claimed == {p.relative_to(root).as_posix() for p in corpus_files()}


# --- end to end --------------------------------------------------------------------------------


def test_import_and_a_later_scan_fixes_what_it_no_longer_reports(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(SemgrepParser())
    jan = write(tmp_path, cli(match("py.sqli", "src/db.py", 10, "ERROR"), match("py.xss", "src/v.py", 3)), "jan.json")
    r = import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5), asset="github.com/acme/web")
    assert (r.format, r.tool, r.new_findings, r.items_opened) == ("semgrep", "Semgrep", 2, 2)
    feb = write(tmp_path, cli(match("py.sqli", "src/db.py", 14, "ERROR")), "feb.json")
    r = import_file(engine, feb, scan_date=dt.datetime(2026, 2, 5), asset="github.com/acme/web")
    assert (r.new_findings, r.fixed_findings, r.items_closed) == (0, 1, 1)
    with engine.begin() as conn:
        info = systems.resolve(conn, None, "test")
        items = {i.source_identifier: i for i in load(conn, info.id, "all")}
    assert items["py.sqli"].status is ItemStatus.OPEN
    assert [a.text for a in items["py.sqli"].assets] == ["github.com/acme/web (src/db.py)"]
    assert items["py.xss"].status is ItemStatus.CLOSED and items["py.xss"].closed_at == dt.date(2026, 2, 5)


def test_an_ignored_match_keeps_its_open_finding_open_until_it_is_gone(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    """A `nosemgrep` match still reported (is_ignored) is a person's decision, not a fix: a run
    that reports it closes nothing of it and opens nothing; a run without it closes it."""
    register_parser(SemgrepParser())

    def run(day: int, *results: dict[str, Any]) -> Any:
        path = write(tmp_path, cli(*results), f"{day}.json")
        return import_file(engine, path, scan_date=dt.datetime(2026, 1, day), asset="github.com/acme/web")

    jan = run(5, match("py.sqli", "src/db.py", 10, "ERROR"))
    assert (jan.assets_covered, jan.new_findings, jan.items_opened) == (1, 1, 1)
    feb = run(6, match("py.sqli", "src/db.py", 10, "ERROR", is_ignored=True))
    assert (feb.set_aside, feb.fixed_findings, feb.items_closed) == (1, 0, 0)
    new = run(
        7, match("py.sqli", "src/db.py", 10, "ERROR", is_ignored=True), match("py.xss", "src/v.py", is_ignored=True)
    )
    assert (new.new_findings, new.items_opened, new.fixed_findings) == (0, 0, 0)
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert set(items) == {"py.sqli"} and items["py.sqli"].status is ItemStatus.OPEN
    gone = run(8)
    assert (gone.fixed_findings, gone.items_closed) == (1, 1)


def test_an_ignored_api_vuln_opens_nothing_and_a_run_covering_its_repository_does_not_close_it(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    """The API listing closes nothing by absence; in a file that also holds a CLI run of the same
    repository (which does), an ignored vuln still listed keeps its open finding open."""
    register_parser(SemgrepParser())
    listing = {"vulns": [vuln("ssc-1", "acme/web", "url-parse"), vuln("ssc-2", "acme/web", "grpcio", "IGNORED")]}
    jan = import_file(engine, write(tmp_path, listing, "jan.json"), scan_date=dt.datetime(2026, 1, 5))
    assert (jan.results, jan.set_aside, jan.new_findings, jan.items_opened) == (2, 1, 1, 1)
    ignored = {"vulns": [vuln("ssc-1", "acme/web", "url-parse", "IGNORED")]}
    both = json.dumps(cli()) + "\n" + json.dumps(ignored) + "\n"
    feb = import_file(engine, write(tmp_path, both, "feb.json"), scan_date=dt.datetime(2026, 2, 5), asset="acme/web")
    assert (feb.assets_covered, feb.set_aside, feb.fixed_findings, feb.items_closed) == (1, 1, 0, 0)
    mar = import_file(engine, write(tmp_path, cli(), "mar.json"), scan_date=dt.datetime(2026, 3, 5), asset="acme/web")
    assert (mar.fixed_findings, mar.items_closed) == (1, 1)


# --- review fixes: records of one finding in an API listing; files Semgrep could not analyse -----


def test_api_records_of_one_finding_merge_open_then_set_aside_then_fixed(tmp_path: Path) -> None:
    """One advisory, repository and package listed twice (two lockfiles, or two pages): the open
    record wins, then an ignored one, then a fixed one, whatever their order in the file."""

    def lock(status: str, lockfile: str) -> dict[str, Any]:
        return vuln(
            "ssc-1", "acme/web", "url-parse", status, dependencyFileLocation={"path": lockfile, "startLine": "7"}
        )

    cases = [
        (["FIXED", "NEW"], FindingStatus.OPEN, ["b"]),
        (["NEW", "FIXED"], FindingStatus.OPEN, ["a"]),
        (["CLOSED", "IGNORED"], FindingStatus.SET_ASIDE, ["b"]),
        (["IGNORED", "FIXED"], FindingStatus.SET_ASIDE, ["a"]),
        (["IGNORED", "REVIEWING"], FindingStatus.OPEN, ["b"]),
        (["FIXED", "CLOSED"], FindingStatus.FIXED, ["a", "b"]),
        (["NEW", "NEW"], FindingStatus.OPEN, ["a", "b"]),
    ]
    for statuses, status, lockfiles in cases:
        doc = {"vulns": [lock(statuses[0], "a/package-lock.json"), lock(statuses[1], "b/package-lock.json")]}
        (f,) = findings(parse(write(tmp_path, doc)))
        assert f.status is status, statuses
        assert f.evidence is not None
        shown = [x for x in "ab" if f"Installed: url-parse 1.5.1 ({x}/package-lock.json, line 7)" in f.evidence]
        assert shown == lockfiles, statuses  # the evidence of the records that decided
        assert f.since == (dt.datetime(2026, 1, 10, 2, 3, 4) if status is FindingStatus.OPEN else None)


def test_a_vuln_fixed_in_one_lockfile_never_closes_it_while_open_in_another(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(SemgrepParser())

    def listing(day: int, *statuses: str) -> Any:
        vulns = [
            vuln("ssc-1", "acme/web", "url-parse", s, dependencyFileLocation={"path": f"{n}/package-lock.json"})
            for n, s in enumerate(statuses)
        ]
        path = write(tmp_path, {"vulns": vulns}, f"{day}.json")
        return import_file(engine, path, scan_date=dt.datetime(2026, 1, day))

    jan = listing(5, "NEW")
    assert (jan.new_findings, jan.items_opened) == (1, 1)
    feb = listing(6, "FIXED", "NEW")
    assert (feb.results, feb.fixed_findings, feb.items_closed) == (1, 0, 0)
    ignored = listing(7, "FIXED", "IGNORED")
    assert (ignored.results, ignored.set_aside, ignored.fixed_findings, ignored.items_closed) == (1, 1, 0, 0)
    with engine.begin() as conn:
        (item,) = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert item.status is ItemStatus.OPEN
    fixed = listing(8, "FIXED", "CLOSED")
    assert (fixed.fixed_findings, fixed.items_closed) == (1, 1)


PARTIAL = {
    "code": 3,
    "level": "warn",
    "type": ["PartialParsing", [{"path": "src/db.py", "start": {"line": 3, "col": 1}, "end": {"line": 9, "col": 2}}]],
    "message": "Syntax error at line src/db.py:3:\n `<<<` was unexpected",
    "path": "src/db.py",
    "spans": [{"file": "src/db.py", "start": {"line": 3, "col": 1}, "end": {"line": 9, "col": 2}}],
}
TIMEOUT = {
    "code": 3,
    "level": "warn",
    "type": "Timeout",
    "rule_id": "py.sqli",
    "message": "Timeout when running py.sqli on src/big.py",
    "path": "src/big.py",
}


def test_files_a_run_could_not_fully_analyse_are_its_partial_paths(tmp_path: Path) -> None:
    """An error naming a file (any level: PartialParsing and Timeout are `warn`) means Semgrep did
    not fully look at it: a finding missing from that file proves nothing; the rest is covered."""
    for errors, paths in (
        ([PARTIAL], ("src/db.py",)),
        ([PARTIAL, TIMEOUT, {**TIMEOUT, "rule_id": "py.xss"}], ("src/big.py", "src/db.py")),
    ):
        doc = cli(match("a"), errors=errors)
        recs, ctx = parsed(write(tmp_path, doc), scan_date=WHEN, asset_name="web")
        assert [type(r) for r in recs] == [Coverage, Finding, Scan] and recs[-1].partial_paths == paths
        assert ctx.report.warnings == [
            f"file: semgrep could not fully analyse {len(paths)} file(s); their findings stay open"
        ]
    payload_only = {**PARTIAL, "path": None}  # the file named only in the PartialParsing locations
    recs, ctx = parsed(write(tmp_path, cli(errors=[payload_only])), scan_date=WHEN, asset_name="web")
    assert recs[-1].partial_paths == ("src/db.py",) and len(ctx.report.warnings) == 1
    second = json.dumps(cli()) + "\n" + json.dumps(cli(errors=[TIMEOUT]))  # in any document of the file
    recs, ctx = parsed(write(tmp_path, second), scan_date=WHEN, asset_name="web")
    assert recs[-1].partial_paths == ("src/big.py",) and len(ctx.report.warnings) == 1
    other = cli(match("a"), errors=[{"code": 2, "level": "warn", "type": "MissingPlugin", "message": "x"}])
    recs, ctx = parsed(write(tmp_path, other), scan_date=WHEN, asset_name="web")
    assert [type(r) for r in recs] == [Coverage, Finding, Scan] and ctx.report.warnings == []


def test_an_unanalysed_file_with_supply_chain_results_covers_nothing(tmp_path: Path) -> None:
    """A lockfile Semgrep could not read hides which packages it lists: the run covers nothing."""
    sca = match("ssc-1", "package-lock.json")
    sca["extra"]["sca_info"] = {"dependency_match": {"found_dependency": {"package": "lodash", "version": "4.0"}}}
    recs, ctx = parsed(write(tmp_path, cli(sca, errors=[{**TIMEOUT, "path": "yarn.lock"}])), asset_name="web")
    assert not [r for r in recs if isinstance(r, Coverage)]
    assert ctx.report.warnings == ["file: semgrep could not fully analyse 1 file(s); nothing is closed by absence"]


def test_a_file_semgrep_could_not_parse_keeps_its_findings_open(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(SemgrepParser())
    both = cli(match("py.sqli", "src/db.py", 10, "ERROR"), match("py.xss", "src/web.py", 4, "ERROR"))
    jan = write(tmp_path, both, "jan.json")
    assert import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5), asset="acme/web").items_opened == 2
    feb = write(tmp_path, cli(match("py.xss", "src/web.py", 4, "ERROR"), errors=[PARTIAL]), "feb.json")
    r = import_file(engine, feb, scan_date=dt.datetime(2026, 2, 5), asset="acme/web")
    assert (r.assets_covered, r.fixed_findings, r.items_closed) == (1, 0, 0)  # src/db.py was not analysed
    assert r.warning_lines == ["file: semgrep could not fully analyse 1 file(s); their findings stay open"]
    mar = write(tmp_path, cli(), "mar.json")
    r = import_file(engine, mar, scan_date=dt.datetime(2026, 3, 5), asset="acme/web")
    assert (r.assets_covered, r.fixed_findings, r.items_closed) == (1, 2, 2)


def test_an_unanalysed_lockfile_covers_nothing_even_without_supply_chain_matches(tmp_path: Path) -> None:
    """Its packages' findings are located at the package, not the lockfile: only withholding the
    run's coverage keeps them from being closed."""
    for lockfile in ("package-lock.json", "services/api/poetry.lock", "requirements-dev.txt"):
        recs, ctx = parsed(write(tmp_path, cli(errors=[{**TIMEOUT, "path": lockfile}])), asset_name="web")
        assert not [r for r in recs if isinstance(r, Coverage)], lockfile
        assert ctx.report.warnings == ["file: semgrep could not fully analyse 1 file(s); nothing is closed by absence"]
