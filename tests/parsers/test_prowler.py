"""The Prowler parser on hand-written outputs of each version and on the real files of the corpus."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.prowler import ProwlerParser, asset_for
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

FOLDER = "prowler"
ROLE = "arn:aws:iam::111122223333:role/Admin"
V4_HEADER = (
    "AUTH_METHOD;TIMESTAMP;ACCOUNT_UID;FINDING_UID;PROVIDER;CHECK_ID;CHECK_TITLE;STATUS;STATUS_EXTENDED;MUTED;"
    "SEVERITY;RESOURCE_UID;RESOURCE_NAME;PARTITION;REGION;DESCRIPTION;RISK;REMEDIATION_RECOMMENDATION_TEXT;"
    "COMPLIANCE;PROWLER_VERSION"
)
V2_HEADER = (
    "PROFILE,ACCOUNT_NUM,REGION,TITLE_ID,CHECK_RESULT,ITEM_SCORED,ITEM_LEVEL,TITLE_TEXT,CHECK_RESULT_EXTENDED,"
    "CHECK_ASFF_COMPLIANCE_TYPE,CHECK_SEVERITY,CHECK_SERVICENAME"
)


def v4_row(check: str = "iam_admin", status: str = "FAIL", uid: str = ROLE, muted: str = "False", **kw: str) -> str:
    values = {
        "AUTH_METHOD": "profile",
        "TIMESTAMP": kw.get("when", "2026-01-05 10:00:00.000000"),
        "ACCOUNT_UID": kw.get("account", "111122223333"),
        "FINDING_UID": "x",
        "PROVIDER": "aws",
        "CHECK_ID": check,
        "CHECK_TITLE": "Roles should not be admins",
        "STATUS": status,
        "STATUS_EXTENDED": kw.get("detail", f"{uid} is admin"),
        "MUTED": muted,
        "SEVERITY": kw.get("severity", "high"),
        "RESOURCE_UID": uid,
        "RESOURCE_NAME": "Admin",
        "PARTITION": "aws",
        "REGION": "us-east-1",
        "DESCRIPTION": "d",
        "RISK": "r",
        "REMEDIATION_RECOMMENDATION_TEXT": "fix it",
        "COMPLIANCE": "CIS-2.0: 1.16 | NIST-800-53-Revision-5: ac_2_1, ac_6, sc_7_12x",
        "PROWLER_VERSION": "5.4.0",
    }
    return ";".join(values[h] for h in V4_HEADER.split(";"))


def v4(*rows: str) -> str:
    return "\n".join([V4_HEADER, *rows]) + "\n"


def ocsf(check: str = "iam_admin", status: str = "FAIL", uid: str = ROLE, **kw: Any) -> dict[str, Any]:
    return {
        "metadata": {"event_code": check, "product": {"name": "Prowler", "version": "4.2.1"}},
        "finding_info": {"title": "Roles should not be admins", "desc": "d", "uid": "u"},
        "severity": "High",
        "status": kw.get("state", "New"),
        "status_code": status,
        "status_detail": f"{uid} is admin",
        "resources": [{"uid": uid, "name": "Admin", "region": "us-east-1", "type": "AwsIamRole"}],
        "cloud": {"account": {"uid": "111122223333"}, "region": "us-east-1", "provider": "aws"},
        "remediation": {"desc": "fix it", "references": ["https://example.com"]},
        "unmapped": {"compliance": {"NIST-800-53-Revision-5": ["ac_2_1"]}},
        "time_dt": kw.get("when", "2026-01-05T10:00:00"),
    }


def write(tmp_path: Path, text: str, name: str = "out") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def parse(path: Path) -> list[Any]:
    with path.open("rb") as f:
        return list(ProwlerParser().parse(f, ParseContext(str(path), file_time=dt.datetime(2026, 2, 1))))


def found(path: Path) -> list[Finding]:
    return [r for r in parse(path) if isinstance(r, Finding)]


def sniff(path: Path) -> bool:
    with path.open("rb") as f:
        return ProwlerParser().sniff(read_head(f))


def test_v4_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path, v4(v4_row(), v4_row("s3_public", "PASS", "arn:aws:s3:::b"), v4_row("manual", "MANUAL")), "a.csv"
    )
    assert sniff(path)
    records = parse(path)
    fail, passed = [r for r in records if isinstance(r, Finding)]
    assert (fail.weakness.tool, fail.weakness.vuln_id, fail.status) == ("Prowler", "iam_admin", FindingStatus.OPEN)
    assert (fail.asset.kind, fail.asset.name, fail.asset.account, fail.asset.region) == (
        AssetKind.CLOUD_RESOURCE,
        ROLE,
        "111122223333",
        "us-east-1",
    )
    assert fail.weakness.is_config and fail.weakness.severity is Severity.HIGH
    assert fail.weakness.controls == ("AC-2(1)", "AC-6")
    assert fail.observed_at == dt.datetime(2026, 1, 5, 10) and fail.location == ""
    assert (passed.weakness.vuln_id, passed.status) == ("s3_public", FindingStatus.FIXED)
    scan = records[-1]
    assert isinstance(scan, Scan) and scan.tool_version == "5.4.0"


def test_ocsf_json(tmp_path: Path) -> None:
    doc = [ocsf(), ocsf("c2", "PASS"), ocsf("c3", "MANUAL"), ocsf("c4", state="Suppressed")]
    path = write(tmp_path, json.dumps(doc), "a.ocsf.json")
    assert sniff(path)
    got = found(path)
    assert [(f.weakness.vuln_id, f.status) for f in got] == [
        ("iam_admin", FindingStatus.OPEN),
        ("c2", FindingStatus.FIXED),
    ]
    assert got[0].weakness.controls == ("AC-2(1)",) and got[0].asset.name == ROLE


def test_v3_json(tmp_path: Path) -> None:
    item = {
        "CheckID": "acm_expiry",
        "CheckTitle": "t",
        "Status": "FAIL",
        "StatusExtended": "expires",
        "Severity": "high",
        "AccountId": "111122223333",
        "Region": "us-east-1",
        "ResourceId": "api.example.com",
        "ResourceArn": "arn:aws:acm:us-east-1:111122223333:certificate/1",
        "AssessmentStartTime": "2026-01-05T10:00:00",
        "Compliance": {"NIST-800-53-Revision-5": ["sc_12"]},
    }
    account_level = dict(item, CheckID="analyzer", ResourceId="111122223333", ResourceArn="")
    path = write(tmp_path, json.dumps([item, account_level]), "v3.json")
    assert sniff(path)
    a, b = found(path)
    assert (a.asset.name, a.weakness.controls) == ("arn:aws:acm:us-east-1:111122223333:certificate/1", ("SC-12",))
    assert (b.asset.name, b.asset.account, b.asset.region) == ("111122223333/us-east-1", "111122223333", "us-east-1")


def test_v2_json_lines_and_csv(tmp_path: Path) -> None:
    line = {
        "Profile": "default",
        "Account Number": "111122223333",
        "Control": "[check11] Avoid the use of the root account",
        "Message": "root used",
        "Severity": "High",
        "Status": "FAIL",
        "Control ID": "1.01",
        "Region": "eu-west-1",
        "Timestamp": "2021-08-23T06:38:21Z",
        "Resource ID": "root",
    }
    info = dict(line, Status="Info", Control="[check117] x")
    path = write(tmp_path, "\n".join(json.dumps(x) for x in (line, dict(line, Status="Pass"), info)) + "\n", "v2.json")
    assert sniff(path)
    (f,) = found(path)  # the FAIL wins over the PASS of the same check and resource
    assert (f.weakness.vuln_id, f.weakness.name, f.status) == (
        "check11",
        "Avoid the use of the root account",
        FindingStatus.OPEN,
    )
    assert f.asset.name == "111122223333/root" and f.evidence == "FAIL: root used\nPASS: root used"
    csv_text = (
        V2_HEADER + "\n,111122223333,eu-west-1,1.1,FAIL,Scored,Level 1,[check11] Avoid root,root used,x,High,iam\n"
    )
    csv_path = write(tmp_path, csv_text, "v2.csv")
    assert sniff(csv_path)
    (g,) = found(csv_path)
    assert (g.weakness.vuln_id, g.asset.name, g.observed_at) == (
        "check11",
        "111122223333/eu-west-1",  # no resource: the account, in the region the run covered
        dt.datetime(2026, 2, 1),
    )


def test_results_on_the_same_check_and_resource_merge(tmp_path: Path) -> None:
    rows = [
        v4_row(detail="region a fails"),
        v4_row(status="PASS", detail="region b passes"),
        v4_row(detail="region c fails", when="2026-01-06 10:00:00"),
        v4_row("c2", "PASS", detail="one"),
        v4_row("c2", "PASS", detail="two"),
    ]
    a, b = found(write(tmp_path, v4(*rows), "m.csv"))
    assert (a.status, a.observed_at) == (FindingStatus.OPEN, dt.datetime(2026, 1, 6, 10))
    assert a.evidence == "FAIL: region a fails\nPASS: region b passes\nFAIL: region c fails"
    assert (b.status, b.evidence) == (FindingStatus.FIXED, "PASS: one\nPASS: two")


def test_muted_results_are_left_out(tmp_path: Path) -> None:
    assert found(write(tmp_path, v4(v4_row(muted="True")), "m.csv")) == []


def test_asset_names() -> None:
    assert asset_for(ROLE, "111122223333", "us-east-1").name == ROLE
    azure = asset_for("/subscriptions/ABC/resourceGroups/RG", "abc", "eastus")
    assert azure.name == "/subscriptions/abc/resourcegroups/rg"
    assert asset_for("root", "111", "us-east-1").name == "111/root"
    assert asset_for("111/root", "111", "us-east-1").name == "111/root"
    assert asset_for(None, "111", "us-east-1").name == "111/us-east-1"
    assert asset_for("111", "111", "us-east-1").name == "111/us-east-1"
    assert asset_for(None, "111", "global").name == asset_for(None, "111", None).name == "111"
    assert asset_for("pod-1", None, "ns").name == "pod-1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("{}", "not Prowler JSON output"),
        ("[1]", "not Prowler JSON output"),
        ('[{"a": 1}]', "not Prowler JSON output"),
        ("a,b\n1,2\n", "not a Prowler output"),
        ('{"Control": 1}\n{"Control": 2}\n[', "not valid JSON \\(truncated\\?\\)"),
    ],
)
def test_bad_input(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write(tmp_path, text, "bad"))


def parse_with_context(path: Path, **context: Any) -> tuple[list[Any], ParseContext]:
    ctx = ParseContext(str(path), file_time=dt.datetime(2026, 2, 1), **context)
    with path.open("rb") as f:
        return list(ProwlerParser().parse(f, ctx)), ctx


def test_odd_results_are_left_out_with_a_warning(tmp_path: Path) -> None:
    doc = [1, ocsf(check=""), dict(ocsf(), resources=None, cloud=None), {"a": 1}, ocsf()]
    records, ctx = parse_with_context(write(tmp_path, json.dumps(doc), "o.json"))
    assert [(f.weakness.vuln_id, f.asset.name) for f in records if isinstance(f, Finding)] == [("iam_admin", ROLE)]
    assert ctx.report.skipped == 4
    assert ctx.report.warnings == [
        "result 1: not a JSON object; left out",
        "result 2: no check id; left out",
        "result 3 (iam_admin): names no resource or account; left out",
        "result 4: neither Prowler v2, v3 nor OCSF fields; left out",
    ]


@pytest.mark.parametrize(
    ("status", "expected", "warning"),
    [
        ("MANUAL", None, None),
        ("INFO", None, None),
        ("WARNING", None, None),  # v2/v3: allowlisted
        ("ERROR", None, "status 'ERROR': the check did not run; left out"),
        ("MUTED", None, "status 'MUTED' means set aside; left out"),
        ("PARTIAL", FindingStatus.OPEN, "status 'PARTIAL' not recognised; kept open"),
        ("", FindingStatus.OPEN, "status missing not recognised; kept open"),
    ],
)
def test_statuses_that_are_not_pass_or_fail(
    tmp_path: Path, status: str, expected: FindingStatus | None, warning: str | None
) -> None:
    records, ctx = parse_with_context(write(tmp_path, v4(v4_row(status=status)), "s.csv"))
    assert [f.status for f in records if isinstance(f, Finding)] == ([expected] if expected else [])
    assert ctx.report.warnings == ([f"result 1 (iam_admin): {warning}"] if warning else [])


def test_an_unknown_severity_is_moderate_with_a_warning(tmp_path: Path) -> None:
    records, ctx = parse_with_context(write(tmp_path, v4(v4_row(severity="severe")), "s.csv"))
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert f.weakness.severity is Severity.MEDIUM
    assert ctx.report.warnings == ["result 1 (iam_admin): severity 'severe' not recognised; rated Moderate"]


V2_LINE = {
    "Profile": "default",
    "Account Number": "111122223333",
    "Control": "[check11] Avoid the use of the root account",
    "Message": "root used",
    "Severity": "High",
    "Status": "FAIL",
    "Control ID": "1.01",
    "Region": "eu-west-1",
    "Timestamp": "2021-08-23T06:38:21Z",
    "Resource ID": "root",
}


def test_a_v2_file_of_one_result_object(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(V2_LINE, indent=2), "one.json")
    assert sniff(path)
    (f,) = found(path)
    assert (f.weakness.vuln_id, f.status, f.asset.name, f.observed_at) == (
        "check11",
        FindingStatus.OPEN,
        "111122223333/root",
        dt.datetime(2021, 8, 23, 6, 38, 21),
    )


@pytest.mark.parametrize("format_id", [None, "prowler"])
def test_a_v2_object_imports_detected_or_named(
    engine: Engine, register_parser: Any, tmp_path: Path, format_id: str | None
) -> None:
    register_parser(ProwlerParser())
    r = import_file(engine, write(tmp_path, json.dumps(V2_LINE), "one.json"), format_id=format_id)
    assert (r.format, r.results, r.items_opened, r.date_source) == ("prowler", 1, 1, "file")
    assert set(items_by_id(engine)) == {"check11"}


def test_several_json_documents(tmp_path: Path) -> None:
    """Appended outputs: OCSF arrays one after another, v2 objects pretty-printed one after another."""
    ocsf_pages = json.dumps([ocsf()], indent=1) + "\n" + json.dumps([ocsf("c2", "PASS")])
    assert [(f.weakness.vuln_id, f.status) for f in found(write(tmp_path, ocsf_pages, "a.json"))] == [
        ("iam_admin", FindingStatus.OPEN),
        ("c2", FindingStatus.FIXED),
    ]
    objects = json.dumps(V2_LINE, indent=2) + json.dumps(dict(V2_LINE, Control="[check12] MFA", Status="Pass"))
    path = write(tmp_path, objects, "b.json")
    assert sniff(path)
    assert [(f.weakness.vuln_id, f.status) for f in found(path)] == [
        ("check11", FindingStatus.OPEN),
        ("check12", FindingStatus.FIXED),
    ]


@pytest.mark.parametrize(
    ("rows", "status", "when"),
    [
        ([("FAIL", "2026-01-05 10:00:00.25"), ("PASS", "2026-01-05 10:00:00.75")], FindingStatus.FIXED, 750000),
        ([("PASS", "2026-01-05 10:00:00.75"), ("FAIL", "2026-01-05 10:00:00.25")], FindingStatus.FIXED, 750000),
        ([("PASS", "2026-01-05 10:00:00.25"), ("FAIL", "2026-01-05 10:00:00.75")], FindingStatus.OPEN, 750000),
        ([("FAIL", "2026-01-05 10:00:00.75"), ("PASS", "2026-01-05 10:00:00.25")], FindingStatus.OPEN, 750000),
        ([("PASS", "2026-01-05 10:00:00.25"), ("FAIL", "2026-01-05 10:00:00.25")], FindingStatus.OPEN, 250000),
        ([("FAIL", "2026-01-05 10:00:00.25"), ("PASS", "2026-01-05 10:00:00.25")], FindingStatus.OPEN, 250000),
    ],
    ids=["newer-pass", "newer-pass-first", "newer-fail", "newer-fail-first", "tie", "tie-fail-first"],
)
def test_the_newest_result_of_a_check_and_resource_decides(
    tmp_path: Path, rows: list[tuple[str, str]], status: FindingStatus, when: int
) -> None:
    text = v4(*(v4_row(status=s, when=t, detail=s.lower()) for s, t in rows))
    (f,) = found(write(tmp_path, text, "twice.csv"))
    assert (f.status, f.observed_at) == (status, dt.datetime(2026, 1, 5, 10, 0, 0, when))


@pytest.mark.parametrize("order", [1, -1])
def test_the_newest_result_in_a_file_decides_on_import(
    engine: Engine, register_parser: Any, tmp_path: Path, order: int
) -> None:
    register_parser(ProwlerParser())
    import_file(engine, write(tmp_path, v4(v4_row(when="2026-01-01 00:00:00")), "jan.csv"))
    rows = [v4_row(when="2026-02-01 10:00:00"), v4_row(status="PASS", when="2026-02-02 10:00:00")][::order]
    r = import_file(engine, write(tmp_path, v4(*rows), "feb.csv"))
    assert (r.fixed_findings, r.items_closed) == (1, 1)
    rows = [v4_row(status="PASS", when="2026-03-01 10:00:00"), v4_row(when="2026-03-02 10:00:00")][::order]
    r = import_file(engine, write(tmp_path, v4(*rows), "mar.csv"))  # a newer failure: open again
    assert (r.fixed_findings, r.items_opened) == (0, 1)
    assert items_by_id(engine)["iam_admin"].status is ItemStatus.OPEN


def test_undated_results_take_the_file_time(tmp_path: Path) -> None:
    row = "\n,111122223333,eu-west-1,1.1,FAIL,Scored,Level 1,[check11] Avoid root,root used,x,High,iam\n"
    records, ctx = parse_with_context(write(tmp_path, V2_HEADER + row, "v2.csv"))
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert f.observed_at == ctx.file_time and ctx.report.used_file_time
    _records, dated = parse_with_context(write(tmp_path, v4(v4_row()), "v4.csv"))
    assert not dated.report.used_file_time


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    odd = dict(ocsf(), severity=5, finding_info=None, remediation=[], unmapped={"compliance": ["x"]}, time_dt=None)
    (f,) = found(write(tmp_path, json.dumps([odd]), "o.json"))
    assert f.weakness.severity is Severity.MEDIUM and f.observed_at == dt.datetime(2026, 2, 1)


def test_empty_arrays_parse_when_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[ ]", "e.json")
    assert not sniff(path)  # `[]` could be any format's empty report
    assert [type(r) for r in parse(path)] == [Scan]


# --- the real files of the corpus ---------------------------------------------------------------


def _rows(path: Path) -> list[tuple[str, str, str]]:
    """(check, status, resource) of every PASS/FAIL result that is not muted, read independently."""
    text = path.read_text(encoding="utf-8-sig")
    out: list[tuple[str, str, str]] = []
    if not text.strip():
        return out
    first = text.lstrip()[0]
    if first == "[":
        for item in json.loads(text):
            if "CheckID" in item:
                out.append((item["CheckID"], item["Status"], item["ResourceArn"] or item["ResourceId"]))
            elif item["status"] != "Suppressed":
                out.append((item["metadata"]["event_code"], item["status_code"], item["resources"][0]["uid"]))
    elif first == "{":
        for line in text.splitlines():
            if line.strip():
                item = json.loads(line)
                check = item["Control"].split("]")[0].lstrip("[")
                out.append((check, item["Status"].upper(), item["Resource ID"]))
    elif "CHECK_RESULT" in text.splitlines()[0]:
        for r in csv.DictReader(io.StringIO(text)):
            out.append((r["TITLE_TEXT"].split("]")[0].lstrip("["), r["CHECK_RESULT"], r["ACCOUNT_NUM"]))
    else:
        for r in csv.DictReader(io.StringIO(text), delimiter=";"):
            if r["MUTED"] != "True":
                out.append((r["CHECK_ID"], r["STATUS"], r["RESOURCE_UID"]))
    return [(c, s, r) for c, s, r in out if s in ("PASS", "FAIL")]


@pytest.mark.corpus
def test_every_corpus_file_matches_an_independent_count() -> None:
    files = sorted(corpus_dir(FOLDER).iterdir())
    assert len(files) == 13
    for path in files:
        if path.stat().st_size == 0:  # the import refuses empty files before any parser runs
            with pytest.raises(InputError, match="empty"):
                parse(path)
            continue
        expected: dict[tuple[str, str], str] = {}
        for check, status, resource in _rows(path):
            key = (check, resource)
            expected[key] = "open" if status == "FAIL" or expected.get(key) == "open" else "fixed"
        got = {}
        for f in found(path):
            resource = f.asset.name or ""
            key = next(k for k in expected if k[0] == f.weakness.vuln_id and (k[1] in resource or resource in k[1]))
            got[key] = f.status.value
            assert f.weakness.is_config and f.asset.kind is AssetKind.CLOUD_RESOURCE
        assert got == expected, path.name


@pytest.mark.corpus
def test_sniff_claims_exactly_the_prowler_files() -> None:
    parser = ProwlerParser()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            head = read_head(f)
        empty = not head.data.strip() or (head.json.kind == "array" and not head.json.item_keys)
        expected = path.parent.name == FOLDER and not empty  # an empty file or array names no format
        assert parser.sniff(head) == expected, path


# --- end to end ---------------------------------------------------------------------------------


def items_by_id(engine: Engine, system: str | None = None) -> dict[str, Any]:
    with engine.begin() as conn:
        return {i.source_identifier: i for i in load(conn, systems.resolve(conn, system, "t").id, "all")}


def test_a_later_pass_closes_the_item(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(ProwlerParser())
    other = "arn:aws:iam::111122223333:role/Other"
    r = import_file(engine, write(tmp_path, v4(v4_row(), v4_row(uid=other), v4_row("c2", "PASS")), "jan.csv"))
    assert (r.format, r.tool, r.items_opened, r.assets_covered) == ("prowler", "Prowler", 1, 0)
    assert {a.text for a in items_by_id(engine)["iam_admin"].assets} == {ROLE, other}
    feb = [ocsf(status="PASS", when="2026-02-05T10:00:00")]  # OCSF this time; the other role not in it
    r2 = import_file(engine, write(tmp_path, json.dumps(feb), "feb.ocsf.json"))
    assert (r2.fixed_findings, r2.items_closed) == (1, 0)
    item = items_by_id(engine)["iam_admin"]
    assert item.status is ItemStatus.OPEN and [a.text for a in item.assets] == [other]
    mar = [ocsf(status="PASS", uid=other, when="2026-03-05T10:00:00")]
    r3 = import_file(engine, write(tmp_path, json.dumps(mar), "mar.ocsf.json"))
    assert (r3.fixed_findings, r3.items_closed) == (1, 1)
    assert items_by_id(engine)["iam_admin"].status is ItemStatus.CLOSED


def test_a_pass_in_one_region_leaves_another_region_s_failure_open(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(ProwlerParser())

    def run(name: str, region: str, result: str) -> Path:
        row = f"\n,111122223333,{region},2.1,{result},Scored,Level 1,[check21] CloudTrail on,x,x,High,cloudtrail\n"
        return write(tmp_path, V2_HEADER + row, name)

    import_file(engine, run("jan.csv", "eu-west-1", "FAIL"), scan_date=dt.datetime(2026, 1, 5))
    r = import_file(engine, run("feb.csv", "us-east-1", "PASS"), scan_date=dt.datetime(2026, 2, 5))
    assert (r.fixed_findings, r.items_closed) == (0, 0)
    r = import_file(engine, run("mar.csv", "eu-west-1", "PASS"), scan_date=dt.datetime(2026, 3, 5))
    assert (r.fixed_findings, r.items_closed) == (1, 1)


@pytest.mark.corpus
def test_corpus_files_import_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(ProwlerParser())
    for n, path in enumerate(sorted(corpus_dir(FOLDER).iterdir())):
        name = f"p{n}"
        systems.add_system(engine, name, "test")
        if path.stat().st_size == 0:
            with pytest.raises(InputError, match="empty"):
                import_file(engine, path, system=name)
            continue
        result = import_file(engine, path, system=name, format_id="prowler")
        expected = {
            f.weakness.vuln_id
            for f in found(path)
            if f.status is FindingStatus.OPEN and f.weakness.severity is not Severity.INFO
        }
        assert set(items_by_id(engine, name)) == expected, path.name
        assert result.assets_covered == 0
