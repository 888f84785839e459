"""The planning fields reach the workbook and the OSCAL POA&M (issue 9 point 8), on SQLite and
PostgreSQL: point of contact, resources (hours, cost, technology, text), plan, comments with the
vendor's fix release date, vendor columns."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine

from poam.errors import ValueRefused
from poam.services import planning, vendors
from poam.services.exporting import export_fedramp, export_oscal
from tests.services.test_planning import setup

TODAY = dt.date(2026, 3, 1)


def test_planning_fields_fill_the_workbook_and_oscal(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    item = planning.set_fields(
        engine,
        "cso",
        "V-1",
        "alice",
        poc="Jane Doe",
        hours=12,
        cost=4000,
        technology="WAF licence",
        resources="change window",
        plan="Upgrade the web tier",
        comment="CAB approved",
    )
    assert (item.hours, item.cost, item.technology) == (12, 4000, "WAF licence")
    planning.vendor_checkin(engine, "cso", "V-1", "alice", dt.date(2026, 1, 20), None, "Acme Server", today=TODAY)
    vendors.vendor_release(engine, "cso", "V-1", "alice", dt.date(2026, 2, 10), today=TODAY)

    out = tmp_path / "poam.xlsx"
    export_fedramp(engine, out, "cso", "t", TODAY)
    ws = openpyxl.load_workbook(out)["Open POA&M Items"]
    row = next(r for r in range(8, 12) if ws.cell(r, 1).value == "V-1")
    cells = {col: ws.cell(row, n).value for col, n in (("H", 8), ("I", 9), ("J", 10), ("P", 16), ("R", 18), ("Z", 26))}
    assert cells == {
        "H": "Jane Doe",
        "I": "12 staff hours; cost 4,000; technology: WAF licence; change window",
        "J": "Upgrade the web tier",
        "P": "Yes",
        "R": "Acme Server",
        "Z": "Vendor fix released 2026-02-10.\nCAB approved",
    }

    doc = json.loads(export_oscal(engine, tmp_path / "p.json", "cso", "t").path.read_text(encoding="utf-8"))
    body = doc["plan-of-action-and-milestones"]
    item_entry = next(i for i in body["poam-items"] if i["props"][0]["value"] == "V-1")
    assert item_entry["remarks"] == "Vendor fix released 2026-02-10.\nCAB approved"
    risk = next(r for r in body["risks"] if r["uuid"] == item_entry["related-risks"][0]["risk-uuid"])
    plan = next(x for x in risk["remediations"] if x["lifecycle"] == "planned")
    assert plan["description"] == "Upgrade the web tier"
    assert plan["required-assets"][0]["description"].startswith("12 staff hours; cost 4,000")


def test_cost_is_checked(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    for bad in (-1.0, float("nan"), 2e9):
        with pytest.raises(ValueRefused, match="--cost"):
            planning.set_fields(engine, "cso", "V-1", "alice", cost=bad)


def test_a_detector_without_a_fix_gives_the_default_plan(engine: Engine, tmp_path: Path) -> None:
    from poam.domain.remediation import DEFAULT_PLAN
    from poam.services import systems, triage
    from poam.services.importer import import_file
    from tests.builders import Host, Item, write_nessus

    systems.add_system(engine, "cso", "t")
    scan = write_nessus(
        tmp_path / "a.nessus", [Host("web", ip="10.0.0.5", items=[Item("100", solution="n/a"), Item("200")])]
    )
    import_file(engine, scan, system="cso", actor="t")
    assert triage.show(engine, "cso", "V-1")["remediation_plan"] == DEFAULT_PLAN
    assert triage.show(engine, "cso", "V-2")["remediation_plan"] == "Apply the vendor patch."
