"""The Amazon Inspector v2 parser on hand-written findings and on the real files of the corpus."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.inspector2 import Inspector2Parser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

FOLDER = "aws_inspector2_json"
LAMBDA = "arn:aws:lambda:us-west-2:111122223333:function:api"


def package(cve: str = "CVE-2026-0001", status: str = "ACTIVE", **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "findingArn": "arn:aws:inspector2:us-west-2:111122223333:finding/1",
        "awsAccountId": "111122223333",
        "type": "PACKAGE_VULNERABILITY",
        "title": f"{cve} - requests",
        "description": "A flaw.",
        "severity": "HIGH",
        "status": status,
        "firstObservedAt": "2026-01-01T00:00:00+01:00",
        "lastObservedAt": "2026-01-05T11:00:00+01:00",
        "updatedAt": "2026-01-05T11:00:00+01:00",
        "remediation": {"recommendation": {"text": "None Provided"}},
        "resources": [{"type": "AWS_LAMBDA_FUNCTION", "id": LAMBDA + ":$LATEST", "region": "us-west-2"}],
        "packageVulnerabilityDetails": {
            "vulnerabilityId": cve,
            "vulnerablePackages": [
                {"name": "requests", "version": "2.32.0", "fixedInVersion": "2.32.4", "filePath": "requirements.txt"},
                {"name": "requests", "version": "2.32.0", "filePath": "layer/requests/METADATA"},
            ],
            "cvss": [
                {"version": "3.1", "baseScore": 5.3, "scoringVector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"}
            ],
            "referenceUrls": ["https://example.com/a"],
        },
    }
    base.update(changes)
    return base


def write(tmp_path: Path, findings: list[Any] | None = None, doc: object = None, name: str = "f.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"findings": findings} if doc is None else doc))
    return path


def parse(path: Path) -> list[Any]:
    with path.open("rb") as f:
        return list(Inspector2Parser().parse(f, ParseContext(str(path), file_time=dt.datetime(2026, 2, 1))))


def found(path: Path) -> list[Finding]:
    return [r for r in parse(path) if isinstance(r, Finding)]


def test_package_vulnerability(tmp_path: Path) -> None:
    path = write(tmp_path, [package()])
    with path.open("rb") as stream:
        assert Inspector2Parser().sniff(read_head(stream))
    (f,) = found(path)  # the same package twice in one finding: one record
    assert (f.weakness.tool, f.weakness.vuln_id, f.path) == ("Amazon Inspector", "CVE-2026-0001", "requests")
    assert (f.asset.kind, f.asset.name, f.asset.account, f.asset.region) == (
        AssetKind.CLOUD_RESOURCE,
        LAMBDA,  # without the $LATEST qualifier
        "111122223333",
        "us-west-2",
    )
    assert f.observed_at == dt.datetime(2026, 1, 5, 10) and f.status is FindingStatus.OPEN
    assert f.weakness.cvss3_score == 5.3 and f.weakness.solution is None and f.weakness.severity is Severity.HIGH
    assert "requirements.txt" in (f.evidence or "") and "2.32.0" not in f.location


def test_resources_by_type(tmp_path: Path) -> None:
    ecr = {
        "type": "AWS_ECR_CONTAINER_IMAGE",
        "id": "arn:aws:ecr:us-east-1:111122223333:repository/web/sha256:aa",
        "region": "us-east-1",
        "details": {"awsEcrContainerImage": {"repositoryName": "web", "registry": "111122223333", "imageTags": ["1"]}},
    }
    ec2 = {
        "type": "AWS_EC2_INSTANCE",
        "id": "i-0abc",
        "region": "us-east-1",
        "details": {"awsEc2Instance": {"ipV4Addresses": ["10.1.2.3"]}},
    }
    other = {
        "type": "AWS_ECR_REPOSITORY",
        "id": "arn:aws:ecr:us-east-1:111122223333:repository/web",
        "region": "us-east-1",
    }
    got = {f.asset.name: f.asset for f in found(write(tmp_path, [package(resources=[ecr, ec2, other])]))}
    assert got["111122223333.dkr.ecr.us-east-1.amazonaws.com/web"].kind is AssetKind.CONTAINER_IMAGE
    assert got["arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"].ip == "10.1.2.3"
    assert got["arn:aws:ecr:us-east-1:111122223333:repository/web"].kind is AssetKind.CLOUD_RESOURCE


def test_code_and_network_findings(tmp_path: Path) -> None:
    code = package(
        type="CODE_VULNERABILITY",
        title="CWE-117 - Log injection",
        packageVulnerabilityDetails=None,
        codeVulnerabilityDetails={
            "filePath": {"fileName": "a.py", "filePath": "src/a.py", "startLine": 10, "endLine": 12},
            "ruleId": "python-log-injection",
            "detectorId": "python/log-injection@v1.0",
            "detectorName": "Log injection",
            "cwes": ["CWE-117", "CWE-93"],
        },
    )
    net = package(
        type="NETWORK_REACHABILITY",
        title="Port 22 is reachable from an Internet Gateway - TCP",
        severity="MEDIUM",
        packageVulnerabilityDetails=None,
        networkReachabilityDetails={"openPortRange": {"begin": 22, "end": 22}, "protocol": "TCP"},
    )
    c, n = found(write(tmp_path, [code, net]))
    assert (c.weakness.vuln_id, c.path, c.weakness.name, c.weakness.cwes) == (
        "python-log-injection",
        "src/a.py",
        "Log injection",
        ("117", "93"),
    )
    assert "10-12" in (c.evidence or "") and not c.weakness.is_config
    assert (n.weakness.vuln_id, n.port, n.protocol, n.weakness.is_config) == ("NETWORK_REACHABILITY", 22, "tcp", True)


def test_statuses(tmp_path: Path) -> None:
    closed = package("CVE-2026-0002", "CLOSED", updatedAt="2026-01-20T00:00:00Z")
    got = found(write(tmp_path, [package(), closed, package("CVE-2026-0003", "SUPPRESSED")]))
    assert [(f.weakness.vuln_id, f.status, f.observed_at) for f in got] == [
        ("CVE-2026-0001", FindingStatus.OPEN, dt.datetime(2026, 1, 5, 10)),
        ("CVE-2026-0002", FindingStatus.FIXED, dt.datetime(2026, 1, 20)),
    ]


def test_untriaged_severity_uses_the_inspector_score(tmp_path: Path) -> None:
    (f,) = found(write(tmp_path, [package(severity="UNTRIAGED", inspectorScore=9.1)]))
    assert f.weakness.severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, 'no "findings" list'),
        ({"findings": [package()], "nextToken": "x"}, "not valid JSON"),  # cut short below
    ],
)
def test_bad_input(tmp_path: Path, doc: object, message: str) -> None:
    path = write(tmp_path, doc=doc)
    if message == "not valid JSON":
        path.write_text(path.read_text()[:-40])
    with pytest.raises(InputError, match=message):
        parse(path)


def parse_with_context(path: Path, **context: Any) -> tuple[list[Any], ParseContext]:
    ctx = ParseContext(str(path), file_time=dt.datetime(2026, 2, 1), **context)
    with path.open("rb") as f:
        return list(Inspector2Parser().parse(f, ctx)), ctx


def test_odd_findings_are_left_out_with_a_warning(tmp_path: Path) -> None:
    two = package("CVE-2026-0004", resources=[{"type": "X"}, {"type": "AWS_LAMBDA_FUNCTION", "id": LAMBDA}])
    doc = [
        1,
        package(type="OTHER"),
        package(type=None),
        package(packageVulnerabilityDetails={}),
        package(resources=None),
        package(resources=[{"type": "X"}]),
        two,
        package("CVE-2026-0005"),
    ]
    records, ctx = parse_with_context(write(tmp_path, doc))
    got = [f for f in records if isinstance(f, Finding)]
    assert [(f.weakness.vuln_id, f.asset.name) for f in got] == [("CVE-2026-0004", LAMBDA), ("CVE-2026-0005", LAMBDA)]
    assert ctx.report.skipped == 6
    assert ctx.report.warnings == [
        "finding 1: not a JSON object; left out",
        "finding 2: finding type 'OTHER' not supported; left out",
        "finding 3: no finding type; left out",
        "finding 4: PACKAGE_VULNERABILITY without a vulnerability or rule id; left out",
        "finding 5 (CVE-2026-0001): no resources; left out",
        "finding 6 (CVE-2026-0001): a resource without id; left out",
        "finding 7 (CVE-2026-0004): 1 resource(s) without id left out",
    ]


def test_a_file_of_unreadable_findings_is_refused(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(Inspector2Parser())
    with pytest.raises(InputError, match=r"no record could be read \(2 left out; first: finding 1: finding type"):
        import_file(engine, write(tmp_path, [package(type="OTHER"), package(resources=[])]))


@pytest.mark.parametrize(
    ("status", "expected", "warning"),
    [
        ("ACTIVE", FindingStatus.OPEN, None),
        ("CLOSED", FindingStatus.FIXED, None),
        ("SUPPRESSED", None, None),
        ("WEIRD", FindingStatus.OPEN, "status 'WEIRD' not recognised; kept open"),
        ("DISMISSED", None, "status 'DISMISSED' means set aside; left out"),
    ],
)
def test_status_values(tmp_path: Path, status: str, expected: FindingStatus | None, warning: str | None) -> None:
    records, ctx = parse_with_context(write(tmp_path, [package(status=status)]))
    assert [f.status for f in records if isinstance(f, Finding)] == ([expected] if expected else [])
    assert ctx.report.warnings == ([f"finding 1 (CVE-2026-0001): {warning}"] if warning else [])


@pytest.mark.parametrize(
    ("changes", "severity", "warning"),
    [
        ({"severity": "UNTRIAGED"}, Severity.MEDIUM, None),  # documented: no rating yet
        ({"severity": "SEVERE"}, Severity.MEDIUM, "severity 'SEVERE' not recognised; rated Moderate"),
        (
            {"severity": "SEVERE", "inspectorScore": 7.5},
            Severity.HIGH,
            "severity 'SEVERE' not recognised; rated by the Inspector score",
        ),
    ],
)
def test_severity_values(tmp_path: Path, changes: dict[str, Any], severity: Severity, warning: str | None) -> None:
    records, ctx = parse_with_context(write(tmp_path, [package(**changes)]))
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert f.weakness.severity is severity
    assert ctx.report.warnings == ([f"finding 1 (CVE-2026-0001): {warning}"] if warning else [])


def test_a_port_that_is_not_a_number(tmp_path: Path) -> None:
    net = package(
        type="NETWORK_REACHABILITY",
        packageVulnerabilityDetails=None,
        networkReachabilityDetails={"openPortRange": {"begin": "ssh", "end": "ssh"}, "protocol": "TCP"},
    )
    records, ctx = parse_with_context(write(tmp_path, [net]))
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert (f.port, f.protocol) == (None, "tcp")
    assert ctx.report.warnings == ["finding 1 (NETWORK_REACHABILITY): port 'ssh' is not a number; no port"]


def test_appended_pages(tmp_path: Path) -> None:
    path = tmp_path / "pages.json"
    pages = [{"findings": [package()], "nextToken": "a"}, {"findings": []}, {"findings": [package("CVE-2026-0002")]}]
    path.write_text("\n".join(json.dumps(p, indent=1) for p in pages))
    with path.open("rb") as stream:
        assert Inspector2Parser().sniff(read_head(stream))
    assert [f.weakness.vuln_id for f in found(path)] == ["CVE-2026-0001", "CVE-2026-0002"]


def test_each_record_is_dated_by_its_update(tmp_path: Path) -> None:
    seen_later = package(updatedAt="2026-01-05T10:00:00.250Z", lastObservedAt="2026-01-05T10:00:00.750Z")
    no_update = package(updatedAt=None, lastObservedAt="2026-01-04T08:00:00Z")
    future = package(updatedAt="2200-01-01T00:00:00Z", lastObservedAt="2026-01-03T00:00:00Z")
    undated = package(updatedAt=None, lastObservedAt=None, firstObservedAt=None)
    records, ctx = parse_with_context(write(tmp_path, [seen_later, no_update, future]))
    got = [f for f in records if isinstance(f, Finding)]
    assert [(f.observed_at, f.since) for f in got] == [
        (dt.datetime(2026, 1, 5, 10, 0, 0, 250000), dt.datetime(2025, 12, 31, 23)),
        (dt.datetime(2026, 1, 4, 8), dt.datetime(2025, 12, 31, 23)),
        (dt.datetime(2026, 1, 3), dt.datetime(2025, 12, 31, 23)),
    ]
    assert ctx.report.warnings == [
        "finding 3 (CVE-2026-0001): updatedAt '2200-01-01T00:00:00Z' is in the future; dated by lastObservedAt"
    ]
    assert not ctx.report.used_file_time
    records, ctx = parse_with_context(write(tmp_path, [undated]))
    assert [f.observed_at for f in records if isinstance(f, Finding)] == [ctx.file_time]
    assert ctx.report.used_file_time


T1 = "2026-01-10T08:00:00.250Z"
T2 = "2026-01-10T08:00:00.750Z"


@pytest.mark.parametrize(
    ("records", "state"),
    [
        ([("ACTIVE", T2), ("CLOSED", T1)], ItemStatus.OPEN),
        ([("CLOSED", T1), ("ACTIVE", T2)], ItemStatus.OPEN),
        ([("ACTIVE", T1), ("CLOSED", T2)], ItemStatus.CLOSED),
        ([("CLOSED", T2), ("ACTIVE", T1)], ItemStatus.CLOSED),
        ([("CLOSED", T1), ("ACTIVE", T1)], ItemStatus.OPEN),
        ([("ACTIVE", T1), ("CLOSED", T1)], ItemStatus.OPEN),
    ],
    ids=["older-closed-last", "older-closed-first", "newer-closed-last", "newer-closed-first", "tie", "tie-2"],
)
def test_the_newest_record_of_a_finding_decides(
    engine: Engine, register_parser: Any, tmp_path: Path, records: list[tuple[str, str]], state: ItemStatus
) -> None:
    register_parser(Inspector2Parser())
    import_file(engine, write(tmp_path, [package(updatedAt="2026-01-01T00:00:00Z")], name="jan.json"))
    doc = [
        package(status=status, updatedAt=when, lastObservedAt="2026-01-09T00:00:00Z", findingArn=f"arn:x/{n}")
        for n, (status, when) in enumerate(records)
    ]
    r = import_file(engine, write(tmp_path, doc, name="feb.json"))
    assert r.results == 2
    assert items_by_id(engine)["CVE-2026-0001"].status is state


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    odd = package(severity=None, remediation="x", inspectorScoreDetails=[], epss=None)
    odd["packageVulnerabilityDetails"]["vulnerablePackages"] = [None, {"name": 3}]
    odd["packageVulnerabilityDetails"]["cvss"] = [{"version": None}, "x", {"version": "2.0", "baseScore": "bad"}]
    records, ctx = parse_with_context(write(tmp_path, [odd]))
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert f.path == "3" and f.weakness.severity is Severity.MEDIUM  # no rating at all: medium
    assert ctx.report.warnings == ["finding 1 (CVE-2026-0001): severity missing not recognised; rated Moderate"]


# --- the real files of the corpus ---------------------------------------------------------------


def _expected(path: Path) -> list[tuple[str, str, str, str | None]]:
    """(id, status, resource id, package or file) for each finding, resource and package name."""
    out = []
    for f in json.loads(path.read_text())["findings"]:
        if f["status"] == "SUPPRESSED":
            continue
        status = "fixed" if f["status"] == "CLOSED" else "open"
        if f["type"] == "PACKAGE_VULNERABILITY":
            d = f["packageVulnerabilityDetails"]
            vid, places = d["vulnerabilityId"], sorted({p["name"] for p in d["vulnerablePackages"]})
        else:
            d = f["codeVulnerabilityDetails"]
            vid, places = d["ruleId"], [d["filePath"]["filePath"]]
        for r in f["resources"]:
            for p in places:
                out.append((vid, status, r["id"], p))
    return sorted(out, key=str)


@pytest.mark.corpus
def test_every_corpus_file_matches_an_independent_count() -> None:
    files = sorted(corpus_dir(FOLDER).iterdir())
    assert len(files) == 4
    for path in files:
        if path.name == "defectdojo__aws_inspector2__empty_with_error.json":  # PEER-INVALID
            with pytest.raises(InputError, match="findings") as caught:
                parse(path)
            assert "\n" not in str(caught.value)
            continue
        got = sorted(((f.weakness.vuln_id, f.status.value, f.asset.name or "", f.path) for f in found(path)), key=str)
        expected = _expected(path)
        assert len(got) == len(expected), path.name
        for (vid, status, rid, place), (gvid, gstatus, name, gplace) in zip(expected, got, strict=True):
            assert (vid, status, place) == (gvid, gstatus, gplace), path.name
            if ":repository/" in rid:  # an ECR image: its repository's registry URI
                assert name.endswith(".amazonaws.com/" + rid.split(":repository/")[1].split("/sha256:")[0]), name
            else:  # an ARN, without a Lambda version qualifier
                assert rid.startswith(name), (rid, name)
        assert isinstance(parse(path)[-1], Scan)


@pytest.mark.corpus
def test_corpus_assets() -> None:
    got = found(corpus_dir(FOLDER) / "defectdojo__aws_inspector2__aws_inspector2_package_vuln_metadata.json")
    names = {(f.asset.name, f.asset.account) for f in got}
    base = "arn:aws:lambda:us-west-2:{}:function:web-user-manager-api-stage-healthCheck-EXAMPLE1ABCD"
    assert names == {(base.format("123456789012"), "123456789012"), (base.format("123456789014"), "123456789014")}
    one = found(corpus_dir(FOLDER) / "defectdojo__aws_inspector2__aws_inspector2_one_vul.json")
    assert [(f.asset.kind, f.asset.name) for f in one] == [
        (AssetKind.CONTAINER_IMAGE, "012345678901.dkr.ecr.us-east-1.amazonaws.com/my-awesome-docker-image")
    ]


@pytest.mark.corpus
def test_sniff_claims_exactly_the_inspector_files() -> None:
    parser = Inspector2Parser()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            claimed = parser.sniff(read_head(f))
        expected = path.parent.name == FOLDER and path.name != "defectdojo__aws_inspector2__empty_with_error.json"
        assert claimed == expected, path


@pytest.mark.corpus
def test_peer_invalid_file_is_refused_on_import(engine: Engine) -> None:
    path = corpus_dir(FOLDER) / "defectdojo__aws_inspector2__empty_with_error.json"
    with pytest.raises(InputError):
        import_file(engine, path)


# --- end to end ---------------------------------------------------------------------------------


def items_by_id(engine: Engine, system: str | None = None) -> dict[str, Any]:
    with engine.begin() as conn:
        return {i.source_identifier: i for i in load(conn, systems.resolve(conn, system, "t").id, "all")}


def test_closed_findings_close_items(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(Inspector2Parser())
    r = import_file(engine, write(tmp_path, [package(), package("CVE-2026-0002")], name="jan.json"))
    assert (r.format, r.tool, r.items_opened, r.assets_covered) == ("aws-inspector2", "Amazon Inspector", 2, 0)
    assert [a.text for a in items_by_id(engine)["CVE-2026-0001"].assets] == [f"{LAMBDA} (requests)"]
    # February lists CVE-0001 as CLOSED and leaves CVE-0002 out: only the first closes.
    feb = [package(status="CLOSED", updatedAt="2026-02-05T00:00:00Z")]
    r2 = import_file(engine, write(tmp_path, feb, name="feb.json"))
    assert (r2.fixed_findings, r2.items_closed) == (1, 1)
    items = items_by_id(engine)
    assert items["CVE-2026-0001"].status is ItemStatus.CLOSED and items["CVE-2026-0002"].status is ItemStatus.OPEN


@pytest.mark.corpus
def test_corpus_files_import_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(Inspector2Parser())
    for n, path in enumerate(sorted(corpus_dir(FOLDER).iterdir())):
        if "empty_with_error" in path.name:
            continue
        name = f"i{n}"
        systems.add_system(engine, name, "test")
        assert import_file(engine, path, system=name).format == "aws-inspector2"
        expected = {vid for vid, status, _r, _p in _expected(path) if status == "open"}
        assert set(items_by_id(engine, name)) == expected, path.name


def test_bare_findings_one_per_line_or_as_an_array(tmp_path: Path) -> None:
    """`jq -c '.findings[]'` writes one finding per line; `--query findings` writes an array."""
    for name, text in (
        ("lines.json", json.dumps(package()) + "\n" + json.dumps(package("CVE-2026-0002")) + "\n"),
        ("array.json", json.dumps([package(), package("CVE-2026-0002")])),
    ):
        path = tmp_path / name
        path.write_text(text)
        assert [f.weakness.vuln_id for f in found(path)] == ["CVE-2026-0001", "CVE-2026-0002"]
    with (tmp_path / "lines.json").open("rb") as stream:
        assert Inspector2Parser().sniff(read_head(stream))
    with pytest.raises(InputError, match=r"document 2: not Inspector list-findings output"):
        parse(_text(tmp_path, json.dumps(package()) + "{}"))


def _text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.json"
    path.write_text(text)
    return path
