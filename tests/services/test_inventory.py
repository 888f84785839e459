"""The FedRAMP Integrated Inventory Workbook as the asset inventory."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from poam.cli import cli
from poam.errors import InputError
from poam.services import inventory
from poam.services.importer import import_file
from tests.builders import Host, Item, write_nessus
from tests.conftest import reference_file
from tests.services.test_import import JAN, items_of

HEADER = [
    "UNIQUE ASSET IDENTIFIER",
    "IPv4 or IPv6 Address",
    "Virtual",
    "Public",
    "DNS Name or URL",
    "NetBIOS Name",
    "MAC Address",
    "Authenticated Scan",
    "Baseline Configuration Name",
    "OS Name and Version",
    "Location",
    "Asset Type",
    "Hardware Make/Model",
    "In Latest Scan",
    "Software/ Database Vendor",
    "Software/ Database Name & Version",
    "Patch Level",
    "Diagram Label",
    "Comments",
    "Serial #/Asset Tag#",
    "VLAN/\nNetwork ID",
    "System Administrator/ Owner",
    "Application Administrator/ Owner",
    "Function",
    "End-of-Life ",
]


def workbook(path: Path, rows: list[dict[str, str]], guidance: bool = True) -> Path:
    """A workbook shaped like the FedRAMP template (column A and rows 3-12 kept when `guidance`)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Inventory"
    lead = [None] if guidance else []
    ws.append([*lead, "All Inventories"])
    ws.append([*lead, *HEADER])
    if guidance:
        ws.append(["GUIDANCE", "Unique Identifier associated with the asset"])
        ws.append(["OS/Infrastructure Example", "123.45.78.90", "123.45.78.90"])
    for row in rows:
        ws.append([*lead, *(row.get(h, "") for h in HEADER)])
    wb.save(path)
    return path


def test_inventory_identifiers_become_the_asset_identifiers(engine: Engine, tmp_path: Path) -> None:
    host = Host("10.0.0.5", ip="10.0.0.5", start=JAN, items=[Item("100", severity=3)])
    other = Host("10.0.0.9", ip="10.0.0.9", start=JAN, items=[Item("100", severity=3)])
    import_file(engine, write_nessus(tmp_path / "a.nessus", [host, other]))
    book = workbook(
        tmp_path / "inv.xlsx",
        [
            {
                "UNIQUE ASSET IDENTIFIER": "web01-prod",
                "IPv4 or IPv6 Address": "10.0.0.5",
                "Public": "No",
                "DNS Name or URL": "web01.example.com",
                "System Administrator/ Owner": "Ops Team",
            },
            {"UNIQUE ASSET IDENTIFIER": "db01-prod", "IPv4 or IPv6 Address": "10.0.0.7"},
        ],
    )
    r = inventory.import_inventory(engine, book, None, "t")
    assert (r.entries, r.matched, r.created) == (2, 1, 1)
    assert sorted(a.text for a in items_of(engine)["V-1"].assets) == [  # type: ignore[attr-defined]
        "10.0.0.9 (443/tcp)",
        "web01-prod (443/tcp)",
    ]
    gaps = inventory.report(engine, None)
    assert gaps.missing_from_inventory == ["10.0.0.9"]
    assert gaps.never_scanned == ["db01-prod"]
    assert gaps.inventory == 2
    # a later workbook without db01 takes it out of the inventory
    r = inventory.import_inventory(
        engine,
        workbook(
            tmp_path / "inv2.xlsx",
            [{"UNIQUE ASSET IDENTIFIER": "web01-prod", "IPv4 or IPv6 Address": "10.0.0.5"}],
            guidance=False,
        ),
        None,
        "t",
    )
    assert r.removed == ["db01-prod"]
    assert inventory.report(engine, None).never_scanned == []


def test_the_empty_template_is_refused(sqlite_engine: Engine) -> None:
    template = reference_file("fedramp/SSP-Appendix-M-Integrated-Inventory-Workbook-Template.xlsx")
    with pytest.raises(InputError, match="lists no assets"):
        inventory.import_inventory(sqlite_engine, template, None, "t")


def test_not_an_inventory(sqlite_engine: Engine, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["Name", "Value"])
    wb.save(tmp_path / "x.xlsx")
    with pytest.raises(InputError, match="UNIQUE ASSET IDENTIFIER"):
        inventory.import_inventory(sqlite_engine, tmp_path / "x.xlsx", None, "t")
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="bad zip"):
        inventory.import_inventory(sqlite_engine, tmp_path / "bad.xlsx", None, "t")


def test_inventory_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    book = workbook(tmp_path / "inv.xlsx", [{"UNIQUE ASSET IDENTIFIER": "a1", "IPv4 or IPv6 Address": "10.1.1.1"}])
    r = CliRunner().invoke(cli, ["--db", db, "inventory", "import", str(book)])
    assert r.exit_code == 0 and "1 inventory assets" in r.stdout
    r = CliRunner().invoke(cli, ["--db", db, "inventory", "report", "--json"])
    assert json.loads(r.stdout)["never_scanned"] == ["a1"]


def test_discovery_does_not_rename_an_inventory_asset(engine: Engine, tmp_path: Path) -> None:
    web01 = Host("10.0.0.5", ip="10.0.0.5", fqdn="web01.example.com", start=JAN, items=[Item("100", severity=3)])
    import_file(engine, write_nessus(tmp_path / "a.nessus", [web01]))
    row = {
        "UNIQUE ASSET IDENTIFIER": "web01-prod",
        "IPv4 or IPv6 Address": "10.0.0.5",
        "DNS Name or URL": "web01.example.com",
    }
    inventory.import_inventory(engine, workbook(tmp_path / "inv.xlsx", [row]), None, "t")
    nmap = tmp_path / "nmap.xml"
    nmap.write_text(
        '<?xml version="1.0"?><nmaprun scanner="nmap" start="1770000000" version="7.94">'
        '<host starttime="1770000000" endtime="1770000100"><status state="up"/>'
        '<address addr="10.0.0.5" addrtype="ipv4"/></host>'
        '<host starttime="1770000000" endtime="1770000100"><status state="up"/>'
        '<address addr="10.0.0.77" addrtype="ipv4"/></host></nmaprun>'
    )
    r = inventory.import_inventory(engine, nmap, None, "t")
    assert (r.matched, r.created) == (1, 1)
    assert [a.text for a in items_of(engine)["V-1"].assets] == ["web01-prod (443/tcp)"]  # type: ignore[attr-defined]
    assert inventory.report(engine, None).inventory == 2


def test_an_asset_known_only_by_mac_is_matched_again(engine: Engine, tmp_path: Path) -> None:
    book = workbook(
        tmp_path / "inv.xlsx", [{"UNIQUE ASSET IDENTIFIER": "switch-01", "MAC Address": "00:11:22:33:44:55"}]
    )
    results = [inventory.import_inventory(engine, book, None, "t") for _ in range(3)]
    assert [(r.created, r.matched) for r in results] == [(1, 0), (0, 1), (0, 1)]
    assert inventory.report(engine, None).inventory == 1
