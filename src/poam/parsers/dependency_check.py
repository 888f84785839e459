"""OWASP Dependency-Check reports: XML (`-f XML`, the `<analysis>` document of schemas 1.x to 4.x)
and JSON (`-f JSON`, `reportSchema` 1.1). Both read the same way; the XML report is streamed one
dependency at a time, the JSON report is read whole. A JSON file may hold several reports,
concatenated or one per line (JSON Lines): one import, each report its own project and time.

The asset is the project (`projectInfo/name`; else `groupID:artifactID`; a name Dependency-Check
left as an unfilled placeholder, `${projName}`, names nothing), else `--asset`, else a fallback
asset (`unnamed`) that gets no coverage, so it never closes findings of another unnamed project.

One finding per vulnerability and dependency: id the vulnerability's `name` (a CVE, a GHSA, an
npm advisory number, or OSS Index's title of a weakness without CVE), path the dependency's
package URL without version, qualifiers or subpath (`pkg:maven/org.dom4j/dom4j`; older reports'
Maven identifier `group:artifact:version` is written the same way, `pkg:maven/group/artifact`);
a dependency without either is located by its `filePath` as written. A package found at several
paths (and the `relatedDependencies` Dependency-Check merged into a dependency, the same file
found elsewhere) is one finding: the file names and paths go to the evidence.
`suppressedVulnerabilities` (a suppression file's rule) are read with the same identity and set
aside: an open finding of one stays open (the project still has it: not a fix), and none is
opened from it; an open record of a finding wins over a suppressed one.

Severity is the vulnerability's `severity` (Dependency-Check writes the CVSS v4, else v3, else v2
base severity, or the source's own word for an unscored one, `unscored="true"`): CRITICAL, HIGH,
MEDIUM (`moderate`, npm's word), LOW; none, `Unknown` or a score written as a word: the CVSS v3,
v4 or v2 band, else Low; another word: the band, else Moderate, warned. CVSS v2, v3 and v4 are
kept: scores, and vectors built from their parts (`attackVector`... or the v2 `accessVector`...;
schema 1.x's `cvssScore`, `cvssAccessVector`... are v2). CWEs from `cwes` (schema 1.x: `cwe`). The
solution names the first version that is not affected, when the matched vulnerable software entry
gives one (`versionEndExcluding`; `versionEndIncluding` X: a version after X).

Coverage: a named project is covered for vulnerabilities (Dependency-Check reports every
dependency it scanned), unless the report lists analysis exceptions (`scanInfo/analysisExceptions`:
an analyzer or a data source failed, so some vulnerabilities may be missing; warned), or a record
of it could not be read (left out with a warning). Dated by `projectInfo/reportDate`, else
`--scan-date`, else the file's modification time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from lxml import etree

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.sca import UNNAMED, Collector, Dating, as_dict, as_list, text
from poam.parsers.xmlsafe import iterparse, release

TOOL = "OWASP Dependency-Check"
MAX_FIXES = 20
"""Packages whose fixed version a weakness's solution lists (each finding's evidence has its own)."""
MAX_LINKS = 20
_PLACEHOLDER = re.compile(r"^\$\{[^}]*\}$")
_SPACE = re.compile(r"\s*\n\s*")
_V3_PARTS = (
    ("AV", "attackVector", {"NETWORK": "N", "ADJACENT_NETWORK": "A", "ADJACENT": "A", "LOCAL": "L", "PHYSICAL": "P"}),
    ("AC", "attackComplexity", {"LOW": "L", "HIGH": "H"}),
    ("PR", "privilegesRequired", {"NONE": "N", "LOW": "L", "HIGH": "H"}),
    ("UI", "userInteraction", {"NONE": "N", "REQUIRED": "R"}),
    ("S", "scope", {"UNCHANGED": "U", "CHANGED": "C"}),
    ("C", "confidentialityImpact", {"NONE": "N", "LOW": "L", "HIGH": "H"}),
    ("I", "integrityImpact", {"NONE": "N", "LOW": "L", "HIGH": "H"}),
    ("A", "availabilityImpact", {"NONE": "N", "LOW": "L", "HIGH": "H"}),
)
_V2_PARTS = (
    ("AV", ("accessVector",), {"NETWORK": "N", "ADJACENT_NETWORK": "A", "LOCAL": "L"}),
    ("AC", ("accessComplexity",), {"LOW": "L", "MEDIUM": "M", "HIGH": "H"}),
    (
        "Au",
        ("authenticationr", "authentication"),
        {"NONE": "N", "SINGLE": "S", "SINGLE_INSTANCE": "S", "MULTIPLE": "M", "MULTIPLE_INSTANCES": "M"},
    ),
    ("C", ("confidentialityImpact", "confidentialImpact"), {"NONE": "N", "PARTIAL": "P", "COMPLETE": "C"}),
    ("I", ("integrityImpact",), {"NONE": "N", "PARTIAL": "P", "COMPLETE": "C"}),
    ("A", ("availabilityImpact",), {"NONE": "N", "PARTIAL": "P", "COMPLETE": "C"}),
)
_LEGACY_V2 = {
    "cvssScore": "score",
    "cvssAccessVector": "accessVector",
    "cvssAccessComplexity": "accessComplexity",
    "cvssAuthenticationr": "authenticationr",
    "cvssAuthentication": "authenticationr",
    "cvssConfidentialImpact": "confidentialImpact",
    "cvssIntegrityImpact": "integrityImpact",
    "cvssAvailabilityImpact": "availabilityImpact",
}
EXCEPTIONS = (
    "Dependency-Check reported {count} analysis exception(s) (first: {first}); some vulnerabilities may be "
    "missing: no coverage, so this file closes nothing"
)


@dataclass
class _Draft:
    """What the file says about one vulnerability, gathered before its Weakness is made."""

    fields: dict[str, Any]
    severity: Severity
    aside: bool
    """Only suppressed records describe it so far (an open record's severity replaces theirs)."""
    fixes: dict[str, str] = field(default_factory=dict)


@dataclass
class _Report:
    """One report: its project, time, engine, what it found and whether it is complete."""

    ctx: ParseContext
    prefix: str = ""
    name: str | None = None
    version: str | None = None
    when_text: object = None
    exceptions: list[str] = field(default_factory=list)
    found: Collector = field(default_factory=Collector)

    def project(self, info: dict[str, Any]) -> None:
        """The project's name and report date from `projectInfo`."""
        name = text(info.get("name"))
        if name and _PLACEHOLDER.match(name):
            name = None
        if not name and text(info.get("artifactID")):
            group = text(info.get("groupID"))
            name = f"{group}:{text(info.get('artifactID'))}" if group else text(info.get("artifactID"))
        self.name = name
        self.when_text = info.get("reportDate")


class _Records:
    """What the file says about each vulnerability, across its reports."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.drafts: dict[str, _Draft] = {}

    def dependency(self, dep: dict[str, Any], report: _Report, record: str) -> None:
        """One dependency's vulnerabilities, open and suppressed."""
        where = _location(dep)
        file_name = text(dep.get("fileName"))
        record = f"{record} ({file_name or where or 'unnamed'})"
        if where is None:
            where = sca.UNKNOWN_PACKAGE
            report.found.fallback(self.ctx, record, f"no package URL, fileName or filePath; package {where!r}")
        lines = _dependency_lines(dep, file_name)
        for key, status in (
            ("vulnerabilities", FindingStatus.OPEN),
            ("suppressedVulnerabilities", FindingStatus.SET_ASIDE),
        ):
            what = "vulnerability" if status is FindingStatus.OPEN else "suppressed vulnerability"
            for n, v in enumerate(as_list(dep.get(key), self.ctx.source, f"{record}: {key}"), start=1):
                if isinstance(v, dict):
                    self.vulnerability(v, where, lines, status, report, f"{record}, {what} {n}")
                else:
                    report.found.skip(self.ctx, f"{record}, {what} {n}", "not an object")

    def vulnerability(
        self,
        v: dict[str, Any],
        where: str,
        lines: list[str],
        status: FindingStatus,
        report: _Report,
        record: str,
    ) -> None:
        name = text(v.get("name"))
        if not name:
            report.found.skip(self.ctx, record, "no vulnerability name")
            return
        vuln_id = " ".join(name.split())
        record = f"{record} ({vuln_id[:60]})"
        fix = _fixed(v)
        parts = list(lines)
        source = text(v.get("source"))
        if source:
            parts.append(f"source {source}")
        if str(v.get("unscored")).lower() == "true":
            parts.append("unscored")
        if fix:
            parts.append(f"not affected from {fix[1]} ({fix[0]})")
        if status is FindingStatus.SET_ASIDE:
            notes = text(v.get("notes"))
            parts.append("suppressed" + (f": {_flat(notes)}" if notes else ""))
        report.found.add(vuln_id, where, status, "; ".join(parts))
        scores = _cvss(v)
        rated = _rate(self.ctx, record, v, scores)
        draft = self.drafts.get(vuln_id)
        if draft is None:
            refs = [(text(as_dict(r).get("url")) or "").strip() for r in sca.items(v.get("references"))]
            cwes = [*sca.texts(v.get("cwes")), *sca.texts(v.get("cwe"))]
            draft = self.drafts[vuln_id] = _Draft(
                {
                    "name": vuln_id,
                    "description": _flat(text(v.get("description"))),
                    "see_also": "\n".join(list(dict.fromkeys(r for r in refs if r))[:MAX_LINKS]) or None,
                    "cves": common.cves_in(vuln_id),
                    "cwes": common.cwes_in(cwes),
                    "family": source,
                    **scores,
                },
                rated,
                status is not FindingStatus.OPEN,
            )
        elif draft.aside and status is FindingStatus.OPEN:  # an open record describes it
            draft.severity, draft.aside = rated, False
        if status is FindingStatus.OPEN:
            draft.severity = sca.worse(draft.severity, rated)
            if fix and len(draft.fixes) < MAX_FIXES:
                draft.fixes.setdefault(fix[0], fix[1])

    def records(self, reports: list[_Report]) -> Iterator[Record]:
        """Coverage and merged findings of every report, then the scan."""
        weaknesses = {vid: _weakness(vid, d) for vid, d in self.drafts.items()}
        datings = []
        for report in reports:
            record = report.prefix or "report"
            dating = Dating(self.ctx, sca.own_time(self.ctx, record, "reportDate", report.when_text))
            datings.append(dating)
            name = report.name or self.ctx.asset_name
            asset = Asset(AssetKind.REPOSITORY, name=name or UNNAMED)
            if name is not None:
                if report.exceptions:
                    first = report.exceptions[0].splitlines()[0][:200]
                    self.ctx.warn(record, EXCEPTIONS.format(count=len(report.exceptions), first=first))
                elif report.found.incomplete:
                    self.ctx.warn(f"asset {asset.name}", report.found.why)
                else:
                    when = dating.time()
                    yield Coverage(asset, when, when, None, Checks.VULNERABILITY)
            for s in report.found.sightings.values():
                evidence = sca.join_evidence(s.evidence)
                when = dating.time()
                yield Finding(weaknesses[s.vuln_id], asset, when, evidence=evidence, status=s.status, path=s.path)
        started, ended = sca.window(datings)
        version = next((r.version for r in reports if r.version), None)
        yield Scan(TOOL, version, sca.label([r.name for r in reports], "projects"), started, ended)


def _flat(value: str | None) -> str | None:
    """Text with the line breaks and indentation of XML pretty-printing as single spaces."""
    return _SPACE.sub(" ", value).strip() or None if value else None


def _location(dep: dict[str, Any]) -> str | None:
    """The dependency's location: its package URL without version, else a Maven identifier
    written as one, else its file path (else its file name)."""
    for package in sca.items(dep.get("packages")):
        purl = text(as_dict(package).get("id"))
        if purl and purl.lower().startswith("pkg:") and "/" in purl:
            return sca.purl_base(purl)
    for ident in sca.items(dep.get("identifiers")):
        i = as_dict(ident)
        parts = (text(i.get("name")) or "").split(":")
        if (text(i.get("type")) or "").lower() == "maven" and len(parts) >= 2 and all(parts[:2]):
            return f"pkg:maven/{parts[0]}/{parts[1]}"
    return text(dep.get("filePath")) or text(dep.get("fileName"))


def _dependency_lines(dep: dict[str, Any], file_name: str | None) -> list[str]:
    """The evidence of a dependency: its file, version, path and the related files."""
    version = None
    for package in sca.items(dep.get("packages")):
        purl = text(as_dict(package).get("id")) or ""
        m = re.search(r"@([^?#/]+)", purl.split("/", 1)[-1]) if purl.lower().startswith("pkg:") else None
        if m:
            version = m.group(1)
            break
    lines = [(file_name or "(no file name)") + (f" version {version}" if version else "")]
    path = text(dep.get("filePath"))
    if path:
        lines.append(f"at {path}")
    related = [
        r
        for r in (
            text(as_dict(d).get("filePath")) or text(as_dict(d).get("fileName"))
            for d in sca.items(dep.get("relatedDependencies"))
        )
        if r
    ]
    if related:
        more = f" and {len(related) - 5} more" if len(related) > 5 else ""
        lines.append("also at " + ", ".join(related[:5]) + more)
    return lines


def _fixed(v: dict[str, Any]) -> tuple[str, str] | None:
    """The software the vulnerability was matched on (`vendor product` of its CPE, which may be
    another product than the dependency's own name) and the first version of it that is not
    affected, from the matched vulnerable software entry."""
    for entry in sca.items(v.get("vulnerableSoftware")):
        e = as_dict(entry)
        matched = any(str(e.get(k)).lower() == "true" for k in ("vulnerabilityIdMatched", "matched"))
        if not matched:
            continue
        end, last = text(e.get("versionEndExcluding")), text(e.get("versionEndIncluding"))
        if not end and not last:
            continue
        cpe = (text(e.get("id")) or "").split(":")
        product = " ".join(p for p in cpe[3:5] if p not in ("", "*", "-")) if cpe[:2] == ["cpe", "2.3"] else ""
        if not product and cpe[:1] == ["cpe"] and len(cpe) > 3:  # cpe:/a:vendor:product
            product = " ".join(p for p in cpe[2:4] if p not in ("", "*", "-"))
        return product or "the package", end or f"a version after {last}"
    return None


def _vector_v3(block: dict[str, Any]) -> str | None:
    parts = []
    for short, key, values in _V3_PARTS:
        said = (text(block.get(key)) or "").upper()
        letter = values.get(said) or (said if said in values.values() else None)
        if letter is None:
            return None
        parts.append(f"{short}:{letter}")
    version = text(block.get("version")) or "3.1"
    version = version if version in {"3.0", "3.1"} else "3.1"
    return f"CVSS:{version}/" + "/".join(parts)


def _vector_v2(block: dict[str, Any]) -> str | None:
    parts = []
    for short, keys, values in _V2_PARTS:
        said = next(((text(block.get(k)) or "").upper() for k in keys if text(block.get(k))), "")
        letter = values.get(said) or (said if said in values.values() else None)
        if letter is None:
            return None
        parts.append(f"{short}:{letter}")
    return "/".join(parts)


def _cvss(v: dict[str, Any]) -> dict[str, Any]:
    """CVSS v2, v3 and v4 scores and vectors of a vulnerability."""
    v2, v3, v4 = as_dict(v.get("cvssv2")), as_dict(v.get("cvssv3")), as_dict(v.get("cvssv4"))
    v2_vector, v3_vector = _vector_v2(v2), _vector_v3(v3)
    v4_vector = text(v4.get("vectorString"))
    if v4_vector and not v4_vector.upper().startswith("CVSS:4"):
        v4_vector = None
    return {
        "cvss2_score": cvss.fill(2, sca.score(v2.get("score")), v2_vector),
        "cvss2_vector": v2_vector,
        "cvss3_score": cvss.fill(3, sca.score(v3.get("baseScore")), v3_vector),
        "cvss3_vector": v3_vector,
        "cvss4_score": cvss.fill(4, sca.score(v4.get("baseScore")), v4_vector),
        "cvss4_vector": v4_vector,
    }


def _rate(ctx: ParseContext, record: str, v: dict[str, Any], scores: dict[str, Any]) -> Severity:
    """The vulnerability's severity word (see the module); a number as the word is a score."""
    word: object = v.get("severity")
    if word is None or word == "":
        word = text(as_dict(v.get("cvssv3")).get("baseSeverity")) or text(as_dict(v.get("cvssv2")).get("severity"))
    numbers = [scores["cvss3_score"], scores["cvss4_score"], scores["cvss2_score"]]
    said = text(word)
    if said is not None and common.severity_word(said) is None and cvss.score(said) is not None:
        numbers.insert(0, cvss.score(said))  # an unscored source's number: a score
        word = None
    return sca.rated(ctx, record, word, *numbers)


def _weakness(vuln_id: str, draft: _Draft) -> Weakness:
    fields = dict(draft.fields)
    if draft.fixes:
        upgrades = "; ".join(f"{pkg} to {ver}" for pkg, ver in sorted(draft.fixes.items()))
        more = " (and other packages: see each finding)" if len(draft.fixes) >= MAX_FIXES else ""
        fields["solution"] = f"Upgrade {upgrades}{more}"
    return Weakness(tool=TOOL, vuln_id=vuln_id, severity=draft.severity, **fields)


# --- JSON --------------------------------------------------------------------------------------


class DependencyCheckJsonParser:
    """Reader of Dependency-Check's JSON report."""

    id = "dependency-check-json"
    name = "OWASP Dependency-Check JSON report"
    maps_to = "one finding per vulnerability and dependency (package URL, else file path); the project is the asset"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """An object with `reportSchema` and Dependency-Check's `scanInfo`, `projectInfo` or
        `dependencies`."""
        shape = head.json
        if shape.kind != "object":
            return False
        keys = shape.keys
        if "reportSchema" in keys:
            return bool(keys & {"scanInfo", "projectInfo", "dependencies"})
        return {"scanInfo", "projectInfo", "dependencies"} <= keys

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read every report, then yield coverage, merged findings and one scan."""
        docs = list(jsonio.documents(stream, ctx.source))
        records = _Records(ctx)
        reports = []
        for d, doc in enumerate(docs, start=1):
            prefix = f"report {d}" if len(docs) > 1 else ""
            if not isinstance(doc, dict) or not ({"dependencies", "projectInfo"} & set(doc)):
                what = f"{prefix} is not" if prefix else "not"
                raise InputError(ctx.source, f"{what} a Dependency-Check JSON report: no dependencies or projectInfo")
            report = _Report(ctx, prefix)
            report.project(as_dict(doc.get("projectInfo")))
            scan = as_dict(doc.get("scanInfo"))
            report.version = text(scan.get("engineVersion"))
            for e in sca.items(scan.get("analysisExceptions")):
                message = text(as_dict(as_dict(e).get("exception")).get("message")) or text(as_dict(e).get("message"))
                report.exceptions.append(message or "(no message)")
            for n, dep in enumerate(as_list(doc.get("dependencies"), ctx.source, "dependencies"), start=1):
                record = f"{prefix}, dependency {n}" if prefix else f"dependency {n}"
                if not isinstance(dep, dict):
                    report.found.skip(ctx, record, "not an object")
                    continue
                records.dependency(_json_dependency(dep), report, record)
            reports.append(report)
        yield from records.records(reports)


def _json_dependency(dep: dict[str, Any]) -> dict[str, Any]:
    """A JSON dependency as the shared reader takes it: the vulnerable software entries flattened."""
    out = dict(dep)
    for key in ("vulnerabilities", "suppressedVulnerabilities"):
        vulns = dep.get(key)
        if isinstance(vulns, list):
            out[key] = [
                {
                    **v,
                    "vulnerableSoftware": [
                        as_dict(s).get("software", s) for s in sca.items(v.get("vulnerableSoftware"))
                    ],
                }
                if isinstance(v, dict)
                else v
                for v in vulns
            ]
    return out


# --- XML ---------------------------------------------------------------------------------------


def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kids(el: etree._Element | None, name: str) -> list[etree._Element]:
    return [] if el is None else [c for c in el if _local(c) == name]


def _kid(el: etree._Element | None, name: str) -> etree._Element | None:
    found = _kids(el, name)
    return found[0] if found else None


def _text(el: etree._Element | None, name: str) -> str | None:
    kid = _kid(el, name)
    return text(kid.text) if kid is not None else None


def _fields(el: etree._Element | None) -> dict[str, Any]:
    """The text of each child element, by local name (the parts of a CVSS block)."""
    return {} if el is None else {_local(c): text(c.text) for c in el if _local(c)}


def _xml_vulnerability(el: etree._Element) -> dict[str, Any]:
    severity = _kid(el, "severity")
    v: dict[str, Any] = {
        "source": el.get("source"),
        "name": _text(el, "name"),
        "severity": text(severity.text) if severity is not None else None,
        "unscored": severity is not None and severity.get("unscored") == "true",
        "description": _text(el, "description"),
        "notes": _text(el, "notes"),
        "cvssv2": _fields(_kid(el, "cvssV2")),
        "cvssv3": _fields(_kid(el, "cvssV3")),
        "cvssv4": _fields(_kid(el, "cvssV4")),
        "cwes": [text(c.text) for c in _kids(_kid(el, "cwes"), "cwe")],
        "cwe": _text(el, "cwe"),
        "references": [
            {"source": _text(r, "source"), "url": _text(r, "url"), "name": _text(r, "name")}
            for r in _kids(_kid(el, "references"), "reference")
        ],
        "vulnerableSoftware": [
            {**dict(s.attrib), "id": text(s.text)} for s in _kids(_kid(el, "vulnerableSoftware"), "software")
        ],
    }
    legacy = {new: text(_text(el, old)) for old, new in _LEGACY_V2.items() if _kid(el, old) is not None}
    if legacy and not v["cvssv2"]:
        v["cvssv2"] = legacy
    return v


def _xml_dependency(el: etree._Element) -> dict[str, Any]:
    """A `<dependency>` element as the shared reader takes it (the JSON report's keys)."""
    own = _kid(el, "identifiers")  # not the related dependencies' identifiers
    identifiers = [] if own is None else [i for i in own.iter() if _local(i) in {"package", "identifier"}]
    vulns = _kid(el, "vulnerabilities")
    suppressed = [*_kids(vulns, "suppressedVulnerability")]
    suppressed += _kids(_kid(el, "suppressedVulnerabilities"), "suppressedVulnerability")
    return {
        "fileName": _text(el, "fileName"),
        "filePath": _text(el, "filePath"),
        "packages": [{"id": _text(i, "id")} for i in identifiers if _local(i) == "package"],
        "identifiers": [
            {"type": i.get("type"), "name": _text(i, "name")} for i in identifiers if _local(i) == "identifier"
        ],
        "relatedDependencies": [
            {"fileName": _text(r, "fileName"), "filePath": _text(r, "filePath")}
            for r in _kids(_kid(el, "relatedDependencies"), "relatedDependency")
        ],
        "vulnerabilities": [_xml_vulnerability(v) for v in _kids(vulns, "vulnerability")],
        "suppressedVulnerabilities": [_xml_vulnerability(v) for v in suppressed],
    }


class DependencyCheckXmlParser:
    """Reader of Dependency-Check's XML report, streamed."""

    id = "dependency-check-xml"
    name = "OWASP Dependency-Check XML report"
    maps_to = "one finding per vulnerability and dependency (package URL, else file path); the project is the asset"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """The root `analysis` in Dependency-Check's namespace (or with its projectInfo and
        dependencies)."""
        if head.xml_root != "analysis":
            return False
        data = head.data
        return (
            b"DependencyCheck" in data
            or b"dependency-check" in data
            or (b"<projectInfo" in data and b"<dependencies" in data)
        )

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Stream the dependencies, then yield coverage, merged findings and one scan."""
        records = _Records(ctx)
        report = _Report(ctx)
        saw_root = False
        tags = ("{*}analysis", "{*}scanInfo", "{*}projectInfo", "{*}dependency")
        n = 0
        for event, el in iterparse(stream, ctx.source, tags, ("start", "end")):
            name = _local(el)
            if name == "analysis":
                saw_root = saw_root or (event == "start" and el.getparent() is None)
                continue
            if event != "end":
                continue
            parent = el.getparent()
            if not saw_root or parent is None:
                continue
            top = parent.getparent() is None  # a child of <analysis>
            if name == "dependency" and _local(parent) == "dependencies":
                n += 1
                records.dependency(_xml_dependency(el), report, f"dependency {n}")
                release(el)
            elif name == "projectInfo" and top:
                report.project(_fields(el))
            elif name == "scanInfo" and top:
                report.version = _text(el, "engineVersion")
                for e in _kids(_kid(el, "analysisExceptions"), "exception"):
                    report.exceptions.append(_text(e, "message") or "(no message)")
                el.clear()
        if not saw_root:
            raise InputError(ctx.source, "not a Dependency-Check XML report (no <analysis> root)")
        yield from records.records([report])
