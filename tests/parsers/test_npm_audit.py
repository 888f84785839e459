"""The npm audit parser (npm 6 and npm 7+ reports) on hand-written files and on the corpus."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.npm_audit import NpmAuditParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import corpus_dir

WHEN = dt.datetime(2026, 3, 1, 12, 0)
FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
FALLBACK = "; a fallback identity, so this file gives its asset no coverage"


def write(tmp_path: Path, doc: object, name: str = "audit.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def parse(path: Path, **ctx: Any) -> list[object]:
    with path.open("rb") as f:
        return list(NpmAuditParser().parse(f, ParseContext(str(path), **{"scan_date": WHEN, **ctx})))


def parse_ctx(path: Path, **ctx: Any) -> tuple[list[object], ParseContext]:
    """The records and the context (its warnings and date source) of a file, dated by its time."""
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(NpmAuditParser().parse(f, context)), context


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def advisory(number: int, module: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": number,
        "module_name": module,
        "title": f"Problem in {module}",
        "severity": "high",
        "cves": ["CVE-2021-0001"],
        "cwe": "CWE-400",
        "url": f"https://npmjs.com/advisories/{number}",
        "vulnerable_versions": "<2.0.0",
        "patched_versions": ">=2.0.0",
        "recommendation": "Upgrade to 2.0.0",
        "findings": [{"version": "1.0.0", "paths": ["app>lib>" + module]}, {"version": "1.1.0", "paths": [module]}],
        **extra,
    }


def npm6(*advisories: dict[str, Any]) -> dict[str, Any]:
    return {"actions": [], "advisories": {str(a["id"]): a for a in advisories}, "muted": [], "metadata": {}}


def via(package: str, ghsa: str, severity: str = "moderate", **extra: Any) -> dict[str, Any]:
    return {
        "source": 1000,
        "name": package,
        "dependency": package,
        "title": f"Bug in {package}",
        "url": f"https://github.com/advisories/{ghsa}",
        "severity": severity,
        "cwe": ["CWE-1333"],
        "cvss": {"score": 7.5, "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"},
        "range": "<1.2.3",
        **extra,
    }


def npm7(**vulnerabilities: dict[str, Any]) -> dict[str, Any]:
    return {"auditReportVersion": 2, "vulnerabilities": vulnerabilities, "metadata": {}}


def test_npm6_advisory_per_package_with_versions_and_paths_in_evidence(tmp_path: Path) -> None:
    gh = advisory(1064843, "ansi-regex", github_advisory_id="GHSA-93q8-gq69-wqmw", cwe=["CWE-918", "CWE-1333"])
    recs = parse(write(tmp_path, npm6(advisory(146, "growl"), gh)))
    found = findings(recs)
    assert [(f.weakness.vuln_id, f.path) for f in found] == [("146", "growl"), ("GHSA-93q8-gq69-wqmw", "ansi-regex")]
    growl = found[0]
    assert (growl.weakness.tool, growl.weakness.severity, growl.weakness.cves) == (
        "npm audit",
        Severity.HIGH,
        ("CVE-2021-0001",),
    )
    assert growl.weakness.cwes == ("400",) and found[1].weakness.cwes == ("918", "1333")
    assert growl.evidence is not None and "growl 1.0.0, 1.1.0" in growl.evidence and "app>lib>growl" in growl.evidence
    assert growl.weakness.solution == "Upgrade to 2.0.0"
    assert growl.observed_at == WHEN  # no dates in the file
    assert growl.asset.kind is AssetKind.REPOSITORY and growl.asset.name == "npm audit project"
    assert not [r for r in recs if isinstance(r, Coverage)]  # an unnamed project covers nothing
    assert isinstance(recs[-1], Scan) and recs[-1].tool == "npm audit"


def test_npm6_ghsa_from_url_and_odd_cwe_values(tmp_path: Path) -> None:
    a = advisory(7, "x", url="https://github.com/advisories/GHSA-93Q8-gq69-WQMW", cwe=None)
    b = advisory(8, "y", cwe="CWE-")
    found = findings(parse(write(tmp_path, npm6(a, b))))
    assert [f.weakness.vuln_id for f in found] == ["GHSA-93q8-gq69-wqmw", "8"]
    assert [f.weakness.cwes for f in found] == [(), ()]


def test_npm7_follows_via_to_advisories_and_lists_dependents(tmp_path: Path) -> None:
    doc = npm7(
        vercel={"name": "vercel", "severity": "moderate", "isDirect": True, "via": ["@vercel/fun"], "effects": []},
        **{
            "@vercel/fun": {"name": "@vercel/fun", "severity": "moderate", "via": ["debug"], "effects": ["vercel"]},
            "debug": {
                "name": "debug",
                "severity": "high",
                "via": [via("debug", "GHSA-gxpj-cx7g-858c"), via("debug", "GHSA-9vvw-cc9w-f27h", "high"), "ms"],
                "effects": ["@vercel/fun"],
                "range": "<=2.6.8",
                "nodes": ["node_modules/debug"],
                "fixAvailable": {"name": "vercel", "version": "32.3.0", "isSemVerMajor": True},
            },
        },
    )
    found = findings(parse(write(tmp_path, doc)))
    assert [(f.weakness.vuln_id, f.path, f.weakness.severity) for f in found] == [
        ("GHSA-gxpj-cx7g-858c", "debug", Severity.MEDIUM),
        ("GHSA-9vvw-cc9w-f27h", "debug", Severity.HIGH),
    ]
    f = found[0]
    assert f.evidence is not None
    assert "Affects: @vercel/fun, vercel" in f.evidence and "node_modules/debug" in f.evidence
    assert "vercel 32.3.0 (major upgrade)" in f.evidence
    assert (f.weakness.cvss3_score, f.weakness.cwes, f.weakness.cves) == (7.5, ("1333",), ())


def test_npm7_advisory_without_url_uses_its_source_id(tmp_path: Path) -> None:
    doc = npm7(
        lib={"name": "lib", "via": [via("lib", "x", url="", source=1094222, cvss={"score": 0, "vectorString": None})]}
    )
    (f,) = findings(parse(write(tmp_path, doc)))
    assert (f.weakness.vuln_id, f.weakness.cvss3_score) == ("1094222", None)


def test_asset_option_names_the_project(tmp_path: Path) -> None:
    found = findings(parse(write(tmp_path, npm6(advisory(1, "a"))), asset_name="github.com/acme/web"))
    assert found[0].asset.name == "github.com/acme/web"


def test_empty_reports_cover_the_project_when_it_is_named(tmp_path: Path) -> None:
    for doc in (npm6(), npm7()):
        assert [type(r) for r in parse(write(tmp_path, doc))] == [Scan]
        cov, _scan = parse(write(tmp_path, doc), asset_name="github.com/acme/web")
        assert isinstance(cov, Coverage) and cov.asset.name == "github.com/acme/web"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"error": {"code": "ENOAUDIT", "summary": "registry down", "detail": ""}}', r"npm audit failed \(ENOAUDIT\)"),
        ('{"auditReportVersion": 3, "vulnerabilities": []}', "version 3: vulnerabilities is not an object"),
        ('{"auditReportVersion": 2, "vulnerabilities": []}', "vulnerabilities is not an object"),
        ('{"auditReportVersion": 2}', "vulnerabilities is not an object"),
        ('{"advisories": [], "actions": []}', "advisories is not an object"),
        ('{"actions": []}', "no advisories or vulnerabilities"),
        ("[]", "JSON object expected"),
        ('{"auditReportVersion": 2, "vulnerabilities": {}}\n[]', "report 2 is not an npm audit report"),
        ('{"advisories": {}, "actions": []}{"error": {"code": "ENOLOCK", "summary": "no lock"}}', "npm audit failed"),
    ],
)
def test_bad_input_is_an_input_error(tmp_path: Path, doc: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, doc))


def sniff(data: bytes) -> bool:
    return NpmAuditParser().sniff(read_head(io.BytesIO(data)))


def test_sniff() -> None:
    assert sniff(b'{"auditReportVersion": 2, "vulnerabilities": {}}')
    assert sniff(b'{"actions": [], "advisories": {}}')
    assert sniff(b'{"error": {"code": "ENOLOCK", "summary": "no lockfile"}}')
    assert not sniff(b'{"error": {"message": "x"}}')
    assert not sniff(b'{"advisories": {}}')
    assert not sniff(b'{"vulnerabilities": {}}')


# --- the real npm audit files of the corpus ----------------------------------------------------

PEER_INVALID = {"defectdojo__npm_audit__empty_with_error.json"}


def _ghsa(*texts: object) -> str | None:
    for t in texts:
        m = re.search(r"GHSA-\w{4}-\w{4}-\w{4}", str(t or ""))
        if m:
            return m.group(0)
    return None


def _expected(path: Path) -> set[tuple[str, str]]:
    doc = json.loads(path.read_text())
    if "advisories" in doc:
        return {
            (_ghsa(a.get("github_advisory_id"), a["url"]) or str(a["id"]), a["module_name"])
            for a in doc["advisories"].values()
        }
    return {
        (_ghsa(v["url"]) or str(v["source"]), v["name"])
        for entry in doc["vulnerabilities"].values()
        for v in entry["via"]
        if isinstance(v, dict)
    }


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("npm_audit_json").iterdir())


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 10
    for path in files:
        if path.name in PEER_INVALID:
            with pytest.raises(InputError) as err:
                parse(path)
            assert "\n" not in str(err.value) and "ENOAUDIT" in str(err.value)
            continue
        records = parse(path)
        found = findings(records)
        assert {(f.weakness.vuln_id, f.path) for f in found} == _expected(path), path.name
        assert len(found) == len(_expected(path)), path.name
        assert {f.asset.name for f in found} <= {"npm audit project"}
        assert [type(r) for r in records if not isinstance(r, Finding)] == [Scan]
        for f in found:
            assert f.path and "@" not in f.path.lstrip("@") and not re.search(r"\d+\.\d+", f.path)


@pytest.mark.corpus
def test_corpus_npm7_severities_come_from_the_advisory() -> None:
    path = corpus_dir("npm_audit_json") / "defectdojo__npm_audit_7_plus__one_vuln.json"
    got = {f.weakness.vuln_id: f.weakness.severity for f in findings(parse(path))}
    assert got == {"GHSA-gxpj-cx7g-858c": Severity.MEDIUM, "GHSA-9vvw-cc9w-f27h": Severity.HIGH}


@pytest.mark.corpus
def test_sniff_claims_exactly_the_npm_audit_folder() -> None:
    root = corpus_dir("npm_audit_json").parent
    claimed = set()
    for path in sorted(root.glob("*/*")):
        with path.open("rb") as f:
            if NpmAuditParser().sniff(read_head(f)):
                claimed.add(path.relative_to(root).as_posix())
    assert claimed == {p.relative_to(root).as_posix() for p in corpus_files()}


# --- end to end --------------------------------------------------------------------------------


def test_import_and_a_later_audit_fixes_what_it_no_longer_reports(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(NpmAuditParser())
    jan_doc = npm7(
        debug={"name": "debug", "via": [via("debug", "GHSA-gxpj-cx7g-858c")]},
        semver={"name": "semver", "via": [via("semver", "GHSA-c2qf-rxjj-qqgw", "high")]},
    )
    jan = write(tmp_path, jan_doc, "jan.json")
    r = import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5), asset="github.com/acme/web")
    assert (r.format, r.tool, r.new_findings, r.items_opened) == ("npm-audit", "npm audit", 2, 2)
    feb = write(tmp_path, npm7(debug=jan_doc["vulnerabilities"]["debug"]), "feb.json")
    r = import_file(engine, feb, scan_date=dt.datetime(2026, 2, 5), asset="github.com/acme/web")
    assert (r.new_findings, r.fixed_findings, r.items_closed) == (0, 1, 1)
    with engine.begin() as conn:
        info = systems.resolve(conn, None, "test")
        items = {i.source_identifier: i for i in load(conn, info.id, "all")}
    debug, semver = items["GHSA-gxpj-cx7g-858c"], items["GHSA-c2qf-rxjj-qqgw"]
    assert debug.status is ItemStatus.OPEN and [a.text for a in debug.assets] == ["github.com/acme/web (debug)"]
    assert semver.status is ItemStatus.CLOSED and semver.closed_at == dt.date(2026, 2, 5)


# --- lenient on values, several reports in one file, dates (issue 6) --------------------------


def test_odd_npm7_entries_are_warned_or_left_out_and_the_project_is_not_covered(tmp_path: Path) -> None:
    doc = npm7(
        debug={"name": "debug", "via": [via("debug", "GHSA-gxpj-cx7g-858c", "severe")]},
        semver={"name": "semver", "via": [via("semver", "GHSA-c2qf-rxjj-qqgw", "severe", cvss={"score": 0})]},
        ms={"name": "ms", "via": ["debug", 7, via("ms", "x", url="", source=None)]},
        qs="not an object",
        ws={"name": "ws", "via": "GHSA-3h5v-q93c-6h6q"},
    )
    records, ctx = parse_ctx(write(tmp_path, doc), asset_name="github.com/acme/web")
    got = {(f.weakness.vuln_id, f.path): f.weakness.severity for f in findings(records)}
    assert got == {
        ("GHSA-gxpj-cx7g-858c", "debug"): Severity.HIGH,  # read by its CVSS score 7.5
        ("GHSA-c2qf-rxjj-qqgw", "semver"): Severity.MEDIUM,  # no score either: Moderate
    }
    assert [type(r) for r in records if not isinstance(r, Finding)] == [Scan]  # not covered: closes nothing
    assert ctx.report.warnings == [
        "vulnerability 'debug', via 1 (GHSA-gxpj-cx7g-858c): severity 'severe' not recognised; "
        "rated high by its CVSS score",
        "vulnerability 'semver', via 1 (GHSA-c2qf-rxjj-qqgw): severity 'severe' not recognised; rated Moderate",
        "vulnerability 'ms', via 2: 7 is neither a package name nor an advisory; left out",
        "vulnerability 'ms', via 3: an advisory without url or source; left out",
        "vulnerability 'qs': not an object; left out",
        "vulnerability 'ws': no via list; left out",
        "asset github.com/acme/web: a record could not be read; no coverage, so this file closes nothing on it",
    ]


def test_odd_npm6_advisories_are_warned_or_left_out(tmp_path: Path) -> None:
    nameless = advisory(2, "x", severity="urgent")
    del nameless["module_name"]
    bare = {"id": 3, "severity": "low", "title": "t"}
    doc = npm6(advisory(1, "growl"), nameless, bare)
    doc["advisories"]["4"] = "x"
    records, ctx = parse_ctx(write(tmp_path, doc))
    assert [(f.weakness.vuln_id, f.path, f.weakness.severity) for f in findings(records)] == [
        ("1", "growl", Severity.HIGH),
        ("2", "x", Severity.MEDIUM),
        ("3", "(unknown package)", Severity.LOW),
    ]
    assert ctx.report.warnings == [
        f"advisory 2: no module_name; package 'x' from its paths{FALLBACK}",
        "advisory 2: severity 'urgent' not recognised; rated Moderate",
        f"advisory 3: no module_name; package '(unknown package)'{FALLBACK}",
        "advisory 4: not an object; left out",
    ]


def test_a_report_version_other_than_2_is_read_when_its_shape_is_known(tmp_path: Path) -> None:
    doc = {**npm7(debug={"name": "debug", "via": [via("debug", "GHSA-gxpj-cx7g-858c")]}), "auditReportVersion": 3}
    records, ctx = parse_ctx(write(tmp_path, doc), asset_name="github.com/acme/web")
    assert [f.weakness.vuln_id for f in findings(records)] == ["GHSA-gxpj-cx7g-858c"]
    assert isinstance(records[0], Coverage)  # nothing was left out: the project is covered
    assert ctx.report.warnings == ["report: auditReportVersion 3 is not 2; read as version 2"]


def test_several_reports_in_one_file_are_one_import(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(NpmAuditParser())
    old = npm6(advisory(146, "growl"))
    new = npm7(debug={"name": "debug", "via": [via("debug", "GHSA-gxpj-cx7g-858c")]})
    again = npm7(debug={"name": "debug", "via": [via("debug", "GHSA-gxpj-cx7g-858c")]})
    for joiner in ("", "\n", "\n \n"):
        path = tmp_path / "audits.json"
        path.write_text(joiner.join(json.dumps(d) for d in (new, old, again)))
        assert sniff(path.read_bytes())
        records, ctx = parse_ctx(path)
        assert [(f.weakness.vuln_id, f.path, f.observed_at) for f in findings(records)] == [
            ("GHSA-gxpj-cx7g-858c", "debug", FILE_TIME),
            ("146", "growl", FILE_TIME),
        ]
        assert [r for r in records if isinstance(r, Scan)] == [Scan("npm audit", None, None, FILE_TIME, FILE_TIME)]
        assert ctx.report.used_file_time and ctx.report.warnings == []
    r = import_file(engine, path, asset="github.com/acme/web")
    assert (r.format, r.assets_covered, r.results, r.date_source) == ("npm-audit", 1, 2, "mtime")
    path.write_text(json.dumps(npm6()) + "\n" + json.dumps(new))  # detected by the first report alone
    r = import_file(engine, path, format_id="npm-audit", asset="github.com/acme/api", scan_date=WHEN)
    assert (r.format, r.results, r.date_source) == ("npm-audit", 1, "option")


def test_audits_are_dated_by_the_file_time_only_when_a_record_needs_it(tmp_path: Path) -> None:
    records, ctx = parse_ctx(write(tmp_path, npm6(advisory(1, "a"))))
    assert findings(records)[0].observed_at == FILE_TIME and ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path, npm6()), asset_name="github.com/acme/web")
    assert isinstance(records[0], Coverage) and records[0].started_at == FILE_TIME and ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path, npm6(advisory(1, "a"))), scan_date=WHEN)
    assert findings(records)[0].observed_at == WHEN and not ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path, npm7()))  # an unnamed project without findings: nothing to date
    assert records == [Scan("npm audit")] and not ctx.report.used_file_time


def test_an_unreadable_entry_closes_nothing(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(NpmAuditParser())
    debug = {"name": "debug", "via": [via("debug", "GHSA-gxpj-cx7g-858c")]}
    semver = {"name": "semver", "via": [via("semver", "GHSA-c2qf-rxjj-qqgw", "high")]}
    web = "github.com/acme/web"
    import_file(engine, write(tmp_path, npm7(debug=debug, semver=semver), "jan.json"), scan_date=WHEN, asset=web)
    feb = npm7(debug=debug, semver={"name": "semver", "via": {"oops": 1}})
    r = import_file(engine, write(tmp_path, feb, "feb.json"), scan_date=WHEN + dt.timedelta(days=30), asset=web)
    assert (r.assets_covered, r.fixed_findings, r.warnings) == (0, 0, 2)
    mar = npm7(debug=debug)
    r = import_file(engine, write(tmp_path, mar, "mar.json"), scan_date=WHEN + dt.timedelta(days=60), asset=web)
    assert (r.assets_covered, r.fixed_findings) == (1, 1)


# --- a fallback identity or muted advisories close nothing by absence (review items 4, 5) ------


@pytest.mark.parametrize(
    ("findings_", "warning"),
    [
        ([{"version": "1.0.0", "paths": ["app>growl"]}], "no module_name; package 'growl' from its paths"),
        ([], "no module_name; package '(unknown package)'"),
    ],
)
def test_an_npm6_advisory_without_module_name_closes_nothing_by_absence(
    engine: Engine, register_parser: Any, tmp_path: Path, findings_: list[Any], warning: str
) -> None:
    register_parser(NpmAuditParser())
    web = "github.com/acme/web"
    jan = write(tmp_path, npm6(advisory(146, "growl"), advisory(1500, "yargs-parser")), "jan.json")
    assert import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5), asset=web).items_opened == 2
    nameless = {k: v for k, v in advisory(146, "growl", findings=findings_).items() if k != "module_name"}
    feb = write(tmp_path, npm6(nameless, advisory(1500, "yargs-parser")), "feb.json")
    r = import_file(engine, feb, scan_date=dt.datetime(2026, 2, 5), asset=web)
    assert (r.assets_covered, r.fixed_findings) == (0, 0)
    assert r.warning_lines == [
        f"advisory 146: {warning}{FALLBACK}",
        f"asset {web}: a record was kept under a fallback identity; no coverage, so this file closes nothing on it",
    ]
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert {i.status for i in items} == {ItemStatus.OPEN}


def test_muted_npm6_advisories_close_nothing_by_absence(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(NpmAuditParser())
    web = "github.com/acme/web"
    jan = write(tmp_path, npm6(advisory(146, "growl"), advisory(1500, "yargs-parser")), "jan.json")
    assert import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5), asset=web).items_opened == 2
    feb = {**npm6(advisory(1500, "yargs-parser")), "muted": [{"id": 146, "path": "growl"}]}
    r = import_file(engine, write(tmp_path, feb, "feb.json"), scan_date=dt.datetime(2026, 2, 5), asset=web)
    assert (r.assets_covered, r.fixed_findings) == (0, 0)
    assert r.warning_lines == [
        "report: 1 muted advisory left out of the report; the file gives the project no coverage",
        f"asset {web}: advisories were muted; no coverage, so this file closes nothing on it",
    ]
    mar = write(tmp_path, npm6(advisory(1500, "yargs-parser")), "mar.json")  # `muted: []`: covered
    assert import_file(engine, mar, scan_date=dt.datetime(2026, 3, 5), asset=web).fixed_findings == 1
