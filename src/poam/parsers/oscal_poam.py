"""OSCAL Plan of Action and Milestones (1.0.x-1.2.x, JSON or XML) read into POA&M items.

`load` gives the document as JSON data (XML converted by `parsers.oscal_xml`, so the checks of
`exporters.oscal_checks` read either); `records` gives one `ImportedItem` per poam-item, mapped
the way poam exports (`exporters.oscal_parts`, the FedRAMP guide §4):

- POA&M id: the poam-item's FedRAMP `POAM-ID` prop, else `OSCAL-` and the first 8 characters of
  its uuid (NIST's example has none); the risk: the one the poam-item names; when that uuid names
  something else (NIST's example names a mitigating factor), the risk that cites the item's
  observation, with a warning.
- weakness: the risk's title and description; detector: the tool (component) of the finding
  observation, else its party, else the risk's characterization tool; source id: the tool
  actor's `vulnerability-id` (else `plugin-id`, else the risk's uuid); detection date: the
  observation's `collected`; scheduled completion: the risk's `deadline` (else its latest task);
  status: `closed` risks are closed, every other status open.
- rating: the FedRAMP facets (`risk`, else the lower of `likelihood` and `impact`: NIST SP
  800-30's three-level matrix), then any system's; `state` `adjusted` facets give the adjusted
  rating; CVEs from `cve-id` facets; controls, KEV and deviation/vendor props from the risk.
- plan, recommendation, point of contact, resources and milestones from the planned and
  recommendation responses; milestone changes, the last vendor check-in and the closure date
  from the risk log (and the status date from poam's `Status Date` entry, else the latest entry);
  comments from the poam-item's remarks; supporting documents from the
  observation's relevant evidence; Asset Identifier from the observation's subjects.

Everything else is kept in the item's `extra["oscal"]` (see `exporters.oscal_parts`): the
uuids, the objects the item cites (components, inventory items, parties, locations, back-matter
resources) and, for each top-level key of the poam-item and risk and for the list of
observations where the document differs from what poam makes of the item, both values, so that
export writes the document's value back while the item is unchanged. A value that cites what the
document does not define (or an object of another kind) is not kept, so poam's own is written and
its export resolves every reference.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from poam.domain.imported import ImportedItem
from poam.errors import InputError
from poam.exporters.oscal_checks import reference_problems
from poam.exporters.oscal_parts import Ids, kept_values, make_parts, make_uuid
from poam.exporters.oscal_poam import TITLE_SUFFIX
from poam.parsers import jsonio
from poam.parsers.oscal_columns import (
    SPECIAL_TYPES,
    Index,
    as_dict,
    as_list,
    columns,
    date_of,
    dicts,
    subject_names,
    text_of,
)
from poam.parsers.xmlsafe import prolog, strip_bom

ROOT = "plan-of-action-and-milestones"
HEAD = 64 * 1024
_DEFINITIONS = ("components", "inventory-items", "parties", "locations", "resources")


def looks_like(path: Path) -> bool:
    """The file is an OSCAL POA&M (JSON or XML), by its first bytes."""
    try:
        with path.open("rb") as f:
            data = strip_bom(f.read(HEAD))
    except OSError:
        return False
    root, _entities = prolog(data)
    if root == ROOT:
        return True
    return ROOT in jsonio.shape(data).keys


def load(path: Path) -> dict[str, Any]:
    """The POA&M document as JSON data (XML converted); InputError when it is not one."""
    source = str(path)
    try:
        with path.open("rb") as f:
            return load_stream(f, source)
    except OSError as exc:
        raise InputError(source, f"cannot read: {exc.strerror}") from None


def load_stream(stream: BinaryIO, source: str) -> dict[str, Any]:
    """`load` for an open binary stream."""
    start = stream.tell()
    data = strip_bom(stream.read(HEAD))
    stream.seek(start)
    root, _entities = prolog(data)
    if root is not None:
        from poam.parsers import oscal_xml

        document = oscal_xml.load(stream, source)
    else:
        document = jsonio.load(stream, source)
    if not isinstance(document, dict) or not isinstance(document.get(ROOT), dict):
        raise InputError(source, f"not an OSCAL POA&M (no `{ROOT}` object)")
    return document


def read(path: Path) -> tuple[list[ImportedItem], list[str]]:
    """The items of an OSCAL POA&M file and the warning lines (`where: problem`)."""
    return records(load(path))


def system_names(document: dict[str, Any]) -> tuple[str, ...]:
    """The names the document gives its system: its metadata title (poam's own title,
    `<name> FedRAMP Plan of Action and Milestones (POA&M)`, as `<name>`) and its `system-id`
    when that is a FedRAMP id (a UUID names no system a person would recognise)."""
    body = document[ROOT]
    names: list[str] = []
    title = " ".join(text_of(as_dict(body.get("metadata")).get("title")).split())
    if title:
        names.append(title.removesuffix(TITLE_SUFFIX) or title)
    system_id = as_dict(body.get("system-id"))
    if "fedramp.gov" in text_of(system_id.get("identifier-type")).lower() and text_of(system_id.get("id")):
        names.append(text_of(system_id.get("id")))
    return tuple(names)


def records(document: dict[str, Any]) -> tuple[list[ImportedItem], list[str]]:
    """One record per poam-item, and the warning lines; a value the document lacks and poam
    assumes (an observation's `collected` date, the risk's rating) is one warning line each."""
    body = document[ROOT]
    index = Index(body)
    modified = date_of(as_dict(body.get("metadata")).get("last-modified"))
    since = "the document's last-modified date"
    if modified is None:
        modified, since = dt.date.today(), "today: the document has no last-modified date"
    doc_uuid = text_of(body.get("uuid")) or "oscal"
    out: list[ImportedItem] = []
    warnings: list[str] = []
    broken = _broken(body, index)
    for n, given in enumerate(as_list(body.get("poam-items"))):
        where = f"poam-items[{n}]"
        if not isinstance(given, dict):
            warnings.append(f"{where}: not an object; left out")
            continue
        try:
            out.append(_record(given, where, index, (modified, since), doc_uuid, warnings, broken))
        except (ValueError, KeyError, TypeError) as exc:
            warnings.append(f"{where}: cannot be read ({exc}); left out")
    return out, warnings


def _risk_of(given: dict[str, Any], where: str, index: Index, warnings: list[str]) -> dict[str, Any] | None:
    named = [text_of(r.get("risk-uuid")) for r in dicts(given.get("related-risks"))]
    for uid in named:
        risk = index.get("risks", uid)
        if risk is not None:
            if len(named) > 1:
                warnings.append(f"{where}: names {len(named)} risks; the first that is a risk is read")
            return risk
    seen = {text_of(o.get("observation-uuid")).lower() for o in dicts(given.get("related-observations"))}
    for risk in index.kinds["risks"].values():
        cited = {text_of(o.get("observation-uuid")).lower() for o in dicts(risk.get("related-observations"))}
        if cited & seen:
            what = "names no risk" if not named else f"risk-uuid {named[0]} names no risk"
            warnings.append(f"{where}: {what}; read the risk {risk.get('uuid')} that cites its observation")
            return risk
    warnings.append(f"{where}: names no risk; read from the poam-item alone")
    return None


_PLACE = re.compile(r"^\$\.plan-of-action-and-milestones\.(poam-items|risks|observations)\[(\d+)\]\.([a-z-]+)")
_DEFINED_AT = re.compile(r"^\$\.plan-of-action-and-milestones\.(?:metadata|local-definitions|back-matter)\.")


def _broken(body: dict[str, Any], index: Index) -> set[tuple[str, str]]:
    """What cites an object this document does not define (or one of another kind): (`poam-item`
    uuid or `risk` uuid, key), (`observation`, uuid) and (`definition`, uuid). Such values are not
    kept: poam's own are written instead, so that its export resolves every reference."""
    found: set[tuple[str, str]] = set()
    lists = {k: as_list(body.get(k)) for k in ("poam-items", "risks", "observations")}
    for problem in reference_problems(body, strict=True):
        m = _PLACE.match(problem.path)
        if m:
            obj = lists[m.group(1)][int(m.group(2))]
            uid = text_of(obj.get("uuid")).lower() if isinstance(obj, dict) else ""
            if m.group(1) == "observations":
                found.add(("observation", uid))
            else:
                found.add((m.group(1), f"{uid} {m.group(3)}"))
        elif _DEFINED_AT.match(problem.path):
            found |= {("definition", u) for u in _owners(body, problem.path)}
    return found


def _owners(body: dict[str, Any], path: str) -> set[str]:
    """The uuids of the objects on a JSON path (the definitions holding a bad reference)."""
    node: Any = {ROOT: body}
    owners = set()
    for part in re.findall(r"\.([a-z-]+)|\[(\d+)\]", path):
        key, number = part
        node = (
            node.get(key) if key and isinstance(node, dict) else node[int(number)] if isinstance(node, list) else None
        )
        if isinstance(node, dict) and text_of(node.get("uuid")):
            owners.add(text_of(node.get("uuid")).lower())
    return owners


def _record(
    given: dict[str, Any],
    where: str,
    index: Index,
    modified: tuple[dt.date, str],
    doc_uuid: str,
    warnings: list[str],
    broken: set[tuple[str, str]],
) -> ImportedItem:
    """One poam-item's record; `modified` is the date read for a missing date and what it is."""
    risk = _risk_of(given, where, index, warnings) or {}
    observations = []
    for ref in dicts(given.get("related-observations")):
        obs = index.get("observations", ref.get("observation-uuid"))
        if obs is None:
            warnings.append(f"{where}: observation {text_of(ref.get('observation-uuid'))} is not in the document")
        else:
            observations.append(obs)
    main = next((o for o in observations if "finding" in as_list(o.get("types"))), None)
    main = main or next((o for o in observations if not set(as_list(o.get("types"))) & SPECIAL_TYPES), None)
    main = main or (observations[0] if observations else {})
    uuids: dict[str, str] = {}
    missing: list[str] = []
    item = columns(given, risk, main, observations, index, modified[0], uuids, missing)
    if "collected" in missing:
        warnings.append(
            f"{where}: no observation `collected` date; Original Detection Date read as "
            f"{item.detection_date.isoformat()} ({modified[1]})"
        )
    if "rating" in missing:
        warnings.append(
            f"{where}: no rating on its risk (no risk, severity, likelihood or impact facet); "
            f"Original Risk Rating read as {item.original_risk.value}"
        )
    asset_text = "\n".join(subject_names(main, index, uuids, "asset-text")) or None
    item = dataclasses.replace(item, asset_text=asset_text)
    ids = _ImportIds("", item, given={k: v for k, v in uuids.items() if v}, doc_uuid=doc_uuid)
    made = make_parts(item, lambda ref: make_uuid(doc_uuid, "asset", ref), ids)
    kept: dict[str, Any] = {}
    for key, kind, mine, theirs in (
        ("poam-item", "poam-items", made.poam_item, given),
        ("risk", "risks", made.risk, risk),
    ):
        uid = text_of(theirs.get("uuid")).lower()
        diff = {k: v for k, v in kept_values(theirs, mine).items() if (kind, f"{uid} {k}") not in broken}
        if diff:
            kept[key] = diff
    bad_observations = any(("observation", text_of(o.get("uuid")).lower()) in broken for o in observations)
    if observations != made.observations and not bad_observations:
        kept["observations"] = [observations, made.observations]
    cited = [given, risk, *observations]
    definitions = {
        kind: [o for o in objs if ("definition", text_of(o.get("uuid")).lower()) not in broken]
        for kind, objs in _definitions(cited, index).items()
    }
    extra = {"uuids": dict(ids.made), "definitions": definitions, "kept": kept}
    return ImportedItem(item, where, asset_text, {"oscal": extra})


@dataclass
class _ImportIds(Ids):
    """The uuids of the document, and for objects poam makes that the document lacks, stable ones
    made from the document's uuid (so the same document always gives the same)."""

    doc_uuid: str = ""

    def default(self, key: str, *parts: str) -> str:
        return make_uuid("oscal-import", self.doc_uuid, "-".join((key, *parts)), self.item.poam_id)


def _definitions(cited: list[dict[str, Any]], index: Index) -> dict[str, list[dict[str, Any]]]:
    """The document's objects these objects cite (by uuid, `#uuid` links included), and those they
    cite in turn."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    todo = list(cited)
    while todo:
        node = todo.pop()
        for value in _strings(node):
            key = value.removeprefix("#").lower()
            for kind in _DEFINITIONS:
                found = index.kinds[kind].get(key)
                if found is not None and key not in out.setdefault(kind, {}):
                    out[kind][key] = found
                    todo.append(found)
    return {kind: list(objs.values()) for kind, objs in out.items() if objs}


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uuid":
                continue
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str) and 36 <= len(node) <= 37:
        yield node
