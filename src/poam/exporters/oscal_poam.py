"""OSCAL 1.1.2 Plan of Action and Milestones (JSON), with FedRAMP's conventions.

One poam-item per POA&M item, with its observations and exactly one risk (`oscal_parts`). The
document imports the system's SSP when one is given (a back-matter resource of FedRAMP type
`system-security-plan` with one rlink, cited by `import-ssp`); otherwise `import-ssp` cites a
back-matter resource of FedRAMP type `no-oscal-ssp` (FedRAMP's OSCAL POA&M template: "If no
OSCAL-based SSP exists, this must be a URI fragment pointing to a special back-matter resource.
The resource must include the `no-oscal-ssp` conformity tag"). UUIDs are version 5, derived from
the system and the POA&M id (or kept from the OSCAL document an item was imported from), so
exporting twice gives the same document.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poam.domain.models import PoamItem
from poam.exporters import oscal_checks
from poam.exporters.oscal_parts import (
    FEDRAMP_NS,
    POAM_NAMESPACE,
    Ids,
    make_uuid,
    one_line,
    oscal_extra,
    parts,
    point_of_contact,
    prop,
    stamp,
    text,
)
from poam.exporters.oscal_vocab import VENDORS

__all__ = ["POAM_NAMESPACE", "Document", "InventoryAsset", "Tool", "build", "make_uuid", "schema_errors", "write"]

OSCAL_VERSION = "1.1.2"
TITLE_SUFFIX = " FedRAMP Plan of Action and Milestones (POA&M)"
"""The document's title is the system's name and this."""
SCHEMA_PATH = oscal_checks.SCHEMAS / oscal_checks.SCHEMA_FILES[OSCAL_VERSION]
ROLES = {
    "cloud-service-provider": "Cloud Service Provider",
    "prepared-for": "Prepared For",
    "point-of-contact": "Point of Contact",
}


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
    """The tools whose versions the scans recorded (a component is written for each tool an item cites)."""
    ssp_href: str | None = None
    """Where the system's OSCAL SSP is (a path relative to the POA&M, or a URI); None: none."""


def build(doc: Document) -> dict[str, Any]:
    """The OSCAL POA&M document as plain JSON data."""
    with oscal_checks.paused_gc():
        return _build(doc)


def _build(doc: Document) -> dict[str, Any]:
    s = doc.system_name
    org_uuid = make_uuid(s, "party", "csp")
    parties: dict[str, dict[str, Any]] = {
        org_uuid: {"uuid": org_uuid, "type": "organization", "name": one_line(text(doc.org, s))}
    }
    contacts: list[str] = []
    orgs = [org_uuid]
    given: dict[str, dict[str, dict[str, Any]]] = {}
    tool_uuids: dict[str, str] = {}
    observations, risks, poam_items, products, inventory_text = [], [], [], [], []
    seen_observations: set[str] = set()
    seen_risks: set[str] = set()
    kept: list[Any] = []
    for item in doc.items:
        ids = Ids(s, item)
        p = parts(s, item, lambda ref: make_uuid(s, "asset", ref), ids)
        observations += [o for o in p.observations if o.get("uuid") not in seen_observations]
        seen_observations.update(str(o.get("uuid")) for o in p.observations)
        if p.risk.get("uuid") not in seen_risks:  # two items of one document may share a risk
            seen_risks.add(str(p.risk.get("uuid")))
            risks.append(p.risk)
        poam_items.append(p.poam_item)
        products += p.products
        inventory_text += p.inventory
        tool_uuids.setdefault(ids.made["tool"], item.detector_source)
        org = ids.made.get("org")
        if org and org not in parties:  # the organization under the uuid the item's document gave it
            parties[org] = {"uuid": org, "type": "organization", "name": one_line(text(doc.org, s))}
            orgs.append(org)
        poc = point_of_contact(item)
        if poc and "poc" in ids.made:
            parties.setdefault(ids.made["poc"], {"uuid": ids.made["poc"], "type": "person", "name": poc})
            if ids.made["poc"] not in contacts:
                contacts.append(ids.made["poc"])
        if oscal_extra(item):  # values kept from an imported document may cite other roles
            kept.append([p.observations, p.risk, p.poam_item])
        _collect(given, oscal_extra(item).get("definitions"))
    for party in given.get("parties", {}).values():
        parties.setdefault(party["uuid"], party)
    roles = dict(ROLES) if contacts else {k: v for k, v in ROLES.items() if k != "point-of-contact"}
    for role_id in sorted(_role_ids([kept, list(parties.values())]) - set(roles)):
        roles[role_id] = role_id.replace("-", " ").capitalize()
    responsible = [
        {"role-id": "cloud-service-provider", "party-uuids": orgs},
        {"role-id": "prepared-for", "party-uuids": [org_uuid]},
    ]
    if contacts:
        responsible.append({"role-id": "point-of-contact", "party-uuids": contacts})
    resolution = make_uuid(s, "resolution-resource")
    locations = list(given.get("locations", {}).values())
    metadata: dict[str, Any] = {
        "title": f"{s}{TITLE_SUFFIX}",
        "last-modified": stamp(doc.last_modified),
        "version": doc.last_modified.date().isoformat(),
        "oscal-version": OSCAL_VERSION,
        "props": [
            prop("impact-level", doc.impact.lower(), FEDRAMP_NS),
            prop("resolution-resource", resolution, FEDRAMP_NS),
        ],
        "roles": [{"id": k, "title": v} for k, v in roles.items()],
        **({"locations": locations} if locations else {}),
        "parties": list(parties.values()),
        "responsible-parties": responsible,
    }
    if doc.fedramp_id:
        system_id = {"identifier-type": "https://fedramp.gov", "id": one_line(doc.fedramp_id)}
    else:
        system_id = {"identifier-type": "http://ietf.org/rfc/rfc4122", "id": make_uuid(s, "system")}
    ssp = _ssp_resource(doc)
    body: dict[str, Any] = {
        "uuid": make_uuid(s, "poam"),
        "metadata": metadata,
        "import-ssp": {"href": "#" + ssp["uuid"]},
        "system-id": system_id,
    }
    local = _local_definitions(doc, tool_uuids, products, inventory_text, given)
    if local:
        body["local-definitions"] = local
    if doc.items:
        body["observations"] = observations
        body["risks"] = risks
        body["poam-items"] = poam_items
    else:
        body["poam-items"] = [
            {
                "uuid": make_uuid(s, "no-items"),
                "title": "No open weaknesses",
                "description": "No weakness has been recorded for this system.",
            }
        ]
    resources = [ssp, _resolution_resource(resolution)]
    seen = {r["uuid"] for r in resources}
    resources += [r for u, r in sorted(given.get("resources", {}).items()) if u not in seen]
    body["back-matter"] = {"resources": resources}
    return {"plan-of-action-and-milestones": body}


def _collect(given: dict[str, dict[str, dict[str, Any]]], definitions: Any) -> None:
    """Add an item's kept definitions (`{"components": [...], ...}`) by kind and uuid."""
    if not isinstance(definitions, Mapping):
        return
    for kind, objects in definitions.items():
        if isinstance(objects, list):
            for obj in objects:
                if isinstance(obj, dict) and isinstance(obj.get("uuid"), str):
                    given.setdefault(str(kind), {}).setdefault(obj["uuid"], obj)


def _role_ids(nodes: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("role-id"), str):
                found.add(node["role-id"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


_SSP_MEDIA_TYPES = {".json": "application/json", ".xml": "application/xml"}
"""The SSP rlink's media type by the href's extension (OSCAL's JSON and XML formats)."""


def _suffix(href: str) -> str:
    """The extension of an href's path (lower case; a URI's query and fragment left out)."""
    path = href.split("#", 1)[0].split("?", 1)[0]
    name = path.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[1].lower() if "." in name else ""


def _ssp_resource(doc: Document) -> dict[str, Any]:
    s = doc.system_name
    if doc.ssp_href:
        rlink = {"href": doc.ssp_href}
        media = _SSP_MEDIA_TYPES.get(_suffix(doc.ssp_href))
        if media is not None:  # the schema makes media-type optional: left out rather than guessed
            rlink["media-type"] = media
        return {
            "uuid": make_uuid(s, "ssp"),
            "title": f"{s} System Security Plan",
            "props": [prop("type", "system-security-plan", FEDRAMP_NS)],
            "rlinks": [rlink],
        }
    props = [prop("type", "no-oscal-ssp", FEDRAMP_NS)]
    if doc.fedramp_id:
        props.append(prop("system-id", doc.fedramp_id, FEDRAMP_NS))
    return {
        "uuid": make_uuid(s, "no-oscal-ssp"),
        "title": s,
        "description": "No OSCAL-based SSP is delivered with this POA&M; the system's components and "
        "inventory items it cites are in its local definitions.",
        "props": props,
    }


def _resolution_resource(uid: str) -> dict[str, Any]:
    """FedRAMP's resolution resource: the POA&M is for NIST SP 800-53 Rev 5 (guide §3.6)."""
    return {
        "uuid": uid,
        "title": "Resolution Resource",
        "props": [
            {"name": "dataset", "value": "Special Publication", "class": "collection"},
            {"name": "dataset", "value": "800-53", "class": "name"},
            {"name": "dataset", "value": "5.0.2", "class": "version"},
            {"name": "dataset", "value": "gov.nist.csrc", "class": "organization"},
        ],
    }


def _local_definitions(
    doc: Document,
    tool_uuids: dict[str, str],
    products: list[dict[str, Any]],
    inventory_text: list[dict[str, Any]],
    given: dict[str, dict[str, dict[str, Any]]],
) -> dict[str, Any]:
    s = doc.system_name
    versions = {t.name: t.version for t in doc.tools}
    kept_components = given.get("components", {})
    components: dict[str, dict[str, Any]] = {}
    for uid, name in tool_uuids.items():
        if uid in kept_components and not versions.get(name):
            components[uid] = kept_components[uid]  # as the imported document gave it
        else:
            components[uid] = _component(uid, Tool(name, versions.get(name)))
    for p in products:
        components.setdefault(p["uuid"], p)
    for uid, c in kept_components.items():
        components.setdefault(uid, c)
    inventory: dict[str, dict[str, Any]] = {}
    for a in doc.assets:
        entry = _inventory_item(make_uuid(s, "asset", a.ref), a)
        inventory[entry["uuid"]] = entry
    for uid, i in given.get("inventory-items", {}).items():
        inventory.setdefault(uid, i)
    for i in inventory_text:
        inventory.setdefault(i["uuid"], i)
    local: dict[str, Any] = {}
    if components:
        local["components"] = sorted(components.values(), key=lambda c: (str(c.get("title")), c["uuid"]))
    if inventory:
        local["inventory-items"] = sorted(inventory.values(), key=lambda i: (str(i.get("description")), i["uuid"]))
    return local


def _component(uid: str, tool: Tool) -> dict[str, Any]:
    props = []
    if tool.name in VENDORS:
        props.append(prop("vendor-name", VENDORS[tool.name], FEDRAMP_NS))
    props.append(prop("name", tool.name, FEDRAMP_NS))
    if tool.version:
        props.append(prop("version", tool.version))
    return {
        "uuid": uid,
        "type": "software",
        "title": one_line(tool.name) or "unknown",
        "description": f"{tool.name}: the source that detected these weaknesses.",
        "props": props,
        "status": {"state": "operational"},
    }


def _inventory_item(uid: str, a: InventoryAsset) -> dict[str, Any]:
    props = [prop("asset-id", a.identifier)]
    if a.ip:
        props.append(prop("ipv6-address" if ":" in a.ip else "ipv4-address", a.ip))
    if a.fqdn:
        props.append(prop("fqdn", a.fqdn))
    if a.netbios:
        props.append(prop("netbios-name", a.netbios))
    for mac in (a.mac or "").split():  # one prop per address
        props.append(prop("mac-address", mac))
    if a.os:
        props.append(prop("os-name", a.os))
    props.append(prop("asset-type", "web-application" if a.kind == "web-app" else a.kind))
    return {"uuid": uid, "description": f"{a.identifier}", "props": props}


def schema_errors(document: dict[str, Any], limit: int = 20) -> list[str]:
    """Where the document breaks the NIST OSCAL schema of its version (empty when valid)."""
    return [p.line() for p in oscal_checks.schema_problems(document)[:limit]]


def dangling_references(document: dict[str, Any]) -> list[str]:
    """Every uuid reference that names nothing, or an object of another kind (empty when all resolve)."""
    return [p.line() for p in oscal_checks.reference_problems(document[oscal_checks.ROOT])]


def write(path: Path, document: dict[str, Any]) -> None:
    """Write the document as UTF-8 JSON, keys in a stable order."""
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
