"""The OSCAL POA&M checks: the NIST schema of the document's version, then FedRAMP's rules, each
problem with its JSON path and the offending value."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest

from poam.domain.problems import Problem
from poam.exporters import oscal_checks
from poam.exporters.oscal_checks import problems
from tests.conftest import reference_file

ROOT = "$.plan-of-action-and-milestones"
PARTY = "11111111-1111-4111-8111-111111111111"
TOOL = "22222222-2222-4222-8222-222222222222"
HOST = "33333333-3333-4333-8333-333333333333"
OBS = "44444444-4444-4444-8444-444444444444"
RISK = "55555555-5555-4555-8555-555555555555"
FACTOR = "66666666-6666-4666-8666-666666666666"
PLAN = "77777777-7777-4777-8777-777777777777"
TASK = "88888888-8888-4888-8888-888888888888"
ITEM = "99999999-9999-4999-8999-999999999999"
NO_SSP = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
ENTRY = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"


def good() -> dict[str, Any]:
    """A small POA&M that passes every check, written by hand."""
    return {
        "plan-of-action-and-milestones": {
            "uuid": "cccccccc-cccc-4ccc-8ccc-cccccccccccc",
            "metadata": {
                "title": "Example FedRAMP POA&M",
                "last-modified": "2026-12-01T00:00:00Z",
                "version": "1",
                "oscal-version": "1.1.2",
                "roles": [{"id": "point-of-contact", "title": "Point of Contact"}],
                "parties": [{"uuid": PARTY, "type": "person", "name": "Jane Doe"}],
                "responsible-parties": [{"role-id": "point-of-contact", "party-uuids": [PARTY]}],
            },
            "import-ssp": {"href": "#" + NO_SSP},
            "system-id": {"identifier-type": "https://fedramp.gov", "id": "F1"},
            "local-definitions": {
                "components": [
                    {
                        "uuid": TOOL,
                        "type": "software",
                        "title": "Nessus",
                        "description": "Scanner",
                        "status": {"state": "operational"},
                    }
                ],
                "inventory-items": [{"uuid": HOST, "description": "web01"}],
            },
            "observations": [
                {
                    "uuid": OBS,
                    "description": "Found by a scan",
                    "methods": ["TEST"],
                    "types": ["finding"],
                    "origins": [{"actors": [{"type": "tool", "actor-uuid": TOOL}]}],
                    "subjects": [{"subject-uuid": HOST, "type": "inventory-item"}],
                    "collected": "2026-11-01T00:00:00Z",
                }
            ],
            "risks": [
                {
                    "uuid": RISK,
                    "title": "OpenSSL flaw",
                    "description": "Old OpenSSL",
                    "statement": "No Risk Statement",
                    "status": "open",
                    "mitigating-factors": [{"uuid": FACTOR, "description": "VPN only"}],
                    "deadline": "2026-12-01T00:00:00Z",
                    "remediations": [
                        {
                            "uuid": PLAN,
                            "lifecycle": "planned",
                            "title": "Plan",
                            "description": "Patch",
                            "origins": [
                                {"actors": [{"type": "party", "actor-uuid": PARTY, "role-id": "point-of-contact"}]}
                            ],
                            "tasks": [
                                {
                                    "uuid": TASK,
                                    "type": "milestone",
                                    "title": "Milestone 1",
                                    "timing": {"on-date": {"date": "2026-12-01T00:00:00Z"}},
                                }
                            ],
                        }
                    ],
                    "risk-log": {
                        "entries": [
                            {
                                "uuid": ENTRY,
                                "title": "Update",
                                "start": "2026-11-15T00:00:00Z",
                                "logged-by": [{"party-uuid": PARTY}],
                                "related-responses": [{"response-uuid": PLAN, "related-tasks": [{"task-uuid": TASK}]}],
                            }
                        ]
                    },
                    "related-observations": [{"observation-uuid": OBS}],
                }
            ],
            "poam-items": [
                {
                    "uuid": ITEM,
                    "title": "OpenSSL flaw",
                    "description": "Old OpenSSL",
                    "related-observations": [{"observation-uuid": OBS}],
                    "related-risks": [{"risk-uuid": RISK}],
                }
            ],
            "back-matter": {
                "resources": [
                    {
                        "uuid": NO_SSP,
                        "title": "Example",
                        "props": [{"name": "type", "ns": "https://fedramp.gov/ns/oscal", "value": "no-oscal-ssp"}],
                    }
                ]
            },
        }
    }


def body(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["plan-of-action-and-milestones"]  # type: ignore[no-any-return]


def test_the_hand_made_document_passes() -> None:
    assert problems(good()) == []


def test_a_poam_item_with_two_risks() -> None:
    doc = good()
    body(doc)["poam-items"][0]["related-risks"].append({"risk-uuid": RISK})
    assert problems(doc) == [
        Problem(
            f"{ROOT}.poam-items[0].related-risks",
            f'["{RISK}", "{RISK}"]',
            "a poam-item must name exactly one risk (FedRAMP); it names 2",
        )
    ]


def test_a_poam_item_without_a_risk() -> None:
    doc = good()
    del body(doc)["poam-items"][0]["related-risks"]
    assert problems(doc) == [
        Problem(
            f"{ROOT}.poam-items[0].related-risks", "", "a poam-item must name exactly one risk (FedRAMP); it names 0"
        )
    ]


def test_a_risk_without_a_deadline() -> None:
    doc = good()
    del body(doc)["risks"][0]["deadline"]
    assert problems(doc) == [Problem(f"{ROOT}.risks[0].deadline", "", "a risk must have a deadline (FedRAMP)")]


def test_a_risk_without_a_planned_response() -> None:
    doc = good()
    body(doc)["risks"][0]["remediations"][0]["lifecycle"] = "recommendation"
    (found,) = problems(doc)
    assert (found.path, found.value) == (f"{ROOT}.risks[0].remediations", '["recommendation"]')
    assert "planned response" in found.message


def test_a_planned_response_without_a_milestone() -> None:
    doc = good()
    body(doc)["risks"][0]["remediations"][0]["tasks"][0]["type"] = "action"
    (found,) = problems(doc)
    assert (found.path, found.value) == (f"{ROOT}.risks[0].remediations[0].tasks", "")
    assert "at least one milestone" in found.message


def test_a_risk_uuid_that_names_a_mitigating_factor() -> None:
    doc = good()
    body(doc)["poam-items"][0]["related-risks"][0]["risk-uuid"] = FACTOR
    assert problems(doc) == [
        Problem(f"{ROOT}.poam-items[0].related-risks[0].risk-uuid", FACTOR, "names a mitigating-factor, not a risk")
    ]


@pytest.mark.parametrize(
    ("where", "key", "value", "message"),
    [
        (["observations", 0, "subjects", 0], "subject-uuid", TOOL, "names a component, not an inventory-item"),
        (
            ["observations", 0, "origins", 0, "actors", 0],
            "actor-uuid",
            HOST,
            "names an inventory-item, not a component",
        ),
        (["poam-items", 0, "related-observations", 0], "observation-uuid", RISK, "names a risk, not an observation"),
        (
            ["risks", 0, "risk-log", "entries", 0, "related-responses", 0],
            "response-uuid",
            TASK,
            "names a task, not a response",
        ),
        (["risks", 0, "risk-log", "entries", 0, "logged-by", 0], "party-uuid", TOOL, "names a component, not a party"),
        (["metadata", "responsible-parties", 0], "role-id", "assessor", "names no role in this document"),
    ],
)
def test_references_of_the_wrong_kind_or_to_nothing(where: list[Any], key: str, value: str, message: str) -> None:
    doc = good()
    node: Any = body(doc)
    for step in where:
        node = node[step]
    node[key] = value
    path = ROOT + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in where) + f".{key}"
    assert problems(doc) == [Problem(path, value, message)]


def test_a_party_uuid_in_a_list_that_names_nothing() -> None:
    doc = good()
    missing = "dddddddd-dddd-4ddd-8ddd-dddddddddddd"
    body(doc)["metadata"]["responsible-parties"][0]["party-uuids"].append(missing)
    assert problems(doc) == [
        Problem(f"{ROOT}.metadata.responsible-parties[0].party-uuids[1]", missing, "names no party in this document")
    ]


def test_neither_import_ssp_nor_a_no_oscal_ssp_resource() -> None:
    doc = good()
    del body(doc)["import-ssp"]
    body(doc)["back-matter"]["resources"][0]["props"][0]["value"] = "evidence"
    (found,) = problems(doc)
    assert (found.path, found.value) == (ROOT, "")
    assert "no `import-ssp` and no back-matter resource of type `no-oscal-ssp`" in found.message


def test_a_no_oscal_ssp_resource_alone_is_enough() -> None:
    doc = good()
    del body(doc)["import-ssp"]
    assert problems(doc) == []


def test_an_import_ssp_fragment_that_names_no_resource() -> None:
    doc = good()
    body(doc)["import-ssp"]["href"] = "#" + RISK
    assert problems(doc) == [Problem(f"{ROOT}.import-ssp.href", "#" + RISK, "names a risk, not a resource")]


def test_an_imported_ssp_may_define_parties_and_components_but_not_risks() -> None:
    doc = good()
    body(doc)["import-ssp"]["href"] = "../ssp.json"
    body(doc)["observations"][0]["subjects"][0]["subject-uuid"] = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
    assert problems(doc) == []  # the inventory item may be in the SSP
    body(doc)["poam-items"][0]["related-risks"][0]["risk-uuid"] = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
    assert [p.path for p in problems(doc)] == [f"{ROOT}.poam-items[0].related-risks[0].risk-uuid"]


def test_schema_problem_with_its_path_and_value() -> None:
    doc = good()
    body(doc)["risks"][0]["status"] = "not a token!"
    (found,) = problems(doc)
    assert found.path == f"{ROOT}.risks[0].status"
    assert found.value == "not a token!"
    assert found.message.startswith("OSCAL 1.1.2 schema: ")


@pytest.mark.parametrize(
    ("version", "schema"),
    [
        ("1.0.4", "1.0.6"),
        ("1.0.6", "1.0.6"),
        ("1.1.0", "1.1.2"),
        ("1.1.2", "1.1.2"),
        ("1.1.3", "1.1.3"),
        ("1.2.1", "1.2.1"),
    ],
)
def test_each_version_is_checked_against_its_schema(version: str, schema: str) -> None:
    assert oscal_checks.version_schema(version) == schema
    doc = good()
    body(doc)["metadata"]["oscal-version"] = version
    assert problems(doc) == []


@pytest.mark.parametrize(("version", "schema"), [("1.0.4", "1.0.6"), ("1.1.3", "1.1.3"), ("1.2.0", "1.2.1")])
def test_the_schema_named_is_the_one_used(version: str, schema: str) -> None:
    doc = good()
    body(doc)["metadata"]["oscal-version"] = version
    body(doc)["risks"][0]["status"] = "not a token!"
    (found,) = problems(doc)
    assert found.message.startswith(f"OSCAL {schema} schema: ")


def test_an_unknown_version() -> None:
    doc = good()
    body(doc)["metadata"]["oscal-version"] = "2.0.0"
    assert problems(doc) == [
        Problem(
            f"{ROOT}.metadata.oscal-version",
            "2.0.0",
            "not an OSCAL version poam checks (1.0.x, 1.1.x, 1.2.x); checked against the 1.1.2 schema",
        )
    ]


def test_not_a_poam() -> None:
    assert problems({"catalog": {}}) == [
        Problem("$", '["catalog"]', "not an OSCAL POA&M (no `plan-of-action-and-milestones` object)")
    ]
    assert problems([1, 2]) == [Problem("$", "list", "not an OSCAL POA&M (no `plan-of-action-and-milestones` object)")]


def test_a_damaged_document_gives_problems_not_a_crash() -> None:
    doc = good()
    body(doc)["risks"] = "not a list"
    body(doc)["poam-items"][0]["related-risks"] = {"risk-uuid": RISK}
    body(doc)["back-matter"] = []
    found = problems(doc)
    assert found and all(isinstance(p, Problem) for p in found)


def test_the_nist_example() -> None:
    """NIST's example names a mitigating factor where a risk belongs (domain-spec §3.7); its other
    references (a party, a component) may be in the SSP it imports from a file."""
    doc = json.loads(reference_file("oscal/ifa_plan-of-action-and-milestones.json").read_text())
    assert problems(doc) == [
        Problem(
            f"{ROOT}.poam-items[0].related-risks[0].risk-uuid",
            "401c15c9-ad6b-4d4a-a591-7d53a3abb3b6",
            "names a mitigating-factor, not a risk",
        )
    ]


def test_the_fedramp_template() -> None:
    """FedRAMP's template (oscal-version 1.0.4) is schema-valid; its evidence links name
    back-matter resources that the template does not hold."""
    doc = json.loads(reference_file("oscal/fedramp/FedRAMP-POAM-OSCAL-Template.json").read_text())
    assert problems(doc) == [
        Problem(
            f"{ROOT}.observations[1].relevant-evidence[0].href",
            "#171b44a2-9b52-4c46-b912-54bd274b2761",
            "names no resource in this document",
        ),
        Problem(
            f"{ROOT}.observations[3].relevant-evidence[0].href",
            "#53af7193-b25d-4ed2-a82f-5954d2d0df61",
            "names no resource in this document",
        ),
        Problem(
            f"{ROOT}.observations[4].relevant-evidence[0].href",
            "#53af7193-b25d-4ed2-a82f-5954d2d0df61",
            "names no resource in this document",
        ),
    ]


@pytest.mark.parametrize("version", ["1.0.6", "1.1.3", "1.2.1"])
def test_shipped_schemas_are_the_official_ones(version: str) -> None:
    shipped = oscal_checks.SCHEMAS / oscal_checks.SCHEMA_FILES[version]
    ref = reference_file(f"oscal/oscal_poam_schema_{version}.json")
    assert hashlib.sha256(shipped.read_bytes()).digest() == hashlib.sha256(ref.read_bytes()).digest()
    assert json.loads(shipped.read_text())["$id"] == f"http://csrc.nist.gov/ns/oscal/{version}/oscal-poam-schema.json"


def test_checks_do_not_change_the_document() -> None:
    doc = good()
    before = copy.deepcopy(doc)
    problems(doc)
    assert doc == before
