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
from poam.parsers import common
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.codescan import (
    WITHHELD,
    hits_text,
    is_secret_rule,
    max_severity,
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


def _path(value: object) -> str | None:
    """A file path relative to the project: Checkmarx One writes `/src/app.py` for `src/app.py`."""
    path = repo_path(value)
    return path.lstrip("/") or None if path else None
