"""Acunetix: the XML export of Acunetix (WVS) scans, and the JSON report of Acunetix 360.

XML (`<ScanGroup><Scan>`, streamed): each `Scan` is a site, its `StartURL` (with the crawler's
`StartUrl` when the start URL has no scheme; `http://` when neither has one). One finding per
alert (`ReportItem/Name`) and URL path (`Affects`, without query; an `Affects` that is not a path,
such as `Web Server`, is site-wide): Acunetix writes one report item per path and parameter, so
the items of one alert on one path are one finding whose evidence lists the parameters and details
(capped). Severity high, medium, low as written (critical too); info/informational is
informational; another word is Moderate, warned. `CVSS3` (else `CVSS`) gives the vector and
score, `CWEList` and `CVEList` the CWEs and CVEs. An item marked `IsFalsePositive` is set aside
(an open finding of it stays open; none is opened). Requests and responses (`TechnicalDetails`)
are never read. A scan covers its site unless it was `Aborted` or the site not `Responsive`
(warned). Dates: `StartTime` to `FinishTime` (`dd/mm/yyyy, hh:mm:ss`, the scanner's local time,
read as UTC); findings are seen at `FinishTime`; a scan without readable times is dated by the
group's `ExportedOn`, else `--scan-date`, else the file's time (warned when unreadable).

Acunetix 360 JSON (`{Generated, Target{Url, Initiated, Duration}, Vulnerabilities[]}`, the
Invicti report layout): one finding per vulnerability type (`Type`, `CookieNotMarkedAsHttpOnly`)
and URL path (`Url` without query) on the site of its URL. Severity Critical, High, Medium, Low;
Information and BestPractice are informational. `State` says what a person or a retest decided:
`Present`, `Revived`, `New` are open; any `Fixed` state is a fixed finding; `FalsePositive`,
`AcceptedRisk` and `Ignored` (alone or with another state, `Present, AcceptedRisk`) are set
aside. CVSS from `Classification.Cvss31`, else `Cvss`; CWE from `Classification.Cwe`. Requests,
responses and proofs of concept are never read. The report covers its target (`Target.Url`).
Dates: a vulnerability is seen at its `LastSeenDate`, never before the scan began (`Initiated`),
and a new one is detected at its `FirstSeenDate`; fixed ones at the scan's end (`Initiated` plus
`Duration`); times are `dd/mm/yyyy hh:mm AM` in the account's zone, read as UTC.

Lenient on values: an item without a name (type) is left out, warned; an unreadable date is
warned and replaced as above. A file without the envelope (`ScanGroup`/`Scan`, or `Target` and a
`Vulnerabilities` list) is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from lxml import etree

from poam.domain.identity import web_origin, web_path
from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss, jsonio, sca
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.xmlsafe import iterparse, release

TOOL = "Acunetix"
TOOL_360 = "Acunetix 360"
EVIDENCE_LIMIT = 4000
DETAIL_LIMIT = 600
STREAM_FROM = 64 * 1024 * 1024
"""Acunetix 360 files from this size are streamed one vulnerability at a time."""
_SEVERITY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "information": Severity.INFO,
    "bestpractice": Severity.INFO,
    "best practice": Severity.INFO,
}
_RANK = {FindingStatus.OPEN: 0, FindingStatus.SET_ASIDE: 1, FindingStatus.FIXED: 2}
_SESSION_IN_PATH = re.compile(r";jsessionid=[^/]*", re.IGNORECASE)
_DAY_FIRST = (
    "%d/%m/%Y, %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y, %H:%M",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %I:%M %p",
    "%d/%m/%Y %I:%M:%S %p",
    "%d/%m/%Y",
)
_DURATION = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$")
_PRE = re.compile(r"<pre\b.*?</pre\s*>", re.IGNORECASE | re.DOTALL)
"""A preformatted block in an item's details: a raw response or file excerpt, never kept."""


def read_time(text: str | None) -> dt.datetime | None:
    """An Acunetix date: day first (`27/02/2020, 12:56:09`, `25/06/2021 09:57 AM`), else ISO 8601."""
    text = (text or "").strip()
    if not text:
        return None
    for fmt in _DAY_FIRST:
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return common.parse_time(text)
    return None


def _duration(text: str | None) -> dt.timedelta | None:
    """`00:12:24.8161163` or `1.02:03:04` (days.hours:minutes:seconds)."""
    m = _DURATION.match((text or "").strip())
    if not m:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def url_path(text: str) -> str:
    """A URL's path without query, fragment or `;jsessionid=`; doubled slashes as one."""
    text = text.strip()
    path = web_path(text) if "://" in text else "/" + text.split("?", 1)[0].split("#", 1)[0].lstrip("/")
    return _SESSION_IN_PATH.sub("", re.sub(r"/{2,}", "/", path)) or "/"


def _cut(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Merged:
    """The items of one alert on one path of one site."""

    asset: Asset
    path: str | None
    status: FindingStatus
    lines: list[str] = field(default_factory=list)
    size: int = 0
    dropped: int = 0

    def add(self, status: FindingStatus, line: str) -> None:
        if _RANK[status] < _RANK[self.status]:
            self.status, self.lines, self.size, self.dropped = status, [], 0, 0
        elif status is not self.status:
            return
        if not line:
            return
        if self.size + len(line) > EVIDENCE_LIMIT:
            self.dropped += 1
            return
        self.lines.append(line)
        self.size += len(line) + 1

    def evidence(self) -> str | None:
        more = [f"... and {self.dropped} more item(s)"] if self.dropped else []
        return "\n".join(self.lines + more) or None


# --- XML ---------------------------------------------------------------------------------------


@dataclass
class _XmlDraft:
    """What one alert's first report item says of it (its worst rating among open items)."""

    severity: Severity
    fields: dict[str, str]
    references: list[tuple[str | None, str | None]]
    cwes: list[str]
    cves: list[str]
    scores: dict[int, tuple[str | None, str | None]]
    aside: bool


@dataclass
class _XmlScan:
    """One `<Scan>` of the group: its site, times and findings."""

    number: int
    element: etree._Element | None
    read: bool = False
    name: str | None = None
    asset: Asset | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    covers: bool = True
    crawler_url: str | None = None
    merged: dict[tuple[str, Asset, str | None], _Merged] = field(default_factory=dict)


class AcunetixXmlParser:
    """Reader of Acunetix's XML scan export."""

    id = "acunetix-xml"
    name = "Acunetix XML scan export"
    maps_to = "one finding per alert, site and URL path (parameters merged); every scanned site is covered"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """The root is `ScanGroup` with a `Scan` holding Acunetix's `StartURL` or `ReportItems`."""
        if head.xml_root != "ScanGroup":
            return False
        return b"<Scan" in head.data and (b"<StartURL" in head.data or b"<ReportItems" in head.data)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Stream the scans and their report items, then yield coverage, findings and the scan."""
        saw_root = False
        exported: dt.datetime | None = None
        current: _XmlScan | None = None
        scans: list[_XmlScan] = []
        drafts: dict[str, _XmlDraft] = {}
        tags = ("ScanGroup", "Scan", "Crawler", "SiteFile", "ReportItem", "TechnicalDetails")
        for event, el in iterparse(stream, ctx.source, tags, ("start", "end")):
            tag = el.tag
            if tag == "ReportItem":
                if event == "end":
                    if current is None:
                        raise InputError(ctx.source, f"ReportItem outside a Scan (line {el.sourceline})")
                    _header(current, ctx, exported)
                    _item(current, el, ctx, drafts)
                    release(el)
            elif tag in ("SiteFile", "TechnicalDetails"):
                if event == "end":
                    el.clear()  # crawled files, raw requests and responses: never kept
            elif tag == "Crawler":
                if event == "start" and current is not None:
                    current.crawler_url = common.clean(el.get("StartUrl"))
            elif tag == "Scan":
                if event == "start":
                    if not saw_root:
                        raise InputError(ctx.source, "not an Acunetix XML export (no ScanGroup root)")
                    current = _XmlScan(len(scans) + 1, el)
                    scans.append(current)
                elif current is not None:
                    _header(current, ctx, exported)
                    current.element, current = None, None
                    release(el)
            elif tag == "ScanGroup" and event == "start":
                saw_root = True
                shown = common.clean(el.get("ExportedOn"))
                exported = read_time(shown)
                if exported is None and shown:
                    ctx.warn("ScanGroup", f"ExportedOn {shown[:40]!r} is not a date; ignored")
        if not saw_root:
            raise InputError(ctx.source, "not an Acunetix XML export (no ScanGroup root)")
        if not scans:
            raise InputError(ctx.source, "not an Acunetix XML export (no Scan element)")
        weaknesses = {name: _xml_weakness(name, draft) for name, draft in drafts.items()}
        times: list[dt.datetime] = []
        for scan in scans:
            start = scan.start or ctx.fallback_time()
            end = scan.end or start
            times += [start, end]
            if scan.asset is not None and scan.covers:
                yield Coverage(scan.asset, start, end, None, Checks.VULNERABILITY)
            for (name, _asset, _path), m in scan.merged.items():
                yield Finding(weaknesses[name], m.asset, end, evidence=m.evidence(), path=m.path, status=m.status)
        yield Scan(TOOL, None, sca.label([s.name for s in scans], "scans"), min(times), max(times))


def _header(scan: _XmlScan, ctx: ParseContext, exported: dt.datetime | None) -> None:
    """The scan's name, site, times and state, from the elements before its report items (read
    once, at its first report item or at its end)."""
    el = scan.element
    if scan.read or el is None:
        return
    scan.read = True
    record = f"scan {scan.number}"
    scan.name = common.clean(el.findtext("Name"))
    start_url = (el.findtext("StartURL") or "").strip()
    crawler = scan.crawler_url or ""
    url = start_url if "://" in start_url else crawler if "://" in crawler else start_url
    if url and "://" not in url:
        url = "http://" + url
    if url:
        scan.asset = Asset(AssetKind.WEB_APP, name=web_origin(url))
    else:
        scan.covers = False
        ctx.warn(record, "no StartURL; it covers nothing, and only items that name their URL are read")
    times: list[dt.datetime | None] = []
    for what in ("StartTime", "FinishTime"):
        shown = (el.findtext(what) or "").strip()
        when = read_time(shown)
        if when is None and shown:
            how = "ExportedOn" if exported else "--scan-date" if ctx.scan_date else "the file's time"
            ctx.warn(record, f"{what} {shown[:40]!r} is not a date; dated by {how}")
        times.append(when)
    start, end = times
    start, end = start or end or exported, end or start or exported
    if start is not None and end is not None and end < start:
        end = start
    scan.start, scan.end = start, end
    if (el.findtext("Aborted") or "").strip().lower() == "true":
        scan.covers = False
        ctx.warn(record, "the scan was aborted; it covers nothing")
    if (el.findtext("Responsive") or "").strip().lower() == "false":
        scan.covers = False
        ctx.warn(record, "the site did not respond; the scan covers nothing")


def _item(scan: _XmlScan, el: etree._Element, ctx: ParseContext, drafts: dict[str, _XmlDraft]) -> None:
    """One report item: merged into the finding of its alert and path."""
    fields = {str(c.tag): (c.text or "") for c in el if isinstance(c.tag, str) and c.tag != "TechnicalDetails"}
    name = " ".join(fields.get("Name", "").split())[:200]
    record = f"scan {scan.number}, item {el.get('id') or '?'}" + (f" ({name[:60]})" if name else "")
    if not name:
        ctx.skip(record, "no Name")
        scan.covers = False  # which finding it was is not known: nothing on the site closes
        return
    word = fields.get("Severity", "").strip()
    severity = _SEVERITY.get(" ".join(word.lower().split()))
    if severity is None:
        severity = common.odd_severity(ctx, record, word)
    affects = " ".join(fields.get("Affects", "").split())
    asset = Asset(AssetKind.WEB_APP, name=web_origin(affects)) if "://" in affects else scan.asset
    if asset is None:
        ctx.skip(record, "neither its scan's StartURL nor its Affects names a site")
        return
    path = url_path(affects) if affects.startswith("/") or "://" in affects else None
    aside = fields.get("IsFalsePositive", "").strip().lower() in ("true", "1", "yes")
    status = FindingStatus.SET_ASIDE if aside else FindingStatus.OPEN
    draft = drafts.get(name)
    if draft is None or draft.aside and not aside:  # an open item's text and rating win
        references = [
            (common.clean(r.findtext("Database")), common.clean(r.findtext("URL")))
            for r in el.iterfind("References/Reference")
        ]
        drafts[name] = _XmlDraft(
            severity=severity,
            fields=fields,
            references=references,
            cwes=[c.get("id") or c.text or "" for c in el.iterfind("CWEList/CWE")],
            cves=[c.text or "" for c in el.iterfind("CVEList/CVE")],
            scores={
                3: (common.clean(el.findtext("CVSS3/Score")), common.clean(el.findtext("CVSS3/Descriptor"))),
                2: (common.clean(el.findtext("CVSS/Score")), common.clean(el.findtext("CVSS/Descriptor"))),
            },
            aside=aside,
        )
    elif aside is draft.aside:
        draft.severity = sca.worse(draft.severity, severity)
    merged = scan.merged.get((name, asset, path))
    if merged is None:
        merged = scan.merged[(name, asset, path)] = _Merged(asset, path, status)
    merged.add(status, _xml_evidence(fields, None if path else affects))


def _xml_evidence(fields: dict[str, str], affects: str | None) -> str:
    """One item's part of the evidence: where (a site-wide `Affects`), parameter and details."""
    parts = []
    if affects:
        parts.append(f"affects: {_cut(affects, 120)}")
    parameter = " ".join(fields.get("Parameter", "").split())
    if parameter:
        parts.append(f"parameter: {_cut(parameter, 120)}")
    detail = common.plain(_PRE.sub(" [...] ", fields.get("Details") or ""))
    if detail:
        parts.append(_cut(detail, DETAIL_LIMIT))
    return " | ".join(parts)


def _xml_weakness(name: str, draft: _XmlDraft) -> Weakness:
    fields = draft.fields
    description = "\n\n".join(
        t for t in (common.plain(fields.get("Description")), common.plain(fields.get("Impact"))) if t
    )
    links = [f"{db}: {url}" if db and url else url or db or "" for db, url in draft.references]
    scores: dict[int, tuple[float | None, str | None]] = {}
    for version, (score, vector) in draft.scores.items():
        if version == 2:
            vector = cvss.clean_v2(vector)
        value = cvss.score(score) if score else None
        scores[version] = (cvss.fill(version, value, vector), vector) if vector or value is not None else (None, None)
    return Weakness(
        tool=TOOL,
        vuln_id=name,
        name=name,
        severity=draft.severity,
        family=common.clean(fields.get("Type")),
        description=description or None,
        solution=common.plain(fields.get("Recommendation")),
        see_also="\n".join(dict.fromkeys(x for x in links if x)) or None,
        cvss2_score=scores[2][0],
        cvss2_vector=scores[2][1],
        cvss3_score=scores[3][0],
        cvss3_vector=scores[3][1],
        cves=common.cves_in(draft.cves),
        cwes=tuple(dict.fromkeys(c for c in common.cwes_in(draft.cwes) if c.isdigit())),
    )


# --- Acunetix 360 JSON ------------------------------------------------------------------------


@dataclass
class _Target:
    """The report's target and scan window."""

    asset: Asset | None
    start: dt.datetime
    end: dt.datetime


class Acunetix360Parser:
    """Reader of Acunetix 360's JSON scan report."""

    id = "acunetix-360"
    name = "Acunetix 360 JSON scan report"
    maps_to = (
        "one finding per vulnerability type and URL path on the target's site; fixed states close, "
        "false positives and accepted risks are set aside"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """An object with `Target` and `Vulnerabilities` (and `Generated`), the first vulnerability
        with Acunetix 360's `LookupId` or `Type` and `Url`."""
        shape = head.json
        if shape.kind != "object" or not {"Target", "Vulnerabilities"} <= shape.keys:
            return False
        return "Generated" in shape.keys or ('"LookupId"' in head.text and '"Certainty"' in head.text)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the report (streamed from STREAM_FROM bytes), then yield coverage, findings and the scan."""
        start = stream.tell()
        size = stream.seek(0, 2) - start
        stream.seek(start)
        reports: list[tuple[dict[str, Any], Iterator[Any] | list[Any]]] = []
        if size < STREAM_FROM:
            docs = list(jsonio.documents(stream, ctx.source))
            for number, doc in enumerate(docs, start=1):
                if not isinstance(doc, dict) or not isinstance(doc.get("Vulnerabilities"), list):
                    what = f"report {number} is not" if len(docs) > 1 else "not"
                    raise InputError(ctx.source, f"{what} an Acunetix 360 report (no `Vulnerabilities` list)")
                reports.append((doc, doc["Vulnerabilities"]))
            yield from self._read(reports, ctx)
            return
        headers = jsonio.headers(stream, ctx.source, "Vulnerabilities")
        stream.seek(start)
        if not headers or any("Target" not in h for h, _c in headers):
            raise InputError(ctx.source, "not an Acunetix 360 report (no `Target`)")
        items = jsonio.items(stream, ctx.source, "Vulnerabilities.item")
        yield from self._read([(h, _take(items, count)) for h, count in headers], ctx)

    def _read(
        self, reports: list[tuple[dict[str, Any], Iterator[Any] | list[Any]]], ctx: ParseContext
    ) -> Iterator[Record]:
        merged: dict[tuple[str, Asset, str | None], _Merged360] = {}
        drafts: dict[str, tuple[dict[str, Any], Severity]] = {}
        targets: list[_Target] = []
        several = len(reports) > 1
        for number, (header, vulns) in enumerate(reports, start=1):
            label = f"report {number}" if several else "report"
            target = _target(header, label, ctx)
            targets.append(target)
            for n, vuln in enumerate(vulns, start=1):
                _vulnerability(f"{label + ', ' if several else ''}vulnerability {n}", vuln, target, ctx, merged, drafts)
        weaknesses = {t: _weakness_360(t, v, s) for t, (v, s) in drafts.items()}
        for target in targets:
            if target.asset is not None:
                yield Coverage(target.asset, target.start, target.end, None, Checks.VULNERABILITY)
        for (vuln_type, _asset, _path), m in merged.items():
            since = m.since if m.status is FindingStatus.OPEN and m.since and m.since < m.when else None
            yield Finding(
                weaknesses[vuln_type],
                m.asset,
                m.when,
                evidence=sca.join_evidence(m.lines),
                status=m.status,
                path=m.path,
                since=since,
            )
        yield Scan(TOOL_360, None, None, min(t.start for t in targets), max(t.end for t in targets))


_END = object()


def _take(items: Iterator[Any], count: int) -> Iterator[Any]:
    """The next `count` items of a stream shared by the reports of one file."""
    for _n in range(count):
        value = next(items, _END)
        if value is _END:
            return
        yield value


@dataclass
class _Merged360:
    asset: Asset
    path: str | None
    status: FindingStatus
    when: dt.datetime
    since: dt.datetime | None
    lines: list[str] = field(default_factory=list)

    def add(self, status: FindingStatus, when: dt.datetime, since: dt.datetime | None, line: str) -> None:
        if _RANK[status] < _RANK[self.status]:
            self.status, self.when, self.since, self.lines = status, when, since, [line]
        elif status is self.status:
            self.when = max(self.when, when)
            self.since = min((t for t in (self.since, since) if t), default=None)
            self.lines.append(line)


def _target(header: dict[str, Any], label: str, ctx: ParseContext) -> _Target:
    target = common.obj(header.get("Target"))
    url = common.text(target.get("Url"))
    asset = Asset(AssetKind.WEB_APP, name=web_origin(url)) if url and "://" in url else None
    if asset is None:
        ctx.warn(label, "Target.Url names no site; the report covers nothing")
    shown = common.text(target.get("Initiated"))
    start = read_time(shown)
    if start is None and shown:
        ctx.warn(label, f"Target.Initiated {shown[:40]!r} is not a date; dated by the report's Generated time")
    generated = read_time(common.text(header.get("Generated")))
    start = start or generated or ctx.fallback_time()
    duration = _duration(common.text(target.get("Duration")))
    end = start + duration if duration is not None else max(start, generated or start)
    return _Target(asset, start, end)


def _state(value: object, record: str, ctx: ParseContext) -> FindingStatus:
    """`Present`, `Revived`, `Present, AcceptedRisk`, `FalsePositive`, `Fixed (Confirmed)`..."""
    text = (common.text(value) or "").lower()
    words = [w.strip() for w in text.split(",") if w.strip()]
    if any(w.replace(" ", "") in ("falsepositive", "acceptedrisk", "ignored") for w in words):
        return FindingStatus.SET_ASIDE
    if any(w.startswith("fixed") for w in words):
        return FindingStatus.FIXED
    if not words or all(w in ("present", "revived", "new", "notfound", "scanning") for w in words):
        return FindingStatus.OPEN
    if common.dismissed(text.replace(" ", "_")):
        ctx.warn(record, f"State {str(value)[:40]!r} read as set aside")
        return FindingStatus.SET_ASIDE
    return common.odd_status(ctx, record, value)


def _vulnerability(
    record: str,
    vuln: object,
    target: _Target,
    ctx: ParseContext,
    merged: dict[tuple[str, Asset, str | None], _Merged360],
    drafts: dict[str, tuple[dict[str, Any], Severity]],
) -> None:
    if not isinstance(vuln, dict):
        ctx.skip(record, "not an object")
        return
    vuln_type = common.text(vuln.get("Type")) or common.text(vuln.get("Name"))
    if vuln_type is None:
        ctx.skip(record, "no Type or Name")
        return
    record = f"{record} ({vuln_type[:60]})"
    url = common.text(vuln.get("Url")) or ""
    asset = Asset(AssetKind.WEB_APP, name=web_origin(url)) if "://" in url else target.asset
    if asset is None:
        ctx.skip(record, "neither its Url nor the report's Target names a site")
        return
    path = url_path(url) if url else None
    word = vuln.get("Severity")
    severity = _SEVERITY.get((common.text(word) or "").lower())
    if severity is None:
        severity = common.odd_severity(ctx, record, word)
    status = _state(vuln.get("State"), record, ctx)
    last = read_time(common.text(vuln.get("LastSeenDate")))
    first = read_time(common.text(vuln.get("FirstSeenDate")))
    if status is FindingStatus.FIXED or last is None or last < target.start:
        when = target.end if status is FindingStatus.FIXED else max(last or target.start, target.start)
    else:
        when = last
    known = drafts.get(vuln_type)
    drafts[vuln_type] = (vuln, severity) if known is None else (known[0], sca.worse(known[1], severity))
    parts = [_cut(url, 200) or "(no URL)"]
    params = [
        common.text(common.obj(p).get("Name"))
        for p in common.arr(common.obj(vuln.get("HttpRequest")).get("Parameters"))
        if common.obj(p).get("Vulnerable") is True
    ]
    if any(params):
        parts.append("parameter: " + ", ".join(p for p in params if p))
    state = common.text(vuln.get("State"))
    if state:
        parts.append(f"state: {state}")
    certainty = common.text(vuln.get("Certainty"))
    if certainty:
        parts.append(f"certainty {certainty}%" + (", confirmed" if vuln.get("Confirmed") is True else ""))
    extra = [
        f"{common.text(common.obj(e).get('Name'))}: {_cut(common.text(common.obj(e).get('Value')) or '', 120)}"
        for e in common.arr(vuln.get("ExtraInformation"))
        if common.text(common.obj(e).get("Name"))
    ]
    line = " | ".join(parts + extra[:6])
    key = (vuln_type, asset, path)
    seen = merged.get(key)
    if seen is None:
        merged[key] = _Merged360(asset, path, status, when, first, [line])
    else:
        seen.add(status, when, first, line)


def _weakness_360(vuln_type: str, vuln: dict[str, Any], severity: Severity) -> Weakness:
    classification = common.obj(vuln.get("Classification"))
    scores: dict[int, tuple[float | None, str | None]] = {2: (None, None), 3: (None, None), 4: (None, None)}
    for key in ("Cvss31", "Cvss", "Cvss40"):
        entry = common.obj(classification.get(key))
        vector = common.text(entry.get("Vector"))
        if not vector:
            continue
        version = 4 if vector.upper().startswith("CVSS:4") else 3 if vector.upper().startswith("CVSS:3") else 2
        if scores[version][1] is None:
            value = sca.score(common.obj(entry.get("BaseScore")).get("Value"))
            scores[version] = (cvss.fill(version, value, vector), vector)
    known = [
        common.text(common.obj(k).get("Title"))
        for k in common.arr(vuln.get("KnownVulnerabilities"))
        if isinstance(k, dict)
    ]
    description = "\n\n".join(t for t in (common.plain(vuln.get("Description")), common.plain(vuln.get("Impact"))) if t)
    solution = common.plain(vuln.get("RemedialProcedure")) or common.plain(vuln.get("RemedialActions"))
    references = common.plain(vuln.get("ExternalReferences"))
    links = re.findall(r"href=['\"]([^'\"]+)['\"]", str(vuln.get("ExternalReferences") or ""))
    cwe = common.text(classification.get("Cwe")) or ""
    return Weakness(
        tool=TOOL_360,
        vuln_id=vuln_type[:200],
        name=" ".join((common.text(vuln.get("Name")) or vuln_type).split())[:500],
        severity=severity,
        family=common.text(classification.get("Owasp")),
        synopsis=("Known vulnerabilities: " + "; ".join(dict.fromkeys(k for k in known if k)))[:1000]
        if any(known)
        else None,
        description=description or None,
        solution=solution,
        see_also="\n".join(dict.fromkeys(links)) or references,
        cvss2_score=scores[2][0],
        cvss2_vector=scores[2][1],
        cvss3_score=scores[3][0],
        cvss3_vector=scores[3][1],
        cvss4_score=scores[4][0],
        cvss4_vector=scores[4][1],
        cves=common.cves_in(common.text(vuln.get("Name")), known),
        cwes=tuple(dict.fromkeys(c for c in common.cwes_in(cwe.split(",")) if c.isdigit())),
    )
