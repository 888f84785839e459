"""The Microsoft Defender parsers (Defender for Cloud CSV, Defender for Endpoint JSON and zip)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Finding, FindingStatus, ItemStatus, Severity
from poam.errors import InputError
from poam.parsers import defender
from poam.parsers.base import ParseContext
from poam.parsers.defender import DefenderCloudParser, DefenderEndpointParser
from poam.parsers.registry import read_head
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS, corpus_dir

SUB = "9cfbad7a-7369-42e4-bcce-7677c5b3a44b"
VNET = f"/subscriptions/{SUB}/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/net"
HEADER = (
    "exportedTimestamp,subscriptionId,subscriptionName,resourceGroup,resourceType,resourceName,resourceId,"
    "recommendationId,recommendationName,recommendationDisplayName,description,remediationSteps,severity,state,"
    "notApplicableReason,firstEvaluationDate,statusChangeDate,controls,azurePortalRecommendationLink,nativeCloudAccountId"
)


def rec_row(
    key: str = "f67fb4ed", state: str = "Unhealthy", resource: str = VNET, when: str = "2026-01-05T10:00:00Z"
) -> list[str]:
    return [
        when, SUB, "sub", "RG", "virtualnetworks", "net", resource,
        f"{resource}/providers/Microsoft.Security/assessments/{key}", key, "Use a firewall", "desc", "steps",
        "High", state, "", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
        '{"Restrict unauthorized network access":"f9d5"}', "https://portal.azure.com/x", "",
    ]  # fmt: skip


def cloud_csv(tmp_path: Path, *rows: list[str], name: str = "rec.csv") -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER.split(","))
    writer.writerows(rows)
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())
    return path


def vuln(cve: str = "CVE-2026-0001", machine: str = "m1", product: str = "openssl", **kw: Any) -> dict[str, Any]:
    return {
        "id": f"{machine}-_-{cve}-_-vendor-_-{product}-_-1.0-_-",
        "cveId": cve,
        "machineId": machine,
        "fixingKbId": kw.get("kb"),
        "productName": product,
        "productVendor": "vendor",
        "productVersion": "1.0",
        "severity": kw.get("severity", "High"),
    }


def page(*values: dict[str, Any], next_link: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@odata.context": "https://api.securitycenter.microsoft.com/api/$metadata",
        "value": list(values),
    }
    if next_link:
        doc["@odata.nextLink"] = "https://api.securitycenter.microsoft.com/api/x?$skip=10000"
    return doc


MACHINE = {
    "id": "m1",
    "computerDnsName": "web01.corp.example",
    "lastIpAddress": "10.0.0.5",
    "osPlatform": "Windows11",
    "lastSeen": "2026-01-05T10:00:00Z",
}


def bundle(tmp_path: Path, members: dict[str, bytes], name: str = "b.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
    return path


def parse(parser: Any, path: Path) -> list[Any]:
    with path.open("rb") as f:
        return list(parser.parse(f, ParseContext(str(path), file_time=dt.datetime(2026, 2, 1))))


def found(parser: Any, path: Path) -> list[Finding]:
    return [r for r in parse(parser, path) if isinstance(r, Finding)]


def sniff(parser: Any, path: Path) -> bool:
    with path.open("rb") as f:
        return bool(parser.sniff(read_head(f)))


# --- Defender for Cloud -------------------------------------------------------------------------


def test_cloud_states(tmp_path: Path) -> None:
    path = cloud_csv(tmp_path, rec_row(), rec_row("aaaa", "Healthy"), rec_row("bbbb", "NotApplicable"))
    assert sniff(DefenderCloudParser(), path) and not sniff(DefenderEndpointParser(), path)
    open_, fixed = found(DefenderCloudParser(), path)
    assert (open_.weakness.tool, open_.weakness.vuln_id, open_.status) == (
        "Microsoft Defender for Cloud",
        "f67fb4ed",
        FindingStatus.OPEN,
    )
    assert (open_.asset.kind, open_.asset.name, open_.asset.account) == (AssetKind.CLOUD_RESOURCE, VNET.lower(), SUB)
    assert open_.weakness.is_config and open_.weakness.severity is Severity.HIGH
    assert open_.weakness.family == "Restrict unauthorized network access"
    assert open_.observed_at == dt.datetime(2026, 1, 5, 10) and open_.location == ""
    assert (fixed.weakness.vuln_id, fixed.status) == ("aaaa", FindingStatus.FIXED)


def parse_with_context(parser: Any, path: Path, **context: Any) -> tuple[list[Any], ParseContext]:
    ctx = ParseContext(str(path), file_time=dt.datetime(2026, 2, 1), **context)
    with path.open("rb") as f:
        return list(parser.parse(f, ctx)), ctx


@pytest.mark.parametrize(
    ("state", "status", "warning"),
    [
        ("Unhealthy", FindingStatus.OPEN, None),
        ("Healthy", FindingStatus.FIXED, None),
        ("NotApplicable", None, None),
        ("Exempt", None, "state 'Exempt' means set aside; left out"),
        ("Dismissed", None, "state 'Dismissed' means set aside; left out"),
        ("Weird", FindingStatus.OPEN, "status 'Weird' not recognised; kept open"),
        ("", FindingStatus.OPEN, "status missing not recognised; kept open"),
    ],
)
def test_cloud_state_values(tmp_path: Path, state: str, status: FindingStatus | None, warning: str | None) -> None:
    records, ctx = parse_with_context(DefenderCloudParser(), cloud_csv(tmp_path, rec_row(state=state)))
    assert [f.status for f in records if isinstance(f, Finding)] == ([status] if status else [])
    assert ctx.report.warnings == ([f"row 2 (f67fb4ed): {warning}"] if warning else [])


def test_cloud_rows_without_ids_are_left_out(tmp_path: Path) -> None:
    no_key = rec_row()
    no_key[7] = no_key[8] = ""
    path = cloud_csv(tmp_path, rec_row(resource=""), no_key, rec_row("cccc"))
    records, ctx = parse_with_context(DefenderCloudParser(), path)
    assert [f.weakness.vuln_id for f in records if isinstance(f, Finding)] == ["cccc"]
    assert ctx.report.skipped == 2
    assert ctx.report.warnings == [
        "row 2 (f67fb4ed): recommendationId or resourceId is empty; left out",
        "row 3: recommendationId or resourceId is empty; left out",
    ]


def test_cloud_unknown_severity(tmp_path: Path) -> None:
    row = rec_row()
    row[12] = "Severe"
    records, ctx = parse_with_context(DefenderCloudParser(), cloud_csv(tmp_path, row))
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert f.weakness.severity is Severity.MEDIUM
    assert ctx.report.warnings == ["row 2 (f67fb4ed): severity 'Severe' not recognised; rated Moderate"]


def test_cloud_times(tmp_path: Path) -> None:
    records, ctx = parse_with_context(
        DefenderCloudParser(), cloud_csv(tmp_path, rec_row(), rec_row("aaaa", "Healthy", when=""))
    )
    unhealthy, healthy = [r for r in records if isinstance(r, Finding)]
    # dated by the export; unhealthy since its status change (the tool's detection time)
    assert (unhealthy.observed_at, unhealthy.since) == (dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 1, 2))
    assert (healthy.observed_at, healthy.since) == (dt.datetime(2026, 1, 2), None)  # no export time
    assert not ctx.report.used_file_time


def test_cloud_without_dates_or_controls(tmp_path: Path) -> None:
    row = rec_row(when="")
    row[16], row[17] = "", "not json"
    records, ctx = parse_with_context(DefenderCloudParser(), cloud_csv(tmp_path, row))
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert f.observed_at == ctx.file_time and f.weakness.family is None and f.since is None
    assert ctx.report.used_file_time


# --- Defender for Endpoint ----------------------------------------------------------------------


def test_endpoint_json(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text(
        json.dumps(page(vuln(), vuln(product="libssl"), vuln("CVE-2026-0002", kb="5031234"), next_link=True))
    )
    assert sniff(DefenderEndpointParser(), path) and not sniff(DefenderCloudParser(), path)
    a, b, c = found(DefenderEndpointParser(), path)
    assert (a.weakness.tool, a.weakness.vuln_id, a.path) == (
        "Microsoft Defender for Endpoint",
        "CVE-2026-0001",
        "openssl",
    )
    assert (a.asset.kind, a.asset.name) == (AssetKind.OTHER, "m1")  # no machine list: known by id only
    assert b.path == "libssl" and "1.0" in (b.evidence or "") and "1.0" not in b.location
    assert "KB5031234" in (c.evidence or "") and a.observed_at == dt.datetime(2026, 2, 1)


def test_endpoint_bundle_joins_machines(tmp_path: Path) -> None:
    machines = page(MACHINE, {"id": "m2", "computerDnsName": "WS7"}, {"id": "m3"})
    path = bundle(
        tmp_path,
        {
            "vulnerabilities/page1.json": json.dumps(page(vuln(), vuln(machine="m2"), vuln(machine="m3"))).encode(),
            "machines/machines.json": b"\xef\xbb\xbf" + json.dumps(machines).encode(),
            ".DS_Store": b"\0\0",
            "readme.txt": b"hello",
        },
    )
    assert sniff(DefenderEndpointParser(), path)
    a, b, c = found(DefenderEndpointParser(), path)
    assert (a.asset.kind, a.asset.fqdn, a.asset.ip, a.asset.os) == (
        AssetKind.HOST,
        "web01.corp.example",
        "10.0.0.5",
        "Windows11",
    )
    assert a.observed_at == dt.datetime(2026, 1, 5, 10)
    assert (b.asset.kind, b.asset.netbios, b.asset.fqdn) == (AssetKind.HOST, "WS7", None)
    assert (c.asset.kind, c.asset.name) == (AssetKind.OTHER, "m3")


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../vulnerabilities/x.json": b"{}"}, "unsafe path"),
        ({"/etc/vulnerabilities/x.json": b"{}"}, "unsafe path"),
        ({"vulnerabilities\\x.json": b"{}"}, "unsafe path"),
        ({"C:/vulnerabilities/x.json": b"{}"}, "unsafe path"),
        ({"report/findings.json": b"{}"}, "not a Defender for Endpoint bundle"),
        ({"vulnerabilities/x.json": b"not json"}, "not valid JSON"),
        ({"vulnerabilities/x.json": b'{"results": []}'}, 'no "value" list'),
    ],
)
def test_bad_bundles(tmp_path: Path, members: dict[str, bytes], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(DefenderEndpointParser(), bundle(tmp_path, members))


def test_zip_bomb_and_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = bundle(tmp_path, {"vulnerabilities/a.json": b'{"value": [' + b" " * (8 * 1024 * 1024) + b"]}"}, "bomb.zip")
    assert bomb.stat().st_size < 100_000
    with pytest.raises(InputError, match="zip bomb"):
        parse(DefenderEndpointParser(), bomb)
    monkeypatch.setattr(defender, "ZIP_MAX_TOTAL", 1000)
    big = bundle(tmp_path, {f"vulnerabilities/{i}.json": b'{"value": []}' + b" " * 400 for i in range(3)}, "big.zip")
    with pytest.raises(InputError, match="larger than"):
        parse(DefenderEndpointParser(), big)
    monkeypatch.setattr(defender, "ZIP_MAX_MEMBERS", 2)
    many = bundle(tmp_path, {f"machines/{i}.json": b"{}" for i in range(3)}, "many.zip")
    with pytest.raises(InputError, match="more than 2 members"):
        parse(DefenderEndpointParser(), many)


def test_lying_and_broken_zips(tmp_path: Path) -> None:
    path = bundle(tmp_path, {"vulnerabilities/a.json": json.dumps(page(vuln())).encode()})
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (5).to_bytes(4, "little")  # declared uncompressed size: 5 bytes
    lying = tmp_path / "lying.zip"
    lying.write_bytes(bytes(data))
    with pytest.raises(InputError, match="larger than it declares|cannot read"):
        parse(DefenderEndpointParser(), lying)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(path.read_bytes()[:40])
    with pytest.raises(InputError, match="not a readable zip"):
        parse(DefenderEndpointParser(), cut)


def test_endpoint_odd_records_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text(json.dumps(page(1, vuln(cve=""), vuln(machine=""), vuln(severity="Severe"))))  # type: ignore[arg-type]
    records, ctx = parse_with_context(DefenderEndpointParser(), path)
    (f,) = [r for r in records if isinstance(r, Finding)]
    assert (f.weakness.vuln_id, f.weakness.severity) == ("CVE-2026-0001", Severity.MEDIUM)
    assert ctx.report.skipped == 3
    assert ctx.report.warnings == [
        "vulnerability 1: not a JSON object; left out",
        "vulnerability 2: no cveId; left out",
        "vulnerability 3 (CVE-2026-0001): no machineId; left out",
        "vulnerability 4 (CVE-2026-0001): severity 'Severe' not recognised; rated Moderate",
    ]


def test_endpoint_file_of_unreadable_records_is_refused(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(DefenderEndpointParser())
    path = bundle(tmp_path, {"vulnerabilities/x.json": b'{"value": [{"id": "CVE-1"}]}'})
    with pytest.raises(InputError, match="no record could be read .*vulnerability 1: no cveId"):
        import_file(engine, path)


def test_endpoint_pages_one_after_another(tmp_path: Path) -> None:
    path = tmp_path / "pages.json"
    path.write_text(
        json.dumps(page(vuln(), next_link=True), indent=2) + "\n" + json.dumps(page(vuln("CVE-2026-0002", "m2")))
    )
    assert sniff(DefenderEndpointParser(), path)
    records, ctx = parse_with_context(DefenderEndpointParser(), path)
    assert [(f.weakness.vuln_id, f.asset.name) for f in records if isinstance(f, Finding)] == [
        ("CVE-2026-0001", "m1"),
        ("CVE-2026-0002", "m2"),
    ]
    assert ctx.report.used_file_time  # the list gives no time
    path.write_text(json.dumps(page(vuln())) + json.dumps({"results": []}))
    with pytest.raises(InputError, match='no "value" list'):
        parse(DefenderEndpointParser(), path)


def test_endpoint_dates(tmp_path: Path) -> None:
    dated = bundle(
        tmp_path,
        {
            "vulnerabilities/1.json": json.dumps(page(vuln())).encode(),
            "machines/m.json": json.dumps(page(MACHINE)).encode(),
        },
    )
    records, ctx = parse_with_context(DefenderEndpointParser(), dated)
    assert [f.observed_at for f in records if isinstance(f, Finding)] == [dt.datetime(2026, 1, 5, 10)]
    assert not ctx.report.used_file_time  # every machine had its lastSeen
    records, ctx = parse_with_context(DefenderEndpointParser(), dated, scan_date=dt.datetime(2026, 3, 1))
    assert not ctx.report.used_file_time
    undated = bundle(
        tmp_path,
        {
            "vulnerabilities/1.json": json.dumps(page(vuln())).encode(),
            "machines/m.json": json.dumps(page(dict(MACHINE, lastSeen=None))).encode(),
        },
        "undated.zip",
    )
    records, ctx = parse_with_context(DefenderEndpointParser(), undated)
    assert [f.observed_at for f in records if isinstance(f, Finding)] == [ctx.file_time]
    assert ctx.report.used_file_time


# --- the real files of the corpus ---------------------------------------------------------------


def _endpoint_expected(path: Path) -> tuple[set[tuple[str, str, str]], dict[str, dict[str, Any]]]:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            docs = {n: json.loads(z.read(n)) for n in z.namelist() if n.endswith(".json")}
        vulns = [v for n, d in docs.items() if n.startswith("vulnerabilities/") for v in d["value"]]
        machines = {m["id"]: m for n, d in docs.items() if n.startswith("machines/") for m in d["value"]}
    else:
        vulns, machines = json.loads(path.read_text())["value"], {}
    return {(v["cveId"], v["machineId"], v["productName"]) for v in vulns}, machines


@pytest.mark.corpus
def test_endpoint_corpus_files_match_an_independent_count() -> None:
    files = sorted(corpus_dir("ms_defender_endpoint").iterdir())
    assert len(files) == 5
    for path in files:
        expected, machines = _endpoint_expected(path)
        got = found(DefenderEndpointParser(), path)
        assert len(got) == len(expected), path.name
        for f in got:
            machine = f.asset.name or ""
            assert (f.weakness.vuln_id, machine, f.path) in expected, path.name
            m = machines.get(machine)
            if m and (m.get("computerDnsName") or m.get("lastIpAddress")):
                assert (f.asset.kind, f.asset.ip) == (AssetKind.HOST, m["lastIpAddress"]), path.name
            else:
                assert f.asset.kind is AssetKind.OTHER, path.name


@pytest.mark.corpus
def test_cloud_corpus_file_matches_an_independent_count() -> None:
    (path,) = sorted(corpus_dir("ms_defender_for_cloud_csv").iterdir())
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = {
        (r["recommendationName"], r["resourceId"].lower(), "open" if r["state"] == "Unhealthy" else "fixed")
        for r in rows
        if r["state"] != "NotApplicable"
    }
    got = {(f.weakness.vuln_id, f.asset.name, f.status.value) for f in found(DefenderCloudParser(), path)}
    assert got == expected and len(expected) == 4
    assert {f.asset.account for f in found(DefenderCloudParser(), path)} == {SUB}


@pytest.mark.corpus
def test_sniffs_claim_exactly_their_files() -> None:
    for parser, folder in (
        (DefenderCloudParser(), "ms_defender_for_cloud_csv"),
        (DefenderEndpointParser(), "ms_defender_endpoint"),
    ):
        for path in sorted(CORPUS.glob("*/*")):
            assert sniff(parser, path) == (path.parent.name == folder), (parser.id, path)


# --- end to end ---------------------------------------------------------------------------------


def items_by_id(engine: Engine, system: str | None = None) -> dict[str, Any]:
    with engine.begin() as conn:
        return {i.source_identifier: i for i in load(conn, systems.resolve(conn, system, "t").id, "all")}


def test_healthy_rows_close_items(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(DefenderCloudParser())
    other = VNET + "2"
    r = import_file(engine, cloud_csv(tmp_path, rec_row(), rec_row(resource=other), name="jan.csv"))
    assert (r.format, r.tool, r.items_opened, r.assets_covered) == (
        "defender-cloud",
        "Microsoft Defender for Cloud",
        1,
        0,
    )
    feb = cloud_csv(tmp_path, rec_row(state="Healthy", when="2026-02-05T10:00:00Z"), name="feb.csv")
    r2 = import_file(engine, feb)
    assert (r2.fixed_findings, r2.items_closed) == (1, 0)
    item = items_by_id(engine)["f67fb4ed"]
    assert item.status is ItemStatus.OPEN and [a.text for a in item.assets] == [other.lower()]


def test_endpoint_lists_never_close_what_they_leave_out(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(DefenderEndpointParser())
    machines = json.dumps(page(MACHINE)).encode()
    jan = bundle(
        tmp_path,
        {
            "vulnerabilities/1.json": json.dumps(page(vuln(), vuln("CVE-2026-0002"))).encode(),
            "machines/m.json": machines,
        },
        "jan.zip",
    )
    r = import_file(engine, jan)
    assert (r.format, r.items_opened) == ("defender-endpoint", 2)
    assert [a.text for a in items_by_id(engine)["CVE-2026-0001"].assets] == ["web01.corp.example (openssl)"]
    feb = bundle(
        tmp_path, {"vulnerabilities/1.json": json.dumps(page(vuln())).encode(), "machines/m.json": machines}, "feb.zip"
    )
    r2 = import_file(engine, feb)
    assert (r2.fixed_findings, r2.items_closed, r2.new_findings) == (0, 0, 0)
    assert all(i.status is ItemStatus.OPEN for i in items_by_id(engine).values())


@pytest.mark.corpus
def test_corpus_files_import_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(DefenderCloudParser(), DefenderEndpointParser())
    paths = sorted(corpus_dir("ms_defender_endpoint").iterdir()) + sorted(
        corpus_dir("ms_defender_for_cloud_csv").iterdir()
    )
    for n, path in enumerate(paths):
        name = f"d{n}"
        systems.add_system(engine, name, "test")
        import_file(engine, path, system=name)
        parser = DefenderCloudParser() if path.suffix == ".csv" else DefenderEndpointParser()
        expected = {f.weakness.vuln_id for f in found(parser, path) if f.status is FindingStatus.OPEN}
        assert set(items_by_id(engine, name)) == expected, path.name


@pytest.mark.parametrize(
    ("rows", "state"),
    [
        ([("Unhealthy", "2026-02-02T00:00:00.75Z"), ("Healthy", "2026-02-02T00:00:00.25Z")], ItemStatus.OPEN),
        ([("Healthy", "2026-02-02T00:00:00.25Z"), ("Unhealthy", "2026-02-02T00:00:00.75Z")], ItemStatus.OPEN),
        ([("Unhealthy", "2026-02-02T00:00:00.25Z"), ("Healthy", "2026-02-02T00:00:00.75Z")], ItemStatus.CLOSED),
        ([("Healthy", "2026-02-02T00:00:00.75Z"), ("Unhealthy", "2026-02-02T00:00:00.25Z")], ItemStatus.CLOSED),
        ([("Healthy", "2026-02-02T00:00:00Z"), ("Unhealthy", "2026-02-02T00:00:00Z")], ItemStatus.OPEN),
    ],
    ids=["older-healthy-last", "older-healthy-first", "newer-healthy-last", "newer-healthy-first", "tie"],
)
def test_cloud_the_newest_row_decides(
    engine: Engine, register_parser: Any, tmp_path: Path, rows: list[tuple[str, str]], state: ItemStatus
) -> None:
    """Two exports appended into one file: each row is dated by its own export time."""
    register_parser(DefenderCloudParser())
    import_file(engine, cloud_csv(tmp_path, rec_row(), name="jan.csv"))
    r = import_file(engine, cloud_csv(tmp_path, *(rec_row(state=s, when=w) for s, w in rows), name="feb.csv"))
    assert r.results == 2
    assert items_by_id(engine)["f67fb4ed"].status is state
