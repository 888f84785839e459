"""The OSCAL objects of one POA&M item: its poam-item, its risk and its observations.

FedRAMP's conventions (Guide to OSCAL-based FedRAMP POA&M Rev5 §4; spec §3.4): one observation of
the detection (tool, assets, date) and, for each deviation or vendor dependency in play, one more
of that type (guide §4.5); exactly one risk holding the weakness, its ratings as FedRAMP facets
(`likelihood`, `impact`, `risk`, state `initial`, and `adjusted` once an adjusted rating is
given), the CVE and CVSS facets, deviation and vendor props, mitigating factors, the deadline,
the tool's recommendation and the planned response (kept when the risk is closed) with required
assets and the milestones as tasks, and the risk log (milestone changes, vendor check-in, status
date, closure).

An item imported from an OSCAL POA&M carries `extra["oscal"]` (see `parsers.oscal_poam`): the
uuids it had there (`uuids`), the objects it referenced (`definitions`) and, for each top-level
key of its poam-item and risk, and for its list of observations, the value the document gave and
the value poam made of it on import (`kept`). The given value is written back while poam's value
is still the one made on import; once the item changed there, poam's value is written (the same
rule as the workbook's kept cells, `domain.kept_cells`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from poam.domain.models import ItemStatus, Level, PoamItem, YesNo
from poam.exporters.oscal_vocab import cvss_facets

FEDRAMP_NS = "https://fedramp.gov/ns/oscal"
FEDRAMP_FACETS = "https://fedramp.gov"  # the facet system of the guide (§4.2.4) and FedRAMP's template
POAM_NS = "urn:poam:oscal"  # poam's own props (CVSS base scores and vectors)
POAM_NAMESPACE = uuid.UUID("6a1f6d4e-3c2b-4f0e-9d8a-5b7c2e1f4a93")  # poam's deterministic UUIDs
_NAMESPACE_BYTES = POAM_NAMESPACE.bytes
NO_RECOMMENDATION = "The detector gave no recommendation."
NO_PLAN = "Remediation plan to be determined."
NO_STATEMENT = "No Risk Statement"
DEVIATIONS = (
    ("risk-adjustment", "risk_adjustment", "Risk Adjustment"),
    ("false-positive", "false_positive", "False Positive"),
    ("operational-requirement", "operational_requirement", "Operational Requirement"),
)
DEVIATION_VALUES = {YesNo.PENDING: "pending", YesNo.YES: "approved"}
VENDOR_VALUES = {YesNo.PENDING: "investigating", YesNo.YES: "tracking"}
CHANGE_TITLE = re.compile(r"^Milestone \((\d+)\) (New|Update|Complete)$")
VENDOR_CHECKIN = "Vendor Check-in"
CLOSED_TITLE = "Closed"
STATUS_TITLE = "Status Date"


def make_uuid(*parts: str) -> str:
    """A stable version-5 UUID for these parts (`uuid.uuid5(POAM_NAMESPACE, "|".join(parts))`,
    computed directly: an export makes a dozen per item)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "|".join(parts).encode("utf-8")).digest()[:16])  # noqa: S324
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def stamp(value: dt.date | dt.datetime, end_of_day: bool = False) -> str:
    """An OSCAL date-time with time zone (UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.replace(microsecond=0).isoformat() + "Z"
    t = "23:59:59" if end_of_day else "00:00:00"
    return f"{value.isoformat()}T{t}Z"


def one_line(value: str) -> str:
    """A value for an OSCAL string field: no line breaks, no leading or trailing spaces."""
    return " ".join(value.split())


def prop(name: str, value: str, ns: str | None = None) -> dict[str, str]:
    """An OSCAL property."""
    p = {"name": name, "value": one_line(value) or "unknown"}
    if ns:
        p["ns"] = ns
    return p


def text(value: str | None, default: str) -> str:
    """Markup text, or the default when there is none."""
    value = (value or "").strip()
    return value or default


def oscal_control(control: str) -> str:
    """`AC-2(1)` -> `ac-2.1` (the control ids of NIST's OSCAL catalogs, as FedRAMP writes them)."""
    m = re.fullmatch(r"\s*([A-Za-z]{2})-(\d+)\s*(?:\((\d+)\))?\s*", control)
    if not m:
        return one_line(control).lower()
    family, number, enhancement = m.groups()
    return f"{family.lower()}-{int(number)}" + (f".{int(enhancement)}" if enhancement else "")


def oscal_extra(item: PoamItem) -> Mapping[str, Any]:
    """The item's OSCAL details kept on import (empty for items poam made)."""
    value = item.extra.get("oscal") if isinstance(item.extra, Mapping) else None
    return value if isinstance(value, Mapping) else {}


@dataclass
class Ids:
    """The uuids of one item's objects: those it had in the OSCAL document it was imported from,
    else stable ones made from the system and the POA&M id. `made` records each one asked for
    (the reader keeps them, so that poam's objects keep their uuids)."""

    system: str
    item: PoamItem
    made: dict[str, str] = field(default_factory=dict)
    given: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        uuids = oscal_extra(self.item).get("uuids")
        if isinstance(uuids, Mapping) and not self.given:
            self.given = uuids

    def __call__(self, key: str, *parts: str) -> str:
        name = "-".join((key, *parts)) if parts else key
        if name in self.made:
            return self.made[name]
        found = self.given.get(name)
        value = found if isinstance(found, str) and found else self.default(key, *parts)
        self.made[name] = value
        return value

    def default(self, key: str, *parts: str) -> str:
        if key == "tool":
            return make_uuid(self.system, "tool", self.item.detector_source)
        if key == "poc":
            return make_uuid(self.system, "party", self.item.point_of_contact or "")
        if key == "org":
            return make_uuid(self.system, "party", "csp")
        if key == "product":
            return make_uuid(self.system, "product", self.item.vendor_product or "")
        if key == "asset-text":
            return make_uuid(self.system, "asset-text", *parts)
        return make_uuid(self.system, key, self.item.poam_id, *parts)


@dataclass
class Parts:
    """One item's objects in the document."""

    poam_item: dict[str, Any]
    risk: dict[str, Any]
    observations: list[dict[str, Any]]
    products: list[dict[str, Any]]
    """Components for the vendor-dependent product (guide §4.5.4)."""
    inventory: list[dict[str, Any]] = field(default_factory=list)
    """Inventory items for the assets an imported item names only by text (its Asset Identifier)."""


AssetUuid = Callable[[str], str]


def parts(system: str, item: PoamItem, asset_uuid: AssetUuid, ids: Ids | None = None) -> Parts:
    """The item's objects as poam makes them, then with what the item kept from its document."""
    ids = ids or Ids(system, item)
    made = make_parts(item, asset_uuid, ids)
    return with_kept(made, oscal_extra(item))


def make_parts(item: PoamItem, asset_uuid: AssetUuid, ids: Ids) -> Parts:
    """The item's objects from its columns alone."""
    inventory = _text_assets(item, ids)
    observations = [_observation(item, asset_uuid, ids, inventory)]
    products = []
    for kind, attr, label in DEVIATIONS:
        if getattr(item, attr) in DEVIATION_VALUES:
            observations.append(_deviation_observation(item, ids, kind, label))
    if item.vendor_dependency in VENDOR_VALUES:
        obs, product = _vendor_observation(item, ids)
        observations.append(obs)
        if product:
            products.append(product)
    risk = _risk(item, ids, [o["uuid"] for o in observations[:1]])
    poam_item: dict[str, Any] = {
        "uuid": ids("item"),
        "title": item.weakness_name,
        "description": text(item.weakness_description, item.weakness_name),
        "props": [prop("POAM-ID", item.poam_id, FEDRAMP_NS)],
        "related-observations": [{"observation-uuid": o["uuid"]} for o in observations],
        "related-risks": [{"risk-uuid": risk["uuid"]}],
    }
    remarks = item.comments_text()
    if remarks:
        poam_item["remarks"] = remarks
    return Parts(poam_item, risk, observations, products, inventory)


def with_kept(made: Parts, extra: Mapping[str, Any]) -> Parts:
    """The objects with the values the item's document gave, where poam's are unchanged."""
    kept = extra.get("kept")
    if not isinstance(kept, Mapping):
        kept = {}
    poam_item = apply_kept(made.poam_item, kept.get("poam-item"))
    risk = apply_kept(made.risk, kept.get("risk"))
    observations = made.observations
    pair = kept.get("observations")
    if isinstance(pair, list) and len(pair) == 2 and pair[1] == observations and isinstance(pair[0], list):
        observations = [o for o in pair[0] if isinstance(o, dict)]
    return Parts(poam_item, risk, observations, made.products, made.inventory)


def apply_kept(made: dict[str, Any], kept: Any) -> dict[str, Any]:
    """`made` with each kept key's given value while poam's value is still the one made on import
    (`kept`: `{key: [given, made on import]}`, None for an absent key)."""
    if not isinstance(kept, Mapping):
        return made
    out = dict(made)
    for key, pair in kept.items():
        if not (isinstance(pair, list) and len(pair) == 2):
            continue
        given, then = pair
        if out.get(key) == then:
            if given is None:
                out.pop(key, None)
            else:
                out[key] = given
    return out


def kept_values(given: Mapping[str, Any], made: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The top-level keys where the document's object differs from poam's: `{key: [given, made]}`."""
    return {
        key: [given.get(key), made.get(key)]
        for key in list(dict.fromkeys([*given, *made]))
        if given.get(key) != made.get(key)
    }


def _tool_actor(item: PoamItem, ids: Ids) -> dict[str, Any]:
    return {"type": "tool", "actor-uuid": ids("tool")}


def _text_assets(item: PoamItem, ids: Ids) -> list[dict[str, Any]]:
    """Inventory items for the lines of an imported item's Asset Identifier that no scan's asset
    gives (the workbook's cell has no inventory behind it)."""
    known = {one_line(a.text) for a in item.assets}
    lines = [one_line(x) for x in (item.asset_text or "").split("\n")]
    out = []
    for line in dict.fromkeys(x for x in lines if x and x not in known):
        out.append({"uuid": ids("asset-text", line), "description": line, "props": [prop("asset-id", line)]})
    return out


def _observation(item: PoamItem, asset_uuid: AssetUuid, ids: Ids, inventory: list[dict[str, Any]]) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "uuid": ids("observation"),
        "title": item.weakness_name,
        "description": text(item.weakness_description, item.weakness_name),
        "methods": ["TEST"],
        "types": ["finding"],
        "origins": [{"actors": [_tool_actor(item, ids)]}],
    }
    subjects = []
    seen: set[str] = set()
    for a in item.assets:
        if a.asset_ref in seen:
            continue
        seen.add(a.asset_ref)
        subjects.append({"subject-uuid": asset_uuid(a.asset_ref), "type": "inventory-item", "title": one_line(a.text)})
    for entry in inventory:
        subjects.append({"subject-uuid": entry["uuid"], "type": "inventory-item", "title": entry["description"]})
    if subjects:
        obs["subjects"] = subjects
    evidence = [{"description": line.strip()} for line in (item.supporting_documents or "").split("\n") if line.strip()]
    if evidence:
        obs["relevant-evidence"] = evidence
    obs["collected"] = stamp(item.detection_date)
    return obs


def rationales(text_: str | None) -> dict[str, str]:
    """The Deviation Rationale by deviation label (`Risk Adjustment : text` paragraphs); text
    without a label counts for every deviation."""
    found: dict[str, list[str]] = {}
    labels = {label.lower(): label for _kind, _attr, label in DEVIATIONS}
    current = ""
    for para in re.split(r"\n\s*\n", (text_ or "").strip()):
        head, sep, rest = para.partition(":")
        if sep and head.strip().lower() in labels:
            current = labels[head.strip().lower()]
            found.setdefault(current, []).append(rest.strip())
        elif para.strip():
            found.setdefault(current, []).append(para.strip())
    return {k: "\n\n".join(v) for k, v in found.items()}


def _deviation_observation(item: PoamItem, ids: Ids, kind: str, label: str) -> dict[str, Any]:
    by_label = rationales(item.deviation_rationale)
    why = by_label.get(label) or by_label.get("")
    return {
        "uuid": ids("observation", kind),
        "title": label,
        "description": text(why, f"{label} requested for this weakness."),
        "methods": ["EXAMINE"],
        "types": [kind],
        "collected": stamp(item.detection_date),
    }


def _vendor_observation(item: PoamItem, ids: Ids) -> tuple[dict[str, Any], dict[str, Any] | None]:
    obs: dict[str, Any] = {
        "uuid": ids("observation", "vendor-dependency"),
        "title": "Vendor Dependency",
        "description": "The fix depends on the vendor"
        + (f" of {one_line(item.vendor_product)}." if item.vendor_product else "."),
        "methods": ["INTERVIEW"],
        "types": ["vendor-dependency"],
    }
    product = None
    if item.vendor_product and one_line(item.vendor_product):
        name = one_line(item.vendor_product)
        product = {
            "uuid": ids("product"),
            "type": "software",
            "title": name,
            "description": f"{name}: a product whose vendor must supply the fix.",
            "status": {"state": "operational"},
        }
        obs["subjects"] = [{"subject-uuid": product["uuid"], "type": "component", "title": name}]
    obs["collected"] = stamp(item.last_vendor_checkin or item.detection_date)
    return obs, product


def _level(level: Level) -> str:
    return level.fedramp.value.lower()


def _rating_facets(level: Level, state: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "system": FEDRAMP_FACETS, "value": _level(level), "props": [prop("state", state)]}
        for name in ("likelihood", "impact", "risk")
    ]


def _status(item: PoamItem) -> str:
    if item.status is ItemStatus.CLOSED:
        return "closed"
    answers = [getattr(item, attr) for _kind, attr, _label in DEVIATIONS]
    if YesNo.PENDING in answers:
        return "deviation-requested"
    if YesNo.YES in answers:
        return "deviation-approved"
    return "open"


def _risk(item: PoamItem, ids: Ids, observations: list[str]) -> dict[str, Any]:
    props = [prop("impacted-control-id", oscal_control(c), FEDRAMP_NS) for c in item.controls]
    if item.kev:
        props.append(prop("kev-catalog", "yes", FEDRAMP_NS))
        if item.kev_due_date:
            props.append(prop("kev-due-date", item.kev_due_date.isoformat(), FEDRAMP_NS))
    for name, attr, _label in DEVIATIONS:
        answer = getattr(item, attr)
        if answer in DEVIATION_VALUES:
            props.append(prop(name, DEVIATION_VALUES[answer], FEDRAMP_NS))
    if item.vendor_dependency in VENDOR_VALUES:
        props.append(prop("vendor-dependency", VENDOR_VALUES[item.vendor_dependency], FEDRAMP_NS))
    actor: dict[str, Any] = {
        **_tool_actor(item, ids),
        "props": [prop("vulnerability-id", item.source_identifier, FEDRAMP_NS)],
    }
    if item.source_identifier.isdigit():
        actor["props"].append(prop("plugin-id", item.source_identifier, FEDRAMP_NS))
    facets = _rating_facets(item.original_risk, "initial")
    if item.adjusted_risk is not None:
        facets += _rating_facets(item.adjusted_risk, "adjusted")
    facets += [{"name": "cve-id", "system": "http://cve.mitre.org", "value": cve} for cve in item.cves]
    facets += cvss_facets(item.cvss3_vector) + cvss_facets(item.cvss2_vector, version2=True)
    characterization: dict[str, Any] = {"origin": {"actors": [actor]}, "facets": facets}
    scores = []
    for name, value in (
        ("cvss3-base-score", item.cvss3_score),
        ("cvss3-vector", item.cvss3_vector),
        ("cvss2-base-score", item.cvss2_score),
        ("cvss2-vector", item.cvss2_vector),
    ):
        if value is not None and str(value).strip():
            scores.append(prop(name, f"{value:g}" if isinstance(value, float) else str(value), POAM_NS))
    if scores:
        characterization = {"props": scores, **characterization}
    risk: dict[str, Any] = {
        "uuid": ids("risk"),
        "title": item.weakness_name,
        "description": text(item.weakness_description, item.weakness_name),
        "statement": text(item.weakness_description, NO_STATEMENT),
    }
    if props:
        risk["props"] = props
    risk["status"] = _status(item)
    risk["characterizations"] = [characterization]
    if item.deviation_rationale and item.deviation_rationale.strip():
        risk["mitigating-factors"] = [{"uuid": ids("mitigation"), "description": item.deviation_rationale.strip()}]
    risk["deadline"] = stamp(item.scheduled_completion_date, end_of_day=True)
    plan = _plan(item, ids)
    risk["remediations"] = [_recommendation(item, ids), plan]
    entries = list(_log(item, ids, plan))
    if entries:
        risk["risk-log"] = {"entries": entries}
    risk["related-observations"] = [{"observation-uuid": u} for u in observations]
    return risk


def _recommendation(item: PoamItem, ids: Ids) -> dict[str, Any]:
    return {
        "uuid": ids("recommendation"),
        "lifecycle": "recommendation",
        "title": "Recommended remediation",
        "description": text(item.recommendation, NO_RECOMMENDATION),
        "origins": [{"actors": [_tool_actor(item, ids)]}],
    }


def point_of_contact(item: PoamItem) -> str | None:
    """The item's point of contact as one line, or None."""
    name = one_line(item.point_of_contact or "")
    return name or None


def _plan(item: PoamItem, ids: Ids) -> dict[str, Any]:
    """The planned response: kept `planned` when the risk is closed (FedRAMP's template: planned
    and recommended remediations remain when the risk is closed)."""
    plan: dict[str, Any] = {
        "uuid": ids("plan"),
        "lifecycle": "planned",
        "title": "Remediation plan",
        "description": text(item.remediation_plan, NO_PLAN),
    }
    if point_of_contact(item):
        actor = {"type": "party", "actor-uuid": ids("poc"), "role-id": "point-of-contact"}
    else:
        actor = {"type": "party", "actor-uuid": ids("org"), "role-id": "cloud-service-provider"}
    plan["origins"] = [{"actors": [actor]}]
    resources = item.resources_text()
    if resources:
        plan["required-assets"] = [{"uuid": ids("resources"), "description": resources}]
    tasks = []
    for m in item.milestones:
        start = min(item.detection_date, m.date)
        task: dict[str, Any] = {
            "uuid": ids("milestone", str(m.number)),
            "type": "milestone",
            "title": f"Milestone {m.number}",
            "description": text(m.text, f"Milestone {m.number}"),
            "timing": {"within-date-range": {"start": stamp(start), "end": stamp(m.date, end_of_day=True)}},
        }
        if m.status == "complete":
            task["props"] = [prop("status", "complete", POAM_NS)]
        tasks.append(task)
    if not tasks:  # every poam item has its automatic first milestone; never a plan without one
        tasks.append(
            {
                "uuid": ids("milestone", "1"),
                "type": "milestone",
                "title": "Milestone 1",
                "description": "Remediate and confirm the fix with a follow-up scan.",
                "timing": {
                    "within-date-range": {
                        "start": stamp(min(item.detection_date, item.scheduled_completion_date)),
                        "end": stamp(item.scheduled_completion_date, end_of_day=True),
                    }
                },
            }
        )
    plan["tasks"] = tasks
    return plan


def _log(item: PoamItem, ids: Ids, plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    tasks = {t["title"].removeprefix("Milestone "): t["uuid"] for t in plan["tasks"]}
    for n, c in enumerate(item.milestone_changes, start=1):
        response: dict[str, Any] = {"response-uuid": plan["uuid"]}
        if str(c.number) in tasks:
            response["related-tasks"] = [{"task-uuid": tasks[str(c.number)]}]
        yield {
            "uuid": ids("change", str(n)),
            "title": f"Milestone ({c.number}) {c.kind.value}",
            "description": text(c.text, c.kind.value),
            "start": stamp(c.date),
            "related-responses": [response],
        }
    if item.last_vendor_checkin:
        yield {
            "uuid": ids("vendor-checkin"),
            "title": VENDOR_CHECKIN,
            "description": "Last check-in with the vendor"
            + (f" of {one_line(item.vendor_product)}." if item.vendor_product else "."),
            "start": stamp(item.last_vendor_checkin),
            "props": [prop("type", "vendor-check-in")],
        }
    yield {
        "uuid": ids("status"),
        "title": STATUS_TITLE,
        "description": "The date of the item's latest status (the workbook's Status Date).",
        "start": stamp(item.status_date),
        "props": [prop("type", "status-update")],
    }
    if item.status is ItemStatus.CLOSED and item.closed_at:
        yield {
            "uuid": ids("closed"),
            "title": CLOSED_TITLE,
            "description": "Every finding of this weakness was shown fixed; see the milestone changes.",
            "start": stamp(item.closed_at),
            "props": [prop("type", "closed")],
            "status-change": "closed",
        }
