"""OWASP ZAP traditional reports: XML (also "xml-plus" with requests and responses) and JSON.

One finding per alert and URL path of a site: the asset is the site (its origin), the path is the
instance URI's path without query. Method, parameter, attack, evidence and the full URI of the
instances go into the evidence, capped. Every `site` of the report is coverage: ZAP lists each
site it scanned, with or without alerts, so a later report that no longer shows an alert closes it.

ZAP may list fewer instances than an alert's `count` (20 of 170): the paths left out are not
proof of a fix. A report that cuts a rule's instance list names that rule in the scan's
`partial_checks`: it shows the rule's findings seen, never fixed by their absence. An alert a user
marked a false positive (confidence 0) is set aside, one record per URL path as an open alert's:
an open finding of that alert and path stays open (setting an alert aside is not a fix), and no
finding is opened from it.

Risk codes 0-3: informational, low, medium, high; another code falls back to the word of
`riskdesc`, else Moderate, warned. Dates: the report's `created` (ISO), else `generated` (the ZAP
host's local time, in several locales); a report without a date, or one that cannot be read
(warned), is dated by `--scan-date` or the file's time. Left out with a warning (never refused):
an alert without a plugin id, a site without a name or host (with its alerts), a site or alert
that is not a JSON object. The JSON report is read as one document, several concatenated, or
JSON Lines (one report per line): all are one import, with one scan window.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO

from lxml import etree

from poam.domain.identity import web_path
from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.xmlsafe import iterparse, release

TOOL = "OWASP ZAP"
MAPS_TO = (
    "one finding per alert (plugin id or alertRef variant) and URL path; every site is covered; "
    "a rule whose instance list is cut closes nothing"
)
EVIDENCE_LIMIT = 4000
VALUE_LIMIT = 300
_RISK = {"0": Severity.INFO, "1": Severity.LOW, "2": Severity.MEDIUM, "3": Severity.HIGH}
_FALSE_POSITIVE = "0"  # confidence 0: a user marked the alert a false positive in ZAP
_INSTANCE_FIELDS = ("uri", "method", "param", "attack", "evidence", "otherinfo")
_BULKY = ("requestheader", "requestbody", "responseheader", "responsebody")
_SESSION_IN_PATH = re.compile(r";jsessionid=[^/]*", re.IGNORECASE)
_LOCAL_DATE = re.compile(
    r"(\d{1,2})\.?\s+([^\W\d_]+)\.?,?\s+(\d{4}),?\s+(?:um\s+|à\s+)?(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
)
_MONTHS = {  # first letters of month names in the locales ZAP is most often run in
    "jan": 1, "gen": 1, "ene": 1, "janv": 1,
    "feb": 2, "fév": 2, "fev": 2, "febr": 2,
    "mar": 3, "mär": 3, "mrz": 3, "mars": 3, "mrt": 3,
    "apr": 4, "avr": 4, "abr": 4,
    "may": 5, "mai": 5, "mag": 5, "mei": 5,
    "jun": 6, "juin": 6, "giu": 6,
    "jul": 7, "juil": 7, "lug": 7,
    "aug": 8, "aoû": 8, "aou": 8, "ago": 8,
    "sep": 9, "set": 9,
    "oct": 10, "okt": 10, "ott": 10, "out": 10,
    "nov": 11,
    "dec": 12, "dez": 12, "déc": 12, "dic": 12,
}  # fmt: skip
Alert = Mapping[str, Any]
Seen = set[tuple[str, Severity, str | None, bool]]
"""(vuln id, severity, path, set aside) of the findings of a site already yielded."""


def report_time(created: object, generated: object, ctx: ParseContext, record: str = "report") -> dt.datetime | None:
    """The report's time: ISO `created` (newer reports), else `generated` (local time of the ZAP
    host, in its locale); None when it gives none or none that can be read (warned)."""
    when = common.parse_time(created) or common.parse_time(generated) or _local_date(generated)
    if when is None:
        shown = common.clean(_text(generated)) or common.clean(_text(created))
        if shown is not None:
            how = "--scan-date" if ctx.scan_date is not None else "the file's time"
            ctx.warn(record, f"report date {shown[:40]!r} not readable; dated by {how}")
    return when


def _local_date(text: object) -> dt.datetime | None:
    """`Fr., 30 Sep. 2022 08:40:35` and other non-English forms of ZAP's `generated`."""
    m = _LOCAL_DATE.search(str(text or ""))
    if not m:
        return None
    word = m.group(2).lower()
    month = _MONTHS.get(word[:4]) or _MONTHS.get(word[:3])
    if month is None:
        return None
    try:
        return dt.datetime(
            int(m.group(3)), month, int(m.group(1)), int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)
        )
    except ValueError:
        return None


def url_path(uri: str) -> str:
    """The path of an instance URI: no query, fragment or `;jsessionid=` session part."""
    uri = uri.strip()
    if "://" in uri:
        path = web_path(uri)
    else:
        path = "/" + uri.split("?", 1)[0].split("#", 1)[0].lstrip("/")
    return _SESSION_IN_PATH.sub("", path) or "/"


def _text(value: object) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def _cut(text: str, limit: int = VALUE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _vuln_id(alert: Alert) -> str | None:
    """The plugin id, refined by alertRef when ZAP gives one alert of a rule its own reference
    (`10020-1`, `40018-4`): those are distinct weaknesses with their own names and risks."""
    plugin = _text(alert.get("pluginid"))
    ref = _text(alert.get("alertRef"))
    if ref and (not plugin or ref.startswith(plugin + "-")):
        return ref
    return plugin or None


def _weakness(vuln_id: str, alert: Alert, severity: Severity) -> Weakness:
    cwe = _text(alert.get("cweid"))
    name = _text(alert.get("name")) or _text(alert.get("alert")) or f"ZAP alert {vuln_id}"
    reference = common.plain(_text(alert.get("reference")))
    return Weakness(
        tool=TOOL,
        vuln_id=vuln_id,
        name=" ".join(name.split()),
        severity=severity,
        description=common.plain(_text(alert.get("desc"))),
        solution=common.plain(_text(alert.get("solution"))),
        see_also=reference,
        cwes=(str(int(cwe)),) if cwe.isdecimal() and int(cwe) > 0 else (),
        cves=common.cves_in(reference),
    )


def _severity(alert: Alert, where: str, ctx: ParseContext) -> Severity:
    code = _text(alert.get("riskcode"))
    severity = _RISK.get(code)
    if severity is None:  # fall back to the word of `riskdesc` (`Medium (High)`)
        severity = common.severity_word(_text(alert.get("riskdesc")).split(" (")[0])
    if severity is None:
        ctx.warn(where, f"riskcode {code[:20]!r} not recognised; rated Moderate")
        severity = Severity.MEDIUM
    return severity


def _instance_line(instance: Mapping[str, Any]) -> str:
    parts = [_cut(_text(instance.get("method")), 20) or "?", _cut(_text(instance.get("uri")))]
    for key, label in (("param", "param"), ("attack", "attack"), ("evidence", "evidence"), ("otherinfo", "other")):
        value = _text(instance.get(key))
        if value:
            parts.append(f"{label}: {_cut(value)}")
    return " | ".join(parts)


def _evidence(lines: list[str], other: str | None) -> str | None:
    out: list[str] = []
    size = 0
    for n, line in enumerate(lines):
        if size + len(line) > EVIDENCE_LIMIT:
            out.append(f"... and {len(lines) - n} more instance(s)")
            break
        out.append(line)
        size += len(line) + 1
    if other:
        out.append("Other info: " + _cut(other, 600))
    return "\n".join(out) or None


class _Reader:
    """What both report forms share: sites, alerts and the findings they make."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.known: dt.datetime | None = None
        """The current report's date, when it gives one."""
        self._fallback: dt.datetime | None = None
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self.version: str | None = None
        self.weaknesses: dict[tuple[str, Severity], Weakness] = {}
        self.sites = 0
        self.partial: dict[str, None] = {}
        """Rules whose instance list this report cuts short (or gives in a form poam cannot read)."""

    def report(self, when: dt.datetime | None, version: str | None) -> None:
        """Start a report (a file may hold several JSON reports): its date and ZAP version."""
        self.known = when
        self.version = self.version or version
        if when is not None:
            self.first = min(self.first, when) if self.first else when
            self.last = max(self.last, when) if self.last else when

    @property
    def when(self) -> dt.datetime:
        """The current report's date, else (asked only when a record needs it) the fallback time."""
        if self.known is not None:
            return self.known
        if self._fallback is None:
            self._fallback = self.ctx.fallback_time()
            self.report(self._fallback, None)
        return self._fallback

    def scan(self) -> Scan:
        return Scan(TOOL, self.version, None, self.first, self.last, partial_checks=tuple(self.partial))

    def site(self, name: str, host: str, port: str, ssl: str) -> tuple[Asset, Coverage] | None:
        """A site's asset and coverage; None when it names no web application (warned)."""
        self.sites += 1
        name = name.strip()
        if not name and host:
            scheme = "https" if ssl.lower() == "true" else "http"
            name = f"{scheme}://{host.strip()}" + (f":{port.strip()}" if port.strip() else "")
        if not name:
            self.ctx.skip(f"site {self.sites} (with its alerts)", "neither a name nor a host")
            return None
        asset = Asset(kind=AssetKind.WEB_APP, name=name)
        return asset, Coverage(asset, self.when, self.when, None, Checks.VULNERABILITY)

    def findings(
        self,
        alert: Alert,
        instances: Sequence[Mapping[str, Any]],
        asset: Asset,
        seen: Seen,
    ) -> Iterator[Finding]:
        """One finding per URL path of this alert's instances (one asset-wide when it has none)."""
        where = f"site {self.sites}"
        vuln_id = _vuln_id(alert)
        if vuln_id is None:
            name = _text(alert.get("name")) or _text(alert.get("alert"))
            self.ctx.skip(f"{where}, alert {name[:60]!r}" if name else f"{where}, an alert", "no pluginid")
            return
        # a false positive set aside by a user: not open, not fixed (its open finding stays open)
        aside = _text(alert.get("confidence")) == _FALSE_POSITIVE
        status = FindingStatus.SET_ASIDE if aside else FindingStatus.OPEN
        severity = _severity(alert, f"{where}, alert {vuln_id}", self.ctx)
        weakness = self.weaknesses.get((vuln_id, severity))
        if weakness is None:
            weakness = self.weaknesses[(vuln_id, severity)] = _weakness(vuln_id, alert, severity)
        count = _text(alert.get("count"))
        if instances and count.isdecimal() and int(count) > len(instances):
            self.partial[vuln_id] = None
        if not instances and _text(alert.get("uri")):  # ZAP before 2.5: one instance in the alert itself
            instances = [alert]
        paths: dict[str | None, list[str]] = {}
        for instance in instances:
            uri = _text(instance.get("uri"))
            paths.setdefault(url_path(uri) if uri else None, []).append(_instance_line(instance))
        if not paths:
            paths[None] = []
        other = common.plain(_text(alert.get("otherinfo")))
        for path, lines in paths.items():
            key = (vuln_id, severity, path, aside)
            if key in seen:  # the same rule twice for a site (older ZAP): the first one stands
                continue
            seen.add(key)
            yield Finding(weakness, asset, self.when, evidence=_evidence(lines, other), path=path, status=status)


def _as_list(value: object) -> list[Any] | None:
    """A JSON list; old ZAP versions write a single object where a list has one element. None
    when the value is neither."""
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    return None


class ZapXmlParser:
    """Reader of ZAP's traditional XML report (OWASPZAPReport)."""

    id = "zap-xml"
    name = "OWASP ZAP traditional XML report (also xml-plus)"
    maps_to = MAPS_TO
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """The root element is OWASPZAPReport."""
        return head.xml_root == "OWASPZAPReport"

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Stream sites and alert items, then the scan's facts."""
        reader = _Reader(ctx)
        asset: Asset | None = None
        in_site = False
        seen: Seen = set()
        saw_root = False
        tags = ("OWASPZAPReport", "site", "alertitem", *_BULKY)
        for event, el in iterparse(stream, ctx.source, tags, ("start", "end")):
            tag = el.tag
            if tag == "alertitem":
                if event == "end":
                    if not in_site:
                        raise InputError(ctx.source, f"alertitem outside a site (line {el.sourceline})")
                    if asset is not None:  # else its site was left out
                        alert, instances = _xml_alert(el)
                        yield from reader.findings(alert, instances, asset, seen)
                    release(el)
            elif tag == "site":
                if event == "start":
                    if not saw_root:
                        raise InputError(ctx.source, "not a ZAP XML report (no OWASPZAPReport root)")
                    in_site = True
                    site = reader.site(*(el.get(a) or "" for a in ("name", "host", "port", "ssl")))
                    asset = site[0] if site else None
                    seen = set()
                    if site:
                        yield site[1]
                else:
                    asset, in_site = None, False
                    release(el)
            elif tag == "OWASPZAPReport":
                if event == "start":
                    saw_root = True
                    reader.report(
                        report_time(el.get("created"), el.get("generated"), ctx), common.clean(el.get("version"))
                    )
            elif event == "end":
                el.clear()  # request and response bodies of xml-plus: never kept
        if not saw_root:
            raise InputError(ctx.source, "not a ZAP XML report (no OWASPZAPReport root)")
        yield reader.scan()


def _xml_alert(el: etree._Element) -> tuple[dict[str, str], list[dict[str, str]]]:
    alert: dict[str, str] = {}
    instances: list[dict[str, str]] = []
    for child in el:
        tag: object = child.tag
        if not isinstance(tag, str):
            continue
        if tag == "instances":
            for inst in child:
                if inst.tag == "instance":
                    instances.append({f: (inst.findtext(f) or "") for f in _INSTANCE_FIELDS})
        else:
            alert[tag] = child.text or ""
    return alert, instances


class ZapJsonParser:
    """Reader of ZAP's traditional JSON report."""

    id = "zap-json"
    name = "OWASP ZAP traditional JSON report"
    maps_to = MAPS_TO
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A JSON object (the first of several, or of JSON Lines) with `site` and ZAP's `@version` /
        `@generated` keys (not a GitLab DAST report, which embeds ZAP's sites next to its own
        `scan` and `vulnerabilities`)."""
        keys = head.json.keys
        if head.json.kind != "object" or "site" not in keys or {"scan", "vulnerabilities"} & keys:
            return False
        return bool({"@version", "@generated"} & keys)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read every report of the file (one document, several concatenated, or JSON Lines), then
        yield sites and alerts; one scan for them all."""
        reader = _Reader(ctx)
        for number, doc in enumerate(jsonio.documents(stream, ctx.source), start=1):
            if not isinstance(doc, dict) or "site" not in doc:
                which = f"JSON value {number} is" if number > 1 else "not"
                raise InputError(ctx.source, f"{which} a ZAP JSON report (no 'site' key)")
            yield from self._report(doc, number, reader, ctx)
        yield reader.scan()

    def _report(self, doc: dict[str, Any], number: int, reader: _Reader, ctx: ParseContext) -> Iterator[Record]:
        record = f"report {number}" if number > 1 else "report"
        created = report_time(doc.get("created"), doc.get("@generated"), ctx, record)
        reader.report(created, common.clean(_text(doc.get("@version"))))
        sites = _as_list(doc.get("site"))
        if sites is None:
            raise InputError(ctx.source, f"{record}: 'site' is not a list")
        for site in sites:
            if not isinstance(site, dict):
                reader.sites += 1
                ctx.skip(f"site {reader.sites}", "not an object")
                continue
            found = reader.site(*(_text(site.get("@" + a)) for a in ("name", "host", "port", "ssl")))
            if found is None:
                continue
            asset, coverage = found
            alerts = _as_list(site.get("alerts"))
            if alerts is None:  # not covered either: its findings must not close by absence
                ctx.skip(f"site {reader.sites} ({asset.name})", "'alerts' is not a list")
                continue
            yield coverage
            seen: Seen = set()
            for n, alert in enumerate(alerts, start=1):
                if not isinstance(alert, dict):
                    ctx.skip(f"site {reader.sites}, alert {n}", "not an object")
                    continue
                instances = _as_list(alert.get("instances"))
                if instances is None:
                    vuln_id = _vuln_id(alert)
                    if vuln_id is not None:
                        reader.partial[vuln_id] = None  # its paths are unknown: none is shown fixed
                    ctx.warn(
                        f"site {reader.sites}, alert {vuln_id or n}", "'instances' is not a list; read as site-wide"
                    )
                    instances = []
                yield from reader.findings(alert, [i for i in instances if isinstance(i, dict)], asset, seen)
