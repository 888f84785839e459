"""Burp Suite issues export (XML `<issues burpVersion exportTime>`), streamed with lxml iterparse.

One finding per issue type, host and URL path. Burp writes one issue per insertion point
(`/login.jsp [username parameter]`, `[password parameter]`), so issues of the same type on the same
path are merged into one finding whose evidence lists each location; the finding takes the highest
severity among them. Requests and responses (base64, often large) are never kept: only the first
line of the first request and response is read, from a bounded prefix, for the evidence.

An issues export is a selection of issues (by host, type or severity, chosen in the UI), not a
record of what was scanned: it proves nothing about absent issues, so it never closes findings by
coverage. The hosts it names are yielded as coverage for the inventory.

Severity: High, Medium, Low, Information; an issue a user marked `False positive` is left out; an
unknown word is Moderate, warned. Everything is dated by the export's `exportTime`; an export
without one (or with one that cannot be read, warned) is dated by `--scan-date` or the file's
time. An issue without `<type>` or `<host>` is left out with a warning (never refused).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from lxml import etree

from poam.domain.identity import web_path
from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.xmlsafe import iterparse, release

TOOL = "Burp Suite"
EVIDENCE_LIMIT = 4000
DETAIL_LIMIT = 800
EXTENSION_TYPE = "134217728"  # 0x08000000: every issue raised by a Burp extension shares this type
_HEAD_CHARS = 344  # base64 characters read from a request or response: 258 bytes, for its first line
_SEVERITY = {
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "information": Severity.INFO,
    "info": Severity.INFO,
}
_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
_SESSION_IN_PATH = re.compile(r";jsessionid=[^/]*", re.IGNORECASE)
_JAVA_DATE = re.compile(r"^\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+([A-Za-z][\w+\-:]*)\s+(\d{4})$")
_MONTHS = {
    m: n for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_ZONES = {  # Java's Date.toString() abbreviations (IST and CST as Java's India and US defaults)
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 60, "BST": 60, "CET": 60, "CEST": 120, "MET": 60,
    "MEST": 120, "EET": 120, "EEST": 180, "MSK": 180, "GST": 240, "PKT": 300, "IST": 330, "ICT": 420,
    "WIB": 420, "WITA": 480, "WIT": 540, "SGT": 480, "HKT": 480, "AWST": 480, "JST": 540, "KST": 540,
    "ACST": 570, "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780, "BRT": -180, "ART": -180,
    "EST": -300, "EDT": -240, "CST": -360, "CDT": -300, "MST": -420, "MDT": -360, "PST": -480,
    "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
}  # fmt: skip


def export_time(text: str | None) -> dt.datetime | None:
    """`Sat Sep 13 22:39:44 CEST 2014` (Java's Date.toString) as naive UTC; an unknown zone
    abbreviation is taken as UTC. Other forms through `common.parse_time`."""
    if not text:
        return None
    m = _JAVA_DATE.match(text.strip())
    if not m:
        return common.parse_time(text)
    month = _MONTHS.get(m.group(1).lower())
    if month is None:
        return None
    try:
        local = dt.datetime(int(m.group(7)), month, int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)))
    except ValueError:
        return None
    return local - dt.timedelta(minutes=_ZONES.get(m.group(6).upper(), 0))


def url_path(text: str) -> str:
    """The path of an issue: no query, fragment or `;jsessionid=` session part."""
    text = text.strip()
    path = web_path(text) if "://" in text else "/" + text.split("?", 1)[0].split("#", 1)[0].lstrip("/")
    return _SESSION_IN_PATH.sub("", path) or "/"


def _first_line(el: etree._Element) -> str | None:
    """The first line of a request or response, decoding only a prefix of its base64."""
    text = el.text or ""
    if (el.get("base64") or "").lower() == "true":
        head = "".join(text[: _HEAD_CHARS + 64].split())[:_HEAD_CHARS]
        head = head[: len(head) - len(head) % 4]
        try:
            raw = base64.b64decode(head, validate=False)
        except (binascii.Error, ValueError):
            return None
        text = raw.decode("utf-8", "replace")
    line = text[:400].lstrip().split("\n", 1)[0].strip()
    return line[:200] or None


@dataclass
class _Merged:
    """One finding being built from the issues of one type on one host and path."""

    asset: Asset
    path: str
    severity: Severity
    when: dt.datetime
    lines: list[str] = field(default_factory=list)
    size: int = 0
    dropped: int = 0

    def add(self, severity: Severity, text: str) -> None:
        if _RANK[severity] > _RANK[self.severity]:
            self.severity = severity
        if self.size + len(text) > EVIDENCE_LIMIT:
            self.dropped += 1
            return
        self.lines.append(text)
        self.size += len(text) + 1

    def evidence(self) -> str | None:
        more = [f"... and {self.dropped} more issue(s)"] if self.dropped else []
        return "\n".join(self.lines + more) or None


class BurpXmlParser:
    """Reader of Burp Suite's XML issues export."""

    id = "burp-xml"
    name = "Burp Suite XML issues export"
    maps_to = "one finding per issue type, host and URL path (insertion points merged); never closes by absence"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """The root is `issues` with Burp's burpVersion attribute (or Burp's issue children)."""
        if head.xml_root != "issues":
            return False
        return b"burpVersion" in head.data or (b"<serialNumber>" in head.data and b"<issueBackground>" in head.data)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read every issue (merging those of one type and path), then yield hosts, findings and the scan."""
        clock = _Clock(ctx)
        version: str | None = None
        saw_root = False
        assets: dict[tuple[str, str], Asset] = {}
        definitions: dict[str, dict[str, str]] = {}
        merged: dict[tuple[str, str, str], _Merged] = {}
        firsts: list[str] = []  # first lines of the current issue's request and response
        number = 0
        tags = ("issues", "issue", "request", "response", "responseRedirected")
        for event, el in iterparse(stream, ctx.source, tags, ("start", "end")):
            tag = el.tag
            if tag == "issue":
                if event == "end":
                    if not saw_root:
                        raise InputError(ctx.source, "not a Burp issues export (no <issues> root)")
                    number += 1
                    self._issue(el, number, clock, firsts, assets, definitions, merged, ctx)
                    firsts = []
                    release(el)
            elif tag == "issues":
                if event == "start":
                    saw_root = True
                    version = common.clean(el.get("burpVersion"))
                    clock.read(el.get("exportTime"))
            elif event == "end":
                if tag != "responseRedirected" and len(firsts) < 2:
                    line = _first_line(el)
                    if line:
                        firsts.append(line)
                el.clear()  # the base64 blob goes now, before its issue ends
        if not saw_root:
            raise InputError(ctx.source, "not a Burp issues export (no <issues> root)")
        for asset in assets.values():
            yield Coverage(asset, clock.when, clock.when, None, Checks.VULNERABILITY)
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        # Highest severity first: the stored definition of a type is the first one the import sees.
        for (vuln_id, _host, _path), m in sorted(merged.items(), key=lambda kv: -_RANK[kv[1].severity]):
            weakness = weaknesses.get((vuln_id, m.severity))
            if weakness is None:
                weakness = weaknesses[(vuln_id, m.severity)] = _weakness(vuln_id, m.severity, definitions[vuln_id])
            yield Finding(weakness, m.asset, m.when, evidence=m.evidence(), path=m.path)
        yield Scan(TOOL, version, None, clock.known, clock.known)

    def _issue(
        self,
        el: etree._Element,
        number: int,
        clock: _Clock,
        firsts: list[str],
        assets: dict[tuple[str, str], Asset],
        definitions: dict[str, dict[str, str]],
        merged: dict[tuple[str, str, str], _Merged],
        ctx: ParseContext,
    ) -> None:
        fields = {str(c.tag): (c.text or "") for c in el if isinstance(c.tag, str) and c.tag != "requestresponse"}
        type_id = fields.get("type", "").strip()
        name = " ".join(fields.get("name", "").split())
        where = f"issue {number}" + (f" ({name[:60]})" if name else "")
        if not type_id:
            ctx.skip(where, "no <type>")
            return
        severity_text = fields.get("severity", "").strip()
        if " ".join(severity_text.lower().split()) == "false positive":
            return  # marked a false positive in Burp: not a weakness
        severity = _SEVERITY.get(severity_text.lower())
        if severity is None:
            severity = common.odd_severity(ctx, where, severity_text)
        host_el = el.find("host")
        host = (host_el.text or "").strip() if host_el is not None else ""
        if not host:
            ctx.skip(where, "no <host>")
            return
        ip = (host_el.get("ip") or "").strip() if host_el is not None else ""
        asset = assets.get((host, ip))
        if asset is None:
            asset = assets[(host, ip)] = Asset(kind=AssetKind.WEB_APP, name=host, ip=ip or None)
        # Extension issues all have type 0x08000000: the extension's issue name tells them apart.
        vuln_id = f"{type_id}:{name[:180]}" if type_id == EXTENSION_TYPE and name else type_id
        if vuln_id not in definitions:
            definitions[vuln_id] = {k: fields.get(k, "") for k in _DEFINITION_FIELDS}
        # `location` adds the insertion point (`/login.jsp [username parameter]`): never in the path.
        path = url_path(fields.get("path", "") or fields.get("location", "").split(" [", 1)[0])
        key = (vuln_id, host, path)
        m = merged.get(key)
        if m is None:
            m = merged[key] = _Merged(asset, path, severity, clock.when)
        m.add(severity, _evidence(fields, el, firsts))


class _Clock:
    """The export's time: `exportTime`, else (only when a record needs it) `ctx.fallback_time()`."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.known: dt.datetime | None = None
        self._fallback: dt.datetime | None = None

    def read(self, text: str | None) -> None:
        self.known = export_time(text)
        shown = (text or "").strip()
        if self.known is None and shown:
            how = "--scan-date" if self.ctx.scan_date is not None else "the file's time"
            self.ctx.warn("export", f"exportTime {shown[:40]!r} not readable; dated by {how}")

    @property
    def when(self) -> dt.datetime:
        if self.known is not None:
            return self.known
        if self._fallback is None:
            self._fallback = self.ctx.fallback_time()
        return self._fallback


_DEFINITION_FIELDS = ("name", "issueBackground", "remediationBackground", "references", "vulnerabilityClassifications")


def _evidence(fields: dict[str, str], el: etree._Element, firsts: list[str]) -> str:
    """One issue's part of the evidence: location, confidence, detail and request/response lines."""
    head = " | ".join(
        p
        for p in (
            " ".join(fields.get("location", "").split())[:300],
            f"confidence: {fields.get('confidence', '').strip()}" if fields.get("confidence", "").strip() else "",
            *firsts,
        )
        if p
    )
    detail = common.plain(fields.get("issueDetail")) or ""
    items = [common.plain(i.text) or "" for i in el.iterfind("issueDetailItems/issueDetailItem")]
    detail = "\n".join(x for x in (detail, *items) if x)
    if len(detail) > DETAIL_LIMIT:
        detail = detail[: DETAIL_LIMIT - 1] + "…"
    return f"{head}\n{detail}" if detail else head


def _weakness(vuln_id: str, severity: Severity, fields: dict[str, str]) -> Weakness:
    classes = fields.get("vulnerabilityClassifications", "")
    return Weakness(
        tool=TOOL,
        vuln_id=vuln_id,
        name=" ".join(fields.get("name", "").split()) or f"Burp issue {vuln_id}",
        severity=severity,
        description=common.plain(fields.get("issueBackground")),
        solution=common.plain(fields.get("remediationBackground")),
        see_also=common.plain(fields.get("references")),
        cwes=common.cwes_in(re.findall(r"CWE-\d+", classes)),
        cves=common.cves_in(common.plain(classes)),
    )
