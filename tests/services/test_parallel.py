"""Reading in a child process gives exactly what reading in-process gives, errors included."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.errors import InputError
from poam.services import systems
from poam.services.importer import import_file
from poam.services.items import item_json, load
from tests.builders import Host, Item, write_csv, write_nessus
from tests.parsers.test_wiz import ISSUE_COLUMNS, issue
from tests.parsers.test_wiz import write_csv as wiz_csv
from tests.services.test_import import FEB, JAN, counts


def _items(engine: Engine, name: str) -> list[dict[str, object]]:
    with engine.begin() as conn:
        return [item_json(i) for i in load(conn, systems.resolve(conn, name, "t").id, "all")]


def test_child_and_in_process_reading_agree(engine: Engine, tmp_path: Path) -> None:
    hosts = [
        Host(
            f"h{n}",
            ip=f"10.0.0.{n}",
            start=JAN,
            items=[Item(str(p), port=p, severity=p % 5, cves=("CVE-2024-0001",) * (p % 2)) for p in range(1, 60)],
        )
        for n in range(1, 30)
    ]
    jan = write_nessus(tmp_path / "jan.nessus", hosts)
    feb = write_nessus(tmp_path / "feb.nessus", [Host("h1", ip="10.0.0.1", start=FEB)])
    csv = write_csv(
        tmp_path / "pt.csv",
        [
            {
                "detector": "PT",
                "weakness_id": "1",
                "weakness_name": "x",
                "severity": "high",
                "asset": "10.0.0.3",
                "detected": "2026-01-09",
            }
        ],
    )
    counted = {}
    for name, parallel in (("child", True), ("here", False)):
        systems.add_system(engine, name, "t")
        for path in (jan, feb, csv):
            r = import_file(engine, path, system=name, parallel=parallel)
            counted[name, path.name] = (r.results, r.informational, r.new_findings, r.fixed_findings, r.started_at)
    assert [v for k, v in counted.items() if k[0] == "child"] == [v for k, v in counted.items() if k[0] == "here"]
    assert counted["child", "jan.nessus"][1] > 0  # informational results cross as their time alone
    assert _items(engine, "child") == _items(engine, "here")
    assert len(_items(engine, "child")) == 59 - 11 + 1  # 11 informational plugins are not items; the CSV adds one


def test_errors_in_the_child_are_input_errors(engine: Engine, tmp_path: Path) -> None:
    good = write_nessus(tmp_path / "a.nessus", [Host("h", ip="10.0.0.1", items=[Item(str(i)) for i in range(1, 3000)])])
    text = good.read_text()
    cut = tmp_path / "cut.nessus"
    cut.write_text(text[: len(text) * 3 // 4])
    before = counts(engine)
    with pytest.raises(InputError, match="cut.nessus: not well-formed XML"):
        import_file(engine, cut, parallel=True)
    assert counts(engine) == before


def test_every_finding_field_crosses_to_the_parent(engine: Engine, tmp_path: Path) -> None:
    path = wiz_csv(tmp_path, ISSUE_COLUMNS, [issue(created="2025-12-20T10:00:00Z")], "issues.csv")
    for name, parallel in (("child", True), ("here", False)):
        systems.add_system(engine, name, "t")
        import_file(engine, path, system=name, parallel=parallel, scan_date=JAN)
    child, here = _items(engine, "child"), _items(engine, "here")
    assert child == here and child[0]["detection_date"] == "2025-12-20"  # Finding.since


def test_a_duplicate_stops_the_child_it_started(engine: Engine, tmp_path: Path) -> None:
    path = write_nessus(tmp_path / "a.nessus", [Host("h", ip="10.0.0.1", start=JAN, items=[Item("1")])])
    import_file(engine, path, parallel=True)
    before = counts(engine)
    again = import_file(engine, path, parallel=True)
    assert again.duplicate and counts(engine) == before
    assert multiprocessing.active_children() == []
