"""Qualys VMDR Host List Detection API output (`/api/2.0/fo/asset/host/vm/detection/`, root
`HOST_LIST_VM_DETECTION_OUTPUT`), streamed with lxml iterparse.

Layout: `RESPONSE/{DATETIME, HOST_LIST/HOST[], WARNING?}`; a HOST has `ID`, `IP` (or `IPV6`),
`TRACKING_METHOD`, `OS`, `DNS`, `DNS_DATA/{HOSTNAME, DOMAIN, FQDN}`, `NETBIOS`,
`LAST_SCAN_DATETIME`, `LAST_VM_SCANNED_DATE`, `LAST_VM_SCANNED_DURATION` (seconds) and
`DETECTION_LIST/DETECTION[]` with `QID`, `TYPE` (Confirmed, Potential, Info), `SEVERITY` 1-5,
`PORT`, `PROTOCOL`, `FQDN`, `SSL`, `INSTANCE`, `RESULTS`, `STATUS`, `FIRST_FOUND_DATETIME`,
`LAST_FOUND_DATETIME`, `LAST_TEST_DATETIME`, `LAST_FIXED_DATETIME`, `IS_IGNORED`, `IS_DISABLED`.

One finding per QID, host and port/protocol: the identity and the tool name (`Qualys`) of the
other Qualys VM readers (`qualys_vm_xml`, `qualys_csv`), so a detection and a scan report's
result on the same host are one finding. The output carries no KnowledgeBase data: a weakness
is named `QID n` (as those readers name a QID missing from a report's glossary), rated by the
detection's `SEVERITY` (5 Critical, 4 High, 3 Moderate, 2 and 1 Low; missing or unknown:
Moderate, warned), without CVEs or CVSS. `TYPE` Info (information gathered, `show_igs=1`) is
informational; Confirmed and Potential are findings.

Status: Fixed is a fix; New, Active, Re-Opened (or none) are open; a word that means dismissed is
left out, another word stays open (warned). A detection marked `IS_IGNORED` or `IS_DISABLED` (1)
that is not Fixed is set aside: a person (or a disabled QID) took it out of Qualys' open list; it
keeps a matching open finding open and opens none.

Dates: a Fixed detection at `LAST_FIXED_DATETIME` (else `LAST_TEST_DATETIME`, `LAST_FOUND_DATETIME`),
another at `LAST_FOUND_DATETIME` (else `FIRST_FOUND_DATETIME`), with `FIRST_FOUND_DATETIME` as the
tool's first detection (`since`); else the response's `DATETIME`; else `--scan-date` or the file's
time.

Closing: the output is a query of Qualys' host-based findings database, not one scan: the API
filters by status (Fixed or not), severity, QID, ignored and disabled detections, and by
`detection_updated_since` for incremental pulls, and the file does not say which filters were
used. A detection it does not list may well be open, so nothing is closed by absence
(`closes_by_coverage` False): only Fixed detections close findings. Each host is still recorded
as scanned at its `LAST_VM_SCANNED_DATE` (else `LAST_SCAN_DATETIME`), for `LAST_VM_SCANNED_DURATION`
seconds. A `WARNING` (more hosts on another page) is warned: import every page.

Read past with a warning or left out (never refused): a detection without a numeric QID, a host
without IP, DNS or NetBIOS name (with its detections), a detection outside a host.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from poam.domain.models import Asset, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import clean
from poam.parsers.qualys_vm_xml import (
    TOOL,
    detection_status,
    host_asset,
    is_qid,
    level_of,
    port_number,
    qualys_time,
    record_time,
)
from poam.parsers.xmlsafe import iterparse, release

ROOT = "HOST_LIST_VM_DETECTION_OUTPUT"
_YES = frozenset({"1", "true", "yes", "y"})
_FIXED_DATES = ("LAST_FIXED_DATETIME", "LAST_TEST_DATETIME", "LAST_FOUND_DATETIME", "FIRST_FOUND_DATETIME")
_OPEN_DATES = ("LAST_FOUND_DATETIME", "FIRST_FOUND_DATETIME")


class QualysVmdrParser:
    """Reader of Qualys VMDR Host List Detection API output (HOST_LIST_VM_DETECTION_OUTPUT)."""

    id = "qualys-vmdr-xml"
    name = "Qualys VMDR host list detection XML (HOST_LIST_VM_DETECTION_OUTPUT)"
    maps_to = (
        "one finding per QID, host and port (QID-only weaknesses); Fixed detections close, ignored or disabled "
        "ones are set aside; never closes by absence (a filtered query)"
    )
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """The root element is HOST_LIST_VM_DETECTION_OUTPUT."""
        return head.xml_root == ROOT

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Stream each detection as it ends, and each host's coverage when the host ends."""
        generated: dt.datetime | None = None
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        assets: dict[int, Asset | None] = {}
        times: dict[str, dt.datetime | None] = {}
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        root_seen = response_seen = False
        tags = (ROOT, "RESPONSE", "DATETIME", "WARNING", "HOST", "DETECTION")
        for event, el in iterparse(stream, ctx.source, tags, ("start", "end")):
            tag = el.tag
            if event == "start":
                if tag == ROOT and el.getparent() is None:
                    root_seen = True
                elif tag == "RESPONSE":
                    response_seen = True
                continue
            if tag == "DETECTION":
                finding = self._detection(el, assets, weaknesses, generated, times, ctx)
                if finding is not None:
                    yield finding
                    first = min(first, finding.observed_at) if first else finding.observed_at
                    last = max(last, finding.observed_at) if last else finding.observed_at
                el.clear()
            elif tag == "HOST":
                asset = assets.pop(id(el)) if id(el) in assets else _host(el)
                if asset is None:
                    if not el.findall("DETECTION_LIST/DETECTION"):  # with detections it was said already
                        ctx.warn(f"host at line {el.sourceline}", "no IP, DNS or NetBIOS name; not counted as scanned")
                else:
                    cov = _coverage(el, asset, ctx)
                    if cov is not None:
                        yield cov
                        assert cov.started_at is not None and cov.ended_at is not None
                        first = min(first, cov.started_at) if first else cov.started_at
                        last = max(last, cov.ended_at) if last else cov.ended_at
                release(el)
            elif tag == "DATETIME":
                parent = el.getparent()
                if parent is not None and parent.tag == "RESPONSE":
                    generated = qualys_time(el.text)
                    if generated is None and clean(el.text):
                        ctx.warn("response", f"date {clean(el.text)!r:.40} not readable")
            elif tag == "WARNING":
                code, text = clean(el.findtext("CODE")), clean(el.findtext("TEXT"))
                said = " ".join(filter(None, (code, text))) or "a warning"
                ctx.warn(
                    "response",
                    f"Qualys: {said[:200]}; this file is one page of the output (import every page)",
                )
        if not root_seen:
            raise InputError(ctx.source, f"not a Qualys host list detection output (no {ROOT} root)")
        if not response_seen:
            raise InputError(ctx.source, "Qualys host list detection output without a RESPONSE")
        yield Scan(tool=TOOL, started_at=first or generated, ended_at=last or generated)

    def _detection(
        self,
        el: etree._Element,
        assets: dict[int, Asset | None],
        weaknesses: dict[tuple[str, Severity], Weakness],
        generated: dt.datetime | None,
        times: dict[str, dt.datetime | None],
        ctx: ParseContext,
    ) -> Finding | None:
        """One detection; None when it is left out (warned)."""
        fields: dict[str, str | None] = {}
        for child in el:
            if isinstance(child.tag, str):
                fields.setdefault(child.tag, child.text)  # the first of a repeated element, as findtext
        host_el = el.getparent()
        host_el = host_el.getparent() if host_el is not None else None
        qid = (fields.get("QID") or "").strip()
        if host_el is None or host_el.tag != "HOST":
            ctx.skip(f"detection at line {el.sourceline} (QID {qid[:20]})", "outside a host's DETECTION_LIST")
            return None
        if id(host_el) not in assets:
            assets[id(host_el)] = _host(host_el)
        asset = assets[id(host_el)]
        name = (asset.ip or asset.fqdn or asset.name or asset.netbios) if asset else clean(host_el.findtext("ID"))
        record = f"host {name or '?'}, QID {qid[:20] or '?'} (line {el.sourceline})"
        if asset is None:
            ctx.skip(record, "the host has no IP, DNS or NetBIOS name")
            return None
        if not is_qid(qid):
            ctx.skip(record, "no numeric QID")
            return None
        status = detection_status(ctx, record, fields.get("STATUS"))
        if status is None:
            return None
        if status is not FindingStatus.FIXED and (_flag(fields.get("IS_IGNORED")) or _flag(fields.get("IS_DISABLED"))):
            status = FindingStatus.SET_ASIDE
        kind = (fields.get("TYPE") or "").strip().lower()
        severity = level_of(ctx, record, fields.get("SEVERITY"), kind in ("info", "ig", "information"))
        weakness = weaknesses.get((qid, severity))
        if weakness is None:
            weakness = weaknesses[(qid, severity)] = Weakness(
                tool=TOOL, vuln_id=qid, name=f"QID {qid}", severity=severity
            )
        fixed = status is FindingStatus.FIXED
        texts = tuple(fields.get(d) for d in (_FIXED_DATES if fixed else _OPEN_DATES))
        when = _time(times, texts[0])
        if when is None:  # the first date is missing or unreadable: the next one, else the response's (warned)
            when = record_time(ctx, record, texts, generated)
        since = None if fixed else _time(times, fields.get("FIRST_FOUND_DATETIME"))
        port_text = (fields.get("PORT") or "").strip()
        port = port_number(port_text)
        if port is None and port_text and port_text != "0":
            ctx.warn(record, f"port {port_text[:40]!r} is not a number; no port")
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when,
            port=port,
            protocol=(fields.get("PROTOCOL") or "").strip().lower() or None if port else None,
            service=clean(fields.get("SERVICE")),
            evidence=_evidence(fields, kind),
            status=status,
            since=since,
        )


def _time(times: dict[str, dt.datetime | None], text: str | None) -> dt.datetime | None:
    """`qualys_time`, remembered: the detections of one output share a few dates."""
    value = (text or "").strip()
    if not value:
        return None
    if value not in times:
        if len(times) > 10_000:
            times.clear()
        times[value] = qualys_time(value)
    return times[value]


def _flag(text: str | None) -> bool:
    return (text or "").strip().lower() in _YES


def _host(el: etree._Element) -> Asset | None:
    """The host of a `HOST` element (its identifiers come before its detections); None when it has
    no IP, DNS or NetBIOS name."""
    dns = el.findtext("DNS_DATA/FQDN") or el.findtext("DNS") or el.findtext("DNS_DATA/HOSTNAME")
    asset = host_asset(el.findtext("IP") or el.findtext("IPV6"), dns, el.findtext("NETBIOS"), el.findtext("OS"))
    return asset if asset.ip or asset.fqdn or asset.name or asset.netbios else None


def _coverage(el: etree._Element, asset: Asset, ctx: ParseContext) -> Coverage | None:
    """When the host was last scanned for vulnerabilities, for how long; None when the file does not say."""
    for tag in ("LAST_VM_SCANNED_DATE", "LAST_SCAN_DATETIME"):
        text = clean(el.findtext(tag))
        if text is None:
            continue
        started = qualys_time(text)
        if started is None:
            ctx.warn(f"host {asset.identifier}", f"{tag} {text[:40]!r} is not a date; not used")
            continue
        ended = started
        duration = (el.findtext("LAST_VM_SCANNED_DURATION") or "").strip()
        if tag == "LAST_VM_SCANNED_DATE" and duration.isdigit() and len(duration) <= 9:
            ended = started + dt.timedelta(seconds=int(duration))
        return Coverage(asset, started, ended, None, Checks.VULNERABILITY)
    return None


def _evidence(fields: dict[str, str | None], kind: str) -> str | None:
    """The detection's RESULTS (Qualys escapes them as HTML inside CDATA), with its virtual host,
    instance and type when it is a potential vulnerability."""
    lines: list[str] = []
    if kind == "potential":
        lines.append("Potential vulnerability")
    vhost = clean(fields.get("FQDN"))
    if vhost:
        lines.append(f"Virtual host: {vhost}")
    instance = clean(fields.get("INSTANCE"))
    if instance:
        lines.append(f"Instance: {instance}")
    results = fields.get("RESULTS")
    if results and results.strip():
        lines.append(html.unescape(results.strip("\n")).rstrip())
    return "\n".join(lines) or None
