"""Checks of an OSCAL POA&M (JSON-shaped data, as read from JSON or XML): the NIST schema of the
document's own `oscal-version`, then FedRAMP's rules.

FedRAMP's rules (Guide to OSCAL-based FedRAMP POA&M Rev5 §3.5, §4.2.1, §4.3, §4.3.1; the rev5
schematron `poam.sch`): every poam-item names exactly one risk; every risk has a deadline and a
planned response, and its responses hold at least one milestone task; every reference names an
object of the right kind (a `risk-uuid` must name a risk, not a mitigating factor or anything
else with that uuid); the document imports an SSP (`import-ssp`) or declares a back-matter
resource of FedRAMP type `no-oscal-ssp`.

Parties, roles, locations, users, components and inventory items may be defined in the imported
SSP instead (guide §4.2.2, §4.2.3). When the SSP is imported from outside the document, such a
reference that names nothing here is not reported (poam fetches nothing); one that names an
object of another kind here always is.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from poam.domain.problems import Problem

ROOT = "plan-of-action-and-milestones"
FEDRAMP_NS = "https://fedramp.gov/ns/oscal"
SCHEMAS = Path(__file__).with_name("schemas")
SCHEMA_FILES = {
    "1.0.6": "oscal_poam_schema_1.0.6.json",
    "1.1.2": "oscal_poam_schema.json",  # the official 1.1.2 release schema (sha256 9067…fbc04)
    "1.1.3": "oscal_poam_schema_1.1.3.json",
    "1.2.1": "oscal_poam_schema_1.2.1.json",
}
MAX_SCHEMA_PROBLEMS = 50

# Array keys whose members' uuids define an object of this kind.
_KINDS = {
    "parties": "party",
    "locations": "location",
    "components": "component",
    "inventory-items": "inventory-item",
    "users": "user",
    "assessment-platforms": "assessment-platform",
    "observations": "observation",
    "risks": "risk",
    "findings": "finding",
    "poam-items": "poam-item",
    "mitigating-factors": "mitigating-factor",
    "remediations": "response",
    "tasks": "task",
    "required-assets": "required-asset",
    "entries": "risk-log entry",
    "resources": "resource",
    "actions": "action",
}
# Kinds an imported SSP may define (a reference to one may resolve there).
_SSP_KINDS = {"party", "role", "location", "user", "component", "inventory-item"}
_SUBJECT_KINDS: dict[str, tuple[str, ...]] = {
    "component": ("component",),
    "inventory-item": ("inventory-item",),
    "party": ("party",),
    "user": ("user",),
    "location": ("location",),
    "resource": ("resource",),
}
_ACTOR_KINDS: dict[str, tuple[str, ...]] = {
    "tool": ("component",),
    "assessment-platform": ("assessment-platform", "component"),
    "party": ("party",),
}
_SIMPLE_REFS: dict[str, tuple[str, ...]] = {
    "observation-uuid": ("observation",),
    "risk-uuid": ("risk",),
    "finding-uuid": ("finding",),
    "response-uuid": ("response",),
    "task-uuid": ("task",),
    "party-uuid": ("party",),
    "component-uuid": ("component",),
}
_LIST_REFS: dict[str, tuple[str, ...]] = {
    "party-uuids": ("party",),
    "location-uuids": ("location",),
    "member-of-organizations": ("party",),
}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _resources(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in _list(_dict(body.get("back-matter")).get("resources")) if isinstance(r, dict)]


_REF_KEYS = {*_SIMPLE_REFS, *_LIST_REFS, "subject-uuid", "actor-uuid", "role-id", "href"}


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a large document is built or walked: it would
    scan the millions of young objects again and again (they form no cycles), doubling the time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def version_schema(version: object) -> str | None:
    """The schema a document of this `oscal-version` is checked against (None: not 1.0-1.2)."""
    if not isinstance(version, str):
        return None
    parts = version.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:3]):
        return None
    major, minor = int(parts[0]), int(parts[1])
    patch = int(parts[2]) if len(parts) > 2 else 0
    if (major, minor) == (1, 0):
        return "1.0.6"
    if (major, minor) == (1, 1):
        return "1.1.3" if patch >= 3 else "1.1.2"
    if (major, minor) == (1, 2):
        return "1.2.1"
    return None


@cache
def _validator(version: str) -> Any:
    import jsonschema_rs

    schema = json.loads((SCHEMAS / SCHEMA_FILES[version]).read_text(encoding="utf-8"))
    return jsonschema_rs.Draft7Validator(schema)


def json_path(parts: Any) -> str:
    """`$.plan-of-action-and-milestones.risks[2].deadline` for ("plan-of…", "risks", 2, "deadline")."""
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def shown(value: Any, limit: int = 120) -> str:
    """A value as short one-line text ("" for a missing value)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def problems(document: Any) -> list[Problem]:
    """Every problem of the document: schema first, then FedRAMP's rules (empty when it passes)."""
    if not isinstance(document, dict) or not isinstance(document.get(ROOT), dict):
        return [
            Problem(
                "$",
                shown(sorted(document) if isinstance(document, dict) else type(document).__name__),
                f"not an OSCAL POA&M (no `{ROOT}` object)",
            )
        ]
    return schema_problems(document) + fedramp_problems(document)


def schema_problems(document: dict[str, Any]) -> list[Problem]:
    """Where the document breaks the NIST schema of its declared OSCAL version."""
    body = document[ROOT]
    metadata = body.get("metadata")
    declared = metadata.get("oscal-version") if isinstance(metadata, dict) else None
    version = version_schema(declared)
    found: list[Problem] = []
    if version is None:
        found.append(
            Problem(
                json_path([ROOT, "metadata", "oscal-version"]),
                shown(declared),
                "not an OSCAL version poam checks (1.0.x, 1.1.x, 1.2.x); checked against the 1.1.2 schema",
            )
        )
        version = "1.1.2"
    for err in _validator(version).iter_errors(document):
        found.append(
            Problem(json_path(err.instance_path), shown(err.instance), f"OSCAL {version} schema: {err.message}")
        )
        if len(found) >= MAX_SCHEMA_PROBLEMS:
            break
    return found


Link = tuple[Any, Any]
"""Where an object is: (the link of its container, its key or index); `_path` spells it out."""
Objects = list[tuple[Link, dict[str, Any]]]


def _walk(node: Any) -> Objects:
    """Every object of the document's body with where it is, in document order."""
    out: Objects = []
    stack: list[tuple[Any, Link]] = [(node, (None, ROOT))]
    while stack:
        here, link = stack.pop()
        if isinstance(here, dict):
            out.append((link, here))
            kids = [(v, (link, k)) for k, v in here.items() if isinstance(v, (dict, list))]
        else:
            kids = [(v, (link, n)) for n, v in enumerate(here) if isinstance(v, (dict, list))]
        stack.extend(reversed(kids))
    return out


def _path(link: Link | None, *more: Any) -> tuple[Any, ...]:
    parts = list(more)
    while link is not None:
        link, key = link
        parts.insert(0, key)
    return tuple(parts)


def _array_key(link: Link) -> Any:
    """The key of the array holding the object at `link` (None when it is not in an array)."""
    parent, key = link
    return parent[1] if isinstance(key, int) and parent is not None else None


def _index(body: dict[str, Any], objects: Objects) -> dict[str, set[str]]:
    """Every defined uuid (lower case) with the kinds of object it names; role ids as `role:ID`."""
    defined: dict[str, set[str]] = {}
    for link, obj in objects:
        uid = obj.get("uuid")
        if isinstance(uid, str):
            key = _array_key(link)
            if key is not None:
                defined.setdefault(uid.lower(), set()).add(_KINDS.get(str(key), str(key)))
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        for role in _list(metadata.get("roles")):
            if isinstance(role, dict) and isinstance(role.get("id"), str):
                defined.setdefault("role:" + role["id"], set()).add("role")
    return defined


def _references(body: dict[str, Any], objects: Objects) -> Iterator[tuple[tuple[Any, ...], str, tuple[str, ...]]]:
    """(where, referenced uuid, kinds it may name) for every reference in the document; `where`
    is the object's link and the key (and index) in it."""
    for link, obj in objects:
        for key, value in obj.items():
            if key not in _REF_KEYS:
                continue
            if key in _SIMPLE_REFS:
                if isinstance(value, str):
                    yield (link, key), value, _SIMPLE_REFS[key]
            elif key in _LIST_REFS:
                for n, ref in enumerate(_list(value)):
                    if isinstance(ref, str):
                        yield (link, key, n), ref, _LIST_REFS[key]
            elif key == "subject-uuid":
                kinds = _SUBJECT_KINDS.get(str(obj.get("type")), ())
                if kinds and isinstance(value, str):
                    yield (link, key), value, kinds
            elif key == "actor-uuid":
                kinds = _ACTOR_KINDS.get(str(obj.get("type")), ())
                if kinds and isinstance(value, str):
                    yield (link, key), value, kinds
            elif key == "role-id":
                if isinstance(value, str):
                    yield (link, key), "role:" + value, ("role",)
            elif isinstance(value, str) and value.startswith("#"):  # href
                parent = _array_key(link) or link[1]
                if parent in ("relevant-evidence", "import-ssp"):
                    yield (link, key), value, ("resource",)
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        for n, prop in enumerate(_list(metadata.get("props"))):
            if isinstance(prop, dict) and prop.get("name") == "resolution-resource" and prop.get("ns") == FEDRAMP_NS:
                where = ((((None, ROOT), "metadata"), "props"), n)
                yield (where, "value"), str(prop.get("value", "")), ("resource",)


def _ssp_outside(body: dict[str, Any]) -> bool:
    """The document imports an SSP that lives outside it (a file, or a back-matter resource that
    links to one)."""
    ssp = body.get("import-ssp")
    if not isinstance(ssp, dict) or not isinstance(ssp.get("href"), str):
        return False
    href = ssp["href"]
    if not href.startswith("#"):
        return True
    for resource in _resources(body):
        if str(resource.get("uuid", "")).lower() == href[1:].lower():
            return not _has_type(resource, "no-oscal-ssp")
    return False


def _has_type(resource: dict[str, Any], value: str) -> bool:
    return any(
        isinstance(p, dict) and p.get("name") == "type" and p.get("value") == value
        for p in _list(resource.get("props"))
    )


def reference_problems(body: dict[str, Any], strict: bool = False) -> list[Problem]:
    """References that name nothing, or an object of another kind (`strict`: also those an
    imported SSP might define)."""
    with paused_gc():
        objects = _walk(body)
        defined = _index(body, objects)
        refs = list(_references(body, objects))
    outside = _ssp_outside(body) and not strict
    found = []
    for (link, *more), ref, kinds in refs:
        key = ref if ref.startswith("role:") else ref.removeprefix("#").lower()
        shown_ref = ref.removeprefix("role:")
        have = defined.get(key)
        wanted = " or ".join(kinds)
        if not have:
            if outside and set(kinds) <= _SSP_KINDS:
                continue  # may be defined in the imported SSP
            found.append(Problem(json_path(_path(link, *more)), shown_ref, f"names no {wanted} in this document"))
        elif not have & set(kinds):
            named = " and ".join(_article(k) for k in sorted(have))
            message = f"names {named}, not {' or '.join(_article(k) for k in kinds)}"
            found.append(Problem(json_path(_path(link, *more)), shown_ref, message))
    return found


def _article(kind: str) -> str:
    """The kind with its indefinite article: `an observation`, `a risk`."""
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def fedramp_problems(document: dict[str, Any]) -> list[Problem]:
    """FedRAMP's rules (see the module docstring)."""
    body = document[ROOT]
    found: list[Problem] = []
    for n, item in enumerate(_list(body.get("poam-items"))):
        if not isinstance(item, dict):
            continue
        risks = _list(item.get("related-risks"))
        if len(risks) != 1:
            found.append(
                Problem(
                    json_path([ROOT, "poam-items", n, "related-risks"]),
                    shown([r.get("risk-uuid") for r in risks if isinstance(r, dict)]) if risks else "",
                    f"a poam-item must name exactly one risk (FedRAMP); it names {len(risks)}",
                )
            )
    for n, risk in enumerate(_list(body.get("risks"))):
        if isinstance(risk, dict):
            found += _risk_problems(n, risk)
    found += reference_problems(body)
    found += _ssp_problems(body)
    return found


def _risk_problems(n: int, risk: dict[str, Any]) -> list[Problem]:
    here = [ROOT, "risks", n]
    found = []
    if not risk.get("deadline"):
        found.append(Problem(json_path([*here, "deadline"]), "", "a risk must have a deadline (FedRAMP)"))
    responses = [r for r in _list(risk.get("remediations")) if isinstance(r, dict)]
    planned = [i for i, r in enumerate(responses) if r.get("lifecycle") == "planned"]
    if not planned:
        found.append(
            Problem(
                json_path([*here, "remediations"]),
                shown([r.get("lifecycle") for r in responses]) if responses else "",
                "a risk must have a planned response (a remediation with lifecycle `planned`) (FedRAMP)",
            )
        )
    elif not any(_milestones(r.get("tasks")) for r in responses):
        found.append(
            Problem(
                json_path([*here, "remediations", planned[0], "tasks"]),
                "",
                "a risk's planned response must have at least one milestone (a task of type `milestone`) (FedRAMP)",
            )
        )
    return found


def _milestones(tasks: Any) -> int:
    count = 0
    for task in _list(tasks):
        if isinstance(task, dict):
            count += task.get("type") == "milestone"
            count += _milestones(task.get("tasks"))
    return count


def _ssp_problems(body: dict[str, Any]) -> list[Problem]:
    if isinstance(body.get("import-ssp"), dict):
        return []
    if any(_has_type(r, "no-oscal-ssp") for r in _resources(body)):
        return []
    return [
        Problem(
            json_path([ROOT]),
            "",
            "no `import-ssp` and no back-matter resource of type `no-oscal-ssp` (FedRAMP POA&M guide §3.5)",
        )
    ]
