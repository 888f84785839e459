"""The pip-audit parser (old array and new object forms) on hand-written files and on the corpus."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, ItemStatus, Level, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.pip_audit import PipAuditParser
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
        return list(PipAuditParser().parse(f, ParseContext(str(path), **{"scan_date": WHEN, **ctx})))


def parse_ctx(path: Path, **ctx: Any) -> tuple[list[object], ParseContext]:
    """The records and the context (its warnings and date source) of a file, dated by its time."""
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(PipAuditParser().parse(f, context)), context


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


DJANGO = {
    "name": "Django",
    "version": "3.2.9",
    "vulns": [
        {
            "id": "PYSEC-2021-439",
            "fix_versions": ["3.1.14", "3.2.10"],
            "aliases": ["CVE-2021-44420", "GHSA-v6rh-hp5x-86rv"],
            "description": "Trailing newlines bypass access control.",
        }
    ],
}
SKIPPED = {"name": "azure-devops", "skip_reason": "Dependency not found on PyPI"}
CLEAN = {"name": "adal", "version": "1.2.2", "vulns": []}


def test_new_form_one_finding_per_vulnerability_and_package(tmp_path: Path) -> None:
    recs = parse(write(tmp_path, {"dependencies": [CLEAN, DJANGO, SKIPPED], "fixes": []}))
    (f,) = findings(recs)
    assert (f.weakness.tool, f.weakness.vuln_id, f.path) == ("pip-audit", "PYSEC-2021-439", "django")
    assert f.weakness.cves == ("CVE-2021-44420",)
    assert f.weakness.severity is Severity.MEDIUM  # pip-audit rates nothing: Moderate by default
    assert f.weakness.description == "Trailing newlines bypass access control."
    assert f.weakness.solution == "Upgrade django to a fixed version: 3.1.14, 3.2.10."
    assert f.evidence == "Installed: Django 3.2.9\nFixed in: 3.1.14, 3.2.10"
    assert f.observed_at == WHEN
    assert f.asset.kind is AssetKind.REPOSITORY and f.asset.name == "pip-audit project"
    assert [type(r) for r in recs] == [Finding, Scan]  # an unnamed project covers nothing


def test_old_form_and_package_names_normalized(tmp_path: Path) -> None:
    doc = [{"name": "Zope.Interface_x", "version": "1", "vulns": [{"id": "GHSA-xxxx", "fix_versions": []}]}, SKIPPED]
    (f,) = findings(parse(write(tmp_path, doc), asset_name="github.com/acme/api"))
    assert (f.path, f.asset.name, f.weakness.solution) == ("zope-interface-x", "github.com/acme/api", None)
    assert f.evidence is not None and "no fixed version yet" in f.evidence


def test_the_pysec_id_names_the_finding_whichever_service_reported_it(tmp_path: Path) -> None:
    osv = {"id": "GHSA-v6rh-hp5x-86rv", "aliases": ["CVE-2021-44420", "PYSEC-2021-439"], "fix_versions": []}
    doc = [{"name": "django", "version": "3.2.9", "vulns": [osv, DJANGO["vulns"][0]]}]  # type: ignore[index]
    (f,) = findings(parse(write(tmp_path, doc)))
    assert (f.weakness.vuln_id, f.weakness.cves) == ("PYSEC-2021-439", ("CVE-2021-44420",))
    assert f.evidence is not None and f.evidence.endswith("Reported as: GHSA-v6rh-hp5x-86rv")


def test_clean_and_empty_reports_only_cover_the_project(tmp_path: Path) -> None:
    for doc in ([], [CLEAN], {"dependencies": []}):
        assert [type(r) for r in parse(write(tmp_path, doc))] == [Scan]
        cov, _scan = parse(write(tmp_path, doc), asset_name="github.com/acme/api")
        assert isinstance(cov, Coverage) and cov.asset.name == "github.com/acme/api"


def test_a_dependency_pip_audit_skipped_is_warned_and_held(tmp_path: Path) -> None:
    """Not audited: no finding and no fix; the file never closes that package's findings by their
    absence, and the rest of the project is covered as usual."""
    records, ctx = parse_ctx(write(tmp_path, [CLEAN, SKIPPED, DJANGO]), asset_name="github.com/acme/api")
    assert [type(r) for r in records] == [Coverage, Finding, Scan]
    assert records[-1].partial_paths == ("azure-devops",)
    assert ctx.report.skipped == 0 and ctx.report.warnings == [
        "dependency 2 (azure-devops): pip-audit could not audit it (Dependency not found on PyPI); "
        "its findings stay as they are",
    ]
    records, ctx = parse_ctx(write(tmp_path, [{"skip_reason": None}]), asset_name="github.com/acme/api")
    assert [type(r) for r in records] == [Scan]  # a package poam cannot name: nothing is proven
    assert ctx.report.warnings == [
        "dependency 1: pip-audit could not audit it (no reason given); the file gives the project no coverage",
        "asset github.com/acme/api: a dependency was not audited; no coverage, so this file closes nothing on it",
    ]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"fixes": []}', "no dependencies list"),
        ('{"dependencies": {}}', "a list of dependencies expected"),
        ("3", "a list of dependencies expected"),
        ("[", "not valid JSON"),
        ('[]\n{"fixes": []}', "report 2 is not a pip-audit report"),
        ('{"dependencies": []} [', "JSON value 2 is not valid"),
    ],
)
def test_bad_input_is_an_input_error(tmp_path: Path, doc: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, doc))


def sniff(data: bytes) -> bool:
    return PipAuditParser().sniff(read_head(io.BytesIO(data)))


def test_sniff() -> None:
    assert sniff(json.dumps([CLEAN]).encode())
    assert sniff(json.dumps([SKIPPED]).encode())
    assert sniff(json.dumps({"dependencies": [DJANGO], "fixes": []}).encode())
    assert sniff(b'{"fixes": [], "dependencies": []}')
    assert not sniff(b"[]")  # other tools write an empty array too: use --format pip-audit
    assert not sniff(b'{"bomFormat": "CycloneDX", "dependencies": []}')
    assert not sniff(b'[{"name": "a", "version": "1"}]')


# --- the real pip-audit files of the corpus ----------------------------------------------------

AMBIGUOUS = {"defectdojo__pip_audit__empty.json"}  # `[]`: read with --format pip-audit


def _expected(path: Path) -> set[tuple[str, str]]:
    doc = json.loads(path.read_text())
    deps = doc["dependencies"] if isinstance(doc, dict) else doc
    return {(v["id"], d["name"].lower()) for d in deps if "skip_reason" not in d for v in d["vulns"]}


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("pip_audit_json").iterdir())


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 4
    for path in files:
        records = parse(path)
        found = findings(records)
        assert {(f.weakness.vuln_id, f.path) for f in found} == _expected(path), path.name
        assert len(found) == len(_expected(path)), path.name
        assert {f.asset.name for f in found} <= {"pip-audit project"}
        assert [type(r) for r in records if not isinstance(r, Finding)] == [Scan]
    many = findings(parse(corpus_dir("pip_audit_json") / "defectdojo__pip_audit__many_vulns.json"))
    assert len(many) == 7 and {f.path for f in many} == {"aiohttp", "django", "lxml", "twisted"}


@pytest.mark.corpus
def test_sniff_claims_exactly_the_pip_audit_folder_but_the_bare_empty_array() -> None:
    root = corpus_dir("pip_audit_json").parent
    claimed = set()
    for path in sorted(root.glob("*/*")):
        with path.open("rb") as f:
            if PipAuditParser().sniff(read_head(f)):
                claimed.add(path.relative_to(root).as_posix())
    assert claimed == {p.relative_to(root).as_posix() for p in corpus_files() if p.name not in AMBIGUOUS}


# --- end to end --------------------------------------------------------------------------------


def test_import_and_a_later_audit_fixes_what_it_no_longer_reports(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(PipAuditParser())
    twisted = {"name": "twisted", "version": "18.9.0", "vulns": [{"id": "PYSEC-2019-128", "fix_versions": ["19.2.1"]}]}
    jan = write(tmp_path, {"dependencies": [DJANGO, twisted, SKIPPED]}, "jan.json")
    api = "github.com/acme/api"
    r = import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5), asset=api)
    assert (r.format, r.tool, r.new_findings, r.items_opened) == ("pip-audit", "pip-audit", 2, 2)
    fixed_twisted = {"name": "twisted", "version": "19.2.1", "vulns": []}
    feb = write(tmp_path, {"dependencies": [DJANGO, fixed_twisted]}, "feb.json")
    r = import_file(engine, feb, scan_date=dt.datetime(2026, 2, 5), asset=api)
    assert (r.new_findings, r.fixed_findings, r.items_closed) == (0, 1, 1)
    empty = write(tmp_path, "[]", "mar.json")  # an empty audit is read only when named (see test_sniff)
    r = import_file(engine, empty, scan_date=dt.datetime(2026, 3, 1), format_id="pip-audit")
    assert (r.fixed_findings, r.items_closed) == (0, 0)  # unnamed: it may be another project's audit
    empty.write_text("[ ]")
    r = import_file(engine, empty, scan_date=dt.datetime(2026, 3, 5), format_id="pip-audit", asset=api)
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    with engine.begin() as conn:
        info = systems.resolve(conn, None, "test")
        items = {i.source_identifier: i for i in load(conn, info.id, "all")}
    django, tw = items["PYSEC-2021-439"], items["PYSEC-2019-128"]
    assert django.original_risk is Level.MODERATE and [a.text for a in django.assets] == [
        "github.com/acme/api (django)"
    ]
    assert django.status is ItemStatus.CLOSED and django.closed_at == dt.date(2026, 3, 5)
    assert tw.status is ItemStatus.CLOSED and tw.closed_at == dt.date(2026, 2, 5)


# --- lenient on values, several reports in one file, dates (issue 6) --------------------------


def test_odd_dependencies_are_warned_or_left_out_and_the_project_is_not_covered(tmp_path: Path) -> None:
    nameless = {"version": "1.0", "vulns": [{"id": "PYSEC-2020-1", "fix_versions": []}]}
    odd_vulns = {"name": "urllib3", "version": "1.26", "vulns": [{"fix_versions": []}, "x", {"id": "GHSA-aaaa"}]}
    doc = {"dependencies": [DJANGO, 3, nameless, {"name": "rsa", "vulns": None}, odd_vulns, SKIPPED]}
    records, ctx = parse_ctx(write(tmp_path, doc), asset_name="github.com/acme/api")
    assert [(f.weakness.vuln_id, f.path) for f in findings(records)] == [
        ("PYSEC-2021-439", "django"),
        ("PYSEC-2020-1", "(unknown package)"),
        ("GHSA-aaaa", "urllib3"),
    ]
    assert not [r for r in records if isinstance(r, Coverage)]  # records left out: the file closes nothing
    assert ctx.report.skipped == 4
    assert ctx.report.warnings == [
        "dependency 2: not an object; left out",
        f"dependency 3: no name; its vulnerabilities are kept under '(unknown package)'{FALLBACK}",
        "dependency 4 (rsa): no vulns list; left out",
        "dependency 5 (urllib3), vulnerability 1: no id; left out",
        "dependency 5 (urllib3), vulnerability 2: not an object; left out",
        "dependency 6 (azure-devops): pip-audit could not audit it (Dependency not found on PyPI); "
        "its findings stay as they are",
        "asset github.com/acme/api: a record could not be read; no coverage, so this file closes nothing on it",
    ]


def test_several_reports_in_one_file_are_one_import(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(PipAuditParser())
    twisted = {"name": "twisted", "version": "18.9.0", "vulns": [{"id": "PYSEC-2019-128", "fix_versions": []}]}
    for joiner in ("", "\n", "\n\n"):
        path = tmp_path / "audits.json"
        path.write_text(
            joiner.join(json.dumps(d) for d in ({"dependencies": [DJANGO], "fixes": []}, [twisted, DJANGO]))
        )
        assert sniff(path.read_bytes())
        records, ctx = parse_ctx(path)
        assert [(f.weakness.vuln_id, f.path, f.observed_at) for f in findings(records)] == [
            ("PYSEC-2021-439", "django", FILE_TIME),
            ("PYSEC-2019-128", "twisted", FILE_TIME),
        ]
        assert [r for r in records if isinstance(r, Scan)] == [Scan("pip-audit", None, None, FILE_TIME, FILE_TIME)]
        assert ctx.report.used_file_time and ctx.report.warnings == []
    r = import_file(engine, path, asset="github.com/acme/api")
    assert (r.format, r.assets_covered, r.results, r.date_source) == ("pip-audit", 1, 2, "mtime")
    path.write_text("[]\n" + json.dumps([twisted]))  # `[]` first: not detected, read with --format
    r = import_file(engine, path, format_id="pip-audit", asset="github.com/acme/web", scan_date=WHEN)
    assert (r.format, r.results, r.assets_covered, r.date_source) == ("pip-audit", 1, 1, "option")


def test_audits_are_dated_by_the_file_time_only_when_a_record_needs_it(tmp_path: Path) -> None:
    records, ctx = parse_ctx(write(tmp_path, [DJANGO]))
    assert findings(records)[0].observed_at == FILE_TIME and ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path, [CLEAN]), asset_name="github.com/acme/api")
    assert isinstance(records[0], Coverage) and records[0].started_at == FILE_TIME and ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path, [DJANGO]), scan_date=WHEN)
    assert findings(records)[0].observed_at == WHEN and not ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path, [CLEAN, SKIPPED]))  # unnamed and clean: nothing to date
    assert records == [Scan("pip-audit", partial_paths=("azure-devops",))] and not ctx.report.used_file_time


def test_an_unreadable_dependency_closes_nothing(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(PipAuditParser())
    api = "github.com/acme/api"
    twisted = {"name": "twisted", "version": "18.9.0", "vulns": [{"id": "PYSEC-2019-128", "fix_versions": []}]}
    import_file(engine, write(tmp_path, [DJANGO, twisted], "jan.json"), scan_date=WHEN, asset=api)
    feb = [DJANGO, {"name": "twisted", "version": "18.9.0", "vulns": [{"fix_versions": []}]}]
    r = import_file(engine, write(tmp_path, feb, "feb.json"), scan_date=WHEN + dt.timedelta(days=30), asset=api)
    assert (r.assets_covered, r.fixed_findings, r.warnings) == (0, 0, 2)
    r = import_file(engine, write(tmp_path, [DJANGO], "mar.json"), scan_date=WHEN + dt.timedelta(days=60), asset=api)
    assert (r.assets_covered, r.fixed_findings) == (1, 1)


# --- a dependency not audited, or kept under a fallback identity, closes nothing (review 4, 5) --


def test_a_dependency_not_audited_keeps_its_findings_and_the_rest_closes(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(PipAuditParser())
    api = "github.com/acme/api"
    twisted = {"name": "twisted", "version": "18.9.0", "vulns": [{"id": "PYSEC-2019-128", "fix_versions": []}]}
    jan = write(tmp_path, {"dependencies": [DJANGO, twisted], "fixes": []}, "jan.json")
    assert import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5), asset=api).items_opened == 2
    local = {
        "name": "Django",
        "skip_reason": "Dependency not found on PyPI and could not be audited: django (3.2.9+local)",
    }
    feb = write(tmp_path, {"dependencies": [local, dict(twisted, version="23.8.0", vulns=[])], "fixes": []}, "feb.json")
    r = import_file(engine, feb, scan_date=dt.datetime(2026, 2, 5), asset=api)
    assert (r.assets_covered, r.fixed_findings, r.items_closed) == (1, 1, 1)  # twisted upgraded: closed
    assert r.warning_lines == [
        "dependency 1 (Django): pip-audit could not audit it (Dependency not found on PyPI and could not be "
        "audited: django (3.2.9+local)); its findings stay as they are"
    ]
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert {(i.source_identifier, i.status) for i in items} == {
        ("PYSEC-2021-439", ItemStatus.OPEN),  # django was not audited: its finding stays open
        ("PYSEC-2019-128", ItemStatus.CLOSED),
    }


def test_an_unnamed_dependency_closes_nothing_by_absence(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(PipAuditParser())
    api = "github.com/acme/api"
    jan = write(tmp_path, {"dependencies": [CLEAN, DJANGO], "fixes": []}, "jan.json")
    assert import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5), asset=api).items_opened == 1
    nameless = {k: v for k, v in DJANGO.items() if k != "name"}
    feb = write(tmp_path, {"dependencies": [CLEAN, nameless], "fixes": []}, "feb.json")
    r = import_file(engine, feb, scan_date=dt.datetime(2026, 2, 5), asset=api)
    assert (r.assets_covered, r.fixed_findings, r.items_closed) == (0, 0, 0)
    assert r.warning_lines == [
        f"dependency 2: no name; its vulnerabilities are kept under '(unknown package)'{FALLBACK}",
        f"asset {api}: a record was kept under a fallback identity; no coverage, so this file closes nothing on it",
    ]
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert [(i.source_identifier, i.status) for i in items] == [("PYSEC-2021-439", ItemStatus.OPEN)]


def test_a_late_older_audit_is_not_closed_by_a_newer_one_that_skipped_the_package(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(PipAuditParser())
    api = "github.com/acme/api"
    twisted = {"name": "twisted", "version": "18.9.0", "vulns": [{"id": "PYSEC-2019-128", "fix_versions": []}]}
    skipped = {"name": "Django", "skip_reason": "Dependency not found on PyPI"}
    feb = write(tmp_path, {"dependencies": [skipped, dict(twisted, vulns=[])], "fixes": []}, "feb.json")
    import_file(engine, feb, scan_date=dt.datetime(2026, 2, 5), asset=api)
    jan = write(tmp_path, {"dependencies": [DJANGO, twisted], "fixes": []}, "jan.json")
    import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5), asset=api)  # imported late
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert {(i.source_identifier, i.status) for i in items} == {
        ("PYSEC-2021-439", ItemStatus.OPEN),  # February did not audit django: it proves nothing
        ("PYSEC-2019-128", ItemStatus.CLOSED),  # February audited twisted and found nothing
    }


def test_an_audit_that_skipped_too_many_dependencies_closes_nothing(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    from poam.services.coverage import MAX_PARTIAL_PATHS

    register_parser(PipAuditParser())
    api = "github.com/acme/api"
    jan = write(tmp_path, {"dependencies": [DJANGO], "fixes": []}, "jan.json")
    import_file(engine, jan, scan_date=dt.datetime(2026, 1, 5), asset=api)
    skipped = [{"name": f"internal-{n}", "skip_reason": "Dependency not found on PyPI"} for n in range(5001)]
    assert len(skipped) > MAX_PARTIAL_PATHS
    feb = write(tmp_path, {"dependencies": skipped, "fixes": []}, "feb.json")
    r = import_file(engine, feb, scan_date=dt.datetime(2026, 2, 5), asset=api)
    assert (r.assets_covered, r.fixed_findings, r.items_closed) == (1, 0, 0)
