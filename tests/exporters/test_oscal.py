"""The OSCAL POA&M against the NIST 1.1.2 schema, with FedRAMP's conventions."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from sqlalchemy import Engine, func, select

from poam.domain.imported import ImportedItem
from poam.domain.models import ChangeKind, ItemStatus, Level, Milestone, MilestoneChange, PoamItem, YesNo
from poam.errors import PoamError
from poam.exporters import oscal_checks, oscal_parts, oscal_poam
from poam.parsers import oscal_poam as oscal_reader
from poam.services import poam_import, systems
from poam.services.exporting import export_oscal, oscal_document
from poam.services.importer import import_file
from poam.services.kev import load_catalog
from poam.services.poam_import import import_items
from poam.store.db import open_db
from poam.store.tables import audit_events
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


# -- the FedRAMP elements (issue 10, point 5) ---------------------------------------------------

D = dt.date
FEDRAMP = "https://fedramp.gov/ns/oscal"


def _rich_records() -> list[ImportedItem]:
    """Two items a hand-kept POA&M might hold, with every column the OSCAL mapping carries."""
    base = {
        "weakness_description": "OpenSSL before 3.0.14 mishandles a crafted certificate.",
        "detector_source": "Nessus",
        "source_identifier": "19506",
        "detection_date": D(2026, 1, 5),
        "status_date": D(2026, 2, 1),
    }
    a = PoamItem(
        poam_id="V-1",
        status=ItemStatus.OPEN,
        weakness_name="OpenSSL flaw",
        scheduled_completion_date=D(2026, 2, 4),
        original_risk=Level.HIGH,
        controls=("RA-5", "AC-2(1)"),
        point_of_contact="Jane Doe",
        resources_required="two engineers",
        remediation_plan="Upgrade OpenSSL.",
        milestones=(Milestone(1, D(2026, 1, 20), "Patch staging"), Milestone(2, D(2026, 2, 4), "Patch production")),
        milestone_changes=(MilestoneChange(1, ChangeKind.UPDATE, D(2026, 1, 25), "Staging slipped a week"),),
        vendor_dependency=YesNo.YES,
        last_vendor_checkin=D(2026, 1, 28),
        vendor_product="OpenSSL 3",
        adjusted_risk=Level.MODERATE,
        risk_adjustment=YesNo.YES,
        operational_requirement=YesNo.PENDING,
        deviation_rationale="Risk Adjustment : Only reachable inside the VPN.\n\n"
        "Operational Requirement : The legacy client needs it.",
        supporting_documents="scan-2026-01.nessus",
        comments="Tracked in JIRA-12.",
        kev=True,
        kev_due_date=D(2026, 1, 26),
        cves=("CVE-2024-0001", "CVE-2024-0002"),
        recommendation="Upgrade to 3.0.14.",
        vendor_release_date=D(2026, 1, 30),
        **base,  # type: ignore[arg-type]
    )
    b = PoamItem(
        poam_id="V-2",
        status=ItemStatus.CLOSED,
        weakness_name="Old TLS",
        scheduled_completion_date=D(2026, 4, 5),
        original_risk=Level.MODERATE,
        controls=("SC-8",),
        milestones=(Milestone(1, D(2026, 3, 1), "Disable TLS 1.0"),),
        milestone_changes=(MilestoneChange(1, ChangeKind.COMPLETE, D(2026, 2, 20), "Done"),),
        closed_at=D(2026, 2, 20),
        **base,  # type: ignore[arg-type]
    )
    return [ImportedItem(a, "row 1", "web01 (443/tcp)"), ImportedItem(b, "row 2", "web02")]


def _rich(engine: Engine, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    systems.add_system(engine, "Example", "t", org="Example CSP", fedramp_id="F1234567890")
    source = tmp_path / "kept-by-hand.xlsx"
    source.write_bytes(b"stand-in for the workbook the records came from")
    import_items(engine, source, _rich_records(), None, "t", "poam-xlsx")
    return _doc(engine)


def _by_poam_id(body: dict) -> dict[str, tuple[dict, dict, list[dict]]]:  # type: ignore[type-arg]
    risks = {r["uuid"]: r for r in body["risks"]}
    observations = {o["uuid"]: o for o in body["observations"]}
    out = {}
    for item in body["poam-items"]:
        (poam_id,) = [p["value"] for p in item["props"] if p["name"] == "POAM-ID"]
        (risk,) = [risks[r["risk-uuid"]] for r in item["related-risks"]]
        out[poam_id] = (item, risk, [observations[o["observation-uuid"]] for o in item["related-observations"]])
    return out


def _props(obj: dict) -> list[tuple[str, str, str | None]]:  # type: ignore[type-arg]
    return [(p["name"], p["value"], p.get("ns")) for p in obj.get("props", [])]


def test_fedramp_elements_of_a_rich_item(engine: Engine, tmp_path: Path) -> None:
    doc = _rich(engine, tmp_path)
    assert oscal_checks.problems(doc) == []
    body = doc["plan-of-action-and-milestones"]
    item, risk, observations = _by_poam_id(body)["V-1"]
    assert item["remarks"] == "Vendor fix released 2026-01-30.\nTracked in JIRA-12."
    assert _props(risk) == [
        ("impacted-control-id", "ra-5", FEDRAMP),
        ("impacted-control-id", "ac-2.1", FEDRAMP),
        ("kev-catalog", "yes", FEDRAMP),
        ("kev-due-date", "2026-01-26", FEDRAMP),
        ("risk-adjustment", "approved", FEDRAMP),
        ("operational-requirement", "pending", FEDRAMP),
        ("vendor-dependency", "tracking", FEDRAMP),
    ]
    assert risk["status"] == "deviation-requested"
    facets = {
        (f["name"], f["value"], f["props"][0]["value"]) for f in risk["characterizations"][0]["facets"] if "props" in f
    }
    assert facets == {
        ("likelihood", "high", "initial"),
        ("impact", "high", "initial"),
        ("risk", "high", "initial"),
        ("likelihood", "moderate", "adjusted"),
        ("impact", "moderate", "adjusted"),
        ("risk", "moderate", "adjusted"),
    }
    assert {f["system"] for f in risk["characterizations"][0]["facets"] if "props" in f} == {"https://fedramp.gov"}
    (factor,) = risk["mitigating-factors"]
    assert factor["description"].startswith("Risk Adjustment : Only reachable inside the VPN.")
    types = [o["types"] for o in observations]
    assert types == [["finding"], ["risk-adjustment"], ["operational-requirement"], ["vendor-dependency"]]
    assert observations[0]["relevant-evidence"] == [{"description": "scan-2026-01.nessus"}]
    assert observations[0]["subjects"][0]["title"] == "web01 (443/tcp)"
    assert observations[1]["description"] == "Only reachable inside the VPN."
    assert observations[2]["description"] == "The legacy client needs it."
    vendor = observations[3]
    (product,) = [c for c in body["local-definitions"]["components"] if c["title"] == "OpenSSL 3"]
    assert vendor["subjects"] == [{"subject-uuid": product["uuid"], "type": "component", "title": "OpenSSL 3"}]
    checkin = [e for e in risk["risk-log"]["entries"] if e["title"] == "Vendor Check-in"]
    assert [e["start"] for e in checkin] == ["2026-01-28T00:00:00Z"]
    plan = next(r for r in risk["remediations"] if r["lifecycle"] == "planned")
    assert plan["required-assets"][0]["description"] == "two engineers"
    assert [(t["title"], t["description"], t["timing"]["within-date-range"]["end"]) for t in plan["tasks"]] == [
        ("Milestone 1", "Patch staging", "2026-01-20T23:59:59Z"),
        ("Milestone 2", "Patch production", "2026-02-04T23:59:59Z"),
    ]
    (actor,) = plan["origins"][0]["actors"]
    parties = {p["uuid"]: p for p in body["metadata"]["parties"]}
    assert parties[actor["actor-uuid"]]["name"] == "Jane Doe" and actor["role-id"] == "point-of-contact"
    recommendation = next(r for r in risk["remediations"] if r["lifecycle"] == "recommendation")
    assert recommendation["description"] == "Upgrade to 3.0.14."


def test_a_responsible_party_for_each_role_used(engine: Engine, tmp_path: Path) -> None:
    body = _rich(engine, tmp_path)["plan-of-action-and-milestones"]
    metadata = body["metadata"]
    roles = {r["id"] for r in metadata["roles"]}
    responsible = {r["role-id"]: r["party-uuids"] for r in metadata["responsible-parties"]}
    used = {
        a["role-id"]
        for r in body["risks"]
        for resp in r["remediations"]
        for o in resp.get("origins", [])
        for a in o["actors"]
        if "role-id" in a
    }
    assert used == {"point-of-contact", "cloud-service-provider"}
    assert roles == set(responsible) == {"cloud-service-provider", "prepared-for", "point-of-contact"}
    names = {p["uuid"]: p["name"] for p in metadata["parties"]}
    assert [names[u] for u in responsible["point-of-contact"]] == ["Jane Doe"]
    assert [names[u] for u in responsible["cloud-service-provider"]] == ["Example CSP"]


def test_a_closed_risk_keeps_its_planned_response(engine: Engine, tmp_path: Path) -> None:
    body = _rich(engine, tmp_path)["plan-of-action-and-milestones"]
    _item, risk, _observations = _by_poam_id(body)["V-2"]
    assert risk["status"] == "closed"
    (plan,) = [r for r in risk["remediations"] if r["lifecycle"] == "planned"]
    assert [t["description"] for t in plan["tasks"]] == ["Disable TLS 1.0"]
    assert risk["risk-log"]["entries"][-1] == {
        "uuid": risk["risk-log"]["entries"][-1]["uuid"],
        "title": "Closed",
        "description": "Every finding of this weakness was shown fixed; see the milestone changes.",
        "start": "2026-02-20T00:00:00Z",
        "props": [{"name": "type", "value": "closed"}],
        "status-change": "closed",
    }


def test_no_oscal_ssp_resource_or_import_ssp(engine: Engine, tmp_path: Path) -> None:
    _populate(engine, tmp_path)
    body = _doc(engine)["plan-of-action-and-milestones"]
    resources = {r["uuid"]: r for r in body["back-matter"]["resources"]}
    target = resources[body["import-ssp"]["href"].removeprefix("#")]
    assert _props(target) == [("type", "no-oscal-ssp", FEDRAMP), ("system-id", "F1234567890", FEDRAMP)]
    with engine.begin() as conn:
        doc = oscal_document(conn, systems.resolve(conn, None, "t"), ssp_href="../ssp/example-ssp.json")
    body = doc["plan-of-action-and-milestones"]
    resources = {r["uuid"]: r for r in body["back-matter"]["resources"]}
    target = resources[body["import-ssp"]["href"].removeprefix("#")]
    assert _props(target) == [("type", "system-security-plan", FEDRAMP)]
    assert target["rlinks"] == [{"href": "../ssp/example-ssp.json", "media-type": "application/json"}]
    assert not any(("type", "no-oscal-ssp", FEDRAMP) in _props(r) for r in resources.values())
    assert oscal_checks.problems(doc) == []


def test_tool_vendor_and_version(engine: Engine, tmp_path: Path) -> None:
    systems.add_system(engine, "S", "t")
    host = Host(
        "web01",
        ip="10.0.0.1",
        items=[Item("100", severity=3), Item("19506", severity=0, output="Nessus version : 10.7.1\nPlugin feed : x")],
    )
    import_file(engine, write_nessus(tmp_path / "a.nessus", [host]))
    (tool,) = _doc(engine)["plan-of-action-and-milestones"]["local-definitions"]["components"]
    assert _props(tool) == [
        ("vendor-name", "Tenable", FEDRAMP),
        ("name", "Nessus", FEDRAMP),
        ("version", "10.7.1", None),
    ]


def test_cvss_facets_from_the_vector() -> None:
    """CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H: the base metrics under FIRST's v3.1 system
    with OSCAL's names and values (oscal_assessment-common metaschema); the score as poam's prop."""
    item = PoamItem(
        poam_id="V-9",
        status=ItemStatus.OPEN,
        weakness_name="w",
        weakness_description="d",
        detector_source="Nessus",
        source_identifier="1",
        detection_date=D(2026, 1, 1),
        scheduled_completion_date=D(2026, 2, 1),
        status_date=D(2026, 1, 1),
        original_risk=Level.CRITICAL,
        cvss3_score=9.8,
        cvss3_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        cvss2_vector="AV:N/AC:L/Au:N/C:P/I:P/A:P",
    )
    risk = oscal_parts.parts("S", item, str).risk
    (characterization,) = risk["characterizations"]
    v31 = "http://www.first.org/cvss/v3.1"
    v2 = "http://www.first.org/cvss/v2.0"
    assert [(f["name"], f["value"]) for f in characterization["facets"] if f["system"] == v31] == [
        ("attack-vector", "network"),
        ("access-complexity", "low"),
        ("privileges-required", "none"),
        ("user-interaction", "none"),
        ("scope", "unchanged"),
        ("confidentiality-impact", "high"),
        ("integrity-impact", "high"),
        ("availability-impact", "high"),
    ]
    assert [(f["name"], f["value"]) for f in characterization["facets"] if f["system"] == v2] == [
        ("access-vector", "network"),
        ("access-complexity", "low"),
        ("authentication", "none"),
        ("confidentiality-impact", "partial"),
        ("integrity-impact", "partial"),
        ("availability-impact", "partial"),
    ]
    assert _props(characterization) == [
        ("cvss3-base-score", "9.8", oscal_parts.POAM_NS),
        ("cvss3-vector", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", oscal_parts.POAM_NS),
        ("cvss2-vector", "AV:N/AC:L/Au:N/C:P/I:P/A:P", oscal_parts.POAM_NS),
    ]
    # Critical is High in FedRAMP's three levels
    assert {f["value"] for f in characterization["facets"] if f["system"] == "https://fedramp.gov"} == {"high"}


def test_every_risk_shows_a_milestone_even_without_one() -> None:
    item = PoamItem(
        poam_id="V-9",
        status=ItemStatus.OPEN,
        weakness_name="w",
        weakness_description="d",
        detector_source="Nessus",
        source_identifier="1",
        detection_date=D(2026, 1, 1),
        scheduled_completion_date=D(2026, 2, 1),
        status_date=D(2026, 1, 1),
        original_risk=Level.LOW,
    )
    (plan,) = [r for r in oscal_parts.parts("S", item, str).risk["remediations"] if r["lifecycle"] == "planned"]
    (task,) = plan["tasks"]
    assert task["type"] == "milestone"
    assert task["timing"]["within-date-range"]["end"] == "2026-02-01T23:59:59Z"


def test_poam_items_show_the_automatic_first_milestone(engine: Engine, tmp_path: Path) -> None:
    _populate(engine, tmp_path)
    body = _doc(engine)["plan-of-action-and-milestones"]
    for risk in body["risks"]:
        (plan,) = [r for r in risk["remediations"] if r["lifecycle"] == "planned"]
        assert [t["type"] for t in plan["tasks"]] == ["milestone"]


def _same(a: Any, b: Any, path: str = "$") -> list[str]:
    """Where two documents differ, field by field."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in dict.fromkeys([*a, *b]) for d in _same(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for n, (x, y) in enumerate(zip(a, b, strict=True)) for d in _same(x, y, f"{path}[{n}]")]
    return [] if a == b else [path]


def _round_trip(first: Engine, tmp_path: Path) -> tuple[dict, dict, list]:  # type: ignore[type-arg]
    """Export, import into a new database with the same system, export again."""
    a = tmp_path / "a.json"
    export_oscal(first, a, None, "t")
    records, warnings = oscal_reader.read(a)
    assert warnings == []
    second = open_db(str(tmp_path / "second.db"))
    try:
        systems.add_system(second, "Example", "t", org="Example CSP", fedramp_id="F1234567890")
        reader = poam_import.reader_for(a)
        assert reader is not None and reader.format == "oscal-poam"
        poam_import.import_document(second, a, reader, None, "t")
        b = tmp_path / "b.json"
        export_oscal(second, b, None, "t")
    finally:
        second.dispose()
    return json.loads(a.read_text()), json.loads(b.read_text()), records


def test_round_trip_of_a_rich_poam(engine: Engine, tmp_path: Path) -> None:
    """Every field comes back from poam's columns alone: nothing needs keeping. Only
    `metadata.last-modified` (the newest change in each database, so the second is later) and
    `metadata.version` (its date) may differ."""
    _rich(engine, tmp_path)
    first, again, records = _round_trip(engine, tmp_path)
    assert [r.extra["oscal"]["kept"] for r in records] == [{}, {}]
    assert set(_same(first, again)) <= {
        "$.plan-of-action-and-milestones.metadata.last-modified",
        "$.plan-of-action-and-milestones.metadata.version",
    }
    assert first["plan-of-action-and-milestones"]["risks"] == again["plan-of-action-and-milestones"]["risks"]


def test_round_trip_of_scanned_items(engine: Engine, tmp_path: Path) -> None:
    """Items from scans: the CVSS score (kept with the scanner's weakness, which an imported item
    does not have) is the one value kept from the document; the inventory items the observations
    cite come back from the items' definitions."""
    _populate(engine, tmp_path)
    first, again, records = _round_trip(engine, tmp_path)
    kept = {r.item.poam_id: r.extra["oscal"]["kept"] for r in records}
    assert {k: {part: sorted(v) for part, v in parts.items()} for k, parts in kept.items()} == {
        "V-1": {"risk": ["characterizations"]},
        "V-2": {},
        "V-3": {},
    }
    assert set(_same(first, again)) <= {
        "$.plan-of-action-and-milestones.metadata.last-modified",
        "$.plan-of-action-and-milestones.metadata.version",
    }


def test_an_invalid_document_is_not_written(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _populate(engine, tmp_path)
    real = oscal_poam.build

    def without_deadline(doc: oscal_poam.Document) -> dict:  # type: ignore[type-arg]
        built = real(doc)
        del built["plan-of-action-and-milestones"]["risks"][1]["deadline"]
        return built

    monkeypatch.setattr(oscal_poam, "build", without_deadline)
    out = tmp_path / "out.json"
    with engine.begin() as conn:
        before = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    with pytest.raises(PoamError, match=r"risks\[1\]\.deadline: a risk must have a deadline"):
        export_oscal(engine, out, None, "t")
    assert not out.exists()
    with engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar_one() == before


def test_an_empty_system_is_exported(sqlite_engine: Engine, tmp_path: Path) -> None:
    systems.add_system(sqlite_engine, "Empty", "t")
    out = tmp_path / "empty.json"
    export_oscal(sqlite_engine, out, None, "t")
    doc = json.loads(out.read_text())
    assert [p.path for p in oscal_checks.problems(doc)] == [
        "$.plan-of-action-and-milestones.poam-items[0].related-risks"
    ]


def test_export_after_importing_the_references(engine: Engine, tmp_path: Path) -> None:
    """NIST's example and FedRAMP's template come in; poam's export of them passes every check
    (what they cite but do not define is replaced by poam's own values)."""
    for name in ("oscal/ifa_plan-of-action-and-milestones.json", "oscal/fedramp/FedRAMP-POAM-OSCAL-Template.json"):
        path = reference_file(name)
        reader = poam_import.reader_for(path)
        assert reader is not None
        poam_import.import_document(engine, path, reader, None, "t")
    out = tmp_path / "out.json"
    export_oscal(engine, out, None, "t")
    body = json.loads(out.read_text())["plan-of-action-and-milestones"]
    assert len(body["poam-items"]) == 4
    risks = {r["uuid"]: r for r in body["risks"]}
    nist = risks["1c65d2d3-7735-47fa-8f68-a236744beab7"]  # kept as NIST wrote it
    assert nist["statement"].startswith("An account without proper least privilege design")
    assert [r["lifecycle"] for r in nist["remediations"]] == ["planned"]
    assert oscal_checks.problems(json.loads(out.read_text())) == []


def test_importing_poams_own_export_back_changes_no_column(engine: Engine, tmp_path: Path) -> None:
    _rich(engine, tmp_path)
    out = tmp_path / "out.json"
    export_oscal(engine, out, None, "t")
    with engine.begin() as conn:
        from poam.services.items import load

        system_id = systems.resolve(conn, None, "t").id
        before = load(conn, system_id, "all")
    reader = poam_import.reader_for(out)
    assert reader is not None
    poam_import.import_document(engine, out, reader, None, "t")  # stores the OSCAL uuids in `extra`
    again = poam_import.import_document(engine, out, reader, None, "t")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    with engine.begin() as conn:
        assert load(conn, system_id, "all") == before  # every column (PoamItem equality leaves `extra` out)


def test_stable_uuids_are_rfc_4122_version_5() -> None:
    import uuid

    for parts in [("Example", "risk", "V-1"), ("S", "milestone", "V-12", "3"), ("é", "")]:
        made = oscal_parts.make_uuid(*parts)
        assert made == str(uuid.uuid5(oscal_parts.POAM_NAMESPACE, "|".join(parts)))
        assert uuid.UUID(made).version == 5


def test_export_oscal_command_with_an_ssp(engine: Engine, db_url: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from poam.cli import cli

    _populate(engine, tmp_path)
    out = tmp_path / "poam.json"
    args = ["export", "oscal", str(out), "--ssp", "ssp/example.xml", "--db", db_url, "--json", "--user", "alice"]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["items"] == 3
    assert json.loads(r.stdout)["ssp"] == "ssp/example.xml"  # echoed
    body = json.loads(out.read_text())["plan-of-action-and-milestones"]
    (ssp,) = [x for x in body["back-matter"]["resources"] if "#" + x["uuid"] == body["import-ssp"]["href"]]
    assert ssp["rlinks"] == [{"href": "ssp/example.xml", "media-type": "application/xml"}]


@pytest.mark.parametrize(
    ("href", "rlink"),
    [
        ("ssp/example.json", {"href": "ssp/example.json", "media-type": "application/json"}),
        ("SSP/EXAMPLE.XML", {"href": "SSP/EXAMPLE.XML", "media-type": "application/xml"}),
        (
            "https://example.com/ssp.xml?v=2#top",
            {"href": "https://example.com/ssp.xml?v=2#top", "media-type": "application/xml"},
        ),
        ("ssp/example.docx", {"href": "ssp/example.docx"}),  # no media type guessed: OSCAL makes it optional
        ("https://example.com/ssp", {"href": "https://example.com/ssp"}),
        ("ssp.v2/plan", {"href": "ssp.v2/plan"}),
    ],
)
def test_the_ssp_rlinks_media_type(sqlite_engine: Engine, tmp_path: Path, href: str, rlink: dict[str, str]) -> None:
    _populate(sqlite_engine, tmp_path)
    with sqlite_engine.begin() as conn:
        doc = oscal_document(conn, systems.resolve(conn, None, "t"), ssp_href=href)
    body = doc["plan-of-action-and-milestones"]
    (ssp,) = [x for x in body["back-matter"]["resources"] if "#" + x["uuid"] == body["import-ssp"]["href"]]
    assert ssp["rlinks"] == [rlink]
    assert oscal_poam.schema_errors(doc) == [] and oscal_checks.problems(doc) == []


def test_two_items_sharing_one_risk_export_it_once(engine: Engine, tmp_path: Path) -> None:
    from tests.exporters.test_oscal_checks import good

    doc = good()
    body = doc["plan-of-action-and-milestones"]
    first = body["poam-items"][0]
    first["props"] = [{"name": "POAM-ID", "ns": "https://fedramp.gov/ns/oscal", "value": "V-1"}]
    second = {**first, "uuid": "12345678-1234-4234-8234-123456789abc", "props": [{**first["props"][0], "value": "V-2"}]}
    body["poam-items"].append(second)
    path = tmp_path / "shared.json"
    path.write_text(json.dumps(doc))
    reader = poam_import.reader_for(path)
    assert reader is not None
    assert poam_import.import_document(engine, path, reader, None, "t").created == 2
    out = tmp_path / "out.json"
    export_oscal(engine, out, None, "t")
    exported = json.loads(out.read_text())
    assert oscal_checks.problems(exported) == []
    assert len(exported["plan-of-action-and-milestones"]["risks"]) == 1
    assert len(exported["plan-of-action-and-milestones"]["poam-items"]) == 2
