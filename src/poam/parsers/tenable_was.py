"""Tenable Web App Scanning (WAS): its XML (the NessusClientData_v2 envelope with URL hosts,
`<Report type="was">`, plugin ids 98000 and up) and its CSV export (`Plugin ID,CVE,CVSS,CVSSv3,
Risk,Host,Protocol,Port,Name,...`).

One finding per plugin, web application and page. The asset is a WEB_APP named by the target's
origin (`https://app.example.com`: the ReportHost URL, or the CSV's Protocol, Host and Port); the
finding's path is the path (no query) of the first URL in the plugin output (`Vulnerability has
been detected on URL '...'`, `Page ... has no ...`), or none when the output names no URL (a
result for the whole application). A URL on another origin is kept whole, without its query.

Times: the XML's HostProperties `HOST_START`/`HOST_END` (ISO 8601 in WAS files); else a start
time in the output of plugin 98000 (Scan Information); else `ctx.fallback_time()`.

Odd values are read past with a warning: an unknown severity is Moderate; a ReportItem or row
whose plugin id is not a number, a row with an empty Host or one that names no web application,
and a ReportHost that names no web application are left out.

Coverage: an XML report is a complete scan of its targets (`closes_by_coverage`). A CSV export
may be filtered, so, as for Nessus CSV, a web application counts as covered only when the export
includes its informational rows (Risk `info`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from poam.domain.identity import web_origin, web_path
from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.nessus_csv import (
    ExportFacts,
    HostFacts,
    NessusCsvParser,
    Notes,
    clean,
    score,
    severity,
    vector,
    xrefs,
    zoned,
)
from poam.parsers.xmlsafe import iterparse, release

TOOL = "Tenable WAS"
SCAN_INFO_PLUGIN = "98000"
_WAS_MARKS = (
    re.compile(r"""<Report\b[^>]*\btype\s*=\s*["']was["']"""),
    re.compile(r"""<ReportHost\b[^>]*\bname\s*=\s*["']https?://""", re.IGNORECASE),
    re.compile(r"""<tag\s+name\s*=\s*["']system-type["']\s*>\s*web_application\s*<"""),
)
_URL = re.compile(r"""https?://[^\s'"<>()\[\]{}|\\^`]+""", re.IGNORECASE)
_STARTED = re.compile(r"(?im)^\s*(?:scan\s+)?start(?:ed)?(?:\s+(?:date|time|at))*\s*:\s*(\S[^\r\n]*?)\s*$")
_MULTI = {"cve", "cwe", "xref", "see_also"}


def looks_like_was(text: str) -> bool:
    """Whether the start of a NessusClientData_v2 file is a Tenable WAS report: a Report of type
    `was`, a ReportHost named by a URL, or a host of system-type web_application."""
    return any(mark.search(text) for mark in _WAS_MARKS)


def origin(host: str, scheme: str = "", port: str = "") -> str:
    """A web application's origin from a URL, or from a host name, a scheme and a port."""
    host = host.strip()
    if "://" in host:
        return web_origin(host)
    scheme = scheme.strip().lower()
    if scheme not in ("http", "https"):
        scheme = "http" if port.strip() in ("80", "8080") else "https"
    port = port.strip()
    netloc = host if not port or port == "0" or ":" in host else f"{host}:{port}"
    return web_origin(f"{scheme}://{netloc}")


def page(output: str | None, site: str) -> str | None:
    """The path of the first URL in a plugin output (the whole URL when on another origin)."""
    m = _URL.search(output or "")
    if not m:
        return None
    url = m.group(0).rstrip(".,;:!?")
    if web_origin(url) == site:
        return web_path(url)
    return url.split("#", 1)[0].split("?", 1)[0]


def started(output: str | None) -> dt.datetime | None:
    """A scan start time written in the Scan Information plugin's output, if any."""
    for m in _STARTED.finditer(output or ""):
        text = m.group(1)
        found = common.parse_time(text)
        zone = re.fullmatch(r"(.*?\d)\s*([A-Za-z]{1,5})", text)
        if found is None and zone:  # `2026-04-01 08:00:00 UTC`
            base = common.parse_time(zone.group(1))
            found = zoned(base, zone.group(2)) if base else None
        if found:
            return found.replace(microsecond=0)
    return None


class TenableWasXmlParser:
    """Reader of Tenable WAS XML reports (NessusClientData_v2 with web application hosts)."""

    id = "tenable-was"
    name = "Tenable Web App Scanning XML (NessusClientData_v2, URL hosts)"
    maps_to = "one finding per plugin, web application and URL path; the report's targets are its coverage"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """A NessusClientData_v2 root whose start shows a WAS report (see `looks_like_was`)."""
        return head.xml_root == "NessusClientData_v2" and looks_like_was(head.text)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read each ReportHost whole (HostProperties, then its items), yield its coverage and
        findings, then the scan."""
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        name: str | None = None
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        saw_root = saw_report = False
        for _event, el in iterparse(stream, ctx.source, ("NessusClientData_v2", "Report", "ReportHost")):
            if el.tag == "ReportHost":
                host_records = [r for r in self._host(el, weaknesses, ctx) if r is not None]
                release(el)
                for rec in host_records:
                    if isinstance(rec, Coverage) and rec.started_at:
                        first = min(first, rec.started_at) if first else rec.started_at
                        last = max(last, rec.ended_at or rec.started_at) if last else (rec.ended_at or rec.started_at)
                    yield rec
            elif el.tag == "Report":
                saw_report = True
                name = (el.get("name") or "").strip() or None
            else:
                saw_root = True
        if not saw_root:
            raise InputError(ctx.source, "not a Tenable WAS XML file (no NessusClientData_v2 root)")
        if not saw_report:
            raise InputError(ctx.source, "Tenable WAS file has no <Report> element")
        yield Scan(tool=TOOL, name=name, started_at=first, ended_at=last)

    def _host(
        self, el: etree._Element, weaknesses: dict[tuple[str, Severity], Weakness], ctx: ParseContext
    ) -> Iterator[Record | None]:
        props = {str(t.get("name")): (t.text or "").strip() for t in el.iterfind("HostProperties/tag")}
        target = (el.get("name") or "").strip()
        url = target if "://" in target else props.get("host-fqdn", "")
        items = el.findall("ReportItem")
        if "://" not in url:
            first_item = items[0] if items else None
            svc = (first_item.get("svc_name") or "") if first_item is not None else ""
            port = (first_item.get("port") or "") if first_item is not None else ""
            url = origin(target or url, svc, port)
        if not web_origin(url).partition("://")[2]:
            ctx.skip(f"ReportHost {target[:80]!r} (line {el.sourceline})", "names no web application")
            return
        site = web_origin(url)
        asset = Asset(kind=AssetKind.WEB_APP, name=site)
        start = common.parse_time(props.get("HOST_START_TIMESTAMP") or props.get("HOST_START"))
        end = common.parse_time(props.get("HOST_END_TIMESTAMP") or props.get("HOST_END"))
        if start is None:
            info = next((i for i in items if (i.get("pluginID") or "").strip() == SCAN_INFO_PLUGIN), None)
            start = started(info.findtext("plugin_output")) if info is not None else None
        when = (start or end or ctx.fallback_time()).replace(microsecond=0)
        yield Coverage(asset, when, (end or when).replace(microsecond=0), None, Checks.VULNERABILITY)
        for item in items:
            yield self._finding(item, asset, site, when, weaknesses, ctx)

    def _finding(
        self,
        item: etree._Element,
        asset: Asset,
        site: str,
        when: dt.datetime,
        weaknesses: dict[tuple[str, Severity], Weakness],
        ctx: ParseContext,
    ) -> Finding | None:
        plugin = (item.get("pluginID") or "").strip()
        if not plugin.isdigit():
            where = f"ReportItem on {site} (line {item.sourceline})"
            ctx.skip(where, f"pluginID {plugin[:40]!r} is not a plugin number")
            return None
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for child in item:
            if isinstance(child.tag, str) and child.text:
                if child.tag in _MULTI:
                    multi.setdefault(child.tag, []).append(child.text.strip())
                else:
                    single[child.tag] = child.text
        try:
            level = severity(item.get("severity"), single.get("risk_factor")) or Severity.INFO
        except ValueError as exc:
            level = common.odd_severity(ctx, f"plugin {plugin} on {site} (line {item.sourceline})", str(exc))
        weakness = weaknesses.get((plugin, level))
        if weakness is None:
            weakness = weaknesses[(plugin, level)] = _weakness(plugin, item, level, single, multi)
        output = single.get("plugin_output")
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when,
            service=(item.get("svc_name") or "").strip() or None,
            evidence=(output or "").strip() or None,
            path=page(output, site),
        )


def _weakness(
    plugin: str, item: etree._Element, level: Severity, single: dict[str, str], multi: dict[str, list[str]]
) -> Weakness:
    v2_vector = vector(2, single.get("cvss_vector"))
    v3_vector = vector(3, single.get("cvss3_vector") or single.get("cvssv3_vector"))
    v4_vector = vector(4, single.get("cvss4_vector"))
    cwes, iavas = xrefs(";".join(multi.get("xref", [])))
    cwes = tuple(dict.fromkeys([*common.cwes_in(multi.get("cwe", [])), *cwes]))
    name = (item.get("pluginName") or single.get("plugin_name") or "").strip()
    return Weakness(
        tool=TOOL,
        vuln_id=plugin,
        name=name or f"Plugin {plugin}",
        severity=level,
        family=(item.get("pluginFamily") or "").strip() or None,
        synopsis=clean(single.get("synopsis")),
        description=clean(single.get("description")),
        solution=clean(single.get("solution")),
        see_also="\n".join(multi.get("see_also", [])) or None,
        cvss2_score=cvss.fill(2, score(single.get("cvss") or single.get("cvss_base_score")), v2_vector),
        cvss2_vector=v2_vector,
        cvss3_score=cvss.fill(3, score(single.get("cvssv3") or single.get("cvss3_base_score")), v3_vector),
        cvss3_vector=v3_vector,
        cvss4_score=cvss.fill(4, score(single.get("cvss4_base_score")), v4_vector),
        cvss4_vector=v4_vector,
        cves=common.cves_in(multi.get("cve", [])),
        cwes=cwes,
        iavas=iavas,
    )


class TenableWasCsvParser(NessusCsvParser):
    """Reader of Tenable WAS CSV exports: the Nessus CSV reader with web application assets."""

    id = "tenable-was-csv"
    name = "Tenable Web App Scanning CSV export"
    maps_to = (
        "one finding per plugin, web application and URL path; "
        "applications with informational rows are the scan's coverage"
    )
    closes_by_coverage = True
    tool = TOOL

    def _sniff_header(self, names: list[str]) -> bool:
        """The Nessus-like header with WAS's own `CVSSv3` column."""
        return self._header(names) and "risk" in names and "cvssv3" in names

    def _header(self, names: list[str]) -> bool:
        return {"plugin_id", "host", "name"}.issubset(names) and ("risk" in names or "risk_factor" in names)

    def _host_key(self, row: dict[str, str], n: int, notes: Notes) -> str | None:
        """The web application's origin; None (the row left out) when the Host cell is empty or
        names none."""
        host = (row.get("host") or "").strip()
        if not host:
            notes.skip(f"row {n}", "the Host cell is empty")
            return None
        site = origin(host, row.get("protocol") or "", row.get("port") or "")
        if not site.partition("://")[2]:
            notes.skip(f"row {n}", f"Host {host[:80]!r} is not a web application")
            return None
        return site

    def _asset(self, row: dict[str, str], key: str) -> Asset:
        return Asset(kind=AssetKind.WEB_APP, name=key)

    def _location(
        self, row: dict[str, str], key: str, n: int, notes: Notes
    ) -> tuple[int | None, str | None, str | None]:
        return None, None, page(row.get("plugin_output"), key)

    def _scan_info(self, plugin: str, output: str, host: HostFacts, facts: ExportFacts) -> None:
        if plugin == SCAN_INFO_PLUGIN:
            host.start = started(output) or host.start
