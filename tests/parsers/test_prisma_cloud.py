"""The Prisma Cloud Compute (Twistlock) parsers: twistcli JSON and the Console's CSV export, on
hand-written files and on the real files of the corpus."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.prisma_cloud import PrismaCloudCsvParser, PrismaCloudParser, package_of
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_trivy import only_input_errors

FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
JAN = "2026-01-05T10:00:00Z"
FALLBACK = "; a fallback identity, so this file gives its asset no coverage"
HEADER = (
    "Registry,Repository,Tag,Id,Distro,Hosts,Layer,CVE ID,Compliance ID,Type,Severity,Packages,Source Package,"
    "Package Version,Package License,CVSS,Fix Status,Risk Factors,Vulnerability Tags,Description,Cause,Containers,"
    "Custom Labels,Published,Discovered,Binaries,Clusters"
)


def write(tmp_path: Path, doc: Any, name: str = "twistcli.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def parse_ctx(path: Path, parser: Any = None, **ctx: Any) -> tuple[list[Any], ParseContext]:
    """The records and the context (its warnings and date source) of a file."""
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list((parser or PrismaCloudParser()).parse(f, context)), context


def parse(path: Path, **ctx: Any) -> list[Any]:
    return parse_ctx(path, **ctx)[0]


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def vuln(vid: str, pkg: str, severity: str | None = "high", version: str = "1.0", **extra: Any) -> dict[str, Any]:
    v = {"id": vid, "packageName": pkg, "packageVersion": version, "link": f"https://nvd.example/{vid}", **extra}
    if severity is not None:
        v["severity"] = severity
    return v


def result(
    vulns: list[Any], name: str | None = "ghcr.io/acme/web:1.2", when: str | None = JAN, **extra: Any
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "id": "sha256:" + "ab" * 32,
        "distro": "Debian GNU/Linux 12 (bookworm)",
        "vulnerabilities": vulns,
        "vulnerabilityDistribution": {"critical": 0, "high": 0, "medium": 0, "low": 0, "total": len(vulns)},
        "complianceDistribution": {"critical": 0, "high": 0, "medium": 0, "low": 0, "total": 0},
        **extra,
    }
    if name is not None:
        r["name"] = name
    if when is not None:
        r["scanTime"] = when
    return r


def report(*results: dict[str, Any]) -> dict[str, Any]:
    return {"results": list(results), "consoleURL": "https://console.example"}


def test_fields_of_a_vulnerability_and_a_compliance_check(tmp_path: Path) -> None:
    v = vuln(
        "CVE-2025-1390",
        "libcap2 (used in libcap2, libcap2-bin)",
        "critical",
        "1:2.66-4",
        cvss=9.8,
        vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        status="fixed in 1:2.66-4+deb12u1",
        description="<p>Privilege escalation</p>",
        riskFactors=["Has fix", "Attack vector: network"],
        discoveredDate="2025-12-01T09:00:00Z",
        packagePath="/usr/lib/libcap.so.2",
    )
    check = {
        "id": 41,
        "title": "(CIS_Docker_v1.5.0 - 4.1) Image should be created with a non-root user",
        "severity": "high",
        "cause": "The image runs as root",
        "category": "Docker",
        "description": "Create a user for the container.",
    }
    records = parse(write(tmp_path, report(result([v], compliances=[check]))))
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name, cov.checks, cov.started_at) == (
        AssetKind.CONTAINER_IMAGE,
        "ghcr.io/acme/web",
        Checks.ALL,
        dt.datetime(2026, 1, 5, 10, 0),
    )
    got = {f.weakness.vuln_id: f for f in findings(records)}
    f = got["CVE-2025-1390"]
    w = f.weakness
    assert (w.tool, w.name, w.severity, w.cves, w.is_config) == (
        "Prisma Cloud Compute",
        "CVE-2025-1390",
        Severity.CRITICAL,
        ("CVE-2025-1390",),
        False,
    )
    assert (w.cvss3_score, w.cvss3_vector, w.description) == (
        9.8,
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "Privilege escalation",
    )
    assert w.solution == "Upgrade libcap2 to 1:2.66-4+deb12u1" and w.see_also == "https://nvd.example/CVE-2025-1390"
    assert f.path == "libcap2" and f.status is FindingStatus.OPEN
    assert f.evidence == (
        "libcap2 (used in libcap2, libcap2-bin) 1:2.66-4; fixed in 1:2.66-4+deb12u1; at /usr/lib/libcap.so.2; "
        "risk factors: Has fix, Attack vector: network"
    )
    assert (f.observed_at, f.since) == (dt.datetime(2026, 1, 5, 10, 0), dt.datetime(2025, 12, 1, 9, 0))
    c = got["41"]
    assert (c.weakness.is_config, c.weakness.severity, c.weakness.family, c.path, c.evidence) == (
        True,
        Severity.HIGH,
        "Docker",
        None,
        "The image runs as root",
    )
    assert c.weakness.name.startswith("(CIS_Docker_v1.5.0 - 4.1)")
    assert records[-1] == Scan(
        "Prisma Cloud Compute",
        None,
        "ghcr.io/acme/web:1.2",
        dt.datetime(2026, 1, 5, 10, 0),
        dt.datetime(2026, 1, 5, 10, 0),
    )


@pytest.mark.parametrize(
    ("word", "score", "expected"),
    [
        ("critical", None, Severity.CRITICAL),
        ("high", None, Severity.HIGH),
        ("important", None, Severity.HIGH),
        ("medium", None, Severity.MEDIUM),
        ("moderate", None, Severity.MEDIUM),
        ("low", 7.5, Severity.LOW),  # the word wins over the score
        ("unimportant", None, Severity.INFO),
        ("negligible", 5.3, Severity.MEDIUM),  # no rating from the distribution, but a score: its band
        ("unknown", 9.1, Severity.CRITICAL),
        ("unknown", None, Severity.LOW),
        (None, None, Severity.LOW),
    ],
)
def test_severity_words(tmp_path: Path, word: str | None, score: float | None, expected: Severity) -> None:
    extra = {"cvss": score} if score is not None else {}
    records, ctx = parse_ctx(write(tmp_path, report(result([vuln("CVE-1", "a", word, **extra)]))))
    assert findings(records)[0].weakness.severity is expected and ctx.report.warnings == []


def test_a_v2_vector_is_kept_as_v2_and_a_package_at_two_paths_is_one_finding(tmp_path: Path) -> None:
    one = vuln(
        "CVE-1",
        "org.apache.cxf_cxf-core",
        packagePath="/opt/a/cxf-core-3.5.11.jar",
        cvss=7.5,
        vector="AV:N/AC:L/Au:N/C:P/I:P/A:P",
    )
    two = vuln(
        "CVE-1",
        "org.apache.cxf_cxf-core",
        packagePath="/opt/b/cxf-core-3.5.11.jar",
        cvss=7.5,
        vector="AV:N/AC:L/Au:N/C:P/I:P/A:P",
    )
    (f,) = findings(parse(write(tmp_path, report(result([one, two])))))
    assert (f.weakness.cvss2_score, f.weakness.cvss2_vector, f.weakness.cvss3_score) == (
        7.5,
        "AV:N/AC:L/Au:N/C:P/I:P/A:P",
        None,
    )
    assert "/opt/a/cxf-core-3.5.11.jar" in (f.evidence or "") and "/opt/b/cxf-core-3.5.11.jar" in (f.evidence or "")
    assert package_of("bind9 (used in libdns162, bind9-host)") == "bind9" and package_of("openssl") == "openssl"


def test_a_status_that_sets_aside_is_set_aside_and_other_statuses_are_open(tmp_path: Path) -> None:
    vulns = [
        vuln("CVE-1", "a", status="open"),
        vuln("CVE-2", "b", status="will not fix"),
        vuln("CVE-3", "c", status="ignored"),
        vuln("CVE-4", "d", status="fixed in 2.0"),
    ]
    records, ctx = parse_ctx(write(tmp_path, report(result(vulns))))
    got = {f.weakness.vuln_id: f.status for f in findings(records)}
    assert got == {
        "CVE-1": FindingStatus.OPEN,
        "CVE-2": FindingStatus.OPEN,
        "CVE-3": FindingStatus.SET_ASIDE,
        "CVE-4": FindingStatus.OPEN,
    }
    assert ctx.report.warnings == [
        "result 1 (ghcr.io/acme/web:1.2), vulnerability 3 (CVE-3): status 'ignored' sets it aside; read as set aside"
    ]
    assert len(coverage(records)) == 1  # a set-aside record is not a gap


def test_an_unnamed_image_takes_the_asset_option_else_covers_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, report(result([vuln("CVE-1", "a")], name=None)))
    records = parse(path)
    assert coverage(records) == [] and findings(records)[0].asset.name == "unnamed"
    named = parse(path, asset_name="registry.example/team/app")
    assert [c.asset.name for c in coverage(named)] == ["registry.example/team/app"]
    assert named[-1].name == "sha256:" + "ab" * 32


def test_dates_from_the_scan_time_else_the_file_time(tmp_path: Path) -> None:
    records, ctx = parse_ctx(write(tmp_path, report(result([vuln("CVE-1", "a")], when=None))))
    assert findings(records)[0].observed_at == FILE_TIME and ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path, report(result([vuln("CVE-1", "a")], when="later"))))
    assert findings(records)[0].observed_at == FILE_TIME
    assert ctx.report.warnings == [
        "result 1 (ghcr.io/acme/web:1.2): scanTime 'later' is not a date; dated by --scan-date, else the file's "
        "modification time"
    ]
    # nothing named and nothing found: nothing to date
    records, ctx = parse_ctx(write(tmp_path, report(result([], name=None, when=None))))
    assert findings(records) == [] and coverage(records) == [] and not ctx.report.used_file_time


def test_odd_records_are_warned_or_left_out_and_withhold_coverage(tmp_path: Path) -> None:
    vulns = [vuln("CVE-1", "a", "severe"), "junk", {"packageName": "b"}, {"id": "CVE-4", "severity": "low"}]
    checks = [{"title": "Secrets in environment variables", "severity": "high"}, {"severity": "low"}, {"id": 7}]
    records, ctx = parse_ctx(write(tmp_path, report(result(vulns, compliances=checks))))
    got = {(f.weakness.vuln_id, f.path): f for f in findings(records)}
    assert set(got) == {
        ("CVE-1", "a"),
        ("CVE-4", "(unknown package)"),
        ("Secrets in environment variables", None),
        ("7", None),
    }
    assert got[("CVE-1", "a")].weakness.severity is Severity.MEDIUM
    assert got[("7", None)].weakness.severity is Severity.MEDIUM
    assert coverage(records) == [] and ctx.report.skipped == 3
    r = "result 1 (ghcr.io/acme/web:1.2)"
    assert ctx.report.warnings == [
        f"{r}, vulnerability 1 (CVE-1): severity 'severe' not recognised; rated Moderate",
        f"{r}, vulnerability 2: not an object; left out",
        f"{r}, vulnerability 3: no vulnerability id; left out",
        f"{r}, vulnerability 4 (CVE-4): no packageName; package '(unknown package)'{FALLBACK}",
        f"{r}, compliance 1: a compliance check without id; keyed by its title{FALLBACK}",
        f"{r}, compliance 2: a compliance check without id or title; left out",
        f"{r}, compliance 3 (7): severity missing not recognised; rated Moderate",
        "asset ghcr.io/acme/web: a record could not be read; no coverage, so this file closes nothing on it",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"results": {}}', "results is a dict, not a list"),
        ('{"consoleURL": "x"}', "not a twistcli scan result"),
        ('{"results": [{"vulnerabilities": {}}]}', "vulnerabilities is a dict, not a list"),
        ('{"results": [{"compliances": "x"}]}', "compliances is a str, not a list"),
        ('{"results": []}\n[]', "document 2 is not a twistcli scan result"),
        ('{"results": [', "JSON"),
    ],
)
def test_broken_structure_is_an_input_error(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, content))


def test_several_documents_in_one_file_are_one_import(tmp_path: Path) -> None:
    web = report(result([vuln("CVE-1", "a")]))
    api = report(result([vuln("CVE-1", "a", "critical")], name="ghcr.io/acme/api:3", when="2026-01-07T09:00:00Z"))
    path = write(tmp_path, json.dumps(web) + "\n" + json.dumps(api) + "\n")
    with path.open("rb") as f:
        assert PrismaCloudParser().sniff(read_head(f))
    records = parse(path)
    assert [(c.asset.name, c.started_at) for c in coverage(records)] == [
        ("ghcr.io/acme/web", dt.datetime(2026, 1, 5, 10, 0)),
        ("ghcr.io/acme/api", dt.datetime(2026, 1, 7, 9, 0)),
    ]
    assert {f.weakness.severity for f in findings(records)} == {Severity.CRITICAL}  # one weakness, worst severity
    assert records[-1].name == "2 images"


# --- the Console's CSV export -----------------------------------------------------------------------


def csv_file(tmp_path: Path, rows: list[dict[str, str]], header: str = HEADER, name: str = "prisma.csv") -> Path:
    out = io.StringIO()
    columns = header.split(",")
    writer = csv.DictWriter(out, columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    path = tmp_path / name
    path.write_text(out.getvalue())
    return path


def image_row(cve: str, pkg: str, **extra: str) -> dict[str, str]:
    return {
        "Registry": "registry.example",
        "Repository": "team/app",
        "Tag": "1.0",
        "Id": "sha256:" + "cd" * 32,
        "CVE ID": cve,
        "Compliance ID": "46",
        "Type": "OS",
        "Severity": "high",
        "Packages": pkg,
        "Package Version": "1.0",
        "CVSS": "7.50",
        "Description": f"About {cve}",
        "Discovered": "2026-01-02 07:55:04.733",
        **extra,
    }


def test_csv_rows_of_images_and_hosts(tmp_path: Path) -> None:
    rows = [
        image_row(
            "CVE-1",
            "libssl1.1,libcrypto1.1,openssl",
            **{"Source Package": "openssl", "Fix Status": "fixed in 1.1.1i-r0"},
        ),
        image_row("CVE-1", "libssl1.1,libcrypto1.1,openssl", Tag="1.1", **{"Source Package": "openssl"}),
        image_row("CVE-2", "libxml2", Severity="important"),
        image_row(
            "",
            "",
            **{
                "Compliance ID": "41",
                "Type": "image",
                "Severity": "high",
                "Description": "(CIS_Docker_v1.5.0 - 4.1) Image should be created with a non-root user",
                "Cause": "The image runs as root",
            },
        ),
    ]
    path = csv_file(tmp_path, rows)
    with path.open("rb") as f:
        assert PrismaCloudCsvParser().sniff(read_head(f)) and not PrismaCloudParser().sniff(read_head(f))
    records, ctx = parse_ctx(path, PrismaCloudCsvParser())
    assert coverage(records) == [] and ctx.report.warnings == [] and ctx.report.used_file_time
    got = {(f.weakness.vuln_id, f.path): f for f in findings(records)}
    assert set(got) == {("CVE-1", "openssl"), ("CVE-2", "libxml2"), ("41", None)}
    openssl = got[("CVE-1", "openssl")]
    assert openssl.asset.name == "registry.example/team/app" and openssl.observed_at == FILE_TIME
    assert openssl.since == dt.datetime(2026, 1, 2, 7, 55, 4, 733000)
    assert "tag 1.0" in (openssl.evidence or "") and "tag 1.1" in (openssl.evidence or "")  # two tags, one image
    assert (openssl.weakness.solution, openssl.weakness.cvss3_score) == ("Upgrade openssl to 1.1.1i-r0", 7.5)
    assert got[("CVE-2", "libxml2")].weakness.severity is Severity.HIGH
    check = got[("41", None)]
    assert (check.weakness.is_config, check.weakness.name, check.evidence) == (
        True,
        "(CIS_Docker_v1.5.0 - 4.1) Image should be created with a non-root user",
        "The image runs as root",
    )
    hosts = (
        "Hostname,Distro,CVE ID,Compliance ID,Type,Severity,Packages,Source Package,Package Version,CVSS,Fix Status,"
        "Description,Discovered"
    )
    path = csv_file(
        tmp_path,
        [
            {
                "Hostname": "node1.example.com",
                "CVE ID": "CVE-3",
                "Severity": "medium",
                "Packages": "sudo",
                "Package Version": "1.9",
            }
        ],
        hosts,
        "hosts.csv",
    )
    (f,) = findings(parse(path, parser=PrismaCloudCsvParser()))
    assert (f.asset.kind, f.asset.fqdn, f.path, f.weakness.severity) == (
        AssetKind.HOST,
        "node1.example.com",
        "sudo",
        Severity.MEDIUM,
    )


def test_csv_odd_rows_are_warned_or_left_out(tmp_path: Path) -> None:
    rows = [
        image_row("CVE-1", "zlib", Severity="severe"),
        image_row("CVE-2", "tar", Registry="", Repository=""),
        image_row("", "", **{"Compliance ID": ""}),
        image_row("CVE-3", ""),
    ]
    records, ctx = parse_ctx(csv_file(tmp_path, rows), PrismaCloudCsvParser())
    assert {(f.weakness.vuln_id, f.path) for f in findings(records)} == {
        ("CVE-1", "zlib"),
        ("CVE-3", "(unknown package)"),
    }
    assert ctx.report.warnings == [
        "row 2 (CVE-1): severity 'severe' not recognised; rated high by its CVSS score",
        "row 3: no Repository or Hostname names its image or host (give --asset); left out",
        "row 4: neither CVE ID nor Compliance ID; left out",
        "row 5 (CVE-3): no Source Package or Packages; package '(unknown package)'",
    ]
    named = parse(csv_file(tmp_path, rows[1:2], name="one.csv"), parser=PrismaCloudCsvParser(), asset_name="team/other")
    assert [f.asset.name for f in findings(named)] == ["team/other"]


# --- the real files of the corpus ---------------------------------------------------------------

# Counted by hand: vulnerabilities (id, package without its "(used in ...)" list) and compliance checks.
EXPECTED = {
    "defectdojo__twistlock__findings_include_packages.json": (
        {
            ("CVE-2013-7459", "pycrypto"),
            ("CVE-2018-6485", "glibc"),
            ("CVE-2018-1000001", "glibc"),
            ("CVE-2018-9234", "gnupg2"),
            ("912", None),
            ("914", None),
        },
        None,
    ),
    "defectdojo__twistlock__many_vulns.json": (
        {
            ("CVE-2013-7459", "pycrypto"),
            ("CVE-2018-6485", "glibc"),
            ("CVE-2018-1000001", "glibc"),
            ("CVE-2018-9234", "gnupg2"),
            ("CVE-2019-6465", "bind9"),
            ("Sensitive information provided in environment variables", None),
        },
        None,
    ),
    "defectdojo__twistlock__no_cvss.json": (
        {("CVE-2025-6297", "dpkg"), ("CVE-2025-1390", "libcap2"), ("404", None)},
        "library/somename",
    ),
    "defectdojo__twistlock__no_vuln.json": (set(), None),
    "defectdojo__twistlock__packagename.json": (
        {("CVE-2025-48913", "org.apache.cxf_cxf-core")},
        "library/some-docker-image",
    ),
    "defectdojo__twistlock__scan_report_prisma_twistlock_images_four_vulns.csv": (
        {
            ("CVE-2020-24977", "libxml2"),
            ("CVE-2019-20388", "libxml2"),
            ("CVE-2020-28241", "libmaxminddb"),
            ("CVE-2020-1971", "openssl"),
        },
        None,
    ),
    "defectdojo__twistlock__scan_report_prisma_twistlock_images_no_vuln.csv": (set(), None),
}


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("prisma_cloud").iterdir())


def parser_for(path: Path) -> Any:
    return PrismaCloudCsvParser() if path.suffix == ".csv" else PrismaCloudParser()


@pytest.mark.corpus
def test_every_corpus_file_gives_the_counted_findings() -> None:
    files = corpus_files()
    assert {p.name for p in files} == set(EXPECTED)
    for path in files:
        expected, covered = EXPECTED[path.name]
        records, _ctx = parse_ctx(path, parser_for(path))
        got = findings(records)
        assert {(f.weakness.vuln_id, f.path) for f in got} == expected, path.name
        assert len(got) == len(expected), path.name
        assert [c.asset.name for c in coverage(records)] == ([covered] if covered else []), path.name
        if path.suffix == ".json":  # an independent count: the lists of the file
            results = json.loads(path.read_text())["results"]
            listed = sum(len(r.get("vulnerabilities") or []) + len(r.get("compliances") or []) for r in results)
            assert listed == len(expected), path.name


@pytest.mark.corpus
def test_corpus_values() -> None:
    folder = corpus_dir("prisma_cloud")
    got = {f.weakness.vuln_id: f for f in findings(parse(folder / "defectdojo__twistlock__packagename.json"))}
    f = got["CVE-2025-48913"]
    assert (f.weakness.severity, f.weakness.cvss3_score, f.observed_at, f.since) == (
        Severity.CRITICAL,
        9.8,
        dt.datetime(2026, 3, 18, 10, 58, 13, 491866),
        dt.datetime(2026, 3, 18, 10, 58, 10),
    )
    assert f.weakness.solution == "Upgrade org.apache.cxf_cxf-core to 4.1.3, 4.0.9, 3.6.8"
    many = {f.weakness.vuln_id: f for f in findings(parse(folder / "defectdojo__twistlock__many_vulns.json"))}
    assert many["CVE-2018-9234"].weakness.severity is Severity.LOW  # Prisma's word, not the 7.5 score
    assert many["CVE-2019-6465"].weakness.description is None  # a cut HTML fragment: no text
    rows = {
        f.weakness.vuln_id: f
        for f in findings(
            parse(
                folder / "defectdojo__twistlock__scan_report_prisma_twistlock_images_four_vulns.csv",
                parser=PrismaCloudCsvParser(),
            )
        )
    }
    assert rows["CVE-2020-1971"].asset.name == (
        "111111111111.dkr.ecr.eu-central-1.amazonaws.com/mirror/quay.io/kubernetes-ingress-controller/nginx-ingress-controller"
    )
    assert (rows["CVE-2020-1971"].weakness.solution, rows["CVE-2019-20388"].weakness.severity) == (
        "Upgrade openssl to 1.1.1i-r0",
        Severity.HIGH,
    )


def test_sniff_claims_exactly_the_prisma_cloud_folder() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    claimed: dict[str, set[Path]] = {"json": set(), "csv": set()}
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            head = read_head(f)
            if PrismaCloudParser().sniff(head):
                claimed["json"].add(path)
            if PrismaCloudCsvParser().sniff(head):
                claimed["csv"].add(path)
    files = corpus_files()
    assert claimed["json"] == {p for p in files if p.suffix == ".json"}
    assert claimed["csv"] == {p for p in files if p.suffix == ".csv"}


@pytest.mark.corpus
def test_mutated_corpus_files_give_input_errors_or_records() -> None:
    only_input_errors(PrismaCloudParser(), "prisma_cloud")


# --- end to end ----------------------------------------------------------------------------------


def items_by_id(engine: Engine) -> dict[str, list[Any]]:
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, None, "t").id, "all")
    out: dict[str, list[Any]] = {}
    for i in found:
        out.setdefault(i.source_identifier, []).append(i)
    return out


def test_a_later_scan_closes_what_is_gone_and_a_return_opens_a_new_item(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(PrismaCloudParser(), PrismaCloudCsvParser())
    check = {"id": 404, "title": "Add HEALTHCHECK", "severity": "medium"}

    def month(day: str, vulns: list[Any], name: str = "ghcr.io/acme/web:1.2", checks: list[Any] | None = None) -> Path:
        doc = report(result(vulns, name=name, when=f"{day}T10:00:00Z", compliances=checks or []))
        return write(tmp_path, doc, f"{day}-{name.replace('/', '_')}.json")

    jan = import_file(engine, month("2026-01-05", [vuln("CVE-1", "openssl"), vuln("CVE-2", "zlib")], checks=[check]))
    assert (jan.format, jan.tool, jan.assets_covered, jan.items_opened) == (
        "prisma-cloud",
        "Prisma Cloud Compute",
        1,
        3,
    )
    other = import_file(
        engine, month("2026-01-20", [], name="ghcr.io/acme/api:7")
    )  # another image: closes nothing here
    assert (other.assets_covered, other.fixed_findings, other.items_closed) == (1, 0, 0)
    feb = import_file(engine, month("2026-02-05", [vuln("CVE-2", "zlib")]))
    assert (feb.fixed_findings, feb.items_closed) == (2, 2)  # CVE-1 and the compliance check are gone
    items = items_by_id(engine)
    assert [i.status for i in items["CVE-1"]] == [ItemStatus.CLOSED] and items["404"][0].status is ItemStatus.CLOSED
    assert [a.text for a in items["CVE-2"][0].assets] == ["ghcr.io/acme/web (zlib)"]
    mar = import_file(engine, month("2026-03-05", [vuln("CVE-1", "openssl"), vuln("CVE-2", "zlib")]))
    assert (mar.new_findings, mar.items_opened) == (1, 1)  # back after its item closed: a new item refers to it
    cve1 = sorted(items_by_id(engine)["CVE-1"], key=lambda i: i.poam_id)
    assert [i.status for i in cve1] == [ItemStatus.CLOSED, ItemStatus.OPEN]
    assert cve1[1].previous_poam_id == cve1[0].poam_id
    # the Console's CSV export is filtered: it adds what it lists and closes nothing
    export = csv_file(tmp_path, [image_row("CVE-9", "curl", Registry="ghcr.io", Repository="acme/web")])
    r = import_file(engine, export, scan_date=dt.datetime(2026, 3, 10))
    assert (r.format, r.assets_covered, r.items_opened, r.fixed_findings) == ("prisma-cloud-csv", 0, 1, 0)
    assert {i.status for i in items_by_id(engine)["CVE-2"]} == {ItemStatus.OPEN}


@pytest.mark.corpus
def test_corpus_files_import(engine: Engine, register_parser: Any) -> None:
    register_parser(PrismaCloudParser(), PrismaCloudCsvParser())
    folder = corpus_dir("prisma_cloud")
    r = import_file(engine, folder / "defectdojo__twistlock__no_cvss.json")
    assert (r.format, r.assets_covered, r.results, r.items_opened, r.date_source) == ("prisma-cloud", 1, 3, 3, "file")
    r = import_file(engine, folder / "defectdojo__twistlock__scan_report_prisma_twistlock_images_no_vuln.csv")
    assert (r.format, r.results, r.assets_covered) == ("prisma-cloud-csv", 0, 0)
