"""OSCAL assessment-results (1.0.x/1.1.x) in JSON, XML or YAML.

Each result's risks are the weaknesses: one finding per risk and subject asset, with the risk's
uuid as the vulnerability id (OSCAL asks producers to keep a risk's uuid for the same risk across
revisions, and an OSCAL POA&M item points at it). A finding that names no risk stands on its own
uuid. Status: a risk whose status is `closed`, or whose findings' targets are all `satisfied`,
is FIXED; otherwise OPEN (open, investigating, remediating and deviations stay open: the POA&M
tracks them). A risk status OSCAL does not define is read as set aside when it says so
(`false-positive`, `accepted`...: left out) and as open otherwise, with a warning; an unknown
target state counts as not satisfied, with a warning. A result that is not an object, a risk or
finding without uuid (or with one longer than 200 characters) is left out with a warning.

Dates: a record is dated by its newest observation (`collected`) or risk-log entry (`start`,
`end`), else its result's `end` (else `start`, else the document's `last-modified`), else
`--scan-date`, else the file's modification time. When several results of the file report one
risk for one subject, the newest record decides (on equal times, the open one). A JSON file may
hold several documents, written one after another or one per line: one import.

Controls come from the findings' targets (`ac-6.1_obj`, `ac-2_smt.a` -> `AC-6(1)`, `AC-2`).
Severity comes from the risk's characterization facets (`risk`/`severity`, else the lower of
`likelihood` and `impact`), else medium. Assets are the observations' subjects: an inventory
item with a host identifier (fqdn, ipv4-address, mac-address...) is a HOST; other items and
components are OTHER assets named by the component title or `component <uuid>`; a result naming
none falls back to `--asset`, else `assessed system`. The tool is the assessor (organization of
the party in the `assessor` role), else `OSCAL assessment results`. An assessment's control
findings are not configuration-baseline deviations: they go on the main POA&M sheet (is_config
False).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import yaml
from lxml import etree

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.stig_ckl import Results, evidence, host_asset
from poam.parsers.xmlsafe import iterparse

DEFAULT_TOOL = "OSCAL assessment results"
FALLBACK_ASSET = "assessed system"
MAX_YAML = 32 * 1024 * 1024
OSCAL_NS = "http://csrc.nist.gov/ns/oscal/1.0"
_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
_PLURAL = {  # XML element -> JSON array key, for the parts this parser reads
    "role": "roles",
    "party": "parties",
    "responsible-party": "responsible-parties",
    "party-uuid": "party-uuids",
    "member-of-organization": "member-of-organizations",
    "result": "results",
    "observation": "observations",
    "risk": "risks",
    "finding": "findings",
    "subject": "subjects",
    "method": "methods",
    "type": "types",
    "related-observation": "related-observations",
    "associated-risk": "related-risks",
    "relevant-evidence": "relevant-evidence",
    "characterization": "characterizations",
    "facet": "facets",
    "response": "remediations",
    "prop": "props",
    "link": "links",
    "component": "components",
    "inventory-item": "inventory-items",
}
_MARKUP = {"title", "description", "statement", "remarks"}
_YAML_TOP = re.compile(r"^(?:---\s*\n|#[^\n]*\n|\s*\n)*assessment-results\s*:", re.MULTILINE)
_CONTROL = re.compile(r"^([a-z]{2})-(\d+)(?:\.(\d+))?$", re.IGNORECASE)
_HOST_PROPS = {"fqdn", "ipv4-address", "ipv6-address", "mac-address", "netbios-name"}
_RISK_OPEN = {"open", "investigating", "remediating", "deviation-requested", "deviation-approved"}
_TARGET_STATES = {"satisfied", "not-satisfied"}
MAX_ID = 200


def control_id(target_id: str) -> str | None:
    """The control of a statement or objective id: `ac-6.1_obj` -> `AC-6(1)`, `ac-2_smt.a` -> `AC-2`."""
    base = target_id.strip().split("_", 1)[0]
    m = _CONTROL.match(base)
    if not m:
        return base.upper() or None
    family, number, enhancement = m.groups()
    return f"{family.upper()}-{int(number)}" + (f"({int(enhancement)})" if enhancement else "")


def _xml_value(el: etree._Element) -> Any:
    """An OSCAL XML element as its JSON form (for the parts read here)."""
    name = etree.QName(el).localname
    kids = [c for c in el if isinstance(c.tag, str)]
    if name in _MARKUP:
        blocks = (
            [" ".join("".join(t for t in c.itertext() if isinstance(t, str)).split()) for c in kids]
            if kids
            else [" ".join((el.text or "").split())]
        )
        return "\n\n".join(b for b in blocks if b)
    if not el.attrib and not kids:
        return (el.text or "").strip()
    out: dict[str, Any] = {str(k): v for k, v in el.attrib.items()}
    for c in kids:
        key = etree.QName(c).localname
        if key in _PLURAL:
            out.setdefault(_PLURAL[key], []).append(_xml_value(c))
        else:
            out[key] = _xml_value(c)
    return out


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


class OscalAssessmentResultsParser:
    """Reader of OSCAL assessment-results documents."""

    id = "oscal-ar"
    name = "OSCAL assessment results (JSON, XML, YAML)"
    maps_to = "one finding per risk (else finding) and subject asset; closed risks and satisfied targets close it"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """JSON with an `assessment-results` key, XML with that root, or YAML starting with it."""
        if head.json.kind == "object":
            return "assessment-results" in head.json.keys
        if head.xml_root is not None:
            return head.xml_root == "assessment-results" and OSCAL_NS in head.text
        return bool(_YAML_TOP.match(head.text))

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the document (or each of several JSON documents written one after another or one
        per line); yield coverage per result and subject, the findings and one scan."""
        found = Results()
        covered: list[Coverage] = []
        windows: list[dt.datetime] = []
        tools: list[str] = []
        titles: list[str] = []
        for n, doc in enumerate(self._load(stream, ctx), start=1):
            where = f"document {n}: " if n > 1 else ""
            ar = doc.get("assessment-results") if isinstance(doc, dict) else None
            if not isinstance(ar, dict):
                raise InputError(
                    ctx.source, f"{where}not an OSCAL assessment-results document (no assessment-results object)"
                )
            results = ar.get("results")
            if not isinstance(results, list):
                raise InputError(ctx.source, f"{where}assessment-results has no results array")
            meta = ar.get("metadata")
            metadata: dict[str, Any] = meta if isinstance(meta, dict) else {}
            tool = _assessor(metadata)
            tools.append(tool)
            titles.append(_str(metadata.get("title"))[:500])
            for m, result in enumerate(results):
                if not isinstance(result, dict):
                    ctx.skip(f"{where}results[{m}]", "not an object")
                    continue
                defs = _definitions(ar.get("local-definitions"), result.get("local-definitions"))
                start, end = common.parse_time(result.get("start")), common.parse_time(result.get("end"))
                windows += [t for t in (start, end) if t]
                dating = _Dating(end or start or common.parse_time(metadata.get("last-modified")), ctx)
                assets = self._result(result, defs, tool, dating, found, ctx, f"{where}results[{m}]")
                other = tool if tool != tools[0] else None
                covered += [Coverage(a, start or dating(), end or dating(), None, Checks.ALL, other) for a in assets]
        yield from dict.fromkeys(covered)
        yield from found
        yield Scan(
            tools[0], None, titles[0] or None, min(windows) if windows else None, max(windows) if windows else None
        )

    def _load(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Any]:
        start = stream.tell()
        first = stream.read(1024).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        stream.seek(start)
        if first == b"{":
            yield from jsonio.documents(stream, ctx.source)
            return
        if first == b"<":
            for _event, el in iterparse(stream, ctx.source, ("{*}assessment-results",)):
                if el.getparent() is None:
                    yield {"assessment-results": _xml_value(el)}
                    return
            raise InputError(ctx.source, "XML root element is not assessment-results")
        yield self._yaml(stream, ctx)

    def _yaml(self, stream: BinaryIO, ctx: ParseContext) -> Any:
        data = stream.read(MAX_YAML + 1)
        if len(data) > MAX_YAML:
            raise InputError(ctx.source, f"YAML document larger than {MAX_YAML // (1024 * 1024)} MiB")
        try:
            text = data.decode("utf-8-sig")
            if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=yaml.SafeLoader)):
                raise InputError(ctx.source, "YAML aliases are not accepted")
            return yaml.safe_load(text)
        except UnicodeDecodeError as exc:
            raise InputError(ctx.source, f"not UTF-8 text (byte {exc.start})") from None
        except yaml.YAMLError as exc:
            raise InputError(ctx.source, f"not valid YAML: {str(exc).splitlines()[0]}") from None
        except RecursionError:
            raise InputError(ctx.source, "YAML nested too deeply") from None

    def _result(
        self,
        result: dict[str, Any],
        defs: dict[tuple[str, str], dict[str, Any]],
        tool: str,
        when: _Dating,
        found: Results,
        ctx: ParseContext,
        where: str,
    ) -> list[Asset]:
        observations = {_str(o.get("uuid")): o for o in _dicts(result.get("observations"))}
        risks = {_str(r.get("uuid")): r for r in _dicts(result.get("risks"))}
        findings = _dicts(result.get("findings"))
        by_risk: dict[str, list[dict[str, Any]]] = {}
        alone: list[dict[str, Any]] = []
        for f in findings:
            refs = [_str(r.get("risk-uuid")) for r in _dicts(f.get("related-risks"))]
            refs = [r for r in refs if r in risks]
            for r in refs:
                by_risk.setdefault(r, []).append(f)
            if not refs:
                alone.append(f)
        fallback = Asset(kind=AssetKind.OTHER, name=ctx.asset_name or FALLBACK_ASSET)
        all_assets: dict[Asset, None] = {}
        units: list[tuple[str, dict[str, Any] | None, list[dict[str, Any]]]]
        units = [(uuid, risk, by_risk.get(uuid, [])) for uuid, risk in risks.items()]
        units += [(_str(f.get("uuid")), None, [f]) for f in alone]
        for vuln_id, risk, related in units:
            record = f"{where} {'risk' if risk is not None else 'finding'}" + (f" {vuln_id[:60]}" if vuln_id else "")
            if not vuln_id:
                ctx.skip(record, "no uuid")
                continue
            if len(vuln_id) > MAX_ID:
                ctx.skip(record, f"uuid longer than {MAX_ID} characters")
                continue
            status = _status(risk, related, ctx, record)
            if status is None:
                continue
            obs_ids = [
                _str(o.get("observation-uuid"))
                for x in [risk or {}, *related]
                for o in _dicts(x.get("related-observations"))
            ]
            obs = [observations[i] for i in dict.fromkeys(obs_ids) if i in observations]
            assets = list(dict.fromkeys(a for o in obs for a in _subjects(o, defs))) or [fallback]
            seen = [t for o in obs if (t := common.parse_time(o.get("collected")))] + _logged(risk)
            weakness = _weakness(tool, vuln_id, risk, related)
            text = evidence(
                *[
                    ("Observation", "\n".join(p for p in (_str(o.get("title")), _str(o.get("remarks"))) if p))
                    for o in obs
                ],
                *[("Finding", _str(f.get("title"))) for f in related if risk is not None],
                ("Risk status", _str(risk.get("status")) if risk else ""),
            )
            for asset in assets:
                all_assets[asset] = None
                found.add(Finding(weakness, asset, max(seen) if seen else when(), evidence=text, status=status))
        for o in observations.values():
            for a in _subjects(o, defs):
                all_assets[a] = None
        return list(all_assets) or [fallback]


def _assessor(metadata: dict[str, Any]) -> str:
    """The organization of the party in the `assessor` role (or that party), else the default."""
    parties = {_str(p.get("uuid")): p for p in _dicts(metadata.get("parties"))}
    for rp in _dicts(metadata.get("responsible-parties")):
        if _str(rp.get("role-id")).lower() not in ("assessor", "assessment-team", "assessment-lead"):
            continue
        for uuid in _list(rp.get("party-uuids")):
            party = parties.get(_str(uuid))
            if party is None:
                continue
            orgs = [parties[_str(o)] for o in _list(party.get("member-of-organizations")) if _str(o) in parties]
            for candidate in [*orgs, party] if _str(party.get("type")) == "person" else [party]:
                name = _str(candidate.get("name"))
                if name:
                    return name[:200]
    return DEFAULT_TOOL


def _definitions(*sources: object) -> dict[tuple[str, str], dict[str, Any]]:
    """Components and inventory items by (type, uuid), from document and result local-definitions."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for source in sources:
        if isinstance(source, dict):
            for kind, key in (("component", "components"), ("inventory-item", "inventory-items")):
                for item in _dicts(source.get(key)):
                    out[(kind, _str(item.get("uuid")))] = item
    return out


def _subjects(observation: dict[str, Any], defs: dict[tuple[str, str], dict[str, Any]]) -> list[Asset]:
    """The assets an observation is about: its component and inventory-item subjects."""
    out = []
    for s in _dicts(observation.get("subjects")):
        kind, uuid = _str(s.get("type")), _str(s.get("subject-uuid"))
        if kind not in ("component", "inventory-item") or not uuid:
            continue
        item = defs.get((kind, uuid))
        asset = None
        if item is not None and kind == "inventory-item":
            props: dict[str, list[str]] = {}
            for p in _dicts(item.get("props")):
                props.setdefault(_str(p.get("name")), []).append(_str(p.get("value")))
            if _HOST_PROPS & set(props):
                names = props.get("netbios-name") or props.get("fqdn") or [""]
                asset = host_asset(
                    names[0],
                    props.get("ipv4-address", []) + props.get("ipv6-address", []),
                    props.get("fqdn", []),
                    props.get("mac-address", []),
                )
            if asset is None and props.get("asset-id"):
                asset = Asset(kind=AssetKind.OTHER, name=props["asset-id"][0])
        elif item is not None and _str(item.get("title")):
            asset = Asset(kind=AssetKind.OTHER, name=_str(item.get("title")))
        out.append(asset or Asset(kind=AssetKind.OTHER, name=f"{kind} {uuid}"))
    return out


def _severity(risk: dict[str, Any] | None) -> Severity:
    facets: dict[str, Severity] = {}
    for c in _dicts(risk.get("characterizations")) if risk else []:
        for f in _dicts(c.get("facets")):
            level = common.severity_word(_str(f.get("value")))
            if level is not None and level is not Severity.INFO:
                facets.setdefault(_str(f.get("name")).lower(), level)
    for name in ("risk", "severity", "risk-level"):
        if name in facets:
            return facets[name]
    known = [facets[n] for n in ("likelihood", "impact") if n in facets]
    return min(known, key=lambda s: _RANK[s]) if known else Severity.MEDIUM


def _status(
    risk: dict[str, Any] | None, related: list[dict[str, Any]], ctx: ParseContext, record: str
) -> FindingStatus | None:
    """Closed risks and all-satisfied targets are FIXED, other documented states OPEN; a risk
    status or target state OSCAL does not define is read as set aside when it says so (None:
    left out) and as open otherwise, with a warning."""
    if risk is not None:
        word = _str(risk.get("status")).lower()
        if word == "closed":
            return FindingStatus.FIXED
        if word not in _RISK_OPEN:
            if common.dismissed(word):
                ctx.warn(record, f"risk status {word[:40]!r} is not an OSCAL status; read as set aside and left out")
                return None
            common.odd_status(ctx, record, risk.get("status"))
    states = [_str((f.get("target") or {}).get("status", {}).get("state")) for f in related if _target_ok(f)]
    for state in dict.fromkeys(s for s in states if s not in _TARGET_STATES):
        ctx.warn(record, f"target state {state[:40]!r} not recognised; read as not satisfied")
    if states and all(s == "satisfied" for s in states):
        return FindingStatus.FIXED
    return FindingStatus.OPEN


def _logged(risk: dict[str, Any] | None) -> list[dt.datetime]:
    """The times of a risk's log entries (`risk-log.entries[].start/end`): when its status changed."""
    log = risk.get("risk-log") if risk is not None else None
    entries = _dicts(log.get("entries")) if isinstance(log, dict) else []
    return [t for e in entries for key in ("start", "end") if (t := common.parse_time(e.get(key)))]


class _Dating:
    """The time of a result's records that give none of their own: the result's end (else start,
    else the document's last-modified), else `ctx.fallback_time()`, asked only when needed."""

    def __init__(self, own: dt.datetime | None, ctx: ParseContext) -> None:
        self.own, self.ctx = own, ctx

    def __call__(self) -> dt.datetime:
        if self.own is None:
            self.own = self.ctx.fallback_time()
        return self.own


def _target_ok(finding: dict[str, Any]) -> bool:
    target = finding.get("target")
    return isinstance(target, dict) and isinstance(target.get("status"), dict)


def _weakness(tool: str, vuln_id: str, risk: dict[str, Any] | None, related: list[dict[str, Any]]) -> Weakness:
    targets = [f["target"] for f in related if isinstance(f.get("target"), dict)]
    controls = [c for t in targets if (c := control_id(_str(t.get("target-id"))))]
    first = related[0] if related else {}
    source = risk if risk is not None else first
    remedies = [
        "\n".join(p for p in (_str(r.get("title")), _str(r.get("description"))) if p)
        for r in _dicts(risk.get("remediations") if risk else None)
    ]
    description = "\n\n".join(p for p in (_str(source.get("description")), _str(source.get("statement"))) if p)
    return Weakness(
        tool=tool,
        vuln_id=vuln_id,
        name=_str(source.get("title")) or _str(first.get("title")) or vuln_id,
        severity=_severity(risk),
        synopsis=_str(first.get("title")) or None if risk is not None else None,
        description=description or None,
        solution="\n\n".join(r for r in remedies if r) or None,
        controls=tuple(dict.fromkeys(controls)),
        is_config=False,
    )
