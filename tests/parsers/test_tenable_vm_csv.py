"""The Tenable Vulnerability Management findings CSV parser (semicolon-delimited, dotted keys) on
hand-written exports made to Tenable's documented column keys."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from poam.cli import cli
from poam.domain.models import Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.nessus_csv import NessusCsvParser
from poam.parsers.registry import detect, parsers, read_head
from poam.parsers.tenable_csv import TenableCsvParser
from poam.parsers.tenable_vm_csv import TenableVmCsvParser, first_of
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import load
from tests.conftest import CORPUS
from tests.parsers.test_tenable_csv import IO_HEADER, io

# The default columns of an Explore > Findings > Vulnerabilities export, in Tenable's order
# (one empty key, as Tenable writes it), with `last_fixed` added.
HEADER = [
    "age_in_days", "asset.display_fqdn", "asset.display_ipv4_address", "asset.display_ipv6_address",
    "asset.display_mac_address", "asset.host_name", "asset.id", "asset.name", "asset.netbios_name",
    "asset.network.id", "asset.network.name", "asset.operating_system", "asset.system_type", "asset.tags",
    "definition.cpe", "definition.cve", "definition.cvss2.base_score", "definition.cvss2.base_vector",
    "definition.cvss3.base_score", "definition.cvss3.base_vector", "definition.cwe", "", "definition.family",
    "definition.iava", "definition.id", "definition.name", "definition.see_also", "definition.severity",
    "definition.solution", "definition.synopsis", "definition.description", "first_observed", "id",
    "last_seen", "last_fixed", "output", "port", "protocol", "risk_modified", "scan.id", "severity", "state",
]  # fmt: skip
WHEN_FIRST = "2026-01-05T10:00:00.123Z"
WHEN_LAST = "2026-02-05T10:00:00.456Z"
FILE_TIME = dt.datetime(2026, 3, 1, 12, 0)


def row(plugin: str = "70658", host: str = "web01", state: str = "ACTIVE", **cells: str) -> dict[str, str]:
    base = {
        "asset.display_fqdn": f"{host}.example.com",
        "asset.display_ipv4_address": "10.0.0.6",
        "asset.display_mac_address": "00:22:48:bb:2c:73",
        "asset.host_name": host,
        "asset.id": "37a1abf9-0e32-49e3-b565-7491c77da33f",
        "asset.name": host,
        "asset.operating_system": "Ubuntu 18.04.6 LTS (Bionic Beaver)",
        "asset.tags": '[{"category":"Office","value":"Gent"}]',
        "definition.cve": "CVE-2008-5161",
        "definition.cvss2.base_score": "2.6",
        "definition.cvss2.base_vector": "CVSS2#AV:N/AC:H/Au:N/C:P/I:N/A:N",
        "definition.cvss3.base_score": "3.7",
        "definition.cvss3.base_vector": "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N",
        "definition.cwe": "200",
        "definition.family": "Misc.",
        "definition.id": plugin,
        "definition.name": "SSH Server CBC Mode Ciphers Enabled",
        "definition.see_also": "http://www.nessus.org/u?b02d91cd, https://datatracker.ietf.org/doc/html/rfc8732",
        "definition.severity": "Low",
        "definition.solution": "Disable CBC mode cipher encryption.",
        "definition.synopsis": "The SSH server is configured to use Cipher Block Chaining.",
        "definition.description": "The SSH server is configured to support CBC encryption.",
        "first_observed": WHEN_FIRST,
        "id": "00cdea5f-cf65-4e26-b518-83849ee3a10b",
        "last_seen": WHEN_LAST,
        "output": "'\nThe following client-to-server CBC algorithms are supported :\n\n  aes128-cbc\n",
        "port": "22",
        "protocol": "TCP",
        "risk_modified": "NONE",
        "scan.id": "a70b8545-fb33-43f4-9d57-a0dd5b754264",
        "severity": "Low",
        "state": state,
    }
    return base | cells


def write(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER, delimiter: str = ";") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") if h else "" for h in header])
    return path


def parse_ctx(path: Path) -> tuple[list[object], ParseContext]:
    ctx = ParseContext(str(path), file_time=FILE_TIME)
    with path.open("rb") as f:
        return list(TenableVmCsvParser().parse(f, ctx)), ctx


def findings(records: list[object]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def test_fields_of_a_row(tmp_path: Path) -> None:
    records, ctx = parse_ctx(write(tmp_path / "vm.csv", [row()]))
    first, last = findings(records)
    assert (first.observed_at, last.observed_at) == (
        dt.datetime(2026, 1, 5, 10, 0, 0, 123000),  # a sighting at first_observed: the detection date
        dt.datetime(2026, 2, 5, 10, 0, 0, 456000),
    )
    assert first.weakness is last.weakness and first.status is last.status is FindingStatus.OPEN
    w, a = last.weakness, last.asset
    assert (w.tool, w.vuln_id, w.name, w.severity, w.family) == (
        "Tenable.io",
        "70658",
        "SSH Server CBC Mode Ciphers Enabled",
        Severity.LOW,
        "Misc.",
    )
    assert (w.cves, w.cwes, w.cvss2_score, w.cvss2_vector) == (
        ("CVE-2008-5161",),
        ("200",),
        2.6,
        "AV:N/AC:H/Au:N/C:P/I:N/A:N",
    )
    assert (w.cvss3_score, w.cvss3_vector) == (3.7, "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N")
    assert w.see_also == "http://www.nessus.org/u?b02d91cd\nhttps://datatracker.ietf.org/doc/html/rfc8732"
    assert (w.synopsis, w.solution) == (
        "The SSH server is configured to use Cipher Block Chaining.",
        "Disable CBC mode cipher encryption.",
    )
    assert w.description == "The SSH server is configured to support CBC encryption."
    assert (a.fqdn, a.ip, a.mac, a.name, a.os) == (
        "web01.example.com",
        "10.0.0.6",
        "00:22:48:bb:2c:73",
        "web01",
        "Ubuntu 18.04.6 LTS (Bionic Beaver)",
    )
    assert last.location == "22/tcp"
    assert last.evidence == "The following client-to-server CBC algorithms are supported :\n\n  aes128-cbc"
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.started_at, scan.ended_at) == (
        "Tenable.io",
        last.observed_at,  # the export's window is when Tenable last saw its findings
        last.observed_at,
    )
    assert not ctx.report.warnings and not ctx.report.used_file_time


def test_states_and_severities(tmp_path: Path) -> None:
    rows = [
        row("1", state="FIXED", last_fixed="2026-03-01T08:00:00Z"),
        row("2", state="FIXED", last_fixed=""),
        row("3", state="NEW", first_observed=WHEN_LAST, severity="critical", **{"definition.severity": ""}),
        row("4", state="RESURFACED", first_observed=WHEN_LAST, **{"definition.severity": "High", "severity": "Low"}),
        row("5", state="ACTIVE", risk_modified="ACCEPTED"),  # an accepted risk: left out, never a fix
        row("6", state="FIXED", risk_modified="ACCEPTED"),
        row("7", state="REOPENED", first_observed=WHEN_LAST, severity="4", **{"definition.severity": ""}),
        row("8", state="ACTIVE", first_observed=WHEN_LAST, severity="info", **{"definition.severity": "info"}),
    ]
    records, ctx = parse_ctx(write(tmp_path / "s.csv", rows))
    assert [(f.weakness.vuln_id, f.status, f.observed_at, f.weakness.severity) for f in findings(records)] == [
        ("1", FindingStatus.FIXED, dt.datetime(2026, 3, 1, 8), Severity.LOW),  # at last_fixed; no first sighting
        ("2", FindingStatus.FIXED, dt.datetime(2026, 2, 5, 10, 0, 0, 456000), Severity.LOW),
        ("3", FindingStatus.OPEN, dt.datetime(2026, 2, 5, 10, 0, 0, 456000), Severity.CRITICAL),
        ("4", FindingStatus.OPEN, dt.datetime(2026, 2, 5, 10, 0, 0, 456000), Severity.HIGH),  # before the recast
        ("7", FindingStatus.OPEN, dt.datetime(2026, 2, 5, 10, 0, 0, 456000), Severity.CRITICAL),
        ("8", FindingStatus.OPEN, dt.datetime(2026, 2, 5, 10, 0, 0, 456000), Severity.INFO),
    ]
    assert not ctx.report.warnings


def test_odd_values_are_warned_and_the_other_rows_import(tmp_path: Path) -> None:
    blank_asset = {k: "" for k in HEADER if k.startswith("asset.")}
    rows = [
        row("abc"),
        row("2", **blank_asset),
        row("3", port="ssh", first_observed=""),
        row("4", state="MITIGATED", first_observed=""),
        row("5", state="DISMISSED", first_observed=""),
        row("6", severity="severe", first_observed="", **{"definition.severity": ""}),
        row("7", last_seen="last week", first_observed=""),
        row("8", first_observed=""),
    ]
    records, ctx = parse_ctx(write(tmp_path / "o.csv", rows))
    assert [(f.weakness.vuln_id, f.location, f.status, f.weakness.severity) for f in findings(records)] == [
        ("3", "", FindingStatus.OPEN, Severity.LOW),
        ("4", "22/tcp", FindingStatus.OPEN, Severity.LOW),  # an unknown state never closes anything
        ("6", "22/tcp", FindingStatus.OPEN, Severity.MEDIUM),
        ("7", "22/tcp", FindingStatus.OPEN, Severity.LOW),
        ("8", "22/tcp", FindingStatus.OPEN, Severity.LOW),
    ]
    assert ctx.report.warnings == [
        "row 1: definition.id 'abc' is not a plugin number; left out",
        "row 2: no asset host name, name, IPv4 address, FQDN or NetBIOS name; left out",
        "row 3: port 'ssh' is not a port number; no port",
        "row 4: status 'MITIGATED' not recognised; kept open",
        "row 5: state 'DISMISSED' sets the risk aside; left out (neither open nor fixed)",
        "row 6: severity 'severe' not recognised; rated Moderate",
        "row 7: last seen 'last week' is not a date; not used",
    ]
    assert ctx.report.skipped == 2
    assert findings(records)[3].observed_at == FILE_TIME and ctx.report.used_file_time  # row 7: no date left


def test_an_export_without_dates_takes_the_file_time(tmp_path: Path) -> None:
    undated = [h for h in HEADER if h not in ("first_observed", "last_seen", "last_fixed")]
    records, ctx = parse_ctx(write(tmp_path / "u.csv", [row("1"), row("2", state="FIXED")], header=undated))
    assert [(f.observed_at, f.status) for f in findings(records)] == [
        (FILE_TIME, FindingStatus.OPEN),
        (FILE_TIME, FindingStatus.FIXED),
    ]
    assert ctx.report.used_file_time
    records, ctx = parse_ctx(write(tmp_path / "d.csv", [row("1")]))
    assert not ctx.report.used_file_time


def test_columns_by_name_in_any_order_with_any_delimiter(tmp_path: Path) -> None:
    minimal = ["state", "port", "protocol", "severity", "definition.name", "definition.id", "asset.ipv4_addresses"]
    cells = {"asset.ipv4_addresses": '["10.0.0.8", "10.0.0.9"]'}
    for delimiter in (";", ",", "\t"):
        path = write(tmp_path / "m.csv", [row("9", **cells)], header=minimal, delimiter=delimiter)
        records, _ctx = parse_ctx(path)
        (f,) = findings(records)
        assert (f.weakness.vuln_id, f.asset.ip, f.asset.identifier, f.location) == (
            "9",
            "10.0.0.8",
            "10.0.0.8",
            "22/tcp",
        )
    assert first_of("a.example.com, b.example.com") == "a.example.com" and first_of("") == ""


def test_a_file_without_the_header_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("definition.name;severity\nx;low\n")
    with pytest.raises(InputError, match="no header row"):
        parse_ctx(path)


# --- detection ------------------------------------------------------------------------------------


def _claims(path: Path) -> set[str]:
    with path.open("rb") as f:
        head = read_head(f)
    found = {"vm"} if TenableVmCsvParser().sniff(head) else set()
    found |= {"tenable"} if TenableCsvParser().sniff(head) else set()
    return found | ({"nessus"} if NessusCsvParser().sniff(head) else set())


def test_detection_by_the_header_row(tmp_path: Path) -> None:
    vm = write(tmp_path / "vm.csv", [row()])
    assert _claims(vm) == {"vm"}
    with vm.open("rb") as f:
        assert detect(f, str(vm)).id == "tenable-vm-csv"
    assert _claims(write(tmp_path / "io.csv", [], header=IO_HEADER)) == {"tenable"}
    audit = write(tmp_path / "a.csv", [], header=["asset.host_name", "definition.id", "compliance.audit_name"])
    assert _claims(audit) == set()  # a host audit export: not vulnerabilities
    assert "tenable-vm-csv" in parsers()
    listed = json.loads(CliRunner().invoke(cli, ["formats", "--json"]).output)
    assert "tenable-vm-csv" in {f["id"] for f in listed}


@pytest.mark.corpus
def test_sniff_claims_no_corpus_file() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus folder {CORPUS} is absent (set POAM_CORPUS)")
    claimed = set()
    for path in sorted(CORPUS.glob("*/*")):
        with path.open("rb") as f:
            if TenableVmCsvParser().sniff(read_head(f)):
                claimed.add(path)
    assert claimed == set()  # the corpus holds no such export; every Tenable file keeps its reader


# --- the same finding as the legacy Tenable.io export --------------------------------------------


def test_the_same_plugin_on_the_same_host_is_the_same_finding_as_in_the_legacy_export(tmp_path: Path) -> None:
    legacy = io("70658", host="web01.example.com", IP_Address="10.0.0.6", Port="22")
    with write_legacy(tmp_path / "io.csv", [legacy]).open("rb") as f:
        (old,) = [r for r in TenableCsvParser().parse(f, ParseContext("io.csv")) if isinstance(r, Finding)][-1:]
    records, _ctx = parse_ctx(write(tmp_path / "vm.csv", [row()]))
    new = findings(records)[-1]

    def key(f: Finding) -> tuple[str, str, str, str]:
        return (f.weakness.tool, f.weakness.vuln_id, f.asset.identifier, f.location)

    assert key(new) == key(old) == ("Tenable.io", "70658", "web01.example.com", "22/tcp")


def write_legacy(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(IO_HEADER)
        for r in rows:
            w.writerow([r.get(h, "") if h else "" for h in IO_HEADER])
    return path


def items_of(engine: Engine) -> dict[str, ItemStatus]:
    with engine.begin() as conn:
        found = load(conn, systems.resolve(conn, None, "t").id, "all")
    return {i.source_identifier: i.status for i in found}


def test_a_fixed_row_closes_the_item_a_legacy_export_opened(
    engine: Engine, register_parser: object, tmp_path: Path
) -> None:
    register_parser(TenableCsvParser(), TenableVmCsvParser())  # type: ignore[operator]
    legacy = [
        io("70658", host="web01.example.com", IP_Address="10.0.0.6", Port="22"),
        io("70659", host="web01.example.com", IP_Address="10.0.0.6", Port="22"),
    ]
    r = import_file(engine, write_legacy(tmp_path / "io.csv", legacy))
    assert (r.format, r.items_opened) == ("tenable-csv", 2)
    # the new export: 70658 fixed; 70659 missing (the export is filtered: it stays open)
    fixed = row("70658", state="FIXED", last_fixed="2026-03-01T08:00:00Z")
    r = import_file(engine, write(tmp_path / "vm.csv", [fixed]))
    assert (r.format, r.tool, r.new_findings, r.fixed_findings, r.items_closed, r.assets_covered) == (
        "tenable-vm-csv",
        "Tenable.io",
        0,
        1,
        1,
        0,
    )
    assert items_of(engine) == {"70658": ItemStatus.CLOSED, "70659": ItemStatus.OPEN}
