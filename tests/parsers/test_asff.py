"""The AWS Security Hub ASFF parser on hand-written findings and on the real files of the corpus."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from poam.domain.models import AssetKind, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.asff import AsffParser
from poam.parsers.base import ParseContext
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from poam.store.tables import findings as finding_rows
from poam.store.tables import weaknesses
from tests.conftest import CORPUS, corpus_dir

FOLDER = "asff_json"
EC2 = "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"


def asff(**changes: Any) -> dict[str, Any]:
    """An Inspector CVE finding on an EC2 instance; `changes` replace top-level keys."""
    base: dict[str, Any] = {
        "SchemaVersion": "2018-10-08",
        "Id": "arn:aws:inspector2:us-east-1:111122223333:finding/abc",
        "ProductArn": "arn:aws:securityhub:us-east-1::product/aws/inspector",
        "ProductName": "Inspector",
        "GeneratorId": "AWSInspector",
        "AwsAccountId": "111122223333",
        "Region": "us-east-1",
        "Types": ["Software and Configuration Checks/Vulnerabilities/CVE"],
        "FirstObservedAt": "2026-01-01T00:00:00Z",
        "LastObservedAt": "2026-01-05T10:00:00Z",
        "CreatedAt": "2026-01-01T00:00:00Z",
        "UpdatedAt": "2026-01-05T10:00:00Z",
        "Severity": {"Label": "HIGH", "Normalized": 70},
        "Title": "CVE-2026-0001 - openssl",
        "Description": "A flaw.",
        "Remediation": {"Recommendation": {"Text": "Upgrade", "Url": "https://example.com/fix"}},
        "Resources": [{"Type": "AwsEc2Instance", "Id": EC2, "Partition": "aws", "Region": "us-east-1"}],
        "Workflow": {"Status": "NEW"},
        "RecordState": "ACTIVE",
        "Vulnerabilities": [
            {
                "Id": "CVE-2026-0001",
                "VulnerablePackages": [{"Name": "openssl", "Version": "3.0.1", "FixedInVersion": "3.0.9"}],
                "Cvss": [{"Version": "3.1", "BaseVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            }
        ],
    }
    base.update(changes)
    return base


def control(control_id: str = "S3.8", status: str = "FAILED", **changes: Any) -> dict[str, Any]:
    """A Security Hub control finding on an S3 bucket."""
    f = asff(
        ProductName="Security Hub",
        ProductArn="arn:aws:securityhub:us-east-1::product/aws/securityhub",
        GeneratorId=f"security-control/{control_id}",
        Types=["Software and Configuration Checks/Industry and Regulatory Standards"],
        Title=f"{control_id} S3 Block Public Access should be enabled",
        Compliance={
            "Status": status,
            "SecurityControlId": control_id,
            "RelatedRequirements": ["NIST.800-53.r5 AC-21", "NIST.800-53.r5 SC-7(11)", "PCI DSS v3.2.1/1.3.1"],
        },
        Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::bucket-a", "Region": "us-east-1"}],
    )
    del f["Vulnerabilities"]
    f.update(changes)
    return f


def write(tmp_path: Path, doc: object, name: str = "f.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def parse(path: Path) -> list[Any]:
    with path.open("rb") as f:
        return list(AsffParser().parse(f, ParseContext(str(path), file_time=dt.datetime(2026, 2, 1))))


def parse_with_context(path: Path, **context: Any) -> tuple[list[Any], ParseContext]:
    ctx = ParseContext(str(path), file_time=dt.datetime(2026, 2, 1), **context)
    with path.open("rb") as f:
        return list(AsffParser().parse(f, ctx)), ctx


def findings(path: Path) -> list[Finding]:
    return [r for r in parse(path) if isinstance(r, Finding)]


@pytest.mark.parametrize("envelope", ["Findings", "findings", None])
def test_every_envelope_gives_the_same_findings(tmp_path: Path, envelope: str | None) -> None:
    doc: object = [asff()] if envelope is None else {envelope: [asff()], "NextToken": "x"}
    path = write(tmp_path, doc)
    with path.open("rb") as stream:
        assert AsffParser().sniff(read_head(stream))
    (f,) = findings(path)
    assert (f.weakness.tool, f.weakness.vuln_id, f.weakness.severity) == (
        "Amazon Inspector",
        "CVE-2026-0001",
        Severity.HIGH,
    )
    assert (f.asset.kind, f.asset.name, f.asset.account, f.asset.region) == (
        AssetKind.CLOUD_RESOURCE,
        EC2,
        "111122223333",
        "us-east-1",
    )
    assert f.path == "openssl" and f.status is FindingStatus.OPEN
    assert f.weakness.cvss3_score == 9.8 and f.weakness.cves == ("CVE-2026-0001",)
    assert not f.weakness.is_config
    assert "3.0.1" in (f.evidence or "") and "3.0.1" not in f.location  # versions are evidence, not identity


def test_one_finding_per_resource_and_package(tmp_path: Path) -> None:
    f = asff(Resources=[{"Type": "AwsEc2Instance", "Id": EC2}, {"Type": "AwsEc2Instance", "Id": EC2 + "2"}])
    f["Vulnerabilities"][0]["VulnerablePackages"] += [
        {"Name": "openssl", "Version": "1.1", "FilePath": "/opt/a"},  # the same package twice: one finding
        {"Name": "libssl", "Version": "3.0.1"},
    ]
    got = {(x.asset.name, x.path) for x in findings(write(tmp_path, [f]))}
    assert got == {(EC2, "openssl"), (EC2, "libssl"), (EC2 + "2", "openssl"), (EC2 + "2", "libssl")}


def test_asset_names_are_stable_identities(tmp_path: Path) -> None:
    ecr = {
        "Type": "AwsEcrContainerImage",
        "Id": "arn:aws:ecr:us-east-1:111122223333:repository/team/web/sha256:abc",
        "Details": {"AwsEcrContainerImage": {"RepositoryName": "team/web", "RegistryId": "111122223333"}},
    }
    lam = {"Type": "AwsLambdaFunction", "Id": "arn:aws:lambda:us-east-1:111122223333:function:fn:$LATEST"}
    bare = {
        "Type": "AwsEc2Instance",
        "Id": "i-0def",
        "Details": {"AwsEc2Instance": {"IpV4Addresses": ["0.0.0.0", "10.0.0.9"]}},
    }
    short = {"Type": "AwsEc2Instance", "Id": "arn:aws:ec2:us-east-1:111122223333:i-0fed"}  # no `instance/`
    trivy = {"Type": "Container", "Id": "ghcr.io/acme/api:1.2@sha256:ff", "Details": {"Container": {}}}
    got = {x.asset.name: x.asset for x in findings(write(tmp_path, [asff(Resources=[ecr, lam, bare, short, trivy])]))}
    image = got["111122223333.dkr.ecr.us-east-1.amazonaws.com/team/web"]
    assert image.kind is AssetKind.CONTAINER_IMAGE
    assert got["arn:aws:lambda:us-east-1:111122223333:function:fn"].kind is AssetKind.CLOUD_RESOURCE
    assert got["arn:aws:ec2:us-east-1:111122223333:instance/i-0def"].ip == "10.0.0.9"
    assert "arn:aws:ec2:us-east-1:111122223333:instance/i-0fed" in got
    assert got["ghcr.io/acme/api"].kind is AssetKind.CONTAINER_IMAGE


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"Workflow": {"Status": "RESOLVED"}}, FindingStatus.FIXED),
        ({"RecordState": "ARCHIVED"}, None),  # deleted resource, disabled control or suppression: no fix
        ({"RecordState": "ARCHIVED", "Compliance": {"Status": "PASSED"}}, FindingStatus.FIXED),
        ({"Workflow": {"Status": "NOTIFIED"}}, FindingStatus.OPEN),
        ({"Workflow": {"Status": "SUPPRESSED"}}, None),
        ({"Workflow": None, "WorkflowState": "SUPPRESSED"}, None),
    ],
)
def test_workflow_and_record_state(tmp_path: Path, changes: dict[str, Any], status: FindingStatus | None) -> None:
    got = findings(write(tmp_path, [asff(**changes)]))
    assert [f.status for f in got] == ([status] if status else [])


def test_posture_findings_use_the_control_id(tmp_path: Path) -> None:
    legacy = control("X", ProductFields={"ControlId": "IAM.5"}, GeneratorId="aws-foundational/v/1.0.0/IAM.5")
    legacy["Compliance"] = {"Status": "FAILED"}
    generator = control("Y", GeneratorId="custom-rule-7")
    generator["Compliance"] = {"Status": "WARNING"}
    got = findings(
        write(tmp_path, [control(), control("S3.1", "PASSED"), control("S3.2", "NOT_AVAILABLE"), legacy, generator])
    )
    assert [(f.weakness.vuln_id, f.status) for f in got] == [
        ("S3.8", FindingStatus.OPEN),
        ("S3.1", FindingStatus.FIXED),
        ("IAM.5", FindingStatus.OPEN),  # never the versioned GeneratorId
        ("custom-rule-7", FindingStatus.OPEN),
    ]
    first = got[0].weakness
    assert first.tool == "AWS Security Hub" and first.is_config and first.controls == ("AC-21", "SC-7(11)")
    assert got[0].asset.name == "arn:aws:s3:::bucket-a" and got[0].path is None


def test_guardduty_findings_use_the_finding_type(tmp_path: Path) -> None:
    gd = asff(
        ProductName=None,
        ProductFields={"aws/securityhub/ProductName": "GuardDuty"},
        GeneratorId="arn:aws:guardduty:us-east-1:111122223333:detector/123",
        Types=["TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce"],
        Severity={"Normalized": 40},
        LastObservedAt="2200-01-01T00:00:00Z",  # GuardDuty sample findings: later than the update
    )
    del gd["Vulnerabilities"]
    (f,) = findings(write(tmp_path, [gd]))
    assert (f.weakness.tool, f.weakness.vuln_id) == ("Amazon GuardDuty", "UnauthorizedAccess:EC2-SSHBruteForce")
    assert f.weakness.severity is Severity.MEDIUM and not f.weakness.is_config
    assert f.observed_at == dt.datetime(2026, 1, 5, 10, 0)


def test_third_party_producers_keep_their_names(tmp_path: Path) -> None:
    prowler = control("Z", ProductName="Prowler", GeneratorId="prowler-s3_bucket_public_access")
    prowler["Compliance"] = {"Status": "FAILED"}
    (f,) = findings(write(tmp_path, [prowler]))
    assert (f.weakness.tool, f.weakness.vuln_id) == ("Prowler", "s3_bucket_public_access")


def test_times(tmp_path: Path) -> None:
    fixed = asff(Workflow={"Status": "RESOLVED"}, UpdatedAt="2026-01-20T00:00:00Z")
    undated = asff(LastObservedAt=None, UpdatedAt=None, FirstObservedAt=None, CreatedAt=None)
    got = findings(write(tmp_path, [asff(), fixed, undated]))
    assert [f.observed_at for f in got] == [
        dt.datetime(2026, 1, 5, 10),
        dt.datetime(2026, 1, 20),
        dt.datetime(2026, 2, 1),
    ]
    scan = parse(write(tmp_path, [asff()]))[-1]
    assert isinstance(scan, Scan) and scan.tool == "Amazon Inspector"


def test_each_record_is_dated_by_its_update_at_full_precision(tmp_path: Path) -> None:
    seen_later = asff(UpdatedAt="2026-01-05T10:00:00.250Z", LastObservedAt="2026-01-05T10:00:00.750Z")
    seen_earlier = asff(UpdatedAt="2026-01-06T00:00:00.5Z", LastObservedAt="2026-01-03T00:00:00Z")
    no_update = asff(UpdatedAt=None, LastObservedAt="2026-01-04T08:00:00Z")
    first_only = asff(UpdatedAt=None, LastObservedAt=None, FirstObservedAt=None, CreatedAt="2025-12-30T00:00:00Z")
    records, ctx = parse_with_context(write(tmp_path, [seen_later, seen_earlier, no_update, first_only]))
    got = [f for f in records if isinstance(f, Finding)]
    assert [f.observed_at for f in got] == [
        dt.datetime(2026, 1, 5, 10, 0, 0, 250000),  # the update, not the later observation
        dt.datetime(2026, 1, 6, 0, 0, 0, 500000),
        dt.datetime(2026, 1, 4, 8),
        dt.datetime(2025, 12, 30),
    ]
    # the tool's detection time: FirstObservedAt, else CreatedAt
    assert [f.since for f in got] == [dt.datetime(2026, 1, 1)] * 3 + [dt.datetime(2025, 12, 30)]
    assert not ctx.report.used_file_time and ctx.report.warnings == []
    scan = records[-1]
    assert isinstance(scan, Scan)
    assert (scan.started_at, scan.ended_at) == (dt.datetime(2025, 12, 30), dt.datetime(2026, 1, 6, 0, 0, 0, 500000))


def test_times_in_the_future_are_passed_over(tmp_path: Path) -> None:
    future = asff(UpdatedAt="2200-01-01T00:00:00Z", LastObservedAt="2026-01-04T00:00:00Z")
    unreadable = asff(UpdatedAt="soon", LastObservedAt="2201-01-01T00:00:00Z", FirstObservedAt=None, CreatedAt=None)
    records, ctx = parse_with_context(write(tmp_path, [future, unreadable]))
    got = [f for f in records if isinstance(f, Finding)]
    assert [(f.observed_at, f.since) for f in got] == [
        (dt.datetime(2026, 1, 4), dt.datetime(2026, 1, 1)),
        (dt.datetime(2026, 2, 1), None),  # nothing usable: the file's time
    ]
    assert ctx.report.used_file_time
    assert ctx.report.warnings == [
        "finding 1 (CVE-2026-0001): UpdatedAt '2200-01-01T00:00:00Z' is in the future; dated by LastObservedAt",
        "finding 2 (CVE-2026-0001): UpdatedAt 'soon' is not a date; dated by the file",
        "finding 2 (CVE-2026-0001): LastObservedAt '2201-01-01T00:00:00Z' is in the future; dated by the file",
    ]


def test_an_undated_record_takes_the_file_time(tmp_path: Path) -> None:
    undated = asff(LastObservedAt=None, UpdatedAt=None, FirstObservedAt=None, CreatedAt=None)
    records, ctx = parse_with_context(write(tmp_path, [undated]))
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert f.observed_at == ctx.file_time and f.since is None and ctx.report.used_file_time
    records, ctx = parse_with_context(write(tmp_path, [undated]), scan_date=dt.datetime(2026, 3, 1))
    assert [r.observed_at for r in records if isinstance(r, Finding)] == [dt.datetime(2026, 3, 1)]
    assert not ctx.report.used_file_time


# --- JSON Lines, concatenated pages, bare findings ----------------------------------------------


def prowler_asff(check: str, status: str, updated: str, **changes: Any) -> dict[str, Any]:
    """A finding as Prowler's json-asff output writes it (one per line)."""
    f = control(
        ProductArn="arn:aws:securityhub:us-east-1::product/prowler/prowler",
        ProductName=None,
        ProductFields={"ProviderName": "Prowler", "ProviderVersion": "2.12.0", "ProwlerResourceName": "bucket-a"},
        GeneratorId=f"prowler-{check}",
        Id=f"prowler-{check}-111122223333-us-east-1-{updated}",
        FirstObservedAt=updated,
        CreatedAt=updated,
        UpdatedAt=updated,
        Severity={"Label": "HIGH"},
    )
    f["Compliance"] = {"Status": status, "RelatedRequirements": []}
    f.pop("LastObservedAt")
    f.update(changes)
    return f


BUCKET_B = [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b"}]


def json_lines(*values: object) -> str:
    return "".join(json.dumps(v) + "\n" for v in values)


@pytest.mark.parametrize(
    "text",
    [
        json_lines(asff(), asff(Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b"}])),  # JSON Lines
        json.dumps(asff(), indent=2)
        + "\n"
        + json.dumps(asff(Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b"}])),
        json.dumps({"Findings": [asff()], "NextToken": "a"})
        + json.dumps({"Findings": [asff(Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b"}])]}),
        json_lines([asff()], [asff(Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b"}])]),
        json_lines(asff(), {"Findings": [asff(Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::b"}])]}),
    ],
    ids=["json-lines", "concatenated-objects", "concatenated-pages", "concatenated-arrays", "finding-then-page"],
)
def test_several_documents_in_one_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(text)
    with path.open("rb") as stream:
        assert AsffParser().sniff(read_head(stream))
    assert [(f.weakness.vuln_id, f.asset.name) for f in findings(path)] == [
        ("CVE-2026-0001", EC2),
        ("CVE-2026-0001", "arn:aws:s3:::b"),
    ]


def test_a_single_bare_finding(tmp_path: Path) -> None:
    path = write(tmp_path, asff())
    with path.open("rb") as stream:
        assert AsffParser().sniff(read_head(stream))
    assert [(f.weakness.vuln_id, f.asset.name) for f in findings(path)] == [("CVE-2026-0001", EC2)]


def test_prowler_json_asff_lines(tmp_path: Path) -> None:
    text = json_lines(
        prowler_asff("s3_bucket_public_access", "FAILED", "2026-01-05T10:00:00Z"),
        prowler_asff("iam_root_mfa", "PASSED", "2026-01-05T10:00:00Z"),
        prowler_asff("s3_bucket_versioning", "WARNING", "2026-01-05T10:00:00Z"),  # muted in Prowler
    )
    path = tmp_path / "prowler-output-111122223333.asff.json"
    path.write_text(text)
    with path.open("rb") as stream:
        assert AsffParser().sniff(read_head(stream))
    got = findings(path)
    assert [(f.weakness.tool, f.weakness.vuln_id, f.status) for f in got] == [
        ("Prowler", "s3_bucket_public_access", FindingStatus.OPEN),  # as Prowler's own reports name it
        ("Prowler", "iam_root_mfa", FindingStatus.FIXED),
    ]


@pytest.mark.parametrize("format_id", [None, "asff"])
def test_json_lines_import_detected_or_named(
    engine: Engine, register_parser: Any, tmp_path: Path, format_id: str | None
) -> None:
    register_parser(AsffParser())
    path = tmp_path / "out.json"
    path.write_text(json_lines(asff(), control()))
    r = import_file(engine, path, format_id=format_id)
    assert (r.format, r.results, r.items_opened, r.date_source) == ("asff", 2, 2, "file")
    assert set(items_by_id(engine)) == {"CVE-2026-0001", "S3.8"}


def test_missing_account_is_fine(tmp_path: Path) -> None:
    f = asff(AwsAccountId=None, Resources=[{"Type": "AwsEc2Instance", "Id": "i-0abc", "Region": "us-east-1"}])
    (got,) = findings(write(tmp_path, [f]))
    assert (got.asset.name, got.asset.account) == ("i-0abc", None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps({"Other": []}), "not ASFF"),
        (json.dumps([]) + "\n" + json.dumps({"Findings": [asff()]})[:-2], "not valid JSON"),
        ("[1, 2", "not valid JSON"),
    ],
)
def test_broken_structure_is_an_input_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        parse(path)


def test_odd_records_are_left_out_with_a_warning(tmp_path: Path) -> None:
    two = asff(Resources=[{"Type": "AwsEc2Instance"}, {"Type": "AwsEc2Instance", "Id": EC2}])
    doc = [
        1,
        asff(Resources=None),
        asff(Resources=[{"Type": "X"}]),
        control(GeneratorId=None, Compliance={}),
        two,
        asff(Vulnerabilities=[{"Id": "CVE-2026-0002"}]),
    ]
    records, ctx = parse_with_context(write(tmp_path, doc))
    got = [f for f in records if isinstance(f, Finding)]
    assert [(f.weakness.vuln_id, f.asset.name) for f in got] == [("CVE-2026-0001", EC2), ("CVE-2026-0002", EC2)]
    assert ctx.report.skipped == 4
    assert ctx.report.warnings == [
        "finding 1: not a JSON object; left out",
        "finding 2 (CVE-2026-0001): no Resources; left out",
        "finding 3 (CVE-2026-0001): a resource without Id; left out",
        "finding 4: no GeneratorId, control id or vulnerability id; left out",
        "finding 5 (CVE-2026-0001): 1 resource(s) without Id left out",
    ]


def test_a_file_of_unreadable_records_is_refused(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(AsffParser())
    with pytest.raises(InputError, match=r"no record could be read \(2 left out; first: finding 1: not a JSON"):
        import_file(engine, write(tmp_path, {"Findings": [1, asff(Resources=[])]}))


@pytest.mark.parametrize(
    ("changes", "status", "warning"),
    [
        ({"Compliance": {"Status": "WARNING"}}, FindingStatus.OPEN, None),  # Security Hub: check incomplete
        ({"Workflow": None, "WorkflowState": "DEFERRED"}, FindingStatus.OPEN, None),
        ({"Compliance": {"Status": "ERROR"}}, FindingStatus.OPEN, "status 'ERROR' not recognised; kept open"),
        ({"RecordState": "DELETED"}, FindingStatus.OPEN, "status 'DELETED' not recognised; kept open"),
        ({"Workflow": {"Status": "DISMISSED"}}, None, "status 'DISMISSED' means set aside; left out"),
        (
            {"Workflow": {"Status": "CLOSED"}, "Compliance": {"Status": "PASSED"}},
            FindingStatus.FIXED,
            "status 'CLOSED' not recognised; ignored",
        ),
    ],
)
def test_status_values_asff_does_not_document(
    tmp_path: Path, changes: dict[str, Any], status: FindingStatus | None, warning: str | None
) -> None:
    records, ctx = parse_with_context(write(tmp_path, [asff(**changes)]))
    assert [f.status for f in records if isinstance(f, Finding)] == ([status] if status else [])
    assert ctx.report.warnings == ([f"finding 1 (CVE-2026-0001): {warning}"] if warning else [])


def test_an_unreadable_severity_is_moderate_with_a_warning(tmp_path: Path) -> None:
    records, ctx = parse_with_context(write(tmp_path, [asff(Severity={"Label": "SEVERE"})]))
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert f.weakness.severity is Severity.MEDIUM
    assert ctx.report.warnings == ["finding 1 (CVE-2026-0001): severity 'SEVERE' not recognised; rated Moderate"]


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    odd = asff(Severity="HIGH", Vulnerabilities={"Id": 1}, Types=None, Remediation=[], Title=5)
    odd2 = asff(Severity={"Normalized": "x"}, Workflow="NEW", Compliance=[1])
    odd2["Vulnerabilities"][0]["Cvss"] = [{"Version": 3, "BaseScore": "n/a"}, "x"]
    odd2["Vulnerabilities"][0]["VulnerablePackages"] = [None, {"Name": None}]
    got = findings(write(tmp_path, [odd, odd2]))
    assert len(got) == 2


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(json.dumps({"Findings": [asff(), asff()]})[:-300])
    with pytest.raises(InputError):
        parse(path)


# --- the real files of the corpus ---------------------------------------------------------------


def _expected(path: Path) -> list[tuple[str, str, str, str | None]]:
    """(vulnerability or control id, status, resource id, package) per finding, resource and
    package, read with json.load and plain loops."""
    doc = json.loads(path.read_text())
    found = doc if isinstance(doc, list) else doc.get("Findings", doc.get("findings"))
    out = []
    for f in found:
        workflow = (f.get("Workflow") or {}).get("Status")
        compliance = (f.get("Compliance") or {}).get("Status")
        archived = f.get("RecordState") == "ARCHIVED" and compliance != "PASSED" and workflow != "RESOLVED"
        if workflow == "SUPPRESSED" or archived:
            continue
        status = "fixed" if compliance == "PASSED" or workflow == "RESOLVED" else "open"
        vulns = f.get("Vulnerabilities") or []
        if vulns:
            vid = vulns[0]["Id"]
        elif "guardduty" in f["ProductArn"].lower():
            vid = f["Types"][0].split("/")[-1]
        elif "CVE" in f["Types"][0]:
            vid = f["Title"].split(" ")[0]
        else:
            vid = (
                (f.get("Compliance") or {}).get("SecurityControlId")
                or f["ProductFields"].get("ControlId")
                or f["GeneratorId"]
            )
        packages = sorted({p["Name"] for v in vulns for p in v.get("VulnerablePackages", [])}) or [None]
        for r in f["Resources"]:
            for p in packages:
                out.append((vid, status, r["Id"], p))
    return sorted(out, key=str)


def _resource_key(resource_id: str) -> str:
    """What of a resource id must survive in the asset name (instance id, repository, the id itself)."""
    if ":repository/" in resource_id:
        return resource_id.split(":repository/")[1].split("/sha256:")[0]
    if resource_id.split(":")[-1].split("/")[-1].startswith("i-"):
        return resource_id.split(":")[-1].split("/")[-1]
    return resource_id


@pytest.mark.corpus
def test_every_corpus_file_matches_an_independent_count() -> None:
    files = sorted(corpus_dir(FOLDER).iterdir())
    assert len(files) == 11
    for path in files:
        got = findings(path)
        expected = _expected(path)
        assert len(got) == len(expected), path.name
        pairs = sorted(((f.weakness.vuln_id, f.status.value, f.asset.name or "", f.path) for f in got), key=str)
        for (vid, status, rid, pkg), (gvid, gstatus, name, gpkg) in zip(expected, pairs, strict=True):
            assert (vid, status, pkg) == (gvid, gstatus, gpkg), path.name
            assert _resource_key(rid) in name, (path.name, rid, name)
        for f in got:
            assert f.asset.kind in (AssetKind.CLOUD_RESOURCE, AssetKind.CONTAINER_IMAGE)
            assert f.asset.region and f.observed_at.year < 2100, path.name


@pytest.mark.corpus
def test_corpus_assets_and_tools() -> None:
    ecr = findings(corpus_dir(FOLDER) / "defectdojo__awssecurityhub__inspector_ecr.json")
    assert {f.asset.name for f in ecr} >= {"123456789012.dkr.ecr.eu-central-1.amazonaws.com/repo-os"}
    assert all(f.asset.kind is AssetKind.CONTAINER_IMAGE and "sha256" not in (f.asset.name or "") for f in ecr)
    missing = findings(corpus_dir(FOLDER) / "defectdojo__awssecurityhub__missing_account_id.json")
    assert [(f.asset.name, f.asset.account, f.weakness.vuln_id) for f in missing] == [
        ("i-1234xxyy", None, "CVE-2024-1234")
    ]
    gd = findings(corpus_dir(FOLDER) / "defectdojo__awssecurityhub__guardduty.json")
    assert {f.weakness.tool for f in gd} == {"Amazon GuardDuty"}
    assert all(f.observed_at.year == 2024 or f.observed_at.year == 2023 for f in gd)


@pytest.mark.corpus
def test_sniff_claims_exactly_the_asff_files() -> None:
    parser = AsffParser()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            claimed = parser.sniff(read_head(f))
        assert claimed == (path.parent.name == FOLDER), path


# --- end to end ---------------------------------------------------------------------------------


def items_by_id(engine: Engine, system: str | None = None) -> dict[str, Any]:
    with engine.begin() as conn:
        return {i.source_identifier: i for i in load(conn, systems.resolve(conn, system, "t").id, "all")}


def test_resolved_and_passed_records_close_items(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(AsffParser())
    jan = [asff(), control(), control(Resources=[{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::bucket-b"}])]
    r = import_file(engine, write(tmp_path, {"Findings": jan}, "jan.json"))
    assert (r.format, r.results, r.items_opened, r.assets_covered) == ("asff", 3, 2, 0)
    items = items_by_id(engine)
    assert {a.text for a in items["S3.8"].assets} == {"arn:aws:s3:::bucket-a", "arn:aws:s3:::bucket-b"}
    assert [a.text for a in items["CVE-2026-0001"].assets] == [f"{EC2} (openssl)"]
    # February: the CVE is resolved, bucket-a passes; bucket-b is not in the export and stays open.
    later = {"LastObservedAt": "2026-02-05T10:00:00Z", "UpdatedAt": "2026-02-05T10:00:00Z"}
    feb = [asff(Workflow={"Status": "RESOLVED"}, **later), control(status="PASSED", **later)]
    r2 = import_file(engine, write(tmp_path, {"Findings": copy.deepcopy(feb)}, "feb.json"))
    assert (r2.fixed_findings, r2.items_closed) == (2, 1)
    items = items_by_id(engine)
    assert items["CVE-2026-0001"].status is ItemStatus.CLOSED
    assert items["S3.8"].status is ItemStatus.OPEN
    assert [a.text for a in items["S3.8"].assets] == ["arn:aws:s3:::bucket-b"]


@pytest.mark.corpus
def test_corpus_files_import_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(AsffParser())
    for n, path in enumerate(sorted(corpus_dir(FOLDER).iterdir())):
        name = f"a{n}"
        systems.add_system(engine, name, "test")
        result = import_file(engine, path, system=name)
        assert result.format == "asff", path.name
        opened = {
            f.weakness.vuln_id
            for f in findings(path)
            if f.status is FindingStatus.OPEN and f.weakness.severity is not Severity.INFO
        }
        assert set(items_by_id(engine, name)) == opened, path.name


@pytest.mark.parametrize("batch", [1, 1000])
def test_a_passed_record_first_does_not_rate_the_failing_ones(
    engine: Engine, register_parser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr("poam.services.importer.BATCH", batch)  # passed and failed in different batches
    register_parser(AsffParser())
    info = {"Label": "INFORMATIONAL", "Normalized": 0}  # how Security Hub rates a passed control
    bucket_b = [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::bucket-b", "Region": "us-east-1"}]
    doc = [control(status="PASSED", Severity=info, Resources=bucket_b, Id="p"), control(Id="f")]
    path = write(tmp_path, doc)
    rated = {f.asset.name: (f.status, f.weakness.severity) for f in findings(path)}
    assert rated == {
        "arn:aws:s3:::bucket-b": (FindingStatus.FIXED, Severity.INFO),
        "arn:aws:s3:::bucket-a": (FindingStatus.OPEN, Severity.HIGH),
    }
    r = import_file(engine, path)
    assert (r.informational, r.items_opened) == (0, 1)
    with engine.begin() as conn:
        (item,) = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert item.original_risk.value == "High" and [a.text for a in item.assets] == ["arn:aws:s3:::bucket-a"]
    with engine.begin() as conn:
        assert conn.execute(select(weaknesses.c.severity)).scalars().all() == ["high"]


# --- several records of one finding: the newest decides -----------------------------------------

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-10T08:00:00.250Z"
T2 = "2026-01-10T08:00:00.750Z"  # half a second later: compared at full precision


@pytest.fixture(params=[1, 2000], ids=["batch-of-1", "one-batch"])
def batch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Each record in its own batch of the importer (as in a large file), or all in one."""
    monkeypatch.setattr("poam.services.importer.BATCH", request.param)
    return int(request.param)


def control_records(tmp_path: Path, name: str, records: list[tuple[str, str]]) -> Path:
    """S3.8 on bucket-a, once per (UpdatedAt, Compliance.Status); each record with its own Id and
    description, as Security Hub writes them."""
    doc = [
        control(status=status, UpdatedAt=when, LastObservedAt=when, Id=f"{name}-{n}", Description=f"record {n}")
        for n, (when, status) in enumerate(records)
    ]
    return write(tmp_path, {"Findings": doc}, name)


def finding_state(engine: Engine) -> tuple[str, dt.datetime | None]:
    with engine.begin() as conn:
        return conn.execute(select(finding_rows.c.status, finding_rows.c.fixed_at)).one()  # type: ignore[return-value]


@pytest.mark.parametrize("records", [[(T1, "PASSED"), (T2, "FAILED")], [(T2, "FAILED"), (T1, "PASSED")]])
def test_an_older_passed_record_never_closes(
    engine: Engine, register_parser: Any, tmp_path: Path, batch: int, records: list[tuple[str, str]]
) -> None:
    register_parser(AsffParser())
    r = import_file(engine, control_records(tmp_path, "a.json", records))
    assert (r.results, r.items_opened, r.fixed_findings) == (2, 1, 0)  # two records, one finding
    assert finding_state(engine) == ("open", None)
    assert items_by_id(engine)["S3.8"].status is ItemStatus.OPEN


@pytest.mark.parametrize("records", [[(T1, "FAILED"), (T2, "PASSED")], [(T2, "PASSED"), (T1, "FAILED")]])
def test_a_newer_passed_record_closes(
    engine: Engine, register_parser: Any, tmp_path: Path, batch: int, records: list[tuple[str, str]]
) -> None:
    register_parser(AsffParser())
    r = import_file(engine, control_records(tmp_path, "a.json", records))
    assert r.results == 2
    assert finding_state(engine) == ("fixed", dt.datetime(2026, 1, 10, 8, 0, 0, 750000))
    assert items_by_id(engine)["S3.8"].status is ItemStatus.CLOSED


@pytest.mark.parametrize("records", [[(T1, "FAILED"), (T1, "PASSED")], [(T1, "PASSED"), (T1, "FAILED")]])
def test_on_equal_update_times_the_failed_record_wins(
    engine: Engine, register_parser: Any, tmp_path: Path, batch: int, records: list[tuple[str, str]]
) -> None:
    register_parser(AsffParser())
    import_file(engine, control_records(tmp_path, "jan.json", [(T0, "FAILED")]))
    r = import_file(engine, control_records(tmp_path, "feb.json", records))
    assert (r.results, r.fixed_findings, r.items_closed) == (2, 0, 0)
    assert finding_state(engine) == ("open", None)


@pytest.mark.parametrize("records", [[(T1, "PASSED"), (T2, "FAILED")], [(T2, "FAILED"), (T1, "PASSED")]])
def test_an_older_passed_record_does_not_close_a_known_finding(
    engine: Engine, register_parser: Any, tmp_path: Path, batch: int, records: list[tuple[str, str]]
) -> None:
    """The headline case: LastObservedAt of the failed record is older than the passed record's
    update, which is how the old reading compared them; the updates decide."""
    register_parser(AsffParser())
    import_file(engine, control_records(tmp_path, "jan.json", [(T0, "FAILED")]))
    failed_seen = "2026-01-09T00:00:00Z"  # observed before the passed record's update, updated after it
    doc = [
        control(
            status=status,
            UpdatedAt=when,
            LastObservedAt=failed_seen if status == "FAILED" else when,
            Id=f"b-{n}",
        )
        for n, (when, status) in enumerate(records)
    ]
    r = import_file(engine, write(tmp_path, doc, "feb.json"))
    assert (r.results, r.fixed_findings, r.items_closed) == (2, 0, 0)
    assert finding_state(engine) == ("open", None)


@pytest.mark.parametrize("order", [1, -1], ids=["array-then-page", "page-then-array"])
def test_documents_of_different_shapes_in_one_file_are_all_read(
    engine: Engine, register_parser: Any, tmp_path: Path, order: int
) -> None:
    """An array of findings and a get-findings page appended to one another (Prowler's json-asff
    output and a Security Hub export): every document is read, so the newer FAILED record in the
    second one is never lost to an older PASSED record in the first."""
    register_parser(AsffParser())
    import_file(engine, control_records(tmp_path, "jan.json", [(T0, "FAILED")]))
    older = json.dumps([control(status="PASSED", UpdatedAt=T1, Id="p")])
    newer = json.dumps({"Findings": [control(status="FAILED", UpdatedAt=T2, Id="f")], "NextToken": "x"})
    path = tmp_path / "feb.json"
    path.write_text("\n".join([older, newer][::order]))
    r = import_file(engine, path)
    assert (r.results, r.fixed_findings, r.items_closed) == (2, 0, 0)
    assert finding_state(engine) == ("open", None)
