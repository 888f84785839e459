"""Rapid7 InsightVM / Nexpose XML export: root `NexposeReport`, version 1.0 ("XML Export") and 2.0
("XML Export 2.0"), streamed with lxml iterparse.

Layout: `scans/scan` (id, name, startTime, endTime, status), `nodes/node` (address,
hardware-address, status, `names/name`, `fingerprints/os`), the node's host-level tests at
`node/tests/test` and its service-level tests at `node/endpoints/endpoint[port, protocol]/services/
service[name]/tests/test`, then `VulnerabilityDefinitions/vulnerability` (id, title, severity 1-10,
cvssScore, cvssVector, cvssV3Score, cvssV3Vector, description, references, tags, solution). The
definitions come after the nodes, so the stream is read twice: the scans and definitions first,
then the nodes.

One finding per vulnerability id (lower case, as Rapid7 ids are case-insensitive), host and
port/protocol (host-level tests: no port). A test's `key` (a URL path, a file, a package: one
*instance* of the vulnerability) is not part of the identity: the instances on one port are one
finding, listed in its evidence. Test status:

- `vulnerable-exploited`, `vulnerable-version`, `vulnerable-potential` (`potential`): open.
- `exception-vulnerable-exploited`, `-version`, `-potential` (Rapid7: "suppressed due to an
  exception", a vulnerability exception approved in the console): set aside.
- `not-vulnerable`, `skipped-version` (the version is not affected), `overridden-*`: no record;
  the host's coverage closes what a scan no longer finds.
- `error`, `unknown`, `skipped-disabled`, `skipped-dos` and other `skipped-*`: the check did not
  decide. Its id is a partial check of the scan (never closed by this file's absence of it).
- another `vulnerable-*` status: open; a status that means dismissed (`common.dismissed`): set aside,
  warned; any other: open, warned.

Severity: Rapid7's 1-10 level (from the CVSS score, the vulnerability's age and prevalence and
known exploits) in the CVSS bands: 9-10 Critical, 7-8 High, 4-6 Moderate, 1-3 Low (0
informational); Rapid7's own words are coarser (8-10 Critical, 4-7 Severe, 1-3 Moderate). A
missing or unreadable level, or a test whose definition is not in the file (named by its id), is
Moderate with a warning.

Dates: a finding is seen at the start of the scan its tests name (`scan-id`, 2.0), else at the
earliest start of the file's scans; `vulnerable-since` is the tool's first detection (`since`).
Times have no zone in the file (`20210211T164506081`) and are taken as UTC. A report without scan
times is dated by `--scan-date`, else the file's time.

Coverage: each alive node of a finished scan, from its scans' start to their end. A node of a scan
that did not finish (`stopped`, `error`, `aborted`, `paused`, `running`...) is not counted as
scanned (warned once per scan): its hosts may have been checked only in part, so nothing is closed
by absence. A node that says it is not alive is not covered either.

Read past with a warning or left out (never refused): a test without an id, a test outside a
node, a node without address or name (with its tests), a port that is not a number.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from lxml import etree

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import cvss
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import clean, dismissed, odd_severity, odd_status, parse_time, severity_score
from poam.parsers.xmlsafe import iterparse, release

TOOL = "Rapid7 InsightVM"
_OPEN = frozenset({"vulnerable-exploited", "vulnerable-version", "vulnerable-potential", "potential"})
_ABSENT = frozenset({"not-vulnerable", "skipped-version"})
_UNDECIDED = frozenset({"error", "unknown", "skipped-disabled", "skipped-dos", "no-tests"})
_FINISHED = frozenset({"finished", "complete", "completed", ""})
_STAMP = re.compile(r"(\d{8})T(\d{6})(\d{0,6})")
_MAC = re.compile(r"[0-9A-Fa-f]{12}")
MAX_INSTANCES = 25
"""Instances (test keys) written out in one finding's evidence; the rest are counted."""
MAX_INSTANCE_TEXT = 2000
"""Characters of one instance's proof kept in the evidence."""


def rapid7_time(text: str | None) -> dt.datetime | None:
    """A Rapid7 time (`20210211T164506081`, no zone: taken as UTC), or ISO 8601; None if unreadable."""
    value = clean(text)
    if value is None:
        return None
    m = _STAMP.fullmatch(value)
    if m:
        try:
            when = dt.datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S")
        except ValueError:
            return None
        fraction = m.group(3)
        return when.replace(microsecond=int(fraction.ljust(6, "0"))) if fraction else when
    return parse_time(value)


def level(text: str | None) -> Severity | None:
    """Rapid7's severity 0-10 on poam's scale (CVSS bands); None when it is not such a number."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    if not 0 <= value <= 10:
        return None
    return severity_score(value)


# --- Rapid7's light markup (Paragraph, ContainerBlockElement, lists, URLLink) as text ------------


class _Flow:
    """Blocks of text built from Rapid7's markup: the text of a block with its runs of blank
    space made single spaces, blocks separated by blank lines, preformatted paragraphs kept as
    written."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.parts: list[str] = []

    def text(self, value: str | None) -> None:
        if value:
            self.parts.append(value)

    def flush(self) -> None:
        words = " ".join("".join(self.parts).split())
        self.parts = []
        if words:
            self.blocks.append(words)

    def block(self, value: str) -> None:
        self.flush()
        if value.strip():
            self.blocks.append(value)

    def result(self) -> str | None:
        self.flush()
        return "\n\n".join(self.blocks) or None


def _walk(el: etree._Element, flow: _Flow) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag == "URLLink":
        url = (el.get("LinkURL") or "").strip()
        title = " ".join((el.get("LinkTitle") or el.text or "").split())
        flow.text(url if not title or title == url else f"{title} ({url})" if url else title)
    elif tag == "Paragraph" and (el.get("preformat") or "").lower() == "true":
        flow.block(textwrap.dedent("".join(str(t) for t in el.itertext()).strip("\n")).rstrip())
    elif tag in ("UnorderedList", "OrderedList"):
        flow.flush()
        lines = []
        for number, item in enumerate((c for c in el if c.tag == "ListItem"), start=1):
            inner = _Flow()
            _content(item, inner)
            text = " ".join((inner.result() or "").split("\n\n"))
            lines.append(f"{number}. {text}" if tag == "OrderedList" else f"- {text}")
        if lines:
            flow.block("\n".join(lines))
    elif tag in ("Paragraph", "ContainerBlockElement", "ListItem", "Table", "TableRow"):
        flow.flush()
        _content(el, flow)
        flow.flush()
    else:  # inline or unknown markup: its text
        _content(el, flow)


def _content(el: etree._Element, flow: _Flow) -> None:
    flow.text(el.text)
    for child in el:
        _walk(child, flow)
        flow.text(child.tail)


def markup_text(el: etree._Element | None) -> str | None:
    """The text of an element holding Rapid7's markup; None when empty."""
    if el is None:
        return None
    flow = _Flow()
    _content(el, flow)
    return flow.result()


# --- what the first pass keeps --------------------------------------------------------------------


@dataclass(frozen=True)
class _Scan:
    name: str | None
    started: dt.datetime | None
    ended: dt.datetime | None
    status: str


@dataclass(frozen=True)
class _Definition:
    level: str | None
    weakness: Weakness


def _definition(el: etree._Element, vid: str) -> _Definition:
    """What a `vulnerability` definition says, kept after the element is released."""
    v2_vector = cvss.clean_v2((el.get("cvssVector") or "").strip().strip("()")) or None
    v3_vector = (el.get("cvssV3Vector") or "").strip().strip("()") or None
    cves: dict[str, None] = {}
    iavas: dict[str, None] = {}
    cwes: dict[str, None] = {}
    urls: dict[str, None] = {}
    for ref in el.iterfind("references/reference"):
        source = (ref.get("source") or "").strip().upper()
        value = (ref.text or "").strip()
        if not value:
            continue
        if source == "CVE":
            cves[value.upper()] = None
        elif source in ("IAVA", "IAVB", "IAVT", "IAVM"):
            iavas[value] = None
        elif source == "CWE":
            cwes[value.upper().removeprefix("CWE-")] = None
        elif source == "URL":
            urls[value] = None
    tags = [t for t in (clean(t.text) for t in el.iterfind("tags/tag")) if t]
    return _Definition(
        level=el.get("severity"),
        weakness=Weakness(
            tool=TOOL,
            vuln_id=vid,
            name=" ".join((el.get("title") or "").split()) or vid,
            severity=Severity.MEDIUM,  # replaced by the level when the definition is used
            family=tags[0] if tags else None,
            description=markup_text(el.find("description")),
            solution=markup_text(el.find("solution")),
            see_also="\n".join(urls) or None,
            cvss2_score=cvss.fill(2, cvss.score(el.get("cvssScore")), v2_vector),
            cvss2_vector=v2_vector,
            cvss3_score=cvss.fill(3, cvss.score(el.get("cvssV3Score")), v3_vector),
            cvss3_vector=v3_vector,
            cves=tuple(cves),
            cwes=tuple(cwes),
            iavas=tuple(iavas),
        ),
    )


# --- the second pass: one node at a time --------------------------------------------------------


@dataclass
class _Instances:
    """The tests of one vulnerability at one place of one node (several keys)."""

    status: FindingStatus
    record: str
    service: str | None
    scans: set[str] = field(default_factory=set)
    since: dt.datetime | None = None
    proofs: list[tuple[str | None, str | None]] = field(default_factory=list)
    count: int = 0


_Place = tuple[str, int | None, str | None]  # vulnerability id, port, protocol
_ORDER = {FindingStatus.OPEN: 0, FindingStatus.SET_ASIDE: 1, FindingStatus.FIXED: 2}


class Rapid7XmlParser:
    """Reader of Rapid7 InsightVM / Nexpose XML exports (NexposeReport 1.0 and 2.0)."""

    id = "rapid7-xml"
    name = "Rapid7 InsightVM / Nexpose XML export (NexposeReport 1.0 and 2.0)"
    maps_to = (
        "one finding per vulnerability id, host and port (test keys merged); the alive nodes of a finished scan "
        "are its coverage"
    )
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """The root element is NexposeReport (the simple XML export's root is NeXposeSimpleXML)."""
        return head.xml_root == "NexposeReport"

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the scans and definitions, then stream each node's coverage and findings."""
        start = stream.tell()
        scans, definitions = self._first_pass(stream, ctx)
        stream.seek(start)
        weaknesses: dict[str, Weakness] = {}
        partial: set[str] = set()
        pending: dict[_Place, _Instances] = {}
        warned_scans: set[str] = set()
        report_time: list[dt.datetime] = []  # the fallback, asked for once and only when needed
        for _event, el in iterparse(stream, ctx.source, ("node", "test", "vulnerability")):
            if el.tag == "test":
                self._test(el, pending, partial, ctx)
                el.clear()
                continue
            if el.tag == "vulnerability":  # read in the first pass
                release(el)
                continue
            yield from self._node(el, pending, scans, definitions, weaknesses, warned_scans, report_time, ctx)
            pending = {}
            release(el)
        started = [t for t in (s.started for s in scans.values()) if t is not None]
        ended = [t for t in (s.ended or s.started for s in scans.values()) if t is not None]
        names = [s.name for s in scans.values() if s.name]
        yield Scan(
            tool=TOOL,
            name=names[0] if len(names) == 1 else None,
            started_at=min(started) if started else (report_time[0] if report_time else None),
            ended_at=max(ended) if ended else (report_time[0] if report_time else None),
            partial_checks=tuple(sorted(partial)),
        )

    def _first_pass(self, stream: BinaryIO, ctx: ParseContext) -> tuple[dict[str, _Scan], dict[str, _Definition]]:
        scans: dict[str, _Scan] = {}
        definitions: dict[str, _Definition] = {}
        root_seen = False
        for event, el in iterparse(
            stream, ctx.source, ("NexposeReport", "scan", "vulnerability", "node"), ("start", "end")
        ):
            if el.tag == "NexposeReport":
                root_seen = True
                continue
            if event == "start":
                continue
            if el.tag == "scan":
                parent = el.getparent()
                if parent is not None and parent.tag == "scans":
                    sid = (el.get("id") or "").strip() or f"#{len(scans) + 1}"
                    scans[sid] = self._scan(el, sid, ctx)
                release(el)
            elif el.tag == "vulnerability":
                parent = el.getparent()
                vid = (el.get("id") or "").strip().lower()
                if parent is not None and parent.tag == "VulnerabilityDefinitions" and vid:
                    definitions.setdefault(vid, _definition(el, vid))
                release(el)
            else:
                release(el)
        if not root_seen:
            raise InputError(ctx.source, "not a Rapid7 XML export (no NexposeReport root)")
        return scans, definitions

    def _scan(self, el: etree._Element, sid: str, ctx: ParseContext) -> _Scan:
        times: list[dt.datetime | None] = []
        for attr in ("startTime", "endTime"):
            text = clean(el.get(attr))
            when = rapid7_time(text)
            if when is None and text:
                ctx.warn(f"scan {sid}", f"{attr} {text[:40]!r} is not a date; not used")
            times.append(when)
        return _Scan(clean(el.get("name")), times[0], times[1], (el.get("status") or "").strip().lower())

    def _test(
        self, el: etree._Element, pending: dict[_Place, _Instances], partial: set[str], ctx: ParseContext
    ) -> None:
        """Note one test of the node being read."""
        node = next(el.iterancestors("node"), None)
        address = (node.get("address") or "").strip() if node is not None else ""
        vid = (el.get("id") or "").strip().lower()
        record = f"node {address or '?'}, test {vid or '?'} (line {el.sourceline})"
        if node is None:
            ctx.skip(record, "outside a node")
            return
        if not vid:
            ctx.skip(record, "no test id")
            return
        word = " ".join((el.get("status") or "").strip().lower().split())
        status: FindingStatus | None
        if word in _OPEN or word.startswith("vulnerable-"):
            status = FindingStatus.OPEN
        elif word.startswith("exception-"):
            status = FindingStatus.SET_ASIDE
        elif word in _ABSENT or word.startswith("overridden"):
            return
        elif word in _UNDECIDED or word.startswith("skipped"):
            partial.add(vid)
            return
        elif dismissed(word):
            ctx.warn(record, f"status {word[:40]!r} sets the result aside")
            status = FindingStatus.SET_ASIDE
        else:
            status = odd_status(ctx, record, el.get("status"))
        endpoint = next(el.iterancestors("endpoint"), None)
        port = protocol = None
        if endpoint is not None:
            port_text = (endpoint.get("port") or "").strip()
            if port_text.isdigit() and len(port_text) <= 5 and 0 < int(port_text) <= 65535:
                port = int(port_text)
                protocol = (endpoint.get("protocol") or "").strip().lower() or None
            elif port_text and port_text != "0":
                ctx.warn(record, f"port {port_text[:40]!r} is not a number; no port")
        service_el = next(el.iterancestors("service"), None)
        service = clean(service_el.get("name")) if service_el is not None else None
        if service and service.lower() == "<unknown>":
            service = None
        place = (vid, port, protocol)
        acc = pending.get(place)
        if acc is None:
            acc = pending[place] = _Instances(status, record, service)
        elif _ORDER[status] < _ORDER[acc.status]:  # open wins over set aside
            acc.status = status
        acc.count += 1
        scan_id = clean(el.get("scan-id"))
        if scan_id:
            acc.scans.add(scan_id)
        since_text = clean(el.get("vulnerable-since"))
        since = rapid7_time(since_text)
        if since is None and since_text:
            ctx.warn(record, f"vulnerable-since {since_text[:40]!r} is not a date; not used")
        if since is not None:
            acc.since = min(acc.since, since) if acc.since else since
        if len(acc.proofs) < MAX_INSTANCES:
            proof = markup_text(el)
            if proof and len(proof) > MAX_INSTANCE_TEXT:
                proof = proof[:MAX_INSTANCE_TEXT] + " [...]"
            acc.proofs.append((clean(el.get("key")), proof))

    def _node(
        self,
        el: etree._Element,
        pending: dict[_Place, _Instances],
        scans: dict[str, _Scan],
        definitions: dict[str, _Definition],
        weaknesses: dict[str, Weakness],
        warned_scans: set[str],
        report_time: list[dt.datetime],
        ctx: ParseContext,
    ) -> Iterator[Record]:
        asset = _asset(el)
        if asset is None:
            count = sum(a.count for a in pending.values())
            ctx.skip(f"node at line {el.sourceline} (with its {count} vulnerable results)", "no address or name")
            return

        def when_of(ids: set[str]) -> tuple[dt.datetime, dt.datetime]:
            known = [scans[i] for i in sorted(ids) if i in scans] or list(scans.values())
            windows = [(s.started or s.ended, s.ended or s.started) for s in known]
            starts = [a for a, _b in windows if a is not None]
            ends = [b for _a, b in windows if b is not None]
            if starts and ends:
                return min(starts), max(ends)
            if not report_time:
                report_time.append(ctx.fallback_time())
            return report_time[0], report_time[0]

        node_scans: set[str] = set()
        for (vid, port, protocol), acc in pending.items():
            node_scans |= acc.scans
            weakness = self._weakness(vid, acc.record, definitions, weaknesses, ctx)
            observed, _end = when_of(acc.scans)
            yield Finding(
                weakness=weakness,
                asset=asset,
                observed_at=observed,
                port=port,
                protocol=protocol,
                service=acc.service,
                evidence=_evidence(acc),
                status=acc.status,
                since=acc.since,
            )
        alive = (el.get("status") or "alive").strip().lower() in ("alive", "")
        ids = {i for i in node_scans if i in scans} or set(scans)
        unfinished = sorted(i for i in ids if scans[i].status not in _FINISHED)
        for i in unfinished:
            if i not in warned_scans:
                warned_scans.add(i)
                name = f" ({scans[i].name})" if scans[i].name else ""
                ctx.warn(
                    f"scan {i}{name}",
                    f"status {scans[i].status[:40]!r}: the scan did not finish; its hosts are not counted as scanned",
                )
        if alive and not unfinished:
            started, ended = when_of(ids)
            yield Coverage(asset, started, ended, None, Checks.VULNERABILITY)

    def _weakness(
        self,
        vid: str,
        record: str,
        definitions: dict[str, _Definition],
        weaknesses: dict[str, Weakness],
        ctx: ParseContext,
    ) -> Weakness:
        known = weaknesses.get(vid)
        if known is not None:
            return known
        definition = definitions.get(vid)
        if definition is None:
            ctx.warn(record, "no definition of this vulnerability in the file: named by its id; rated Moderate")
            weakness = Weakness(tool=TOOL, vuln_id=vid, name=vid, severity=Severity.MEDIUM)
        else:
            severity = level(definition.level)
            if severity is None:
                severity = odd_severity(ctx, f"vulnerability {vid}", clean(definition.level))
            weakness = replace(definition.weakness, severity=severity)
        weaknesses[vid] = weakness
        return weakness


def _evidence(acc: _Instances) -> str | None:
    """The proofs of a finding's instances; keyed instances under their key."""
    parts: list[str] = []
    for key, proof in acc.proofs:
        if key:
            parts.append(f"Instance {key}:\n{proof}" if proof else f"Instance {key}")
        elif proof:
            parts.append(proof)
    more = acc.count - len(acc.proofs)
    if more > 0:
        parts.append(f"... and {more} more instance{'s' if more > 1 else ''}")
    return "\n\n".join(parts) or None


def _asset(el: etree._Element) -> Asset | None:
    """The host of a node: address, names (the first with a dot is the FQDN; else the first name),
    MAC address, and the operating system fingerprint with the highest certainty."""
    address = (el.get("address") or "").strip()
    names = [n for n in (clean(n.text) for n in el.iterfind("names/name")) if n]
    ip: str | None = None
    if address:
        try:
            ip = str(ipaddress.ip_address(address))
        except ValueError:
            names.insert(0, address)
    fqdn = next((n for n in names if "." in n and not _is_ip(n)), None)
    name = None if fqdn else next((n for n in names if not _is_ip(n)), None)
    if not (ip or fqdn or name):
        return None
    mac = (el.get("hardware-address") or "").strip()
    if _MAC.fullmatch(mac):
        mac = ":".join(mac[i : i + 2] for i in range(0, 12, 2))
    return Asset(kind=AssetKind.HOST, ip=ip, fqdn=fqdn, name=name, mac=mac.lower() or None, os=_os(el))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _os(el: etree._Element) -> str | None:
    best: tuple[float, str] | None = None
    for os_el in el.iterfind("fingerprints/os"):
        vendor, family, product, version = (clean(os_el.get(a)) for a in ("vendor", "family", "product", "version"))
        parts: list[str] = []
        main = product or family
        if vendor and not (main and vendor.lower() in main.lower()):
            parts.append(vendor)
        for part in (main, version):
            if part and part not in parts:
                parts.append(part)
        if not parts:
            continue
        try:
            certainty = float(os_el.get("certainty") or 0)
        except ValueError:
            certainty = 0.0
        if best is None or certainty > best[0]:
            best = (certainty, " ".join(parts))
    return best[1] if best else None
