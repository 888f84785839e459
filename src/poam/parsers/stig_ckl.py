"""DISA STIG Viewer 2 checklists (`.ckl`, root CHECKLIST), streamed with lxml iterparse.

One checklist is one target (ASSET) reviewed against one or more STIGs (iSTIG). Each VULN with
STATUS Open is an open configuration finding; NotAFinding and Not_Applicable are explicit proof
that the check passes (FIXED findings, which close an open one); Not_Reviewed yields nothing.

Identity: the vulnerability id is the STIG Vuln ID (group id, `V-230221`), which DISA keeps across
STIG releases while the Rule ID (`SV-230221r858734_rule`) changes with each revision; eMASS and
FedRAMP track STIG findings by Vuln ID. The Rule ID, STIG ID (Rule_Ver) and STIG release go into
the weakness' synopsis. A web or database checklist (WEB_OR_DATABASE true) keeps the host as the
asset and puts `site/instance` in the finding's path, so two sites of one host stay apart.

Checklists carry no dates: findings are dated by the Evaluate-STIG result-engine comment when
there is one, else `--scan-date`, else the file's modification time (`date from file time`).

Lenient on values: a status that is not one of STIG Viewer's four is read as set aside when it
says so (`ignored`, `false positive`...: left out) and as Open otherwise, with a warning; a
missing or unknown severity is medium, with a warning; a VULN without Vuln_Num or a Rule_ID to
derive it from, or with an id longer than 200 characters, is left out with a warning. A
checklist that names no target at all is refused (give `--asset`): the target is its subject.
Module-level helpers (`host_asset`, `stig_weakness`, `Results`) are shared with the `.cklb`,
XCCDF and OSCAL parsers.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import BinaryIO

from lxml import etree

from poam.domain.models import (
    Asset,
    AssetKind,
    Checks,
    Coverage,
    Finding,
    FindingStatus,
    Scan,
    Severity,
    Weakness,
)
from poam.errors import InputError
from poam.parsers import common
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.xmlsafe import PROLOG_LIMIT, iterparse, prolog, release

TOOL = "DISA STIG Viewer"
EVALUATE_STIG = "Evaluate-STIG"
MAX_ID = 200
_SEVERITY = {
    "high": Severity.HIGH,
    "cat i": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "cat ii": Severity.MEDIUM,
    "low": Severity.LOW,
    "cat iii": Severity.LOW,
}
_STATUS = {
    "open": FindingStatus.OPEN,
    "notafinding": FindingStatus.FIXED,
    "notapplicable": FindingStatus.FIXED,
    "notreviewed": None,
    "": None,
}
_RULE_NUMBER = re.compile(r"(?:^|_)SV-(\d+)")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,62}))*\.?$"
)
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){5}$")
_SPLIT = re.compile(r"[\s,;]+")
_ES_COMMENT = re.compile(rb"<!--\s*<Evaluate-STIG>(.*?)-->", re.DOTALL)
_VIEWER_COMMENT = re.compile(rb"<!--\s*DISA STIG Viewer\s*::\s*([^\s<>-]+)\s*-->")


def stig_severity(text: object) -> Severity | None:
    """high/medium/low (CAT I/II/III) on poam's scale; None when absent or unknown."""
    if not isinstance(text, str):
        return None
    return _SEVERITY.get(" ".join(text.strip().lower().split()))


def listed_severity(text: object, ctx: ParseContext, record: str) -> Severity:
    """A rule's own severity; medium with a warning when it is missing or not high/medium/low."""
    return stig_severity(text) or common.odd_severity(ctx, record, text if isinstance(text, str) else None)


def override_severity(text: object, ctx: ParseContext, record: str) -> Severity | None:
    """A severity override (None when there is none); one poam cannot read is ignored, with a warning."""
    level = stig_severity(text)
    if level is None and isinstance(text, str) and text.strip():
        ctx.warn(record, f"severity override {text.strip()[:40]!r} not recognised; the rule's severity kept")
    return level


def stig_status(text: object, ctx: ParseContext, record: str) -> FindingStatus | None:
    """Open -> OPEN, NotAFinding/Not_Applicable -> FIXED, Not_Reviewed or none -> None (in any
    spelling). Another word: None when it means the result was set aside (`ignored`, `false
    positive`: neither open nor a fix), else OPEN; with a warning either way."""
    key = re.sub(r"[\s_\-]", "", text.lower()) if isinstance(text, str) else ""
    if key in _STATUS:
        return _STATUS[key]
    if common.dismissed(text):
        ctx.warn(record, f"status {str(text)[:40]!r} is not a STIG status; read as set aside and left out")
        return None
    return common.odd_status(ctx, record, text)


def usable_id(vuln_id: str | None, ctx: ParseContext, record: str, what: str) -> str | None:
    """The Vuln ID when the record can be tracked by it; None (the record left out, with a
    warning) when it has none or one longer than MAX_ID characters."""
    if not vuln_id:
        ctx.skip(record, f"no {what}")
        return None
    if len(vuln_id) > MAX_ID:
        ctx.skip(record, f"id longer than {MAX_ID} characters ({vuln_id[:40]!r}...)")
        return None
    return vuln_id


def vuln_id_of(group_id: object, rule_id: object) -> str | None:
    """The Vuln ID (`V-230221`): the group id when given, else derived from the Rule ID's number."""
    group = group_id.strip() if isinstance(group_id, str) else ""
    if group:
        return group
    m = _RULE_NUMBER.search(rule_id) if isinstance(rule_id, str) else None
    return f"V-{m.group(1)}" if m else None


def _text(value: object) -> str | None:
    return common.clean(value) if isinstance(value, str) else None


def stig_weakness(
    tool: str,
    vuln_id: str,
    severity: Severity,
    fields: dict[str, object],
    ccis: Iterable[object],
    stig: str | None,
) -> Weakness:
    """The weakness of one STIG rule from its checklist fields (ckl attribute names, lower-cased)."""
    rule_id = _text(fields.get("rule_id"))
    rule_ver = _text(fields.get("rule_ver"))
    ref = _text(fields.get("stigref")) or stig
    facts = [f"Rule ID {rule_id}" if rule_id else "", f"STIG ID {rule_ver}" if rule_ver else "", ref or ""]
    discussion = _text(fields.get("vuln_discuss"))
    check = _text(fields.get("check_content"))
    description = "\n\n".join(p for p in (discussion, f"Check: {check}" if check else None) if p) or None
    name = _text(fields.get("rule_title")) or _text(fields.get("group_title")) or vuln_id
    return Weakness(
        tool=tool,
        vuln_id=vuln_id,
        name=name,
        severity=severity,
        family=stig,
        synopsis="; ".join(f for f in facts if f) or None,
        description=description,
        solution=_text(fields.get("fix_text")),
        ccis=tuple(dict.fromkeys(c.strip().upper() for c in ccis if isinstance(c, str) and c.strip())),
        is_config=True,
    )


def evidence(*parts: tuple[str, object]) -> str | None:
    """Labelled non-empty texts joined with blank lines (`Comments: ...`); an empty label is bare."""
    out = []
    for label, value in parts:
        text = _text(value)
        if text:
            out.append(f"{label}: {text}" if label else text)
    return "\n\n".join(out) or None


def _valid_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
        return None
    return ip


def _host_name(text: str | None) -> str | None:
    if not text or not _HOSTNAME.match(text) or text.lower().split(".")[0] in ("localhost", "localhost6"):
        return None
    return text.rstrip(".")


def host_asset(
    name: str | None,
    ips: Iterable[str | None] = (),
    fqdns: Iterable[str | None] = (),
    macs: Iterable[str | None] = (),
    non_computing: bool = False,
) -> Asset | None:
    """A target as an asset: a HOST from its valid identifiers (loopback, link-local, all-zero MACs
    and `localhost` names dropped; a dotted name is an FQDN, a bare one a NetBIOS-style host name),
    or for a non-computing target an OTHER asset named by its host name. None when nothing is usable."""
    name = (name or "").strip() or None
    found_ips = [ip for text in ips if text for part in _SPLIT.split(text) if part and (ip := _valid_ip(part))]
    found_ips.sort(key=lambda ip: ip.version)  # IPv4 first, in file order
    ip_text = str(found_ips[0]) if found_ips else None
    fqdn = next((h for f in fqdns if (h := _host_name((f or "").strip())) and "." in h), None)
    short = _host_name(name)
    if short and "." in short:
        fqdn, short = fqdn or short, None
    mac_list = [
        m.strip() for text in macs if text for m in _SPLIT.split(text) if _MAC.match(m.strip()) and m.strip("0:-") != ""
    ]
    mac = "\n".join(dict.fromkeys(m.upper().replace("-", ":") for m in mac_list)) or None
    if non_computing:
        label = name or fqdn or ip_text
        if not label:
            return None
        return Asset(kind=AssetKind.OTHER, name=label, ip=ip_text, fqdn=fqdn, mac=mac)
    if not (fqdn or short or ip_text or mac):
        return None
    return Asset(kind=AssetKind.HOST, ip=ip_text, fqdn=fqdn, netbios=short, mac=mac, name=name)


def target_asset(
    name: str | None,
    ips: list[str | None],
    fqdns: list[str | None],
    macs: list[str | None],
    non_computing: bool,
    ctx: ParseContext,
    where: str,
) -> Asset:
    """A checklist's target: its host name is required (STIG Viewer names every checklist by it);
    `--asset` stands in when the file has none or nothing usable."""
    name = (name or "").strip() if isinstance(name, str) else ""
    asset = host_asset(name, ips, fqdns, macs, non_computing) if name else None
    if asset is None and ctx.asset_name:
        asset = host_asset(ctx.asset_name, (), (), (), non_computing)
    if asset is None:
        problem = (
            f"a target {name[:60]!r} with no usable host name, IP or MAC address" if name else f"no host name ({where})"
        )
        raise InputError(ctx.source, f"checklist has {problem}; name the target with --asset")
    return asset


def site_path(web_or_database: object, site: object, instance: object) -> str | None:
    """`site/instance` of a web or database checklist, or None for a host checklist."""
    flag = web_or_database if isinstance(web_or_database, bool) else str(web_or_database or "").lower() == "true"
    if not flag:
        return None
    parts = [p for p in (_text(site), _text(instance)) if p]
    return "/".join(parts) or None


class Results:
    """Findings of one file by identity (tool, vuln id, asset, location), when a file reports a
    check several times for one target: the newest report decides, and on equal times an open
    one wins over a pass (a check passes only if all of it does). Per identity it keeps the
    newest open report (detected at the earliest open one, as `since`) and the newest passing
    report, and yields the pass only when it is newer than every open report, so that the
    importer, which applies records in time order, opens and then closes a finding the file
    saw fail and then pass. Of reports at one time, the first is kept."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str, Asset, str | None], dict[FindingStatus, Finding]] = {}

    def add(self, finding: Finding) -> None:
        key = (finding.weakness.tool, finding.weakness.vuln_id, finding.asset, finding.path)
        slot = self._found.setdefault(key, {})
        slot[finding.status] = newest(slot.get(finding.status), finding)

    def __iter__(self) -> Iterator[Finding]:
        for slot in self._found.values():
            failing, passing = slot.get(FindingStatus.OPEN), slot.get(FindingStatus.FIXED)
            if failing is not None:
                yield failing
            if passing is not None and (failing is None or passing.observed_at > failing.observed_at):
                yield passing

    def __len__(self) -> int:
        return sum(1 for _ in self)


def newest(known: Finding | None, finding: Finding) -> Finding:
    """Of two reports of one finding in one state, the newer (the first on equal times), with
    the earlier one's time (or its `since`) as `since` when that is earlier still."""
    if known is None:
        return finding
    latest = finding if finding.observed_at > known.observed_at else known
    starts = [t for f in (known, finding) for t in (f.since, f.observed_at) if t is not None]
    since = min(starts)
    return replace(latest, since=since) if since < latest.observed_at else latest


def result_engine(head: bytes) -> tuple[str, str | None, dt.datetime | None]:
    """Tool, version and time from the checklist's leading comments: Evaluate-STIG writes
    `<!--<Evaluate-STIG><version>...`, STIG Viewer `<!--DISA STIG Viewer :: 2.17-->`."""
    comments = _ES_COMMENT.findall(head)
    if comments:
        version = re.search(rb"<version>\s*([^<\s]+)\s*</version>", comments[0])
        time = next((m for c in comments if (m := re.search(rb"<time>\s*([^<]+?)\s*</time>", c))), None)
        when = common.parse_time(time.group(1).decode("utf-8", "replace")) if time else None
        return EVALUATE_STIG, version.group(1).decode("utf-8", "replace")[:100] if version else None, when
    viewer = _VIEWER_COMMENT.search(head)
    return TOOL, viewer.group(1).decode("ascii", "replace") if viewer else None, None


def _children(el: etree._Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in el:
        if isinstance(child.tag, str):
            out[child.tag] = child.text or ""
    return out


class StigCklParser:
    """Reader of DISA STIG Viewer 2 `.ckl` checklists."""

    id = "stig-ckl"
    name = "DISA STIG Viewer checklist (.ckl)"
    maps_to = "one configuration finding per STIG Vuln ID and target; NotAFinding/Not_Applicable close it"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """The root element is CHECKLIST, or the start shows a checklist's STIG_INFO under iSTIG."""
        if head.xml_root == "CHECKLIST":
            return True
        return head.xml_root is not None and "<iSTIG>" in head.text and "<STIG_INFO>" in head.text

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the ASSET, then every VULN; yield the coverage, the findings and the scan."""
        start = stream.tell()
        head = stream.read(PROLOG_LIMIT)
        stream.seek(start)
        root, _entities = prolog(head)
        if root != "CHECKLIST":
            raise InputError(ctx.source, f"not a STIG checklist: the root element is <{root}>, not <CHECKLIST>")
        tool, version, engine_time = result_engine(head)
        when = engine_time or ctx.fallback_time()
        asset: Asset | None = None
        path: str | None = None
        in_stigs = saw_stigs = False
        stig_info: dict[str, str] = {}
        titles: list[str] = []
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        results = Results()
        tags = ("ASSET", "STIGS", "iSTIG", "SI_DATA", "VULN")
        for event, el in iterparse(stream, ctx.source, tags, events=("start", "end")):
            tag = el.tag
            if event == "start":
                if tag == "STIGS":
                    in_stigs = saw_stigs = True
                elif tag == "iSTIG":
                    stig_info = {}
                continue
            if tag == "VULN":
                if asset is None:
                    raise InputError(ctx.source, "checklist has no ASSET element before its VULN results")
                if not in_stigs:
                    raise InputError(ctx.source, "checklist has no STIGS element around its iSTIG results")
                finding = self._vuln(el, asset, path, when, tool, stig_info, weaknesses, ctx)
                if finding is not None:
                    results.add(finding)
                release(el)
            elif tag == "SI_DATA":
                key = (el.findtext("SID_NAME") or "").strip().lower()
                if key:
                    stig_info[key] = (el.findtext("SID_DATA") or "").strip()
            elif tag == "iSTIG":
                title = stig_info.get("title")
                if title and title not in titles:
                    titles.append(title)
                release(el)
            elif tag == "STIGS":
                in_stigs = False
            else:  # ASSET
                asset, path = self._asset(el, ctx)
        if asset is None:
            raise InputError(ctx.source, "checklist has no ASSET element")
        if not saw_stigs:
            raise InputError(ctx.source, "checklist has no STIGS element")
        yield Coverage(asset, when, when, None, Checks.CONFIGURATION)
        yield from results
        yield Scan(
            tool=tool, tool_version=version, name=", ".join(titles)[:500] or None, started_at=when, ended_at=when
        )

    def _asset(self, el: etree._Element, ctx: ParseContext) -> tuple[Asset, str | None]:
        fields = _children(el)
        path = site_path(fields.get("WEB_OR_DATABASE"), fields.get("WEB_DB_SITE"), fields.get("WEB_DB_INSTANCE"))
        non_computing = fields.get("ASSET_TYPE", "").strip().lower() == "non-computing"
        asset = target_asset(
            fields.get("HOST_NAME"),
            [fields.get("HOST_IP")],
            [fields.get("HOST_FQDN")],
            [fields.get("HOST_MAC")],
            non_computing,
            ctx,
            "ASSET/HOST_NAME",
        )
        return asset, path

    def _vuln(
        self,
        el: etree._Element,
        asset: Asset,
        path: str | None,
        when: dt.datetime,
        tool: str,
        stig_info: dict[str, str],
        weaknesses: dict[tuple[str, Severity], Weakness],
        ctx: ParseContext,
    ) -> Finding | None:
        fields: dict[str, object] = {}
        ccis: list[str] = []
        for data in el.iterchildren("STIG_DATA"):
            key = (data.findtext("VULN_ATTRIBUTE") or "").strip().lower()
            value = data.findtext("ATTRIBUTE_DATA") or ""
            if key == "cci_ref":
                ccis.append(value)
            elif key and key not in fields:
                fields[key] = value
        vuln_id = vuln_id_of(fields.get("vuln_num"), fields.get("rule_id"))
        record = f"VULN at line {el.sourceline}" + (f" ({vuln_id[:60]})" if vuln_id else "")
        status = stig_status(el.findtext("STATUS"), ctx, record)
        if status is None:
            return None
        vuln_id = usable_id(vuln_id, ctx, record, "Vuln_Num or Rule_ID")
        if vuln_id is None:
            return None
        listed = listed_severity(fields.get("severity"), ctx, record)
        override = override_severity(el.findtext("SEVERITY_OVERRIDE"), ctx, record)
        severity = override or listed
        weakness = weaknesses.get((vuln_id, severity))
        if weakness is None:
            stig = stig_info.get("title") or None
            release_info = " ".join(v for v in (stig_info.get("version"), stig_info.get("releaseinfo")) if v)
            if stig and release_info and not fields.get("stigref"):
                fields["stigref"] = f"{stig} :: Version {release_info}"
            weakness = stig_weakness(tool, vuln_id, severity, fields, ccis, stig)
            weaknesses[(vuln_id, severity)] = weakness
        note = None
        if override and override is not listed:
            why = (el.findtext("SEVERITY_JUSTIFICATION") or "").strip()
            note = f"{listed.value} -> {override.value}" + (f" ({why})" if why else "")
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when,
            evidence=evidence(
                ("", el.findtext("FINDING_DETAILS")),
                ("Comments", el.findtext("COMMENTS")),
                ("Severity override", note),
            ),
            status=status,
            path=path,
        )
