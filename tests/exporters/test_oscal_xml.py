"""OSCAL XML written from the JSON form, and read back."""

from __future__ import annotations

import io
import json
from pathlib import Path

from lxml import etree
from sqlalchemy import Engine

from poam.exporters import oscal_checks, oscal_xml
from poam.parsers import oscal_poam
from poam.parsers import oscal_xml as reader
from poam.services import poam_import
from poam.services.exporting import export_oscal
from tests.conftest import reference_file
from tests.exporters.test_oscal import _rich

OSCAL = "{http://csrc.nist.gov/ns/oscal/1.0}"


def test_the_fedramp_template_reads_back_the_same() -> None:
    doc = json.loads(reference_file("oscal/fedramp/FedRAMP-POAM-OSCAL-Template.json").read_text())
    assert reader.load(io.BytesIO(oscal_xml.to_xml(doc)), "template.xml") == doc


def test_the_nist_example_reads_back_the_same_but_its_list() -> None:
    """NIST wrote a list with `*` bullets and three line breaks before the next paragraph; read
    back from XML it is written with `-` and one blank line, as poam writes Markdown lists."""
    doc = json.loads(reference_file("oscal/ifa_plan-of-action-and-milestones.json").read_text())
    back = reader.load(io.BytesIO(oscal_xml.to_xml(doc)), "ifa.xml")
    remarks = doc["plan-of-action-and-milestones"]["observations"][1]["remarks"]
    expected = remarks.replace("* awesomecloud", "- awesomecloud").replace("\n\n\nBoth", "\n\nBoth")
    doc["plan-of-action-and-milestones"]["observations"][1]["remarks"] = expected
    assert back == doc


def test_the_xml_elements() -> None:
    doc = json.loads(reference_file("oscal/ifa_plan-of-action-and-milestones.json").read_text())
    root = etree.fromstring(oscal_xml.to_xml(doc))
    assert root.tag == OSCAL + "plan-of-action-and-milestones"
    item = root.find(OSCAL + "poam-item")
    assert item is not None
    assert [etree.QName(c).localname for c in item] == [
        "title",
        "description",
        "related-observation",
        "associated-risk",
    ]
    risk = root.find(OSCAL + "risk")
    assert risk is not None
    assert [etree.QName(c).localname for c in risk] == [
        "title",
        "description",
        "statement",
        "status",
        "characterization",
        "mitigating-factor",
        "deadline",
        "response",
        "related-observation",
    ]
    statement = risk.find(OSCAL + "statement")
    assert statement is not None and [etree.QName(c).localname for c in statement] == ["p", "p"]
    system_id = root.find(OSCAL + "system-id")
    assert system_id is not None
    assert (system_id.get("identifier-type"), system_id.text) == (
        "http://ietf.org/rfc/rfc4122",
        "8101e04d-8305-4e73-bb95-6b59f645b143",
    )
    code = root.find(f".//{OSCAL}observation/{OSCAL}remarks//{OSCAL}code")
    assert code is not None and code.text == "IFA-GoodRead-SystemEnginer"


def test_export_oscal_as_xml(engine: Engine, tmp_path: Path) -> None:
    _rich(engine, tmp_path)
    as_json, as_xml = tmp_path / "poam.json", tmp_path / "poam.xml"
    export_oscal(engine, as_json, None, "t")
    export_oscal(engine, as_xml, None, "t")
    assert as_xml.read_bytes().startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    from_xml = oscal_poam.load(as_xml)
    assert from_xml == json.loads(as_json.read_text())
    assert oscal_checks.problems(from_xml) == []
    reader_ = poam_import.reader_for(as_xml)
    assert reader_ is not None and reader_.format == "oscal-poam"
    records, warnings = oscal_poam.read(as_xml)
    assert warnings == [] and [r.item.poam_id for r in records] == ["V-1", "V-2"]
    assert [r.extra["oscal"]["kept"] for r in records] == [{}, {}]


def test_characters_xml_cannot_hold_are_replaced() -> None:
    doc = json.loads(reference_file("oscal/ifa_plan-of-action-and-milestones.json").read_text())
    doc["plan-of-action-and-milestones"]["metadata"]["title"] = "GoodRead \x1b[31m POA&M\x00"
    back = reader.load(io.BytesIO(oscal_xml.to_xml(doc)), "ifa.xml")
    assert back["plan-of-action-and-milestones"]["metadata"]["title"] == "GoodRead \ufffd[31m POA&M\ufffd"
