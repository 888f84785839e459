"""The Trivy JSON parser on hand-written reports and on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.registry import read_head
from poam.parsers.sca import image_repository
from poam.parsers.trivy import TrivyParser
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

WHEN = "2026-01-05T10:00:00Z"
FILE_TIME = dt.datetime(2026, 2, 1, 8, 30)
FALLBACK = "; a fallback identity, so this file gives its asset no coverage"


def write(tmp_path: Path, doc: Any, name: str = "trivy.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def parse(path: Path, asset: str | None = None) -> list[Any]:
    with path.open("rb") as f:
        return list(TrivyParser().parse(f, ParseContext(str(path), asset_name=asset)))


def parse_ctx(path: Path, **ctx: Any) -> tuple[list[Any], ParseContext]:
    """The records and the context (its warnings and date source) of a file."""
    context = ParseContext(str(path), file_time=FILE_TIME, **ctx)
    with path.open("rb") as f:
        return list(TrivyParser().parse(f, context)), context


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def coverage(records: list[Any]) -> list[Coverage]:
    return [r for r in records if isinstance(r, Coverage)]


def vuln(vid: str, pkg: str, installed: str = "1.0", **extra: Any) -> dict[str, Any]:
    return {"VulnerabilityID": vid, "PkgName": pkg, "InstalledVersion": installed, "Severity": "HIGH", **extra}


def image_report(results: list[Any], name: str = "ghcr.io/acme/web:1.2", **extra: Any) -> dict[str, Any]:
    return {
        "SchemaVersion": 2,
        "CreatedAt": WHEN,
        "ArtifactName": name,
        "ArtifactType": "container_image",
        "Results": results,
        **extra,
    }


OS = {"Target": "ghcr.io/acme/web:1.2 (debian 12.1)", "Class": "os-pkgs", "Type": "debian"}


def test_image_vulnerabilities_package_paths_without_versions(tmp_path: Path) -> None:
    cvss = {
        "nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": 9.8, "V2Score": 7.5},
        "redhat": {"V3Score": 5.0},
    }
    report = image_report(
        [
            {
                **OS,
                "Vulnerabilities": [
                    vuln(
                        "CVE-2024-0001",
                        "openssl",
                        "3.0.1",
                        FixedVersion="3.0.2",
                        CVSS=cvss,
                        CweIDs=["CWE-79"],
                        Title="Bad TLS",
                        Status="fixed",
                    )
                ],
            },
            {
                "Target": "app/libs/commons-compress-1.14.jar",
                "Class": "lang-pkgs",
                "Type": "jar",
                "Vulnerabilities": [vuln("CVE-2024-0002", "org.apache.commons:commons-compress", "1.14")],
            },
            {
                "Target": "srv/requirements.txt",
                "Class": "lang-pkgs",
                "Type": "pip",
                "Vulnerabilities": [vuln("GHSA-aaaa-bbbb-cccc", "urllib3", "1.26.3", VendorIDs=["CVE-2024-0003"])],
            },
        ],
        Trivy={"Version": "0.50.1"},
    )
    records = parse(write(tmp_path, report))
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name, cov.checks) == (
        AssetKind.CONTAINER_IMAGE,
        "ghcr.io/acme/web",
        Checks.VULNERABILITY,
    )
    assert cov.started_at == dt.datetime(2026, 1, 5, 10, 0)
    by_id = {f.weakness.vuln_id: f for f in findings(records)}
    tls = by_id["CVE-2024-0001"]
    assert tls.path == "openssl" and tls.location == "openssl"
    assert "3.0.1" in (tls.evidence or "") and "fixed in 3.0.2" in (tls.evidence or "")
    w = tls.weakness
    assert (w.tool, w.name, w.severity, w.cvss3_score, w.cvss2_score) == ("Trivy", "Bad TLS", Severity.HIGH, 9.8, 7.5)
    assert w.cves == ("CVE-2024-0001",) and w.cwes == ("79",) and w.solution == "Upgrade openssl to 3.0.2"
    assert by_id["CVE-2024-0002"].path == "app/libs: org.apache.commons:commons-compress"  # the jar's version cut off
    assert by_id["GHSA-aaaa-bbbb-cccc"].path == "srv/requirements.txt: urllib3"
    assert by_id["GHSA-aaaa-bbbb-cccc"].weakness.cves == ("CVE-2024-0003",)
    assert all(f.observed_at == dt.datetime(2026, 1, 5, 10, 0) for f in by_id.values())
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.tool_version) == ("Trivy", "0.50.1")


def test_repeated_package_entries_are_one_finding_and_not_affected_is_fixed(tmp_path: Path) -> None:
    report = image_report(
        [
            {
                **OS,
                "Vulnerabilities": [
                    vuln("CVE-1", "zlib", "1.0"),
                    vuln("CVE-1", "zlib", "1.1"),
                    vuln("CVE-2", "bash", "5.0", Status="not_affected"),
                    vuln("CVE-3", "tar", "1.3", Status="not_affected"),
                    vuln("CVE-3", "tar", "1.4", Status="affected"),
                ],
            },
        ]
    )
    got = {(f.weakness.vuln_id, f.path): f for f in findings(parse(write(tmp_path, report)))}
    assert set(got) == {("CVE-1", "zlib"), ("CVE-2", "bash"), ("CVE-3", "tar")}
    assert "zlib 1.0" in (got[("CVE-1", "zlib")].evidence or "") and "zlib 1.1" in (
        got[("CVE-1", "zlib")].evidence or ""
    )
    assert got[("CVE-2", "bash")].status is FindingStatus.FIXED
    assert got[("CVE-3", "tar")].status is FindingStatus.OPEN  # one affected entry keeps it open


def test_misconfigurations_secrets_and_checks(tmp_path: Path) -> None:
    mis = {
        "Type": "Dockerfile Security Check",
        "ID": "DS002",
        "Title": "Root user",
        "Severity": "HIGH",
        "Status": "FAIL",
        "Message": "Specify USER",
        "Resolution": "Add USER",
        "CauseMetadata": {"StartLine": 3, "EndLine": 3},
    }
    report: dict[str, Any] = {
        "SchemaVersion": 2,
        "CreatedAt": WHEN,
        "ArtifactName": "github.com/acme/api",
        "ArtifactType": "repository",
        "Results": [
            {"Target": "requirements.txt", "Class": "lang-pkgs", "Type": "pip", "Vulnerabilities": []},
            {
                "Target": "Dockerfile",
                "Class": "config",
                "Misconfigurations": [
                    mis,
                    {**mis, "ID": "DS001", "AVDID": "AVD-DS-0001", "Status": "PASS"},
                    {**mis, "ID": "KSV-0003", "Status": "PASS"},
                    {**mis, "ID": "KSV003", "Status": "FAIL"},
                    {**mis, "ID": "DS026", "Status": "EXCEPTION"},
                ],
            },
            {
                "Target": "deploy/.env",
                "Class": "secret",
                "Secrets": [
                    {
                        "RuleID": "aws-access-key-id",
                        "Title": "AWS Access Key",
                        "Severity": "CRITICAL",
                        "StartLine": 12,
                        "Match": "AWS_ACCESS_KEY_ID=****",
                    }
                ],
            },
        ],
    }
    records = parse(write(tmp_path, report))
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name, cov.checks) == (AssetKind.REPOSITORY, "github.com/acme/api", Checks.ALL)
    got = {f.weakness.vuln_id: f for f in findings(records)}
    assert set(got) == {"AVD-DS-0002", "AVD-DS-0001", "AVD-KSV-0003", "AVD-DS-0026", "aws-access-key-id"}
    waived = got["AVD-DS-0026"]  # EXCEPTION: waived by a policy, set aside where an open one would be
    assert (waived.status, waived.path, waived.weakness.is_config) == (FindingStatus.SET_ASIDE, "Dockerfile", True)
    root = got["AVD-DS-0002"]
    assert root.weakness.is_config and root.path == "Dockerfile" and root.status is FindingStatus.OPEN
    assert root.weakness.solution == "Add USER" and "line 3" in (root.evidence or "")
    assert got["AVD-DS-0001"].status is FindingStatus.FIXED
    assert got["AVD-KSV-0003"].status is FindingStatus.OPEN  # the failing entry wins over the passing one
    secret = got["aws-access-key-id"]
    assert secret.path == "deploy/.env" and "line 12" in (secret.evidence or "") and not secret.weakness.is_config
    assert secret.weakness.severity is Severity.CRITICAL
    config_only = {**report, "Results": [report["Results"][1]]}
    (cov,) = coverage(parse(write(tmp_path, config_only, "c.json")))
    assert cov.checks is Checks.CONFIGURATION


def test_unnamed_targets_use_asset_option_or_give_no_coverage(tmp_path: Path) -> None:
    fs = {
        "SchemaVersion": 2,
        "ArtifactName": ".",
        "ArtifactType": "filesystem",
        "Results": [{"Target": "go.mod", "Class": "lang-pkgs", "Vulnerabilities": [vuln("CVE-1", "x/net")]}],
    }
    path = write(tmp_path, fs)
    records = parse(path)
    assert coverage(records) == [] and findings(records)[0].asset.name == "."
    named = parse(path, asset="github.com/acme/cli")
    assert [c.asset.name for c in coverage(named)] == ["github.com/acme/cli"]
    assert findings(named)[0].asset.name == "github.com/acme/cli"
    no_name = image_report([{**OS, "Target": "acme/app:main-1 (alpine 3.19)"}], name="", Metadata={"RepoTags": [""]})
    (cov,) = coverage(parse(write(tmp_path, no_name, "n.json")))
    assert cov.asset.name == "acme/app"  # from the OS result's target
    by_id = image_report([OS], name="sha256:0123", Metadata={"RepoDigests": ["ghcr.io/acme/api@sha256:0123"]})
    assert [c.asset.name for c in coverage(parse(write(tmp_path, by_id, "i.json")))] == ["ghcr.io/acme/api"]
    sbom = {"SchemaVersion": 2, "ArtifactName": "sbom.json", "ArtifactType": "cyclonedx", "Results": []}
    records = parse(write(tmp_path, sbom, "s.json"))
    assert coverage(records) == []  # an SBOM's file name is not a name of the software
    licences = image_report([{"Target": "OS Packages", "Class": "license", "Licenses": []}])
    assert coverage(parse(write(tmp_path, licences, "l.json"))) == []  # a licence scan proves nothing fixed


def test_legacy_null_and_array(tmp_path: Path) -> None:
    empty = tmp_path / "null.json"
    empty.write_text("null\n")
    records = parse(empty)
    assert len(records) == 1 and isinstance(records[0], Scan) and records[0].tool == "Trivy"
    legacy = [
        {"Target": "app/package-lock.json", "Type": "npm", "Vulnerabilities": [vuln("CVE-1", "lodash")]},
        {
            "Target": "registry.local:5000/team/app:7 (alpine 3.7.1)",
            "Type": "alpine",
            "Vulnerabilities": [vuln("CVE-2", "curl")],
        },
        {"Target": "Cargo.lock", "Type": "cargo", "Vulnerabilities": None},
    ]
    records = parse(write(tmp_path, legacy), asset=None)
    (cov,) = coverage(records)
    assert (cov.asset.kind, cov.asset.name) == (AssetKind.CONTAINER_IMAGE, "registry.local:5000/team/app")
    assert {f.path for f in findings(records)} == {"app/package-lock.json: lodash", "curl"}
    assert all(f.observed_at == f.observed_at.replace(microsecond=0) for f in findings(records))


def test_kubernetes_shapes(tmp_path: Path) -> None:
    arn = "arn:aws:eks:us-east-1:123456789012:cluster/prod"
    old = {
        "ClusterName": arn,
        "Vulnerabilities": [
            {
                "Namespace": "web",
                "Kind": "Deployment",
                "Name": "api",
                "Results": [
                    {
                        "Target": "docker.io/library/redis:6.0 (debian 10.4)",
                        "Class": "os-pkgs",
                        "Vulnerabilities": [vuln("CVE-1", "apt")],
                    },
                    {
                        "Target": "ghcr.io/acme/sidecar:2 (alpine 3.18)",
                        "Class": "os-pkgs",
                        "Vulnerabilities": [vuln("CVE-1", "apt")],
                    },
                ],
            }
        ],
        "Misconfigurations": [
            {
                "Namespace": "web",
                "Kind": "Deployment",
                "Name": "api",
                "Results": [
                    {
                        "Target": "Deployment/api",
                        "Class": "config",
                        "Misconfigurations": [{"ID": "KSV001", "Title": "t", "Severity": "MEDIUM", "Status": "FAIL"}],
                    }
                ],
            },
            {
                "Namespace": "web",
                "Kind": "Service",
                "Name": "api",
                "Results": [{"Target": "Service/api", "Class": "config", "MisconfSummary": {"Successes": 3}}],
            },
        ],
    }
    records = parse(write(tmp_path, old))
    covs = {c.asset.name: c for c in coverage(records)}
    api = f"{arn}/web/Deployment/api"
    assert set(covs) == {api, f"{arn}/web/Service/api"}
    assert covs[api].checks is Checks.ALL and covs[f"{arn}/web/Service/api"].checks is Checks.CONFIGURATION
    assert (covs[api].asset.kind, covs[api].asset.account, covs[api].asset.region) == (
        AssetKind.CLOUD_RESOURCE,
        "123456789012",
        "us-east-1",
    )
    assert {f.location for f in findings(records)} == {
        "library/redis: apt",
        "ghcr.io/acme/sidecar: apt",
        "Deployment/api",
    }
    new = {
        "ClusterName": "",
        "Resources": [
            {
                "Namespace": "default",
                "Kind": "Role",
                "Name": "r",
                "Results": [
                    {"Target": "Role/r", "Class": "config", "Misconfigurations": [{"ID": "KSV041", "Status": "FAIL"}]}
                ],
            }
        ],
    }
    records = parse(write(tmp_path, new, "k.json"))
    assert coverage(records) == []  # an unnamed cluster: its resources could be any cluster's
    assert findings(records)[0].asset.name == "default/Role/r" and findings(records)[0].asset.kind is AssetKind.OTHER
    assert [c.asset.name for c in coverage(parse(tmp_path / "k.json", asset="dev"))] == ["dev/default/Role/r"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"SchemaVersion": 2, "Results": "x"}', "Results is a str"),
        ('{"SchemaVersion": 2, "Results": [{"Target": "a", "Vulnerabilities": {"a": 1}}]}', "not a list"),
        ('{"something": "else"}', "not a Trivy report"),
        ('{"SchemaVersion": 2, "Results": []}\n{"something": "else"}', "report 2 is not a Trivy report"),
        ('{"SchemaVersion": 2, "Results": []} {"SchemaVersion": 2, "Results": [', "JSON value 2 is not valid"),
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
        "SchemaVersion": 2,
        "ArtifactName": 7,
        "ArtifactType": None,
        "Metadata": [],
        "CreatedAt": "yesterday",
        "Results": [
            None,
            3,
            {
                "Target": None,
                "Class": 5,
                "Vulnerabilities": [
                    None,
                    "x",
                    {
                        "VulnerabilityID": "CVE-9",
                        "PkgName": ["a"],
                        "Severity": 3,
                        "CVSS": {"nvd": "x"},
                        "CweIDs": "CWE-20",
                        "References": {"a": 1},
                        "InstalledVersion": None,
                    },
                ],
            },
        ],
    }
    records, ctx = parse_ctx(write(tmp_path, odd))
    (f,) = findings(records)
    assert f.weakness.vuln_id == "CVE-9" and f.weakness.cwes == ("20",)
    assert f.path == "(unknown package)"  # PkgName is not text: kept under a stable name, warned
    assert f.weakness.severity is Severity.MEDIUM  # severity 3 is no word poam reads: Moderate, warned
    assert ctx.report.skipped == 4  # the results None and 3, the vulnerabilities None and "x"
    assert ctx.report.warning_count == 8
    assert "result 1: not an object; left out" in ctx.report.warnings
    assert (  # a language result without Target: its findings are kept without their file
        "result: no Target; its findings are kept without the file they are in; "
        "a fallback identity, so this file gives its asset no coverage"
    ) in ctx.report.warnings
    assert ctx.report.warnings[0] == (
        "report: CreatedAt 'yesterday' is not a date; dated by --scan-date, else the file's modification time"
    )
    assert f.observed_at == FILE_TIME and ctx.report.used_file_time
    assert coverage(records) == []  # results it could not read: the asset is not covered


def test_image_repository_names() -> None:
    assert image_repository("nginx:1.25") == "library/nginx"
    assert image_repository("docker.io/library/nginx@sha256:abc") == "library/nginx"
    assert image_repository("localhost:5000/team/app:7") == "localhost:5000/team/app"
    assert image_repository("ghcr.io/acme/web") == "ghcr.io/acme/web"
    assert image_repository("") is None
    assert image_repository("sha256:0123abcd") is None and image_repository("docker-archive:img.tar") is None
    assert image_repository("registry:ghcr.io/acme/web:2") == "ghcr.io/acme/web"
    assert image_repository("registry:5000/team/app") == "registry:5000/team/app"


# --- the real Trivy files of the corpus ------------------------------------------------------

ASSETS = {  # the asset each corpus file is about, as a reviewer would name it
    "all_statuses": "noppaknopsta/example-app",
    "cvss_severity_source": "sbom.json",
    "cvssv4_severity_source": "lib/catalina.jar",
    "issue_14136": "tofu/clusters/sandbox",
    "issue_9092": "sbom.json",
    "issue_9333": "noppaknopsta/example-app",
    "legacy_many_vulns": "library/debian",
    "legacy_trivy_mix": "library/trivy-ci-test",
    "license_scheme": None,
    "misconfigurations_and_secrets": ".",
    "scheme_2_many_vulns": "library/teamdojo",
    "scheme_2_no_vuln": "library/trivy-unittest",
    "legacy_no_vuln": None,
    "severity_prio": "sbom.json",
}


def _check_id(m: dict[str, Any]) -> str:
    if m.get("AVDID"):
        return str(m["AVDID"])
    prefix, number = re.match(r"([A-Z]+)-?(\d+)", m["ID"]).groups()  # type: ignore[union-attr]
    return f"AVD-{prefix}-{int(number):04d}"


def _independent(doc: Any) -> dict[str, set[tuple[str, str]]]:
    """Per resource (or the one artifact): (id, package or file) of each vulnerability with an id,
    failing or passing misconfiguration and secret, read with json.load and plain loops."""
    out: dict[str, set[tuple[str, str]]] = {}

    def results(key: str, results: list[Any]) -> None:
        for r in results or []:
            for v in r.get("Vulnerabilities") or []:
                if v.get("VulnerabilityID"):
                    out.setdefault(key, set()).add((v["VulnerabilityID"], v["PkgName"]))
            for m in r.get("Misconfigurations") or []:
                if m.get("Status") in ("FAIL", "PASS"):
                    out.setdefault(key, set()).add((_check_id(m), r["Target"]))
            for s in r.get("Secrets") or []:
                out.setdefault(key, set()).add((s["RuleID"], r["Target"]))

    if isinstance(doc, list):
        results("", doc)
    elif isinstance(doc, dict) and "ClusterName" in doc:
        for key in ("Resources", "Vulnerabilities", "Misconfigurations"):
            for res in doc.get(key) or []:
                results(f"{res['Namespace']}/{res['Kind']}/{res['Name']}", res.get("Results"))
    elif doc:
        results("", doc.get("Results"))
    return out


def corpus_files() -> list[Path]:
    return sorted(corpus_dir("trivy_json").iterdir())


@pytest.mark.corpus
def test_every_corpus_file_matches_an_independent_count() -> None:
    files = corpus_files()
    assert len(files) >= 16
    for path in files:
        doc = json.loads(path.read_text())
        records = parse(path)
        cluster = doc.get("ClusterName") if isinstance(doc, dict) and "ClusterName" in doc else None
        got: dict[str, set[tuple[str, str]]] = {}
        for f in findings(records):
            assert f.path and f.asset.name, path.name
            key = "" if cluster is None else f.asset.name.removeprefix(f"{cluster}/")
            got.setdefault(key, set()).add((f.weakness.vuln_id, f.path.rsplit(": ", 1)[-1]))
        assert got == _independent(doc), path.name
        stem = path.stem.removeprefix("defectdojo__trivy__")
        if stem in ASSETS:
            names = {c.asset.name for c in coverage(records)} | {f.asset.name for f in findings(records)}
            assert names == ({ASSETS[stem]} if ASSETS[stem] else set()), stem
        assert isinstance(records[-1], Scan) and records[-1].tool == "Trivy"


@pytest.mark.corpus
def test_corpus_locations_hold_no_versions() -> None:
    for path in corpus_files():
        installed = set(re.findall(r'"InstalledVersion":\s*"([^"]+)"', path.read_text()))
        for f in findings(parse(path)):
            assert not any(v in f.location for v in installed if len(v) > 2), (path.name, f.location)
            assert not re.search(r"\b(line|StartLine)\b", f.location)


@pytest.mark.corpus
def test_corpus_kubernetes_and_empty_files() -> None:
    folder = corpus_dir("trivy_json")
    k8s = parse(folder / "defectdojo__trivy__kubernetes.json")
    kinds = {c.asset.kind for c in coverage(k8s)}
    assert kinds == {AssetKind.CLOUD_RESOURCE}
    assert {c.asset.account for c in coverage(k8s)} == {"576036489467"}
    assert parse(folder / "defectdojo__trivy__legacy_no_vuln.json")[0] == Scan("Trivy")
    no_vuln = parse(folder / "defectdojo__trivy__scheme_2_no_vuln.json")
    assert findings(no_vuln) == [] and [c.asset.name for c in coverage(no_vuln)] == ["library/trivy-unittest"]
    doc = json.loads((folder / "defectdojo__trivy__all_statuses.json").read_text())
    vendor_says_no = {
        v["VulnerabilityID"] for v in doc["Results"][0]["Vulnerabilities"] if v["Status"] == "not_affected"
    }
    statuses = {f.weakness.vuln_id: f.status for f in findings(parse(folder / "defectdojo__trivy__all_statuses.json"))}
    assert {v for v, s in statuses.items() if s is FindingStatus.FIXED} == vendor_says_no == {"CVE-2019-18276"}


def test_sniff_claims_exactly_the_trivy_folder() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus absent")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if TrivyParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set(corpus_files())


# --- end to end ------------------------------------------------------------------------------


def test_import_end_to_end_and_a_later_scan_fixes(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(TrivyParser())
    jan = image_report([{**OS, "Vulnerabilities": [vuln("CVE-1", "openssl"), vuln("CVE-2", "zlib")]}])
    feb = image_report([{**OS, "Vulnerabilities": [vuln("CVE-2", "zlib", "1.1")]}], name="ghcr.io/acme/web:1.3")
    feb["CreatedAt"] = "2026-02-05T10:00:00Z"
    r = import_file(engine, write(tmp_path, jan, "jan.json"))
    assert (r.format, r.tool, r.assets_covered, r.items_opened) == ("trivy", "Trivy", 1, 2)
    r = import_file(engine, write(tmp_path, feb, "feb.json"))
    assert (r.fixed_findings, r.items_closed) == (1, 1)  # a new tag of the same image, openssl upgraded
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert items["CVE-1"].status.value == "closed" and items["CVE-2"].status.value == "open"
    assert [a.text for a in items["CVE-2"].assets] == ["ghcr.io/acme/web (zlib)"]
    assert items["CVE-2"].detector_source == "Trivy"


def test_a_report_without_results_closes_nothing(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(TrivyParser())
    jan = image_report([{**OS, "Vulnerabilities": [vuln("CVE-1", "openssl")]}])
    import_file(engine, write(tmp_path, jan, "jan.json"))
    for name, results in (("absent.json", None), ("empty.json", [])):  # `--scanners secret` finding nothing
        doc = {**image_report([]), "CreatedAt": "2026-02-05T10:00:00Z"}
        if results is None:
            del doc["Results"]
        else:
            doc["ArtifactName"] = "ghcr.io/acme/web:1.3"
        r = import_file(engine, write(tmp_path, doc, name))
        assert (r.assets_covered, r.fixed_findings) == (0, 0), name
    clean = image_report([OS], name="ghcr.io/acme/web:1.4")  # a vulnerability run lists its OS result
    clean["CreatedAt"] = "2026-03-05T10:00:00Z"
    assert import_file(engine, write(tmp_path, clean, "mar.json")).closed_ids == ["V-1"]


@pytest.mark.corpus
def test_corpus_file_imports(engine: Engine, register_parser: Any) -> None:
    register_parser(TrivyParser())
    path = corpus_dir("trivy_json") / "defectdojo__trivy__misconfigurations_and_secrets.json"
    r = import_file(engine, path, asset="github.com/acme/demo")
    assert (r.assets_covered, r.results) == (1, 5)
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert {i.source_identifier for i in items} == {"CVE-2021-33503", "CVE-2021-28363", "AVD-DS-0002", "github-pat"}
    assert {a.text for i in items for a in i.assets} >= {
        "github.com/acme/demo (requirements.txt: urllib3)",
        "github.com/acme/demo (Dockerfile)",
        "github.com/acme/demo (secret.txt)",
    }
    assert next(i for i in items if i.source_identifier == "AVD-DS-0002").is_config


# --- odd input never escapes as anything but InputError ---------------------------------------


def mutations(doc: Any, seed: int, count: int) -> Iterator[bytes]:
    """Copies of a JSON document with a few values swapped for values of other types."""
    rnd = random.Random(seed)
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if path:
            paths.append(path)
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in children:
            walk(value, (*path, key))

    walk(doc, ())
    for _ in range(count if paths else 0):
        copy = json.loads(json.dumps(doc))
        for _ in range(3):
            node, path = copy, rnd.choice(paths)
            try:
                for key in path[:-1]:
                    node = node[key]
                node[path[-1]] = rnd.choice([None, 0, -1, 1e300, "", "x", True, [], {}, [1], {"a": 1}])
            except (KeyError, IndexError, TypeError):
                pass
        yield json.dumps(copy).encode()


def only_input_errors(parser: Any, folder: str, count: int = 40) -> None:
    """Parse mutated copies of every JSON file of a corpus folder: InputError or records, nothing else."""
    for path in sorted(corpus_dir(folder).iterdir()):
        if path.suffix != ".json":
            continue
        for n, data in enumerate(mutations(json.loads(path.read_text()), len(path.name), count)):
            try:
                list(parser.parse(io.BytesIO(data), ParseContext(path.name)))
            except InputError:
                pass
            except Exception as exc:  # pragma: no cover - the failure message names the case
                pytest.fail(f"{path.name} mutation {n}: {type(exc).__name__}: {exc}")


@pytest.mark.corpus
def test_mutated_corpus_files_give_input_errors_or_records() -> None:
    only_input_errors(TrivyParser(), "trivy_json")


def test_streaming_a_large_report_finds_what_reading_it_whole_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    import poam.parsers.trivy as trivy_module

    for name in (
        "defectdojo__trivy__scheme_2_many_vulns.json",
        "defectdojo__trivy__misconfigurations_and_secrets.json",
    ):
        path = corpus_dir("trivy_json") / name
        whole = parse(path)
        monkeypatch.setattr(trivy_module, "STREAM_FROM", 0)
        streamed = parse(path)
        monkeypatch.setattr(trivy_module, "STREAM_FROM", 64 * 1024 * 1024)

        def key(records: list[Any]) -> set[tuple[str, str | None, str, str]]:
            return {(f.weakness.vuln_id, f.path, f.status.value, f.asset.name or "") for f in findings(records)}

        assert key(streamed) == key(whole) and key(whole)
        assert [(c.asset, c.checks) for c in coverage(streamed)] == [(c.asset, c.checks) for c in coverage(whole)]


# --- lenient on values, several reports in one file, dates (issue 6) --------------------------


def repo_report(results: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "SchemaVersion": 2,
        "CreatedAt": WHEN,
        "ArtifactName": "github.com/acme/api",
        "ArtifactType": "repository",
        "Results": results,
        **extra,
    }


def test_a_secret_without_rule_id_is_keyed_by_its_category_never_its_text(tmp_path: Path) -> None:
    secrets = [
        {
            "Category": "GitHub",
            "Title": "GitHub Personal Access Token",
            "Severity": "CRITICAL",
            "StartLine": 4,
            "Match": "token = ghp_****",
        },
        {"Title": "Slack Webhook", "Severity": "MEDIUM", "Match": "url = https://hooks.slack.com/****"},
        {"Severity": "HIGH", "Match": "x = ****"},
        {"RuleID": "aws-access-key-id", "Category": "AWS", "Title": "AWS Access Key ID", "Severity": "CRITICAL"},
    ]
    records, ctx = parse_ctx(
        write(tmp_path, repo_report([{"Target": "config/app.ini", "Class": "secret", "Secrets": secrets}]))
    )
    got = {f.weakness.vuln_id: f for f in findings(records)}
    assert set(got) == {"secret:GitHub", "secret:Slack Webhook", "aws-access-key-id"}
    github = got["secret:GitHub"]
    assert (github.path, github.weakness.name, github.weakness.severity) == (
        "config/app.ini",
        "Secret: GitHub Personal Access Token",
        Severity.CRITICAL,
    )
    assert "line 4" in (github.evidence or "")
    assert ctx.report.skipped == 1
    assert ctx.report.warnings == [
        f"config/app.ini: secret 1: a secret without RuleID; keyed by its category as 'secret:GitHub'{FALLBACK}",
        f"config/app.ini: secret 2: a secret without RuleID; keyed by its title as 'secret:Slack Webhook'{FALLBACK}",
        "config/app.ini: secret 3: a secret without RuleID, Category or Title; left out",
    ]


def test_a_misconfiguration_without_id_takes_its_namespace_or_url(tmp_path: Path) -> None:
    base = {"Title": "t", "Severity": "HIGH", "Status": "FAIL"}
    mis = [
        {**base, "Namespace": "builtin.kubernetes.KSV001"},
        {**base, "PrimaryURL": "https://avd.aquasec.com/misconfig/ds002"},
        {**base, "Namespace": "user.acme.no_root_user"},
        {**base},
        {**base, "ID": "DS026"},
    ]
    records, ctx = parse_ctx(
        write(tmp_path, repo_report([{"Target": "Dockerfile", "Class": "config", "Misconfigurations": mis}]))
    )
    assert sorted(f.weakness.vuln_id for f in findings(records)) == [
        "AVD-DS-0002",
        "AVD-DS-0026",
        "AVD-KSV-0001",
        "user.acme.no_root_user",
    ]
    assert ctx.report.skipped == 1 and ctx.report.warning_count == 5  # 3 ids from elsewhere, 1 left out, coverage
    assert "Dockerfile: misconfiguration 4: a misconfiguration without AVDID, ID or Namespace; left out" in (
        ctx.report.warnings
    )
    assert coverage(records) == []  # a check it could not read: this file closes nothing on the repository
    assert ctx.report.warnings[-1] == (
        "asset github.com/acme/api: a record could not be read; no coverage, so this file closes nothing on it"
    )


def test_unknown_severities_and_statuses_are_warned_not_refused(tmp_path: Path) -> None:
    scored = {"nvd": {"V3Score": 9.8}}
    results = [
        {
            **OS,
            "Vulnerabilities": [
                vuln("CVE-1", "a", Severity="SEVERE"),
                vuln("CVE-2", "b", Severity="SEVERE", CVSS=scored),
                vuln("CVE-3", "c", Status="being_looked_at"),
                vuln("CVE-4", "d", Status="suppressed"),
                vuln("CVE-5", "e", Status="will_not_fix"),
            ],
        },
        {
            "Target": "Dockerfile",
            "Class": "config",
            "Misconfigurations": [
                {"ID": "DS001", "Severity": "HIGH", "Status": "ERROR"},
                {"ID": "DS002", "Severity": "huge", "Status": "FAIL"},
                {"ID": "DS026", "Severity": "LOW", "Status": "EXCEPTION"},
            ],
        },
    ]
    records, ctx = parse_ctx(write(tmp_path, image_report(results)))
    got = {f.weakness.vuln_id: f for f in findings(records)}
    assert set(got) == {"CVE-1", "CVE-2", "CVE-3", "CVE-4", "CVE-5", "AVD-DS-0001", "AVD-DS-0002", "AVD-DS-0026"}
    assert (got["CVE-4"].status, got["CVE-4"].path) == (FindingStatus.SET_ASIDE, "d")
    assert (got["AVD-DS-0026"].status, got["AVD-DS-0026"].path) == (FindingStatus.SET_ASIDE, "Dockerfile")
    assert got["CVE-1"].weakness.severity is Severity.MEDIUM
    assert got["CVE-2"].weakness.severity is Severity.CRITICAL  # read by its CVSS score
    assert got["CVE-3"].status is FindingStatus.OPEN and "status being_looked_at" in (got["CVE-3"].evidence or "")
    assert got["CVE-5"].status is FindingStatus.OPEN
    assert got["AVD-DS-0001"].status is FindingStatus.OPEN and got["AVD-DS-0002"].weakness.severity is Severity.MEDIUM
    scan = records[-1]
    assert isinstance(scan, Scan) and scan.partial_checks == ()  # set aside records, not whole checks
    assert [c.checks for c in coverage(records)] == [Checks.ALL]
    prefix = "ghcr.io/acme/web:1.2 (debian 12.1)"
    assert ctx.report.warnings == [
        f"{prefix}: vulnerability 1 (CVE-1): severity 'SEVERE' not recognised; rated Moderate",
        f"{prefix}: vulnerability 2 (CVE-2): severity 'SEVERE' not recognised; rated critical by its CVSS score",
        f"{prefix}: vulnerability 3 (CVE-3): status 'being_looked_at' not recognised; kept open",
        f"{prefix}: vulnerability 4 (CVE-4): status 'suppressed' sets it aside; read as set aside",
        "Dockerfile: misconfiguration 1 (AVD-DS-0001): status 'ERROR' not recognised; kept open",
        "Dockerfile: misconfiguration 2 (AVD-DS-0002): severity 'huge' not recognised; rated Moderate",
    ]


def test_kubernetes_resources_without_kind_or_name_are_left_out(tmp_path: Path) -> None:
    mis = {"ID": "KSV001", "Severity": "MEDIUM", "Status": "FAIL"}
    doc = {
        "ClusterName": "prod",
        "Resources": [
            {"Namespace": "web", "Results": [{"Target": "x", "Class": "config", "Misconfigurations": [mis]}]},
            "junk",
            {
                "Namespace": "web",
                "Kind": "Deployment",
                "Name": "api",
                "Results": [{"Target": "Deployment/api", "Class": "config", "Misconfigurations": [mis]}],
            },
        ],
    }
    records, ctx = parse_ctx(write(tmp_path, doc))
    assert [(f.asset.name, f.weakness.vuln_id) for f in findings(records)] == [
        ("prod/web/Deployment/api", "AVD-KSV-0001")
    ]
    assert [c.asset.name for c in coverage(records)] == ["prod/web/Deployment/api"]
    assert ctx.report.warnings == [
        "Resources entry 1: a Kubernetes resource without Kind or Name; left out",
        "Resources entry 2: not an object; left out",
    ]


def test_a_legacy_array_of_non_objects_reads_nothing(tmp_path: Path) -> None:
    records, ctx = parse_ctx(write(tmp_path, [1, 2]))
    assert [type(r) for r in records] == [Scan] and ctx.report.skipped == 2


def test_an_unreadable_record_closes_nothing_and_a_waived_check_stays_open(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(TrivyParser())
    mis = {"ID": "DS002", "Title": "Root user", "Severity": "HIGH", "Status": "FAIL"}
    jan = image_report(
        [
            {**OS, "Vulnerabilities": [vuln("CVE-1", "openssl"), vuln("CVE-2", "zlib")]},
            {"Target": "Dockerfile", "Class": "config", "Misconfigurations": [mis]},
        ]
    )
    assert import_file(engine, write(tmp_path, jan, "jan.json")).items_opened == 3
    feb = image_report(
        [
            {**OS, "Vulnerabilities": [vuln("CVE-2", "zlib"), {"PkgName": "openssl", "Severity": "HIGH"}]},
            {"Target": "Dockerfile", "Class": "config", "Misconfigurations": [{**mis, "Status": "EXCEPTION"}]},
        ],
        CreatedAt="2026-02-05T10:00:00Z",
    )
    r = import_file(engine, write(tmp_path, feb, "feb.json"))
    assert (r.assets_covered, r.fixed_findings, r.warnings) == (0, 0, 2)
    assert r.warning_lines[0] == "ghcr.io/acme/web:1.2 (debian 12.1): vulnerability 2: no VulnerabilityID; left out"
    mar = image_report(
        [
            {**OS, "Vulnerabilities": [vuln("CVE-2", "zlib")]},
            {"Target": "Dockerfile", "Class": "config", "Misconfigurations": [{**mis, "Status": "EXCEPTION"}]},
        ],
        CreatedAt="2026-03-05T10:00:00Z",
    )
    r = import_file(engine, write(tmp_path, mar, "mar.json"))
    assert (r.assets_covered, r.fixed_findings, r.warnings) == (1, 1, 0)  # CVE-1 fixed; the waived check is not
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert {k: i.status.value for k, i in items.items()} == {"CVE-1": "closed", "CVE-2": "open", "AVD-DS-0002": "open"}


def suppressed(kind: str, status: str, finding: dict[str, Any]) -> dict[str, Any]:
    """An entry of a result's ExperimentalModifiedFindings (`trivy --show-suppressed`)."""
    return {"Type": kind, "Status": status, "Statement": "", "Source": ".trivyignore", "Finding": finding}


def test_suppressed_findings_are_set_aside_or_fixed_with_their_identity(tmp_path: Path) -> None:
    mis = {"ID": "DS002", "Title": "Root user", "Severity": "HIGH", "Status": "FAIL"}
    secret = {"RuleID": "github-pat", "Title": "GitHub PAT", "Severity": "CRITICAL", "StartLine": 3}
    lang = {"Target": "app/requirements.txt", "Class": "lang-pkgs", "Type": "pip"}
    results = [
        {
            **OS,
            "Vulnerabilities": [vuln("CVE-1", "openssl")],
            "ExperimentalModifiedFindings": [
                suppressed("vulnerability", "ignored", vuln("CVE-2", "zlib")),
                suppressed("vulnerability", "not_affected", vuln("CVE-3", "bash")),
                suppressed("vulnerability", "hidden", vuln("CVE-4", "tar")),
                suppressed("license", "ignored", {"Name": "GPL-3.0", "PkgName": "bash"}),
            ],
        },
        {**lang, "ExperimentalModifiedFindings": [suppressed("vulnerability", "ignored", vuln("CVE-5", "urllib3"))]},
        {
            "Target": "Dockerfile",
            "Class": "config",
            "ExperimentalModifiedFindings": [suppressed("misconfiguration", "ignored", mis)],
        },
        {
            "Target": "deploy/.env",
            "Class": "secret",
            "ExperimentalModifiedFindings": [suppressed("secret", "ignored", secret), "junk"],
        },
    ]
    records, ctx = parse_ctx(write(tmp_path, image_report(results)))
    got = {(f.weakness.vuln_id, f.asset.name, f.path): f.status for f in findings(records)}
    image = "acme/web"
    assert got == {
        ("CVE-1", f"ghcr.io/{image}", "openssl"): FindingStatus.OPEN,
        ("CVE-2", f"ghcr.io/{image}", "zlib"): FindingStatus.SET_ASIDE,
        ("CVE-3", f"ghcr.io/{image}", "bash"): FindingStatus.FIXED,  # a VEX statement: not affected
        ("CVE-4", f"ghcr.io/{image}", "tar"): FindingStatus.SET_ASIDE,
        ("CVE-5", f"ghcr.io/{image}", "app/requirements.txt: urllib3"): FindingStatus.SET_ASIDE,
        ("AVD-DS-0002", f"ghcr.io/{image}", "Dockerfile"): FindingStatus.SET_ASIDE,
        ("github-pat", f"ghcr.io/{image}", "deploy/.env"): FindingStatus.SET_ASIDE,
    }
    prefix = "ghcr.io/acme/web:1.2 (debian 12.1)"
    assert ctx.report.warnings == [
        f"{prefix}: suppressed finding 3: status 'hidden' not recognised; set aside (neither open nor fixed)",
        "deploy/.env: suppressed finding 2: not an object with a Finding; left out",
        "asset ghcr.io/acme/web: a record could not be read; no coverage, so this file closes nothing on it",
    ]
    assert isinstance(records[-1], Scan) and records[-1].partial_checks == ()


def test_suppressed_findings_are_read_when_a_large_report_is_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import poam.parsers.trivy as trivy_module

    mis = {"ID": "DS002", "Title": "Root user", "Severity": "HIGH", "Status": "FAIL"}
    results = [
        {**OS, "ExperimentalModifiedFindings": [suppressed("vulnerability", "ignored", vuln("CVE-2", "zlib"))]},
        {"Target": "Dockerfile", "Class": "config", "Misconfigurations": [{**mis, "Status": "EXCEPTION"}]},
    ]
    monkeypatch.setattr(trivy_module, "STREAM_FROM", 0)
    records = parse(write(tmp_path, image_report(results)))
    assert {(f.weakness.vuln_id, f.path, f.status) for f in findings(records)} == {
        ("CVE-2", "zlib", FindingStatus.SET_ASIDE),
        ("AVD-DS-0002", "Dockerfile", FindingStatus.SET_ASIDE),
    }
    assert [c.checks for c in coverage(records)] == [Checks.ALL]


def test_records_of_one_finding_open_wins_then_set_aside_then_fixed(tmp_path: Path) -> None:
    results = [
        {
            **OS,
            "Vulnerabilities": [
                vuln("CVE-1", "zlib", "1.0", Status="not_affected"),
                vuln("CVE-1", "zlib", "1.1", Status="suppressed"),
                vuln("CVE-2", "tar", "1.0", Status="suppressed"),
                vuln("CVE-2", "tar", "1.1", Status="not_affected"),
                vuln("CVE-3", "bash", "1.0", Status="suppressed"),
                vuln("CVE-3", "bash", "1.1"),
            ],
        }
    ]
    got = {f.weakness.vuln_id: f.status for f in findings(parse(write(tmp_path, image_report(results))))}
    assert got == {"CVE-1": FindingStatus.SET_ASIDE, "CVE-2": FindingStatus.SET_ASIDE, "CVE-3": FindingStatus.OPEN}


@pytest.mark.parametrize("how", ["status", "suppressed", "exception"])
def test_a_set_aside_record_keeps_its_open_finding_open_until_it_is_gone(
    engine: Engine, register_parser: Any, tmp_path: Path, how: str
) -> None:
    """A suppressed vulnerability or a waived check is a person's decision, not a fix: a covering
    scan that still reports it closes nothing of it and opens nothing; one without it closes it."""
    register_parser(TrivyParser())
    mis = {"ID": "DS002", "Title": "Root user", "Severity": "HIGH", "Status": "FAIL"}

    def month(day: str, vulns: list[Any], checks: list[Any], modified: tuple[list[Any], list[Any]] = ([], [])) -> Path:
        results = [
            {**OS, "Vulnerabilities": vulns, "ExperimentalModifiedFindings": modified[0]},
            {"Target": "Dockerfile", "Class": "config", "Misconfigurations": checks},
        ]
        results[1]["ExperimentalModifiedFindings"] = modified[1]
        return write(tmp_path, image_report(results, CreatedAt=f"{day}T10:00:00Z"), f"{day}.json")

    def aside(*ids: str) -> tuple[list[Any], list[Any], tuple[list[Any], list[Any]]]:
        """The file of `how` reporting these CVEs (and the check) set aside."""
        if how == "status":
            return [vuln(i, "zlib", Status="ignored") for i in ids], [{**mis, "Status": "ignored"}], ([], [])
        if how == "suppressed":
            found = [suppressed("vulnerability", "ignored", vuln(i, "zlib")) for i in ids]
            return [], [], (found, [suppressed("misconfiguration", "ignored", mis)])
        return [vuln(i, "zlib", Status="will_not_fix") for i in ids], [{**mis, "Status": "EXCEPTION"}], ([], [])

    jan = import_file(engine, month("2026-01-05", [vuln("CVE-1", "zlib")], [mis]))
    assert (jan.assets_covered, jan.new_findings, jan.items_opened) == (1, 2, 2)
    feb = import_file(engine, month("2026-02-05", *aside("CVE-1")))
    expected_aside = 1 if how == "exception" else 2  # will_not_fix is an open vulnerability
    assert (feb.assets_covered, feb.set_aside, feb.fixed_findings, feb.items_closed) == (1, expected_aside, 0, 0)
    more = import_file(engine, month("2026-02-06", *aside("CVE-1", "CVE-9")))
    assert (more.items_opened, more.fixed_findings) == (0 if how != "exception" else 1, 0)
    with engine.begin() as conn:
        items = {i.source_identifier: i for i in load(conn, systems.resolve(conn, None, "t").id, "all")}
    assert items["CVE-1"].status.value == "open" and items["AVD-DS-0002"].status.value == "open"
    mar = import_file(engine, month("2026-03-05", [], [{**mis, "Status": "PASS"}]))
    assert mar.closed_ids and mar.fixed_findings == (3 if how == "exception" else 2)


def two_images() -> tuple[dict[str, Any], dict[str, Any]]:
    web = image_report([{**OS, "Vulnerabilities": [vuln("CVE-1", "openssl")]}], Trivy={"Version": "0.50.1"})
    api = image_report(
        [
            {
                **OS,
                "Target": "ghcr.io/acme/api:3 (debian 12.1)",
                "Vulnerabilities": [vuln("CVE-1", "openssl", Severity="CRITICAL")],
            }
        ],
        name="ghcr.io/acme/api:3",
        CreatedAt="2026-01-07T09:00:00Z",
    )
    return web, api


@pytest.mark.parametrize("joiner", ["", "\n", "\n\n  "])
def test_several_reports_in_one_file_are_one_import(tmp_path: Path, joiner: str) -> None:
    web, api = two_images()
    path = tmp_path / "both.json"
    path.write_text(joiner.join(json.dumps(d) for d in (web, api)))
    with path.open("rb") as f:
        assert TrivyParser().sniff(read_head(f))
    records, ctx = parse_ctx(path)
    assert [(c.asset.name, c.started_at) for c in coverage(records)] == [
        ("ghcr.io/acme/web", dt.datetime(2026, 1, 5, 10, 0)),
        ("ghcr.io/acme/api", dt.datetime(2026, 1, 7, 9, 0)),
    ]
    assert [(f.asset.name, f.observed_at) for f in findings(records)] == [
        ("ghcr.io/acme/web", dt.datetime(2026, 1, 5, 10, 0)),
        ("ghcr.io/acme/api", dt.datetime(2026, 1, 7, 9, 0)),
    ]
    assert {f.weakness.severity for f in findings(records)} == {Severity.CRITICAL}  # worst across the file
    assert [r for r in records if isinstance(r, Scan)] == [
        Scan("Trivy", "0.50.1", "2 reports", dt.datetime(2026, 1, 5, 10, 0), dt.datetime(2026, 1, 7, 9, 0))
    ]
    assert not ctx.report.used_file_time and ctx.report.warning_count == 0


def test_several_reports_import_with_and_without_format(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(TrivyParser())
    web, api = two_images()
    path = tmp_path / "lines.json"
    path.write_text("\n".join(json.dumps(d) for d in (web, api)) + "\n")
    r = import_file(engine, path)
    assert (r.format, r.assets_covered, r.results) == ("trivy", 2, 2)
    assert (r.started_at, r.ended_at) == (dt.datetime(2026, 1, 5, 10, 0), dt.datetime(2026, 1, 7, 9, 0))
    other = tmp_path / "legacy.json"
    other.write_text("null\n" + json.dumps([{**OS, "Vulnerabilities": [vuln("CVE-9", "bash")]}]))
    r = import_file(engine, other, format_id="trivy", scan_date=dt.datetime(2026, 3, 1))
    assert (r.format, r.results, r.assets_covered) == ("trivy", 1, 1)


def test_streaming_several_reports_keeps_each_result_with_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import poam.parsers.trivy as trivy_module

    web, api = two_images()
    empty = image_report([], name="ghcr.io/acme/empty:1", CreatedAt="2026-01-06T00:00:00Z")
    repo = repo_report(
        [
            {"Target": "go.mod", "Class": "lang-pkgs", "Vulnerabilities": [vuln("CVE-7", "x/net")]},
            None,
            {"Target": "Dockerfile", "Class": "config", "Misconfigurations": [{"ID": "DS002", "Status": "FAIL"}]},
        ],
        CreatedAt=None,
    )
    path = tmp_path / "many.json"
    path.write_text("\n".join(json.dumps(d) for d in (web, empty, api, repo)))
    whole, whole_ctx = parse_ctx(path)
    monkeypatch.setattr(trivy_module, "STREAM_FROM", 0)
    streamed, streamed_ctx = parse_ctx(path)

    def key(records: list[Any]) -> list[tuple[str, str, str | None, dt.datetime]]:
        return sorted((f.asset.name or "", f.weakness.vuln_id, f.path, f.observed_at) for f in findings(records))

    assert (
        key(streamed)
        == key(whole)
        == [
            ("ghcr.io/acme/api", "CVE-1", "openssl", dt.datetime(2026, 1, 7, 9, 0)),
            ("ghcr.io/acme/web", "CVE-1", "openssl", dt.datetime(2026, 1, 5, 10, 0)),
            ("github.com/acme/api", "AVD-DS-0002", "Dockerfile", FILE_TIME),
            ("github.com/acme/api", "CVE-7", "go.mod: x/net", FILE_TIME),
        ]
    )
    expected_coverage = [
        ("ghcr.io/acme/web", Checks.VULNERABILITY),
        ("ghcr.io/acme/api", Checks.VULNERABILITY),
    ]  # the empty report lists no result (covers nothing); the repository has a result it could not read
    assert [(c.asset.name, c.checks) for c in coverage(streamed)] == expected_coverage
    assert [(c.asset.name, c.checks) for c in coverage(whole)] == expected_coverage
    assert streamed[-1] == whole[-1] == Scan("Trivy", "0.50.1", "4 reports", dt.datetime(2026, 1, 5, 10, 0), FILE_TIME)
    assert (
        streamed_ctx.report.warnings
        == whole_ctx.report.warnings
        == [
            "report 4: result 2: not an object; left out",
            "asset github.com/acme/api: a record could not be read; no coverage, so this file closes nothing on it",
        ]
    )
    assert streamed_ctx.report.used_file_time and whole_ctx.report.used_file_time


def test_streaming_refuses_a_results_member_that_is_not_a_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import poam.parsers.trivy as trivy_module

    monkeypatch.setattr(trivy_module, "STREAM_FROM", 0)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(image_report([])) + json.dumps({**image_report([]), "Results": "x"}))
    with pytest.raises(InputError, match="Results is a str, not a list"):
        parse_ctx(path)


def test_an_undated_report_takes_the_file_time_only_when_a_record_needs_it(tmp_path: Path) -> None:
    undated = {**image_report([{**OS, "Vulnerabilities": [vuln("CVE-1", "openssl")]}])}
    del undated["CreatedAt"]
    records, ctx = parse_ctx(write(tmp_path, undated))
    assert {f.observed_at for f in findings(records)} == {FILE_TIME} and ctx.report.used_file_time
    assert coverage(records)[0].started_at == FILE_TIME and records[-1].started_at == FILE_TIME
    records, ctx = parse_ctx(write(tmp_path, image_report([{**OS, "Vulnerabilities": [vuln("CVE-1", "x")]}])))
    assert findings(records)[0].observed_at == dt.datetime(2026, 1, 5, 10, 0) and not ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path, None))  # legacy `null`: nothing to date
    assert records == [Scan("Trivy")] and not ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path, undated), scan_date=dt.datetime(2026, 3, 1))
    assert findings(records)[0].observed_at == dt.datetime(2026, 3, 1) and not ctx.report.used_file_time


# --- a fallback identity closes nothing by absence (review item 4) ------------------------------

FALLBACK_ASSET = (
    "asset github.com/acme/api: a record was kept under a fallback identity; no coverage, so this file closes "
    "nothing on it"
)
TRAVERSE = vuln(
    "CVE-2023-45133", "@babel/traverse", "7.22.0", PkgIdentifier={"PURL": "pkg:npm/%40babel/traverse@7.22.0"}
)
ROOT_USER = {
    "ID": "ACME-1",
    "Namespace": "user.acme.no_root_user",
    "Title": "Root",
    "Severity": "HIGH",
    "Status": "FAIL",
}
GITHUB_PAT = {"RuleID": "github-pat", "Category": "GitHub", "Title": "GitHub PAT", "Severity": "CRITICAL"}


def three_kinds(created: str, strip: str = "") -> dict[str, Any]:
    """A repository report with a package vulnerability, a custom check's misconfiguration and a
    secret, one identity field of which (`strip`) is missing."""
    lang = {"Target": "web/package-lock.json", "Class": "lang-pkgs", "Type": "npm"}
    v, m, s = dict(TRAVERSE), dict(ROOT_USER), dict(GITHUB_PAT)
    for gone in strip.split("+") if strip else []:
        for record in (lang, v, m, s):
            record.pop(gone, None)
    results = [
        {**lang, "Vulnerabilities": [v]},
        {"Target": "Dockerfile", "Class": "config", "Misconfigurations": [m]},
        {"Target": "config/app.ini", "Class": "secret", "Secrets": [s]},
    ]
    return repo_report(results, CreatedAt=created)


@pytest.mark.parametrize(
    ("strip", "warning", "streamed"),
    [
        ("PkgName", "web/package-lock.json: vulnerability 1 (CVE-2023-45133): no PkgName; package 'traverse'", False),
        ("PkgName", "web/package-lock.json: vulnerability 1 (CVE-2023-45133): no PkgName; package 'traverse'", True),
        ("PkgName+PkgIdentifier", "vulnerability 1 (CVE-2023-45133): no PkgName; package '(unknown package)'", False),
        ("ID", "Dockerfile: misconfiguration 1: no AVDID or ID; check 'user.acme.no_root_user' taken", False),
        (
            "RuleID",
            "config/app.ini: secret 1: a secret without RuleID; keyed by its category as 'secret:GitHub'",
            False,
        ),
        ("Target", "result: no Target; its findings are kept without the file they are in", False),
    ],
)
def test_a_record_with_a_fallback_identity_closes_nothing_by_absence(
    engine: Engine,
    register_parser: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    strip: str,
    warning: str,
    streamed: bool,
) -> None:
    import poam.parsers.trivy as trivy_module

    register_parser(TrivyParser())
    if streamed:
        monkeypatch.setattr(trivy_module, "STREAM_FROM", 0)
    jan = import_file(engine, write(tmp_path, three_kinds("2026-01-05T10:00:00Z"), "jan.json"))
    assert (jan.assets_covered, jan.items_opened, jan.warnings) == (1, 3, 0)
    feb = import_file(engine, write(tmp_path, three_kinds("2026-02-05T10:00:00Z", strip), "feb.json"))
    # the record is kept (a new finding under its fallback identity) and the file covers nothing:
    # the finding it normally has is not closed by its absence
    assert (feb.results, feb.new_findings, feb.assets_covered, feb.fixed_findings) == (3, 1, 0, 0)
    (line,) = [w for w in feb.warning_lines if w.endswith(FALLBACK)]
    assert warning in line
    assert feb.warning_lines[-1] == FALLBACK_ASSET
    with engine.begin() as conn:
        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert {i.status.value for i in items} == {"open"}  # a new package line, or a new item
    assert {"CVE-2023-45133", "AVD-ACME-0001", "github-pat"} <= {i.source_identifier for i in items}
