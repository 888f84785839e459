"""Qualys VM XML: scan reports (root `SCAN`, scan-1.dtd) and asset data reports (`ASSET_DATA_REPORT`).

Scan report: `IP/{VULNS,PRACTICES,INFOS,SERVICES}/CAT/{VULN,PRACTICE,INFO,SERVICE}`; one finding
per QID, host and CAT port/protocol. Confirmed (VULNS) and potential (PRACTICES) vulnerabilities are
findings; information gathered (INFOS) and the services list (SERVICES) are informational. A
finished scan report is a complete scan of the IPs it lists: each IP is covered from the scan date
(HEADER/KEY DATE; when the header gives none, `--scan-date` or the file's time). A report whose
only content is an `<ERROR>` (the scan found no host alive, was cancelled...) is refused with
Qualys' message: the scan produced no results at all. An `<ERROR>` next to IP results is a warning.

Asset data report: `HOST_LIST/HOST/VULN_INFO_LIST/VULN_INFO`, joined by QID to
`GLOSSARY/VULN_DETAILS_LIST/VULN_DETAILS` for title, severity and texts. The glossary comes after
the hosts, so the stream is read twice (glossary first, then hosts). VULN_STATUS Fixed is a FIXED
finding (New, Active, Re-Opened are open; another word stays open, warned); TYPE Ig is
informational. Each detection is dated by its own time: LAST_FIXED (else LAST_TEST) when Fixed,
else LAST_FOUND (else FIRST_FOUND), so that when a report lists one finding twice (Fixed and
Active for the same QID, host and port, on two virtual hosts or instances) the newest record
decides. Such a report is a template-filtered view of the host-based findings database
(statuses, QID lists, severities), not one scan: it yields no coverage and closes only what it
says is Fixed.

Qualys severity 1-5: 5 critical, 4 high, 3 medium, 2 and 1 low; a missing or unknown level is
Moderate with a warning. Read past with a warning or left out (never refused): a result without a
numeric QID, a host without any address or name, a result outside its host's element.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

from lxml import etree

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import cvss
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import Warner, clean, cves_in, dismissed, odd_severity, odd_status, parse_time, plain
from poam.parsers.xmlsafe import iterparse, prolog, release

TOOL = "Qualys"
LEVELS = {"5": Severity.CRITICAL, "4": Severity.HIGH, "3": Severity.MEDIUM, "2": Severity.LOW, "1": Severity.LOW}
_RESULTS = {"VULN": False, "PRACTICE": False, "INFO": True, "SERVICE": True}  # tag: informational
_NO_NAME = re.compile(r"no (registered )?host ?name|^n/?a$", re.IGNORECASE)
_ADDRESS = re.compile(r"[0-9.]+|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*")
_OFFSET = re.compile(r"\(?\s*(?:GMT|UTC)\s*([+-])([0-9]{1,2}):?([0-9]{2})?\s*\)?", re.IGNORECASE)
_FORMATS = ("%d %b %Y %I:%M%p", "%d %b %Y %I:%M %p", "%b %d, %Y %I:%M %p", "%b %d, %Y %I:%M%p", "%d %b %Y")
_PARAGRAPH = re.compile(r"<\s*[pP]\s*/?\s*>")
_SCORE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:\(([^)]*)\))?")


_OPEN_STATUSES = frozenset({"new", "active", "re-opened", "reopened", "re_opened", "re opened", "protected"})


def level(text: str | None, informational: bool = False) -> Severity:
    """Qualys severity 1-5 on poam's scale; information-gathered results are informational.
    A missing or unknown level counts as medium: a vulnerability is never dropped for it."""
    if informational:
        return Severity.INFO
    return LEVELS.get((text or "").strip(), Severity.MEDIUM)


def level_of(ctx: Warner, record: str, text: str | None, informational: bool = False) -> Severity:
    """`level`, with a warning naming the record when a vulnerability's level is missing or unknown."""
    if informational:
        return Severity.INFO
    value = (text or "").strip()
    found = LEVELS.get(value)
    return found if found is not None else odd_severity(ctx, record, value or None)


def detection_status(ctx: Warner, record: str, text: str | None) -> FindingStatus | None:
    """A detection's status: Fixed is FIXED; New, Active, Re-Opened, Protected (WAS: behind a web
    application firewall, still present) or none are OPEN; a word
    that sets the detection aside (Ignored...) is None: left out; another word is OPEN, warned."""
    word = " ".join((text or "").strip().lower().split())
    if word == "fixed":
        return FindingStatus.FIXED
    if not word or word in _OPEN_STATUSES:
        return FindingStatus.OPEN
    if dismissed(word):
        ctx.warn(record, f"status {(text or '').strip()[:40]!r} sets the detection aside; left out")
        return None
    return odd_status(ctx, record, text)


def record_time(
    ctx: ParseContext,
    record: str,
    texts: tuple[str | None, ...],
    report: dt.datetime | None,
    offset: dt.timedelta | None = None,
) -> dt.datetime:
    """A record's own time: the first of `texts` that reads as a Qualys date, else the report's
    date, else `ctx.fallback_time()`; an unreadable date is warned."""
    bad: str | None = None
    for text in texts:
        value = clean(text)
        if value is None or value in ("-", "'-"):
            continue
        when = qualys_time(value, offset)
        if when is not None:
            if bad is not None:
                ctx.warn(record, f"date {bad[:40]!r} not readable; dated {value[:40]!r}")
            return when
        bad = bad or value
    if report is not None:
        how, when = "the report's date", report
    else:
        how = "--scan-date" if ctx.scan_date is not None else "the file's time"
        when = ctx.fallback_time()
    if bad is not None:
        ctx.warn(record, f"date {bad[:40]!r} not readable; dated by {how}")
    return when


def port_number(text: str | None) -> int | None:
    """A port number 1-65535 from text, else None."""
    value = (text or "").strip()
    if not re.fullmatch(r"[0-9]{1,5}", value) or not 0 < int(value) <= 65535:
        return None
    return int(value)


def is_qid(text: str) -> bool:
    """Whether text is a QID: digits only."""
    return re.fullmatch(r"[0-9]{1,12}", text) is not None


def offset_of(text: str | None) -> dt.timedelta | None:
    """The UTC offset a Qualys date names (`GMT-0400`, `(GMT+0200)`)."""
    m = _OFFSET.search(text or "")
    if not m:
        return None
    delta = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
    return -delta if m.group(1) == "-" else delta


def qualys_time(text: str | None, offset: dt.timedelta | None = None) -> dt.datetime | None:
    """A Qualys date as naive UTC: ISO 8601, `11 Mar 2020 01:07PM GMT-0400`, `Feb 03, 2026 07:00 AM`,
    `05/13/2021 07:08:28`. A date without zone is taken at `offset` (the report's), else as UTC."""
    value = clean(text)
    if value is None or value in ("-", "'-"):
        return None
    own = offset_of(value)
    bare = _OFFSET.sub("", value).replace(" at ", " ").strip()
    parsed = parse_time(bare) if own is None and not re.search(r"[AP]M\b", bare, re.IGNORECASE) else None
    if parsed is not None and re.search(r"(Z|[+-]\d\d:?\d\d)$", bare):
        return parsed  # ISO 8601 with its own zone: already UTC
    if parsed is None:
        for fmt in _FORMATS:
            try:
                parsed = dt.datetime.strptime(bare, fmt)
                break
            except ValueError:
                continue
        else:
            parsed = parse_time(bare)
    if parsed is None:
        return None
    shift = own if own is not None else offset
    try:
        return parsed - shift if shift else parsed
    except OverflowError:
        return None


def score_and_vector(text: str | None) -> tuple[float | None, str | None]:
    """`8.1 (AV:N/AC:H/...)` -> (8.1, 'AV:N/AC:H/...'); `-` or empty -> (None, None)."""
    m = _SCORE.match(text or "")
    if not m:
        return None, None
    return cvss.score(m.group(1)), clean(m.group(2))


def host_asset(ip: str | None, dns: str | None = None, netbios: str | None = None, os: str | None = None) -> Asset:
    """A Qualys host: IP, DNS name (an FQDN when it has a dot, else a plain name), NetBIOS, OS."""
    address = (ip or "").strip()
    name = (dns or "").strip()
    if not name or _NO_NAME.search(name) or _ADDRESS.fullmatch(name):
        name = ""
    fqdn = name if "." in name else None
    return Asset(
        kind=AssetKind.HOST,
        ip=address or None,
        fqdn=fqdn,
        netbios=clean(netbios),
        name=(name or None) if fqdn is None else None,
        os=clean(os),
    )


def text_of(html: str | None) -> str | None:
    """Qualys' light HTML as text: `<P>` separates paragraphs there (it is rarely closed)."""
    return plain(_PARAGRAPH.sub("\n\n", html)) if html else None


def _text(el: etree._Element, path: str) -> str | None:
    return text_of(el.findtext(path))


@dataclass(frozen=True)
class _Glossary:
    level: str | None
    weakness: Weakness


class QualysVmXmlParser:
    """Reader of Qualys VM scan report XML and asset data report XML."""

    id = "qualys-vm-xml"
    name = "Qualys VM XML (scan report, asset data report)"
    maps_to = "one finding per QID, host and port; a scan report's IPs are its coverage (asset data reports: none)"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """Root ASSET_DATA_REPORT, or root SCAN with the scan report's HEADER/KEY or DTD."""
        if head.xml_root == "ASSET_DATA_REPORT":
            return True
        return head.xml_root == "SCAN" and (b"scan-1.dtd" in head.data or b'<KEY value="' in head.data)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Dispatch on the root element."""
        start = stream.tell()
        head = stream.read(1 << 20)
        stream.seek(start)
        root, _entities = prolog(head)
        if root == "SCAN":
            yield from self._scan(stream, ctx)
        elif root == "ASSET_DATA_REPORT":
            yield from self._asset_data(stream, ctx, start)
        else:
            raise InputError(ctx.source, f"not a Qualys VM report (root <{root}>)")

    # --- scan report -----------------------------------------------------------------------------

    def _scan(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        keys: dict[str, str] = {}
        when: dt.datetime | None = None
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        assets: dict[int, Asset | None] = {}
        errors: list[str] = []
        hosts = 0
        tags = ("KEY", "IP", "ERROR", *_RESULTS)
        for _event, el in iterparse(stream, ctx.source, tags):
            tag = el.tag
            if tag in _RESULTS:
                cat = el.getparent()
                group = cat.getparent() if cat is not None else None
                ip_el = group.getparent() if group is not None else None
                if cat is None or ip_el is None or ip_el.tag != "IP":
                    if not _RESULTS[tag]:  # an informational element elsewhere: nothing to report
                        ctx.skip(f"<{tag}> at line {el.sourceline}", "outside an IP's results")
                    el.clear()
                    continue
                if id(ip_el) not in assets:
                    assets[id(ip_el)] = self._ip_asset(ip_el)
                asset = assets[id(ip_el)]
                address = (ip_el.get("value") or "").strip() or "?"
                record = f"IP {address}, QID {el.get('number')} (line {el.sourceline})"
                if asset is None:
                    ctx.skip(record, "the IP has no address or name")
                elif not is_qid((el.get("number") or "").strip()):
                    ctx.skip(record, "no numeric QID")
                else:
                    if when is None:
                        when = self._when(keys, ctx)
                    yield self._scan_finding(el, cat, asset, when, weaknesses, record, ctx)
                el.clear()
            elif tag == "IP":
                hosts += 1
                asset = assets.pop(id(el)) if id(el) in assets else self._ip_asset(el)
                if asset is None:
                    ctx.warn(f"IP at line {el.sourceline}", "no address or name; not counted as scanned")
                elif keys.get("STATUS", "FINISHED").upper() == "FINISHED":
                    when = when or self._when(keys, ctx)
                    yield Coverage(asset, when, self._end(when, keys), None, Checks.VULNERABILITY)
                release(el)
            elif tag == "KEY":
                parent = el.getparent()
                if parent is not None and parent.tag == "HEADER" and el.get("value"):
                    keys[str(el.get("value")).upper()] = (el.text or "").strip()
            else:
                errors.append(" ".join(filter(None, (el.get("number"), clean(el.text)))) or "unknown")
        if errors and not hosts:
            raise InputError(ctx.source, f"Qualys scan error: {errors[0][:300]}")
        for error in errors:
            ctx.warn("scan", f"Qualys reports an error ({error[:200]}); the IPs it lists are read")
        when = when or qualys_time(keys.get("DATE"))
        ended = self._end(when, keys) if when else None
        yield Scan(tool=TOOL, name=keys.get("TITLE") or None, started_at=when, ended_at=ended)

    def _when(self, keys: dict[str, str], ctx: ParseContext) -> dt.datetime:
        """The scan date of the header (once per file, when a record needs it)."""
        return record_time(ctx, "header", (keys.get("DATE"),), None)

    def _end(self, when: dt.datetime, keys: dict[str, str]) -> dt.datetime:
        """The scan date plus its DURATION (`04:29:11`, `1 day 02:00:00`), else the date."""
        m = re.search(r"(?:([0-9]{1,5})\s*days?\s*)?([0-9]{1,5}):([0-9]{2}):([0-9]{2})", keys.get("DURATION", ""))
        if not m:
            return when
        days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
        try:
            return when + dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        except OverflowError:
            return when

    def _ip_asset(self, ip_el: etree._Element) -> Asset | None:
        """The host of an `<IP>` element, None when it has neither an address nor a name."""
        address = (ip_el.get("value") or "").strip()
        netbios = ip_el.findtext("NETBIOS_HOSTNAME") or ip_el.findtext("NETBIOS")
        asset = host_asset(address, ip_el.get("name"), netbios, ip_el.findtext("OS"))
        return asset if asset.ip or asset.fqdn or asset.name or asset.netbios else None

    def _scan_finding(
        self,
        el: etree._Element,
        cat: etree._Element,
        asset: Asset,
        when: dt.datetime,
        weaknesses: dict[tuple[str, Severity], Weakness],
        record: str,
        ctx: ParseContext,
    ) -> Finding:
        qid = (el.get("number") or "").strip()
        severity = level_of(ctx, record, el.get("severity"), _RESULTS[str(el.tag)])
        weakness = weaknesses.get((qid, severity))
        if weakness is None:
            v3, v3_vector = score_and_vector(el.findtext("CVSS3_BASE"))
            v2, v2_vector = score_and_vector(el.findtext("CVSS_BASE"))
            weakness = weaknesses[(qid, severity)] = Weakness(
                tool=TOOL,
                vuln_id=qid,
                name=clean(el.findtext("TITLE")) or f"QID {qid}",
                severity=severity,
                family=clean(cat.get("value")),
                description=_text(el, "DIAGNOSIS"),
                synopsis=_text(el, "CONSEQUENCE"),
                solution=_text(el, "SOLUTION"),
                cvss2_score=v2,
                cvss2_vector=cvss.clean_v2(v2_vector) if v2_vector and "AV:" in v2_vector else None,
                cvss3_score=v3,
                cves=cves_in(el.get("cveid"), [c.text for c in el.iterfind("CVE_ID_LIST/CVE_ID/ID")]),
            )
        port_text = (cat.get("port") or "").strip()
        port = port_number(port_text)
        vhost = clean(cat.get("fqdn"))
        evidence = clean(el.findtext("RESULT"))
        if vhost:
            evidence = f"Virtual host: {vhost}\n{evidence or ''}".strip()
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when,
            port=port,
            protocol=(cat.get("protocol") or "").strip().lower() or None if port else None,
            evidence=evidence,
        )

    # --- asset data report -----------------------------------------------------------------------

    def _asset_data(self, stream: BinaryIO, ctx: ParseContext, start: int) -> Iterator[Record]:
        glossary: dict[str, _Glossary] = {}
        generated: dt.datetime | None = None
        template: str | None = None
        for _event, el in iterparse(stream, ctx.source, ("VULN_DETAILS", "HOST", "GENERATION_DATETIME", "TEMPLATE")):
            if el.tag == "VULN_DETAILS":
                qid = (el.findtext("QID") or "").strip()
                if qid:
                    glossary[qid] = _details(el, qid)
                release(el)
            elif el.tag == "HOST":
                release(el)
            elif el.tag == "GENERATION_DATETIME":
                generated = qualys_time(el.text)
                if generated is None and clean(el.text):
                    ctx.warn("header", f"report date {clean(el.text)!r:.40} not readable")
            else:
                parent = el.getparent()
                if parent is not None and parent.tag == "HEADER":
                    template = clean(el.text)
        stream.seek(start)
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        for _event, el in iterparse(stream, ctx.source, ("HOST", "HOST_LIST")):
            if el.tag == "HOST_LIST":
                break
            asset = host_asset(
                el.findtext("IP") or el.findtext("IPV6"),
                el.findtext("DNS"),
                el.findtext("NETBIOS"),
                el.findtext("OPERATING_SYSTEM"),
            )
            if not (asset.ip or asset.fqdn or asset.name or asset.netbios):
                ctx.skip(f"host at line {el.sourceline} (with its detections)", "no IP, DNS or NetBIOS name")
                release(el)
                continue
            for info in el.iterfind("VULN_INFO_LIST/VULN_INFO"):
                finding = self._data_finding(info, asset, glossary, weaknesses, generated, ctx)
                if finding is None:
                    continue
                first = min(first, finding.observed_at) if first else finding.observed_at
                last = max(last, finding.observed_at) if last else finding.observed_at
                yield finding
            release(el)
        yield Scan(tool=TOOL, name=template, started_at=first or generated, ended_at=last or generated)

    def _data_finding(
        self,
        info: etree._Element,
        asset: Asset,
        glossary: dict[str, _Glossary],
        weaknesses: dict[tuple[str, Severity], Weakness],
        generated: dt.datetime | None,
        ctx: ParseContext,
    ) -> Finding | None:
        """One detection; None when it is left out (warned)."""
        qid = (info.findtext("QID") or "").strip()
        record = f"host {asset.ip or asset.fqdn or asset.name or asset.netbios}, QID {qid} (line {info.sourceline})"
        if not is_qid(qid):
            ctx.skip(record, "no numeric QID")
            return None
        status = detection_status(ctx, record, info.findtext("VULN_STATUS"))
        if status is None:
            return None
        details = glossary.get(qid)
        kind = (info.findtext("TYPE") or "").strip().lower()
        informational = kind in ("ig", "info")
        if details is None and not informational:
            ctx.warn(record, "QID not in the report's glossary: no title or level; rated Moderate")
            severity = Severity.MEDIUM
        else:
            severity = level_of(ctx, record, details.level if details else None, informational)
        weakness = weaknesses.get((qid, severity))
        if weakness is None:
            known = (
                details.weakness if details else Weakness(tool=TOOL, vuln_id=qid, name=f"QID {qid}", severity=severity)
            )
            weakness = weaknesses[(qid, severity)] = replace(known, severity=severity)
        fixed = status is FindingStatus.FIXED
        dates = ("LAST_FIXED", "LAST_TEST", "LAST_FOUND", "FIRST_FOUND") if fixed else ("LAST_FOUND", "FIRST_FOUND")
        when = record_time(ctx, record, tuple(info.findtext(d) for d in dates), generated)
        port_text = (info.findtext("PORT") or "").strip()
        port = port_number(port_text)
        vhost = clean(info.findtext("FQDN"))
        evidence = clean(info.findtext("RESULT"))
        if vhost:
            evidence = f"Virtual host: {vhost}\n{evidence or ''}".strip()
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when,
            port=port,
            protocol=(info.findtext("PROTOCOL") or "").strip().lower() or None if port else None,
            service=clean(info.findtext("SERVICE")),
            evidence=evidence,
            status=status,
        )


def _details(el: etree._Element, qid: str) -> _Glossary:
    """What a glossary entry says about its QID, kept after the element is released."""
    v2, v2_vector = score_and_vector(el.findtext("CVSS_SCORE/CVSS_BASE"))
    v3, _v3_vector = score_and_vector(el.findtext("CVSS3_SCORE/CVSS3_BASE"))
    return _Glossary(
        level=el.findtext("SEVERITY"),
        weakness=Weakness(
            tool=TOOL,
            vuln_id=qid,
            name=clean(el.findtext("TITLE")) or f"QID {qid}",
            severity=Severity.MEDIUM,
            family=clean(el.findtext("CATEGORY")),
            description=_text(el, "THREAT"),
            synopsis=_text(el, "IMPACT"),
            solution=_text(el, "SOLUTION"),
            cvss2_score=v2,
            cvss2_vector=v2_vector if v2_vector and "AV:" in v2_vector else None,
            cvss3_score=v3,
            cves=cves_in([c.text for c in el.iterfind("CVE_ID_LIST/CVE_ID/ID")]),
        ),
    )
