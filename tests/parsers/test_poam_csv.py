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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"asset": ""}, "row 2: column 'asset' is empty"),
        ({"severity": "urgent"}, "severity 'urgent'"),
        ({"detected": "soon"}, "not a date"),
        ({"status": "maybe"}, "not open or fixed"),
    ],
)
def test_bad_rows_name_the_row(tmp_path: Path, change: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(write_csv(tmp_path / "p.csv", [{**ROW, **change}]))


def test_missing_columns(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_text("detector,weakness_id,asset\nx,y,z\n")
    with pytest.raises(InputError, match="missing column"):
        parse(p)


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_bytes(b"detector,weakness_id,weakness_name,asset,detected,severity\nA,1,caf\xe9,h,2026-01-01,low\n")
    with pytest.raises(InputError, match="UTF-8"):
        parse(p)


def test_bom_and_crlf_are_fine(tmp_path: Path) -> None:
    p = tmp_path / "p.csv"
    p.write_bytes(
        b"\xef\xbb\xbfdetector,weakness_id,weakness_name,asset,detected,severity\r\n"
        b'A,1,"multi\r\nline",h.example.com,2026-01-01,low\r\n'
    )
    (f,) = [r for r in parse(p) if isinstance(r, Finding)]
    assert f.weakness.name == "multi\r\nline" and f.asset.fqdn == "h.example.com"
