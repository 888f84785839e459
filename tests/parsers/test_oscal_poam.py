"""Reading OSCAL POA&Ms (JSON and XML, 1.0.x-1.2.x) into POA&M items, and importing them."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import Engine

from poam.cli import cli
from poam.domain.models import ChangeKind, ItemStatus, Level, Milestone, YesNo
from poam.errors import InputError
from poam.exporters.oscal_checks import problems
from poam.parsers import oscal_poam, oscal_xml
from poam.services import poam_import
from poam.services.items import load
from poam.services.systems import resolve
from tests.builders import Host, Item, write_nessus
from tests.conftest import reference_file

D = dt.date
MS = "{http://csrc.nist.gov/ns/oscal/metaschema/1.0}"
MODULES = [
    "oscal_poam_metaschema.xml",
    "oscal_assessment-common_metaschema.xml",
    "oscal_implementation-common_metaschema.xml",
    "oscal_metadata_metaschema.xml",
]

# An OSCAL XML POA&M written by hand from the XML examples of FedRAMP's Guide to OSCAL-based
# POA&Ms Rev5 (§3.5, §4.2-§4.5): every kind of element the reader maps.
GUIDE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<plan-of-action-and-milestones xmlns="http://csrc.nist.gov/ns/oscal/1.0" uuid="5d6fc8a4-7a92-4b0d-9c3b-0d2a6f1e4b11">
  <metadata>
    <title>[System Name] FedRAMP Plan of Action and Milestones (POA&amp;M)</title>
    <last-modified>2023-06-30T00:00:00Z</last-modified>
    <version>0.0.0</version>
    <oscal-version>VERSION</oscal-version>
    <revisions>
      <revision>
        <title>Initial</title>
        <version>0.0.0</version>
        <oscal-version>VERSION</oscal-version>
      </revision>
    </revisions>
    <prop ns="https://fedramp.gov/ns/oscal" name="resolution-resource" value="ace2963d-ecb4-4be5-bdd0-1f6fd7610f41"/>
    <party uuid="49f73135-efab-4275-9a79-003656ad890a" type="person">
      <name>Jane ISSO</name>
      <email-address>isso@example.com</email-address>
      <telephone-number type="office">202-000-0001</telephone-number>
    </party>
  </metadata>
  <import-ssp href="#96445439-6ce1-4e22-beae-aa72cfe173d0"/>
  <system-id identifier-type="https://fedramp.gov">F00000000</system-id>
  <local-definitions>
    <component uuid="9d194268-a9d1-4c38-839f-9c4aa57bf71e" type="software">
      <title>XYZ Vulnerability Scanning Tool</title>
      <description><p>The scanner.</p></description>
      <prop ns="https://fedramp.gov/ns/oscal" name="vendor" value="Vendor Name"/>
      <prop ns="https://fedramp.gov/ns/oscal" name="name" value="Tool Name"/>
      <prop name="version" value="1.2.3"/>
      <status state="operational"/>
    </component>
    <inventory-item uuid="deb26a75-6d97-4811-ae0e-ae1c710366c1">
      <description><p>An instance of the above component.</p></description>
      <prop name="ipv4-address" value="10.10.10.10"/>
      <prop name="fqdn" value="host.domain.cloud"/>
    </inventory-item>
  </local-definitions>
  <observation uuid="0aa54106-8a63-4953-ac0d-30ff91f8d4ab">
    <description><p>Scanner output.</p></description>
    <method>TEST</method>
    <type>finding</type>
    <origin>
      <actor type="tool" actor-uuid="9d194268-a9d1-4c38-839f-9c4aa57bf71e"/>
    </origin>
    <subject subject-uuid="deb26a75-6d97-4811-ae0e-ae1c710366c1" type="inventory-item"/>
    <relevant-evidence href="./raw_scans/scanner_output.csv">
      <description>
        <p>Optional pointer to the raw scanner output that generated this <em>POA&amp;M</em> entry.</p>
      </description>
    </relevant-evidence>
    <collected>2023-10-10T00:00:00Z</collected>
  </observation>
  <risk uuid="ae628cc5-b64c-4030-af30-57e6b24a6ae7">
    <title>Weakness Name</title>
    <description><p>This is the Weakness Description.</p></description>
    <statement>
      <p>This is the tool-provided statement about the identified risk.</p>
      <p>If no risk statement from tool, set to <q>No Risk Statement</q>.</p>
    </statement>
    <prop ns="https://fedramp.gov/ns/oscal" name="impacted-control-id" value="ac-2.1"/>
    <prop ns="https://fedramp.gov/ns/oscal" name="kev-catalog" value="yes"/>
    <prop ns="https://fedramp.gov/ns/oscal" name="kev-due-date" value="2022-09-30"/>
    <prop ns="https://fedramp.gov/ns/oscal" name="risk-adjustment" value="pending"/>
    <status>open</status>
    <characterization>
      <origin>
        <actor type="tool" actor-uuid="9d194268-a9d1-4c38-839f-9c4aa57bf71e">
          <prop name="vulnerability-id" ns="https://fedramp.gov/ns/oscal" value="VulID-001"/>
          <prop name="plugin-id" ns="https://fedramp.gov/ns/oscal" value="12345"/>
        </actor>
      </origin>
      <facet name="cve-id" value="CVE-2020-00000" system="http://cve.mitre.org"/>
      <facet name="likelihood" value="high" system="https://fedramp.gov">
        <prop name="state" value="initial"/>
      </facet>
      <facet name="impact" value="moderate" system="https://fedramp.gov">
        <prop name="state" value="initial"/>
      </facet>
      <facet name="likelihood" value="low" system="https://fedramp.gov">
        <prop name="state" value="adjusted"/>
      </facet>
      <facet name="impact" value="moderate" system="https://fedramp.gov">
        <prop name="state" value="adjusted"/>
      </facet>
    </characterization>
    <mitigating-factor uuid="260d3c0a-fc2e-4627-9fb9-a003acdc4b14">
      <description><p>Only reachable from the management network.</p></description>
    </mitigating-factor>
    <deadline>2023-07-07T00:00:00Z</deadline>
    <response uuid="a3106e23-8b79-4b1b-abf4-74f16c51ad0c" lifecycle="recommendation">
      <title>Tool's Recommendation</title>
      <description><p>Apply the patch.</p></description>
      <origin><actor type="tool" actor-uuid="9d194268-a9d1-4c38-839f-9c4aa57bf71e"/></origin>
    </response>
    <response uuid="e9ee6fe2-856f-42c7-8c2e-ff6466d31010" lifecycle="planned">
      <title>CSP's Remediation Plan</title>
      <description>
        <p>Patch in two steps:</p>
        <ul><li>staging</li><li>production</li></ul>
      </description>
      <origin><actor type="party" actor-uuid="49f73135-efab-4275-9a79-003656ad890a"/></origin>
      <required-asset uuid="7bd1a61e-4fda-4c52-a447-14072ef6e042">
        <subject subject-uuid="49f73135-efab-4275-9a79-003656ad890a" type="party"/>
        <description><p>One engineer for a day.</p></description>
      </required-asset>
      <task uuid="a12dea1d-e4d1-4f09-aacf-1eaf203a3092" type="milestone">
        <title>Milestone 1</title>
        <description><p>Patch staging</p></description>
        <timing><within-date-range start="2023-07-01T00:00:00Z" end="2023-07-02T00:00:00Z"/></timing>
      </task>
      <task uuid="08c50f90-3b08-49fd-862d-32ec96e6bee5" type="milestone">
        <title>Milestone 2</title>
        <description><p>Patch production</p></description>
        <timing><on-date date="2023-07-07T00:00:00Z"/></timing>
      </task>
    </response>
    <risk-log>
      <entry uuid="d084a039-bdd1-4ccd-a06a-53355e07fa2f">
        <title>Vendor Check-in</title>
        <description><p>The vendor has no fix yet.</p></description>
        <start>2023-07-05T00:00:00Z</start>
      </entry>
    </risk-log>
  </risk>
  <poam-item uuid="6f5fff73-cac6-4da0-a0d9-0f931a5efafa">
    <title>[EXAMPLE]POA&amp;M Item</title>
    <description/>
    <prop ns="https://fedramp.gov/ns/oscal" name="POAM-ID" value="V-1"/>
    <related-observation observation-uuid="0aa54106-8a63-4953-ac0d-30ff91f8d4ab"/>
    <associated-risk risk-uuid="ae628cc5-b64c-4030-af30-57e6b24a6ae7"/>
    <remarks><p>Tracked in the change board.</p></remarks>
  </poam-item>
  <back-matter>
    <resource uuid="96445439-6ce1-4e22-beae-aa72cfe173d0">
      <title>[System Name] [FIPS-199 Level] SSP</title>
      <prop name="type" ns="https://fedramp.gov/ns/oscal" value="system-security-plan"/>
      <rlink media-type="application/json" href="./CSP_System_SSP.json"/>
    </resource>
    <resource uuid="ace2963d-ecb4-4be5-bdd0-1f6fd7610f41">
      <title>Resolution Resource</title>
      <prop name="dataset" class="version" value="5.0.2"/>
    </resource>
  </back-matter>
</plan-of-action-and-milestones>
"""


def model_table(folder: Path) -> dict[str, Any]:
    """The XML element table of `parsers.oscal_xml`, made from NIST's metaschema modules: each
    definition's flags, its children (JSON key, array or not, definition, wrapped markup) and
    grouped wrappers. Definitions of modules not shipped (control-common) are `generic`."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    roots = [etree.parse(str(folder / m), parser).getroot() for m in MODULES]
    assemblies: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    flags: dict[str, Any] = {}
    for root in roots:
        for el in root:
            kind = {MS + "define-assembly": assemblies, MS + "define-field": fields, MS + "define-flag": flags}
            if el.tag in kind:
                kind[el.tag].setdefault(el.get("name"), el)
    table: dict[str, Any] = {}

    def text(el: Any, name: str) -> str | None:
        c = el.find(MS + name)
        return c.text.strip() if c is not None and c.text else None

    def define(el: Any, key: str) -> str:
        if key in table:
            return key
        is_field = el.tag == MS + "define-field"
        entry: dict[str, Any] = {"kind": "field" if is_field else "assembly", "flags": {}}
        table[key] = entry
        for f in el:
            if f.tag == MS + "flag":
                ref = flags[f.get("ref")]
                name = text(f, "use-name") or text(ref, "use-name") or ref.get("name")
                entry["flags"][name] = [name, ref.get("as-type") or "string"]
            elif f.tag == MS + "define-flag":
                entry["flags"][f.get("name")] = [f.get("name"), f.get("as-type") or "string"]
        if is_field:
            entry["type"] = el.get("as-type") or "string"
            entry["value_key"] = text(el, "json-value-key")
            vkf = el.find(MS + "json-value-key-flag")
            entry["value_key_flag"] = vkf.get("flag-ref") if vkf is not None else None
            return key
        entry["children"] = {}
        model = el.find(MS + "model")
        if model is not None:
            walk(model, entry["children"], key)
        return key

    def walk(model: Any, children: dict[str, Any], parent: str) -> None:
        for m in model:
            if m.tag == MS + "choice":
                walk(m, children, parent)
                continue
            if m.tag in (MS + "assembly", MS + "field"):
                known = assemblies if m.tag == MS + "assembly" else fields
                name = text(m, "use-name") or m.get("ref")
                if m.get("ref") not in known:
                    table.setdefault("generic", {"kind": "generic"})
                    def_key = "generic"
                else:
                    target = known[m.get("ref")]
                    prefix = "" if m.tag == MS + "assembly" else "field:"
                    def_key = define(target, prefix + m.get("ref"))
                    name = text(m, "use-name") or text(target, "use-name") or m.get("ref")
            elif m.tag in (MS + "define-assembly", MS + "define-field"):
                prefix = "field:" if m.tag == MS + "define-field" else ""
                def_key = define(m, prefix + parent + "/" + m.get("name"))
                name = text(m, "use-name") or m.get("name")
            else:
                continue
            group = m.find(MS + "group-as")
            multi = m.get("max-occurs", "1") != "1"
            json_key = group.get("name") if group is not None and multi else name
            spec = [json_key, multi, def_key, m.get("in-xml") == "WITH_WRAPPER"]
            if group is not None and group.get("in-xml") == "GROUPED":
                table.setdefault("group:" + group.get("name"), {"kind": "group", "item": name, "spec": spec})
                children[group.get("name")] = [json_key, False, "group:" + group.get("name"), False]
            else:
                children[name] = spec

    define(assemblies["plan-of-action-and-milestones"], "plan-of-action-and-milestones")
    return dict(sorted(table.items()))


def test_the_xml_table_is_made_from_nists_metaschema() -> None:
    """The shipped table is the metaschema's, children in the model's order (the XML writer
    follows it)."""
    folder = reference_file("oscal/metaschema-v1.1.3/oscal_poam_metaschema.xml").parent
    made = model_table(folder)
    assert made == oscal_xml.model()
    assert json.dumps(made) == json.dumps(oscal_xml.model())


def guide_xml(tmp_path: Path, version: str = "1.0.4") -> Path:
    path = tmp_path / f"guide-{version}.xml"
    path.write_text(GUIDE_XML.replace("VERSION", version), encoding="utf-8")
    return path


def test_xml_becomes_the_json_form(tmp_path: Path) -> None:
    doc = oscal_poam.load(guide_xml(tmp_path))
    body = doc["plan-of-action-and-milestones"]
    assert body["uuid"] == "5d6fc8a4-7a92-4b0d-9c3b-0d2a6f1e4b11"
    assert body["metadata"]["revisions"] == [{"title": "Initial", "version": "0.0.0", "oscal-version": "1.0.4"}]
    assert body["metadata"]["parties"][0]["telephone-numbers"] == [{"type": "office", "number": "202-000-0001"}]
    assert body["metadata"]["parties"][0]["email-addresses"] == ["isso@example.com"]
    assert body["import-ssp"] == {"href": "#96445439-6ce1-4e22-beae-aa72cfe173d0"}
    assert body["system-id"] == {"identifier-type": "https://fedramp.gov", "id": "F00000000"}
    assert body["local-definitions"]["components"][0]["status"] == {"state": "operational"}
    obs = body["observations"][0]
    assert obs["methods"] == ["TEST"] and obs["types"] == ["finding"]
    assert obs["origins"] == [{"actors": [{"type": "tool", "actor-uuid": "9d194268-a9d1-4c38-839f-9c4aa57bf71e"}]}]
    assert obs["relevant-evidence"] == [
        {
            "href": "./raw_scans/scanner_output.csv",
            "description": "Optional pointer to the raw scanner output that generated this *POA&M* entry.",
        }
    ]
    risk = body["risks"][0]
    assert risk["statement"] == (
        "This is the tool-provided statement about the identified risk.\n\n"
        'If no risk statement from tool, set to "No Risk Statement".'
    )
    assert risk["characterizations"][0]["facets"][1] == {
        "name": "likelihood",
        "value": "high",
        "system": "https://fedramp.gov",
        "props": [{"name": "state", "value": "initial"}],
    }
    plan = risk["remediations"][1]
    assert plan["description"] == "Patch in two steps:\n\n- staging\n- production"
    assert plan["required-assets"][0]["subjects"] == [
        {"subject-uuid": "49f73135-efab-4275-9a79-003656ad890a", "type": "party"}
    ]
    assert plan["tasks"][0]["timing"] == {
        "within-date-range": {"start": "2023-07-01T00:00:00Z", "end": "2023-07-02T00:00:00Z"}
    }
    assert plan["tasks"][1]["timing"] == {"on-date": {"date": "2023-07-07T00:00:00Z"}}
    assert risk["risk-log"]["entries"][0]["title"] == "Vendor Check-in"
    item = body["poam-items"][0]
    assert item["related-risks"] == [{"risk-uuid": "ae628cc5-b64c-4030-af30-57e6b24a6ae7"}]
    assert item["related-observations"] == [{"observation-uuid": "0aa54106-8a63-4953-ac0d-30ff91f8d4ab"}]
    assert item["description"] == "" and item["remarks"] == "Tracked in the change board."
    assert body["back-matter"]["resources"][0]["rlinks"] == [
        {"media-type": "application/json", "href": "./CSP_System_SSP.json"}
    ]


@pytest.mark.parametrize("version", ["1.0.4", "1.1.2", "1.2.1"])
def test_xml_of_each_version_reads_and_passes_the_checks(tmp_path: Path, version: str) -> None:
    doc = oscal_poam.load(guide_xml(tmp_path, version))
    assert problems(doc) == []
    (record,), warnings = oscal_poam.records(doc)
    assert warnings == []
    item = record.item
    assert (item.poam_id, item.status, item.weakness_name) == ("V-1", ItemStatus.OPEN, "Weakness Name")
    assert item.detector_source == "Tool Name" and item.source_identifier == "VulID-001"
    assert item.detection_date == D(2023, 10, 10) and item.scheduled_completion_date == D(2023, 7, 7)
    # FedRAMP facets likelihood high, impact moderate: the lower, as NIST SP 800-30 rates them
    assert item.original_risk is Level.MODERATE and item.adjusted_risk is Level.LOW
    assert item.controls == ("AC-2(1)",) and item.cves == ("CVE-2020-00000",)
    assert item.kev and item.kev_due_date == D(2022, 9, 30)
    assert item.risk_adjustment is YesNo.PENDING and item.false_positive is YesNo.NO
    assert item.point_of_contact == "Jane ISSO" and item.resources_required == "One engineer for a day."
    assert item.remediation_plan == "Patch in two steps:\n\n- staging\n- production"
    assert item.recommendation == "Apply the patch."
    assert item.milestones == (
        Milestone(1, D(2023, 7, 2), "Patch staging"),
        Milestone(2, D(2023, 7, 7), "Patch production"),
    )
    assert item.last_vendor_checkin == D(2023, 7, 5)
    assert item.deviation_rationale == "Only reachable from the management network."
    assert item.comments == "Tracked in the change board."
    assert record.asset_text == "host.domain.cloud"
    uuids = record.extra["oscal"]["uuids"]
    assert uuids["item"] == "6f5fff73-cac6-4da0-a0d9-0f931a5efafa"
    assert uuids["risk"] == "ae628cc5-b64c-4030-af30-57e6b24a6ae7"
    assert uuids["milestone-2"] == "08c50f90-3b08-49fd-862d-32ec96e6bee5"


def test_the_nist_example(tmp_path: Path) -> None:
    """NIST's example (1.1.2) has no POAM-ID, and its first item names a mitigating factor as its
    risk: the risk citing the item's observation is read, with a warning."""
    records, warnings = oscal_poam.read(reference_file("oscal/ifa_plan-of-action-and-milestones.json"))
    assert warnings == [
        "poam-items[0]: risk-uuid 401c15c9-ad6b-4d4a-a591-7d53a3abb3b6 names no risk; "
        "read the risk 8b8bae66-b28c-4fa5-9a20-b79e7322fc00 that cites its observation"
    ]
    first, second = (r.item for r in records)
    assert first.poam_id == "OSCAL-e174dfb9"
    assert first.weakness_name == "IFA-GOODREAD-RISK-1: PAO Staff Have Over-Privileged Access to GoodRead System"
    assert first.status is ItemStatus.OPEN  # deviation-approved is still open
    assert first.detection_date == D(2023, 5, 19) and first.scheduled_completion_date == D(2024, 1, 1)
    assert first.original_risk is Level.LOW  # likelihood low, impact high
    assert first.detector_source == "OSCAL POA&M"  # its assessor party is defined in the SSP, not here
    assert [(m.number, m.date) for m in first.milestones] == [(1, D(2024, 1, 1))]
    assert first.deviation_rationale is not None and first.deviation_rationale.startswith("The GoodRead application")
    assert second.poam_id == "OSCAL-48c8368d"
    assert second.scheduled_completion_date == D(2023, 6, 23)
    assert [(m.number, m.date) for m in second.milestones] == [(1, D(2024, 6, 23))]


def test_the_nist_example_as_1_2(tmp_path: Path) -> None:
    doc = json.loads(reference_file("oscal/ifa_plan-of-action-and-milestones.json").read_text())
    doc["plan-of-action-and-milestones"]["metadata"]["oscal-version"] = "1.2.1"
    path = tmp_path / "ifa-1.2.json"
    path.write_text(json.dumps(doc))
    assert [p.message for p in problems(oscal_poam.load(path))] == ["names a mitigating-factor, not a risk"]
    records, _warnings = oscal_poam.read(path)
    assert [r.item.poam_id for r in records] == ["OSCAL-e174dfb9", "OSCAL-48c8368d"]


def test_the_fedramp_template() -> None:
    records, warnings = oscal_poam.read(reference_file("oscal/fedramp/FedRAMP-POAM-OSCAL-Template.json"))
    assert warnings == []
    v1, v2 = (r.item for r in records)
    assert (v1.poam_id, v1.weakness_name, v1.detector_source) == ("V-1", "Weakness Name", "Tool Name")
    assert v1.original_risk is Level.HIGH and v1.controls == ("AC-2",)
    assert v1.scheduled_completion_date == D(2023, 7, 30) and v1.detection_date == D(2020, 10, 10)
    assert [(m.number, m.date, m.text) for m in v1.milestones] == [
        (1, D(2023, 7, 2), "Optional description"),
        (2, D(2023, 7, 7), "Optional description"),
    ]
    assert (v2.poam_id, v2.weakness_name, v2.source_identifier) == ("V-2", "Vulnerability Title", "VulID-001")
    assert v2.vendor_dependency is YesNo.YES and v2.vendor_product == "Component Definition"
    assert v2.last_vendor_checkin == D(2020, 7, 7)
    assert v2.risk_adjustment is YesNo.YES and v2.operational_requirement is YesNo.YES
    assert v2.false_positive is YesNo.NO  # withdrawn
    assert v2.original_risk is Level.HIGH and v2.adjusted_risk is Level.MODERATE
    assert v2.cves == ("CVE-2020-00000",)
    assert v2.resources_required == "Describe required resources."
    assert v2.status is ItemStatus.OPEN  # the log's "Risk Closed" entry does not close an open risk


def test_milestone_changes_and_closure_from_the_risk_log(tmp_path: Path) -> None:
    doc = oscal_poam.load(guide_xml(tmp_path))
    risk = doc["plan-of-action-and-milestones"]["risks"][0]
    risk["status"] = "closed"
    risk["risk-log"]["entries"] += [
        {
            "uuid": "12121212-1212-4212-8212-121212121212",
            "title": "Milestone (1) Update",
            "description": "Moved a week",
            "start": "2023-07-03T00:00:00Z",
        },
        {
            "uuid": "13131313-1313-4313-8313-131313131313",
            "title": "Risk Closed",
            "start": "2023-07-08T00:00:00Z",
            "status-change": "closed",
        },
    ]
    (record,), _warnings = oscal_poam.records(doc)
    item = record.item
    assert [(c.number, c.kind, c.date, c.text) for c in item.milestone_changes] == [
        (1, ChangeKind.UPDATE, D(2023, 7, 3), "Moved a week")
    ]
    assert item.status is ItemStatus.CLOSED and item.closed_at == D(2023, 7, 8)


def test_hostile_xml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xml"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<plan-of-action-and-milestones xmlns="http://csrc.nist.gov/ns/oscal/1.0" uuid="x">&b;'
        "</plan-of-action-and-milestones>"
    )
    with pytest.raises(InputError, match="entity"):
        oscal_poam.load(path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"catalog": {}}', "not an OSCAL POA&M"),
        ("<catalog xmlns='http://csrc.nist.gov/ns/oscal/1.0'/>", "not an OSCAL POA&M"),
        ('{"plan-of-action-and-milestones": ', "not valid JSON"),
        ("<plan-of-action-and-milestones><metadata>", "not well-formed XML"),
    ],
)
def test_bad_files_are_one_line_input_errors(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(InputError, match=problem):
        oscal_poam.load(path)


def test_detection_by_content(tmp_path: Path) -> None:
    named_oddly = tmp_path / "poam.data"
    named_oddly.write_text(GUIDE_XML.replace("VERSION", "1.1.2"))
    assert oscal_poam.looks_like(named_oddly)
    assert poam_import.reader_for(named_oddly) is not None
    assert poam_import.reader_for(named_oddly).format == "oscal-poam"  # type: ignore[union-attr]
    other = tmp_path / "scan.json"
    other.write_text('{"Results": []}')
    assert not oscal_poam.looks_like(other)


def test_import_xml_with_the_cli(engine: Engine, db_url: str, tmp_path: Path) -> None:
    path = guide_xml(tmp_path, "1.1.2")
    r = CliRunner().invoke(cli, ["import", str(path), "--db", db_url, "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    with engine.begin() as conn:
        (item,) = load(conn, resolve(conn, None, "t").id, "all")
    assert (item.poam_id, item.origin, item.asset_text) == ("V-1", "oscal", "host.domain.cloud")
    assert item.extra["oscal"]["uuids"]["risk"] == "ae628cc5-b64c-4030-af30-57e6b24a6ae7"


def test_import_the_references_and_the_guide(engine: Engine, tmp_path: Path) -> None:
    for path in (
        reference_file("oscal/ifa_plan-of-action-and-milestones.json"),
        reference_file("oscal/fedramp/FedRAMP-POAM-OSCAL-Template.json"),
    ):
        reader = poam_import.reader_for(path)
        assert reader is not None
        result = poam_import.import_document(engine, path, reader, None, "t")
        assert result.created == 2
    with engine.begin() as conn:
        ids = [i.poam_id for i in load(conn, resolve(conn, None, "t").id, "all")]
    assert sorted(ids) == ["OSCAL-48c8368d", "OSCAL-e174dfb9", "V-1", "V-2"]


def test_reading_twice_gives_the_same_records() -> None:
    path = reference_file("oscal/fedramp/FedRAMP-POAM-OSCAL-Template.json")
    first, _ = oscal_poam.read(path)
    again, _ = oscal_poam.read(path)
    assert [(r.item, r.extra) for r in first] == [(r.item, r.extra) for r in again]
    assert json.loads(json.dumps([r.extra for r in first])) == [copy.deepcopy(r.extra) for r in first]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"plan-of-action-and-milestones": {"uuid": "x", "poam-items": "none"}}', "no POA&M item could be read"),
        (
            '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "a">]>'
            '<plan-of-action-and-milestones xmlns="http://csrc.nist.gov/ns/oscal/1.0">&a;</plan-of-action-and-milestones>',
            "entity",
        ),
    ],
)
def test_a_bad_poam_is_one_line_exit_2_and_nothing_written(
    engine: Engine, db_url: str, tmp_path: Path, content: str, problem: str
) -> None:
    from sqlalchemy import func, select

    from poam.store.tables import audit_events, items

    path = tmp_path / "bad-poam.json"
    path.write_text(content)
    CliRunner().invoke(cli, ["system", "add", "S", "--db", db_url], catch_exceptions=False)
    with engine.begin() as conn:
        before = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    r = CliRunner().invoke(cli, ["import", str(path), "--db", db_url], catch_exceptions=False)
    assert r.exit_code == 2
    (line,) = r.stderr.strip().splitlines()
    assert "bad-poam.json" in line and problem in line and "Traceback" not in r.output
    with engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(items)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(audit_events)).scalar_one() == before


def test_a_missing_rating_or_collected_date_is_warned_about(tmp_path: Path) -> None:
    """The reader still assumes Moderate and the document's date, and says so, one line each."""
    doc = oscal_poam.load(guide_xml(tmp_path))
    body = doc["plan-of-action-and-milestones"]
    for obs in body["observations"]:
        obs.pop("collected", None)
    for c in body["risks"][0]["characterizations"]:
        c["facets"] = [f for f in c["facets"] if f["name"] not in ("likelihood", "impact")]
    (record,), warnings = oscal_poam.records(doc)
    assert record.item.detection_date == D(2023, 6, 30) and record.item.original_risk is Level.MODERATE
    assert warnings == [
        "poam-items[0]: no observation `collected` date; Original Detection Date read as 2023-06-30 "
        "(the document's last-modified date)",
        "poam-items[0]: no rating on its risk (no risk, severity, likelihood or impact facet); "
        "Original Risk Rating read as Moderate",
    ]
    del body["metadata"]["last-modified"]
    (record,), warnings = oscal_poam.records(doc)
    today = dt.date.today()
    assert record.item.detection_date == today
    assert warnings[0] == (
        f"poam-items[0]: no observation `collected` date; Original Detection Date read as {today.isoformat()} "
        "(today: the document has no last-modified date)"
    )


def test_the_names_a_document_gives_its_system(tmp_path: Path) -> None:
    doc = oscal_poam.load(guide_xml(tmp_path))
    assert oscal_poam.system_names(doc) == ("[System Name]", "F00000000")  # poam's form of title: the name alone
    body = doc["plan-of-action-and-milestones"]
    body["metadata"]["title"] = "IFA  GoodRead Plan of Action and Milestones"
    body["system-id"] = {"identifier-type": "http://ietf.org/rfc/rfc4122", "id": "8101e04d-8305-4e73-bb95-6b59f645b143"}
    assert oscal_poam.system_names(doc) == ("IFA GoodRead Plan of Action and Milestones",)  # a UUID names no one


def test_importing_the_guide_into_another_system_warns(engine: Engine, db_url: str, tmp_path: Path) -> None:
    path = guide_xml(tmp_path, "1.1.2")
    CliRunner().invoke(cli, ["system", "add", "Portal", "--id-prefix", "S-", "--db", db_url], catch_exceptions=False)
    scan = write_nessus(tmp_path / "s.nessus", [Host("web", ip="10.0.0.5", items=[Item("100")])])
    CliRunner().invoke(cli, ["import", str(scan), "--db", db_url], catch_exceptions=False)  # Portal holds S-1
    r = CliRunner().invoke(cli, ["import", str(path), "--db", db_url], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines() == [
        f"poam: warning: {path}: document: names system '[System Name]' / 'F00000000', not 'Portal' (the system it "
        "is imported into); its items are matched to this system's by POA&M id alone"
    ]
    assert "1 created" in r.stdout
