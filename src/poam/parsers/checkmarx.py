"""Checkmarx: the CxSAST XML report (`<CxXMLResults>`), and Checkmarx One JSON (the scan report,
the older JSON report, pages of the results API, and the CLI's `gl-sast` report, which uses
GitLab's SAST layout with `scan.scanner.vendor.name` Checkmarx: the GitLab parser leaves it here).

SAST results: one finding per query (`Query/@name`, `queryName`) and sink file (the last node of
the result's data flow, where the tainted data is used; else the result's own file); the results
of one query in one file are one finding whose evidence lists the sink lines with their source,
and the result's similarity id. Severity is the result's (`Severity`: Critical, High, Medium, Low,
Information), else the query's. The result state: To Verify, Confirmed, Urgent and Proposed Not
Exploitable (a proposal awaiting approval) are open; Not Exploitable (and CxSAST's
`FalsePositive="True"`) is set aside (an open finding stays open, none is opened); a state
Checkmarx does not define (a custom one) is open, warned, unless it means set aside. The results
of one finding are open when one is, else set aside, else fixed (a Checkmarx One result with
status FIXED). Checkmarx One also lists SCA results (one finding per advisory, CVE or other, and
package, the version in the evidence; tool `Checkmarx SCA`) and IaC results from KICS (one
configuration finding per query and file; tool `Checkmarx KICS`).

Assets: the project (`ProjectName`, `reportHeader.projectName`), else `--asset`, else `Checkmarx
project` (which covers nothing). Dates: each result's own (`foundDate`, `foundAt`; its first
detection `firstFoundDate`, `firstFoundAt`, `DetectionDate` is the tool's detection time), else the
scan's (`ScanStart`, `reportHeader.scanDate`), else `--scan-date`, else the file's modification
time.

Coverage: a CxSAST XML report holds every result of its scan, so a full scan (`ScanType` Full)
covers its project for `Checkmarx SAST`; an incremental scan (changed files only) covers nothing,
warned. A Checkmarx One scan report covers its project for each engine the report includes and
that completed (`scanInformation.scannerStatus`), when none of its filters excludes anything and
it holds fewer results than its `resultsLimit`; a SCA engine whose package results the report holds
in a form poam does not read covers nothing. The JSON report, the results API (pages of a
listing, possibly filtered) and the CLI's `gl-sast` report (no project name, no result states, and
the CLI may filter what it writes) cover nothing: they close only through results with status
FIXED.

Lenient on values: a result without its query name (SCA: advisory id and package), or that is not
an object, is left out with a warning; an unknown severity is Moderate; an unreadable date takes
the scan's, warned.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from poam.domain.models import Asset, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import (
    WITHHELD,
    arr,
    hits_text,
    is_secret_rule,
    max_severity,
    obj,
    peek,
    repo_path,
    repository,
    text,
)
from poam.parsers.xmlsafe import iterparse, release

SAST = "Checkmarx SAST"
SCA = "Checkmarx SCA"
KICS = "Checkmarx KICS"
FALLBACK_ASSET = "Checkmarx project"
_ENGINES = {"sast": SAST, "sca": SCA, "iac": KICS, "kics": KICS, "iac security": KICS}
_SEVERITY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
    "information": Severity.INFO,
    "informational": Severity.INFO,
}
_OPEN_STATES = {"to_verify", "confirmed", "urgent", "proposed_not_exploitable"}
_SET_ASIDE_STATES = {"not_exploitable"}
_XML_STATES = {
    "0": "to_verify",
    "1": "not_exploitable",
    "2": "confirmed",
    "3": "urgent",
    "4": "proposed_not_exploitable",
}
_FIXED_STATUS = {"fixed", "resolved"}
_XML_TIMES = (
    "%A, %B %d, %Y %I:%M:%S %p",
    "%A, %B %d, %Y %H:%M:%S",
    "%A, %d %B %Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",
    "%d.%m.%Y %H:%M:%S",
)
_PACKAGE_VERSION = re.compile(r"^(?:[A-Za-z]+-)?(.+?)-v?\d[\w.+~:-]*$")
_RANK = {FindingStatus.OPEN: 0, FindingStatus.SET_ASIDE: 1, FindingStatus.FIXED: 2}


@dataclass
class _Record:
    """One result, read."""

    tool: str
    vuln_id: str
    path: str | None
    status: FindingStatus
    severity: Severity
    when: dt.datetime
    since: dt.datetime | None
    hit: str
    about: dict[str, Any]
    """What the weakness is made of (name, family, description, solution, see_also, cwes, cves, cvss3)."""


@dataclass
class _Group:
    """The results of one finding (tool, id, asset, location), merged: the records of the best
    status (open, then set aside, then fixed) decide."""

    records: list[_Record] = field(default_factory=list)

    def add(self, rec: _Record) -> None:
        if not self.records or _RANK[rec.status] < _RANK[self.records[0].status]:
            self.records = [rec]
        elif rec.status is self.records[0].status:
            self.records.append(rec)


class _Collector:
    """Findings of a file by identity, and their weaknesses."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str, str, str | None], tuple[Asset, _Group]] = {}
        self.all: dict[tuple[str, str], list[_Record]] = {}

    def add(self, asset: Asset, rec: _Record) -> None:
        key = (rec.tool, rec.vuln_id, asset.name or "", rec.path)
        known = self.groups.get(key)
        if known is None:
            known = self.groups[key] = (asset, _Group())
        known[1].add(rec)
        self.all.setdefault((rec.tool, rec.vuln_id), []).append(rec)

    def findings(self) -> Iterator[Finding]:
        weaknesses: dict[tuple[str, str], Weakness] = {}
        for (tool, vuln_id, _name, path), (asset, group) in self.groups.items():
            weakness = weaknesses.get((tool, vuln_id))
            if weakness is None:
                records = self.all[(tool, vuln_id)]
                rated = [r.severity for r in records if r.status is FindingStatus.OPEN] or [r.severity for r in records]
                weakness = weaknesses[(tool, vuln_id)] = _weakness(tool, vuln_id, records[0].about, max_severity(rated))
            deciding = group.records
            status = deciding[0].status
            when = max(r.when for r in deciding)
            found = [r.since for r in deciding if r.since is not None]
            since = min(found) if found and status is FindingStatus.OPEN and min(found) < when else None
            yield Finding(
                weakness=weakness,
                asset=asset,
                observed_at=when,
                path=path,
                evidence=hits_text([r.hit for r in deciding]),
                status=status,
                since=since,
            )


def _weakness(tool: str, vuln_id: str, about: dict[str, Any], severity: Severity) -> Weakness:
    description = common.clean(about.get("description"))
    if description and len(description) > 4000:
        description = description[:4000].rstrip() + " ..."
    return Weakness(
        tool=tool,
        vuln_id=vuln_id,
        name=(text(about.get("name")) or vuln_id)[:200],
        severity=severity,
        family=text(about.get("family")),
        description=description,
        solution=common.clean(about.get("solution")),
        see_also=common.clean(about.get("see_also")),
        cvss3_score=about.get("cvss3"),
        cves=common.cves_in(vuln_id, about.get("cves")),
        cwes=_cwes(about.get("cwe")),
        is_config=tool == KICS,
    )


def _cwes(value: object) -> tuple[str, ...]:
    """CWE numbers from `89`, `CWE-89` or a list of them."""
    values = value if isinstance(value, list) else [value]
    found = common.cwes_in([str(v) for v in values if isinstance(v, str | int) and not isinstance(v, bool)])
    return tuple(dict.fromkeys(str(int(c)) for c in found if c.isdigit() and int(c) > 0))


def _severity(value: object, ctx: ParseContext, label: str) -> Severity:
    word = str(value).strip().lower() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    found = _SEVERITY.get(word)
    return found if found is not None else common.odd_severity(ctx, label, value)


def _status(state: object, status: object, ctx: ParseContext, label: str) -> FindingStatus:
    """Fixed when the result's status says so; else by its state: open, or set aside (Not
    Exploitable); an unknown state is open (set aside when it means so), warned."""
    if isinstance(status, str) and status.strip().lower() in _FIXED_STATUS:
        return FindingStatus.FIXED
    if state is None or state == "":
        return FindingStatus.OPEN
    word = "_".join(str(state).strip().lower().replace("-", " ").split())
    if word in _OPEN_STATES:
        return FindingStatus.OPEN
    if word in _SET_ASIDE_STATES:
        return FindingStatus.SET_ASIDE
    if common.dismissed(word):
        ctx.warn(label, f"state {str(state)[:40]!r} read as set aside")
        return FindingStatus.SET_ASIDE
    ctx.warn(label, f"state {str(state)[:40]!r} is not one of Checkmarx's; kept open")
    return FindingStatus.OPEN


def _line(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        line = int(str(value).strip())
    except ValueError:
        return None
    return line if line >= 0 else None


def _flow(
    query: str, nodes: list[tuple[str | None, int | None, str | None, str | None]], similarity: object, state: object
) -> str:
    """Evidence of one data flow: the sink line, the source, the sink's code (never for secrets)."""
    first, last = nodes[0], nodes[-1]
    line = f"Line {last[1]}" if last[1] is not None else "Result"
    said = f"{line}: {last[2]}" if last[2] else line
    if len(nodes) > 1:
        said += f" from {first[2] or 'source'} ({first[0] or '?'}:{first[1] if first[1] is not None else '?'})"
    extras = [f"similarity {similarity}" if text(similarity) else "", f"state {state}" if text(state) else ""]
    said += "".join(f"; {x}" for x in extras if x)
    code = last[3]
    if code and not is_secret_rule(query):
        said += "\n    " + " ".join(code.split())[:300]
    elif code:
        said += "\n    " + WITHHELD
    return said


# --- CxSAST XML ---------------------------------------------------------------------------------


def _xml_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    found = common.parse_time(value)
    if found is not None:
        return found
    for fmt in _XML_TIMES:
        try:
            return dt.datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
    return None


class CheckmarxXmlParser:
    """Reader of the CxSAST XML report."""

    id = "checkmarx-xml"
    name = "Checkmarx CxSAST XML report"
    maps_to = (
        "one finding per query and sink file (flows in evidence) on the project, else --asset, else "
        "'Checkmarx project'; Not Exploitable set aside; a full scan covers its project"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """Root element `<CxXMLResults>`."""
        return head.xml_root == "CxXMLResults"

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """The report's results by query and sink file; the scan's coverage first."""
        collector = _Collector()
        header: dict[str, str] = {}
        query: dict[str, str] = {}
        asset: Asset | None = None
        when: dt.datetime | None = None
        count = 0
        checked = False
        tags = ("{*}CxXMLResults", "{*}Query", "{*}Result")
        for event, el in iterparse(stream, ctx.source, tags, ("start", "end")):
            name = el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""
            if not checked:
                root = el.getroottree().getroot()
                root_name = root.tag.rsplit("}", 1)[-1] if isinstance(root.tag, str) else ""
                if root_name != "CxXMLResults":
                    raise InputError(ctx.source, f"not a CxSAST XML report (root element <{root_name[:40]}>)")
                checked = True
            if event == "start":
                if name == "CxXMLResults":
                    header = {str(k): str(v) for k, v in el.attrib.items()}
                    asset = repository(header.get("ProjectName"), ctx, FALLBACK_ASSET)
                    when = self._when(header, ctx)
                    if self._covers(header, asset, ctx):
                        yield Coverage(asset, when, when, None, Checks.ALL, tool=SAST)
                elif name == "Query":
                    query = {str(k): str(v) for k, v in el.attrib.items()}
                continue
            if name == "Result":
                count += 1
                assert asset is not None and when is not None
                rec = self._result(el, query, f"result {count}", when, ctx)
                if rec is not None:
                    collector.add(asset, rec)
                release(el)
            elif name == "Query":
                release(el)
        if not checked:
            raise InputError(ctx.source, "not a CxSAST XML report")
        yield from collector.findings()
        yield Scan(SAST, text(header.get("CheckmarxVersion")), text(header.get("ScanId")), when, when)

    @staticmethod
    def _when(header: dict[str, str], ctx: ParseContext) -> dt.datetime:
        for key in ("ScanStart", "ReportCreationTime"):
            found = _xml_time(header.get(key))
            if found is not None:
                return found
            if header.get(key):
                ctx.warn("file", f"{key} {header[key][:40]!r} is not a date; dated by --scan-date or the file")
        return ctx.fallback_time()

    @staticmethod
    def _covers(header: dict[str, str], asset: Asset, ctx: ParseContext) -> bool:
        if asset.name == FALLBACK_ASSET:  # an unnamed project covers nothing
            return False
        if (header.get("ScanType") or "").strip().lower() == "incremental":
            ctx.warn("file", "an incremental scan (only changed files were analysed): nothing is closed by absence")
            return False
        return True

    @staticmethod
    def _result(el: Any, query: dict[str, str], label: str, when: dt.datetime, ctx: ParseContext) -> _Record | None:
        name = text(query.get("name"))
        if name is None:
            ctx.skip(label, "its query has no name")
            return None
        label = f"{label} ({name[:60]})"
        severity = _severity(el.get("Severity") or query.get("Severity"), ctx, label)
        state_code = (el.get("state") or "").strip()
        state: str | None = _XML_STATES.get(state_code, state_code or None)
        if (el.get("FalsePositive") or "").strip().lower() == "true":
            state = "not_exploitable"
        status = _status(state, el.get("Status"), ctx, label)
        nodes: list[tuple[str | None, int | None, str | None, str | None]] = []
        similarity = None
        for path_el in (c for c in el if c.tag.rsplit("}", 1)[-1] == "Path"):
            similarity = path_el.get("SimilarityId")
            for node in (c for c in path_el if c.tag.rsplit("}", 1)[-1] == "PathNode"):
                code = node.findtext("{*}Snippet/{*}Line/{*}Code")
                nodes.append(
                    (node.findtext("{*}FileName"), _line(node.findtext("{*}Line")), node.findtext("{*}Name"), code)
                )
            break
        if not nodes:
            nodes = [(el.get("FileName"), _line(el.get("Line")), None, None)]
        path = _path(nodes[-1][0]) or _path(el.get("FileName"))
        shown = {"to_verify": "To Verify", "not_exploitable": "Not Exploitable", "confirmed": "Confirmed"}
        shown |= {"urgent": "Urgent", "proposed_not_exploitable": "Proposed Not Exploitable"}
        hit = _flow(name, nodes, similarity, shown.get(state or "", state) if state != "to_verify" else None)
        categories = text(query.get("categories"))
        about = {
            "name": name.replace("_", " "),
            "family": text(query.get("group")),
            "description": f"Categories: {categories}" if categories else None,
            "cwe": query.get("cweId"),
        }
        since = _xml_time(el.get("DetectionDate"))
        return _Record(SAST, name, path, status, severity, when, since, hit, about)


# --- Checkmarx One JSON -------------------------------------------------------------------------


class CheckmarxOneParser:
    """Reader of Checkmarx One JSON: scan report, JSON report, results API pages, CLI gl-sast report."""

    id = "checkmarx-json"
    name = "Checkmarx One JSON (scan report, JSON report, results API, CLI gl-sast report)"
    maps_to = (
        "one finding per SAST query and sink file, SCA advisory and package, or KICS query and file, on the "
        "project, else --asset, else 'Checkmarx project'; Not Exploitable set aside; a complete scan report covers "
        "its project"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A scan report (`reportType`, `reportHeader`), a JSON report (`reportId`, `reportHeader`),
        or a results API page (`results` whose items have `type`, `similarityId` and `state`; an
        empty one with `totalCount` and `scanID`)."""
        shape = head.json
        if shape.kind != "object":
            return False
        keys = shape.keys
        if "reportHeader" in keys and keys & {"reportType", "reportId"}:
            return bool(keys & {"scanResults", "scanInformation", "executiveSummary", "scanSummary", "reportFilters"})
        if {"version", "vulnerabilities"} <= keys:  # the CLI's report in GitLab's SAST layout
            _found, values = peek(head.data)
            vendors = {
                str(values.get(f"scan.{part}.vendor.name") or "").strip().lower() for part in ("scanner", "analyzer")
            }
            return "checkmarx" in vendors
        if "results" in keys:
            found, _values = peek(head.data)
            first = found.get("results.item")
            if first is None:  # an empty page
                return {"totalCount", "scanID"} <= found.get("", set())
            return {"type", "similarityId", "state"} <= first
        return False

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Every document of the file (several pages or reports one after another are one import)."""
        docs = list(jsonio.documents(stream, ctx.source))
        several = len(docs) > 1
        collector = _Collector()
        times: list[dt.datetime] = []
        coverage: list[Coverage] = []
        names: list[str] = []
        for position, doc in enumerate(docs, start=1):
            where = f"document {position}" if several else ""
            if not isinstance(doc, dict):
                raise InputError(ctx.source, f"{where + ': ' if where else ''}not a Checkmarx One JSON document")
            reader = _Document(doc, where, ctx, collector, times)
            if isinstance(doc.get("results"), list) and "reportHeader" not in doc:
                reader.api(doc["results"])
            elif isinstance(obj(doc.get("scanResults")).get("resultsList"), list) or "reportType" in doc:
                coverage += reader.scan_report()
            elif "reportId" in doc and isinstance(doc.get("scanResults"), dict):
                reader.json_report()
            elif isinstance(doc.get("vulnerabilities"), list) and isinstance(doc.get("scan"), dict):
                reader.gitlab(doc["vulnerabilities"])
            else:
                prefix = f"{where}: " if where else ""
                raise InputError(ctx.source, f"{prefix}not a Checkmarx One JSON document (no results or scanResults)")
            if reader.name:
                names.append(reader.name)
        yield from coverage
        for finding in collector.findings():
            times.append(finding.observed_at)
            yield finding
        first, last = min(times, default=None), max(times, default=None)
        yield Scan("Checkmarx One", None, ", ".join(dict.fromkeys(names)) or None, first, last)


class _Document:
    """One Checkmarx One document being read."""

    def __init__(
        self, doc: dict[str, Any], where: str, ctx: ParseContext, collector: _Collector, times: list[dt.datetime]
    ) -> None:
        self.doc = doc
        self.where = where
        self.ctx = ctx
        self.collector = collector
        self.times = times
        self.name: str | None = None
        self._fallback: dt.datetime | None = None

    def label(self, what: str) -> str:
        return f"{what} of {self.where}" if self.where else what

    def fallback(self, *values: object) -> dt.datetime:
        """The document's own time (the first readable of `values`), else --scan-date or file time."""
        for value in values:
            found = common.parse_time(value)
            if found is None and isinstance(value, str) and value.endswith(" UTC"):
                found = common.parse_time(re.sub(r" ([+-]\d{4}) UTC$", r"\1", value).replace(" ", "T", 1))
            if found is not None:
                return found
        if self._fallback is None:
            self._fallback = self.ctx.fallback_time()
        return self._fallback

    def time(self, value: object, label: str, *scan: object) -> dt.datetime:
        """A result's own time, else the scan's (the first readable of `scan`), else the fallback."""
        found = common.parse_time(value)
        if found is None and value not in (None, ""):
            self.ctx.warn(label, f"date {str(value)[:40]!r} is not a date; dated by the scan")
        return found or self.fallback(*scan)

    # results API -------------------------------------------------------------------------------

    def api(self, results: list[Any]) -> None:
        """A page of `GET /api/results`: no project name, no coverage."""
        asset = repository(None, self.ctx, FALLBACK_ASSET)
        for number, result in enumerate(results, start=1):
            label = self.label(f"result {number}")
            if not isinstance(result, dict):
                self.ctx.skip(label, "not an object")
                continue
            when = self.time(result.get("foundAt") or result.get("created"), label)
            since = common.parse_time(result.get("firstFoundAt"))
            kind = (text(result.get("type")) or "").lower()
            data, details = obj(result.get("data")), obj(result.get("vulnerabilityDetails"))
            state, status = result.get("state"), result.get("status")
            if kind == "sast":
                query = text(data.get("queryName"))
                if query is None:
                    self.ctx.skip(label, "has no data.queryName")
                    continue
                label = f"{label} ({query[:60]})"
                nodes = [_node(n) for n in arr(data.get("nodes")) if isinstance(n, dict)]
                rec = self.sast(query, nodes, result.get("similarityId"), result, when, since, label)
                rec.about |= {"family": text(data.get("group")), "cwe": details.get("cweId")}
                rec.about["description"] = rec.about.get("description") or text(result.get("description"))
            elif kind == "sca":
                rec_ = self.sca_api(result, data, details, when, since, label)
                if rec_ is None:
                    continue
                rec = rec_
            elif kind in ("kics", "iac"):
                query = text(data.get("queryName"))
                if query is None:
                    self.ctx.skip(label, "has no data.queryName")
                    continue
                label = f"{label} ({query[:60]})"
                hit = _kics_hit(data.get("line"), data.get("issueType"), data.get("expectedValue"), data.get("value"))
                about = {
                    "name": query,
                    "family": text(data.get("group")),
                    "description": text(result.get("description")),
                    "cwe": details.get("cweId"),
                }
                severity = _severity(result.get("severity"), self.ctx, label)
                status_ = _status(state, status, self.ctx, label)
                path = _path(data.get("filename")) or _path(data.get("fileName"))
                rec = _Record(KICS, query, path, status_, severity, when, since, hit, about)
            else:
                self.ctx.skip(label, f"result type {str(result.get('type'))[:40]!r} is not sast, sca or kics")
                continue
            self.collector.add(asset, rec)

    def sast(
        self,
        query: str,
        nodes: list[tuple[str | None, int | None, str | None, str | None]],
        similarity: object,
        result: dict[str, Any],
        when: dt.datetime,
        since: dt.datetime | None,
        label: str,
    ) -> _Record:
        severity = _severity(result.get("severity"), self.ctx, label)
        state = result.get("state")
        status = _status(state, result.get("status"), self.ctx, label)
        shown = None if "_".join(str(state or "").lower().split()) in ("to_verify", "") else text(state)
        nodes = nodes or [(None, None, None, None)]
        path = _path(nodes[-1][0])
        if path is None:
            self.ctx.warn(label, "names no file; kept on the project itself")
        hit = _flow(query, nodes, similarity, shown)
        about: dict[str, Any] = {"name": query.replace("_", " "), "cwe": result.get("cweId")}
        return _Record(SAST, query, path, status, severity, when, since, hit, about)

    def sca_api(
        self,
        result: dict[str, Any],
        data: dict[str, Any],
        details: dict[str, Any],
        when: dt.datetime,
        since: dt.datetime | None,
        label: str,
    ) -> _Record | None:
        advisory = text(details.get("cveName")) or text(result.get("id"))
        package, version = _package(data)
        if advisory is None or package is None:
            self.ctx.skip(label, "has no advisory id or package")
            return None
        label = f"{label} ({advisory[:60]})"
        severity = _severity(result.get("severity"), self.ctx, label)
        status = _status(result.get("state"), result.get("status"), self.ctx, label)
        cvss_ = obj(details.get("cvss"))
        score = details.get("cvssScore")
        v3 = (
            float(score)
            if isinstance(score, int | float) and not isinstance(score, bool) and 0 <= score <= 10
            else None
        )
        fixed = text(data.get("recommendedVersion"))
        locations = [_path(x) for x in arr(obj(data.get("scaPackageData")).get("locations"))]
        hit = f"Installed: {package} {version or '?'}" + (
            f" ({', '.join(x for x in locations if x)})" if any(locations) else ""
        )
        hit += f"; fixed in {fixed}" if fixed else ""
        urls = [text(obj(p).get("url")) for p in arr(data.get("packageData"))]
        about = {
            "name": f"{advisory} in {package}",
            "description": text(result.get("description")),
            "solution": f"Upgrade {package} to {fixed}" if fixed else None,
            "see_also": "\n".join(dict.fromkeys(u for u in urls if u)) or None,
            "cwe": details.get("cweId"),
            "cves": [advisory, details.get("cveName")],
            "cvss3": v3 if cvss_.get("version") in (3, "3", None) else None,
        }
        return _Record(SCA, advisory, package, status, severity, when, since, hit, about)

    # the CLI's report in GitLab's SAST layout ---------------------------------------------------

    def gitlab(self, vulnerabilities: list[Any]) -> None:
        """`cx scan create --report-format gl-sast`: SAST results without their state; names no
        project; covers nothing."""
        asset = repository(None, self.ctx, FALLBACK_ASSET)
        scan = obj(self.doc.get("scan"))
        for number, vuln in enumerate(vulnerabilities, start=1):
            label = self.label(f"vulnerability {number}")
            if not isinstance(vuln, dict):
                self.ctx.skip(label, "not an object")
                continue
            category = (text(vuln.get("category")) or "checkmarx-sast").lower()
            query = text(vuln.get("name"))
            if not category.endswith("sast"):
                self.ctx.skip(label, f"category {category[:40]!r} is not SAST")
                continue
            if query is None:
                self.ctx.skip(label, "has no name (its query)")
                continue
            label = f"{label} ({query[:60]})"
            when = self.time(scan.get("end_time"), label, scan.get("start_time"))
            location = obj(vuln.get("location"))
            node = (text(location.get("file")), _line(location.get("start_line")), None, None)
            rec = self.sast(query, [node], None, vuln, when, None, label)
            said = " ".join(str(text(vuln.get("description")) or "").split())
            if said and not is_secret_rule(query):
                rec.hit = f"{rec.hit}: {said[:300]}"
            rec.about["solution"] = text(vuln.get("solution"))
            self.collector.add(asset, rec)

    # JSON report ---------------------------------------------------------------------------------

    def json_report(self) -> None:
        """`scanResults.sast.languages[].queries[].vulnerabilities[]`; covers nothing."""
        header = obj(self.doc.get("reportHeader"))
        self.name = text(header.get("projectName")) or text(obj(self.doc.get("executiveSummary")).get("projectName"))
        asset = repository(self.name, self.ctx, FALLBACK_ASSET)
        results = obj(self.doc.get("scanResults"))
        number = 0
        for engine, section in results.items():
            if section in (None, {}, []):
                continue
            if str(engine).lower() != "sast" or not isinstance(obj(section).get("languages"), list):
                self.ctx.warn(self.label(f"scanResults.{str(engine)[:40]}"), "not read (a form poam does not know)")
                continue
            for language in arr(obj(section).get("languages")):
                for query in arr(obj(language).get("queries")):
                    name = text(obj(query).get("queryName"))
                    for vuln in arr(obj(query).get("vulnerabilities")):
                        number += 1
                        label = self.label(f"result {number}")
                        if not isinstance(vuln, dict):
                            self.ctx.skip(label, "not an object")
                            continue
                        if name is None:
                            self.ctx.skip(label, "its query has no queryName")
                            continue
                        label = f"{label} ({name[:60]})"
                        when = self.time(vuln.get("foundDate"), label, header.get("createdDate"))
                        since = common.parse_time(vuln.get("firstFoundDate"))
                        nodes = [_node(n) for n in arr(vuln.get("nodes")) if isinstance(n, dict)]
                        rec = self.sast(name, nodes, vuln.get("similarityId"), vuln, when, since, label)
                        rec.about |= {
                            "family": text(vuln.get("groupName")),
                            "description": text(query.get("description")),
                        }
                        self.collector.add(asset, rec)

    # scan report ---------------------------------------------------------------------------------

    def scan_report(self) -> list[Coverage]:
        """SAST `scanResults.resultsList`, `iacScanResults.technology[].queries[]`; coverage of
        the engines the report shows complete."""
        header = obj(self.doc.get("reportHeader"))
        self.name = text(header.get("projectName"))
        asset = repository(self.name, self.ctx, FALLBACK_ASSET)
        scanned = self.fallback(header.get("scanDate"), self.doc.get("reportCreationDate"))
        details = {text(obj(d).get("vulnerabilityName")): obj(d) for d in arr(self.doc.get("vulnerabilityDetails"))}
        count = 0
        latest = scanned
        engines_read = {"sast", "iac"}
        for query in arr(obj(self.doc.get("scanResults")).get("resultsList")):
            query = obj(query)
            name = text(query.get("queryName"))
            about_query = details.get(name, {})
            for vuln in arr(query.get("vulnerabilities")):
                count += 1
                label = self.label(f"result {count}")
                if not isinstance(vuln, dict):
                    self.ctx.skip(label, "not an object")
                    continue
                if name is None:
                    self.ctx.skip(label, "its query has no queryName")
                    continue
                label = f"{label} ({name[:60]})"
                when = self.time(
                    vuln.get("foundDate"), label, header.get("scanDate"), self.doc.get("reportCreationDate")
                )
                latest = max(latest, when)
                since = common.parse_time(vuln.get("firstFoundDate"))
                nodes = [_node(n) for n in arr(vuln.get("nodes")) if isinstance(n, dict)]
                source = (vuln.get("sourceFileName"), _line(vuln.get("sourceLine")), text(vuln.get("sourceNode")), None)
                sink = (
                    vuln.get("destinationFileName"),
                    _line(vuln.get("destinationLine")),
                    text(vuln.get("destinationNode")),
                    text(vuln.get("destinationCode")),
                )
                flow = [source, sink] if sink[0] or source[0] else nodes
                rec = self.sast(name, flow, vuln.get("similarityId"), vuln, when, since, label)
                rec.about |= {
                    "cwe": query.get("cweId"),
                    "family": text(query.get("queryPath")),
                    "description": text(about_query.get("risk")) or text(about_query.get("cause")),
                    "solution": text(about_query.get("generalRecommendations")),
                    "see_also": text(query.get("queryDescriptionLink")),
                }
                self.collector.add(asset, rec)
        for technology in arr(obj(self.doc.get("iacScanResults")).get("technology")):
            for query in arr(obj(technology).get("queries")):
                query = obj(query)
                name = text(query.get("queryName"))
                for item in arr(query.get("resultsList")):
                    count += 1
                    label = self.label(f"result {count}")
                    if not isinstance(item, dict):
                        self.ctx.skip(label, "not an object")
                        continue
                    if name is None:
                        self.ctx.skip(label, "its query has no queryName")
                        continue
                    label = f"{label} ({name[:60]})"
                    when = self.time(
                        item.get("lastDetectionDate"), label, header.get("scanDate"), self.doc.get("reportCreationDate")
                    )
                    latest = max(latest, when)
                    since = common.parse_time(item.get("firstDetectionDate"))
                    severity = _severity(item.get("severity"), self.ctx, label)
                    status = _status(item.get("state"), item.get("status"), self.ctx, label)
                    hit = _kics_hit(None, item.get("issueType"), item.get("expectedValue"), item.get("actualValue"))
                    about = {
                        "name": name,
                        "family": text(query.get("category")) or text(obj(technology).get("name")),
                        "description": text(query.get("description")),
                    }
                    path = _path(item.get("fileName"))
                    self.collector.add(asset, _Record(KICS, name, path, status, severity, when, since, hit, about))
        sca = obj(self.doc.get("scaScanResults"))
        if arr(sca.get("packages")) or (isinstance(sca.get("totalResults"), int) and sca["totalResults"] > 0):
            self.ctx.warn(self.label("scaScanResults"), "not read (a form poam does not know); SCA covers nothing")
        else:
            engines_read.add("sca")
        self.times.append(scanned)
        return self._coverage(asset, scanned, latest, count, engines_read)

    def _coverage(
        self, asset: Asset, start: dt.datetime, end: dt.datetime, count: int, read: set[str]
    ) -> list[Coverage]:
        """The engines whose results the report holds in full."""
        if asset.name == FALLBACK_ASSET:
            return []
        filters = obj(self.doc.get("reportFilters"))
        included: list[str] = []
        for item in arr(filters.get("filters")):
            item = obj(item)
            if arr(item.get("excluded")):
                self.ctx.warn(
                    self.label("report"),
                    f"filter {str(item.get('filterName'))[:40]!r} excludes results: nothing is closed by absence",
                )
                return []
            if str(item.get("filterName", "")).strip().lower() == "scanners":
                included = [str(x).strip().lower() for x in arr(item.get("included"))]
        limit = _line(filters.get("resultsLimit"))
        total = obj(self.doc.get("densityGrade")).get("totalResults")
        total = total if isinstance(total, int) and not isinstance(total, bool) else count
        if limit is not None and total >= limit:
            self.ctx.warn(self.label("report"), f"holds its limit of {limit} results: nothing is closed by absence")
            return []
        info = obj(self.doc.get("scanInformation"))
        engines = included or [str(x).strip().lower() for x in arr(info.get("scanners"))]
        engines = engines or [str(x).strip().lower() for x in arr(obj(self.doc.get("reportHeader")).get("scanners"))]
        status = {
            str(obj(s).get("name", "")).strip().lower(): str(obj(s).get("status", "")).strip().lower()
            for s in arr(info.get("scannerStatus"))
        }
        out: list[Coverage] = []
        for engine in dict.fromkeys(engines):
            tool = _ENGINES.get(engine)
            if tool is None or engine.replace("kics", "iac") not in read:
                continue
            if status and status.get(engine, status.get("kics" if engine == "iac" else engine)) != "completed":
                self.ctx.warn(self.label("report"), f"engine {engine} did not complete: it covers nothing")
                continue
            out.append(Coverage(asset, start, end, None, Checks.ALL, tool=tool))
        return out


def _path(value: object) -> str | None:
    """A file path relative to the project: Checkmarx One writes `/src/app.py` for `src/app.py`."""
    path = repo_path(value)
    return path.lstrip("/") or None if path else None


def _node(node: dict[str, Any]) -> tuple[str | None, int | None, str | None, str | None]:
    """File, line, name and code of one data flow node."""
    name = text(node.get("name")) or text(node.get("node"))
    return (text(node.get("fileName")), _line(node.get("line")), name, text(node.get("code")))


def _kics_hit(line: object, issue: object, expected: object, actual: object) -> str:
    where = f"Line {_line(line)}" if _line(line) is not None else "File"
    parts = [
        text(issue),
        f"expected: {text(expected)}" if text(expected) else "",
        f"actual: {text(actual)}" if text(actual) else "",
    ]
    return f"{where}: " + "; ".join(p for p in parts if p)


def _package(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """An SCA result's package name (without version) and version."""
    name, version = text(data.get("packageName")), text(data.get("packageVersion"))
    if name:
        return name, version
    ident = text(data.get("packageIdentifier")) or text(obj(data.get("scaPackageData")).get("id"))
    for path in arr(obj(data.get("scaPackageData")).get("dependencyPaths")):
        for step in arr(path):
            named = text(obj(step).get("name"))
            if ident and named and text(obj(step).get("id")) == ident:
                return named, _after(ident, named)
    if ident:
        m = _PACKAGE_VERSION.match(ident)
        return (m.group(1), ident[m.end(1) + 1 :] or None) if m else (ident, None)
    return None, None


def _after(ident: str, name: str) -> str | None:
    """The version in a package identifier (`Maven-group:artifact-1.4.5`) after its name."""
    _head, found, rest = ident.partition(f"{name}-")
    return rest or None if found else None
