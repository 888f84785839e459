"""The Bandit JSON parser on hand-written reports and on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.bandit import BanditParser
from poam.parsers.base import ParseContext
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import corpus_dir

GENERATED = dt.datetime(2026, 1, 5, 10, 0)


def write(tmp_path: Path, doc: object, name: str = "bandit.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def parse(path: Path, **ctx: Any) -> list[object]:
    return parsed(path, **ctx)[0]


def parsed(path: Path, **ctx: Any) -> tuple[list[object], ParseContext]:
    """The records and the context (its report: warnings, skips, date from file time)."""
    context = ParseContext(str(path), **ctx)
    with path.open("rb") as f:
        return list(BanditParser().parse(f, context)), context


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def issue(
    test: str, filename: str = "app/one.py", line: int = 2, severity: str = "LOW", **extra: Any
) -> dict[str, Any]:
    return {
        "code": f"{line - 1} import os\n{line} assert False\n",
        "filename": filename,
        "issue_confidence": "HIGH",
        "issue_severity": severity,
        "issue_cwe": {"id": 703, "link": "https://cwe.mitre.org/data/definitions/703.html"},
        "issue_text": "Use of assert detected.",
        "line_number": line,
        "line_range": [line],
        "more_info": "https://bandit.readthedocs.io/en/latest/plugins/b101_assert_used.html",
        "test_id": test,
        "test_name": "assert_used",
        **extra,
    }


def report(*results: dict[str, Any], when: str = "2026-01-05T10:00:00Z", **top: Any) -> dict[str, Any]:
    return {"errors": [], "generated_at": when, "metrics": {"_totals": {"loc": 2}}, "results": list(results), **top}


def test_hits_of_one_test_in_one_file_are_one_finding(tmp_path: Path) -> None:
    doc = report(issue("B101", "app\\one.py", 2), issue("B101", "./app/one.py", 9), issue("B101", "app/two.py", 4))
    recs = parse(write(tmp_path, doc))
    found = findings(recs)
    assert [(f.weakness.vuln_id, f.path) for f in found] == [("B101", "app/one.py"), ("B101", "app/two.py")]
    f = found[0]
    assert (f.weakness.tool, f.weakness.name, f.weakness.severity, f.weakness.cwes) == (
        "Bandit",
        "B101: assert_used",
        Severity.LOW,
        ("703",),
    )
    assert f.weakness.see_also is not None and f.weakness.see_also.endswith("b101_assert_used.html")
    assert f.evidence is not None
    assert "Line 2: Use of assert detected. (confidence HIGH)\n    1 import os\n    2 assert False" in f.evidence
    assert "Line 9:" in f.evidence
    assert f.observed_at == GENERATED
    assert f.asset.kind is AssetKind.REPOSITORY and f.asset.name == "Bandit project"
    assert not [r for r in recs if isinstance(r, Coverage)]  # an unnamed project covers nothing
    assert isinstance(recs[-1], Scan) and recs[-1].tool == "Bandit"


def test_severity_and_asset_option(tmp_path: Path) -> None:
    doc = report(
        issue("B602", severity="HIGH"), issue("B602", "b.py", severity="MEDIUM"), issue("B1", severity="UNDEFINED")
    )
    found = findings(parse(write(tmp_path, doc), asset_name="github.com/acme/api"))
    assert [(f.weakness.vuln_id, f.weakness.severity) for f in found] == [
        ("B602", Severity.HIGH),  # a test's severity: its highest hit
        ("B602", Severity.HIGH),
        ("B1", Severity.LOW),
    ]
    assert found[0].asset.name == "github.com/acme/api"


def test_old_reports_without_cwe_and_without_date(tmp_path: Path) -> None:
    old = issue("B101")
    del old["issue_cwe"]
    doc = report(old)
    del doc["generated_at"]
    when = dt.datetime(2026, 4, 1)
    (f,) = findings(parse(write(tmp_path, doc), scan_date=when))
    assert (f.weakness.cwes, f.observed_at) == ((), when)


def test_a_report_with_errors_covers_nothing(tmp_path: Path) -> None:
    doc = report(issue("B101"), errors=[{"filename": "bad.py", "reason": "syntax error while parsing AST"}])
    assert [type(r) for r in parse(write(tmp_path, doc))] == [Finding, Scan]


def test_empty_report_covers_the_project_only_when_named(tmp_path: Path) -> None:
    path = write(tmp_path, report())
    assert [type(r) for r in parse(path)] == [Scan]
    cov, _scan = parse(path, asset_name="git.example.com/acme/api")
    assert isinstance(cov, Coverage) and cov.asset.name == "git.example.com/acme/api"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("[]", "no results list"),
        ('{"generated_at": "x", "metrics": {}}', "no results list"),
        ('{"results": []}\n[]', "document 2: not a Bandit report"),
        ('{"results": []}{"results": {}}', "document 2: not a Bandit report"),
        ('{"results": []}{"results": [', "JSON value 2 is not valid"),
    ],
)
def test_bad_input_is_an_input_error(tmp_path: Path, doc: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, doc), scan_date=GENERATED)


def test_odd_results_are_read_past_with_warnings(tmp_path: Path) -> None:
    no_severity = issue("B3", "c.py")
    del no_severity["issue_severity"]
    doc = report(
        issue("B1", severity="SEVERE"),
        5,  # type: ignore[arg-type]
        {"issue_severity": "LOW", "filename": "x.py"},
        no_severity,
        issue("B4", "d.py", issue_confidence="CERTAIN"),
        issue("B5", "e.py", severity="HIGH", issue_confidence="UNDEFINED"),
    )
    recs, ctx = parsed(write(tmp_path, doc))
    assert [(f.weakness.vuln_id, f.weakness.severity) for f in findings(recs)] == [
        ("B1", Severity.MEDIUM),
        ("B3", Severity.MEDIUM),
        ("B4", Severity.LOW),
        ("B5", Severity.HIGH),
    ]
    assert ctx.report.warnings == [
        "result 1 (B1): severity 'SEVERE' not recognised; rated Moderate",
        "result 2: not an object; left out",
        "result 3: has no test_id; left out",
        "result 4 (B3): severity missing not recognised; rated Moderate",
        "result 5 (B4): issue_confidence 'CERTAIN' not recognised; shown as given",
    ]
    (b4,) = [f for f in findings(recs) if f.weakness.vuln_id == "B4"]
    assert b4.evidence is not None and "(confidence CERTAIN)" in b4.evidence


def test_an_unreadable_generated_at_takes_the_file_time_with_a_warning(tmp_path: Path) -> None:
    mtime = dt.datetime(2026, 2, 3, 4, 5, 6)
    recs, ctx = parsed(write(tmp_path, report(issue("B101"), when="yesterday")), file_time=mtime)
    assert findings(recs)[0].observed_at == mtime and ctx.report.used_file_time
    assert ctx.report.warnings == ["report: generated_at 'yesterday' is not a date; dated 2026-02-03"]
    undated = report(issue("B101"))
    del undated["generated_at"]
    recs, ctx = parsed(write(tmp_path, undated), file_time=mtime)
    assert findings(recs)[0].observed_at == mtime and ctx.report.used_file_time and not ctx.report.warnings
    recs, ctx = parsed(write(tmp_path, report(issue("B101"))), file_time=mtime)
    assert findings(recs)[0].observed_at == GENERATED and not ctx.report.used_file_time


def test_a_file_whose_every_result_is_unreadable_is_refused(engine: Engine, tmp_path: Path) -> None:
    doc = report(5, {"issue_severity": "LOW"})  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"no record could be read \(2 left out; first: result 1: not an object"):
        import_file(engine, write(tmp_path, doc))


def test_concatenated_reports_and_json_lines_are_one_import(engine: Engine, tmp_path: Path) -> None:
    jan = report(issue("B101", "a.py", 2), issue("B602", "b.py", 5, "HIGH"))
    feb = report(issue("B101", "a.py", 7), issue("B303", "c.py"), when="2026-02-05T10:00:00Z")
    pretty = json.dumps(jan, indent=2) + "\n" + json.dumps(feb, indent=2)
    lines = json.dumps(jan) + "\n" + json.dumps(feb) + "\n"
    for n, body in enumerate((pretty, lines)):
        path = write(tmp_path, body, f"{n}.json")
        recs = parse(path, asset_name="git.example.com/acme/api")
        got = [(f.weakness.vuln_id, f.path, f.observed_at.month) for f in findings(recs)]
        assert got == [("B101", "a.py", 1), ("B602", "b.py", 1), ("B101", "a.py", 2), ("B303", "c.py", 2)]
        (cov,) = [r for r in recs if isinstance(r, Coverage)]
        assert (cov.started_at, cov.ended_at) == (GENERATED, dt.datetime(2026, 2, 5, 10))
        scan = recs[-1]
        assert isinstance(scan, Scan) and (scan.started_at, scan.ended_at) == (GENERATED, dt.datetime(2026, 2, 5, 10))
        with path.open("rb") as f:
            assert BanditParser().sniff(read_head(f))
        system = f"s{n}"
        systems.add_system(engine, system, "test")
        r = import_file(engine, path, system=system, format_id="bandit", asset="git.example.com/acme/api")
        assert (r.format, r.results, r.new_findings, r.fixed_findings) == ("bandit", 4, 3, 0)
    errors = report(issue("B1"), errors=[{"filename": "bad.py", "reason": "syntax error while parsing AST"}])
    body = json.dumps(jan) + json.dumps(errors)
    assert not [r for r in parse(write(tmp_path, body), asset_name="api") if isinstance(r, Coverage)]


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    odd = issue("B1", filename=None, line_number="7", code=None, issue_cwe="x", issue_text=None, test_name=None)
    (f,) = findings(parse(write(tmp_path, report(odd))))
    assert (f.path, f.weakness.name, f.weakness.cwes) == (None, "B1", ())


def test_sniff() -> None:
    def sniff(data: bytes) -> bool:
        return BanditParser().sniff(read_head(io.BytesIO(data)))

    assert sniff(json.dumps(report()).encode())
    assert not sniff(b'{"generated_at": "x", "metrics": {}, "results": []}')
    assert not sniff(b'{"results": [], "errors": []}')


# --- the real Bandit files of the corpus -------------------------------------------------------


def _hits(evidence: str | None) -> int:
    """Lines listed in a finding's evidence, plus those counted in its `... and N more`."""
    lines = (evidence or "").splitlines()
    more = [int(x.split()[2]) for x in lines if x.startswith("... and ")]
    return sum(1 for x in lines if x.startswith("Line ")) + sum(more)


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("bandit_json").iterdir())


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 3
    for path in files:
        doc = json.loads(path.read_text())
        expected = {(r["test_id"], r["filename"].replace("\\", "/")) for r in doc["results"]}
        records = parse(path)
        found = findings(records)
        assert {(f.weakness.vuln_id, f.path) for f in found} == expected, path.name
        assert len(found) == len(expected), path.name
        hits = sum(_hits(f.evidence) for f in found)
        assert hits == len({(r["test_id"], r["filename"], r["line_number"], r["issue_text"]) for r in doc["results"]})
        generated = dt.datetime.fromisoformat(doc["generated_at"].replace("Z", "+00:00")).replace(tzinfo=None)
        assert all(f.observed_at == generated for f in found)
        assert [type(r) for r in records if not isinstance(r, Finding)] == [Scan]
        assert {f.asset.name for f in found} <= {"Bandit project"}


@pytest.mark.corpus
def test_sniff_claims_exactly_the_bandit_folder() -> None:
    root = corpus_dir("bandit_json").parent
    claimed = set()
    for path in sorted(root.glob("*/*")):
        with path.open("rb") as f:
            if BanditParser().sniff(read_head(f)):
                claimed.add(path.relative_to(root).as_posix())
    assert claimed == {p.relative_to(root).as_posix() for p in corpus_files()}


# --- end to end --------------------------------------------------------------------------------


def test_import_and_a_later_report_fixes_what_it_no_longer_reports(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(BanditParser())
    api = "git.example.com/acme/api"
    jan = write(tmp_path, report(issue("B101", "a.py"), issue("B602", "b.py", severity="HIGH")), "jan.json")
    r = import_file(engine, jan, asset=api)
    assert (r.format, r.tool, r.new_findings, r.items_opened) == ("bandit", "Bandit", 2, 2)
    other = write(tmp_path, report(issue("B602", "b.py", 30, "HIGH"), when="2026-02-01T10:00:00Z"), "other.json")
    r = import_file(engine, other)  # without a name: another project's report proves nothing here
    assert (r.new_findings, r.fixed_findings, r.assets_covered) == (1, 0, 0)
    feb = write(tmp_path, report(issue("B602", "b.py", 30, "HIGH"), when="2026-02-05T10:00:00Z"), "feb.json")
    r = import_file(engine, feb, asset=api)
    assert (r.new_findings, r.fixed_findings, r.items_closed) == (0, 1, 1)
    with engine.begin() as conn:
        info = systems.resolve(conn, None, "test")
        items = {i.source_identifier: i for i in load(conn, info.id, "all")}
    assert items["B602"].status is ItemStatus.OPEN and [a.text for a in items["B602"].assets] == [
        "Bandit project (b.py)",
        "git.example.com/acme/api (b.py)",
    ]
    assert items["B101"].status is ItemStatus.CLOSED and items["B101"].closed_at == dt.date(2026, 2, 5)


def test_hardcoded_passwords_are_not_copied_into_evidence() -> None:
    path = corpus_dir("bandit_json") / "defectdojo__bandit__many_vulns.json"
    doc = json.loads(path.read_text())
    quoted = [r["issue_text"] for r in doc["results"] if r["test_id"] in ("B105", "B106", "B107")]
    assert quoted
    with path.open("rb") as f:
        found = [r for r in BanditParser().parse(f, ParseContext(str(path))) if isinstance(r, Finding)]
    for f in found:
        if f.weakness.vuln_id in ("B105", "B106", "B107"):
            assert all(q not in (f.evidence or "") for q in quoted)
            assert "not kept" in (f.evidence or "")
