"""CycloneDX BOMs with vulnerabilities (VDR/VEX), JSON and XML, specification 1.2 to 1.6, including
the vulnerability extension of 1.0-1.3 XML BOMs (`xmlns:v=".../ext/vulnerability/1.0"`,
vulnerabilities nested in their component or at the BOM's end with a `ref`).

One finding per vulnerability and affected component: id the vulnerability's `id`; path the
component's name (`log4j-core`), its version and purl go to the evidence, so an upgrade keeps the
finding's identity. Components are looked up by `bom-ref` (or purl) at any depth; an `affects`
ref that names no component gives the purl's name, else the finding is asset-wide. Severity is
the rating of the vulnerability's own source, else NVD's, else the first word given, else the
band of the CVSS v3/v4/v2 score; CVSS by `method` (CVSSv2, CVSSv3, CVSSv31, CVSSv4). A VEX
`analysis.state` of not_affected, resolved or resolved_with_pedigree (a VEX conclusion) is a FIXED
finding; false_positive is SET ASIDE: a claim a person must approve (a deviation), not a fix, so
an open finding stays open and none is opened from it; exploitable, in_triage or none is open.

The asset is `metadata.component`: a `container` is an image by its repository without tag,
anything else a repository named `group:name`. Without it, `--asset`, else a fallback name
without coverage. The tool is the first of `metadata.tools` (as written: `grype`, `trivy`), else
`CycloneDX`. The BOM covers its asset (checks: vulnerabilities) when it names one and lists
components: a VEX-only BOM, without components, is not a scan and closes nothing by absence.

A BOM without any vulnerabilities element is a plain SBOM: it says nothing about weaknesses,
and importing it as a clean scan would be wrong, so it is refused. An empty `vulnerabilities`
list, or a 1.0-1.3 XML BOM that declares the vulnerability extension, is a scan without findings.
JSON is read whole (`jsonio.documents`): a file may hold several BOMs written one after another
or one per line, each with its own subject and time (a plain SBOM among them is left out with a
warning), imported as one scan. XML is streamed, keeping only a name per component.

Dates: `metadata.timestamp`, else `--scan-date`, else the file's modification time. Lenient on
values: an `analysis.state` CycloneDX does not define is read as set aside when it says so
(`suppressed`...: an open finding stays open, none is opened) and as open otherwise, with a
warning; a severity word it does not define is rated by the CVSS score (else Low), with a
warning; a vulnerability that is not an object, has no id or one longer than 200 characters is
left out with a warning, and its BOM then gives no coverage (nothing is closed by its absence).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from lxml import etree

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import Warner
from poam.parsers.sca import UNNAMED, Collector, as_dict, text
from poam.parsers.xmlsafe import iterparse, release

TOOL = "CycloneDX"
_BOM_NS = "http://cyclonedx.org/schema/bom/"
_EXT_NS = "http://cyclonedx.org/schema/ext/vulnerability/"
_FIXED = {"not_affected", "resolved", "resolved_with_pedigree"}
_SET_ASIDE = {"false_positive"}
"""A false-positive claim is a deviation a person must approve: set aside, never a fix."""
_OPEN = {"", "exploitable", "in_triage"}
MAX_ID = 200
_METHODS = {"cvssv2": 2, "cvssv3": 3, "cvssv31": 3, "cvssv4": 4, "cvssv40": 4}
_NOT_INVENTORY = {"tools", "metadata"}  # parents of components that are the subject or a tool


@dataclass(frozen=True)
class _Component:
    name: str
    version: str | None = None
    purl: str | None = None
    group: str | None = None
    kind: str | None = None


@dataclass
class _Vuln:
    """A vulnerability as either syntax gives it."""

    id: str | None
    source: str | None = None
    source_url: str | None = None
    refs: list[str] = field(default_factory=list)
    ratings: list[dict[str, str | None]] = field(default_factory=list)
    cwes: list[str] = field(default_factory=list)
    description: str | None = None
    recommendation: str | None = None
    links: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    analysis: dict[str, str | None] = field(default_factory=dict)
    within: _Component | None = None


class _Bom:
    """What is known while reading one BOM: its subject, tool, time, components and findings."""

    def __init__(self, ctx: ParseContext, where: str = "") -> None:
        self.ctx = ctx
        self.where = where
        self.components: dict[str, _Component] = {}
        self.subject: _Component | None = None
        self.tool: tuple[str, str | None] | None = None
        self.when: dt.datetime | None = None
        self.found = Collector()
        self.drafts: dict[str, tuple[_Vuln, Severity]] = {}
        self.has_components = False
        self.count = 0
        self.incomplete = False
        """A vulnerability could not be read: the BOM then covers nothing (closes nothing by absence)."""
        self.dated: dt.datetime | None = None
        """The BOM's time once a record took it (its own, else the file's fallback time)."""

    def add_component(self, c: _Component, *keys: str | None) -> None:
        self.has_components = True
        for key in keys:
            if key:
                self.components.setdefault(key, c)

    def time(self) -> dt.datetime:
        """`metadata.timestamp`, else `ctx.fallback_time()` (asked only when a record needs it)."""
        if self.dated is None:
            self.dated = self.when or self.ctx.fallback_time()
        return self.dated

    def skip(self, record: str, problem: str) -> None:
        self.ctx.skip(record, problem)
        self.incomplete = True

    def add(self, v: _Vuln) -> None:
        self.count += 1
        record = f"{self.where}vulnerability {self.count}" + (f" ({v.id[:60]})" if v.id else "")
        if not v.id:
            self.skip(record, "no id")
            return
        if len(v.id) > MAX_ID:
            self.skip(record, f"id longer than {MAX_ID} characters")
            return
        state = (v.analysis.get("state") or "").lower()
        if state in _FIXED:
            status = FindingStatus.FIXED
        elif state in _SET_ASIDE:
            status = FindingStatus.SET_ASIDE
        elif state in _OPEN:
            status = FindingStatus.OPEN
        elif common.dismissed(state):
            self.ctx.warn(record, f"analysis state {state[:40]!r} is not a CycloneDX state; read as set aside")
            status = FindingStatus.SET_ASIDE
        else:
            self.ctx.warn(record, f"analysis state {state[:40]!r} not recognised; kept open")
            status = FindingStatus.OPEN
        note = "; ".join(f"{k} {val}" for k, val in v.analysis.items() if val)
        targets: list[tuple[str | None, str | None]] = []
        for ref in [] if v.within else v.refs:
            c = self.components.get(ref)
            if c is None:
                targets.append((sca.purl_name(ref), f"affects {ref}"))
            else:
                targets.append((c.name, _describe(c)))
        if v.within:
            targets.append((v.within.name, _describe(v.within)))
        for path, evidence in targets or [(None, None)]:
            self.found.add(v.id, path, status, "; ".join(p for p in (evidence, note and f"analysis: {note}") if p))
        rated = _rate(v, self.ctx, record)[0]
        known = self.drafts.get(v.id)
        self.drafts[v.id] = (known[0] if known else v, sca.worse(known[1], rated) if known else rated)

    def records(self, file_tool: str) -> Iterator[Coverage | Finding]:
        """The BOM's coverage (when it names its subject, lists components and every
        vulnerability could be read) and its findings."""
        ctx = self.ctx
        subject = self.subject
        if subject and subject.kind == "container":
            name = sca.image_repository(subject.name)
            asset = Asset(AssetKind.CONTAINER_IMAGE, name=name or ctx.asset_name or UNNAMED)
        else:
            name = (f"{subject.group}:{subject.name}" if subject.group else subject.name) if subject else None
            asset = Asset(AssetKind.REPOSITORY, name=name or ctx.asset_name or UNNAMED)
        tool = self.tool_name()
        if (name or ctx.asset_name) and self.has_components and not self.incomplete:
            yield Coverage(
                asset, self.time(), self.time(), None, Checks.VULNERABILITY, tool if tool != file_tool else None
            )
        weaknesses = {vid: _weakness(tool, vid, v, rated) for vid, (v, rated) in self.drafts.items()}
        for s in self.found.sightings.values():
            evidence = sca.join_evidence(s.evidence)
            yield Finding(weaknesses[s.vuln_id], asset, self.time(), evidence=evidence, status=s.status, path=s.path)

    def tool_name(self) -> str:
        return self.tool[0][:200] if self.tool else TOOL


class CycloneDxParser:
    """Reader of CycloneDX vulnerability reports (VDR) and VEX, JSON and XML."""

    id = "cyclonedx"
    name = "CycloneDX BOM with vulnerabilities (VDR/VEX), JSON or XML, 1.2-1.6"
    maps_to = "one finding per vulnerability and affected component; the BOM's subject is the asset"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """JSON with `bomFormat: CycloneDX`, or XML `<bom>` in a CycloneDX namespace."""
        if head.xml_root is not None:
            return head.xml_root == "bom" and _BOM_NS in head.text
        return head.json.kind == "object" and "bomFormat" in head.json.keys and '"CycloneDX"' in head.text

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the BOM (JSON whole, XML streamed; a JSON file may hold several BOMs written one
        after another or one per line), then yield coverage, findings and one scan."""
        here = stream.tell()
        start = stream.read(1024).lstrip(b"\xef\xbb\xbf \t\r\n")
        stream.seek(here)
        boms: list[_Bom] = []
        plain: list[int] = []
        if start.startswith(b"<"):
            bom = _Bom(ctx)
            if _xml(stream, bom):
                boms.append(bom)
        else:
            for n, doc in enumerate(jsonio.documents(stream, ctx.source), start=1):
                bom = _Bom(ctx, f"document {n}: " if n > 1 else "")
                if _json(doc, bom):
                    boms.append(bom)
                else:
                    plain.append(n)
        if not boms:
            raise InputError(ctx.source, "SBOM without vulnerabilities: nothing to import")
        for n in plain:  # a plain SBOM says nothing about weaknesses: it covers nothing
            ctx.warn(f"document {n}", "an SBOM without vulnerabilities; left out")
        file_tool = boms[0].tool_name()
        for bom in boms:
            yield from bom.records(file_tool)
        times = [b.dated for b in boms if b.dated is not None] or [b.when for b in boms if b.when is not None]
        names = list(dict.fromkeys(b.subject.name for b in boms if b.subject))
        version = boms[0].tool[1] if boms[0].tool else None
        first, last = (min(times), max(times)) if times else (None, None)
        yield Scan(file_tool, version, ", ".join(names)[:500] or None, first, last)


def _describe(c: _Component) -> str:
    return f"{c.name} {c.version or '(version unknown)'}" + (f" ({c.purl})" if c.purl else "")


def _rate(
    v: _Vuln, ctx: Warner | None = None, record: str = ""
) -> tuple[Severity, dict[int, tuple[float | None, str | None]]]:
    """Severity and CVSS per version: own source's rating first, then NVD's, then the others. A
    severity word CycloneDX does not define is warned about (with `ctx`) and read past."""
    own = (v.source or "").lower()

    def rank(r: dict[str, str | None]) -> int:
        src = (r.get("source") or "").lower()
        return 0 if own and src == own else 1 if "nvd" in src else 2

    ordered = sorted(v.ratings, key=rank)
    scores: dict[int, tuple[float | None, str | None]] = {}
    for r in ordered:
        version = _METHODS.get((r.get("method") or "").lower().replace(".", ""))
        if version is None or version in scores:
            continue
        vector = r.get("vector")
        if version == 2:
            vector = cvss.clean_v2((vector or "").strip("()") or None)
        elif version == 3:
            vector = sca.v3_vector(vector, "3.1" if (r.get("method") or "").endswith("31") else "3.0")
        elif vector and not vector.upper().startswith("CVSS:4"):
            vector = f"CVSS:4.0/{vector}"
        scores[version] = (cvss.fill(version, sca.score(r.get("score")), vector), vector)
    words = [r.get("severity") for r in ordered if (r.get("severity") or "").lower() not in {"", "unknown"}]
    picked = {k: scores.get(k, (None, None)) for k in (2, 3, 4)}
    rated = sca.severity(words[0] if words else None, picked[3][0], picked[4][0], picked[2][0])
    if ctx is not None and words and common.severity_word(words[0]) is None:
        ctx.warn(record, f"severity {str(words[0])[:40]!r} not recognised; rated {rated.value}")
    return rated, picked


def _weakness(tool: str, vuln_id: str, v: _Vuln, rated: Severity) -> Weakness:
    scores = _rate(v)[1]
    return Weakness(
        tool=tool,
        vuln_id=vuln_id,
        name=vuln_id,
        severity=rated,
        family=v.source,
        description=v.description,
        solution=v.recommendation,
        see_also="\n".join(dict.fromkeys(u for u in (v.source_url, *v.links) if u)) or None,
        cvss2_score=scores[2][0],
        cvss2_vector=scores[2][1],
        cvss3_score=scores[3][0],
        cvss3_vector=scores[3][1],
        cvss4_score=scores[4][0],
        cvss4_vector=scores[4][1],
        cves=common.cves_in(vuln_id, v.aliases),
        cwes=common.cwes_in(v.cwes),
    )


# --- JSON ------------------------------------------------------------------------------------


def _json(doc: object, bom: _Bom) -> bool:
    """Read one JSON BOM; False when it has no vulnerabilities element (a plain SBOM)."""
    source = bom.ctx.source
    if not isinstance(doc, dict) or text(doc.get("bomFormat")) != "CycloneDX":
        raise InputError(source, f"{bom.where}not a CycloneDX JSON BOM (no bomFormat CycloneDX)")
    meta = as_dict(doc.get("metadata"))
    bom.when = common.parse_time(meta.get("timestamp"))
    tools = meta.get("tools")
    listed = tools if isinstance(tools, list) else as_dict(tools).get("components") or as_dict(tools).get("services")
    first = as_dict(listed[0]) if isinstance(listed, list) and listed else {}
    if text(first.get("name")):
        bom.tool = (str(text(first.get("name"))), text(first.get("version")))
    subject = _json_component(meta.get("component"))
    bom.subject = subject
    stack = list(sca.as_list(doc.get("components"), source, f"{bom.where}components"))
    stack += sca.as_list(as_dict(meta.get("component")).get("components"), source, f"{bom.where}components")
    while stack:
        raw = as_dict(stack.pop())
        c = _json_component(raw)
        if c:
            bom.add_component(c, text(raw.get("bom-ref")), c.purl)
        stack.extend(sca.as_list(raw.get("components"), source, f"{bom.where}components"))
    subject_ref = text(as_dict(meta.get("component")).get("bom-ref"))
    if subject and subject_ref:
        bom.components.setdefault(subject_ref, subject)
    if "vulnerabilities" not in doc:
        return False
    for raw in sca.as_list(doc.get("vulnerabilities"), source, f"{bom.where}vulnerabilities"):
        if isinstance(raw, dict):
            bom.add(_json_vuln(raw))
        else:
            bom.count += 1
            bom.skip(f"{bom.where}vulnerability {bom.count}", "not an object")
    return True


def _json_component(value: object) -> _Component | None:
    c = as_dict(value)
    name = text(c.get("name"))
    if not name:
        return None
    return _Component(name, text(c.get("version")), text(c.get("purl")), text(c.get("group")), text(c.get("type")))


def _json_vuln(v: dict[str, Any]) -> _Vuln:
    source = as_dict(v.get("source"))
    ratings = []
    for r in sca.items(v.get("ratings")):
        r = as_dict(r)
        ratings.append(
            {
                "source": text(as_dict(r.get("source")).get("name")),
                "score": text(r.get("score")),
                "severity": text(r.get("severity")),
                "method": text(r.get("method")),
                "vector": text(r.get("vector")),
            }
        )
    analysis = as_dict(v.get("analysis"))
    refs = [as_dict(r) for r in sca.items(v.get("references"))]
    return _Vuln(
        id=text(v.get("id")),
        source=text(source.get("name")),
        source_url=text(source.get("url")),
        refs=[t for t in (text(as_dict(a).get("ref")) for a in sca.items(v.get("affects"))) if t],
        ratings=ratings,
        cwes=sca.texts(v.get("cwes")),
        description="\n\n".join(t for t in (text(v.get("description")), text(v.get("detail"))) if t) or None,
        recommendation=text(v.get("recommendation")) or text(v.get("workaround")),
        links=[t for t in (text(as_dict(a).get("url")) for a in sca.items(v.get("advisories"))) if t],
        aliases=[t for t in (text(r.get("id")) for r in refs) if t],
        analysis={k: text(analysis.get(k)) for k in ("state", "justification", "detail")},
    )


# --- XML -------------------------------------------------------------------------------------


def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kids(el: etree._Element | None, name: str) -> list[etree._Element]:
    return [] if el is None else [c for c in el if _local(c) == name]


def _kid(el: etree._Element | None, name: str) -> etree._Element | None:
    found = _kids(el, name)
    return found[0] if found else None


def _kidtext(el: etree._Element | None, name: str) -> str | None:
    kid = _kid(el, name)
    return text(kid.text) if kid is not None else None


def _xml_component(el: etree._Element) -> _Component | None:
    name = _kidtext(el, "name")
    if not name:
        return None
    return _Component(name, _kidtext(el, "version"), _kidtext(el, "purl"), _kidtext(el, "group"), el.get("type"))


def _xml(stream: BinaryIO, bom: _Bom) -> bool:
    found = extension = saw_root = False
    tags = ("{*}bom", "{*}metadata", "{*}component", "{*}vulnerability", "{*}vulnerabilities")
    for _event, el in iterparse(stream, bom.ctx.source, tags):
        name, parent = _local(el), el.getparent()
        if name == "component":
            up = _local(parent) if parent is not None else ""
            grand = parent.getparent() if parent is not None else None
            if up in _NOT_INVENTORY or (grand is not None and _local(grand) == "tools"):
                continue  # the subject and the tools: read with the metadata
            c = _xml_component(el)
            if c:
                bom.add_component(c, el.get("bom-ref"), c.purl)
            el.clear()
        elif name == "vulnerability":
            bom.add(_xml_vuln(el, bom))
            release(el)
        elif name == "vulnerabilities":
            found = True
        elif name == "metadata":
            bom.when = common.parse_time(_kidtext(el, "timestamp"))
            tools = _kid(el, "tools")
            tool = next(iter(_kids(tools, "tool") or _kids(_kid(tools, "components"), "component")), None)
            if tool is not None and _kidtext(tool, "name"):
                bom.tool = (str(_kidtext(tool, "name")), _kidtext(tool, "version"))
            subject = _kid(el, "component")
            bom.subject = _xml_component(subject) if subject is not None else None
            if bom.subject and subject is not None and subject.get("bom-ref"):
                bom.components.setdefault(str(subject.get("bom-ref")), bom.subject)
        else:
            saw_root = True
            extension = any(str(ns).startswith(_EXT_NS) for ns in el.nsmap.values())
    if not saw_root:
        raise InputError(bom.ctx.source, "not a CycloneDX XML BOM (no <bom> root)")
    return found or extension


def _xml_vuln(el: etree._Element, bom: _Bom) -> _Vuln:
    within = None
    wrapper = el.getparent()
    holder = wrapper.getparent() if wrapper is not None else None
    if holder is not None and _local(holder) == "component":  # the extension nests vulnerabilities
        within = _xml_component(holder)
    source = _kid(el, "source")
    ratings = []
    for r in _kids(_kid(el, "ratings"), "rating"):
        score = _kid(r, "score")
        base = _kidtext(score, "base") if score is not None and len(score) else None
        ratings.append(
            {
                "source": _kidtext(_kid(r, "source"), "name"),
                "score": base or (text(score.text) if score is not None else None),
                "severity": _kidtext(r, "severity"),
                "method": _kidtext(r, "method"),
                "vector": _kidtext(r, "vector"),
            }
        )
    advisories = [_kidtext(a, "url") or text(a.text) for a in _kids(_kid(el, "advisories"), "advisory")]
    recommendations = [text(r.text) for r in _kids(_kid(el, "recommendations"), "recommendation")]
    analysis = _kid(el, "analysis")
    refs = [_kidtext(t, "ref") for t in _kids(_kid(el, "affects"), "target")]
    ref = el.get("ref")
    if ref and within is None:
        refs.append(ref)
    details = (_kidtext(el, "description"), _kidtext(el, "detail"))
    return _Vuln(
        id=_kidtext(el, "id"),
        source=(source.get("name") or _kidtext(source, "name")) if source is not None else None,
        source_url=_kidtext(source, "url"),
        refs=[r for r in refs if r],
        ratings=ratings,
        cwes=[t for t in (text(c.text) for c in _kids(_kid(el, "cwes"), "cwe")) if t],
        description="\n\n".join(t for t in details if t) or None,
        recommendation=_kidtext(el, "recommendation") or "\n".join(r for r in recommendations if r) or None,
        links=[a for a in advisories if a],
        aliases=[t for t in (_kidtext(r, "id") for r in _kids(_kid(el, "references"), "reference")) if t],
        analysis={k: _kidtext(analysis, k) for k in ("state", "justification", "detail")},
        within=within,
    )
