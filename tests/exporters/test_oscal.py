"""The OSCAL POA&M against the NIST 1.1.2 schema, with FedRAMP's conventions."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import jsonschema_rs
from sqlalchemy import Engine

from poam.domain.models import ItemStatus
from poam.exporters import oscal_poam
from poam.services import systems
from poam.services.exporting import export_oscal, oscal_document
from poam.services.importer import import_file
from poam.services.kev import load_catalog
from tests.builders import Host, Item, write_csv, write_nessus
from tests.conftest import reference_file
from tests.services.test_kev_audit import catalog

JAN = dt.datetime(2026, 1, 5, 10, 0)
FEB = dt.datetime(2026, 2, 5, 10, 0)


def _populate(engine: Engine, tmp_path: Path) -> None:
    systems.add_system(engine, "Example", "t", org="Example CSP", fedramp_id="F1234567890", point_of_contact="Jane Doe")
    load_catalog(engine, catalog(tmp_path / "kev.json", [("CVE-2024-0001", "2026-01-20")]), "t")
    a = Host(
        "web01",
        ip="10.0.0.1",
        fqdn="web01.example.com",
        start=JAN,
        items=[Item("100", severity=3, cvss3=8.1, cves=("CVE-2024-0001",)), Item("200", severity=2)],
    )
    b = Host("web01", ip="10.0.0.1", fqdn="web01.example.com", start=FEB, items=[Item("100", severity=3)])
    import_file(engine, write_nessus(tmp_path / "jan.nessus", [a]))
    import_file(engine, write_nessus(tmp_path / "feb.nessus", [b]))
    write_csv(
        tmp_path / "pt.csv",
        [
            {
                "detector": "3PAO Pen Test",
                "weakness_id": "PT-1",
                "weakness_name": "XSS",
                "severity": "moderate",
                "asset": "https://app.example.com/",
                "detected": "2026-01-20",
                "controls": "SI-10",
            }
        ],
    )
    import_file(engine, tmp_path / "pt.csv")


def _doc(engine: Engine) -> dict:  # type: ignore[type-arg]
    with engine.begin() as conn:
        return oscal_document(conn, systems.resolve(conn, None, "t"))


def test_vendored_schema_is_the_official_release() -> None:
    ref = reference_file("oscal/oscal_poam_schema_1.1.2.json")
    assert (
        hashlib.sha256(oscal_poam.SCHEMA_PATH.read_bytes()).hexdigest()
        == hashlib.sha256(ref.read_bytes()).hexdigest()
        == "906725163d767036c6189aec51252109b203214e121fc1acaff494b4d2dfbc04"
    )


def test_document_is_valid_and_complete(engine: Engine, tmp_path: Path) -> None:
    _populate(engine, tmp_path)
    doc = _doc(engine)
    schema = json.loads(reference_file("oscal/oscal_poam_schema_1.1.2.json").read_text())
    errors = [e.message for e in jsonschema_rs.Draft7Validator(schema).iter_errors(doc)]
    assert errors == []
    assert oscal_poam.dangling_references(doc) == []
    body = doc["plan-of-action-and-milestones"]
    assert body["metadata"]["oscal-version"] == "1.1.2"
    assert body["system-id"] == {"identifier-type": "https://fedramp.gov", "id": "F1234567890"}
    risks = {r["uuid"]: r for r in body["risks"]}
    assert len(body["poam-items"]) == len(risks) == 3
    by_id = {}
    for item in body["poam-items"]:
        (poam_id,) = [p["value"] for p in item["props"] if p["name"] == "POAM-ID"]
        assert len(item["related-risks"]) == 1  # exactly one risk per poam-item
        by_id[poam_id] = risks[item["related-risks"][0]["risk-uuid"]]
    v1, v2, v3 = by_id["V-1"], by_id["V-2"], by_id["V-3"]
    props = {(p["name"], p["value"]) for p in v1["props"]}
    assert {("impacted-control-id", "ra-5"), ("kev-catalog", "yes"), ("kev-due-date", "2026-01-20")} <= props
    assert v1["deadline"].startswith("2026-01-20")
    assert v1["status"] == "open" and v2["status"] == "closed"
    assert v2["risk-log"]["entries"][-1]["status-change"] == "closed"
    planned = next(r for r in v1["remediations"] if r["lifecycle"] == "planned")
    (task,) = planned["tasks"]
    assert task["type"] == "milestone" and task["timing"]["within-date-range"]["end"].startswith("2026-01-20")
    assert any(r["lifecycle"] == "recommendation" for r in v1["remediations"])
    facets = v1["characterizations"][0]["facets"]
    assert {"name": "cve-id", "system": "http://cve.mitre.org", "value": "CVE-2024-0001"} in facets
    assert any(f["name"] == "impact" and f["value"] == "high" for f in facets)
    assert ("impacted-control-id", "si-10") in {(p["name"], p["value"]) for p in v3["props"]}
    tools = {c["title"] for c in body["local-definitions"]["components"]}
    assert tools == {"Nessus", "3PAO Pen Test"}


def test_exporting_twice_gives_the_same_document(engine: Engine, tmp_path: Path) -> None:
    _populate(engine, tmp_path)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    export_oscal(engine, a, None, "t")
    export_oscal(engine, b, None, "t")
    assert a.read_bytes() == b.read_bytes()


def test_empty_system_still_valid(sqlite_engine: Engine) -> None:
    systems.add_system(sqlite_engine, "Empty", "t")
    doc = _doc(sqlite_engine)
    assert oscal_poam.schema_errors(doc) == []


def test_closed_item_status_in_domain_matches(engine: Engine, tmp_path: Path) -> None:
    _populate(engine, tmp_path)
    with engine.begin() as conn:
        from poam.services.items import load

        items = load(conn, systems.resolve(conn, None, "t").id, "all")
    assert [i.status for i in items] == [ItemStatus.OPEN, ItemStatus.CLOSED, ItemStatus.OPEN]


def test_multiline_values_and_shared_identifiers_stay_valid(engine: Engine, tmp_path: Path) -> None:
    systems.add_system(engine, "S", "t", point_of_contact="Jane Doe\njane@example.com ")
    jan = dt.datetime(2026, 1, 5, 10, 0)
    x = Host("10.0.0.9", ip="10.0.0.9", mac="00:11:22:33:44:01", start=jan, items=[Item("100", severity=3)])
    y = Host("10.0.0.9", ip="10.0.0.9", mac="00:11:22:33:44:02", start=jan, items=[Item("100", severity=3)])
    p = write_nessus(tmp_path / "a.nessus", [x, y])
    text = p.read_text().replace(
        '<tag name="host-ip">',
        '<tag name="operating-system">Linux Kernel 3.10\nLinux Kernel 4.18</tag><tag name="host-ip">',
        1,
    )
    p.write_text(text)
    import_file(engine, p)
    # x is fixed, y is still vulnerable: two assets that share the identifier 10.0.0.9
    import_file(
        engine,
        write_nessus(
            tmp_path / "b.nessus",
            [
                Host("10.0.0.9", ip="10.0.0.9", mac="00:11:22:33:44:01", start=FEB),
                Host("10.0.0.9", ip="10.0.0.9", mac="00:11:22:33:44:02", start=FEB, items=[Item("100", severity=3)]),
            ],
        ),
    )
    with engine.begin() as conn:
        from poam.services.items import load

        (item,) = load(conn, systems.resolve(conn, None, "t").id, "open")
    assert [a.text for a in item.assets] == ["10.0.0.9 (443/tcp)"]
    doc = _doc(engine)
    assert oscal_poam.schema_errors(doc) == [] and oscal_poam.dangling_references(doc) == []
    inventory = doc["plan-of-action-and-milestones"]["local-definitions"]["inventory-items"]
    assert len({i["uuid"] for i in inventory}) == 2
