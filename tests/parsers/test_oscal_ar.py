"""The OSCAL assessment-results parser on hand-written documents and on the corpus examples."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from poam.domain.models import AssetKind, Coverage, Finding, FindingStatus, ItemStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.oscal_ar import OscalAssessmentResultsParser, control_id
from poam.services.importer import import_file
from tests.conftest import corpus_dir
from tests.parsers.test_stig_ckl import (
    assert_sniff_claims_exactly,
    detected,
    head_of,
    items_by_id,
    peer_invalid,
    run,
    run_with_context,
)

HOST_ITEM = "11111111-0000-4000-8000-000000000001"
COMPONENT = "22222222-0000-4000-8000-000000000002"
BARE_ITEM = "33333333-0000-4000-8000-000000000003"
RISK_OPEN, RISK_HIGH, RISK_CLOSED = (f"aaaaaaaa-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
OBS_HOST, OBS_COMPONENT, OBS_BARE = (f"bbbbbbbb-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
LONE_OK, LONE_BAD = (f"cccccccc-0000-4000-8000-00000000000{n}" for n in (1, 2))


def observation(uuid: str, subject: str, kind: str, collected: str = "2024-03-02T10:00:00Z") -> dict[str, Any]:
    return {
        "uuid": uuid,
        "title": f"Observation {uuid[:8]}",
        "methods": ["TEST"],
        "subjects": [{"subject-uuid": subject, "type": kind}],
        "collected": collected,
        "remarks": "What the assessor saw.",
    }


def risk(uuid: str, status: str, facets: list[tuple[str, str]] = (), obs: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uuid": uuid,
        "title": f"Risk {uuid[:8]}",
        "description": "What can go wrong.",
        "statement": "How bad it is.",
        "status": status,
        "remediations": [{"uuid": "r", "lifecycle": "planned", "title": "Fix it", "description": "Change the role."}],
    }
    if facets:
        out["characterizations"] = [
            {
                "origin": {"actors": []},
                "facets": [{"name": n, "system": "https://fedramp.gov", "value": v} for n, v in facets],
            }
        ]
    if obs:
        out["related-observations"] = [{"observation-uuid": o} for o in obs]
    return out


def finding(
    uuid: str, target: str, state: str, obs: tuple[str, ...] = (), risks: tuple[str, ...] = ()
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uuid": uuid,
        "title": f"Finding {uuid[:8]}",
        "description": "The assessor found this.",
        "target": {"type": "objective-id", "target-id": target, "status": {"state": state}},
    }
    if obs:
        out["related-observations"] = [{"observation-uuid": o} for o in obs]
    if risks:
        out["related-risks"] = [{"risk-uuid": r} for r in risks]
    return out


def document() -> dict[str, Any]:
    return {
        "assessment-results": {
            "uuid": "ec0dad37-54e0-40fd-a925-6d0bdea94c0d",
            "metadata": {
                "title": "Annual assessment 2024",
                "last-modified": "2024-03-05T00:00:00Z",
                "version": "1",
                "oscal-version": "1.1.2",
                "parties": [
                    {"uuid": "p1", "type": "person", "name": "Amy Assessor", "member-of-organizations": ["o1"]},
                    {"uuid": "o1", "type": "organization", "name": "Acme 3PAO"},
                ],
                "responsible-parties": [{"role-id": "assessor", "party-uuids": ["p1"]}],
            },
            "import-ap": {"href": "./ap.json"},
            "local-definitions": {
                "inventory-items": [
                    {
                        "uuid": HOST_ITEM,
                        "description": "Web server",
                        "props": [
                            {"name": "fqdn", "value": "web01.example.com"},
                            {"name": "ipv4-address", "value": "10.0.0.5"},
                        ],
                    },
                    {
                        "uuid": BARE_ITEM,
                        "description": "Badge reader",
                        "props": [{"name": "asset-id", "value": "BR-7"}],
                    },
                ],
                "components": [
                    {
                        "uuid": COMPONENT,
                        "type": "service",
                        "title": "Identity service",
                        "status": {"state": "operational"},
                    }
                ],
            },
            "results": [
                {
                    "uuid": "result-1",
                    "title": "March 2024",
                    "start": "2024-03-01T08:00:00-05:00",
                    "end": "2024-03-03T17:00:00-05:00",
                    "reviewed-controls": {"control-selections": [{"include-all": {}}]},
                    "observations": [
                        observation(OBS_HOST, HOST_ITEM, "inventory-item"),
                        observation(OBS_COMPONENT, COMPONENT, "component", "2024-03-02T11:00:00Z"),
                        observation(OBS_BARE, BARE_ITEM, "inventory-item"),
                    ],
                    "risks": [
                        risk(RISK_OPEN, "investigating", [("likelihood", "high"), ("impact", "moderate")]),
                        risk(RISK_HIGH, "deviation-approved", [("risk", "high")], obs=(OBS_BARE,)),
                        risk(RISK_CLOSED, "closed"),
                    ],
                    "findings": [
                        finding("f1", "ac-6.1_obj", "not-satisfied", (OBS_HOST, OBS_COMPONENT), (RISK_OPEN,)),
                        finding("f2", "ac-2_smt.a", "not-satisfied", (), (RISK_HIGH,)),
                        finding("f3", "cm-6_obj.b-2", "not-satisfied", (OBS_HOST,), (RISK_CLOSED,)),
                        finding(LONE_OK, "ia-2.12_obj", "satisfied", (OBS_HOST,)),
                        finding(LONE_BAD, "si-2_obj", "not-satisfied"),
                    ],
                }
            ],
        }
    }


def write(tmp_path: Path, doc: object, name: str = "ar.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def parse(path: Path, **ctx: Any) -> list[Any]:
    return run(OscalAssessmentResultsParser(), path, **ctx)


def findings(records: list[Any]) -> list[Finding]:
    return [r for r in records if isinstance(r, Finding)]


def summary(records: list[Any]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {(f.weakness.vuln_id, f.asset.identifier, f.status.value, f.weakness.controls) for f in findings(records)}


def test_risks_findings_subjects_and_controls(tmp_path: Path) -> None:
    records = parse(write(tmp_path, document()))
    assert summary(records) == {
        (RISK_OPEN, "web01.example.com", "open", ("AC-6(1)",)),
        (RISK_OPEN, "Identity service", "open", ("AC-6(1)",)),
        (RISK_HIGH, "BR-7", "open", ("AC-2",)),  # a deviation stays on the POA&M
        (RISK_CLOSED, "web01.example.com", "fixed", ("CM-6",)),
        (LONE_OK, "web01.example.com", "fixed", ("IA-2(12)",)),
        (LONE_BAD, "assessed system", "open", ("SI-2",)),  # no subject: the stable fallback
    }
    by = {(f.weakness.vuln_id, f.asset.identifier): f for f in findings(records)}
    f = by[(RISK_OPEN, "web01.example.com")]
    w = f.weakness
    assert (w.tool, w.name, w.severity, w.is_config) == ("Acme 3PAO", "Risk aaaaaaaa", Severity.MEDIUM, False)
    assert w.description == "What can go wrong.\n\nHow bad it is." and w.solution == "Fix it\nChange the role."
    assert (f.asset.kind, f.asset.ip) == (AssetKind.HOST, "10.0.0.5")
    assert f.observed_at == dt.datetime(2024, 3, 2, 11, 0)  # the latest observation
    assert f.evidence is not None and "Observation: Observation bbbbbbbb\nWhat the assessor saw." in f.evidence
    assert "Risk status: investigating" in f.evidence
    assert by[(RISK_HIGH, "BR-7")].weakness.severity is Severity.HIGH
    assert by[(RISK_OPEN, "Identity service")].asset.kind is AssetKind.OTHER
    assert by[(LONE_BAD, "assessed system")].observed_at == dt.datetime(2024, 3, 3, 22, 0)  # the result's end
    covered = {c.asset.identifier for c in records if isinstance(c, Coverage)}
    assert covered == {"web01.example.com", "Identity service", "BR-7", "assessed system"}
    scan = records[-1]
    assert isinstance(scan, Scan) and (scan.tool, scan.name) == ("Acme 3PAO", "Annual assessment 2024")
    assert (scan.started_at, scan.ended_at) == (dt.datetime(2024, 3, 1, 13, 0), dt.datetime(2024, 3, 3, 22, 0))
    lone = findings(parse(write(tmp_path, document()), asset_name="GoodRead"))
    assert {f.asset.name for f in lone if f.weakness.vuln_id == LONE_BAD} == {"GoodRead"}


@pytest.mark.parametrize(
    ("target", "control"),
    [("ac-6.1_obj", "AC-6(1)"), ("ac-2_smt.a", "AC-2"), ("ia-2.12_obj.1", "IA-2(12)"), ("pm-9", "PM-9"), ("x", "X")],
)
def test_control_ids(target: str, control: str) -> None:
    assert control_id(target) == control


def test_satisfied_targets_close_and_unknown_parties_fall_back(tmp_path: Path) -> None:
    doc = document()
    ar = doc["assessment-results"]
    ar["metadata"]["responsible-parties"] = []
    for f in ar["results"][0]["findings"]:
        f["target"]["status"]["state"] = "satisfied"
    got = {(f.weakness.vuln_id, f.status) for f in findings(parse(write(tmp_path, doc)))}
    assert (RISK_OPEN, FindingStatus.FIXED) in got and (RISK_HIGH, FindingStatus.FIXED) in got
    assert {f.weakness.tool for f in findings(parse(write(tmp_path, doc)))} == {"OSCAL assessment results"}


XML = """<?xml version="1.0" encoding="UTF-8"?>
<assessment-results xmlns="http://csrc.nist.gov/ns/oscal/1.0" uuid="u">
  <metadata><title>Annual assessment 2024</title><last-modified>2024-03-05T00:00:00Z</last-modified>
    <version>1</version><oscal-version>1.1.2</oscal-version>
    <role id="assessor"><title>Assessor</title></role>
    <party uuid="o1" type="organization"><name>Acme 3PAO</name></party>
    <responsible-party role-id="assessor"><party-uuid>o1</party-uuid></responsible-party>
  </metadata>
  <import-ap href="./ap.xml"/>
  <local-definitions>
    <component uuid="C" type="service"><title>Identity service</title><description><p>d</p></description>
      <status state="operational"/></component>
  </local-definitions>
  <result uuid="r1"><title>March</title><description><p>Monthly.</p></description>
    <start>2024-03-01T08:00:00-05:00</start><end>2024-03-03T17:00:00-05:00</end>
    <reviewed-controls><control-selection><include-all/></control-selection></reviewed-controls>
    <observation uuid="O"><description><p>Seen.</p></description><method>TEST</method>
      <subject subject-uuid="C" type="component"/><collected>2024-03-02T11:00:00Z</collected></observation>
    <risk uuid="R"><title>Over-privileged role</title><description><p>Bad <code>role</code>.</p></description>
      <statement><p>Very bad.</p></statement>
      <characterization><origin><actor type="party" actor-uuid="o1"/></origin>
        <facet name="risk" system="https://fedramp.gov" value="high"/></characterization>
      <status>open</status></risk>
    <finding uuid="F"><title>Role permits too much</title><description><p>x</p></description>
      <target type="objective-id" target-id="ac-6.1_obj"><status state="not-satisfied"/></target>
      <related-observation observation-uuid="O"/><associated-risk risk-uuid="R"/></finding>
  </result>
</assessment-results>
"""


def test_xml_and_yaml_forms(tmp_path: Path) -> None:
    records = parse(write(tmp_path, XML, "ar.xml"))
    (f,) = findings(records)
    assert (f.weakness.vuln_id, f.asset.name, f.status, f.weakness.controls, f.weakness.severity) == (
        "R",
        "Identity service",
        FindingStatus.OPEN,
        ("AC-6(1)",),
        Severity.HIGH,
    )
    assert f.weakness.tool == "Acme 3PAO" and f.weakness.description == "Bad role.\n\nVery bad."
    as_yaml = write(tmp_path, "# exported\n---\n" + yaml.safe_dump(document(), sort_keys=False), "ar.yaml")
    assert OscalAssessmentResultsParser().sniff(head_of(as_yaml))
    assert summary(parse(as_yaml)) == summary(parse(write(tmp_path, document())))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1]", "not an OSCAL assessment-results document"),
        ('{"assessment-results": {"metadata": {}}}', "has no results array"),
        ('{"assessment-results": {"results": []}}\n[1]', "document 2: not an OSCAL assessment-results document"),
        ('{"assessment-results": {"results": [', "not valid JSON"),
        ("assessment-results:\n  results: [\n", "not valid YAML"),
        ("assessment-results: &a\n  results: *a\n", "YAML aliases are not accepted"),
        ("assessment-results:\n  results: !!python/object:os.system {}\n", "not valid YAML"),
        ('<assessment-results xmlns="http://csrc.nist.gov/ns/oscal/1.0"><result>', "not well-formed XML"),
    ],
)
def test_bad_documents_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        parse(write(tmp_path, text, "bad.txt"))


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    doc = document()
    result = doc["assessment-results"]["results"][0]
    result["observations"].append({"uuid": "odd", "subjects": "nope"})
    result["risks"].append(
        {"uuid": "odd-risk", "status": None, "characterizations": [{"facets": [None, {"value": 3}]}]}
    )
    result["findings"].append({"uuid": "odd-f", "target": None, "related-risks": [{"risk-uuid": "odd-risk"}]})
    result["findings"].append({"uuid": "odd-g", "target": {"target-id": 5, "status": "satisfied"}})
    got = {f.weakness.vuln_id: f for f in findings(parse(write(tmp_path, doc)))}
    assert got["odd-risk"].status is FindingStatus.OPEN and got["odd-risk"].weakness.severity is Severity.MEDIUM
    assert got["odd-g"].status is FindingStatus.OPEN and got["odd-g"].weakness.controls == ()


def test_odd_records_are_read_past_with_a_warning(tmp_path: Path) -> None:
    """Records that used to refuse the document: left out, or kept open, with a warning."""
    doc = document()
    results = doc["assessment-results"]["results"]
    result = results[0]
    result["risks"] += [
        {"title": "no uuid", "status": "open"},
        {"uuid": "r-" + "9" * 250, "status": "open"},
        {"uuid": "r-fp", "status": "false-positive"},  # not an OSCAL status, but its meaning is clear
        {"uuid": "r-odd", "status": "pondering"},
    ]
    result["findings"].append(finding("f-odd", "sc-7_obj", "partly-satisfied"))
    results.insert(0, "not a result")
    records, ctx = run_with_context(OscalAssessmentResultsParser(), write(tmp_path, doc))
    got = {f.weakness.vuln_id: f.status for f in findings(records)}
    assert (got["r-odd"], got["f-odd"]) == (FindingStatus.OPEN, FindingStatus.OPEN)
    assert "r-fp" not in got and not any(k.startswith("r-99") for k in got)
    assert {RISK_OPEN, RISK_HIGH, RISK_CLOSED, LONE_OK, LONE_BAD} <= set(got)  # the others import
    assert ctx.report.warnings == [
        "results[0]: not an object; left out",
        "results[1] risk: no uuid; left out",
        "results[1] risk r-" + "9" * 58 + ": uuid longer than 200 characters; left out",
        "results[1] risk r-fp: risk status 'false-positive' is not an OSCAL status; read as set aside and left out",
        "results[1] risk r-odd: status 'pondering' not recognised; kept open",
        "results[1] finding f-odd: target state 'partly-satisfied' not recognised; read as not satisfied",
    ]
    assert ctx.report.skipped == 3


def test_a_result_without_anything_readable_is_refused_on_import(
    engine: Engine, register_parser: Any, tmp_path: Path
) -> None:
    register_parser(OscalAssessmentResultsParser())
    with pytest.raises(
        InputError, match=re.escape("no record could be read (1 left out; first: results[0]: not an object")
    ):
        import_file(engine, write(tmp_path, '{"assessment-results": {"results": [1]}}'))


def test_several_documents_in_one_file(tmp_path: Path) -> None:
    """JSON documents written one after another, or one per line: one import of all their results."""
    march = document()
    april = copy.deepcopy(march)
    result = april["assessment-results"]["results"][0]
    result["start"], result["end"] = "2024-04-01T08:00:00Z", "2024-04-03T08:00:00Z"
    for o in result["observations"]:
        o["collected"] = "2024-04-02T10:00:00Z"
    result["risks"][0]["status"] = "closed"
    for text in (
        json.dumps(march, indent=1) + json.dumps(april, indent=1),
        json.dumps(march) + "\n" + json.dumps(april),
    ):
        path = write(tmp_path, text)
        assert OscalAssessmentResultsParser().sniff(head_of(path)) and detected(path) == "oscal-ar"
        records = parse(path)
        risk_open = [
            (f.asset.identifier, f.status, f.observed_at) for f in findings(records) if f.weakness.vuln_id == RISK_OPEN
        ]
        assert sorted(risk_open, key=str) == sorted(
            [  # open in March, closed in April: opened, then closed by the newer record
                ("web01.example.com", FindingStatus.OPEN, dt.datetime(2024, 3, 2, 11, 0)),
                ("Identity service", FindingStatus.OPEN, dt.datetime(2024, 3, 2, 11, 0)),
                ("web01.example.com", FindingStatus.FIXED, dt.datetime(2024, 4, 2, 10, 0)),
                ("Identity service", FindingStatus.FIXED, dt.datetime(2024, 4, 2, 10, 0)),
            ],
            key=str,
        )
        scan = records[-1]
        assert isinstance(scan, Scan) and (scan.started_at, scan.ended_at) == (
            dt.datetime(2024, 3, 1, 13, 0),
            dt.datetime(2024, 4, 3, 8, 0),
        )


def test_a_risk_is_dated_by_its_newest_observation_or_log_entry(tmp_path: Path) -> None:
    doc = document()
    risk_closed = doc["assessment-results"]["results"][0]["risks"][2]
    risk_closed["risk-log"] = {
        "entries": [
            {"uuid": "e1", "title": "Identified", "start": "2024-03-02T09:00:00Z"},
            {"uuid": "e2", "title": "Closed", "start": "2024-03-04T09:30:00.125Z", "status-change": "closed"},
        ]
    }
    got = {(f.weakness.vuln_id, f.asset.identifier): f.observed_at for f in findings(parse(write(tmp_path, doc)))}
    assert got[(RISK_CLOSED, "web01.example.com")] == dt.datetime(2024, 3, 4, 9, 30, 0, 125000)
    assert got[(RISK_OPEN, "web01.example.com")] == dt.datetime(2024, 3, 2, 11, 0)  # no log: its observations


def test_undated_results_take_the_file_time(tmp_path: Path) -> None:
    mtime = dt.datetime(2026, 2, 3, 4, 5, 6)
    doc = document()
    ar = doc["assessment-results"]
    del ar["metadata"]["last-modified"]
    result = ar["results"][0]
    del result["start"], result["end"]
    records, ctx = run_with_context(OscalAssessmentResultsParser(), write(tmp_path, doc), file_time=mtime)
    got = {(f.weakness.vuln_id, f.asset.identifier): f.observed_at for f in findings(records)}
    assert got[(LONE_BAD, "assessed system")] == mtime and ctx.report.used_file_time  # nothing dates it
    assert got[(RISK_OPEN, "web01.example.com")] == dt.datetime(2024, 3, 2, 11, 0)  # its observation does
    records, ctx = run_with_context(OscalAssessmentResultsParser(), write(tmp_path, document()), file_time=mtime)
    assert not ctx.report.used_file_time


@pytest.mark.parametrize("order", [1, -1], ids=["older-first", "newer-first"])
@pytest.mark.parametrize("newer", ["closed", "open"])
def test_the_newest_record_of_a_risk_decides_on_import(
    engine: Engine, register_parser: Any, tmp_path: Path, order: int, newer: str
) -> None:
    """Two results of one file report one risk: the newer one decides, whatever their order."""
    register_parser(OscalAssessmentResultsParser())
    doc = document()
    ar = doc["assessment-results"]
    march = ar["results"][0]
    march["risks"] = [risk(RISK_OPEN, "closed" if newer == "open" else "open")]
    march["findings"] = [finding("f1", "ac-6.1_obj", "not-satisfied", (OBS_HOST,), (RISK_OPEN,))]
    later = copy.deepcopy(march)
    later["uuid"] = "result-2"
    later["risks"] = [risk(RISK_OPEN, newer)]
    for o in later["observations"]:
        o["collected"] = "2024-03-02T10:00:00.5Z"  # half a second after March's observation
    ar["results"] = [march, later][::order]
    r = import_file(engine, write(tmp_path, doc))
    assert r.results == (2 if newer == "closed" else 1)
    (item,) = items_by_id(engine).values()
    assert item.source_identifier == RISK_OPEN
    assert item.status is (ItemStatus.CLOSED if newer == "closed" else ItemStatus.OPEN)


def test_sniff(tmp_path: Path) -> None:
    parser = OscalAssessmentResultsParser()
    assert not parser.sniff(head_of(write(tmp_path, '{"plan-of-action-and-milestones": {}}')))
    assert not parser.sniff(head_of(write(tmp_path, "<assessment-results/>", "x.xml")))  # not in the OSCAL namespace
    assert not parser.sniff(head_of(write(tmp_path, "title: x\nassessment-results: 1\n", "x.yaml")))
    assert parser.sniff(head_of(write(tmp_path, XML, "y.xml")))


# --- the corpus examples -------------------------------------------------------------------------


def _expected(doc: dict[str, Any]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    """(risk uuid, subject, status, controls) for each risk by a plain walk of the JSON."""
    out = set()
    for result in doc["assessment-results"]["results"]:
        observations = {o["uuid"]: o for o in result.get("observations", [])}
        for r in result.get("risks", []):
            related = [
                f
                for f in result.get("findings", [])
                if r["uuid"] in {x["risk-uuid"] for x in f.get("related-risks", [])}
            ]
            obs = {o["observation-uuid"] for f in related for o in f.get("related-observations", [])}
            subjects = {s["subject-uuid"] for o in obs for s in observations[o]["subjects"]}
            controls = tuple(
                "AC-6(1)" if f["target"]["target-id"] == "ac-6.1_obj" else f["target"]["target-id"] for f in related
            )
            status = "fixed" if r["status"] == "closed" else "open"
            out |= {(r["uuid"], f"component {s}", status, controls) for s in subjects}
    return out


@pytest.mark.corpus
def test_every_corpus_form_gives_the_independent_count() -> None:
    folder = corpus_dir("oscal_assessment_results")
    assert peer_invalid("oscal_assessment_results") == set()
    reference = json.loads((folder / "oscal-content__ifa_assessment-results-example.json").read_text())
    expected = _expected(reference)
    assert len(expected) == 1
    files = sorted(folder.iterdir())
    assert len(files) == 4
    for path in files:
        if path.suffix == ".yaml":
            assert _expected(yaml.safe_load(path.read_text())) == expected
        elif path.suffix == ".json":
            assert _expected(json.loads(path.read_text())) == expected
        records = parse(path)
        assert summary(records) == expected, path.name
        assert {f.weakness.tool for f in findings(records)} == {"Important Federal Agency"}
        assert [r.name for r in records if isinstance(r, Scan)] == [
            reference["assessment-results"]["metadata"]["title"]
        ]


@pytest.mark.corpus
def test_sniff_claims_exactly_its_folder() -> None:
    assert_sniff_claims_exactly(OscalAssessmentResultsParser(), "oscal_assessment_results")


# --- end to end ----------------------------------------------------------------------------------


def test_a_later_assessment_closes_a_closed_risk(engine: Engine, register_parser: Any, tmp_path: Path) -> None:
    register_parser(OscalAssessmentResultsParser())
    r = import_file(engine, write(tmp_path, document(), "march.json"))
    assert (r.format, r.tool) == ("oscal-ar", "Acme 3PAO")
    items = items_by_id(engine)
    assert set(items) == {RISK_OPEN, RISK_HIGH, LONE_BAD}
    assert items[RISK_OPEN].controls == ("AC-6(1)",) and not items[RISK_OPEN].is_config
    assert sorted(a.text for a in items[RISK_OPEN].assets) == ["Identity service", "web01.example.com"]
    april = copy.deepcopy(document())
    result = april["assessment-results"]["results"][0]
    result["start"], result["end"] = "2024-04-01T08:00:00Z", "2024-04-03T08:00:00Z"
    for o in result["observations"]:
        o["collected"] = "2024-04-02T10:00:00Z"
    result["risks"][0]["status"] = "closed"
    r = import_file(engine, write(tmp_path, april, "april.json"))
    assert r.items_closed == 1
    statuses = {k: i.status for k, i in items_by_id(engine).items()}
    assert statuses == {RISK_OPEN: ItemStatus.CLOSED, RISK_HIGH: ItemStatus.OPEN, LONE_BAD: ItemStatus.OPEN}


@pytest.mark.corpus
def test_corpus_example_imports_end_to_end(engine: Engine, register_parser: Any) -> None:
    register_parser(OscalAssessmentResultsParser())
    path = corpus_dir("oscal_assessment_results") / "oscal-content__ifa_assessment-results-example.xml"
    import_file(engine, path)
    (item,) = items_by_id(engine).values()
    assert item.source_identifier == "0cfa750e-3553-47ba-a7ba-cf84a884d261" and item.controls == ("AC-6(1)",)
    assert [a.text for a in item.assets] == ["component 551b9706-d6a4-4d25-8207-f2ccec548b89"]
    assert item.detector_source == "Important Federal Agency"


def _mutations(doc: Any, path: tuple[Any, ...] = ()) -> Any:
    """Every (path, replacement) that swaps one value of a document for an odd one."""
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for key, value in children:
        for odd in (None, 5, "x", [], {}):
            yield (*path, key), odd
        yield from _mutations(value, (*path, key))


def test_any_odd_value_is_handled_or_refused_with_an_input_error(tmp_path: Path) -> None:
    base = document()
    for where, odd in _mutations(base):
        doc = copy.deepcopy(base)
        target = doc
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = odd
        with contextlib.suppress(InputError):
            parse(write(tmp_path, doc))
