"""CSV files of items and findings: the rows read back with the csv module, the byte order mark, and
no cell a spreadsheet would read as a formula."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from poam.exporters import csv_export
from poam.exporters.cells import inert, looks_like_formula
from poam.services import systems
from poam.services.exporting_more import export_csv
from poam.services.importer import import_file
from poam.services.items import item_json
from poam.store.tables import audit_events
from tests.builders import Host, Item, write_nessus

JAN = dt.datetime(2026, 1, 5, 10, 0)
FEB = dt.datetime(2026, 2, 5, 10, 0)
HOSTILE_NAME = '=HYPERLINK("http://evil","x")'


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\uff1dSUM(A1)", "'\uff1dSUM(A1)"),  # full-width equals sign
        ("\uff0bcmd", "'\uff0bcmd"),
        ("\uff0d1", "'\uff0d1"),
        ("\uff20SUM", "'\uff20SUM"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_cells_that_start_like_a_formula_are_quoted(text: str, written: str) -> None:
    assert inert(text) == written
    assert csv_export.cell_text(text) == written
    assert looks_like_formula(text) is (written != text)


def test_values_and_lists(tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    rows = [{"a": ["10.0.0.1 (443/tcp)", "=evil"], "b": True, "c": None, "d": 7.0, "e": 7.5, "f": "line\nbreak"}]
    assert csv_export.write(out, ["a", "b", "c", "d", "e", "f"], rows) == 1
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfa,b,c,d,e,f\r\n")  # UTF-8 byte order mark, RFC 4180 line ends
    with out.open(encoding="utf-8-sig", newline="") as f:
        read = list(csv.reader(f))
    # a list joined: the joined text does not start like a formula, so no quote
    assert read == [["a", "b", "c", "d", "e", "f"], ["10.0.0.1 (443/tcp); =evil", "yes", "", "7", "7.5", "line\nbreak"]]
    csv_export.write(out, ["a"], [{"a": ["=evil", "x"]}], bom=False)
    assert out.read_bytes() == b"a\r\n'=evil; x\r\n"


def setup(engine: Engine, tmp_path: Path) -> None:
    """V-1: plugin 100 on web (443/tcp) and db (8443/tcp), its name hostile; V-2: plugin 200 on web,
    fixed by the February scan (which still sees V-1 on web and db)."""
    systems.add_system(engine, "cso", "t", impact="moderate")
    hostile = Item("100", cvss3=9.8, cves=("CVE-2026-1", "CVE-2026-2"), name=HOSTILE_NAME)
    jan = write_nessus(
        tmp_path / "jan.nessus",
        [
            Host("web", ip="10.0.0.5", start=JAN, items=[hostile, Item("200", cvss3=5.0, name="\uff0bcmd")]),
            Host("db", ip="10.0.0.6", start=JAN, items=[Item("100", port=8443, cvss3=9.8, name=HOSTILE_NAME)]),
        ],
    )
    feb = write_nessus(
        tmp_path / "feb.nessus",
        [
            Host("web", ip="10.0.0.5", start=FEB, items=[hostile]),
            Host("db", ip="10.0.0.6", start=FEB, items=[Item("100", port=8443, cvss3=9.8, name=HOSTILE_NAME)]),
        ],
    )
    import_file(engine, jan, system="cso", actor="t")
    import_file(engine, feb, system="cso", actor="t")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_items_csv(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    out = tmp_path / "items.csv"
    result = export_csv(engine, out, "cso", "alice")
    assert result.detail == {"items": 2} and result.items == 2
    rows = read(out)
    assert [r["poam_id"] for r in rows] == ["V-1", "V-2"]
    v1, v2 = rows
    assert v1["weakness_name"] == "'" + HOSTILE_NAME
    assert v1["status"] == "open" and v2["status"] == "closed"
    assert v1["assets"] == "db (8443/tcp); web (443/tcp)"
    assert v1["cves"] == "CVE-2026-1; CVE-2026-2"
    assert v1["controls"] == "RA-5; SI-2"
    assert v1["original_risk"] == "High" and v1["severity"] == "Critical"
    assert v1["detection_date"] == "2026-01-05" and v1["scheduled_completion_date"] == "2026-02-04"
    assert v1["kev"] == "no"
    assert v1["milestones"].startswith("(1) 2026-02-04: ")
    assert v2["weakness_name"] == "'\uff0bcmd" and v2["closed_date"] == "2026-02-05"
    # every field of `poam items --json` (POA&M part) is a column
    with out.open(encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f))
    from tests.exporters.test_emass import make_item

    assert set(item_json(make_item("V-9"))) <= set(header)
    assert {"rating", "priority", "next_due", "late"} <= set(header)
    for r in rows:
        for value in r.values():
            assert not looks_like_formula(value), value
    open_only = tmp_path / "open.csv"
    export_csv(engine, open_only, "cso", "alice", status="open")
    assert [r["poam_id"] for r in read(open_only)] == ["V-1"]


def test_findings_csv(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    out = tmp_path / "findings.csv"
    result = export_csv(engine, out, "cso", "alice", what="findings", bom=False)
    assert result.detail == {"findings": 3} and result.items == 2
    assert out.read_bytes().startswith(b"poam_id,item_status,asset,port,protocol,path,status,first_seen")
    rows = read(out)
    assert [(r["poam_id"], r["asset"], r["port"], r["protocol"], r["status"]) for r in rows] == [
        ("V-1", "db", "8443", "tcp", "open"),
        ("V-1", "web", "443", "tcp", "open"),
        ("V-2", "web", "443", "tcp", "fixed"),
    ]
    assert rows[1]["first_seen"] == "2026-01-05T10:00:00Z" and rows[1]["last_seen"] == "2026-02-05T10:00:00Z"
    assert rows[2]["fixed_at"].startswith("2026-02-05") and rows[0]["fixed_at"] == ""
    assert [r["tool"] for r in rows] == ["Nessus"] * 3
    assert [r["source_identifier"] for r in rows] == ["100", "100", "200"]
    assert rows[0]["weakness_name"] == "'" + HOSTILE_NAME and rows[2]["weakness_name"] == "'\uff0bcmd"
    with engine.connect() as conn:
        detail = json.loads(
            conn.execute(select(audit_events.c.detail).where(audit_events.c.action == "export.csv")).scalar_one()
        )
    assert detail["what"] == "findings" and detail["findings"] == 3 and detail["bom"] is False


def test_late_scope(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)  # V-1 (Critical, detected 2026-01-05) is due 2026-02-04; V-2 is closed
    out = tmp_path / "late.csv"
    result = export_csv(engine, out, "cso", "alice", scope="late", today=dt.date(2026, 3, 1))
    assert result.items == 1 and [r["poam_id"] for r in read(out)] == ["V-1"]
    result = export_csv(engine, out, "cso", "alice", what="findings", scope="late", today=dt.date(2026, 3, 1))
    assert result.detail == {"findings": 2} and {r["poam_id"] for r in read(out)} == {"V-1"}
    result = export_csv(engine, out, "cso", "alice", scope="late", today=dt.date(2026, 2, 1))
    assert result.items == 0 and read(out) == []
