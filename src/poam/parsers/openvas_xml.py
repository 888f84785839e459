"""OpenVAS / Greenbone GMP report XML (`get_reports`), streamed with lxml iterparse.

Both envelopes are read: the exported `<report>` that wraps the report proper, and the inner
`<report>` alone (also inside a `<get_reports_response>`). One finding per result: NVT OID, host,
port/protocol (`general/tcp` is host-wide). Log, debug and error results are informational; a
result overridden to False Positive is set aside (a person's decision: an open finding stays open,
none is opened). Compliance results (GVM audits) are configuration findings, `yes` a FIXED one, and
in a delta report a result whose delta is `gone` is a FIXED finding.

Coverage: a GMP report is a complete scan of its hosts (`report/host`, and any host a result
names), so each is covered from its own start/end, else the scan's. No coverage when the report
shows it is partial: a results filter that drops a severity level or searches, a cut page of
results, a delta report; when the scan did not finish, only hosts with an end time are covered.

The host details come after the results in GMP output and a result's asset must carry them, so the
stream is read twice: first the hosts and the report's facts, then the results.

Odd values are read past with a warning: a result with neither a severity score nor a known threat
level is Moderate, a port that is neither a number nor `general` is no port; a result without a
host address or an NVT OID is left out. Dates the report does not give are `ctx.fallback_time()`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from lxml import etree

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import cvss
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import (
    Warner,
    clean,
    cves_in,
    cwes_in,
    odd_severity,
    parse_time,
    severity_score,
    severity_word,
)
from poam.parsers.xmlsafe import iterparse, release

TOOL = "OpenVAS"
_MARKERS = (b"<gmp>", b"<omp>", b"<scan_run_status>", b"<nvt oid=", b"<report_format", b"<result_count>")
_NOT_FINDINGS = {"log", "debug", "false positive", "error"}
_ADDRESS = re.compile(r"[0-9.]+|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*")
_PORT = re.compile(r"^\s*([0-9]{1,5})\s*/\s*([A-Za-z0-9_-]+)")
_TAG_SPLIT = re.compile(r"\|(?=[A-Za-z_]+=)")
# Filter keywords that only sort, page or annotate results; anything else selects a subset.
_HARMLESS = re.compile(
    r"apply_overrides|overrides|notes|note_details|override_details|min_qod|sort|sort-reverse|result_hosts_only"
    r"|autofp|timezone|ignore_pagination|details|lean"
)


def severity(score_text: str | None, threat: str | None) -> Severity:
    """A result's severity: Log/Debug/Error/False Positive results are informational; else the
    0-10 score (negative scores are GVM's markers for those), else the threat word."""
    return rated(score_text, threat) or Severity.INFO


def rated(score_text: str | None, threat: str | None, ctx: Warner | None = None, record: str = "") -> Severity | None:
    """A result's severity as `severity` reads it, except for a result with neither a score nor
    a threat level poam knows: Moderate with a warning through `ctx` (None without a `ctx`)."""
    word = " ".join((threat or "").lower().split())
    if word in _NOT_FINDINGS:
        return Severity.INFO
    score: float | None
    try:
        score = float((score_text or "").strip().lstrip("'"))  # CSV cells may carry a formula guard
    except ValueError:
        score = None
    if score is not None and score != 0.0:
        return Severity.INFO if score < 0 else severity_score(min(score, 10.0)) or Severity.INFO
    known = severity_word(word)
    if known is not None or (score is not None and not word):
        return known or Severity.INFO  # a score of 0.0 without a threat word: a log result
    if ctx is None:
        return None
    return odd_severity(ctx, record, threat or score_text)


def host_asset(address: str, hostname: str | None = None, os: str | None = None, mac: str | None = None) -> Asset:
    """A scanned host: the address, and the host name as FQDN when it has a dot, else as a plain
    name (a short name is no FQDN and must not block matching the host's real FQDN)."""
    address = address.strip()
    ip = address if _ADDRESS.fullmatch(address) else None
    names = [n.strip() for n in (hostname or "", "" if ip else address) if n and n.strip()]
    names = [n for n in names if not _ADDRESS.fullmatch(n)]
    fqdn = next((n for n in names if "." in n), None)
    short = next((n for n in names if "." not in n), None)
    return Asset(kind=AssetKind.HOST, ip=ip, fqdn=fqdn, name=short, os=os or None, mac=mac or None)


def describe(summary: str | None, insight: str | None, impact: str | None, affected: str | None) -> str | None:
    """The weakness description from an NVT's summary, insight, impact and affected texts."""
    parts = []
    for label, text in (("", summary), ("Insight: ", insight), ("Impact: ", impact), ("Affected: ", affected)):
        value = _lines(text)
        if value and value.upper() != "N/A":
            parts.append(label + value)
    return "\n\n".join(parts) or None


def _lines(text: str | None) -> str | None:
    """Text with each line's indentation removed (GMP indents wrapped NVT texts)."""
    if text is None:
        return None
    return clean("\n".join(line.strip() for line in text.strip().splitlines()))


def _tags(text: str | None) -> dict[str, str]:
    """An NVT's `key=value|key=value` tags."""
    out: dict[str, str] = {}
    for part in _TAG_SPLIT.split(text or ""):
        key, eq, value = part.partition("=")
        if eq and key.strip():
            out[key.strip().lower()] = value
    return out


def _partial_filter(term: str, results: int) -> bool:
    """Whether a report's results filter may have left results out."""
    for token in term.split():
        key, eq, value = token.partition("=")
        key = key.lower()
        if not eq:
            return True  # a text search or a comparison (`severity>5`)
        if key == "levels":
            if not {"h", "m", "l"} <= set(value.lower()):
                return True
        elif key in ("rows", "first"):
            try:
                number = int(value)
            except ValueError:
                return True
            if (key == "first" and number > 1) or (key == "rows" and 0 < number <= results):
                return True
        elif not _HARMLESS.fullmatch(key):
            return True
    return False


@dataclass
class _Host:
    ip: str
    hostname: str | None = None
    os: str | None = None
    mac: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    authenticated: bool | None = None


@dataclass
class _Facts:
    """What the first pass learns about the report."""

    hosts: dict[str, _Host] = field(default_factory=dict)
    root: str | None = None
    status_error: str | None = None
    saw_report: bool = False
    gmp: bool = False
    delta: bool = False
    partial: bool = False
    term: str = ""
    results: int = 0
    compliance: bool = False
    done: bool = True
    name: str | None = None
    version: str | None = None
    scan_start: dt.datetime | None = None
    scan_end: dt.datetime | None = None
    timestamp: dt.datetime | None = None


def _main_report(report: etree._Element) -> bool:
    """Whether this `report` element is the report proper (not a delta's baseline)."""
    parent = report.getparent()
    if parent is None or parent.tag == "get_reports_response":
        return True
    grand = parent.getparent()
    return parent.tag == "report" and (grand is None or grand.tag == "get_reports_response")


def _in_main(el: etree._Element) -> bool:
    parent = el.getparent()
    return parent is not None and parent.tag == "report" and _main_report(parent)


def _main_result(el: etree._Element) -> bool:
    """A result of the report proper (not the previous result inside a delta, nor a baseline's)."""
    parent = el.getparent()
    return parent is not None and parent.tag == "results" and _in_main(parent)


def _address(result: etree._Element) -> tuple[str, str | None]:
    """A result's host address (the text before `<asset>`) and host name."""
    host = result.find("host")
    if host is None:
        return "", None
    return (host.text or "").strip(), clean(host.findtext("hostname"))


class OpenvasXmlParser:
    """Reader of Greenbone GMP report XML (OpenVAS, GVM, Greenbone Enterprise)."""

    id = "openvas-xml"
    name = "OpenVAS / Greenbone GMP report XML"
    maps_to = "one finding per NVT OID, host and port; the report's hosts are the scan's coverage"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """Root `report` (or `get_reports_response`) with GMP report elements in the head."""
        if head.xml_root not in ("report", "get_reports_response"):
            return False
        return any(marker in head.data for marker in _MARKERS)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the hosts and facts, yield coverage, then stream one finding per result."""
        start = stream.tell()
        facts = self._facts(stream, ctx)
        assets = {ip: host_asset(h.ip, h.hostname, h.os, h.mac) for ip, h in facts.hosts.items()}
        when_scanned = facts.scan_start or facts.timestamp
        if not facts.partial and not facts.delta:
            checks = Checks.ALL if facts.compliance else Checks.VULNERABILITY
            for ip, host in facts.hosts.items():
                if not facts.done and host.end is None:
                    continue  # a host an unfinished scan did not complete
                begin = host.start or when_scanned or host.end or facts.scan_end or ctx.fallback_time()
                yield Coverage(assets[ip], begin, host.end or facts.scan_end or begin, host.authenticated, checks)
        stream.seek(start)
        weaknesses: dict[tuple[str, Severity, bool], Weakness] = {}
        for _event, el in iterparse(stream, ctx.source, ("result", "results")):
            if el.tag == "results":
                if _in_main(el):
                    break
                continue
            if not _main_result(el):
                continue
            address, _hostname = _address(el)
            seen = facts.hosts.get(address)
            if seen is None or address not in assets:
                ctx.skip(f"result {el.get('id')!r} (line {el.sourceline})", "no host address")
                release(el)
                continue
            floor = seen.start or when_scanned
            finding = self._finding(el, assets[address], floor, weaknesses, ctx)
            if finding is not None:
                yield finding
            release(el)
        first = facts.scan_start or min((h.start for h in facts.hosts.values() if h.start), default=None)
        last = facts.scan_end or max((h.end for h in facts.hosts.values() if h.end), default=None)
        yield Scan(tool=TOOL, tool_version=facts.version, name=facts.name, started_at=first, ended_at=last)

    def _facts(self, stream: BinaryIO, ctx: ParseContext) -> _Facts:
        facts = _Facts()
        names: dict[str, str] = {}
        tags = (
            *("report", "get_reports_response", "host", "result", "results", "term", "version", "task"),
            *("scan_start", "scan_end", "timestamp", "scan_run_status"),
        )
        for _event, el in iterparse(stream, ctx.source, tags):
            tag = el.tag
            if facts.root is None:
                facts.root = str(el.getroottree().getroot().tag)
            if tag == "result":
                if _main_result(el):
                    self._note_result(el, facts, names, ctx)
                    release(el)
            elif tag == "report":
                if _main_report(el):
                    facts.saw_report = True
                    facts.delta = facts.delta or el.get("type") == "delta"
            elif tag == "get_reports_response":
                status = (el.get("status") or "").strip()
                if status and not status.startswith("2"):
                    facts.status_error = f"GMP error {status}: {el.get('status_text') or 'no report'}"
            elif tag == "version":
                parent = el.getparent()
                if parent is not None and parent.tag in ("gmp", "omp") and _in_main(parent):
                    facts.version = clean(el.text)
            elif tag == "term":
                parent = el.getparent()
                if parent is not None and parent.tag == "filters" and _in_main(parent):
                    facts.term = el.text or ""
            elif _in_main(el):
                self._note(el, facts)
        if facts.status_error:
            raise InputError(ctx.source, facts.status_error)
        if not facts.saw_report or not facts.gmp:
            raise InputError(ctx.source, f"not a GMP report (root <{facts.root}> holds no report results or hosts)")
        facts.partial = facts.partial or _partial_filter(facts.term, facts.results)
        for ip, hostname in names.items():
            host = facts.hosts.setdefault(ip, _Host(ip))
            host.hostname = host.hostname or hostname
        return facts

    def _note_result(self, el: etree._Element, facts: _Facts, names: dict[str, str], ctx: ParseContext) -> None:
        facts.results += 1
        address, hostname = _address(el)
        if not address:
            return  # left out, with a warning, when the results are read
        if hostname and address not in names:
            names[address] = hostname
        names.setdefault(address, "")
        if (el.findtext("compliance") or "").strip().lower() in ("yes", "no", "incomplete"):
            facts.compliance = True

    def _note(self, el: etree._Element, facts: _Facts) -> None:
        """A child of the report proper."""
        tag = el.tag
        facts.gmp = facts.gmp or tag in ("host", "results", "scan_run_status", "scan_start")
        if tag == "host":
            self._host(el, facts)
            release(el)
        elif tag == "results":
            paging = (el.get("max") or "").strip()
            if re.fullmatch(r"[0-9]{1,9}", paging) and 0 < int(paging) <= facts.results:
                facts.partial = True
            if (el.get("start") or "1").strip() not in ("1", "0", ""):
                facts.partial = True
        elif tag == "task":
            facts.name = clean(el.findtext("name")) or facts.name
        elif tag == "scan_run_status":
            facts.done = (el.text or "").strip().lower() in ("done", "")
        elif tag == "scan_start":
            facts.scan_start = parse_time(clean(el.text))
        elif tag == "scan_end":
            facts.scan_end = parse_time(clean(el.text))
        elif tag == "timestamp":
            facts.timestamp = parse_time(clean(el.text))

    def _host(self, el: etree._Element, facts: _Facts) -> None:
        ip = clean(el.findtext("ip"))
        if not ip:
            return
        host = facts.hosts.setdefault(ip, _Host(ip))
        host.start = parse_time(clean(el.findtext("start")))
        host.end = parse_time(clean(el.findtext("end")))
        auth: list[bool] = []
        for detail in el.iterfind("detail"):
            name = (detail.findtext("name") or "").strip()
            value = clean(detail.findtext("value"))
            if name == "hostname" and value and not host.hostname:
                host.hostname = value
            elif name == "best_os_txt" and value:
                host.os = value
            elif name == "MAC" and value:
                host.mac = value
            elif name.startswith("Auth-") and name.endswith(("-Success", "-Failure")):
                auth.append(name.endswith("-Success"))
        if auth:
            host.authenticated = any(auth)

    def _finding(
        self,
        el: etree._Element,
        asset: Asset,
        floor: dt.datetime | None,
        weaknesses: dict[tuple[str, Severity, bool], Weakness],
        ctx: ParseContext,
    ) -> Finding | None:
        nvt = el.find("nvt")
        oid = ((nvt.get("oid") if nvt is not None else None) or "").strip()
        record = f"result {el.get('id')!r} (line {el.sourceline})"
        if nvt is None or not oid:
            ctx.skip(record, "no NVT OID")
            return None
        level = rated(el.findtext("severity"), el.findtext("threat"), ctx, record) or Severity.INFO
        compliance = (el.findtext("compliance") or "").strip().lower()
        is_config = compliance in ("yes", "no", "incomplete")
        if compliance == "incomplete":
            level = Severity.INFO  # the check could not decide
        elif compliance == "no" and level is Severity.INFO:
            level = Severity.MEDIUM  # a failed audit check is a weakness even when logged
        delta = el.find("delta")
        gone = delta is not None and (delta.text or "").strip().lower() == "gone"
        fixed = compliance == "yes" or gone
        # An override to False Positive is a person's decision: set aside, rated as first found.
        aside = not fixed and " ".join((el.findtext("threat") or "").lower().split()) == "false positive"
        if aside:
            level = rated(el.findtext("original_severity"), el.findtext("original_threat")) or Severity.INFO
        key = (oid, level, is_config)
        weakness = weaknesses.get(key)
        if weakness is None:
            weakness = weaknesses[key] = _weakness(oid, el, nvt, level, is_config)
        when = parse_time(clean(el.findtext("creation_time"))) or parse_time(clean(el.findtext("modification_time")))
        if when is None or (floor is not None and when < floor):
            when = floor  # a finding must not predate its host's coverage
        port_text = el.findtext("port")
        port, protocol = _port(port_text)
        odd_port(ctx, record, port_text, port)
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when or ctx.fallback_time(),
            port=port,
            protocol=protocol,
            evidence=clean(el.findtext("description")),
            status=FindingStatus.FIXED if fixed else FindingStatus.SET_ASIDE if aside else FindingStatus.OPEN,
        )


def port_number(text: str | None) -> int | None:
    """A port number 1-65535 from text, else None."""
    value = (text or "").strip()
    if not re.fullmatch(r"[0-9]{1,5}", value) or not 0 < int(value) <= 65535:
        return None
    return int(value)


def odd_port(ctx: Warner, record: str, text: str | None, port: int | None) -> None:
    """Warn about a port that was given but is neither a port number nor host-wide (`general`)."""
    value = (text or "").strip()
    if port is None and value and not value.lower().startswith("general") and value.lower() != "package":
        ctx.warn(record, f"port {value[:40]!r} is not a port number; no port")


def _port(text: str | None) -> tuple[int | None, str | None]:
    """`443/tcp` -> (443, 'tcp'); `general/tcp` and anything without a port number -> no port."""
    m = _PORT.match(text or "")
    port = port_number(m.group(1)) if m else None
    return (port, m.group(2).lower()) if m and port else (None, None)


def _weakness(oid: str, el: etree._Element, nvt: etree._Element, level: Severity, is_config: bool) -> Weakness:
    tags = _tags(nvt.findtext("tags"))
    vectors: dict[int, str | None] = {2: None, 3: None, 4: None}
    scores: dict[int, float | None] = {2: None, 3: None, 4: None}
    for sev in nvt.iterfind("severities/severity"):
        kind = (sev.get("type") or "").lower()
        version = 4 if "v4" in kind else 3 if "v3" in kind else 2 if "v2" in kind else 0
        if version:
            vectors[version] = clean(sev.findtext("value"))
            scores[version] = cvss.score(sev.findtext("score"))
    legacy = clean(tags.get("cvss_base_vector"))
    if legacy and not any(vectors.values()):
        version = 4 if legacy.startswith("CVSS:4") else 3 if legacy.startswith("CVSS:3") else 2
        vectors[version], scores[version] = legacy, cvss.score(nvt.findtext("cvss_base"))
    elif not any(scores.values()) and not any(vectors.values()):
        scores[2] = cvss.score(nvt.findtext("cvss_base"))  # old reports: a v2 base score alone
    vectors[2] = cvss.clean_v2(vectors[2])
    refs = [(r.get("type") or "").lower() for r in nvt.iterfind("refs/ref")]
    ids = [(r.get("id") or "").strip() for r in nvt.iterfind("refs/ref")]
    cves = cves_in([i for t, i in zip(refs, ids, strict=True) if t == "cve"], nvt.findtext("cve"), oid)
    urls = [i for t, i in zip(refs, ids, strict=True) if t == "url" and i]
    return Weakness(
        tool=TOOL,
        vuln_id=oid,
        name=_lines(nvt.findtext("name")) or _lines(el.findtext("name")) or f"NVT {oid}",
        severity=level,
        family=clean(nvt.findtext("family")),
        synopsis=_lines(tags.get("summary")),
        description=describe(tags.get("summary"), tags.get("insight"), tags.get("impact"), tags.get("affected")),
        solution=_lines(nvt.findtext("solution")) or _lines(tags.get("solution")),
        see_also="\n".join(dict.fromkeys(urls)) or None,
        cvss2_score=cvss.fill(2, scores[2], vectors[2]),
        cvss2_vector=vectors[2],
        cvss3_score=cvss.fill(3, scores[3], vectors[3]),
        cvss3_vector=vectors[3],
        cvss4_score=cvss.fill(4, scores[4], vectors[4]),
        cvss4_vector=vectors[4],
        cves=cves,
        cwes=cwes_in([i for t, i in zip(refs, ids, strict=True) if t == "cwe"]),
        is_config=is_config,
    )
