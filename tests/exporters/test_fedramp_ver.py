"""The FedRAMP VER schemas poam ships (pinned by SHA-256, `$ref` rewritten) and the VER documents
built from records: every field, and the schema's verdict."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from poam.errors import InputError
from poam.exporters import fedramp_schemas, fedramp_ver
from poam.exporters.fedramp_schemas import SchemaFile, SchemaSet
from poam.exporters.fedramp_ver import Reduction, VerRecord

UTC = dt.UTC
SHIPPED = {  # FedRAMP/schemas @ ae0dc43e, as PROVENANCE.md lists them
    "fedramp-vulnerability-detail-report-schema-2026-06-24.json": (
        "07bd49ac5d83e45aeb99306cf9bc18b9c499ff9405729c822dd704e6ef065ec7"
    ),
    "fedramp-accepted-vulnerability-info-schema-2026-06-24.json": (
        "173181d49cba35bd00984448361e9259ff9ec66afcee2d3c48b6021e24fca19a"
    ),
    "fedramp-historical-ver-activity-schema-2026-06-24.json": (
        "146597fc1468afb6b05a8b35e1ac4abb9f537b4e90f4ea46cc934051bc927666"
    ),
    "fedramp-common-definitions-schema-2026-06-24.json": (
        "b6cffd3632ba524cc5a5e44f6c62e6fdcae7993221e558d32761f15d212117c1"
    ),
}
URI = "https://cso.example.com/cpo.json"


def valid_vdr() -> dict[str, Any]:
    """A VDR written by hand with every VER-RPT-VDT field the 0.1.x schema has."""
    return {
        "certificationPackageOverviewUri": URI,
        "reportPeriod": {"from": "2026-12-01T00:00:00Z", "to": "2026-12-31T23:59:59Z"},
        "vulnerabilities": [
            {
                "providerTrackingId": "V-1",
                "detection": {"detectedAt": "2026-12-02T10:00:00Z", "detectionSource": "Nessus"},
                "vulnerabilityDescription": "OpenSSL out of date",
                "potentialAgencyImpact": "N3",
                "evaluationCompletedAt": "2026-12-03T09:00:00Z",
                "isInternetReachable": True,
                "isLikelyExploitable": True,
                "currentRating": 3,
                "projectedNextReduction": {"estimatedAt": "2026-12-19T09:00:00Z", "targetRating": 2},
                "overdueStatus": {"isOverdue": True, "explanation": "next PAIN reduction missed"},
                "supplementaryRiskInformation": "CVEs: CVE-2026-20001",
                "finalDisposition": "Partially Mitigated",
                "x-poam": {"status": "open"},
            }
        ],
    }


def test_shipped_files_are_the_pinned_official_bytes() -> None:
    for name, digest in SHIPPED.items():
        assert hashlib.sha256((fedramp_schemas.HERE / name).read_bytes()).hexdigest() == digest
    schemas = fedramp_schemas.load()
    assert schemas.version("vdr") == "0.1.0 (common-definitions 0.1.1)"
    assert schemas.dispositions == ("Fully Mitigated", "Partially Mitigated", "False Positive")
    assert not schemas.has_reduction_events


def test_refs_without_hash_are_rewritten_and_resolve_offline() -> None:
    raw = (fedramp_schemas.HERE / fedramp_schemas.FILES["vdr"]).read_text(encoding="utf-8")
    assert "schema-2026-06-24.json/$defs/vulnerabilityDetail" in raw  # the published defect
    loaded = fedramp_schemas.load().files["vdr"].data
    ref = loaded["properties"]["vulnerabilities"]["items"]["$ref"]
    assert (
        ref
        == "https://fedramp.gov/schemas/fedramp-common-definitions-schema-2026-06-24.json#/$defs/vulnerabilityDetail"
    )
    assert fedramp_schemas.problems(valid_vdr(), "vdr") == []


@pytest.mark.parametrize(
    ("change", "path", "value", "message"),
    [
        (lambda v: v["overdueStatus"].pop("explanation"), "$.vulnerabilities[0].overdueStatus",
         '{"isOverdue": true}', '"explanation" is a required property'),
        (lambda v: v.update(currentRating=6), "$.vulnerabilities[0].currentRating", "6",
         "not one of the allowed values: 1, 2, 3, 4, 5"),
        (lambda v: v.update(finalDisposition="Remediated"), "$.vulnerabilities[0].finalDisposition", "Remediated",
         'not one of the allowed values: "Fully Mitigated", "Partially Mitigated", "False Positive"'),
        (lambda v: v["detection"].pop("detectedAt"), "$.vulnerabilities[0].detection", "", "detectedAt"),
        (lambda v: v["projectedNextReduction"].update(estimatedAt="next week"),
         "$.vulnerabilities[0].projectedNextReduction.estimatedAt", "next week", "date-time"),
    ],
)  # fmt: skip
def test_schema_rejects(change: Any, path: str, value: str, message: str) -> None:
    doc = valid_vdr()
    change(doc["vulnerabilities"][0])
    found = fedramp_schemas.problems(doc, "vdr")
    assert len(found) == 1, found
    assert found[0].path == path and message in found[0].message, found[0].message
    assert value in found[0].value


def test_a_uri_that_is_not_absolute_is_rejected() -> None:
    doc = valid_vdr()
    doc["certificationPackageOverviewUri"] = "cpo.json"
    assert [p.path for p in fedramp_schemas.problems(doc, "vdr")] == ["$.certificationPackageOverviewUri"]


def test_schema_folder_accepts_pinned_files_and_refuses_unknown_digests(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    name = fedramp_schemas.FILES["vdr"]
    shutil.copy(fedramp_schemas.HERE / name, good / name)
    assert fedramp_schemas.load(good).files["vdr"].origin == str(good.resolve() / name)
    bad = tmp_path / "bad"
    bad.mkdir()
    changed = json.loads((fedramp_schemas.HERE / name).read_text(encoding="utf-8"))
    changed["$schemaVersion"] = "0.1.1"
    (bad / name).write_text(json.dumps(changed), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        fedramp_schemas.load(bad)
    line = str(caught.value)
    assert "\n" not in line and name in line and "is not a pinned FedRAMP schema" in line
    assert "0.1.0 07bd49ac5d83" in line and "0.1.1 5e9499e8cb9d" in line  # the pinned digests, named
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds none of the FedRAMP VER schema files"):
        fedramp_schemas.load(empty)


def test_corrected_versions_are_pinned() -> None:
    pins = fedramp_schemas.pins()
    assert (
        pins[fedramp_schemas.FILES["vdr"]]["5e9499e8cb9d0367c888ce41040175270fc9f007ae4f61d0ced34cca81cfe497"][
            "version"
        ]
        == "0.1.1"
    )
    assert (
        pins[fedramp_schemas.FILES["common"]]["ed810d60584580fb86cda3f846d94504a14e09538122c27c5b5231d41151d6de"][
            "version"
        ]
        == "0.3.0"
    )


RECORD = VerRecord(
    poam_id="V-7",
    detected_at=dt.datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
    detection_source="Nessus",
    description="Plugin 100: remote code execution in the web server",
    potential_impact="N4: debilitating",
    evaluated_at=dt.datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
    irv=True,
    lev=False,
    pain=3,
    next_reduction=(dt.datetime(2026, 12, 20, 23, 59, 59, tzinfo=UTC), 2),
    overdue=True,
    overdue_explanation="next PAIN reduction missed",
    supplementary="CVEs: CVE-2026-20001",
    disposition="remediated",
    reductions=(Reduction(dt.datetime(2026, 12, 5, 8, 30, tzinfo=UTC), 3),),
    extension={"status": "closed"},
)


def test_every_field_of_a_record() -> None:
    got = fedramp_ver.detail(RECORD, fedramp_schemas.load())
    note = got["x-poam"].pop("finalDispositionNote")
    assert note.startswith("remediated (no longer detected); common-definitions 0.1.1 has no 'Remediated'")
    assert got == {
        "providerTrackingId": "V-7",
        "detection": {"detectedAt": "2026-12-02T10:00:00Z", "detectionSource": "Nessus"},
        "vulnerabilityDescription": "Plugin 100: remote code execution in the web server",
        "potentialAgencyImpact": "N4: debilitating",
        "evaluationCompletedAt": "2026-12-03T09:00:00Z",
        "isInternetReachable": True,
        "isLikelyExploitable": False,
        "currentRating": 3,
        "projectedNextReduction": {"estimatedAt": "2026-12-20T23:59:59Z", "targetRating": 2},
        "overdueStatus": {"isOverdue": True, "explanation": "next PAIN reduction missed"},
        "supplementaryRiskInformation": "CVEs: CVE-2026-20001",
        "finalDisposition": "Fully Mitigated",
        "x-poam": {
            "status": "closed",
            "reductionsNote": "common-definitions 0.1.1 has no field for completed reductions (VER-RPT-VDT item 7): "
            "they are in x-poam.reductions",
        },
    }


def test_a_bare_record_has_only_the_required_fields_and_overdue_status() -> None:
    bare = VerRecord("V-1", dt.datetime(2026, 12, 2, tzinfo=UTC), "CSV import", "Weak TLS")
    got = fedramp_ver.detail(bare, fedramp_schemas.load())
    assert set(got) == {"providerTrackingId", "detection", "vulnerabilityDescription", "overdueStatus", "x-poam"}
    assert got["overdueStatus"] == {"isOverdue": False}


def newer_schemas() -> SchemaSet:
    """The shipped set with common-definitions changed as 0.3.0 is described (Remediated and
    painReductionEvents added): how poam adapts when pointed at corrected files."""
    shipped = fedramp_schemas.load()
    common = copy.deepcopy(shipped.files["common"].data)
    detail = common["$defs"]["vulnerabilityDetail"]["properties"]
    detail["finalDisposition"]["enum"].append("Remediated")
    detail["painReductionEvents"] = {"type": "array", "items": {"$ref": "#/$defs/painReductionEvent"}}
    files = dict(shipped.files)
    files["common"] = SchemaFile(shipped.files["common"].name, "0.3.0", "test", "test", common)
    return SchemaSet(files)


def test_with_definitions_0_3_0_remediated_and_reduction_events_are_written() -> None:
    schemas = newer_schemas()
    got = fedramp_ver.detail(RECORD, schemas)
    assert got["finalDisposition"] == "Remediated"
    assert got["painReductionEvents"] == [{"reducedAt": "2026-12-05T08:30:00Z", "rating": 3}]
    assert "finalDispositionNote" not in got["x-poam"] and "reductionsNote" not in got["x-poam"]
    doc = fedramp_ver.vdr(URI, dt.datetime(2026, 12, 1, tzinfo=UTC), dt.datetime(2026, 12, 31, tzinfo=UTC), [RECORD],
                          schemas)  # fmt: skip
    assert fedramp_schemas.problems(doc, "vdr", schemas) == []


def test_documents_split_accepted_records_and_validate() -> None:
    schemas = fedramp_schemas.load()
    accepted = VerRecord(
        "V-9",
        dt.datetime(2026, 6, 1, tzinfo=UTC),
        "Nessus",
        "Legacy cipher",
        pain=2,
        accepted=True,
        acceptance_rationale="Vendor appliance; compensating network control",
        acceptance={"approver": "ao"},
    )
    start, end = dt.datetime(2026, 12, 1, tzinfo=UTC), dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    vdr = fedramp_ver.vdr(URI, start, end, [RECORD, accepted], schemas)
    assert [v["providerTrackingId"] for v in vdr["vulnerabilities"]] == ["V-7"]
    assert vdr["reportPeriod"] == {"from": "2026-12-01T00:00:00Z", "to": "2026-12-31T23:59:59Z"}
    avi = fedramp_ver.avi(URI, start, end, [RECORD, accepted], schemas)
    assert [(a["vulnerabilityDetail"]["providerTrackingId"], a["acceptanceRationale"], a["x-poam"]) for a in
            avi["acceptedVulnerabilities"]] == [("V-9", "Vendor appliance; compensating network control",
                                                 {"approver": "ao"})]  # fmt: skip
    history = fedramp_ver.history(URI, end, [RECORD, accepted], schemas)
    assert history["generatedAt"] == "2026-12-31T23:59:59Z"
    assert [len(history["activeVulnerabilities"]), len(history["acceptedVulnerabilities"])] == [1, 1]
    for kind, doc in (("vdr", vdr), ("avi", avi), ("ver-history", history)):
        assert fedramp_schemas.problems(doc, kind, schemas) == []
