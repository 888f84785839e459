"""Qualys Web Application Scanning (WAS) scan report XML (root `WAS_SCAN_REPORT`).

One finding per `RESULTS/VULNERABILITY_LIST/VULNERABILITY` (and sensitive content): QID on the web
application at the URL's origin, located by the URL path (no query string). Title, severity,
category and texts come from `GLOSSARY/QID_LIST/QID`, which follows the results, so the stream is
read twice (glossary and appendix first, then the results). `INFORMATION_GATHERED_LIST` holds no
findings and is skipped; a glossary category of Information Gathered is informational. Evidence is
the parameter and payloads (request, response, evidence), base64 decoded when marked so, capped.

Coverage: the report's web application (`APPENDIX/WEBAPP/URL`) is covered when the report is one
finished vulnerability scan (a single scan in `SCAN_LIST`) with no filter beyond the remediation
options (patched / ignored findings). A report that consolidates several scans or selects
findings yields no coverage and closes nothing by absence.

Severity 1-5 from the glossary as in Qualys VM (5 critical, 4 high, 3 medium, 2 and 1 low); a QID
missing from the glossary or with an unknown level is Moderate, warned. A finding marked
`<IGNORED>true</IGNORED>` was set aside in Qualys WAS (so is one whose STATUS says so, warned): it
is yielded set aside, with its QID, web application and URL path as an open finding's: an open
finding of it stays open (the report still shows it: not a fix), and none is opened from it; an
ignored finding whose STATUS is FIXED (the scanner's retest no longer saw it) is fixed. The
QID of a finding left out for want of a URL is named in the scan's `partial_checks`, so that no
path of it is closed by its absence. Dates: the
finding's DETECTION_DATE (else LAST_TIME_DETECTED, FIRST_TIME_DETECTED), never before the
covering scan's start; else the scan's start, the report's generation date, `--scan-date` or the
file's time. Left out with a warning (never refused): a finding without a numeric QID, or without a
URL when the report names no web application.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from lxml import etree

from poam.domain.identity import web_origin, web_path
from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import clean, cves_in, cwes_in, dismissed
from poam.parsers.qualys_vm_xml import (
    detection_status,
    is_qid,
    level_of,
    qualys_time,
    record_time,
    score_and_vector,
    text_of,
)
from poam.parsers.xmlsafe import iterparse, release

TOOL = "Qualys WAS"
EVIDENCE_LIMIT = 4000
PART_LIMIT = 1000
_FINDINGS = {"VULNERABILITY": "VULNERABILITY_LIST", "SENSITIVE_CONTENT": "SENSITIVE_CONTENT_LIST"}
_SKIPPED = {"INFORMATION_GATHERED": "INFORMATION_GATHERED_LIST"}
_UNFILTERED = {"REMEDIATION"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_VERSION = re.compile(r"WAS:\s*([\w.\-]+)")


@dataclass
class _Report:
    glossary: dict[str, tuple[str | None, Weakness]] = field(default_factory=dict)
    scans: list[dict[str, str | None]] = field(default_factory=list)
    webapps: list[str] = field(default_factory=list)
    filtered: bool = False
    target: str | None = None
    generated: dt.datetime | None = None
    saw_results: bool = False
    partial: dict[str, None] = field(default_factory=dict)
    """QIDs of findings left out without a URL: never shown fixed by their absence."""


def decoded(el: etree._Element | None, limit: int = PART_LIMIT) -> str | None:
    """An element's text, base64-decoded when it says `base64="true"`, without control characters,
    at most `limit` characters (only the start of a long value is decoded)."""
    if el is None or not el.text:
        return None
    text = el.text
    if (el.get("base64") or "").lower() == "true":
        packed = "".join(text[: limit * 2].split())
        packed = packed[: len(packed) // 4 * 4]
        try:
            text = base64.b64decode(packed, validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            text = "(undecodable base64)"
    text = _CONTROL.sub("", text).strip()
    if len(text) > limit:
        text = text[:limit] + " [...]"
    return text or None


def _evidence(el: etree._Element) -> str | None:
    parts: list[str] = []
    for tag, label in (("PARAM", "Parameter"), ("FORM_ENTRY_POINT", "Form entry point"), ("CONTENT", "Content")):
        value = decoded(el.find(tag))
        if value:
            parts.append(f"{label}: {value}")
    if (el.findtext("POTENTIAL") or "").strip().lower() == "true":
        parts.append("Potential vulnerability (not confirmed by the scanner)")
    for payload in el.iterfind("PAYLOADS/PAYLOAD"):
        request = payload.find("REQUEST")
        pieces = [
            ("Payload", decoded(payload.find("PAYLOAD"))),
            (
                "Request",
                " ".join(filter(None, (clean(request.findtext("METHOD")), clean(request.findtext("URL")))))
                if request is not None
                else None,
            ),
            ("Request body", decoded(request.find("BODY")) if request is not None else None),
            ("Response", decoded(payload.find("RESPONSE/CONTENTS"))),
            ("Evidence", decoded(payload.find("RESPONSE/EVIDENCE"))),
        ]
        parts += [f"{label}: {value}" for label, value in pieces if value]
        if sum(len(p) for p in parts) > EVIDENCE_LIMIT:
            break
    text = "\n".join(parts)
    return (text[:EVIDENCE_LIMIT] + " [...]" if len(text) > EVIDENCE_LIMIT else text) or None


def _glossary_entry(el: etree._Element, qid: str) -> tuple[str | None, Weakness]:
    category = clean(el.findtext("CATEGORY"))
    v3_el = el.find("CVSS_V3")
    v3_text = v3_el.findtext("BASE") if v3_el is not None and v3_el.find("BASE") is not None else None
    v3, _vector = score_and_vector(v3_text or (v3_el.text if v3_el is not None else None))
    v2, _v2_vector = score_and_vector(el.findtext("CVSS_BASE"))
    refs = [f"{t}: {clean(el.findtext(t))}" for t in ("OWASP", "WASC") if clean(el.findtext(t))]
    weakness = Weakness(
        tool=TOOL,
        vuln_id=qid,
        name=clean(el.findtext("TITLE")) or f"QID {qid}",
        severity=Severity.MEDIUM,
        family=clean(el.findtext("GROUP")) or category,
        description=text_of(el.findtext("DESCRIPTION")),
        synopsis=text_of(el.findtext("IMPACT")),
        solution=text_of(el.findtext("SOLUTION")),
        see_also="\n".join(refs) or None,
        cvss2_score=v2,
        cvss3_score=v3,
        cves=cves_in(el.findtext("CVE_ID"), [c.text for c in el.iterfind("CVE_ID_LIST/CVE_ID/ID")]),
        cwes=cwes_in(el.findtext("CWE")),
    )
    informational = "information gathered" in (category or "").lower()
    return ("ig" if informational else el.findtext("SEVERITY")), weakness


def _in(el: etree._Element, parent_tag: str) -> bool:
    parent = el.getparent()
    return parent is not None and parent.tag == parent_tag


class QualysWasXmlParser:
    """Reader of Qualys WAS scan report XML."""

    id = "qualys-was-xml"
    name = "Qualys WAS scan report XML"
    maps_to = "one finding per QID and URL path on the web application; a single finished scan covers its web app"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """The root element is WAS_SCAN_REPORT."""
        return head.xml_root == "WAS_SCAN_REPORT"

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the glossary and appendix, yield coverage, then one finding per vulnerability."""
        start = stream.tell()
        report = self._report(stream, ctx)
        scan = report.scans[0] if len(report.scans) == 1 else {}
        begin = qualys_time(scan.get("START_DATE"))
        end = qualys_time(scan.get("END_DATE"))
        covered = (
            scan
            and (scan.get("STATUS") or "finished").lower() == "finished"
            and (scan.get("MODE") or "vulnerability").lower() == "vulnerability"
            and not report.filtered
        )
        assets: dict[str, Asset] = {}
        if covered:
            auth_text = (scan.get("AUTHENTICATION_STATUS") or "").lower()
            auth = True if "success" in auth_text else False if "no auth" in auth_text or "fail" in auth_text else None
            for url in report.webapps:
                asset = assets.setdefault(web_origin(url), Asset(kind=AssetKind.WEB_APP, name=web_origin(url)))
                when = begin or report.generated or ctx.fallback_time()
                yield Coverage(asset, when, end or when, auth, Checks.VULNERABILITY)
        stream.seek(start)
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        fallback_url = report.webapps[0] if report.webapps else None
        number = 0
        for _event, el in iterparse(stream, ctx.source, (*_FINDINGS, "RESULTS")):
            if el.tag == "RESULTS":
                break
            if not _in(el, _FINDINGS[str(el.tag)]):
                continue
            number += 1
            finding = self._finding(
                el, number, report, weaknesses, assets, fallback_url, begin if covered else None, ctx
            )
            if finding is not None:
                yield finding
            release(el)
        first = begin or report.generated
        yield Scan(
            tool=TOOL,
            tool_version=_version(scan.get("SCANNER")),
            name=report.target or scan.get("NAME"),
            started_at=first,
            ended_at=end or first,
            partial_checks=tuple(report.partial),
        )

    def _report(self, stream: BinaryIO, ctx: ParseContext) -> _Report:
        report = _Report()
        tags = ("QID", "FILTER", "SCAN", "WEBAPP", "GENERATION_DATETIME", "RESULTS", *_FINDINGS, *_SKIPPED)
        for _event, el in iterparse(stream, ctx.source, tags):
            tag = str(el.tag)
            if tag == "QID":
                if _in(el, "QID_LIST"):
                    qid = (el.findtext("QID") or "").strip()
                    if qid:
                        report.glossary[qid] = _glossary_entry(el, qid)
                    release(el)
            elif tag in _FINDINGS or tag in _SKIPPED:
                if _in(el, {**_FINDINGS, **_SKIPPED}[tag]):
                    release(el)
            elif tag == "FILTER":
                name = (el.findtext("NAME") or "").strip().upper()
                report.filtered = report.filtered or name not in _UNFILTERED
            elif tag == "SCAN":
                if _in(el, "SCAN_LIST"):
                    report.scans.append({child.tag: clean(child.text) for child in el if isinstance(child.tag, str)})
                elif _in(el, "TARGET"):
                    report.target = clean(el.text)
            elif tag == "WEBAPP":
                url = clean(el.findtext("URL"))
                if url and "://" in url:
                    report.webapps.append(url)
            elif tag == "RESULTS":
                report.saw_results = True
            else:
                report.generated = qualys_time(el.text)
        if not report.saw_results:
            raise InputError(ctx.source, "Qualys WAS report without <RESULTS> (not a scan report?)")
        return report

    def _finding(
        self,
        el: etree._Element,
        number: int,
        report: _Report,
        weaknesses: dict[tuple[str, Severity], Weakness],
        assets: dict[str, Asset],
        fallback_url: str | None,
        floor: dt.datetime | None,
        ctx: ParseContext,
    ) -> Finding | None:
        """One finding (set aside when marked ignored); None when it is left out (warned)."""
        qid = (el.findtext("QID") or "").strip()
        record = f"{str(el.tag).lower().replace('_', ' ')} {number} (QID {qid[:20]}, line {el.sourceline})"
        if not is_qid(qid):
            ctx.skip(record, "no numeric QID")
            return None
        url = clean(el.findtext("URL")) or fallback_url
        if not url or "://" not in url:
            report.partial[qid] = None  # where it was is unknown: no path of it is shown fixed
            ctx.skip(record, f"no URL{f' ({url[:60]!r})' if url else ''}")
            return None
        ignored = (el.findtext("IGNORED") or "").strip().lower() == "true"
        level_text, known = report.glossary.get(qid, (None, None))
        if known is None:
            ctx.warn(record, "QID not in the report's glossary: no title or level; rated Moderate")
            severity = Severity.MEDIUM
        else:
            severity = level_of(ctx, record, level_text, level_text == "ig")
        weakness = weaknesses.get((qid, severity))
        if weakness is None:
            base = known or Weakness(tool=TOOL, vuln_id=qid, name=f"QID {qid}", severity=severity)
            weakness = weaknesses[(qid, severity)] = replace(base, severity=severity)
        origin = web_origin(url)
        asset = assets.get(origin)
        if asset is None:
            asset = assets[origin] = Asset(kind=AssetKind.WEB_APP, name=origin)
        said = el.findtext("STATUS")
        status: FindingStatus | None
        if dismissed(said):
            ctx.warn(record, f"status {(said or '').strip()[:40]!r} sets the finding aside; read as set aside")
            status = FindingStatus.SET_ASIDE
        else:
            status = detection_status(ctx, record, said)
        if ignored and status is not FindingStatus.FIXED:
            status = FindingStatus.SET_ASIDE  # set aside in Qualys WAS: not open, never a fix
        if status is None:
            return None
        texts = tuple(el.findtext(t) for t in ("DETECTION_DATE", "LAST_TIME_DETECTED", "FIRST_TIME_DETECTED"))
        when = record_time(ctx, record, texts, floor or report.generated)
        if floor is not None and when < floor:
            when = floor  # a finding must not predate the scan that covers its web app
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when,
            path=web_path(url),
            evidence=_evidence(el),
            status=status,
        )


def _version(scanner: str | None) -> str | None:
    m = _VERSION.search(scanner or "")
    return m.group(1) if m else None
