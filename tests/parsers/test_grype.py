"""The Grype JSON parser on hand-written reports and on the real files of the corpus."""

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
from poam.parsers.grype import GrypeParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_trivy import only_input_errors

FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
FALLBACK = "; a fallback identity, so this file gives its asset no coverage"


def write(tmp_path: Path, doc: Any, name: str = "grype.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def parse(path: Path, asset: str | None = None) -> list[Any]:
    with path.open("rb") as f:
        return list(GrypeParser().parse(f, ParseContext(str(path), asset_name=asset)))


def parse_ctx(path: Path, **ctx: Any) -> tuple[list[Any], ParseContext]:
    """The records and the context (its warnings and date source) of a file."""
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(GrypeParser().parse(f, context)), context


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def match(vid: str, pkg: str, version: str = "1.0", severity: str | None = "High", **vuln: Any) -> dict[str, Any]:
    return {
        "vulnerability": {"id": vid, "severity": severity, **vuln},
        "relatedVulnerabilities": vuln.pop("related", []),
        "matchDetails": [],
        "artifact": {"name": pkg, "version": version, "type": "deb", "locations": [{"path": f"/lib/{pkg}"}]},
    }


def report(matches: list[Any], user_input: str = "ghcr.io/acme/web:1.2", kind: str = "image") -> dict[str, Any]:
    return {
        "matches": matches,
        "source": {"type": kind, "target": {"userInput": user_input, "tags": [user_input]}},
        "distro": {"name": "debian", "version": "12"},
        "descriptor": {"name": "grype", "version": "0.74.0", "timestamp": "2026-01-05T11:00:00+01:00"},
    }


def test_fields_of_a_match(tmp_path: Path) -> None:
    cvss = [
        {
            "source": "vendor",
            "type": "Secondary",
            "version": "3.1",
            "vector": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
            "metrics": {"baseScore": 7.8},
        },
        {
            "source": "nvd@nist.gov",
            "type": "Primary",
            "version": "3.1",
            "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "metrics": {"baseScore": 9.8},
        },
    ]
    ghsa = match(
        "GHSA-xxxx-yyyy-zzzz",
        "django",
        "3.2.9",
        cvss=cvss,
        description="SQL injection",
        fix={"versions": ["3.2.10"], "state": "fixed"},
        related=[{"id": "CVE-2021-44420", "severity": "High"}],
    )
    records = parse(write(tmp_path, report([ghsa])))
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name, cov.checks) == (
        AssetKind.CONTAINER_IMAGE,
        "ghcr.io/acme/web",
        Checks.VULNERABILITY,
    )
    (f,) = findings(records)
    w = f.weakness
    assert (w.tool, w.vuln_id, w.cves, w.severity) == (
        "Grype",
        "GHSA-xxxx-yyyy-zzzz",
        ("CVE-2021-44420",),
        Severity.HIGH,
    )
    assert (w.cvss3_score, w.description, w.solution) == (9.8, "SQL injection", "Upgrade django to 3.2.10")
    assert f.path == "django" and "3.2.9" in (f.evidence or "") and "fixed in 3.2.10" in (f.evidence or "")
    assert f.observed_at == dt.datetime(2026, 1, 5, 10, 0)
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.tool_version, scan.name) == (
        "Grype",
        "0.74.0",
        "ghcr.io/acme/web:1.2",
    )


def test_severity_fallbacks_and_old_schema(tmp_path: Path) -> None:
    matches = [
        match("CVE-1", "a", severity="Unknown", cvss=[{"version": "3.1", "metrics": {"baseScore": 9.1}}]),
        match("CVE-2", "b", severity="Negligible"),
        {
            "vulnerability": {
                "id": "CVE-3",
                "severity": "Unknown",
                "cvssV2": {"baseScore": 5.0, "vector": "AV:N/AC:L/Au:N/C:P/I:N/A:N"},
            },
            "matchDetails": {},
            "artifact": {"name": "c", "version": "1"},
        },
        match("CVE-4", "d", severity=None, related=[{"id": "CVE-4", "severity": "Low"}]),
        match("CVE-5", "e", severity="Negligible", cvss=[{"version": "2.0", "metrics": {"baseScore": 7.2}}]),
        match("CVE-6", "f", severity="Unknown"),
    ]
    got = {f.weakness.vuln_id: f.weakness for f in findings(parse(write(tmp_path, report(matches))))}
    assert got["CVE-1"].severity is Severity.CRITICAL
    assert got["CVE-2"].severity is Severity.INFO  # Debian's "negligible": informational
    assert (got["CVE-3"].severity, got["CVE-3"].cvss2_score) == (Severity.MEDIUM, 5.0)
    assert got["CVE-4"].severity is Severity.LOW
    assert got["CVE-5"].severity is Severity.HIGH  # "negligible" to Debian, but scored: the score rates it
    assert got["CVE-6"].severity is Severity.LOW  # unrated: kept, never dropped as informational


def test_same_package_at_two_locations_is_one_finding(tmp_path: Path) -> None:
    first, second = match("CVE-1", "libc6"), match("CVE-1", "libc6")
    second["artifact"]["locations"] = [{"path": "/usr/lib/libc.so.6"}]
    got = findings(parse(write(tmp_path, report([first, second, match("CVE-1", "libc-bin")]))))
    assert sorted(str(f.path) for f in got) == ["libc-bin", "libc6"]
    f = next(f for f in got if f.path == "libc6")
    assert "/lib/libc6" in (f.evidence or "") and "/usr/lib/libc.so.6" in (f.evidence or "")


def test_directory_and_sourceless_reports(tmp_path: Path) -> None:
    directory = report([match("CVE-1", "lodash")], user_input=".", kind="directory")
    records = parse(write(tmp_path, directory))
    assert coverage(records) == [] and findings(records)[0].asset.name == "."
    named = parse(write(tmp_path, directory), asset="github.com/acme/site")
    assert [(c.asset.kind, c.asset.name) for c in coverage(named)] == [(AssetKind.REPOSITORY, "github.com/acme/site")]
    old = {"matches": [match("CVE-1", "x")], "source": {"type": "directory", "target": '"./src"'}}
    assert [c.asset.name for c in coverage(parse(write(tmp_path, old, "o.json")))] == ["./src"]
    bare = {"matches": [match("CVE-1", "x")]}
    records = parse(write(tmp_path, bare, "b.json"))
    assert coverage(records) == [] and findings(records)[0].asset.name == "unnamed"
    when = dt.datetime(2026, 3, 1)
    with (tmp_path / "b.json").open("rb") as f:
        dated = list(GrypeParser().parse(f, ParseContext("b.json", scan_date=when)))
    assert findings(dated)[0].observed_at == when


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "no `matches` list"),
        ('{"matches": {}}', "matches is a dict"),
        ('{"matches": []}\n[]', "report 2 is not a Grype report"),
        ('{"matches": []}\n{"matches": {}}', "matches is a dict"),
        ("", "empty file"),
    ],
)
def test_bad_input_is_an_input_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        parse(path)


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    odd = {
        "matches": [
            {
                "vulnerability": {"id": "CVE-1", "severity": 3, "cvss": [None, {"version": "x"}], "fix": []},
                "relatedVulnerabilities": None,
                "artifact": {"name": "a", "locations": "x"},
            }
        ],
        "source": {"type": "image", "target": {"userInput": 5, "tags": "x"}},
        "descriptor": [],
    }
    records, ctx = parse_ctx(write(tmp_path, odd))
    assert findings(records)[0].weakness.severity is Severity.MEDIUM and findings(records)[0].asset.name == "library/5"
    assert ctx.report.warnings == ["match 1 (CVE-1): severity '3' not recognised; rated Moderate"]


# --- the real Grype files of the corpus ------------------------------------------------------

ASSETS = {
    "anchore_grype_epss_problem": "unnamed",
    "check_all_fields": "library/vulnerable-image",
    "fix_available": "library/REDACTED",
    "fix_not_available": "library/REDACTED",
    "issue_9618": "quay.io/cloudservices/xjoin-kafka-connect-strimzi",
    "many_vulns3": "defectdojo/defectdojo-django",
    "many_vulns4": ".",
    "many_vulns_with_epss_values": "library/busybox",
    "no_vuln": "library/busybox",
    "same_cve_different_paths": "library/test-image",
}


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("grype_json").iterdir())


@pytest.mark.corpus
def test_every_corpus_file_matches_an_independent_count() -> None:
    files = corpus_files()
    assert len(files) == len(ASSETS)
    for path in files:
        doc = json.loads(path.read_text())
        expected = {(m["vulnerability"]["id"], m["artifact"]["name"]) for m in doc["matches"]}
        cves = {
            c
            for m in doc["matches"]
            for c in [m["vulnerability"]["id"]] + [r["id"] for r in m.get("relatedVulnerabilities") or []]
        }
        records = parse(path)
        got = findings(records)
        assert {(f.weakness.vuln_id, f.path) for f in got} == expected, path.name
        assert len(got) == len(expected), path.name
        assert {c for f in got for c in f.weakness.cves} == {c for c in cves if c.startswith("CVE-")}, path.name
        stem = path.stem.removeprefix("defectdojo__anchore_grype__")
        assert {f.asset.name for f in got} | {c.asset.name for c in coverage(records)} == {ASSETS[stem]}, stem
        named = ASSETS[stem] not in {"unnamed", "."}
        assert len(coverage(records)) == int(named), stem
        version = (doc.get("descriptor") or {}).get("version")
        assert isinstance(records[-1], Scan) and records[-1].tool_version == version


@pytest.mark.corpus
def test_corpus_scores_and_times() -> None:
    folder = corpus_dir("grype_json")
    recs = parse(folder / "defectdojo__anchore_grype__issue_9618.json")
    assert {f.observed_at for f in findings(recs)} == {dt.datetime(2024, 2, 22, 18, 46, 26, 372724)}
    doc = json.loads((folder / "defectdojo__anchore_grype__many_vulns3.json").read_text())
    with_v2 = {m["vulnerability"]["id"] for m in doc["matches"] if m["vulnerability"].get("cvssV2")}
    got = {
        f.weakness.vuln_id
        for f in findings(parse(folder / "defectdojo__anchore_grype__many_vulns3.json"))
        if f.weakness.cvss2_score
    }
    assert got == with_v2 and len(with_v2) > 100
    fix = findings(parse(folder / "defectdojo__anchore_grype__fix_available.json"))[0]
    assert "\x00" not in (fix.evidence or "")  # Grype wrote a NUL in a version; PostgreSQL refuses those


def test_sniff_claims_exactly_the_grype_folder() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if GrypeParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(corpus_files())


# --- end to end ------------------------------------------------------------------------------


def test_import_end_to_end_and_a_later_scan_fixes(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(GrypeParser())
    jan = report([match("CVE-1", "openssl"), match("CVE-2", "zlib", severity="Critical")])
    feb = report([match("CVE-2", "zlib", "1.2")], user_input="ghcr.io/acme/web:1.3")
    feb["descriptor"]["timestamp"] = "2026-02-05T10:00:00Z"
    r = import_file(engine, write(tmp_path, jan, "jan.json"))
    assert (r.format, r.tool, r.assets_covered, r.items_opened) == ("grype", "Grype", 1, 2)
    r = import_file(engine, write(tmp_path, feb, "feb.json"))
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert items["CVE-1"].status.value == "closed"
    assert [a.text for a in items["CVE-2"].assets] == ["ghcr.io/acme/web (zlib)"]


@pytest.mark.corpus
def test_corpus_file_imports(engine: Engine, register_parser: Any) -> None:
    register_parser(GrypeParser())
    path = corpus_dir("grype_json") / "defectdojo__anchore_grype__fix_available.json"
    r = import_file(engine, path)
    assert (r.assets_covered, r.results, r.items_opened) == (1, 1, 1)
    with engine.begin() as conn:
        (item,) = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert item.source_identifier == "CVE-2009-3882" and [a.text for a in item.assets] == ["library/REDACTED (java)"]


@pytest.mark.corpus
def test_mutated_corpus_files_give_input_errors_or_records() -> None:
    only_input_errors(GrypeParser(), "grype_json")


# --- lenient on values, several reports in one file, dates (issue 6) --------------------------


def test_odd_matches_are_warned_or_left_out_and_withhold_coverage(tmp_path: Path) -> None:
    nameless = match("CVE-2", "x")
    nameless["artifact"] = {"version": "2.0", "purl": "pkg:deb/debian/libssl3@3.0.11?arch=amd64"}
    anonymous = match("CVE-3", "x")
    anonymous["artifact"] = {"version": "1"}
    related = match("CVE-4", "y", severity="Unknown")
    related["relatedVulnerabilities"] = {"id": "CVE-4"}
    matches = [
        match("CVE-1", "libc6", severity="Serious"),
        nameless,
        anonymous,
        related,
        None,
        {"vulnerability": {"severity": "High"}, "artifact": {"name": "z"}},
        match("CVE-5", "zlib", severity="bad", cvss=[{"version": "3.1", "metrics": {"baseScore": 7.5}}]),
    ]
    records, ctx = parse_ctx(write(tmp_path, report(matches)))
    got = {(f.weakness.vuln_id, f.path): f for f in findings(records)}
    assert set(got) == {
        ("CVE-1", "libc6"),
        ("CVE-2", "libssl3"),
        ("CVE-3", "(unknown package)"),
        ("CVE-4", "y"),
        ("CVE-5", "zlib"),
    }
    assert got[("CVE-1", "libc6")].weakness.severity is Severity.MEDIUM
    assert got[("CVE-4", "y")].weakness.severity is Severity.LOW  # Unknown and unscored, as before
    assert got[("CVE-5", "zlib")].weakness.severity is Severity.HIGH
    assert "libssl3 2.0" in (got[("CVE-2", "libssl3")].evidence or "")
    assert coverage(records) == []  # two matches could not be read: nothing on the image is closed
    assert ctx.report.skipped == 2
    assert ctx.report.warnings == [
        "match 1 (CVE-1): severity 'Serious' not recognised; rated Moderate",
        f"match 2 (CVE-2): no artifact.name; package 'libssl3' from its package URL{FALLBACK}",
        f"match 3 (CVE-3): no artifact.name; package '(unknown package)'{FALLBACK}",
        "match 4 (CVE-4): relatedVulnerabilities is not a list; ignored",
        "match 5: not an object; left out",
        "match 6: no vulnerability.id; left out",
        "match 7 (CVE-5): severity 'bad' not recognised; rated high by its CVSS score",
        "asset ghcr.io/acme/web: a record could not be read; no coverage, so this file closes nothing on it",
    ]


def test_an_unreadable_match_closes_nothing(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(GrypeParser())
    jan = report([match("CVE-1", "libc6"), match("CVE-2", "zlib")])
    assert import_file(engine, write(tmp_path, jan, "jan.json")).items_opened == 2
    feb = report([match("CVE-2", "zlib"), {"artifact": {"name": "libc6"}, "vulnerability": {}}])
    feb["descriptor"]["timestamp"] = "2026-02-05T10:00:00Z"
    r = import_file(engine, write(tmp_path, feb, "feb.json"))
    assert (r.assets_covered, r.fixed_findings, r.warnings) == (0, 0, 2)
    mar = report([match("CVE-2", "zlib")])
    mar["descriptor"]["timestamp"] = "2026-03-05T10:00:00Z"
    assert import_file(engine, write(tmp_path, mar, "mar.json")).fixed_findings == 1


def two_reports() -> tuple[dict[str, Any], dict[str, Any]]:
    web = report([match("CVE-1", "libc6")])
    api = report([match("CVE-1", "libc6", severity="Critical")], user_input="ghcr.io/acme/api:3")
    api["descriptor"] = {"name": "grype", "version": "0.80.0", "timestamp": "2026-01-07T09:00:00Z"}
    return web, api


@pytest.mark.parametrize("joiner", ["", "\n", " \n "])
def test_several_reports_in_one_file_are_one_import(tmp_path: Path, joiner: str) -> None:
    path = tmp_path / "both.json"
    path.write_text(joiner.join(json.dumps(d) for d in two_reports()))
    with path.open("rb") as f:
        assert GrypeParser().sniff(read_head(f))
    records, ctx = parse_ctx(path)
    assert [(c.asset.name, c.started_at) for c in coverage(records)] == [
        ("ghcr.io/acme/web", dt.datetime(2026, 1, 5, 10, 0)),
        ("ghcr.io/acme/api", dt.datetime(2026, 1, 7, 9, 0)),
    ]
    assert [(f.asset.name, f.observed_at, f.weakness.severity) for f in findings(records)] == [
        ("ghcr.io/acme/web", dt.datetime(2026, 1, 5, 10, 0), Severity.CRITICAL),
        ("ghcr.io/acme/api", dt.datetime(2026, 1, 7, 9, 0), Severity.CRITICAL),
    ]
    assert [r for r in records if isinstance(r, Scan)] == [
        Scan("Grype", "0.74.0", "2 reports", dt.datetime(2026, 1, 5, 10, 0), dt.datetime(2026, 1, 7, 9, 0))
    ]
    assert not ctx.report.used_file_time and ctx.report.warning_count == 0


def test_json_lines_import_with_detection_and_with_format(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(GrypeParser())
    path = tmp_path / "lines.json"
    path.write_text("\n".join(json.dumps(d) for d in two_reports()) + "\n")
    r = import_file(engine, path)
    assert (r.format, r.assets_covered, r.results, r.date_source) == ("grype", 2, 2, "file")
    assert (r.started_at, r.ended_at) == (dt.datetime(2026, 1, 5, 10, 0), dt.datetime(2026, 1, 7, 9, 0))
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"matches": [match("CVE-9", "x")]}) + json.dumps({"matches": []}))
    r = import_file(engine, bare, format_id="grype", asset="github.com/acme/site")
    assert (r.format, r.results, r.assets_covered, r.date_source) == ("grype", 1, 1, "mtime")


def test_an_undated_report_takes_the_file_time_only_when_a_record_needs_it(tmp_path: Path) -> None:
    undated = report([match("CVE-1", "libc6")])
    del undated["descriptor"]["timestamp"]
    records, ctx = parse_ctx(write(tmp_path, undated))
    assert {f.observed_at for f in findings(records)} == {FILE_TIME} and ctx.report.used_file_time
    assert coverage(records)[0].started_at == FILE_TIME
    records, ctx = parse_ctx(write(tmp_path, report([match("CVE-1", "libc6")])))
    assert findings(records)[0].observed_at == dt.datetime(2026, 1, 5, 10, 0) and not ctx.report.used_file_time
    garbled = report([match("CVE-1", "libc6")])
    garbled["descriptor"]["timestamp"] = "soon"
    records, ctx = parse_ctx(write(tmp_path, garbled))
    assert findings(records)[0].observed_at == FILE_TIME and ctx.report.used_file_time
    assert ctx.report.warnings == [
        "report: descriptor.timestamp 'soon' is not a date; dated by --scan-date, else the file's modification time"
    ]
    records, ctx = parse_ctx(write(tmp_path, {"matches": []}))  # nothing named, nothing found: nothing to date
    assert records == [Scan("Grype")] and not ctx.report.used_file_time


# --- ignored matches ----------------------------------------------------------------------------


def ignored(m: dict[str, Any], *rules: dict[str, Any]) -> dict[str, Any]:
    """An entry of `ignoredMatches`: the match and the ignore rules that kept it out."""
    return {**m, "appliedIgnoreRules": list(rules)}


def test_ignored_matches_are_set_aside_or_fixed_with_their_identity(tmp_path: Path) -> None:
    doc = report([match("CVE-1", "openssl", fix={"versions": ["3.0.9"], "state": "fixed"})])
    doc["ignoredMatches"] = [
        ignored(match("CVE-2", "zlib"), {"vulnerability": "CVE-2", "reason": "not reachable"}),
        ignored(match("CVE-3", "tar"), {"fix-state": "not-fixed"}),  # --only-fixed
        ignored(match("CVE-4", "bash"), {"vex-status": "not_affected", "vex-justification": "code_not_present"}),
        ignored(match("CVE-5", "curl"), {"vex-status": "fixed"}, {"vulnerability": "CVE-5"}),
        ignored(match("CVE-6", "gzip")),
        ignored(match("CVE-1", "openssl"), {"package": {"name": "openssl"}}),
        ignored(
            match("CVE-1", "libssl", severity="Critical", fix={"versions": ["9.9"]}), {"package": {"name": "libssl"}}
        ),
    ]
    records, ctx = parse_ctx(write(tmp_path, doc))
    got = {(f.weakness.vuln_id, f.asset.name, f.path): f.status for f in findings(records)}
    assert got == {
        ("CVE-1", "ghcr.io/acme/web", "openssl"): FindingStatus.OPEN,  # an open match wins
        ("CVE-1", "ghcr.io/acme/web", "libssl"): FindingStatus.SET_ASIDE,
        ("CVE-2", "ghcr.io/acme/web", "zlib"): FindingStatus.SET_ASIDE,
        ("CVE-3", "ghcr.io/acme/web", "tar"): FindingStatus.SET_ASIDE,
        ("CVE-4", "ghcr.io/acme/web", "bash"): FindingStatus.FIXED,  # a VEX statement: not affected
        ("CVE-5", "ghcr.io/acme/web", "curl"): FindingStatus.SET_ASIDE,  # also a user's rule
        ("CVE-6", "ghcr.io/acme/web", "gzip"): FindingStatus.SET_ASIDE,
    }
    (cov,) = coverage(records)
    assert cov.asset.name == "ghcr.io/acme/web" and ctx.report.warnings == []
    weakness = next(f.weakness for f in findings(records) if f.weakness.vuln_id == "CVE-1")
    assert weakness.solution == "Upgrade openssl to 3.0.9"  # an ignored match adds no fix to the open one's
    assert weakness.severity is Severity.HIGH  # nor its severity
    only_ignored = next(f.weakness for f in findings(records) if f.weakness.vuln_id == "CVE-2")
    assert (only_ignored.name, only_ignored.severity) == ("CVE-2", Severity.HIGH)


def test_an_unreadable_ignored_match_withholds_coverage(tmp_path: Path) -> None:
    doc = report([match("CVE-1", "openssl")])
    doc["ignoredMatches"] = ["junk", ignored({"vulnerability": {}, "artifact": {"name": "zlib"}})]
    records, ctx = parse_ctx(write(tmp_path, doc))
    assert [f.weakness.vuln_id for f in findings(records)] == ["CVE-1"] and coverage(records) == []
    assert ctx.report.warnings[:2] == [
        "ignored match 1: not an object; left out",
        "ignored match 2: no vulnerability.id; left out",
    ]


def test_an_ignored_match_keeps_its_open_finding_open_until_it_is_gone(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    """An ignore rule is a person's (or the tool's) decision, not a fix: a covering scan that
    still reports the match (ignored) closes nothing of it and opens nothing; one without it
    closes it."""
    register_parser(GrypeParser())

    def month(day: str, matches: list[Any], ignored_matches: list[Any]) -> Path:
        doc = report(matches)
        doc["descriptor"]["timestamp"] = f"{day}T10:00:00Z"
        doc["ignoredMatches"] = ignored_matches
        return write(tmp_path, doc, f"{day}.json")

    rule = {"vulnerability": "CVE-1", "reason": "false positive"}
    jan = import_file(engine, month("2026-01-05", [match("CVE-1", "openssl")], []))
    assert (jan.assets_covered, jan.new_findings, jan.items_opened) == (1, 1, 1)
    feb = import_file(engine, month("2026-02-05", [], [ignored(match("CVE-1", "openssl"), rule)]))
    assert (feb.assets_covered, feb.set_aside, feb.fixed_findings, feb.items_closed) == (1, 1, 0, 0)
    more = [ignored(match("CVE-1", "openssl"), rule), ignored(match("CVE-9", "zlib"), {"fix-state": "wont-fix"})]
    new = import_file(engine, month("2026-02-06", [], more))
    assert (new.new_findings, new.items_opened, new.fixed_findings) == (0, 0, 0)
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert set(items) == {"CVE-1"} and items["CVE-1"].status.value == "open"
    mar = import_file(engine, month("2026-03-05", [], []))
    assert (mar.fixed_findings, mar.items_closed) == (1, 1)


# --- a fallback identity closes nothing by absence (review item 4) ------------------------------


@pytest.mark.parametrize(
    ("artifact", "warning"),
    [
        ({"purl": "pkg:npm/%40babel/traverse@7.22.0"}, "no artifact.name; package 'traverse' from its package URL"),
        ({}, "no artifact.name; package '(unknown package)'"),
    ],
)
def test_a_match_with_a_fallback_package_closes_nothing_by_absence(
    engine: Engine, register_parser: Any, tmp_path: Path, artifact: dict[str, str], warning: str
) -> None:
    register_parser(GrypeParser())
    traverse = match("CVE-2023-45133", "@babel/traverse", "7.22.0")
    jan = report([traverse, match("CVE-2", "zlib")])
    assert import_file(engine, write(tmp_path, jan, "jan.json")).items_opened == 2
    nameless = {**traverse, "artifact": {"version": "7.22.0", "type": "npm", **artifact}}
    feb = report([nameless, match("CVE-2", "zlib")])
    feb["descriptor"]["timestamp"] = "2026-02-05T10:00:00Z"
    r = import_file(engine, write(tmp_path, feb, "feb.json"))
    assert (r.results, r.new_findings, r.assets_covered, r.fixed_findings) == (2, 1, 0, 0)
    assert r.warning_lines == [
        f"match 1 (CVE-2023-45133): {warning}{FALLBACK}",
        "asset ghcr.io/acme/web: a record was kept under a fallback identity; no coverage, so this file closes "
        "nothing on it",
    ]
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert {i.source_identifier: i.status.value for i in items} == {"CVE-2023-45133": "open", "CVE-2": "open"}
