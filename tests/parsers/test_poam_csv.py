from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from poam.domain.models import AssetKind, Finding, FindingStatus, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext
from poam.parsers.poam_csv import PoamCsvParser
from tests.builders import write_csv

ROW = {
    "detector": "Acme 3PAO Pen Test",
    "weakness_id": "PT-1",
    "weakness_name": "SQL injection",
    "severity": "high",
    "asset": "https://app.example.com/login",
    "detected": "2026-01-10",
    "cve": "CVE-2024-1 CVE-2024-2",
    "controls": "SI-10; RA-5",
}


def parse(path: Path) -> list[object]:
    with path.open("rb") as f:
        return list(PoamCsvParser().parse(f, ParseContext(str(path))))


def test_rows_become_findings(tmp_path: Path) -> None:
    rows = [
        ROW,
        {
            **ROW,
            "weakness_id": "PT-2",
            "asset": "10.1.1.1",
            "port": "22",
            "protocol": "TCP",
            "detected": "01/12/2026",
            "status": "fixed",
        },
    ]
    recs = parse(write_csv(tmp_path / "p.csv", rows))
    f1, f2 = [r for r in recs if isinstance(r, Finding)]
    assert f1.asset.kind is AssetKind.WEB_APP and f1.asset.name == "https://app.example.com/login"
    assert f1.path == "/login"
    assert f1.weakness.severity is Severity.HIGH and f1.weakness.tool == "Acme 3PAO Pen Test"
    assert f1.weakness.cves == ("CVE-2024-1", "CVE-2024-2") and f1.weakness.controls == ("SI-10", "RA-5")
    assert f2.asset.ip == "10.1.1.1" and f2.location == "22/tcp" and f2.status is FindingStatus.FIXED
    assert f2.observed_at == dt.datetime(2026, 1, 12)
    assert recs[-1].started_at == dt.datetime(2026, 1, 10)  # type: ignore[attr-defined]


def test_severity_may_come_from_cvss(tmp_path: Path) -> None:
    row = {**ROW, "severity": ""}
    header = [*ROW.keys(), "cvss3_vector"]
    row["cvss3_vector"] = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    (f,) = [r for r in parse(write_csv(tmp_path / "p.csv", [row], header)) if isinstance(r, Finding)]
    assert f.weakness.cvss3_score == 9.8


def parse_with(path: Path, file_time: dt.datetime | None = None) -> tuple[list[Finding], ParseContext]:
    ctx = ParseContext(str(path), file_time=file_time)
    with path.open("rb") as f:
        return [r for r in PoamCsvParser().parse(f, ctx) if isinstance(r, Finding)], ctx


@pytest.mark.parametrize(
    ("change", "warning", "check"),
    [
        ({"severity": "urgent"}, "row 2 (PT-1): severity 'urgent' not recognised; rated Moderate", "medium"),
        ({"detected": "soon"}, "row 2 (PT-1): detected 'soon' is not a date; dated 2026-02-01", "mtime"),
        ({"status": "maybe"}, "row 2 (PT-1): status 'maybe' not recognised; kept open", "open"),
        ({"port": "https"}, "row 2 (PT-1): port 'https' is not a number; no port", "noport"),
        ({"port": "70000"}, "row 2 (PT-1): port 70000 is out of range; no port", "noport"),
    ],
)
def test_an_odd_value_is_a_warning_and_the_row_is_kept(
    tmp_path: Path, change: dict[str, str], warning: str, check: str
) -> None:
    mtime = dt.datetime(2026, 2, 1, 9, 30)
    good = {**ROW, "weakness_id": "PT-9"}
    (f, other), ctx = parse_with(write_csv(tmp_path / "p.csv", [{**ROW, **change}, good]), mtime)
    assert ctx.report.warnings == [warning] and ctx.report.warning_count == 1 and ctx.report.skipped == 0
    assert other.weakness.vuln_id == "PT-9" and other.weakness.severity is Severity.HIGH
    assert f.weakness.vuln_id == "PT-1"
    if check == "medium":
        assert f.weakness.severity is Severity.MEDIUM
    elif check == "mtime":
        assert f.observed_at == mtime and ctx.report.used_file_time
    elif check == "open":
        assert f.status is FindingStatus.OPEN
    else:
        assert f.port is None
    assert check == "mtime" or not ctx.report.used_file_time


def test_a_row_without_its_asset_is_left_out_with_a_warning(tmp_path: Path) -> None:
    (f,), ctx = parse_with(write_csv(tmp_path / "p.csv", [{**ROW, "asset": ""}, {**ROW, "weakness_id": "PT-2"}]))
    assert f.weakness.vuln_id == "PT-2"
    assert ctx.report.warnings == ["row 2: column 'asset' is empty; left out"] and ctx.report.skipped == 1


def test_missing_columns(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_text("detector,weakness_id,asset\nx,y,z\n")
    with pytest.raises(InputError, match="missing column"):
        parse(p)


def test_windows_1252_is_read_as_every_csv_format_reads_it(tmp_path: Path) -> None:
    # before: refused ("not UTF-8 text"); now as every CSV format: Windows-1252 throughout, said
    p = tmp_path / "p.csv"
    p.write_bytes(
        b"detector,weakness_id,weakness_name,asset,detected,severity\nA,1,caf\xe9 \x96 bar,h,2026-01-01,low\n"
    )
    ctx = ParseContext(str(p))
    with p.open("rb") as f:
        (finding,) = [r for r in PoamCsvParser().parse(f, ctx) if isinstance(r, Finding)]
    assert finding.weakness.name == "caf\u00e9 \u2013 bar"
    assert ctx.report.warnings == ["file: not UTF-8 text (byte 0xE9 at offset 66, line 2): read as Windows-1252"]


def test_mixed_encodings_and_cut_files_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    header = b"detector,weakness_id,weakness_name,asset,detected,severity\n"
    p.write_bytes(header + "A,1,caf\u00e9,h,2026-01-01,low\n".encode() + b"A,2,caf\xe9,h,2026-01-01,low\n")
    with pytest.raises(InputError, match="byte 0xE9 at offset 93 \\(line 3\\) follows UTF-8 text"):
        parse(p)
    p.write_bytes(header + b"A,1,name,h,2026-01")
    with pytest.raises(InputError, match="its last row \\(line 2\\) has 5 of the header's 6 fields"):
        parse(p)
    p.write_bytes(header + b'A,1,"name, cut')
    with pytest.raises(InputError, match="a quoted value of the row on line 2 never closes"):
        parse(p)


def test_bom_and_crlf_are_fine(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_bytes(
        b"\xef\xbb\xbfdetector,weakness_id,weakness_name,asset,detected,severity\r\n"
        b'A,1,"multi\r\nline",h.example.com,2026-01-01,low\r\n'
    )
    (f,) = [r for r in parse(p) if isinstance(r, Finding)]
    assert f.weakness.name == "multi\r\nline" and f.asset.fqdn == "h.example.com"
