"""OSCAL 1.1.2 Plan of Action and Milestones (JSON), with FedRAMP's conventions.

One poam-item per POA&M item, each with one observation (the detection: tool, assets, date)
and exactly one risk (weakness, rating, deadline, remediation plan with milestones as tasks,
milestone changes and closure in the risk log). UUIDs are version 5, derived from the system
and the POA&M id, so exporting twice gives the same document.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from poam.domain.models import ItemStatus, Level, PoamItem, YesNo

OSCAL_VERSION = "1.1.2"
FEDRAMP_NS = "https://fedramp.gov/ns/oscal"
SCHEMA_PATH = Path(__file__).with_name("schemas") / "oscal_poam_schema.json"
# Namespace for poam's deterministic UUIDs (a fixed random v4 value).
POAM_NAMESPACE = uuid.UUID("6a1f6d4e-3c2b-4f0e-9d8a-5b7c2e1f4a93")
_DEVIATION = {YesNo.PENDING: "pending", YesNo.YES: "approved"}


@dataclass(frozen=True, slots=True)
class InventoryAsset:
    """An asset as the OSCAL local definitions list it."""

    identifier: str
    kind: str
    ref: str
    ip: str | None = None
    fqdn: str | None = None
    netbios: str | None = None
    mac: str | None = None
    os: str | None = None


@dataclass(frozen=True, slots=True)
class Tool:
    """A detector: a scanner (software component) or an assessor."""

    name: str
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """Everything the OSCAL document is built from."""

    system_name: str
    org: str | None
    fedramp_id: str | None
    impact: str
    last_modified: dt.datetime
    items: Sequence[PoamItem]
    assets: Sequence[InventoryAsset]
    tools: Sequence[Tool]


def make_uuid(*parts: str) -> str:
    """A stable version-5 UUID for these parts."""
    return str(uuid.uuid5(POAM_NAMESPACE, "|".join(parts)))


def _stamp(value: dt.date | dt.datetime, end_of_day: bool = False) -> str:
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    t = "23:59:59" if end_of_day else "00:00:00"
    return f"{value.isoformat()}T{t}Z"


def one_line(value: str) -> str:
    """A value for an OSCAL string field: no line breaks, no leading or trailing spaces."""
    return " ".join(value.split())


def _prop(name: str, value: str, ns: str | None = None) -> dict[str, str]:
    p = {"name": name, "value": one_line(value) or "unknown"}
    if ns:
        p["ns"] = ns
    return p


def _text(value: str | None, default: str) -> str:
    value = (value or "").strip()
    return value or default


def build(doc: Document) -> dict[str, Any]:
    """The OSCAL POA&M document as plain JSON data."""
    s = doc.system_name
    org_uuid = make_uuid(s, "party", "csp")
    parties: dict[str, dict[str, Any]] = {
        org_uuid: {"uuid": org_uuid, "type": "organization", "name": one_line(_text(doc.org, s))}
    }
    for item in doc.items:
        if item.point_of_contact:
            pid = make_uuid(s, "party", item.point_of_contact)
            name = one_line(item.point_of_contact)
            if name:
                parties.setdefault(pid, {"uuid": pid, "type": "person", "name": name})
    metadata: dict[str, Any] = {
        "title": f"{s} FedRAMP Plan of Action and Milestones (POA&M)",
        "last-modified": _stamp(doc.last_modified),
        "version": doc.last_modified.date().isoformat(),
        "oscal-version": OSCAL_VERSION,
        "props": [_prop("impact-level", doc.impact.lower(), FEDRAMP_NS)],
        "roles": [
            {"id": "cloud-service-provider", "title": "Cloud Service Provider"},
            {"id": "prepared-for", "title": "Prepared For"},
            {"id": "point-of-contact", "title": "Point of Contact"},
        ],
        "parties": list(parties.values()),
        "responsible-parties": [
            {"role-id": "cloud-service-provider", "party-uuids": [org_uuid]},
            {"role-id": "prepared-for", "party-uuids": [org_uuid]},
        ],
    }
    if doc.fedramp_id:
        system_id = {"identifier-type": "https://fedramp.gov", "id": one_line(doc.fedramp_id)}
    else:
        system_id = {"identifier-type": "http://ietf.org/rfc/rfc4122", "id": make_uuid(s, "system")}
    local: dict[str, Any] = {}
    if doc.tools:
        local["components"] = [_component(s, t) for t in doc.tools]
    if doc.assets:
        local["inventory-items"] = [_inventory_item(s, a) for a in doc.assets]
    body: dict[str, Any] = {
        "uuid": make_uuid(s, "poam"),
        "metadata": metadata,
        "system-id": system_id,
    }
    if local:
        body["local-definitions"] = local
    if doc.items:
        body["observations"] = [_observation(s, i) for i in doc.items]
        body["risks"] = [_risk(s, i) for i in doc.items]
        body["poam-items"] = [_poam_item(s, i) for i in doc.items]
    else:
        body["poam-items"] = [
            {
                "uuid": make_uuid(s, "no-items"),
                "title": "No open weaknesses",
                "description": "No weakness has been recorded for this system.",
            }
        ]
    return {"plan-of-action-and-milestones": body}


def _component(s: str, tool: Tool) -> dict[str, Any]:
    props = [_prop("name", tool.name, FEDRAMP_NS)]
    if tool.version:
        props.append(_prop("version", tool.version))
    return {
        "uuid": make_uuid(s, "tool", tool.name),
        "type": "software",
        "title": tool.name,
        "description": f"{tool.name}: the source that detected these weaknesses.",
        "props": props,
        "status": {"state": "operational"},
    }


def _inventory_item(s: str, a: InventoryAsset) -> dict[str, Any]:
    props = [_prop("asset-id", a.identifier)]
    if a.ip:
        props.append(_prop("ipv6-address" if ":" in a.ip else "ipv4-address", a.ip))
    if a.fqdn:
        props.append(_prop("fqdn", a.fqdn))
    if a.netbios:
        props.append(_prop("netbios-name", a.netbios))
    for mac in (a.mac or "").split():  # one prop per address
        props.append(_prop("mac-address", mac))
    if a.os:
        props.append(_prop("os-name", a.os))
    props.append(_prop("asset-type", "web-application" if a.kind == "web-app" else a.kind))
    return {
        "uuid": make_uuid(s, "asset", a.ref),
        "description": f"{a.identifier}",
        "props": props,
    }


def _observation(s: str, item: PoamItem) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "uuid": make_uuid(s, "observation", item.poam_id),
        "title": item.weakness_name,
        "description": _text(item.weakness_description, item.weakness_name),
        "methods": ["TEST"],
        "types": ["finding"],
        "origins": [{"actors": [{"type": "tool", "actor-uuid": make_uuid(s, "tool", item.detector_source)}]}],
        "collected": _stamp(item.detection_date),
    }
    subjects = []
    seen: set[str] = set()
    for a in item.assets:
        if a.asset_ref in seen:
            continue
        seen.add(a.asset_ref)
        subjects.append(
            {"subject-uuid": make_uuid(s, "asset", a.asset_ref), "type": "inventory-item", "title": a.identifier}
        )
    if subjects:
        obs["subjects"] = subjects
    return obs


def _level(level: Level) -> str:
    return level.fedramp.value.lower()


def _risk(s: str, item: PoamItem) -> dict[str, Any]:
    rid = make_uuid(s, "risk", item.poam_id)
    props = [_prop("impacted-control-id", c.lower(), FEDRAMP_NS) for c in item.controls]
    if item.kev:
        props.append(_prop("kev-catalog", "yes", FEDRAMP_NS))
        if item.kev_due_date:
            props.append(_prop("kev-due-date", item.kev_due_date.isoformat(), FEDRAMP_NS))
    for name, answer in (
        ("risk-adjustment", item.risk_adjustment),
        ("false-positive", item.false_positive),
        ("operational-requirement", item.operational_requirement),
    ):
        if answer in _DEVIATION:
            props.append(_prop(name, _DEVIATION[answer], FEDRAMP_NS))
    if item.vendor_dependency is YesNo.YES:
        props.append(_prop("vendor-dependency", "tracking", FEDRAMP_NS))
    tool_actor: dict[str, Any] = {
        "type": "tool",
        "actor-uuid": make_uuid(s, "tool", item.detector_source),
        "props": [_prop("vulnerability-id", item.source_identifier, FEDRAMP_NS)],
    }
    if item.source_identifier.isdigit():
        tool_actor["props"].append(_prop("plugin-id", item.source_identifier, FEDRAMP_NS))
    facets = [
        {"name": name, "system": FEDRAMP_NS, "value": _level(item.original_risk), "props": [_prop("state", "initial")]}
        for name in ("risk", "impact")
    ]
    if item.adjusted_risk is not None and item.risk_adjustment is YesNo.YES:
        facets += [
            {
                "name": name,
                "system": FEDRAMP_NS,
                "value": _level(item.adjusted_risk),
                "props": [_prop("state", "adjusted")],
            }
            for name in ("risk", "impact")
        ]
    facets += [{"name": "cve-id", "system": "http://cve.mitre.org", "value": cve} for cve in item.cves]
    risk: dict[str, Any] = {
        "uuid": rid,
        "title": item.weakness_name,
        "description": _text(item.weakness_description, item.weakness_name),
        "statement": _text(item.weakness_description, "No Risk Statement"),
        "status": "closed" if item.status is ItemStatus.CLOSED else "open",
    }
    if props:
        risk["props"] = props
    risk["characterizations"] = [{"origin": {"actors": [tool_actor]}, "facets": facets}]
    if item.deviation_rationale:
        risk["mitigating-factors"] = [
            {"uuid": make_uuid(s, "mitigation", item.poam_id), "description": item.deviation_rationale}
        ]
    risk["deadline"] = _stamp(item.scheduled_completion_date, end_of_day=True)
    risk["remediations"] = [_recommendation(s, item), _plan(s, item)]
    entries = list(_log(s, item))
    if entries:
        risk["risk-log"] = {"entries": entries}
    risk["related-observations"] = [{"observation-uuid": make_uuid(s, "observation", item.poam_id)}]
    return risk


def _recommendation(s: str, item: PoamItem) -> dict[str, Any]:
    return {
        "uuid": make_uuid(s, "recommendation", item.poam_id),
        "lifecycle": "recommendation",
        "title": "Recommended remediation",
        "description": _text(item.recommendation, "The detector gave no recommendation."),
        "origins": [{"actors": [{"type": "tool", "actor-uuid": make_uuid(s, "tool", item.detector_source)}]}],
    }


def _plan(s: str, item: PoamItem) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "uuid": make_uuid(s, "plan", item.poam_id),
        "lifecycle": "completed" if item.status is ItemStatus.CLOSED else "planned",
        "title": "Remediation plan",
        "description": _text(item.remediation_plan, "Remediation plan to be determined."),
    }
    if item.point_of_contact and one_line(item.point_of_contact):
        plan["origins"] = [{"actors": [{"type": "party", "actor-uuid": make_uuid(s, "party", item.point_of_contact)}]}]
    if item.resources_text():
        plan["required-assets"] = [
            {"uuid": make_uuid(s, "resources", item.poam_id), "description": item.resources_text()}
        ]
    tasks = []
    for m in item.milestones:
        start = min(item.detection_date, m.date)
        tasks.append(
            {
                "uuid": make_uuid(s, "milestone", item.poam_id, str(m.number)),
                "type": "milestone",
                "title": f"Milestone {m.number}",
                "description": _text(m.text, f"Milestone {m.number}"),
                "timing": {"within-date-range": {"start": _stamp(start), "end": _stamp(m.date, end_of_day=True)}},
            }
        )
    if tasks:
        plan["tasks"] = tasks
    return plan


def _log(s: str, item: PoamItem) -> Iterator[dict[str, Any]]:
    for n, c in enumerate(item.milestone_changes, start=1):
        yield {
            "uuid": make_uuid(s, "change", item.poam_id, str(n)),
            "title": f"Milestone ({c.number}) {c.kind.value}",
            "description": _text(c.text, c.kind.value),
            "start": _stamp(c.date),
            "related-responses": [{"response-uuid": make_uuid(s, "plan", item.poam_id)}],
        }
    if item.status is ItemStatus.CLOSED and item.closed_at:
        yield {
            "uuid": make_uuid(s, "closed", item.poam_id),
            "title": "Closed",
            "description": "Every finding of this weakness was shown fixed; see the milestone changes.",
            "start": _stamp(item.closed_at),
            "status-change": "closed",
        }


def _poam_item(s: str, item: PoamItem) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "uuid": make_uuid(s, "item", item.poam_id),
        "title": item.weakness_name,
        "description": _text(item.weakness_description, item.weakness_name),
        "props": [_prop("POAM-ID", item.poam_id, FEDRAMP_NS)],
        "related-observations": [{"observation-uuid": make_uuid(s, "observation", item.poam_id)}],
        "related-risks": [{"risk-uuid": make_uuid(s, "risk", item.poam_id)}],
    }
    if item.comments_text():
        entry["remarks"] = item.comments_text()
    return entry


@cache
def _validator() -> Any:
    import jsonschema_rs

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema_rs.Draft7Validator(schema)


def schema_errors(document: dict[str, Any], limit: int = 20) -> list[str]:
    """Where the document breaks the NIST OSCAL 1.1.2 POA&M JSON schema (empty when valid)."""
    errors = []
    for err in _validator().iter_errors(document):
        path = "/".join(str(p) for p in err.instance_path)
        errors.append(f"/{path}: {err.message}")
        if len(errors) >= limit:
            break
    return errors


def _walk(node: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


_REF_KEYS = {
    "risk-uuid",
    "observation-uuid",
    "subject-uuid",
    "actor-uuid",
    "response-uuid",
    "party-uuids",
    "finding-uuid",
    "task-uuid",
    "component-uuid",
}


def dangling_references(document: dict[str, Any]) -> list[str]:
    """Every uuid reference that points at nothing in the document (empty when all resolve)."""
    defined = {v for k, v in _walk(document) if k == "uuid" and isinstance(v, str)}
    missing = []
    for key, value in _walk(document):
        if key not in _REF_KEYS:
            continue
        for ref in value if isinstance(value, list) else [value]:
            if ref not in defined:
                missing.append(f"{key} {ref}")
    return missing


def write(path: Path, document: dict[str, Any]) -> None:
    """Write the document as UTF-8 JSON, keys in a stable order."""
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
