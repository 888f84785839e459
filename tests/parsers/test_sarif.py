"""The SARIF 2.1.0 parser on hand-written logs and on the real files of the corpus."""

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
from poam.parsers.codescan import repo_path
from poam.parsers.registry import read_head
from poam.parsers.sarif import SarifParser
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import corpus_dir

WHEN = dt.datetime(2026, 3, 1, 12, 0)


def write(tmp_path: Path, doc: object, name: str = "log.sarif") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def parse(path: Path, **ctx: Any) -> list[object]:
    return parsed(path, **ctx)[0]


def parsed(path: Path, **ctx: Any) -> tuple[list[object], ParseContext]:
    """The records and the context (its report: warnings, skips, date from file time)."""
    context = ParseContext(str(path), **ctx)
    with path.open("rb") as f:
        return list(SarifParser().parse(f, context)), context


def findings(records: list[object]) -> list[Finding]:
    """The findings that are open or fixed (suppressed ones are set aside)."""
    return [r for r in records if isinstance(r, Finding) and r.status is not FindingStatus.SET_ASIDE]


def set_aside(records: list[object]) -> list[str]:
    return [r.weakness.vuln_id for r in records if isinstance(r, Finding) and r.status is FindingStatus.SET_ASIDE]


def result(rule_id: str | None, uri: str | None = "src/app.py", line: int | None = 10, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {"message": {"text": f"problem at {line}"}, **extra}
    if rule_id is not None:
        res["ruleId"] = rule_id
    if uri is not None:
        region = {"startLine": line, "snippet": {"text": f"code line {line}"}} if line else {}
        res["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}]
    return res


def log(*results: dict[str, Any], rules: list[dict[str, Any]] | None = None, **run: Any) -> dict[str, Any]:
    driver: dict[str, Any] = {"name": run.pop("tool", "CodeScanner"), "version": "1.2"}
    if rules is not None:
        driver["rules"] = rules
    return {"version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": list(results), **run}]}


def test_hits_of_one_rule_in_one_file_are_one_finding_with_lines_in_evidence(tmp_path: Path) -> None:
    doc = log(result("R1", "./src\\app.py", 10), result("R1", "src/app.py", 20), result("R1", "src/other.py", 5))
    recs = parse(write(tmp_path, doc), scan_date=WHEN)
    found = findings(recs)
    assert [(f.weakness.vuln_id, f.path) for f in found] == [("R1", "src/app.py"), ("R1", "src/other.py")]
    first = found[0]
    assert first.evidence is not None
    assert "Line 10: problem at 10" in first.evidence and "Line 20" in first.evidence
    assert "code line 20" in first.evidence
    assert first.weakness is found[1].weakness  # one Weakness per rule
    assert first.observed_at == WHEN  # no invocation times: --scan-date
    assert first.asset.kind is AssetKind.REPOSITORY and first.asset.name == "CodeScanner project"
    assert not [r for r in recs if isinstance(r, Coverage)]  # an unnamed repository covers nothing
    named = parse(write(tmp_path, doc), scan_date=WHEN, asset_name="git.example.com/acme/api")
    assert [c.asset.name for c in named if isinstance(c, Coverage)] == ["git.example.com/acme/api"]
    scan = recs[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.tool_version) == ("CodeScanner", "1.2")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("./a/b.py", "a/b.py"),
        ("a\\b\\c.py", "a/b/c.py"),
        ("file:///C:/code/file1.c", "C:/code/file1.c"),
        ("file:////src/x.js", "/src/x.js"),
        ("src/my%20file.py", "src/my file.py"),
        ("a//b/./c.py", "a/b/c.py"),
    ],
)
def test_paths_are_normalized(uri: str, expected: str) -> None:
    assert repo_path(uri, uri=True) == expected


def test_base_uris_are_resolved_and_absolute_roots_dropped(tmp_path: Path) -> None:
    res = result("R1", None)
    res["locations"] = [
        {"physicalLocation": {"artifactLocation": {"uri": "lib/x.c", "uriBaseId": "SRCROOT"}, "region": {}}}
    ]
    absolute = result("R2", "file:///build/work/tools/y.c")
    bases = {"ROOT": {"uri": "file:///build/work/"}, "SRCROOT": {"uri": "src/", "uriBaseId": "ROOT"}}
    found = findings(parse(write(tmp_path, log(res, absolute, originalUriBaseIds=bases)), scan_date=WHEN))
    assert [f.path for f in found] == ["src/lib/x.c", "tools/y.c"]


@pytest.mark.parametrize("checkout", ["file:///home/dev/app", "file:///builds/runner-7/app/", "file:///C:/work/app"])
def test_paths_are_relative_to_the_working_directory(tmp_path: Path, checkout: str) -> None:
    """The same repository checked out in another folder gives the same findings."""
    res = result("R1", checkout.rstrip("/") + "/src/db.py")
    doc = log(res, invocations=[{"workingDirectory": {"uri": checkout}}])
    assert [f.path for f in findings(parse(write(tmp_path, doc), scan_date=WHEN))] == ["src/db.py"]


def test_package_coordinates_lose_their_version(tmp_path: Path) -> None:
    doc = log(result("BDSA-1 (CVE-2020-11022)", "npm/jquery@3.4.1", None), result("X", "npm/@scope/lib@1.0.0-rc1"))
    found = findings(parse(write(tmp_path, doc), scan_date=WHEN))
    assert [f.path for f in found] == ["npm/jquery", "npm/@scope/lib"]
    assert found[0].weakness.cves == ("CVE-2020-11022",)


def test_severity_numeric_security_severity_wins_then_levels(tmp_path: Path) -> None:
    rules = [
        {"id": "CRIT", "properties": {"security-severity": "9.1"}},
        {"id": "HIGH", "properties": {"security-severity": "7.0"}},
        {"id": "MED", "properties": {"security-severity": 4.0}},
        {"id": "DEF", "defaultConfiguration": {"level": "error"}},
        {"id": "NONE"},
    ]
    doc = log(
        result("CRIT", level="note"),
        result("HIGH"),
        result("MED"),
        result("DEF"),
        result("DEF", "src/b.py", level="note"),
        result("NONE"),
        result("NOTE", level="note"),
        result("INFO", level="none"),
        rules=rules,
    )
    got = {
        (f.weakness.vuln_id, f.path): f.weakness.severity for f in findings(parse(write(tmp_path, doc), scan_date=WHEN))
    }
    assert got == {
        ("CRIT", "src/app.py"): Severity.CRITICAL,
        ("HIGH", "src/app.py"): Severity.HIGH,
        ("MED", "src/app.py"): Severity.MEDIUM,
        ("DEF", "src/app.py"): Severity.HIGH,  # a rule's severity: its highest result
        ("DEF", "src/b.py"): Severity.HIGH,
        ("NONE", "src/app.py"): Severity.MEDIUM,  # SARIF's default level is warning
        ("NOTE", "src/app.py"): Severity.LOW,
        ("INFO", "src/app.py"): Severity.INFO,
    }


def test_suppressed_results_are_set_aside_unless_under_review_or_rejected(tmp_path: Path) -> None:
    doc = log(
        result("A", suppressions=[{"kind": "inSource"}]),
        result("B", suppressions=[{"kind": "external", "status": "accepted"}]),
        result("C", suppressions=[{"kind": "external", "status": "underReview"}]),
        result("D", suppressions=[{"kind": "external", "status": "rejected"}]),
        result("E", suppressions=[]),
        result("F", suppressions=[{"kind": "external", "state": "accepted"}]),  # pre-release name of status
    )
    recs = parse(write(tmp_path, doc), scan_date=WHEN)
    assert [f.weakness.vuln_id for f in findings(recs)] == ["C", "D", "E"]
    assert set_aside(recs) == ["A", "B", "F"]


def test_a_suppressed_result_keeps_its_open_finding_open(engine: Engine, tmp_path: Path) -> None:
    """Suppression is a person's decision, not a fix: the covering run still reports the result,
    so its absence proves nothing; a run that no longer reports it at all closes it."""
    vcp = [{"repositoryUri": "https://github.com/acme/web"}]

    def month(day: str, *results: dict[str, Any]) -> Path:
        doc = log(*results, versionControlProvenance=vcp, invocations=[{"startTimeUtc": f"{day}T10:00:00Z"}])
        return write(tmp_path, doc, f"{day}.sarif")

    import_file(engine, month("2026-01-05", result("R")))
    muted = {"suppressions": [{"kind": "inSource"}]}
    feb = import_file(engine, month("2026-02-05", result("R", **muted)))
    assert (feb.fixed_findings, feb.items_closed, feb.new_findings) == (0, 0, 0)
    new = import_file(engine, month("2026-02-06", result("R", **muted), result("S", **muted)))
    assert (new.new_findings, new.items_opened, new.fixed_findings) == (0, 0, 0)  # never opens one either
    mar = import_file(engine, month("2026-03-05"))
    assert (mar.fixed_findings, mar.items_closed) == (1, 1)


def test_pass_and_absent_results_are_fixed_findings(tmp_path: Path) -> None:
    doc = log(
        result("P", kind="pass", level="none"),
        result("G", baselineState="absent"),
        result("O", baselineState="new"),
        result("N", kind="notApplicable"),
    )
    got = {f.weakness.vuln_id: f.status for f in findings(parse(write(tmp_path, doc), scan_date=WHEN))}
    assert got == {"P": FindingStatus.FIXED, "G": FindingStatus.FIXED, "O": FindingStatus.OPEN}


def test_an_open_hit_keeps_the_finding_open(tmp_path: Path) -> None:
    doc = log(result("R", line=1, kind="pass"), result("R", line=2))
    (f,) = findings(parse(write(tmp_path, doc), scan_date=WHEN))
    assert f.status is FindingStatus.OPEN


def test_repository_from_the_run_else_asset_option_else_tool_project(tmp_path: Path) -> None:
    vcp = [{"repositoryUri": "https://user:token@github.com/acme/web.git/", "revisionId": "abc"}]
    named = findings(parse(write(tmp_path, log(result("R"), versionControlProvenance=vcp)), asset_name="other"))
    assert named[0].asset.name == "https://github.com/acme/web"
    given = findings(parse(write(tmp_path, log(result("R"))), asset_name="github.com/acme/api"))
    assert given[0].asset.name == "github.com/acme/api"
    assert findings(parse(write(tmp_path, log(result("R"), tool="semgrep"))))[0].asset.name == "Semgrep project"


def test_rules_by_index_in_extensions_and_message_strings(tmp_path: Path) -> None:
    ext_rule = {
        "id": "S1",
        "shortDescription": {"text": "Weak crypto"},
        "messageStrings": {"default": {"text": "Do not use {0}."}},
        "properties": {"tags": ["security", "external/cwe/cwe-327"]},
        "helpUri": "https://example.com/S1",
    }
    res = result(
        None, message={"id": "default", "arguments": ["MD5"]}, rule={"index": 0, "toolComponent": {"index": 0}}
    )
    doc = log(res)
    doc["runs"][0]["tool"]["extensions"] = [{"name": "pack", "rules": [ext_rule]}]
    (f,) = findings(parse(write(tmp_path, doc), scan_date=WHEN))
    assert (f.weakness.vuln_id, f.weakness.name, f.weakness.cwes) == ("S1", "Weak crypto", ("327",))
    assert f.weakness.see_also == "https://example.com/S1"
    assert f.evidence is not None and "Do not use MD5." in f.evidence
    by_index = log({**result(None), "ruleIndex": 1}, rules=[{"id": "X0"}, {"id": "X1"}])
    assert findings(parse(write(tmp_path, by_index), scan_date=WHEN))[0].weakness.vuln_id == "X1"


def test_invocation_times_else_fallback(tmp_path: Path) -> None:
    inv = [{"startTimeUtc": "2026-01-05T10:00:00Z", "endTimeUtc": "2026-01-05T10:05:00Z", "executionSuccessful": True}]
    recs = parse(write(tmp_path, log(result("R"), invocations=inv)), scan_date=WHEN, asset_name="api")
    assert findings(recs)[0].observed_at == dt.datetime(2026, 1, 5, 10, 0)
    cov = next(r for r in recs if isinstance(r, Coverage))
    assert (cov.started_at, cov.ended_at) == (dt.datetime(2026, 1, 5, 10, 0), dt.datetime(2026, 1, 5, 10, 5))
    scan = recs[-1]
    assert isinstance(scan, Scan) and scan.ended_at == dt.datetime(2026, 1, 5, 10, 5)


def test_runs_that_did_not_complete_cover_nothing(tmp_path: Path) -> None:
    failed = log(result("R"), invocations=[{"executionSuccessful": False}])
    assert not [r for r in parse(write(tmp_path, failed), scan_date=WHEN) if isinstance(r, Coverage)]
    no_results = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "T"}}}]}
    assert [type(r) for r in parse(write(tmp_path, no_results), scan_date=WHEN)] == [Scan]


def test_empty_runs_and_several_runs(tmp_path: Path) -> None:
    assert [type(r) for r in parse(write(tmp_path, {"version": "2.1.0", "runs": []}))] == [Scan]
    two = log(result("A"))
    two["runs"].append(log(result("B"), tool="Other")["runs"][0])
    recs = parse(write(tmp_path, two), scan_date=WHEN)
    assert {(f.weakness.tool, f.weakness.vuln_id, f.asset.name) for f in findings(recs)} == {
        ("CodeScanner", "A", "CodeScanner project"),
        ("Other", "B", "Other project"),
    }
    assert not [r for r in recs if isinstance(r, Coverage)]
    named = parse(write(tmp_path, two), scan_date=WHEN, asset_name="api")
    assert [(c.asset.name, c.tool) for c in named if isinstance(c, Coverage)] == [
        ("api", "CodeScanner"),
        ("api", "Other"),
    ]
    scan = recs[-1]
    assert isinstance(scan, Scan) and scan.tool == "CodeScanner, Other"


def test_gitleaks_results_without_rule_id_use_the_rule_named_by_the_message(tmp_path: Path) -> None:
    res = result(None, message={"text": "AWS Access Key secret detected"})
    doc = log(res, rules=[{"id": "AWS"}, {"id": "AWS Access Key"}])
    assert findings(parse(write(tmp_path, doc), scan_date=WHEN))[0].weakness.vuln_id == "AWS Access Key"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("[1, 2]", "JSON object expected"),
        ('{"version": "2.0.0", "runs": []}', "version '2.0.0' is not supported"),
        ('{"version": "2.1.0", "runs": {}}', "no runs array"),
        ('{"version": "2.1.0", "runs": [3]}', "run 1 is not an object"),
        ('{"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}', "no tool.driver.name"),
        ('{"version": "2.1.0", "runs": [', "not valid JSON"),
    ],
)
def test_bad_input_is_an_input_error(tmp_path: Path, doc: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, doc))


def test_odd_types_inside_results_do_not_crash(tmp_path: Path) -> None:
    res: dict[str, Any] = {"ruleId": "R", "locations": "x", "message": 5, "level": 3, "suppressions": [None]}
    doc = log(res, rules=[{"id": "R", "properties": None, "shortDescription": "x"}], originalUriBaseIds=[])
    (f,) = findings(parse(write(tmp_path, doc), scan_date=WHEN))
    assert (f.path, f.weakness.severity) == (None, Severity.MEDIUM)


def located(*places: tuple[str, int], base: str | None = None) -> list[dict[str, Any]]:
    """`locations` of a result: a physical location per (uri, line)."""
    out = []
    for uri, line in places:
        artifact: dict[str, Any] = {"uri": uri} if base is None else {"uri": uri, "uriBaseId": base}
        out.append({"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": line}}})
    return out


def test_each_location_of_a_result_is_a_finding_and_one_file_is_one_finding(tmp_path: Path) -> None:
    """SARIF 3.27.12: every location is a place the result occurred; related locations are not."""
    res = result("R1", None, message={"text": "tainted"})
    res["locations"] = located(("src/a.py", 10), ("src/b.py", 3), ("lib/a.py", 7), base="SRC") + located(
        ("src/a.py", 20)
    )
    res["relatedLocations"] = located(("src/source.py", 1))
    res["codeFlows"] = [{"threadFlows": [{"locations": [{"location": located(("src/flow.py", 2))[0]}]}]}]
    bases = {"SRC": {"uri": "src/"}}
    recs, ctx = parsed(write(tmp_path, log(res, originalUriBaseIds=bases)), scan_date=WHEN)
    found = findings(recs)
    assert [f.path for f in found] == ["src/src/a.py", "src/src/b.py", "src/lib/a.py", "src/a.py"]
    (twice,) = [f for f in found if f.path == "src/a.py"]
    assert twice.evidence == "Line 20: tainted"
    doc = log(result("R1", None, locations=located(("a.py", 10), ("b.py", 3), ("a.py", 20))))
    found = findings(parse(write(tmp_path, doc), scan_date=WHEN))
    assert [(f.path, f.evidence) for f in found] == [
        ("a.py", "Line 10: problem at 10\nLine 20: problem at 10"),
        ("b.py", "Line 3: problem at 10"),
    ]
    assert found[0].weakness is found[1].weakness and ctx.report.warning_count == 0


def test_a_location_no_longer_reported_is_closed_by_the_next_covering_run(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(SarifParser())

    def month(day: str, *places: tuple[str, int], named: bool = True) -> Path:
        res = result("py/sql", None, level="error", locations=located(*places))
        run: dict[str, Any] = {"invocations": [{"startTimeUtc": f"{day}T10:00:00Z"}]}
        if named:
            run["versionControlProvenance"] = [{"repositoryUri": "https://github.com/acme/web"}]
        return write(tmp_path, log(res, **run), f"{day}-{named}.sarif")

    r = import_file(engine, month("2026-01-05", ("src/a.py", 1), ("src/b.py", 2), ("src/a.py", 9)))
    assert (r.results, r.new_findings) == (2, 2)
    r = import_file(engine, month("2026-02-05", ("src/b.py", 2), named=False))  # another project covers nothing
    assert (r.fixed_findings, r.new_findings) == (0, 1)
    r = import_file(engine, month("2026-03-05", ("src/b.py", 4)))
    assert (r.new_findings, r.fixed_findings, r.items_closed) == (0, 1, 0)  # one item: the weakness on web
    with engine.begin() as conn:
        info = systems.resolve(conn, None, "test")
        (item,) = [i for i in load(conn, info.id, "all") if i.status is ItemStatus.OPEN]
    assert sorted(a.text for a in item.assets) == [
        "CodeScanner project (src/b.py)",
        "https://github.com/acme/web (src/b.py)",
    ]


def test_levels_default_to_the_rule_then_warning_without_a_warning(tmp_path: Path) -> None:
    rules = [{"id": "D", "defaultConfiguration": {"level": "note"}}, {"id": "N", "defaultConfiguration": {}}]
    doc = log(result("D"), result("N"), result("X"), result("E", level="Error"), result("Z", level=""), rules=rules)
    recs, ctx = parsed(write(tmp_path, doc), scan_date=WHEN)
    got = {f.weakness.vuln_id: f.weakness.severity for f in findings(recs)}
    assert got == {
        "D": Severity.LOW,
        "N": Severity.MEDIUM,
        "X": Severity.MEDIUM,
        "E": Severity.HIGH,
        "Z": Severity.MEDIUM,
    }
    assert (ctx.report.warning_count, ctx.report.skipped) == (0, 0)


def test_unknown_levels_are_read_as_severity_words_else_moderate_with_warnings(tmp_path: Path) -> None:
    rules = [{"id": "RULE", "defaultConfiguration": {"level": "blocker"}}]
    doc = log(result("H", level="high"), result("S", level="severe"), result("RULE"), result("T", level=3), rules=rules)
    recs, ctx = parsed(write(tmp_path, doc), scan_date=WHEN)
    got = {f.weakness.vuln_id: f.weakness.severity for f in findings(recs)}
    assert got == {"H": Severity.HIGH, "S": Severity.MEDIUM, "RULE": Severity.MEDIUM, "T": Severity.MEDIUM}
    assert ctx.report.warnings == [
        "result 1 of run 1 (H): level 'high' is not a SARIF level; rated high",
        "result 2 of run 1 (S): severity 'severe' not recognised; rated Moderate",
        "result 3 of run 1 (RULE): severity 'blocker' not recognised; rated Moderate",
        "result 4 of run 1 (T): severity '3' not recognised; rated Moderate",
    ]


def test_kinds_per_the_specification(tmp_path: Path) -> None:
    """fail open; open and review open, rated as a failure of their rule; pass fixed;
    informational counted, never a weakness of its rule's rating; notApplicable left out."""
    rules = [{"id": r, "defaultConfiguration": {"level": "error"}} for r in ("F", "O", "V", "P", "I", "N")]
    doc = log(
        result("F"),
        result("O", kind="open", level="none"),
        result("V", kind="review"),
        result("P", kind="pass", level="none"),
        result("I", kind="informational"),
        result("I", "src/other.py", kind="fail"),
        result("N", kind="notApplicable"),
        result("W", kind="Pass"),  # the meaning is clear: read as pass
        rules=rules,
    )
    recs, ctx = parsed(write(tmp_path, doc), scan_date=WHEN)
    got = {(f.weakness.vuln_id, f.path): (f.status, f.weakness.severity) for f in findings(recs)}
    assert got == {
        ("F", "src/app.py"): (FindingStatus.OPEN, Severity.HIGH),
        ("O", "src/app.py"): (FindingStatus.OPEN, Severity.HIGH),
        ("V", "src/app.py"): (FindingStatus.OPEN, Severity.HIGH),
        ("P", "src/app.py"): (FindingStatus.FIXED, Severity.INFO),
        ("I", "src/app.py"): (FindingStatus.OPEN, Severity.INFO),  # informational: counted, not stored
        ("I", "src/other.py"): (FindingStatus.OPEN, Severity.HIGH),
        ("W", "src/app.py"): (FindingStatus.FIXED, Severity.INFO),
    }
    assert ctx.report.warning_count == 0


def test_an_unknown_kind_is_kept_open_with_a_warning(tmp_path: Path) -> None:
    doc = log(result("K", kind="maybe"), result("L", kind="pass"))
    recs, ctx = parsed(write(tmp_path, doc), scan_date=WHEN)
    assert [(f.weakness.vuln_id, f.status, f.weakness.severity) for f in findings(recs)] == [
        ("K", FindingStatus.OPEN, Severity.MEDIUM),
        ("L", FindingStatus.FIXED, Severity.INFO),
    ]
    assert ctx.report.warnings == ["result 1 of run 1: status 'maybe' not recognised; kept open"]


def test_the_rule_comes_from_rule_id_or_index_and_a_result_naming_none_is_left_out(tmp_path: Path) -> None:
    rules = [{"id": "X0"}, {"id": "X1", "guid": "0C1D2E3F-0000-4000-8000-000000000001"}]
    doc = log(
        result(None, rule={"id": "BY-ID"}),
        result(None, rule={"index": 1}),
        result(None, "src/guid.py", rule={"guid": "0c1d2e3f-0000-4000-8000-000000000001"}),
        result(None, "src/none.py"),
        rules=rules,
    )
    recs, ctx = parsed(write(tmp_path, doc), scan_date=WHEN)
    assert [(f.weakness.vuln_id, f.path) for f in findings(recs)] == [
        ("BY-ID", "src/app.py"),
        ("X1", "src/app.py"),
        ("X1", "src/guid.py"),
    ]
    assert ctx.report.warnings == ["result 4 of run 1: names no rule (ruleId, rule.id or rule.index); left out"]
    assert ctx.report.skipped == 1


def test_results_that_are_not_objects_are_left_out(tmp_path: Path) -> None:
    doc = log(result("A"), 7, None, result("B"))  # type: ignore[arg-type]
    recs, ctx = parsed(write(tmp_path, doc), scan_date=WHEN)
    assert [f.weakness.vuln_id for f in findings(recs)] == ["A", "B"]
    assert ctx.report.warnings == [
        "result 2 of run 1: not an object; left out",
        "result 3 of run 1: not an object; left out",
    ]


def test_suppression_statuses(tmp_path: Path) -> None:
    doc = log(
        result("ACCEPTED", suppressions=[{"kind": "external", "status": "accepted"}]),
        result("NO-STATUS", suppressions=[{"kind": "inSource"}]),
        result("REVIEW", suppressions=[{"kind": "external", "status": "underReview"}]),
        result("REJECTED", suppressions=[{"kind": "external", "status": "rejected"}]),
        result("BOTH", suppressions=[{"kind": "inSource"}, {"kind": "external", "status": "underReview"}]),
        result("ODD", suppressions=[{"kind": "external", "status": "approved"}]),
    )
    recs, ctx = parsed(write(tmp_path, doc), scan_date=WHEN)
    assert [f.weakness.vuln_id for f in findings(recs)] == ["REVIEW", "REJECTED", "BOTH", "ODD"]
    assert all(f.status is FindingStatus.OPEN for f in findings(recs))
    assert set_aside(recs) == ["ACCEPTED", "NO-STATUS"]
    assert ctx.report.warnings == ["result 6 of run 1: suppression status 'approved' not recognised; result kept"]


def test_a_file_whose_every_result_names_no_rule_is_refused(engine: Engine, tmp_path: Path) -> None:
    doc = log(result(None), result(None, "b.py"))
    with pytest.raises(InputError, match=r"no record could be read \(2 left out; first: result 1 of run 1: names no"):
        import_file(engine, write(tmp_path, doc))


def test_concatenated_logs_and_json_lines_are_one_import(engine: Engine, tmp_path: Path) -> None:
    vcp = [{"repositoryUri": "https://github.com/acme/web"}]
    jan = log(result("A", "a.py"), versionControlProvenance=vcp, invocations=[{"startTimeUtc": "2026-01-05T10:00:00Z"}])
    feb = log(result("B", "b.py"), versionControlProvenance=vcp, invocations=[{"startTimeUtc": "2026-02-05T10:00:00Z"}])
    other = log(result("A", "a.py"), tool="Other", invocations=[{"startTimeUtc": "2026-02-06T10:00:00Z"}])
    pretty = json.dumps(jan, indent=2) + json.dumps(feb, indent=2) + json.dumps(other, indent=2)
    lines = "\n".join(json.dumps(d) for d in (jan, feb, other)) + "\n"
    for name, body in (("pages.sarif", pretty), ("lines.sarif", lines)):
        path = write(tmp_path, body, name)
        recs = parse(path)
        assert [(f.weakness.tool, f.weakness.vuln_id, f.observed_at.month) for f in findings(recs)] == [
            ("CodeScanner", "A", 1),
            ("CodeScanner", "B", 2),
            ("Other", "A", 2),
        ]
        assert [c.started_at for c in recs if isinstance(c, Coverage)] == [
            dt.datetime(2026, 1, 5, 10),
            dt.datetime(2026, 2, 5, 10),
        ]
        scan = recs[-1]
        assert isinstance(scan, Scan) and scan.tool == "CodeScanner, Other"
        assert (scan.started_at, scan.ended_at) == (dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 2, 6, 10))
        with path.open("rb") as f:
            assert SarifParser().sniff(read_head(f))
    for n, name in enumerate(("pages.sarif", "lines.sarif")):
        system = f"s{n}"
        systems.add_system(engine, system, "test")
        r = import_file(engine, tmp_path / name, system=system)
        assert (r.format, r.results, r.new_findings, r.assets_covered) == ("sarif", 3, 3, 1), name
        systems.add_system(engine, f"{system}-option", "test")
        r = import_file(engine, tmp_path / name, system=f"{system}-option", format_id="sarif")
        assert (r.format, r.results, r.new_findings) == ("sarif", 3, 3), name


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"version": "2.1.0", "runs": []}\n[1]', "document 2: not a SARIF log"),
        ('{"version": "2.1.0", "runs": []}{"version": "2.0.0", "runs": []}', "document 2: SARIF version '2.0.0'"),
        ('{"version": "2.1.0", "runs": []}{"version": "2.1.0", "runs": [{"tool": {}}]}', "run 1 of document 2 has no"),
        ('{"version": "2.1.0", "runs": []}\n{"version": "2.1.0", "runs": [', "JSON value 2 is not valid"),
    ],
)
def test_every_document_of_a_file_must_be_a_sarif_log(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, body))


def test_a_newer_run_decides_between_a_failure_and_a_pass(engine: Engine, tmp_path: Path) -> None:
    """Two logs of one repository in one file: the newest result of a rule in a file decides,
    whatever the order of the logs."""
    vcp = [{"repositoryUri": "https://github.com/acme/web"}]

    def one(day: str, kind: str) -> dict[str, Any]:
        return log(
            result("R", "a.py", kind=kind),
            versionControlProvenance=vcp,
            invocations=[{"startTimeUtc": f"{day}T10:00:00Z"}],
        )

    for n, order in enumerate([("fail", "pass"), ("pass", "fail")]):
        days = ("2026-01-05", "2026-02-05") if order[0] == "fail" else ("2026-02-05", "2026-01-05")
        body = json.dumps(one(days[0], order[0])) + "\n" + json.dumps(one(days[1], order[1]))
        found = findings(parse(write(tmp_path, body, f"{n}.sarif")))
        assert sorted((f.observed_at.month, f.status) for f in found) == [
            (1, FindingStatus.OPEN),
            (2, FindingStatus.FIXED),
        ]
        system = f"s{n}"
        systems.add_system(engine, system, "test")
        r = import_file(engine, tmp_path / f"{n}.sarif", system=system)
        with engine.begin() as conn:
            info = systems.resolve(conn, system, "test")
            (item,) = load(conn, info.id, "all")
        assert item.status is ItemStatus.CLOSED, order
        assert r.results == 2


def test_undated_runs_take_the_file_time_only_when_a_record_needs_it(tmp_path: Path) -> None:
    mtime = dt.datetime(2026, 2, 3, 4, 5, 6)
    recs, ctx = parsed(write(tmp_path, log(result("R"))), file_time=mtime)
    assert findings(recs)[0].observed_at == mtime and ctx.report.used_file_time
    recs, ctx = parsed(write(tmp_path, log(versionControlProvenance=[{"repositoryUri": "r"}])), file_time=mtime)
    assert [c.started_at for c in recs if isinstance(c, Coverage)] == [mtime] and ctx.report.used_file_time
    recs, ctx = parsed(write(tmp_path, log()), file_time=mtime)  # nothing to date: no finding, no coverage
    assert [type(r) for r in recs] == [Scan] and not ctx.report.used_file_time
    dated = log(result("R"), invocations=[{"endTimeUtc": "2026-01-05T10:05:00Z"}])
    recs, ctx = parsed(write(tmp_path, dated), file_time=mtime)
    assert findings(recs)[0].observed_at == dt.datetime(2026, 1, 5, 10, 5) and not ctx.report.used_file_time
    recs, ctx = parsed(write(tmp_path, log(result("R"))), file_time=mtime, scan_date=WHEN)
    assert findings(recs)[0].observed_at == WHEN and not ctx.report.used_file_time


def test_import_says_which_date_it_used(engine: Engine, tmp_path: Path) -> None:
    import os

    path = write(tmp_path, log(result("R")), "undated.sarif")
    os.utime(path, (dt.datetime(2026, 2, 3, tzinfo=dt.UTC).timestamp(),) * 2)
    r = import_file(engine, path)
    assert (r.date_source, r.started_at) == ("mtime", dt.datetime(2026, 2, 3))
    dated = log(result("R"), invocations=[{"startTimeUtc": "2026-01-05T10:00:00Z"}])
    assert import_file(engine, write(tmp_path, dated, "dated.sarif")).date_source == "file"


def sniff(data: bytes) -> bool:
    import io

    return SarifParser().sniff(read_head(io.BytesIO(data)))


def test_sniff_needs_runs_and_sarif_version_or_schema() -> None:
    assert sniff(b'{"version": "2.1.0", "runs": []}')
    assert sniff(b'{"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": []}')
    assert not sniff(b'{"$schema": "https://example.com/other.json", "version": "2.1.0", "runs": []}')
    assert not sniff(b'{"version": "2.1.0", "results": []}')
    assert not sniff(b'{"version": "1.0", "runs": []}')
    long_run = (
        b'{"runs": [{"tool": {"driver": {"name": "x"}}, "results": [' + b"{}," * 30000 + b'{}]}], "version": "2.1.0"}'
    )
    assert sniff(long_run)  # `version` beyond the head


# --- the real SARIF files of the corpus --------------------------------------------------------


def _expected(path: Path) -> tuple[set[tuple[str, str, str | None]], set[str]]:
    """(rule, raw location) pairs of results that are not suppressed, and the assets, from a
    plain reading of the documented structure."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    pairs: set[tuple[str, str, str | None]] = set()
    assets: set[str] = set()
    for run in doc["runs"]:
        driver = run["tool"]["driver"]
        tool = "Semgrep" if driver["name"].lower().startswith("semgrep") else driver["name"]
        repos = [p["repositoryUri"] for p in run.get("versionControlProvenance", [])]
        asset = repos[0] if repos else f"{tool} project"
        invocations = run.get("invocations", [])
        notes = [n for i in invocations for n in i.get("toolExecutionNotifications", [])]
        notes += [n for i in invocations for n in i.get("toolConfigurationNotifications", [])]
        if (
            repos
            and "results" in run
            and not any(i.get("executionSuccessful") is False for i in invocations)
            and not any(n.get("level") == "error" for n in notes)  # appendix I: results may be incomplete
        ):
            assets.add(asset)
        for res in run.get("results") or []:
            sup = res.get("suppressions") or []
            if any(s.get("status", s.get("state")) in (None, "accepted") for s in sup):
                continue
            rule = res.get("ruleId")
            if rule is None and "ruleIndex" in res:
                rule = driver["rules"][res["ruleIndex"]]["id"]
            if rule is None:
                rule = res["message"]["text"].removesuffix(" secret detected")
            for loc in res.get("locations") or [{}]:  # each location is a place the result occurred
                if "physicalLocation" in loc:
                    where = loc["physicalLocation"]["artifactLocation"]["uri"]
                elif "logicalLocations" in loc:
                    where = loc["logicalLocations"][0]["fullyQualifiedName"]
                else:
                    where = None
                pairs.add((tool, rule, where))
    return pairs, assets


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("sarif").iterdir())


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 17
    for path in files:
        records = parse(path, scan_date=WHEN)
        pairs, assets = _expected(path)
        found = findings(records)
        assert len(found) == len(pairs), path.name
        assert {(f.weakness.tool, f.weakness.vuln_id) for f in found} == {p[:2] for p in pairs}, path.name
        assert {c.asset.name for c in records if isinstance(c, Coverage)} == assets, path.name
        for f in found:
            assert f.asset.kind is AssetKind.REPOSITORY
            assert f.path is None or ("\\" not in f.path and not f.path.startswith("./") and "@1." not in f.path)
            if f.evidence and f.path:
                assert not f.path.endswith(tuple(f":{n}" for n in range(10)))
        keys = [(f.weakness.tool, f.weakness.vuln_id, f.asset.name, f.path) for f in found]
        assert len(keys) == len(set(keys)), path.name  # one finding per rule and file
        assert isinstance(records[-1], Scan)


@pytest.mark.corpus
def test_corpus_specifics() -> None:
    folder = corpus_dir("sarif")
    sup = findings(parse(folder / "defectdojo__sarif__suppression_test.sarif"))
    assert sorted(f.weakness.vuln_id for f in sup) == ["TST0004", "TST0005"]
    flaw = findings(parse(folder / "defectdojo__sarif__flawfinder.sarif"))
    assert [f.status for f in flaw].count(FindingStatus.FIXED) == 1  # its one `kind: pass` result
    k = findings(parse(folder / "defectdojo__sarif__appendix_k2.sarif"))
    assert [(f.path, f.weakness.vuln_id) for f in k] == [("src/collections/list.cpp", "C2001")]
    bd = findings(parse(folder / "defectdojo__sarif__blackduck_nested_fingerprints.sarif"))
    assert {f.path for f in bd} >= {"npm/example-frontend-lib", "npm/example-util-lib"}
    codeql = findings(parse(folder / "defectdojo__sarif__codeQL-output.sarif"))
    raw = json.loads((folder / "defectdojo__sarif__codeQL-output.sarif").read_text())["runs"][0]["results"]
    lines = [x for f in codeql for x in (f.evidence or "").splitlines()]
    hits = sum(x.startswith("Line ") for x in lines) + sum(int(x.split()[2]) for x in lines if x.startswith("... and"))
    places = [r["locations"][0]["physicalLocation"] for r in raw]
    distinct = {
        (r["ruleId"], p["region"]["startLine"], p["artifactLocation"]["uri"], r["message"]["text"])
        for r, p in zip(raw, places, strict=True)
    }
    assert hits == len(distinct)
    dc = findings(parse(folder / "defectdojo__sarif__dependency_check.sarif"))
    assert any(f.weakness.cves == (f.weakness.vuln_id,) and f.weakness.cvss3_score for f in dc)
    spot = parse(folder / "defectdojo__sarif__spotbugs.sarif")
    assert not [r for r in spot if isinstance(r, Coverage)]  # executionSuccessful false


@pytest.mark.corpus
def test_sniff_claims_exactly_the_sarif_folder() -> None:
    root = corpus_dir("sarif").parent
    claimed = set()
    for path in sorted(root.glob("*/*")):
        with path.open("rb") as f:
            if SarifParser().sniff(read_head(f)):
                claimed.add(path.relative_to(root).as_posix())
    assert claimed == {p.relative_to(root).as_posix() for p in corpus_files()}


# --- end to end --------------------------------------------------------------------------------


def test_import_and_a_later_scan_fixes_what_it_no_longer_reports(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(SarifParser())
    vcp = [{"repositoryUri": "https://github.com/acme/web"}]
    jan = log(
        result("py/sql", "src/db.py", 10, level="error"),
        result("py/sql", "src/db.py", 30, level="error"),
        result("py/xss", "src/views.py", 5, level="warning"),
        versionControlProvenance=vcp,
        invocations=[{"startTimeUtc": "2026-01-05T10:00:00Z"}],
    )
    r = import_file(engine, write(tmp_path, jan, "jan.sarif"))
    assert (r.format, r.tool, r.new_findings, r.items_opened) == ("sarif", "CodeScanner", 2, 2)
    feb = log(
        result("py/sql", "src/db.py", 12, level="error"),  # moved by two lines: the same finding
        versionControlProvenance=vcp,
        invocations=[{"startTimeUtc": "2026-02-05T10:00:00Z"}],
    )
    r = import_file(engine, write(tmp_path, feb, "feb.sarif"))
    assert (r.new_findings, r.fixed_findings, r.items_closed) == (0, 1, 1)
    with engine.begin() as conn:
        info = systems.resolve(conn, None, "test")
        items = {i.source_identifier: i for i in load(conn, info.id, "all")}
    sql, xss = items["py/sql"], items["py/xss"]
    assert sql.status is ItemStatus.OPEN and sql.detector_source == "CodeScanner"
    assert [a.text for a in sql.assets] == ["https://github.com/acme/web (src/db.py)"]
    assert xss.status is ItemStatus.CLOSED and xss.closed_at == dt.date(2026, 2, 5)


def test_a_log_with_two_tools_closes_each_tool_s_findings(engine: Engine, tmp_path: Path, register_parser) -> None:  # type: ignore[no-untyped-def]
    register_parser(SarifParser())

    def run(tool: str, rules: list[str]) -> dict[str, Any]:
        return {
            "tool": {"driver": {"name": tool, "rules": [{"id": r} for r in rules]}},
            "versionControlProvenance": [{"repositoryUri": "https://git.example.com/acme/app"}],
            "results": [
                {
                    "ruleId": r,
                    "level": "error",
                    "message": {"text": "m"},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/a.py"}}}],
                }
                for r in rules
            ],
        }

    def log(name: str, runs: list[dict[str, Any]], day: str) -> Path:
        for r in runs:
            r["invocations"] = [{"executionSuccessful": True, "startTimeUtc": f"{day}T10:00:00Z"}]
        p = tmp_path / name
        p.write_text(
            json.dumps({"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": runs})
        )
        return p

    import_file(engine, log("a.sarif", [run("ToolA", ["A1"]), run("ToolB", ["B1"])], "2026-01-05"))
    r = import_file(engine, log("b.sarif", [run("ToolA", []), run("ToolB", [])], "2026-02-05"))
    assert r.fixed_findings == 2 and r.items_closed == 2


def test_secret_scanners_never_store_the_secret() -> None:
    path = corpus_dir("sarif") / "defectdojo__sarif__gitleaks_7.5.0.sarif"
    doc = json.loads(path.read_text())
    snippets = [
        r["locations"][0]["physicalLocation"]["region"]["snippet"]["text"]
        for run in doc["runs"]
        for r in run["results"]
        if r.get("locations") and "snippet" in r["locations"][0]["physicalLocation"].get("region", {})
    ]
    assert snippets
    with path.open("rb") as f:
        found = [r for r in SarifParser().parse(f, ParseContext(str(path))) if isinstance(r, Finding)]
    assert found
    for f in found:
        assert all(s.strip() not in (f.evidence or "") for s in snippets)


# --- review fixes: suppressed beside passing; runs that did not analyse everything; unnamed runs ----

VCP = [{"repositoryUri": "https://github.com/acme/web"}]


def dated_log(day: str, *results: dict[str, Any], **invocation: Any) -> dict[str, Any]:
    """A log of one run of the acme/web repository, invoked on `day`."""
    return log(*results, versionControlProvenance=VCP, invocations=[{"startTimeUtc": f"{day}T10:00:00Z", **invocation}])


def test_records_of_one_rule_and_file_open_then_set_aside_then_fixed(tmp_path: Path) -> None:
    """Like sca.Collector: a failing result wins, then a suppressed one, then a passing one."""
    muted = {"suppressions": [{"kind": "inSource"}]}
    doc = log(
        result("A", line=10, baselineState="absent"),
        result("A", line=50, **muted),
        result("B", line=1, kind="pass"),
        result("B", line=2, suppressions=[{"kind": "external", "status": "accepted"}]),
        result("C", line=1, **muted),
        result("C", line=2, kind="pass"),
        result("C", line=3),
        result("D", line=1, kind="pass"),
        result("D", line=2, baselineState="absent"),
    )
    got = [
        (f.weakness.vuln_id, f.status) for f in parse(write(tmp_path, doc), scan_date=WHEN) if isinstance(f, Finding)
    ]
    assert got == [
        ("A", FindingStatus.SET_ASIDE),
        ("B", FindingStatus.SET_ASIDE),
        ("C", FindingStatus.OPEN),
        ("D", FindingStatus.FIXED),
    ]


def test_a_suppressed_result_beside_an_absent_one_keeps_the_finding_open(engine: Engine, tmp_path: Path) -> None:
    """The rule's result at line 10 is gone (`baselineState: absent`) but a new one at line 50 is
    suppressed: the weakness is still in the file, set aside, so the item stays open."""
    jan = import_file(engine, write(tmp_path, dated_log("2026-01-05", result("py/sqli", line=10)), "jan.sarif"))
    assert jan.items_opened == 1
    feb_log = dated_log(
        "2026-02-05",
        result("py/sqli", line=10, baselineState="absent"),
        result("py/sqli", line=50, baselineState="new", suppressions=[{"kind": "external", "status": "accepted"}]),
    )
    feb = import_file(engine, write(tmp_path, feb_log, "feb.sarif"))
    assert (feb.set_aside, feb.fixed_findings, feb.items_closed) == (1, 0, 0)
    with engine.begin() as conn:
        (item,) = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert item.status is ItemStatus.OPEN


def notification(level: str | None, text: str = "Rule R failed; rule disabled, run continues.") -> dict[str, Any]:
    """A SARIF notification object (3.58) about the file src/app.py."""
    note: dict[str, Any] = {"descriptor": {"id": "CTN9999"}, "message": {"text": text}}
    if level is not None:
        note["level"] = level
    note["locations"] = located(("src/app.py", 1))
    return note


def test_error_notifications_mean_the_run_covers_nothing(tmp_path: Path) -> None:
    """SARIF 3.58.6 and appendix I: an `error` notification (of execution or of configuration)
    means the tool may not have run every rule on every file, even when `executionSuccessful` is
    true: the run covers nothing (warned); other levels, or none, keep its coverage."""
    for key in ("toolExecutionNotifications", "toolConfigurationNotifications"):
        notes = [notification("note", "Run started."), notification("error"), notification("error")]
        doc = dated_log("2026-02-05", result("R"), executionSuccessful=True, **{key: notes})
        recs, ctx = parsed(write(tmp_path, doc))
        assert [type(r) for r in recs] == [Finding, Scan], key
        assert ctx.report.warnings == [
            "run 1: the tool reported 2 error notification(s) (it may not have run every rule on every file); "
            "nothing is closed by absence"
        ]
    kept = dated_log(
        "2026-02-05", toolExecutionNotifications=[notification("warning"), notification(None), notification("note")]
    )
    recs, ctx = parsed(write(tmp_path, kept))
    assert [type(r) for r in recs] == [Coverage, Scan] and ctx.report.warnings == []
    failed = dated_log("2026-02-05", executionSuccessful=False, toolExecutionNotifications=[notification("error")])
    recs, ctx = parsed(write(tmp_path, failed))  # already covers nothing: no warning needed
    assert [type(r) for r in recs] == [Scan] and ctx.report.warnings == []
    two = dated_log("2026-02-05", toolExecutionNotifications=[notification("error")])
    two["runs"].append({**dated_log("2026-02-05")["runs"][0], "tool": {"driver": {"name": "Other"}}})
    recs, ctx = parsed(write(tmp_path, two))  # each run on its own
    assert [(type(r), getattr(r, "tool", None)) for r in recs] == [(Coverage, "Other"), (Scan, "CodeScanner, Other")]


def test_a_run_whose_tool_failed_on_a_rule_closes_nothing(engine: Engine, tmp_path: Path) -> None:
    jan = import_file(engine, write(tmp_path, dated_log("2026-01-05", result("R")), "jan.sarif"))
    assert jan.items_opened == 1
    feb_log = dated_log("2026-02-05", executionSuccessful=True, toolExecutionNotifications=[notification("error")])
    feb = import_file(engine, write(tmp_path, feb_log, "feb.sarif"))
    assert (feb.assets_covered, feb.fixed_findings, feb.items_closed) == (0, 0, 0)
    assert feb.warnings == 1
    mar = import_file(engine, write(tmp_path, dated_log("2026-03-05"), "mar.sarif"))
    assert (mar.assets_covered, mar.fixed_findings, mar.items_closed) == (1, 1, 1)


def test_a_run_without_a_tool_name_among_readable_runs_is_left_out(tmp_path: Path) -> None:
    doc = dated_log("2026-02-05", result("A"))
    doc["runs"].append({"tool": {"driver": {"rules": []}}, "results": [result("B")]})
    recs, ctx = parsed(write(tmp_path, doc))
    assert [(type(r), getattr(r, "tool", None)) for r in recs] == [
        (Coverage, "CodeScanner"),
        (Finding, None),
        (Scan, "CodeScanner"),
    ]
    assert [f.weakness.vuln_id for f in findings(recs)] == ["A"]
    assert ctx.report.warnings == ["run 2: has no tool.driver.name; left out"] and ctx.report.skipped == 1
    other_log = '{"version": "2.1.0", "runs": [{"tool": {}}]}\n' + json.dumps(dated_log("2026-02-05"))
    recs, ctx = parsed(write(tmp_path, other_log))
    assert ctx.report.warnings == ["run 1 of document 1: has no tool.driver.name; left out"]
    none_named = '{"version": "2.1.0", "runs": [{"tool": {}}, {"tool": {"driver": {"name": ""}}}]}'
    with pytest.raises(InputError, match="run 1 has no tool.driver.name"):  # no run can be read: refused
        parse(write(tmp_path, none_named))


def test_a_log_with_an_unnamed_run_closes_nothing(engine: Engine, tmp_path: Path) -> None:
    jan = import_file(engine, write(tmp_path, dated_log("2026-01-05", result("R")), "jan.sarif"))
    assert jan.items_opened == 1
    feb_log = dated_log("2026-02-05")
    feb_log["runs"].append({"tool": {"driver": {}}, "results": [result("S")]})
    feb = import_file(engine, write(tmp_path, feb_log, "feb.sarif"))
    assert (feb.assets_covered, feb.fixed_findings, feb.items_closed) == (1, 0, 0)
    assert feb.warning_lines == [
        "run 2: has no tool.driver.name; left out",
        "file: 1 record(s) could not be read: nothing is closed by absence",
    ]
