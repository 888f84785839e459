"""The Wiz parsers (issues CSV, vulnerability CSV, wizcli JSON) on hand-written files and the corpus."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from poam.domain.models import AssetKind, Checks, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.registry import read_head
from poam.parsers.wiz import IAC_FALLBACK, WizCliParser, WizCsvParser, wiz_time
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from poam.store.tables import findings
from tests.conftest import CORPUS, corpus_dir
from tests.parsers.test_stig_ckl import detected, run_with_context

ISSUE_COLUMNS = [
    "Created At", "Title", "Severity", "Status", "Description", "Resource Type", "Resource external ID",
    "Subscription ID", "Resolved Time", "Resolution", "Control ID", "Resource Name", "Resource Region", "Issue ID",
    "Remediation Recommendation", "Wiz URL",
]  # fmt: skip
VULN_COLUMNS = [
    "ID", "WizURL", "Name", "CVSSSeverity", "FindingStatus", "VendorSeverity", "FirstDetected", "LastDetected",
    "ResolvedAt", "LocationPath", "DetailedName", "Version", "FixedVersion", "AssetID", "AssetName", "AssetRegion",
    "ProviderUniqueId", "SubscriptionExternalId", "IpAddresses",
]  # fmt: skip
BUCKET = "arn:aws:s3:::bucket-a"
VM = "https://www.googleapis.com/compute/v1/projects/p/zones/z/instances/vm1"


def issue(control: str = "ctl-1", status: str = "OPEN", resource: str = BUCKET, **kw: str) -> dict[str, str]:
    return {
        "Created At": kw.get("created", "2026-01-05T10:00:00Z"),
        "Title": "Bucket is public",
        "Severity": kw.get("severity", "HIGH"),
        "Status": status,
        "Description": "d",
        "Resource Type": "Bucket",
        "Resource external ID": resource,
        "Subscription ID": "111122223333",
        "Resolved Time": kw.get("resolved", ""),
        "Resolution": kw.get("resolution", ""),
        "Control ID": control,
        "Resource Name": "bucket-a",
        "Resource Region": "us-east-1",
        "Issue ID": kw.get("issue_id", "i-1"),
        "Remediation Recommendation": "make it private",
        "Wiz URL": "https://app.wiz.io/issues#x",
    }


def vuln(cve: str = "CVE-2026-0001", status: str = "Open", package: str = "openssl", **kw: str) -> dict[str, str]:
    return {
        "ID": "f-1",
        "WizURL": "https://app.wiz.io/x",
        "Name": cve,
        "CVSSSeverity": "High",
        "FindingStatus": status,
        "VendorSeverity": kw.get("severity", "Medium"),
        "FirstDetected": "2026-01-01T00:00:00Z",
        "LastDetected": kw.get("last", "2026-01-05T10:00:00Z"),
        "ResolvedAt": kw.get("resolved", ""),
        "LocationPath": kw.get("location", "/usr/lib/libssl.so"),
        "DetailedName": package,
        "Version": "1.0",
        "FixedVersion": "1.1",
        "AssetID": "asset-1",
        "AssetName": "vm1",
        "AssetRegion": "us-central1",
        "ProviderUniqueId": VM,
        "SubscriptionExternalId": "proj",
        "IpAddresses": "10.0.0.7, 10.0.0.8",
    }


def write_csv(tmp_path: Path, columns: list[str], rows: list[dict[str, str]], name: str = "w.csv") -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / name
    path.write_text(out.getvalue())
    return path


def cli(origin: dict[str, Any], result: dict[str, Any], **changes: Any) -> dict[str, Any]:
    doc = {
        "id": "scan-1",
        "createdAt": "2026-01-05T10:00:00.123456789Z",
        "startedAt": "0001-01-01T00:00:00Z",
        "status": {"state": "SUCCESS", "verdict": "WARN_BY_POLICY"},
        "scanOriginResource": origin,
        "result": result,
        "reportUrl": "https://app.wiz.io/findings/cicd-scans",
    }
    doc.update(changes)
    return doc


IMAGE = {"__typename": "CICDScanOriginContainerImage", "name": "ghcr.io/acme/web:1.2"}
DIRECTORY = {"__typename": "CICDScanOriginDirectory", "name": "/builds/acme/web"}
IAC = {"__typename": "CICDScanOriginIAC", "name": "IAC scan 2026-01-05T10:00:00Z"}
PACKAGES = {
    "__typename": "CICDDiskScanResult",
    "osPackages": [
        {
            "name": "libssl3",
            "version": "3.3.1",
            "vulnerabilities": [{"name": "CVE-2026-0001", "severity": "LOW", "fixedVersion": "3.3.2"}],
        }
    ],
    "libraries": [
        {
            "name": "golang.org/x/net",
            "version": "0.14.0",
            "path": "/app/a/go.mod",
            "vulnerabilities": [{"name": "CVE-2026-0002", "severity": "HIGH"}],
        },
        {
            "name": "golang.org/x/net",
            "version": "0.13.0",
            "path": "/app/b/go.mod",
            "vulnerabilities": [{"name": "CVE-2026-0002", "severity": "HIGH"}],
        },
    ],
    "secrets": [
        {"path": "/app/main.go", "lineNumber": 3, "type": "PASSWORD", "description": "Password in URL"},
        {"path": "/app/main.go", "lineNumber": 9, "type": "PASSWORD", "description": "Password in URL"},
    ],
}
RULES = {
    "__typename": "CICDIACScanResult",
    "ruleMatches": [
        {
            "rule": {"id": "rule-1", "name": "Image uses latest"},
            "severity": "MEDIUM",
            "matches": [
                {
                    "fileName": "Dockerfile",
                    "lineNumber": 4,
                    "matchContent": "FROM a:latest",
                    "found": "latest",
                    "expected": "a tag",
                },
                {"fileName": "Dockerfile", "lineNumber": 58, "matchContent": "FROM b:latest"},
            ],
        }
    ],
    "secrets": [],
}


def write_json(tmp_path: Path, doc: object, name: str = "w.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def parse(parser: Any, path: Path, asset: str | None = None) -> list[Any]:
    with path.open("rb") as f:
        return list(parser.parse(f, ParseContext(str(path), file_time=dt.datetime(2026, 2, 1), asset_name=asset)))


def found(parser: Any, path: Path, asset: str | None = None) -> list[Finding]:
    return [r for r in parse(parser, path, asset) if isinstance(r, Finding)]


def findings_of(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def _text_file(tmp_path: Path, text: str, name: str = "w.json") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


EXPORT = dt.datetime(2026, 2, 1)
"""The modification time given to the exports parsed here."""


def sniff(parser: Any, path: Path) -> bool:
    with path.open("rb") as f:
        return bool(parser.sniff(read_head(f)))


# --- issues and vulnerability CSV ---------------------------------------------------------------


def test_issues_csv(tmp_path: Path) -> None:
    rows = [
        issue(),
        issue("ctl-2", "RESOLVED", resolved="2026-01-20 08:00:00.5 +0000 UTC", resolution="ISSUE_FIXED"),
        issue("ctl-3", "RESOLVED", resolution="CONTROL_DISABLED"),
        issue("ctl-4", "REJECTED"),
        issue("ctl-5", "IN_PROGRESS", resource="/subscriptions/ABC/resourceGroups/RG"),
    ]
    path = write_csv(tmp_path, ISSUE_COLUMNS, rows)
    assert sniff(WizCsvParser(), path) and not sniff(WizCliParser(), path)
    a, b, c = found(WizCsvParser(), path)
    assert (a.weakness.tool, a.weakness.vuln_id, a.status, a.weakness.is_config) == (
        "Wiz",
        "ctl-1",
        FindingStatus.OPEN,
        True,
    )
    assert (a.asset.kind, a.asset.name, a.asset.account, a.asset.region) == (
        AssetKind.CLOUD_RESOURCE,
        BUCKET,
        "111122223333",
        "us-east-1",
    )
    assert (a.observed_at, a.since) == (dt.datetime(2026, 2, 1), dt.datetime(2026, 1, 5, 10))  # export, creation
    assert "i-1" in (a.evidence or "") and "created 2026-01-05" in (a.evidence or "") and a.location == ""
    assert (b.status, b.observed_at) == (FindingStatus.FIXED, dt.datetime(2026, 1, 20, 8, 0, 0, 500000))
    assert (c.weakness.vuln_id, c.asset.name) == ("ctl-5", "/subscriptions/abc/resourcegroups/rg")


def test_vulnerability_csv(tmp_path: Path) -> None:
    rows = [
        vuln(),
        vuln(location="/opt/other/libssl.so", last="2026-01-06T10:00:00Z"),  # same CVE and package: one finding
        vuln("GHSA-xxxx-yyyy-zzzz", "Resolved", "k8s.io/api", resolved="2026-01-10T00:00:00Z"),
    ]
    path = write_csv(tmp_path, VULN_COLUMNS, rows)
    assert sniff(WizCsvParser(), path)
    a, b = found(WizCsvParser(), path)
    assert (a.weakness.vuln_id, a.path, a.status, a.weakness.is_config) == (
        "CVE-2026-0001",
        "openssl",
        FindingStatus.OPEN,
        False,
    )
    assert (a.asset.name, a.asset.account, a.asset.region, a.asset.ip) == (VM, "proj", "us-central1", "10.0.0.7")
    assert a.observed_at == dt.datetime(2026, 1, 6, 10) and "/opt/other/libssl.so" in (a.evidence or "")
    assert a.weakness.severity is Severity.MEDIUM and a.weakness.cves == ("CVE-2026-0001",)
    assert (b.status, b.observed_at, b.weakness.cves) == (FindingStatus.FIXED, dt.datetime(2026, 1, 10), ())


def test_odd_issue_rows_are_read_past_with_a_warning(tmp_path: Path) -> None:
    """Rows that used to refuse the whole export (the issue's example: a status other than the
    four documented ones) are mapped when their meaning is clear, else kept open; warned."""
    rows = [
        issue("ctl-1", "MAYBE"),  # meaning unclear: open
        issue("ctl-2", "IGNORED"),  # set aside: neither open nor a fix
        issue("ctl-3", "In Progress"),  # documented, another spelling
        issue(""),  # no Control ID
        issue("ctl-5", resource=""),
        issue("ctl-6", severity="SEVERE"),
        issue("c" * 201),
        issue("ctl-8", ""),  # no status at all
    ]
    records, ctx = run_with_context(WizCsvParser(), write_csv(tmp_path, ISSUE_COLUMNS, rows), file_time=EXPORT)
    got = {f.weakness.vuln_id: (f.status, f.weakness.severity) for f in findings_of(records)}
    assert got == {
        "ctl-1": (FindingStatus.OPEN, Severity.HIGH),
        "ctl-3": (FindingStatus.OPEN, Severity.HIGH),
        "ctl-6": (FindingStatus.OPEN, Severity.MEDIUM),
        "ctl-8": (FindingStatus.OPEN, Severity.HIGH),
    }
    assert ctx.report.warnings == [
        "row 2: status 'MAYBE' not recognised; kept open",
        "row 3: status 'IGNORED' is not a documented Wiz status; read as set aside and left out",
        "row 5: no Control ID; left out",
        "row 6: no Resource external ID; left out",
        "row 7 (ctl-6): severity 'SEVERE' not recognised; rated Moderate",
        "row 8: Control ID longer than 200 characters ('" + "c" * 40 + "'...); left out",
        "row 9: status missing not recognised; kept open",
    ]
    assert ctx.report.skipped == 3


def test_odd_vulnerability_rows_are_read_past_with_a_warning(tmp_path: Path) -> None:
    rows = [
        vuln("CVE-2026-0001", "Maybe"),
        vuln("CVE-2026-0002", "Suppressed"),
        vuln("CVE-2026-0003", "Ignored"),  # documented: set aside without a warning
        dict(vuln("CVE-2026-0004"), ProviderUniqueId="", AssetID=""),
        vuln(""),
        vuln("CVE-2026-0006", severity="Whatever", **{}) | {"CVSSSeverity": ""},
        vuln("CVE-2026-0007", "Open"),
    ]
    records, ctx = run_with_context(WizCsvParser(), write_csv(tmp_path, VULN_COLUMNS, rows))
    got = {f.weakness.vuln_id: (f.status, f.weakness.severity) for f in findings_of(records)}
    assert got == {
        "CVE-2026-0001": (FindingStatus.OPEN, Severity.MEDIUM),
        "CVE-2026-0006": (FindingStatus.OPEN, Severity.MEDIUM),
        "CVE-2026-0007": (FindingStatus.OPEN, Severity.MEDIUM),
    }
    assert ctx.report.warnings == [
        "row 2: status 'Maybe' not recognised; kept open",
        "row 3: status 'Suppressed' is not a documented Wiz status; read as set aside and left out",
        "row 5: no asset id; left out",
        "row 6: no Name; left out",
        "row 7 (CVE-2026-0006): severity 'Whatever' not recognised; rated Moderate",
    ]


def test_every_issue_row_unreadable_refuses_the_file(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(WizCsvParser())
    path = write_csv(tmp_path, ISSUE_COLUMNS, [issue(""), issue("", "RESOLVED")])
    with pytest.raises(InputError, match=re.escape("no record could be read (2 left out; first: row 2: no Control ID")):
        import_file(engine, path)


def test_a_resolved_issue_is_dated_by_its_status_change(tmp_path: Path) -> None:
    """Resolved Time, else a Status Changed At or Updated At column when the export has one,
    else the creation; an open issue is seen at the export."""
    columns = [*ISSUE_COLUMNS, "Status Changed At", "Updated At"]
    rows = [
        dict(
            issue("ctl-1", "RESOLVED", resolved="2026-01-20T08:00:00.5Z"),
            **{"Status Changed At": "2026-01-19T00:00:00Z"},
        ),
        dict(
            issue("ctl-2", "RESOLVED"),
            **{"Status Changed At": "2026-01-21T08:00:00.25Z", "Updated At": "2026-01-25T00:00:00Z"},
        ),
        dict(issue("ctl-3", "RESOLVED"), **{"Updated At": "2026-01-22T00:00:00Z"}),
        issue("ctl-4", "RESOLVED", created="2026-01-05T10:00:00Z"),
    ]
    records, ctx = run_with_context(WizCsvParser(), write_csv(tmp_path, columns, rows), file_time=EXPORT)
    assert {f.weakness.vuln_id: f.observed_at for f in findings_of(records)} == {
        "ctl-1": dt.datetime(2026, 1, 20, 8, 0, 0, 500000),
        "ctl-2": dt.datetime(2026, 1, 21, 8, 0, 0, 250000),
        "ctl-3": dt.datetime(2026, 1, 22),
        "ctl-4": dt.datetime(2026, 1, 5, 10),
    }
    assert not ctx.report.used_file_time  # every record dated by the file
    records, ctx = run_with_context(WizCsvParser(), write_csv(tmp_path, columns, [issue()]), file_time=EXPORT)
    assert [f.observed_at for f in findings_of(records)] == [EXPORT] and ctx.report.used_file_time


def test_undated_vulnerability_rows_and_wizcli_results_take_the_file_time(tmp_path: Path) -> None:
    undated = vuln() | {"FirstDetected": "", "LastDetected": ""}
    records, ctx = run_with_context(WizCsvParser(), write_csv(tmp_path, VULN_COLUMNS, [undated]), file_time=EXPORT)
    assert [f.observed_at for f in findings_of(records)] == [EXPORT] and ctx.report.used_file_time
    records, ctx = run_with_context(WizCsvParser(), write_csv(tmp_path, VULN_COLUMNS, [vuln()]), file_time=EXPORT)
    assert [f.observed_at for f in findings_of(records)] == [dt.datetime(2026, 1, 5, 10)]
    assert not ctx.report.used_file_time
    doc = cli(IMAGE, PACKAGES, createdAt=None)
    records, ctx = run_with_context(WizCliParser(), write_json(tmp_path, doc), file_time=EXPORT)
    assert {f.observed_at for f in findings_of(records)} == {EXPORT} and ctx.report.used_file_time
    records, ctx = run_with_context(WizCliParser(), write_json(tmp_path, cli(IMAGE, PACKAGES)), file_time=EXPORT)
    assert not ctx.report.used_file_time


def test_merged_records_keep_the_newest_of_each_state() -> None:
    """Per finding: the newest open record (detected at the earliest) and, only when newer than
    it, the newest resolved one."""
    from poam.domain.models import Asset, Weakness
    from poam.parsers.wiz import _Merged

    w = Weakness(tool="Wiz", vuln_id="CVE-1", name="CVE-1", severity=Severity.HIGH)
    a = Asset(kind=AssetKind.CLOUD_RESOURCE, name="r")
    t = [dt.datetime(2026, 1, d) for d in range(1, 6)]

    def merged(
        *records: tuple[int, FindingStatus, str],
    ) -> list[tuple[FindingStatus, dt.datetime, dt.datetime | None, str | None]]:
        m = _Merged()
        for day, status, where in records:
            m.add(Finding(w, a, t[day], evidence=where, status=status, path="pkg"))
        return [(f.status, f.observed_at, f.since, f.evidence) for f in m.findings()]

    OPEN, FIXED = FindingStatus.OPEN, FindingStatus.FIXED
    assert merged((1, OPEN, "/a"), (3, FIXED, "/a"), (2, OPEN, "/b")) == [
        (OPEN, t[2], t[1], "/a\n/b"),
        (FIXED, t[3], None, "/a"),
    ]
    assert merged((3, FIXED, "/a"), (4, OPEN, "/b"), (1, OPEN, "/a")) == [(OPEN, t[4], t[1], "/b\n/a")]
    assert merged((2, FIXED, "/a"), (2, OPEN, "/a")) == [(OPEN, t[2], None, "/a")]  # equal times: open wins


VULN_T1, VULN_T2 = "2026-01-10T08:00:00.250Z", "2026-01-10T08:00:00.750Z"


@pytest.mark.parametrize("order", [1, -1], ids=["file-order", "reversed"])
@pytest.mark.parametrize(("open_at", "fixed_at", "closed"), [(VULN_T1, VULN_T2, True), (VULN_T2, VULN_T1, False)])
def test_the_newest_vulnerability_row_decides_on_import(
    engine: Engine, register_parser: Any, tmp_path: Path, order: int, open_at: str, fixed_at: str, closed: bool
) -> None:
    """An open row and a resolved row of one finding, half a second apart: the newer one decides
    (an older open row used to win over a newer resolution)."""
    register_parser(WizCsvParser())
    rows = [vuln(last=open_at), vuln("CVE-2026-0001", "Resolved", location="/opt/b", resolved=fixed_at)]
    r = import_file(engine, write_csv(tmp_path, VULN_COLUMNS, rows[::order]))
    assert r.results == (2 if closed else 1)
    item = items_by_id(engine)["CVE-2026-0001"]
    assert item.status is (ItemStatus.CLOSED if closed else ItemStatus.OPEN)
    with engine.begin() as conn:
        assert conn.execute(select(findings.c.status, findings.c.fixed_at)).one() == (
            ("fixed", dt.datetime(2026, 1, 10, 8, 0, 0, 750000)) if closed else ("open", None)
        )


@pytest.mark.parametrize("order", [1, -1], ids=["file-order", "reversed"])
def test_an_issue_open_at_the_export_outlives_an_earlier_resolved_issue_on_import(
    engine: Engine, register_parser: Any, tmp_path: Path, order: int
) -> None:
    """Two issues of one control and resource: one resolved in January, one open in the export."""
    register_parser(WizCsvParser())
    rows = [
        issue(status="RESOLVED", resolved="2026-01-20T08:00:00Z", resolution="ISSUE_FIXED", issue_id="i-1"),
        issue(issue_id="i-2", created="2026-01-25T00:00:00Z"),
    ]
    path = write_csv(tmp_path, ISSUE_COLUMNS, rows[::order])
    os.utime(path, (EXPORT.replace(tzinfo=dt.UTC).timestamp(),) * 2)
    r = import_file(engine, path)
    assert r.date_source == "mtime"
    assert items_by_id(engine)["ctl-1"].status is ItemStatus.OPEN
    with engine.begin() as conn:
        assert conn.execute(select(findings.c.status, findings.c.last_seen)).one() == ("open", EXPORT)


def test_times() -> None:
    assert wiz_time("2025-04-03 20:20:00.43042 +0000 CET") == dt.datetime(2025, 4, 3, 20, 20, 0, 430420)
    assert wiz_time("2025-04-03 22:20:00 +0200 CEST") == dt.datetime(2025, 4, 3, 20, 20)
    assert wiz_time("0001-01-01T00:00:00Z") is None and wiz_time("soon") is None and wiz_time(None) is None


# --- wizcli JSON --------------------------------------------------------------------------------


def test_image_scan(tmp_path: Path) -> None:
    path = write_json(tmp_path, cli(IMAGE, PACKAGES))
    assert sniff(WizCliParser(), path) and not sniff(WizCsvParser(), path)
    records = parse(WizCliParser(), path)
    cov = [r for r in records if isinstance(r, Coverage)]
    assert [(c.asset.kind, c.asset.name, c.checks) for c in cov] == [
        (AssetKind.CONTAINER_IMAGE, "ghcr.io/acme/web", Checks.VULNERABILITY)
    ]
    got = {(f.weakness.vuln_id, f.path): f for f in records if isinstance(f, Finding)}
    assert set(got) == {
        ("CVE-2026-0001", "libssl3"),
        ("CVE-2026-0002", "golang.org/x/net"),
        ("secret:PASSWORD", "/app/main.go"),
    }
    assert "/app/b/go.mod" in (got[("CVE-2026-0002", "golang.org/x/net")].evidence or "")
    secret = got[("secret:PASSWORD", "/app/main.go")]
    assert secret.evidence == "line 3: Password in URL\nline 9: Password in URL" and secret.weakness.cwes == ("798",)
    assert all(f.observed_at == dt.datetime(2026, 1, 5, 10, 0, 0, 123456) for f in got.values())
    scan = records[-1]
    assert isinstance(scan, Scan) and scan.tool == "Wiz"


def test_directory_and_iac_scans_are_repositories(tmp_path: Path) -> None:
    d = write_json(tmp_path, cli(DIRECTORY, PACKAGES), "d.json")
    (cov,) = [r for r in parse(WizCliParser(), d) if isinstance(r, Coverage)]
    assert (cov.asset.kind, cov.asset.name) == (AssetKind.REPOSITORY, "/builds/acme/web")
    (named,) = [r for r in parse(WizCliParser(), d, "acme/web") if isinstance(r, Coverage)]
    assert named.asset.name == "acme/web"  # --asset wins over a local directory path
    i = write_json(tmp_path, cli(IAC, RULES), "i.json")
    records = parse(WizCliParser(), i)
    assert not [r for r in records if isinstance(r, Coverage)]  # an unnamed IaC scan covers nothing
    (cov,) = [r for r in parse(WizCliParser(), i, "acme/web") if isinstance(r, Coverage)]
    assert (cov.asset.name, cov.checks) == ("acme/web", Checks.CONFIGURATION)
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert f.asset.name == IAC_FALLBACK  # never the timestamped name the file gives
    assert (f.weakness.vuln_id, f.path, f.weakness.is_config, f.weakness.severity) == (
        "rule-1",
        "Dockerfile",
        True,
        Severity.MEDIUM,
    )
    assert f.evidence == "line 4: FROM a:latest (found: latest; expected: a tag)\nline 58: FROM b:latest"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (cli(IMAGE, PACKAGES, status={"state": "FAILED"}), "did not succeed"),
        (cli({"__typename": "CICDScanOriginVM"}, PACKAGES), "unsupported wizcli scan origin"),
        (cli(IMAGE, None), "no result object"),
        (cli({"__typename": "CICDScanOriginContainerImage"}, PACKAGES), "names no image"),
    ],
)
def test_bad_wizcli(tmp_path: Path, doc: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(WizCliParser(), write_json(tmp_path, doc))


def test_unreadable_wizcli_records_are_left_out_and_the_target_not_covered(tmp_path: Path) -> None:
    """Records that used to refuse the result: left out with a warning; the result then covers
    nothing, so that what poam could not read is never closed by its absence."""
    odd = dict(
        PACKAGES,
        libraries=[
            {"name": "x", "vulnerabilities": [{"severity": "LOW"}, {"name": "CVE-2026-0009", "severity": "SEVERE"}]},
            {"vulnerabilities": [{"name": "CVE-2026-0010"}]},
        ],
        ruleMatches=[{"rule": {}, "matches": []}],
    )
    records, ctx = run_with_context(WizCliParser(), write_json(tmp_path, cli(IMAGE, odd)))
    got = {(f.weakness.vuln_id, f.path, f.weakness.severity) for f in findings_of(records)}
    assert got == {
        ("CVE-2026-0001", "libssl3", Severity.LOW),
        ("CVE-2026-0009", "x", Severity.MEDIUM),
        ("secret:PASSWORD", "/app/main.go", Severity.HIGH),
    }
    assert ctx.report.warnings == [
        "libraries[0] vulnerability 1: no vulnerability name; left out",
        "libraries[0] vulnerability 2 (CVE-2026-0009): severity 'SEVERE' not recognised; rated Moderate",
        "libraries[1] vulnerability 1 (CVE-2026-0010): no package name; left out",
        "ruleMatches[0]: no rule id; left out",
    ]
    assert [r for r in records if isinstance(r, Coverage)] == []
    clean = run_with_context(WizCliParser(), write_json(tmp_path, cli(IMAGE, PACKAGES)))[0]
    assert len([r for r in clean if isinstance(r, Coverage)]) == 1


def test_several_wizcli_results_in_one_file(tmp_path: Path) -> None:
    """Results written one after another, or one per line: each covers its target at its time."""
    jan = cli(IMAGE, PACKAGES)
    feb = cli(dict(IMAGE, name="ghcr.io/acme/web:1.3"), dict(PACKAGES, osPackages=[]), createdAt="2026-02-05T10:00:00Z")
    for text in (json.dumps(jan, indent=2) + json.dumps(feb, indent=2), json.dumps(jan) + "\n" + json.dumps(feb)):
        path = tmp_path / "w.json"
        path.write_text(text)
        assert sniff(WizCliParser(), path) and not sniff(WizCsvParser(), path) and detected(path) == "wizcli"
        records = parse(WizCliParser(), path)
        covers = [(c.asset.name, c.started_at) for c in records if isinstance(c, Coverage)]
        assert covers == [
            ("ghcr.io/acme/web", dt.datetime(2026, 1, 5, 10, 0, 0, 123456)),
            ("ghcr.io/acme/web", dt.datetime(2026, 2, 5, 10)),
        ]
        libssl = [f.observed_at for f in findings_of(records) if f.path == "libssl3"]
        assert libssl == [dt.datetime(2026, 1, 5, 10, 0, 0, 123456)]
        scan = records[-1]
        assert isinstance(scan, Scan) and (scan.name, scan.started_at, scan.ended_at) == (
            "wizcli image scan",
            dt.datetime(2026, 1, 5, 10, 0, 0, 123456),
            dt.datetime(2026, 2, 5, 10),
        )
    with pytest.raises(InputError, match="document 2: not a wizcli result"):
        parse(WizCliParser(), _text_file(tmp_path, json.dumps(jan) + "[]"))


def test_a_wizcli_result_that_cannot_be_read_among_others_is_left_out(tmp_path: Path) -> None:
    """A failed scan, an unknown origin or a nameless image is one result's problem when the file
    holds others; alone it refuses the file."""
    good = cli(IMAGE, PACKAGES)
    failed = cli(IMAGE, PACKAGES, status={"state": "FAILED"})
    vm = cli({"__typename": "CICDScanOriginVM"}, PACKAGES)
    records, ctx = run_with_context(
        WizCliParser(), _text_file(tmp_path, "\n".join(json.dumps(d) for d in (failed, good, vm)))
    )
    assert {f.path for f in findings_of(records)} >= {"libssl3"}
    assert len([r for r in records if isinstance(r, Coverage)]) == 1
    assert ctx.report.skipped == 2 and ctx.report.warnings == [
        "document 1: the wizcli scan did not succeed (state FAILED); left out",
        "document 3: unsupported wizcli scan origin 'CICDScanOriginVM'; left out",
    ]
    with pytest.raises(InputError, match=r"w.json: the wizcli scan did not succeed"):
        parse(WizCliParser(), _text_file(tmp_path, json.dumps(failed) + json.dumps(failed)))


def test_odd_wizcli_values(tmp_path: Path) -> None:
    odd = {
        "osPackages": None,
        "libraries": [None, {"name": "x", "vulnerabilities": None}],
        "secrets": [None],
        "ruleMatches": "x",
    }
    got = found(WizCliParser(), write_json(tmp_path, cli(IMAGE, odd, createdAt=None)))
    assert [(f.weakness.vuln_id, f.path, f.observed_at) for f in got] == [
        ("secret:UNKNOWN", None, dt.datetime(2026, 2, 1))
    ]


# --- the real files of the corpus ---------------------------------------------------------------


def _csv_expected(path: Path) -> set[tuple[str, str, str, str | None]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    out: set[tuple[str, str, str, str | None]] = set()
    for r in rows:
        if "Control ID" in r:
            if r["Status"] == "RESOLVED" and r["Resolution"] in (
                "CONTROL_DISABLED",
                "EXCEPTION",
                "FALSE_POSITIVE",
                "WONT_FIX",
            ):
                continue
            out.add(
                (r["Control ID"], r["Resource external ID"], "fixed" if r["Status"] == "RESOLVED" else "open", None)
            )
        else:
            status = "fixed" if r["FindingStatus"] == "Resolved" else "open"
            out.add((r["Name"], r["ProviderUniqueId"] or r["AssetID"], status, r["DetailedName"]))
    return out


def _cli_expected(path: Path) -> set[tuple[str, str | None]]:
    result = json.loads(path.read_text())["result"]
    out: set[tuple[str, str | None]] = set()
    for p in (result.get("osPackages") or []) + (result.get("libraries") or []):
        out |= {(v["name"], p["name"]) for v in p["vulnerabilities"]}
    out |= {(f"secret:{s['type']}", s["path"]) for s in result.get("secrets") or []}
    out |= {(m["rule"]["id"], x["fileName"]) for m in result.get("ruleMatches") or [] for x in m["matches"]}
    return out


@pytest.mark.corpus
def test_every_corpus_file_matches_an_independent_count() -> None:
    files = sorted(corpus_dir("wiz").iterdir())
    assert len(files) == 9
    for path in files:
        if path.suffix == ".csv":
            got = {(f.weakness.vuln_id, f.asset.name, f.status.value, f.path) for f in found(WizCsvParser(), path)}
            assert got == _csv_expected(path), path.name
        else:
            records = parse(WizCliParser(), path)
            got_cli = {(f.weakness.vuln_id, f.path) for f in records if isinstance(f, Finding)}
            assert got_cli == _cli_expected(path), path.name
            assert all("2024" not in (r.asset.name or "") for r in records if isinstance(r, Finding)), path.name
            covers = [r for r in records if isinstance(r, Coverage)]
            if "wizcli_iac" in path.name:  # names no repository: covers nothing
                assert covers == [], path.name
            else:
                kind = AssetKind.CONTAINER_IMAGE if "wizcli_img" in path.name else AssetKind.REPOSITORY
                assert [c.asset.kind for c in covers] == [kind], path.name


@pytest.mark.corpus
def test_sniffs_claim_exactly_the_wiz_files() -> None:
    for path in sorted(CORPUS.glob("*/*")):
        in_folder = path.parent.name == "wiz"
        assert sniff(WizCsvParser(), path) == (in_folder and path.suffix == ".csv"), path
        assert sniff(WizCliParser(), path) == (in_folder and path.suffix == ".json"), path


# --- end to end ---------------------------------------------------------------------------------


def items_by_id(engine: Engine, system: str | None = None) -> dict[str, Any]:
    with engine.begin() as conn:
        return {i.source_identifier: i for i in load(conn, systems.resolve(conn, system, "t").id, "all")}


def test_resolved_issues_close_items(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(WizCsvParser())
    other = "arn:aws:s3:::bucket-b"
    jan = write_csv(tmp_path, ISSUE_COLUMNS, [issue(), issue(resource=other)], "jan.csv")
    r = import_file(engine, jan, scan_date=dt.datetime(2026, 1, 10))  # the export's own day
    assert (r.format, r.tool, r.items_opened, r.assets_covered) == ("wiz-csv", "Wiz", 1, 0)
    feb = [issue(status="RESOLVED", resolved="2026-02-05T00:00:00Z", resolution="ISSUE_FIXED")]
    r2 = import_file(engine, write_csv(tmp_path, ISSUE_COLUMNS, feb, "feb.csv"), scan_date=dt.datetime(2026, 2, 6))
    assert (r2.fixed_findings, r2.items_closed) == (1, 0)
    item = items_by_id(engine)["ctl-1"]
    assert item.status is ItemStatus.OPEN and [a.text for a in item.assets] == [other]


def test_open_issues_are_seen_at_the_export_and_detected_at_creation(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(WizCsvParser())
    created = "2025-12-20T10:00:00Z"
    jan = write_csv(tmp_path, ISSUE_COLUMNS, [issue(created=created)], "jan.csv")
    r = import_file(engine, jan, scan_date=dt.datetime(2026, 1, 15))
    assert r.items_opened == 1
    item = items_by_id(engine)["ctl-1"]
    assert item.detection_date == dt.date(2025, 12, 20)  # Wiz's creation, not the export
    resolved = issue(created=created, status="RESOLVED", resolved="2026-03-01T00:00:00Z", resolution="ISSUE_FIXED")
    r = import_file(
        engine, write_csv(tmp_path, ISSUE_COLUMNS, [resolved], "mar.csv"), scan_date=dt.datetime(2026, 3, 2)
    )
    assert r.closed_ids == ["V-1"]
    # Wiz reopens the same issue (same id, same creation time): open again in May's export
    may = write_csv(tmp_path, ISSUE_COLUMNS, [issue(created=created)], "may.csv")
    r = import_file(engine, may, scan_date=dt.datetime(2026, 5, 15))
    assert (r.items_opened, r.started_at) == (1, dt.datetime(2026, 5, 15))
    reopened = [i for i in items_by_id(engine).values() if i.status is ItemStatus.OPEN]
    assert [(i.poam_id, i.detection_date) for i in reopened] == [("V-2", dt.date(2026, 5, 15))]


def test_an_older_export_imported_late_does_not_close_what_a_newer_one_shows_open(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(WizCsvParser())
    created = "2026-01-05T10:00:00Z"
    jun = write_csv(tmp_path, ISSUE_COLUMNS, [issue(created=created)], "jun.csv")
    import_file(engine, jun, scan_date=dt.datetime(2026, 6, 1))
    with engine.begin() as conn:
        seen = conn.execute(select(findings.c.first_seen, findings.c.last_seen)).one()
    assert seen == (dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 6, 1))  # detected at creation, seen at export
    resolved = issue(created=created, status="RESOLVED", resolved="2026-02-20T00:00:00Z", resolution="ISSUE_FIXED")
    mar = write_csv(tmp_path, ISSUE_COLUMNS, [resolved], "mar.csv")  # fixed then, reopened by June
    r = import_file(engine, mar, scan_date=dt.datetime(2026, 3, 1))
    assert (r.fixed_findings, r.closed_ids) == (0, [])
    assert items_by_id(engine)["ctl-1"].status is ItemStatus.OPEN


def test_a_later_wizcli_scan_closes_what_it_no_longer_finds(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(WizCliParser())
    r = import_file(engine, write_json(tmp_path, cli(IMAGE, PACKAGES), "jan.json"))
    assert (r.format, r.assets_covered, r.items_opened) == ("wizcli", 1, 3)
    assert [a.text for a in items_by_id(engine)["CVE-2026-0001"].assets] == ["ghcr.io/acme/web (libssl3)"]
    later = dict(PACKAGES, osPackages=[])  # the image was rebuilt with a fixed libssl3 (new tag)
    feb = cli(dict(IMAGE, name="ghcr.io/acme/web:1.3"), later, createdAt="2026-02-05T10:00:00Z")
    r2 = import_file(engine, write_json(tmp_path, feb, "feb.json"))
    assert (r2.fixed_findings, r2.items_closed) == (1, 1)
    items = items_by_id(engine)
    assert items["CVE-2026-0001"].status is ItemStatus.CLOSED and items["CVE-2026-0002"].status is ItemStatus.OPEN
    # An IaC scan of a repository does not close vulnerabilities of a directory scan of it.
    import_file(engine, write_json(tmp_path, cli(DIRECTORY, PACKAGES), "d.json"), asset="acme/web")
    iac = cli(IAC, dict(RULES, ruleMatches=[]), createdAt="2026-03-01T00:00:00Z")
    r3 = import_file(engine, write_json(tmp_path, iac, "i.json"), asset="acme/web")
    assert r3.fixed_findings == 0


POLICY = {"policy": {"id": "p-1", "name": "Default vulnerabilities policy"}}
IGNORED = [{**POLICY, "ignoreReason": "Risk accepted"}]


def test_wizcli_records_an_ignore_rule_sets_aside_are_set_aside(tmp_path: Path) -> None:
    result = {
        "__typename": "CICDDiskScanResult",
        "osPackages": [
            {
                "name": "libssl3",
                "vulnerabilities": [
                    {"name": "CVE-1", "severity": "HIGH", "ignoredPolicyMatches": IGNORED},
                    {
                        "name": "CVE-2",
                        "severity": "HIGH",
                        "ignoredPolicyMatches": IGNORED,
                        "failedPolicyMatches": [POLICY],
                    },
                    {"name": "CVE-3", "severity": "HIGH", "ignoredPolicyMatches": [], "failedPolicyMatches": None},
                ],
            }
        ],
        "libraries": [
            {
                "name": "x/net",
                "path": "/a/go.mod",
                "vulnerabilities": [{"name": "CVE-4", "ignoredPolicyMatches": IGNORED}],
            },
            {"name": "x/net", "path": "/b/go.mod", "vulnerabilities": [{"name": "CVE-4"}]},  # open: wins
        ],
        "secrets": [{"path": "/app/main.go", "type": "PASSWORD", "ignoredPolicyMatches": IGNORED}],
    }
    got = {
        (f.weakness.vuln_id, f.asset.name, f.path): f.status
        for f in found(WizCliParser(), write_json(tmp_path, cli(IMAGE, result)))
    }
    assert got == {
        ("CVE-1", "ghcr.io/acme/web", "libssl3"): FindingStatus.SET_ASIDE,
        ("CVE-2", "ghcr.io/acme/web", "libssl3"): FindingStatus.OPEN,  # it still fails a policy
        ("CVE-3", "ghcr.io/acme/web", "libssl3"): FindingStatus.OPEN,
        ("CVE-4", "ghcr.io/acme/web", "x/net"): FindingStatus.OPEN,
        ("secret:PASSWORD", "ghcr.io/acme/web", "/app/main.go"): FindingStatus.SET_ASIDE,
    }
    matches = [
        {"fileName": "Dockerfile", "lineNumber": 4, "ignoredPolicyMatches": IGNORED},
        {"fileName": "main.tf", "lineNumber": 9, "ignoredPolicyMatches": IGNORED, "failedPolicies": [POLICY["policy"]]},
    ]
    rules = {"__typename": "CICDIACScanResult", "ruleMatches": [{"rule": {"id": "rule-1"}, "matches": matches}]}
    iac = found(WizCliParser(), write_json(tmp_path, cli(IAC, rules), "i.json"), asset="acme/web")
    assert [(f.weakness.vuln_id, f.path, f.status, f.weakness.is_config) for f in iac] == [
        ("rule-1", "Dockerfile", FindingStatus.SET_ASIDE, True),
        ("rule-1", "main.tf", FindingStatus.OPEN, True),
    ]


def test_an_ignored_wizcli_record_keeps_its_open_finding_open_until_it_is_gone(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    """An ignore rule is a person's decision, not a fix: a scan that still reports the record (set
    aside) closes nothing of it and opens nothing; a scan without it closes it."""
    register_parser(WizCliParser())

    def scan(day: str, *vulns: dict[str, Any]) -> Any:
        result = {
            "__typename": "CICDDiskScanResult",
            "osPackages": [{"name": "libssl3", "vulnerabilities": list(vulns)}],
        }
        return import_file(
            engine, write_json(tmp_path, cli(IMAGE, result, createdAt=f"{day}T10:00:00Z"), f"{day}.json")
        )

    jan = scan("2026-01-05", {"name": "CVE-1", "severity": "HIGH"})
    assert (jan.assets_covered, jan.new_findings, jan.items_opened) == (1, 1, 1)
    feb = scan("2026-02-05", {"name": "CVE-1", "severity": "HIGH", "ignoredPolicyMatches": IGNORED})
    assert (feb.set_aside, feb.fixed_findings, feb.items_closed) == (1, 0, 0)
    new = scan(
        "2026-02-06",
        {"name": "CVE-1", "severity": "HIGH", "ignoredPolicyMatches": IGNORED},
        {"name": "CVE-9", "severity": "HIGH", "ignoredPolicyMatches": IGNORED},
    )
    assert (new.new_findings, new.items_opened, new.fixed_findings) == (0, 0, 0)
    items = items_by_id(engine)
    assert set(items) == {"CVE-1"} and items["CVE-1"].status is ItemStatus.OPEN
    mar = scan("2026-03-05")
    assert (mar.fixed_findings, mar.items_closed) == (1, 1)


@pytest.mark.corpus
def test_corpus_files_import_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(WizCsvParser(), WizCliParser())
    for n, path in enumerate(sorted(corpus_dir("wiz").iterdir())):
        name = f"w{n}"
        systems.add_system(engine, name, "test")
        result = import_file(engine, path, system=name)
        parser = WizCsvParser() if path.suffix == ".csv" else WizCliParser()
        assert result.format == parser.id, path.name
        expected = {
            f.weakness.vuln_id
            for f in found(parser, path)
            if f.status is FindingStatus.OPEN and f.weakness.severity is not Severity.INFO
        }
        assert set(items_by_id(engine, name)) == expected, path.name
