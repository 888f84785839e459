"""The columns of a POA&M item read from one poam-item of an OSCAL POA&M, with its risk and
observations (the mapping `parsers.oscal_poam` describes), and the helpers that read OSCAL JSON
data defensively (a value of the wrong type counts as absent)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from poam.domain.models import ChangeKind, ItemStatus, Level, Milestone, MilestoneChange, PoamItem, YesNo
from poam.exporters import oscal_parts
from poam.exporters.oscal_parts import FEDRAMP_NS, POAM_NS
from poam.parsers.oscal_ar import control_id

DEFAULT_TOOL = "OSCAL POA&M"
DEFAULT_RATING = Level.MODERATE
"""The Original Risk Rating of a poam-item whose risk gives none."""
_FEDRAMP_SYSTEMS = ("https://fedramp.gov", "http://fedramp.gov", "http://fedramp.gov/ns/oscal", FEDRAMP_NS)
_LEVELS = {
    "very low": Level.LOW,
    "low": Level.LOW,
    "moderate": Level.MODERATE,
    "medium": Level.MODERATE,
    "high": Level.HIGH,
    "very high": Level.CRITICAL,
    "critical": Level.CRITICAL,
}
_DEVIATION_ANSWERS = {"pending": YesNo.PENDING, "approved": YesNo.YES}
_VENDOR_ANSWERS = {"investigating": YesNo.PENDING, "tracking": YesNo.YES, "resolved": YesNo.YES}
SPECIAL_TYPES = {"false-positive", "operational-requirement", "risk-adjustment", "vendor-dependency", "closure"}
_RELEASED = re.compile(r"^Vendor fix released (\d{4}-\d{2}-\d{2})\.\n?")
_NUMBER = re.compile(r"milestone\s*(\d{1,4})\s*$", re.IGNORECASE)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in as_list(value) if isinstance(v, dict)]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def date_of(value: Any) -> dt.date | None:
    text = text_of(value)
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return None


def props_of(obj: dict[str, Any], name: str, ns: str | None = FEDRAMP_NS) -> list[str]:
    return [
        text_of(p.get("value"))
        for p in dicts(obj.get("props"))
        if p.get("name") == name and (ns is None or p.get("ns") == ns)
    ]


class Index:
    """The document's objects by uuid (lower case)."""

    def __init__(self, body: dict[str, Any]) -> None:
        metadata = as_dict(body.get("metadata"))
        local = as_dict(body.get("local-definitions"))
        assets = as_dict(local.get("assessment-assets"))
        self.kinds: dict[str, dict[str, dict[str, Any]]] = {
            "observations": by_uuid(body.get("observations")),
            "risks": by_uuid(body.get("risks")),
            "components": by_uuid(as_list(local.get("components")) + as_list(assets.get("components"))),
            "inventory-items": by_uuid(local.get("inventory-items")),
            "parties": by_uuid(metadata.get("parties")),
            "locations": by_uuid(metadata.get("locations")),
            "resources": by_uuid(as_dict(body.get("back-matter")).get("resources")),
        }
        self.other: set[str] = set()
        for risk in self.kinds["risks"].values():
            self.other |= {text_of(m.get("uuid")).lower() for m in dicts(risk.get("mitigating-factors"))}

    def get(self, kind: str, uid: Any) -> dict[str, Any] | None:
        return self.kinds[kind].get(text_of(uid).lower())


def by_uuid(objects: Any) -> dict[str, dict[str, Any]]:
    return {text_of(o.get("uuid")).lower(): o for o in dicts(objects) if text_of(o.get("uuid"))}


def columns(
    given: dict[str, Any],
    risk: dict[str, Any],
    main: dict[str, Any],
    observations: list[dict[str, Any]],
    index: Index,
    modified: dt.date,
    uuids: dict[str, str],
    missing: list[str] | None = None,
) -> PoamItem:
    """The item's columns, and in `uuids` the uuids of the objects poam makes for them; in
    `missing` the values the document lacks that were assumed: `collected` (the observation's
    date, read as `modified`) and `rating` (read as `DEFAULT_RATING`)."""
    lacking = [] if missing is None else missing
    poam_id = next(iter(props_of(given, "POAM-ID")), "") or "OSCAL-" + text_of(given.get("uuid"))[:8]
    uuids["item"] = text_of(given.get("uuid"))
    uuids["risk"] = text_of(risk.get("uuid"))
    uuids["observation"] = text_of(main.get("uuid"))
    for obs in observations:
        for kind in SPECIAL_TYPES & set(as_list(obs.get("types"))):
            uuids.setdefault(f"observation-{kind}", text_of(obs.get("uuid")))
    tool, tool_uuid = _detector(main, risk, index)
    if tool_uuid:
        uuids["tool"] = tool_uuid
    responses = dicts(risk.get("remediations"))
    plan = next((r for r in responses if r.get("lifecycle") == "planned"), {})
    advice = next((r for r in responses if r.get("lifecycle") == "recommendation"), {})
    uuids["plan"], uuids["recommendation"] = text_of(plan.get("uuid")), text_of(advice.get("uuid"))
    poc = _point_of_contact(plan, index, uuids)
    needs = dicts(plan.get("required-assets"))
    if needs:
        uuids["resources"] = text_of(needs[0].get("uuid"))
    factors = dicts(risk.get("mitigating-factors"))
    if factors:
        uuids["mitigation"] = text_of(factors[0].get("uuid"))
    detected = date_of(main.get("collected"))
    if detected is None:
        lacking.append("collected")
        detected = modified
    milestones = list(_milestones(plan, risk, detected, uuids))
    changes, checkin, closed, status_given, latest = _log(risk, uuids)
    deadline = date_of(risk.get("deadline")) or max((m.date for m in milestones), default=detected)
    remarks = text_of(given.get("remarks"))
    released = _RELEASED.match(remarks)
    if released:
        remarks = remarks[released.end() :].strip()
    vendor_obs = next((o for o in observations if "vendor-dependency" in as_list(o.get("types"))), {})
    product = next(iter(subject_names(vendor_obs, index, uuids, "product")), None)
    status = ItemStatus.CLOSED if text_of(risk.get("status")) == "closed" else ItemStatus.OPEN
    status_date = status_given or max([d for d in (latest, closed) if d] or [modified])
    original, adjusted = _ratings(risk)
    if original is None:
        lacking.append("rating")
    vendor = _VENDOR_ANSWERS.get(next(iter(props_of(risk, "vendor-dependency")), ""), YesNo.NO)

    def answer(kind: str) -> YesNo:
        return _DEVIATION_ANSWERS.get(next(iter(props_of(risk, kind)), ""), YesNo.NO)

    return PoamItem(
        poam_id=poam_id,
        status=status,
        weakness_name=text_of(risk.get("title")) or text_of(given.get("title")) or poam_id,
        weakness_description=text_of(risk.get("description")) or text_of(given.get("description")),
        detector_source=tool,
        source_identifier=_source_id(risk) or text_of(risk.get("uuid")) or poam_id,
        detection_date=detected,
        scheduled_completion_date=deadline,
        status_date=status_date,
        original_risk=original or DEFAULT_RATING,
        controls=tuple(dict.fromkeys(c for v in props_of(risk, "impacted-control-id") if (c := control_id(v)))),
        point_of_contact=poc,
        resources_required="; ".join(text_of(a.get("description")) for a in needs if text_of(a.get("description")))
        or None,
        remediation_plan=_unless(plan.get("description"), oscal_parts.NO_PLAN),
        milestones=tuple(milestones),
        milestone_changes=tuple(changes),
        vendor_dependency=vendor,
        last_vendor_checkin=checkin,
        vendor_product=product,
        adjusted_risk=adjusted,
        deviation_rationale="\n\n".join(text_of(f.get("description")) for f in factors if text_of(f.get("description")))
        or None,
        supporting_documents="\n".join(
            text_of(e.get("description")) for e in dicts(main.get("relevant-evidence")) if text_of(e.get("description"))
        )
        or None,
        comments=remarks or None,
        kev="yes" in props_of(risk, "kev-catalog"),
        kev_due_date=next((d for v in props_of(risk, "kev-due-date") if (d := date_of(v))), None),
        cves=tuple(dict.fromkeys(_cves(risk))),
        closed_at=(closed or status_date) if status is ItemStatus.CLOSED else None,
        recommendation=_unless(advice.get("description"), oscal_parts.NO_RECOMMENDATION),
        vendor_release_date=date_of(released.group(1)) if released else None,
        risk_adjustment=answer("risk-adjustment"),
        false_positive=answer("false-positive"),
        operational_requirement=answer("operational-requirement"),
        origin="oscal",
    )


def _unless(value: Any, default: str) -> str | None:
    text = text_of(value)
    return text if text and text != default else None


def _detector(main: dict[str, Any], risk: dict[str, Any], index: Index) -> tuple[str, str | None]:
    """The Weakness Detector Source and the uuid of its tool component."""
    actors = [a for o in dicts(main.get("origins")) for a in dicts(o.get("actors"))]
    for c in dicts(risk.get("characterizations")):
        actors += dicts(as_dict(c.get("origin")).get("actors"))
    for actor in actors:
        if actor.get("type") in ("tool", "assessment-platform"):
            component = index.get("components", actor.get("actor-uuid"))
            if component is not None:
                name = next(iter(props_of(component, "name")), "") or text_of(component.get("title"))
                if name:
                    return name[:200], text_of(actor.get("actor-uuid"))
    for actor in actors:
        if actor.get("type") == "party":
            party = index.get("parties", actor.get("actor-uuid"))
            if party is not None and text_of(party.get("name")):
                return text_of(party.get("name"))[:200], None
    return DEFAULT_TOOL, None


def _source_id(risk: dict[str, Any]) -> str:
    for c in dicts(risk.get("characterizations")):
        for actor in dicts(as_dict(c.get("origin")).get("actors")):
            for name in ("vulnerability-id", "plugin-id"):
                found = next(iter(props_of(actor, name)), "")
                if found:
                    return found[:200]
    return ""


def _point_of_contact(plan: dict[str, Any], index: Index, uuids: dict[str, str]) -> str | None:
    actors = [a for o in dicts(plan.get("origins")) for a in dicts(o.get("actors")) if a.get("type") == "party"]
    for actor in actors:
        if actor.get("role-id") == "cloud-service-provider":
            uuids["org"] = text_of(actor.get("actor-uuid"))
    for actor in actors:
        if actor.get("role-id") in (None, "point-of-contact"):
            party = index.get("parties", actor.get("actor-uuid"))
            if party is not None and text_of(party.get("name")):
                uuids["poc"] = text_of(actor.get("actor-uuid"))
                return text_of(party.get("name"))
    return None


def _tasks(tasks: Any) -> Iterator[dict[str, Any]]:
    for task in dicts(tasks):
        yield task
        yield from _tasks(task.get("tasks"))


def _milestones(
    plan: dict[str, Any], risk: dict[str, Any], detected: dt.date, uuids: dict[str, str]
) -> Iterator[Milestone]:
    found = [t for t in _tasks(plan.get("tasks")) if t.get("type") == "milestone"]
    numbers = [int(m.group(1)) if (m := _NUMBER.search(text_of(t.get("title")))) else 0 for t in found]
    if len(set(numbers)) != len(numbers) or 0 in numbers:
        numbers = list(range(1, len(found) + 1))
    for number, task in zip(numbers, found, strict=True):
        timing = as_dict(task.get("timing"))
        when = date_of(as_dict(timing.get("within-date-range")).get("end")) or date_of(
            as_dict(timing.get("on-date")).get("date")
        )
        done = "complete" in props_of(task, "status", POAM_NS)
        uuids[f"milestone-{number}"] = text_of(task.get("uuid"))
        text = text_of(task.get("description")) or text_of(task.get("title"))
        yield Milestone(number, when or date_of(risk.get("deadline")) or detected, text, "complete" if done else "open")


def _log(
    risk: dict[str, Any], uuids: dict[str, str]
) -> tuple[list[MilestoneChange], dt.date | None, dt.date | None, dt.date | None, dt.date | None]:
    """Milestone changes, the last vendor check-in, the closure date, the status date (the
    `Status Date` entry poam writes) and the latest entry's date."""
    changes: list[MilestoneChange] = []
    checkin = closed = latest = status = None
    for entry in dicts(as_dict(risk.get("risk-log")).get("entries")):
        start = date_of(entry.get("start"))
        if start is None:
            continue
        latest = max(latest or start, start)
        title = text_of(entry.get("title"))
        m = oscal_parts.CHANGE_TITLE.match(title)
        if m:
            changes.append(
                MilestoneChange(int(m.group(1)), ChangeKind(m.group(2)), start, text_of(entry.get("description")))
            )
            uuids[f"change-{len(changes)}"] = text_of(entry.get("uuid"))
        elif title == oscal_parts.VENDOR_CHECKIN or "vendor-check-in" in props_of(entry, "type", None):
            if checkin is None or start >= checkin:
                checkin = start
                uuids["vendor-checkin"] = text_of(entry.get("uuid"))
        elif entry.get("status-change") == "closed":
            closed = start
            uuids["closed"] = text_of(entry.get("uuid"))
        elif title == oscal_parts.STATUS_TITLE and "status-update" in props_of(entry, "type", None):
            status = start
            uuids["status"] = text_of(entry.get("uuid"))
    return changes, checkin, closed, status, latest


def _facet_level(facets: list[dict[str, Any]]) -> Level | None:
    """The rating these facets give: `risk`, else `severity`, else the lower of `likelihood` and
    `impact` (NIST SP 800-30 Table I-2 on three levels), else either."""
    by_name: dict[str, Level] = {}
    for f in facets:
        level = _LEVELS.get(text_of(f.get("value")).lower())
        if level is not None:
            by_name[text_of(f.get("name")).lower()] = level
    for name in ("risk", "severity"):
        if name in by_name:
            return by_name[name]
    pair = [by_name[n] for n in ("likelihood", "impact") if n in by_name]
    return min(pair, key=lambda level: level.rank) if pair else None


def _ratings(risk: dict[str, Any]) -> tuple[Level | None, Level | None]:
    """The original and the adjusted rating (FedRAMP facets first)."""
    facets = [f for c in dicts(risk.get("characterizations")) for f in dicts(c.get("facets"))]
    rated = [f for f in facets if f.get("name") in ("risk", "severity", "likelihood", "impact")]
    fedramp = [f for f in rated if f.get("system") in _FEDRAMP_SYSTEMS]
    chosen = fedramp or rated

    def state(f: dict[str, Any]) -> str:
        return next(iter(props_of(f, "state", None)), "initial")

    initial = _facet_level([f for f in chosen if state(f) != "adjusted"])
    adjusted = _facet_level([f for f in chosen if state(f) == "adjusted"])
    return initial, adjusted


def _cves(risk: dict[str, Any]) -> Iterator[str]:
    for c in dicts(risk.get("characterizations")):
        for f in dicts(c.get("facets")):
            if f.get("system") == "http://cve.mitre.org" and f.get("name") in ("cve-id", "vulnerability-id"):
                value = text_of(f.get("value")).upper()
                if value.startswith("CVE-"):
                    yield value


def subject_names(obs: dict[str, Any], index: Index, uuids: dict[str, str], key: str) -> list[str]:
    """What the observation's subjects are called: their title, else the inventory item's or
    component's name; their uuids go in `uuids` under `key` (`product`, or `asset-text-NAME`)."""
    names = []
    for subject in dicts(obs.get("subjects")):
        name = text_of(subject.get("title"))
        if not name:
            target = index.get("inventory-items", subject.get("subject-uuid")) or index.get(
                "components", subject.get("subject-uuid")
            )
            if target is not None:
                name = (
                    next(
                        (
                            v
                            for key in ("fqdn", "ipv4-address", "ipv6-address", "asset-id")
                            for v in props_of(target, key, None)
                        ),
                        "",
                    )
                    or text_of(target.get("title"))
                    or text_of(target.get("description"))
                )
        if name:
            name = " ".join(name.split())
            names.append(name)
            uuids.setdefault(key if key == "product" else f"{key}-{name}", text_of(subject.get("subject-uuid")))
    return names
