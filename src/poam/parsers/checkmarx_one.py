"""Checkmarx One JSON: the scan report, the older JSON report, pages of the results API and the
CLI's `gl-sast` report. What a finding is, the states, assets, dates and coverage: see
`poam.parsers.checkmarx`, which holds what the two Checkmarx readers share."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from poam.domain.models import Asset, Checks, Coverage, Scan
from poam.errors import InputError
from poam.parsers import common, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.checkmarx import (
    _ENGINES,
    _PACKAGE_VERSION,
    FALLBACK_ASSET,
    KICS,
    SAST,
    SCA,
    _Collector,
    _flow,
    _line,
    _path,
    _Record,
    _severity,
    _status,
)
from poam.parsers.codescan import (
    arr,
    is_secret_rule,
    obj,
    peek,
    repository,
    text,
)


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
