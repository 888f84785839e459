"""The OpenVEX parser on hand-written documents and on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, FindingStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.openvex import OpenVexParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_stig_ckl import detected, run_with_context
from tests.parsers.test_trivy import only_input_errors


def write(tmp_path: Path, doc: Any, name: str = "vex.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def parse(path: Path) -> list[Any]:
    with path.open("rb") as f:
        return list(OpenVexParser().parse(f, ParseContext(str(path))))


def write_text(tmp_path: Path, text: str, name: str = "vex.json") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def vex(statements: list[Any], when: str = "2026-01-05T10:00:00Z") -> dict[str, Any]:
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex-1",
        "author": "Acme PSIRT",
        "timestamp": when,
        "version": 3,
        "statements": statements,
    }


IMAGE = "pkg:oci/web@sha256%3Aabc?repository_url=ghcr.io%2Facme%2Fweb&tag=1.2"


def test_statements_map_to_open_fixed_and_informational(tmp_path: Path) -> None:
    statements = [
        {
            "vulnerability": {"name": "CVE-2024-0001", "aliases": ["GHSA-aaaa-bbbb-cccc"]},
            "products": [{"@id": IMAGE, "subcomponents": [{"@id": "pkg:deb/debian/openssl@3.0.1"}]}],
            "status": "affected",
            "action_statement": "Upgrade openssl",
            "timestamp": "2026-01-06T00:00:00Z",
        },
        {
            "vulnerability": {"name": "CVE-2024-0002"},
            "products": [{"@id": "pkg:apk/alpine/zlib@1.2.11-r1?arch=x86_64"}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_present",
        },
        {"vulnerability": "CVE-2024-0003", "products": ["pkg:github/acme/api@v2"], "status": "fixed"},
        {"vulnerability": {"name": "CVE-2024-0004"}, "products": ["not-a-purl"], "status": "under_investigation"},
    ]
    records = parse(write(tmp_path, vex(statements)))
    assert not [r for r in records if isinstance(r, Coverage)]
    got = {f.weakness.vuln_id: f for f in findings(records)}
    first = got["CVE-2024-0001"]
    assert (first.asset.kind, first.asset.name, first.path) == (
        AssetKind.CONTAINER_IMAGE,
        "ghcr.io/acme/web",
        "openssl",
    )
    assert first.status is FindingStatus.OPEN and first.observed_at == dt.datetime(2026, 1, 6)
    assert first.weakness.cves == ("CVE-2024-0001",) and first.weakness.severity is Severity.MEDIUM
    assert first.weakness.solution == "Upgrade openssl" and first.weakness.tool == "OpenVEX"
    zlib = got["CVE-2024-0002"]
    assert (zlib.asset.kind, zlib.asset.name, zlib.path, zlib.status) == (
        AssetKind.OTHER,
        "pkg:apk/alpine/zlib",
        None,
        FindingStatus.FIXED,
    )
    assert "vulnerable_code_not_present" in (zlib.evidence or "") and zlib.observed_at == dt.datetime(2026, 1, 5, 10)
    assert (got["CVE-2024-0003"].asset.name, got["CVE-2024-0003"].status) == (
        "pkg:github/acme/api",
        FindingStatus.FIXED,
    )
    pending = got["CVE-2024-0004"]
    assert pending.weakness.severity is Severity.INFO and pending.asset.name == "not-a-purl"
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.name) == ("OpenVEX", "Acme PSIRT")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"@context": "https://openvex.dev/ns/v0.2.0"}', "no `statements`"),
        ('{"statements": {}}', "statements is a dict"),
        ("[]", "not an OpenVEX document"),
        ('{"statements": []}\n{"statements": 1}', "document 2: statements is a int"),
        ('{"statements": []}\n[]', "document 2: not an OpenVEX document"),
    ],
)
def test_bad_input_is_an_input_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        parse(path)


def test_odd_statements_are_read_past_with_a_warning(tmp_path: Path) -> None:
    """Statements that used to refuse the whole document: left out, or kept open, with a warning."""
    statements = [
        {"vulnerability": {"name": "CVE-1"}, "status": "maybe", "products": ["p"]},
        {"vulnerability": {"name": "CVE-2"}, "status": "false_positive", "products": ["p"]},
        {"status": "affected", "products": ["p"]},
        {"vulnerability": "CVE-4", "status": "affected"},
        {"vulnerability": "CVE-5", "status": "fixed", "products": [{}, "q"]},
        "not a statement",
        {"vulnerability": "CVE-" + "7" * 250, "status": "affected", "products": ["p"]},
        {"vulnerability": "CVE-8", "status": "affected", "products": ["p"]},
    ]
    records, ctx = run_with_context(OpenVexParser(), write(tmp_path, vex(statements)))
    got = [(f.weakness.vuln_id, f.asset.name, f.status, f.weakness.severity) for f in findings(records)]
    assert got == [
        ("CVE-1", "p", FindingStatus.OPEN, Severity.MEDIUM),
        ("CVE-5", "q", FindingStatus.FIXED, Severity.MEDIUM),
        ("CVE-8", "p", FindingStatus.OPEN, Severity.MEDIUM),
    ]
    assert ctx.report.warnings == [
        "statement 1 (CVE-1): status 'maybe' not recognised; kept open",
        "statement 2 (CVE-2): status 'false_positive' is not an OpenVEX status; read as set aside and left out",
        "statement 3: no vulnerability name; left out",
        "statement 4 (CVE-4): no products; left out",
        "statement 5 (CVE-5) product 1: no @id; left out",
        "statement 6: not an object; left out",
        "statement 7 (CVE-" + "7" * 56 + "): vulnerability name longer than 200 characters; left out",
    ]
    assert ctx.report.skipped == 5


def test_several_documents_in_one_file(tmp_path: Path) -> None:
    """Documents written one after another, or one per line: one import, one scan over both."""
    jan = vex([{"vulnerability": "CVE-1", "products": ["p"], "status": "affected"}])
    feb = vex([{"vulnerability": "CVE-1", "products": ["p"], "status": "fixed"}], "2026-02-05T10:00:00Z")
    for text in (json.dumps(jan, indent=2) + json.dumps(feb, indent=2), json.dumps(jan) + "\n" + json.dumps(feb)):
        path = write_text(tmp_path, text)
        with path.open("rb") as f:
            assert OpenVexParser().sniff(read_head(f))
        assert detected(path) == "openvex"
        records = parse(path)
        assert [(f.status, f.observed_at) for f in findings(records)] == [
            (FindingStatus.OPEN, dt.datetime(2026, 1, 5, 10)),
            (FindingStatus.FIXED, dt.datetime(2026, 2, 5, 10)),
        ]
        scan = records[-1]
        assert isinstance(scan, Scan) and (scan.name, scan.started_at, scan.ended_at) == (
            "Acme PSIRT",
            dt.datetime(2026, 1, 5, 10),
            dt.datetime(2026, 2, 5, 10),
        )


def test_undated_statements_take_the_file_time(tmp_path: Path) -> None:
    mtime = dt.datetime(2026, 2, 3, 4, 5, 6)
    doc = vex([{"vulnerability": "CVE-1", "products": ["p"], "status": "affected"}])
    del doc["timestamp"]
    records, ctx = run_with_context(OpenVexParser(), write(tmp_path, doc), file_time=mtime)
    assert [f.observed_at for f in findings(records)] == [mtime] and ctx.report.used_file_time
    records, ctx = run_with_context(OpenVexParser(), write(tmp_path, vex(doc["statements"])), file_time=mtime)
    assert [f.observed_at for f in findings(records)] == [dt.datetime(2026, 1, 5, 10)]
    assert not ctx.report.used_file_time


@pytest.mark.parametrize("order", [1, -1], ids=["older-first", "newer-first"])
@pytest.mark.parametrize("newer", ["fixed", "affected"])
def test_the_newest_statement_decides_on_import(
    engine: Engine, register_parser: Any, tmp_path: Path, order: int, newer: str
) -> None:
    """Two statements of one document about one vulnerability and product, half a second apart:
    the newer one decides, whatever their order in the file."""
    register_parser(OpenVexParser())
    older = "fixed" if newer == "affected" else "affected"
    statements = [
        {"vulnerability": "CVE-1", "products": ["p"], "status": older, "timestamp": "2026-01-06T10:00:00.25Z"},
        {"vulnerability": "CVE-1", "products": ["p"], "status": newer, "timestamp": "2026-01-06T10:00:00.75Z"},
    ]
    r = import_file(engine, write(tmp_path, vex(statements[::order])))
    assert r.results == 2
    with engine.begin() as conn:
        (item,) = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert item.status.value == ("closed" if newer == "fixed" else "open")


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    odd = vex(
        [
            {
                "vulnerability": {"name": "CVE-1", "aliases": "x"},
                "products": [{"@id": "pkg:oci/"}],
                "status": "affected",
                "timestamp": 5,
                "subcomponents": "x",
                "justification": ["x"],
            }
        ],
        when="never",
    )
    (f,) = findings(parse(write(tmp_path, odd)))
    assert f.asset.name == "pkg:oci/" and f.status is FindingStatus.OPEN


# --- the real OpenVEX files of the corpus ----------------------------------------------------


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("openvex").iterdir())


@pytest.mark.corpus
def test_every_corpus_file_matches_an_independent_count() -> None:
    files = corpus_files()
    assert len(files) == 3
    for path in files:
        doc = json.loads(path.read_text())
        expected = set()
        for st in doc["statements"]:
            name = st["vulnerability"] if isinstance(st["vulnerability"], str) else st["vulnerability"]["name"]
            for product in st["products"]:
                pid = product if isinstance(product, str) else product["@id"]
                expected.add((name, pid.split("@")[0], st["status"]))
        records = parse(path)
        status = {FindingStatus.OPEN: "affected", FindingStatus.FIXED: "fixed"}
        got = set()
        for f in findings(records):
            word = "under_investigation" if f.weakness.severity is Severity.INFO else status[f.status]
            got.add((f.weakness.vuln_id, f.asset.name, word))
        assert {(n, p, s.replace("not_affected", "fixed")) for n, p, s in expected} == got, path.name
        assert len(findings(records)) == len(expected)
        assert isinstance(records[-1], Scan) and records[-1].name == doc["author"]


def test_sniff_claims_exactly_the_openvex_folder() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if OpenVexParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(corpus_files())


# --- end to end ------------------------------------------------------------------------------


def test_import_end_to_end_a_later_statement_fixes(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(OpenVexParser())
    product = {"@id": IMAGE, "subcomponents": [{"@id": "pkg:deb/debian/openssl@3.0.1"}]}
    jan = vex(
        [
            {"vulnerability": {"name": "CVE-1"}, "products": [product], "status": "affected"},
            {"vulnerability": {"name": "CVE-2"}, "products": [product], "status": "affected"},
        ]
    )
    feb = vex(
        [{"vulnerability": {"name": "CVE-1"}, "products": [product], "status": "not_affected"}], "2026-02-05T10:00:00Z"
    )
    r = import_file(engine, write(tmp_path, jan, "jan.json"))
    assert (r.format, r.tool, r.assets_covered, r.items_opened) == ("openvex", "OpenVEX", 0, 2)
    r = import_file(engine, write(tmp_path, feb, "feb.json"))
    assert (r.fixed_findings, r.items_closed) == (1, 1)  # only what the statement names; CVE-2 stays open
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert items["CVE-1"].status.value == "closed" and items["CVE-2"].status.value == "open"
    assert [a.text for a in items["CVE-2"].assets] == ["ghcr.io/acme/web (openssl)"]


@pytest.mark.corpus
def test_corpus_file_imports(engine: Engine, register_parser: Any) -> None:
    register_parser(OpenVexParser())
    r = import_file(engine, corpus_dir("openvex") / "defectdojo__openvex__openvex_many_vuln.json")
    assert (r.results, r.informational, r.items_opened) == (6, 1, 1)  # one affected; fixed ones never seen open
    with engine.begin() as conn:
        (item,) = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert item.source_identifier == "CVE-2024-10002" and [a.text for a in item.assets] == ["pkg:apk/alpine/busybox"]


@pytest.mark.corpus
def test_mutated_corpus_files_give_input_errors_or_records() -> None:
    only_input_errors(OpenVexParser(), "openvex")
