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


def write(tmp_path: Path, doc: Any, name: str = "trivy.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def parse(path: Path, asset: str | None = None) -> list[Any]:
    with path.open("rb") as f:
        return list(TrivyParser().parse(f, ParseContext(str(path), asset_name=asset)))


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
    assert set(got) == {"AVD-DS-0002", "AVD-DS-0001", "AVD-KSV-0003", "aws-access-key-id"}
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
        ("[1, 2]", "not an object"),
        ('{"ClusterName": "c", "Resources": [{"Results": []}]}', "without Kind or Name"),
        (
            '{"SchemaVersion": 2, "Results": [{"Misconfigurations": [{"Status": "FAIL"}]}]}',
            "misconfiguration without ID",
        ),
        ('{"SchemaVersion": 2, "Results": [{"Secrets": [{"Title": "x"}]}]}', "secret without RuleID"),
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
    (f,) = findings(parse(write(tmp_path, odd)))
    assert f.weakness.vuln_id == "CVE-9" and f.weakness.severity is Severity.LOW and f.weakness.cwes == ("20",)


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
