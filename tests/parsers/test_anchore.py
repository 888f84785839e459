"""The Anchore Enterprise / Engine parser (image vulnerability reports, anchorectl's array, policy
evaluations) on hand-written files and on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.anchore import AnchoreEnterpriseParser, policy_package
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
DIGEST = "sha256:" + "8f" * 32
IMAGE_ID = "c1" * 32
HEADER = [
    "Image_Id",
    "Repo_Tag",
    "Trigger_Id",
    "Gate",
    "Trigger",
    "Check_Output",
    "Gate_Action",
    "Whitelisted",
    "Policy_Id",
]


def write(tmp_path: Path, doc: Any, name: str = "anchore.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def parse_ctx(path: Path, **ctx: Any) -> tuple[list[Any], ParseContext]:
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(AnchoreEnterpriseParser().parse(f, context)), context


def parse(path: Path, **ctx: Any) -> list[Any]:
    return parse_ctx(path, **ctx)[0]


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def vuln(
    vid: str, pkg: str, severity: str = "High", version: str = "1.0", fix: str = "None", **extra: Any
) -> dict[str, Any]:
    return {
        "feed": "vulnerabilities",
        "feed_group": "debian:12",
        "fix": fix,
        "package": f"{pkg}-{version}",
        "package_cpe": "None",
        "package_name": pkg,
        "package_path": "None",
        "package_type": "dpkg",
        "package_version": version,
        "severity": severity,
        "url": f"https://security-tracker.debian.org/tracker/{vid}",
        "vuln": vid,
        **extra,
    }


def vulns_report(
    vulns: list[Any], tag: str | None = "registry.example/team/app:1.2", kind: str = "all"
) -> dict[str, Any]:
    doc: dict[str, Any] = {"image_digest": DIGEST, "vulnerabilities": vulns, "vulnerability_type": kind}
    if tag:
        doc["imageFullTag"] = tag
    return doc


def row(trigger_id: str, gate: str, trigger: str, output: str, action: str = "warn", allowed: Any = False) -> list[Any]:
    return [IMAGE_ID, "registry.example/team/app:1.2", trigger_id, gate, trigger, output, action, allowed, "p1"]


def cve_row(
    vid: str, spec: str, output_word: str = "HIGH", action: str = "stop", os: bool = False, **kw: Any
) -> list[Any]:
    kind = "os package type (rpm) - " + spec if os else f"non-os package type (java) - /app/{spec} "
    return row(
        f"{vid}+{spec}",
        "vulnerabilities",
        "package",
        f"{output_word} Vulnerability found in {kind}({vid} - https://nvd.nist.gov/vuln/detail/{vid})",
        action,
        **kw,
    )


def evaluation(
    rows: list[Any],
    tag: str = "registry.example/team/app:1.2",
    when: str | None = "2026-01-05T10:00:00Z",
    header: list[str] | None = None,
) -> list[Any]:
    ev: dict[str, Any] = {
        "detail": {
            "policy": {"policies": [{"id": "p1", "name": "DefaultPolicy"}]},
            "result": {
                "created_at": 1767607200,
                "final_action": "stop",
                "image_digest": DIGEST,
                "image_id": IMAGE_ID,
                "result": {
                    IMAGE_ID: {"result": {"header": header or HEADER, "rows": rows, "final_action": "stop"}},
                    "policy_data": [],
                    "policy_name": "",
                },
                "tag": tag,
            },
        },
        "policyId": "bundle-1",
        "status": "fail",
    }
    if when is not None:
        ev["last_evaluation"] = when
    return [{DIGEST: {tag: [ev]}}]


# --- vulnerability reports ------------------------------------------------------------------------


def test_fields_of_a_vulnerability(tmp_path: Path) -> None:
    extra = {
        "description": "Buffer overflow",
        "nvd_data": [
            {
                "id": "CVE-2020-8927",
                "cvss_v2": {"base_metrics": {"base_score": 6.4}, "vector_string": "AV:N/AC:L/Au:N/C:N/I:P/A:P"},
                "cvss_v3": {
                    "base_metrics": {"base_score": 6.5},
                    "vector_string": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:L",
                },
            }
        ],
    }
    v = vuln(
        "CVE-2020-8927",
        "brotli",
        "Medium",
        "1.0.6-2",
        fix="1.0.9-1",
        inherited_from_base=True,
        extra=extra,
        package_path="/usr/lib/libbrotli.so",
        nvd_data=[{"id": "CVE-2020-8927", "cvss_v3": {"base_score": 6.5}}],
    )
    records, ctx = parse_ctx(write(tmp_path, vulns_report([v])))
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name, cov.checks, cov.started_at) == (
        AssetKind.CONTAINER_IMAGE,
        "registry.example/team/app",
        Checks.VULNERABILITY,
        FILE_TIME,
    )
    (f,) = findings(records)
    w = f.weakness
    assert (w.tool, w.vuln_id, w.severity, w.family, w.cves, w.description) == (
        "Anchore Enterprise",
        "CVE-2020-8927",
        Severity.MEDIUM,
        "debian:12",
        ("CVE-2020-8927",),
        "Buffer overflow",
    )
    assert (w.cvss3_score, w.cvss3_vector, w.cvss2_score, w.cvss2_vector) == (
        6.5,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:L",
        6.4,
        "AV:N/AC:L/Au:N/C:N/I:P/A:P",
    )
    assert (
        w.solution == "Upgrade brotli to 1.0.9-1"
        and w.see_also == "https://security-tracker.debian.org/tracker/CVE-2020-8927"
    )
    assert (f.path, f.observed_at) == ("brotli", FILE_TIME) and ctx.report.used_file_time
    assert f.evidence == (
        "brotli 1.0.6-2 (dpkg); fixed in 1.0.9-1; at /usr/lib/libbrotli.so; inherited from the base image"
    )
    assert records[-1] == Scan("Anchore Enterprise", None, "registry.example/team/app:1.2", FILE_TIME, FILE_TIME)


@pytest.mark.parametrize(
    ("word", "scores", "expected"),
    [
        ("Critical", {}, Severity.CRITICAL),
        ("High", {}, Severity.HIGH),
        ("Medium", {}, Severity.MEDIUM),
        ("Low", {"nvd_data": [{"cvss_v3": {"base_score": 9.8}}]}, Severity.LOW),  # the word wins
        ("Negligible", {}, Severity.INFO),
        ("Negligible", {"nvd_data": [{"cvss_v3": {"base_score": 5.5}}]}, Severity.MEDIUM),
        (
            "Unknown",
            {"vendor_data": [{"cvss_v3": {"base_score": -1.0}, "cvss_v2": {"base_score": 7.2}}]},
            Severity.HIGH,
        ),
        ("Unknown", {}, Severity.LOW),
    ],
)
def test_severity_words(tmp_path: Path, word: str, scores: dict[str, Any], expected: Severity) -> None:
    records, ctx = parse_ctx(write(tmp_path, vulns_report([vuln("CVE-1", "a", word, **scores)])))
    assert findings(records)[0].weakness.severity is expected and ctx.report.warnings == []


def test_anchorectl_array_and_one_package_at_several_paths(tmp_path: Path) -> None:
    def ctl(path: str) -> dict[str, Any]:
        return {
            "feed": "vulndb",
            "feedGroup": "vulndb:vulnerabilities",
            "fix": "1.18",
            "package": "jersey-1.13",
            "packageCpe": "None",
            "packageName": "jersey",
            "packagePath": path,
            "packageType": "java",
            "packageVersion": "1.13",
            "severity": "Medium",
            "url": "http://x/VULNDB-1",
            "vuln": "VULNDB-1",
            "vendorData": [{"cvssV2": {"baseScore": 5.0}, "cvssV3": {"baseScore": -1.0}, "id": "VULNDB-1"}],
        }

    path = write(tmp_path, [ctl("/app.war:jersey-client.jar"), ctl("/app.war:jersey-core.jar")])
    with path.open("rb") as f:
        head = read_head(f)
        assert AnchoreEnterpriseParser().sniff(head) and not GrypeParser().sniff(head)
    records = parse(path)
    (f,) = findings(records)
    assert (f.path, f.asset.name, f.weakness.cvss2_score, f.weakness.cvss3_score) == ("jersey", "unnamed", 5.0, None)
    assert "/app.war:jersey-client.jar" in (f.evidence or "") and "/app.war:jersey-core.jar" in (f.evidence or "")
    assert coverage(records) == []  # names no image
    named = parse(path, asset_name="registry.example/team/app")
    assert [(c.asset.name, c.checks) for c in coverage(named)] == [("registry.example/team/app", Checks.VULNERABILITY)]


def test_a_report_of_part_of_the_packages_covers_nothing(tmp_path: Path) -> None:
    records, ctx = parse_ctx(write(tmp_path, vulns_report([vuln("CVE-1", "a")], kind="os")))
    assert coverage(records) == [] and len(findings(records)) == 1
    assert ctx.report.warnings == [
        "report: lists OS packages only (vulnerability_type 'os'); no coverage, so this file closes nothing"
    ]


def test_odd_vulnerabilities_are_warned_or_left_out_and_withhold_coverage(tmp_path: Path) -> None:
    nameless = vuln("CVE-2", "x", version="2.0")
    del nameless["package_name"]
    anonymous = {"vuln": "CVE-3", "severity": "Low"}
    vulns = [vuln("CVE-1", "a", "Serious"), nameless, anonymous, "junk", {"severity": "High", "package_name": "z"}]
    records, ctx = parse_ctx(write(tmp_path, vulns_report(vulns)))
    assert {(f.weakness.vuln_id, f.path) for f in findings(records)} == {
        ("CVE-1", "a"),
        ("CVE-2", "x"),  # its name from `package` (`x-2.0`)
        ("CVE-3", "(unknown package)"),
    }
    assert coverage(records) == [] and ctx.report.skipped == 2
    assert ctx.report.warnings == [
        "vulnerability 1 (CVE-1): severity 'Serious' not recognised; rated Moderate",
        f"vulnerability 3 (CVE-3): no package_name; package '(unknown package)'{FALLBACK}",
        "vulnerability 4: not an object; left out",
        "vulnerability 5: no vuln id; left out",
        "asset registry.example/team/app: a record could not be read; no coverage, so this file closes nothing on it",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"imageDigest": "x", "vulnerabilities": {}}', "vulnerabilities is a dict, not a list"),
        ('{"imageDigest": "x"}', "not an Anchore vulnerability report or policy evaluation"),
        ('[{"vuln": "CVE-1"}]\n{"x": 1}', "document 2 is not an Anchore"),
        (json.dumps([{DIGEST: ["x"]}]), "are not an object keyed by tag"),
        (
            json.dumps(evaluation([], header=["Image_Id", "Gate"])),
            "the result header has no Trigger_Id, Trigger column",
        ),
        (json.dumps([{DIGEST: {"t": {}}}]), "evaluations of t is a dict, not a list"),
        ('{"imageDigest": "x", "vulnerabilities": [', "JSON"),
    ],
)
def test_broken_structure_is_an_input_error(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, content))


# --- policy evaluations ----------------------------------------------------------------------------


def test_policy_rows_are_vulnerabilities_or_configuration_findings(tmp_path: Path) -> None:
    rows = [
        cve_row("CVE-2019-14540", "openapi-generator-cli-4.0.0.jar:jackson-databind", "CRITICAL"),
        cve_row("CVE-2019-14540", "openapi-generator-cli-4.0.0.jar:jackson-databind", "CRITICAL"),  # another path
        cve_row("CVE-2015-0899", "struts-core-1.3.8.jar"),
        cve_row("RHSA-2020:0374", "kernel-headers", os=True),
        cve_row("CVE-2013-7040", "Python-2.7.5", "MEDIUM", "warn"),
        row(
            "41cb7cdf04850e33a11f80c42bf660b3",
            "dockerfile",
            "instruction",
            "Dockerfile directive 'HEALTHCHECK' not found, matching condition 'not_exists' check",
        ),
        row("0f3a", "dockerfile", "exposed_ports", "Dockerfile exposes port (22)", "stop"),
        row("77aa", "metadata", "attribute", "Image size above limit", "go"),
        row("9c9c", "dockerfile", "exposed_ports", "Dockerfile exposes port (23)", "stop", allowed=True),
    ]
    records, ctx = parse_ctx(write(tmp_path, evaluation(rows)))
    (cov,) = coverage(records)
    assert (cov.asset.name, cov.checks, cov.started_at) == (
        "registry.example/team/app",
        Checks.CONFIGURATION,  # the policy lists only the vulnerabilities its rules select: it never shows one fixed
        dt.datetime(2026, 1, 5, 10, 0),
    )
    got = {(f.weakness.vuln_id, f.path): f for f in findings(records)}
    assert set(got) == {
        ("CVE-2019-14540", "jackson-databind"),
        ("CVE-2015-0899", "struts-core"),
        ("RHSA-2020:0374", "kernel-headers"),
        ("CVE-2013-7040", "Python"),
        ("dockerfile/instruction", "41cb7cdf04850e33a11f80c42bf660b3"),
        ("dockerfile/exposed_ports", "0f3a"),
        ("metadata/attribute", "77aa"),
        ("dockerfile/exposed_ports", "9c9c"),
    }
    cve = got[("CVE-2019-14540", "jackson-databind")]
    assert (cve.weakness.severity, cve.weakness.is_config, cve.weakness.see_also, cve.weakness.cves) == (
        Severity.CRITICAL,
        False,
        "https://nvd.nist.gov/vuln/detail/CVE-2019-14540",
        ("CVE-2019-14540",),
    )
    assert "action stop; policy DefaultPolicy" in (cve.evidence or "")
    assert got[("CVE-2013-7040", "Python")].weakness.severity is Severity.MEDIUM
    health = got[("dockerfile/instruction", "41cb7cdf04850e33a11f80c42bf660b3")]
    assert (health.weakness.is_config, health.weakness.severity, health.weakness.name) == (
        True,
        Severity.MEDIUM,
        "Anchore policy: dockerfile gate, instruction trigger",
    )
    assert (health.evidence or "").startswith("Dockerfile directive 'HEALTHCHECK' not found")
    assert got[("dockerfile/exposed_ports", "0f3a")].weakness.severity is Severity.HIGH
    assert got[("metadata/attribute", "77aa")].weakness.severity is Severity.INFO
    assert got[("dockerfile/exposed_ports", "9c9c")].status is FindingStatus.SET_ASIDE
    assert ctx.report.warnings == [] and not ctx.report.used_file_time


def test_policy_package_names() -> None:
    assert policy_package("openapi-generator-cli-4.0.0.jar:jackson-databind", True) == "jackson-databind"
    assert policy_package("struts-core-1.3.8.jar", True) == "struts-core"
    assert policy_package("commons-collections-3.2.1.jar", True) == "commons-collections"
    assert policy_package("lxml-3.2.1", True) == "lxml"
    assert policy_package("log4j-1.2-api-2.17.1.jar", True) == "log4j-1.2-api"
    assert policy_package("python3-libs", False) == "python3-libs"  # an OS package's name is kept as written


def test_odd_policy_rows_and_dates(tmp_path: Path) -> None:
    rows = ["junk", row("", "dockerfile", "instruction", "x"), row("aa", "dockerfile", "instruction", "x", "maybe")]
    records, ctx = parse_ctx(write(tmp_path, evaluation(rows, when=None)))
    (f,) = findings(records)
    assert (f.weakness.severity, f.observed_at) == (Severity.MEDIUM, dt.datetime(2026, 1, 5, 10, 0))  # created_at
    assert coverage(records) == [] and ctx.report.skipped == 2
    where = "evaluation 1 of registry.example/team/app:1.2"
    assert ctx.report.warnings == [
        f"{where}, row 1: not a list; left out",
        f"{where}, row 2: no Gate or Trigger_Id; left out",
        f"{where}, row 3 (dockerfile/instruction): severity 'maybe' not recognised; rated Moderate",
        "asset registry.example/team/app: a record could not be read; no coverage, so this file closes nothing on it",
    ]


def test_a_policy_finding_is_closed_by_a_later_evaluation_and_its_cve_by_a_vulnerability_report(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(AnchoreEnterpriseParser())
    health = row("41cb", "dockerfile", "instruction", "Dockerfile directive 'HEALTHCHECK' not found")
    cve = cve_row("CVE-2015-0899", "struts-core-1.3.8.jar")
    jan = import_file(engine, write(tmp_path, evaluation([health, cve]), "jan.json"))
    assert (jan.format, jan.tool, jan.assets_covered, jan.items_opened) == (
        "anchore-enterprise",
        "Anchore Enterprise",
        1,
        2,
    )
    feb = import_file(engine, write(tmp_path, evaluation([], when="2026-02-05T10:00:00Z"), "feb.json"))
    assert (feb.fixed_findings, feb.items_closed) == (1, 1)  # the gate finding; the CVE stays open
    report = vulns_report([vuln("CVE-1", "openssl")])
    report["vulnerabilities"][0]["package_type"] = "java"
    mar = import_file(engine, write(tmp_path, report, "mar.json"), scan_date=dt.datetime(2026, 3, 5))
    assert (mar.fixed_findings, mar.items_closed, mar.items_opened) == (1, 1, 1)  # the report lists every vulnerability
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert {k: i.status for k, i in items.items()} == {
        "dockerfile/instruction": ItemStatus.CLOSED,
        "CVE-2015-0899": ItemStatus.CLOSED,
        "CVE-1": ItemStatus.OPEN,
    }


# --- the real files of the corpus ------------------------------------------------------------------

# Counted by hand: findings (vulnerability and package, or gate and trigger id), the image, coverage.
EXPECTED = {
    # 23 records; VULNDB-103881 on jersey at three paths is one finding
    "defectdojo__anchore_engine__many_vulns.json": (21, "unnamed", None),
    "defectdojo__anchore_engine__many_vulns_2.4.1.json": (
        51,
        "registry1.dsop.io/ironbank-staging/cloudbees/core/agent",
        Checks.VULNERABILITY,
    ),
    "defectdojo__anchore_engine__no_vuln.json": (0, None, None),
    # 57 rows: 56 vulnerability rows of which 12 repeat a CVE and package at a second path, 1 Dockerfile rule
    "defectdojo__anchore_enterprise__many_checks.json": (45, "gcr.io/jenkinsxio/builder-maven", Checks.CONFIGURATION),
    "defectdojo__anchore_enterprise__no_checks.json": (0, "gcr.io/jenkinsxio/builder-maven", Checks.CONFIGURATION),
    "defectdojo__anchorectl_vulns__many_vulns.json": (21, "unnamed", None),
}


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("anchore_enterprise").iterdir())


def _independent(doc: Any) -> set[tuple[str, str]]:
    """The identities of a file, read with a plain loop over its documented structure."""
    if isinstance(doc, dict):
        return {(v["vuln"], v["package_name"]) for v in doc["vulnerabilities"]}
    if "vuln" in doc[0]:
        return {(v["vuln"], v["packageName"]) for v in doc}
    out = set()
    for tags in doc[0].values():
        for evaluations in tags.values():
            for ev in evaluations:
                result = ev["detail"]["result"]
                for r in result["result"][result["image_id"]]["result"]["rows"]:
                    if r[3] == "vulnerabilities":
                        vid, spec = r[2].split("+", 1)
                        out.add((vid, policy_package(spec, "non-os" in r[5])))
                    else:
                        out.add((f"{r[3]}/{r[4]}", r[2]))
    return out


@pytest.mark.corpus
def test_every_corpus_file_gives_the_counted_findings() -> None:
    files = corpus_files()
    assert {p.name for p in files} == set(EXPECTED)
    for path in files:
        count, asset, checks = EXPECTED[path.name]
        records = parse(path)
        got = findings(records)
        assert len(got) == count, path.name
        assert {(f.weakness.vuln_id, f.path) for f in got} == _independent(json.loads(path.read_text())), path.name
        assert {f.asset.name for f in got} <= {asset}, path.name
        assert [(c.asset.name, c.checks) for c in coverage(records)] == ([(asset, checks)] if checks else []), path.name


@pytest.mark.corpus
def test_corpus_values() -> None:
    folder = corpus_dir("anchore_enterprise")
    many = findings(parse(folder / "defectdojo__anchore_engine__many_vulns.json"))
    severities: dict[Severity, int] = {}
    for f in many:
        severities[f.weakness.severity] = severities.get(f.weakness.severity, 0) + 1
    # DefectDojo: 23 findings, Negligible and Unknown as Info; here Negligible is informational (4),
    # Unknown is rated Low (CVE-2019-5953 has no score), and the three jersey records are one finding
    assert severities == {Severity.INFO: 4, Severity.LOW: 2, Severity.MEDIUM: 9, Severity.HIGH: 5, Severity.CRITICAL: 1}
    new = {
        (f.weakness.vuln_id, f.path): f
        for f in findings(parse(folder / "defectdojo__anchore_engine__many_vulns_2.4.1.json"))
    }
    brotli = new[("CVE-2020-8927", "brotli")]
    assert (brotli.weakness.cvss3_score, brotli.weakness.cvss3_vector, brotli.weakness.cvss2_score) == (
        6.5,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:L",
        6.4,
    )
    assert "inherited from the base image" in (brotli.evidence or "")
    checks = parse(folder / "defectdojo__anchore_enterprise__many_checks.json")
    assert {f.observed_at for f in findings(checks)} == {dt.datetime(2020, 3, 6, 13, 40, 10)}
    configuration = [f for f in findings(checks) if f.weakness.is_config]
    assert [(f.weakness.vuln_id, f.weakness.severity) for f in configuration] == [
        ("dockerfile/instruction", Severity.MEDIUM)
    ]


def test_sniff_claims_exactly_the_anchore_folder() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if AnchoreEnterpriseParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(corpus_files())


@pytest.mark.corpus
def test_mutated_corpus_files_give_input_errors_or_records() -> None:
    only_input_errors(AnchoreEnterpriseParser(), "anchore_enterprise")


# --- end to end --------------------------------------------------------------------------------------


def test_a_later_report_closes_what_is_gone_and_a_return_opens_a_new_item(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(AnchoreEnterpriseParser())

    def month(day: int, vulns: list[Any], tag: str = "registry.example/team/app:1.2") -> Any:
        path = write(tmp_path, vulns_report(vulns, tag), f"{day}-{tag.replace('/', '_')}.json")
        return import_file(engine, path, scan_date=dt.datetime(2026, day, 5))

    jan = month(1, [vuln("CVE-1", "openssl"), vuln("CVE-2", "zlib", "Critical")])
    assert (jan.assets_covered, jan.items_opened, jan.date_source) == (1, 2, "option")
    other = month(2, [], tag="registry.example/team/api:7")  # another image closes nothing here
    assert (other.assets_covered, other.fixed_findings) == (1, 0)
    feb = month(3, [vuln("CVE-2", "zlib", "Critical")])
    assert (feb.fixed_findings, feb.items_closed) == (1, 1)
    mar = month(4, [vuln("CVE-1", "openssl"), vuln("CVE-2", "zlib", "Critical")])
    assert (mar.new_findings, mar.items_opened) == (1, 1)
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, None, "t").id, "all")
    cve1 = sorted((i for i in found if i.source_identifier == "CVE-1"), key=lambda i: i.poam_id)
    assert [i.status for i in cve1] == [ItemStatus.CLOSED, ItemStatus.OPEN] and cve1[1].previous_poam_id == cve1[
        0
    ].poam_id
    assert [a.text for a in next(i for i in found if i.source_identifier == "CVE-2").assets] == [
        "registry.example/team/app (zlib)"
    ]


@pytest.mark.corpus
def test_corpus_files_import(engine: Engine, register_parser: Any) -> None:
    register_parser(AnchoreEnterpriseParser())
    folder = corpus_dir("anchore_enterprise")
    r = import_file(engine, folder / "defectdojo__anchore_enterprise__many_checks.json")
    assert (r.format, r.assets_covered, r.results, r.date_source) == ("anchore-enterprise", 1, 45, "file")
    r = import_file(engine, folder / "defectdojo__anchorectl_vulns__many_vulns.json", asset="registry.example/app")
    assert (r.assets_covered, r.results, r.informational) == (1, 21, 4)
