"""Tenable Nessus `.nessus` v2 (NessusClientData_v2), streamed with lxml iterparse.

One finding per ReportItem (plugin, host, port/protocol). The scan window comes from each
host's HOST_START/HOST_END (else `ctx.fallback_time()`: `--scan-date`, else the file's
modification time); informational results (severity 0) are yielded with severity `info` and the
import leaves them out of the POA&M.

Odd values are read past with a warning: a severity that is neither 0-4 nor a known risk factor
is Moderate, a port that is not a number is no port, a ReportItem without a pluginID is left out.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO

from lxml import etree

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import common, cvss
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.tenable_was import looks_like_was
from poam.parsers.xmlsafe import iterparse, release

TOOL = "Nessus"
_SEVERITY = {
    "0": Severity.INFO,
    "1": Severity.LOW,
    "2": Severity.MEDIUM,
    "3": Severity.HIGH,
    "4": Severity.CRITICAL,
}
_RISK_FACTOR = {
    "none": Severity.INFO,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
_MULTI = {"cve", "cwe", "iava", "iavb", "iavt", "xref"}
_VERSION = re.compile(r"Nessus version\s*:\s*([^\s]+)")
_CREDENTIALED = re.compile(r"Credentialed checks\s*:\s*(yes|no)", re.IGNORECASE)
_SCAN_INFO_PLUGIN = "19506"
# Families that run in any scan and prove nothing about vulnerability checks.
_NOT_VULNERABILITY = {"Policy Compliance", "Settings", "Port scanners", "Service detection", "General"}
_CM = "{http://www.nessus.org/cm}"
_Where = tuple[str | None, str | None, str | None]  # port, protocol, svc_name attributes as written
_Location = tuple[int | None, str | None, str | None]  # compliance-check results carry their own check id


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _time(epoch: str | None, text: str | None) -> dt.datetime | None:
    """A host time as naive UTC: the epoch tag when present, else the text form."""
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch.strip()), dt.UTC).replace(tzinfo=None)
        except (ValueError, OverflowError, OSError):
            pass
    if text:
        try:
            return dt.datetime.strptime(text.strip(), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            return None
    return None


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    lines = [line.strip() for line in text.strip().splitlines()]
    out = "\n".join(lines).strip()
    return out or None


class NessusParser:
    """Reader of Nessus v2 XML files (`.nessus`, or `.xml` exports)."""

    id = "nessus"
    name = "Tenable Nessus .nessus v2 (NessusClientData_v2)"
    maps_to = "one finding per plugin, host and port; hosts in the file are the scan's coverage"
    closes_by_coverage = True

    def sniff(self, head: Head) -> bool:
        """The root element is NessusClientData_v2, and the file is not a Tenable WAS report
        (those have URL hosts; `tenable_was` reads them)."""
        return head.xml_root == "NessusClientData_v2" and not looks_like_was(head.text)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Stream coverage per host and findings per ReportItem, then the scan's facts."""
        locations: dict[_Where, _Location] = {}
        weaknesses: dict[tuple[str, str | None], Weakness] = {}
        asset: Asset | None = None
        host_time: dt.datetime | None = None
        version: str | None = None
        policy: str | None = None
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        saw_root = saw_report = False
        host_cov: Coverage | None = None
        families: dict[str, bool] = {}
        checks = Checks.VULNERABILITY
        tags = (
            "NessusClientData_v2",
            "Report",
            "ReportHost",
            "HostProperties",
            "ReportItem",
            "policyName",
            "FamilyItem",
        )
        for _event, el in iterparse(stream, ctx.source, tags):
            tag = el.tag
            if tag == "ReportItem":
                if asset is None or host_time is None:
                    asset, host_time = self._bare_host(el, asset, host_time, ctx)
                    first = min(first, host_time) if first else host_time
                    last = max(last, host_time) if last else host_time
                    yield Coverage(asset, host_time, host_time, None)
                finding, version = self._finding(el, asset, host_time, weaknesses, version, locations, ctx)
                if finding is not None:
                    yield finding
                    if finding.weakness.vuln_id == _SCAN_INFO_PLUGIN and host_cov and host_cov.authenticated is None:
                        m = _CREDENTIALED.search(finding.evidence or "")
                        if m:  # older files say it only in the scan information plugin's output
                            host_cov = replace(host_cov, authenticated=m.group(1).lower() == "yes")
                            yield host_cov
                el.clear()  # the emptied shells go with their ReportHost

            elif tag == "HostProperties":
                host_name = _host_name(el)
                props = {str(t.get("name")): (t.text or "").strip() for t in el if t.tag == "tag" and t.get("name")}
                asset = _host(host_name, props)
                start = _host_time(props, "HOST_START", host_name, ctx)
                end = _host_time(props, "HOST_END", host_name, ctx)
                host_time = start or end or ctx.fallback_time()  # a host the file does not date
                first = min(first, start or host_time) if first else (start or host_time)
                last = max(last, end or host_time) if last else (end or host_time)
                credentialed = props.get("Credentialed_Scan")
                authenticated = None if credentialed is None else credentialed.lower() == "true"
                host_cov = Coverage(asset, start or host_time, end or host_time, authenticated, checks)
                yield host_cov
                release(el)
            elif tag == "ReportHost":
                asset, host_time, host_cov = None, None, None
                release(el)
            elif tag == "FamilyItem":
                name = (el.findtext("FamilyName") or "").strip()
                if name:
                    families[name] = (el.findtext("Status") or "").strip().lower() != "disabled"
                    checks = _checks(families)
            elif tag == "policyName":
                policy = (el.text or "").strip() or None
            elif tag == "Report":
                saw_report = True
            else:
                saw_root = True
        if not saw_root:
            raise InputError(ctx.source, "not a Nessus v2 file (no NessusClientData_v2 root)")
        if not saw_report:
            raise InputError(ctx.source, "Nessus file has no <Report> element (truncated or a policy export?)")
        skipped = tuple(sorted(f for f, on in families.items() if not on))
        yield Scan(
            tool=TOOL, tool_version=version, name=policy, started_at=first, ended_at=last, skipped_families=skipped
        )

    def _bare_host(
        self, el: etree._Element, asset: Asset | None, host_time: dt.datetime | None, ctx: ParseContext
    ) -> tuple[Asset, dt.datetime]:
        """A host whose results come without HostProperties: named by its ReportHost, dated by
        `ctx.fallback_time()`."""
        parent = el.getparent()
        if parent is None or parent.tag != "ReportHost":
            raise InputError(ctx.source, f"ReportItem outside a ReportHost (line {el.sourceline})")
        return asset or _host(_host_name(el), {}), host_time or ctx.fallback_time()

    def _finding(
        self,
        el: etree._Element,
        asset: Asset,
        when: dt.datetime,
        weaknesses: dict[tuple[str, str | None], Weakness],
        version: str | None,
        locations: dict[_Where, _Location],
        ctx: ParseContext,
    ) -> tuple[Finding | None, str | None]:
        plugin_id = (el.get("pluginID") or "").strip()
        if not plugin_id:
            ctx.skip(f"ReportItem on host {_host_name(el)!r} (line {el.sourceline})", "no pluginID")
            return None, version
        record = f"plugin {plugin_id} on host {_host_name(el)!r} (line {el.sourceline})"
        severity_text = (el.get("severity") or "").strip()
        weakness = None
        if el.get("pluginFamily") != "Policy Compliance":
            # The definition of a plugin is the same on every host: read only the evidence.
            weakness = weaknesses.get((plugin_id, severity_text))
        status = FindingStatus.OPEN
        if weakness is not None:
            output = el.findtext("plugin_output")
        else:
            single, multi = _children(el)
            output = single.get("plugin_output")
            severity = _SEVERITY.get(severity_text)
            if severity is None:
                risk = (single.get("risk_factor") or "").strip()
                severity = _RISK_FACTOR.get(risk.lower()) or common.odd_severity(ctx, record, severity_text or risk)
            if (single.get(_CM + "compliance-result") or "").strip().upper() == "PASSED":
                status = FindingStatus.FIXED  # a compliance check that passes: proof of the fix
            check_id = (single.get(_CM + "compliance-check-id") or "").strip()
            vuln_id = check_id or plugin_id
            weakness = weaknesses.get((vuln_id, severity.value))
            if weakness is None:
                weakness = _weakness(plugin_id, vuln_id, el, severity, single, multi)
                weaknesses[(vuln_id, severity.value)] = weakness
                if not check_id and severity_text in _SEVERITY:  # an odd one is warned on each item
                    weaknesses[(plugin_id, severity_text)] = weakness
        if plugin_id == _SCAN_INFO_PLUGIN and output:
            m = _VERSION.search(output)
            version = m.group(1) if m else version
        where = (el.get("port"), el.get("protocol"), el.get("svc_name"))
        location = locations.get(where)
        if location is None:
            location = locations[where] = _location(where)
        port_text = (where[0] or "").strip()
        if location[0] is None and port_text:
            ctx.warn(record, f"port {port_text[:40]!r} is not a number; no port")
        finding = Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when,
            port=location[0],
            protocol=location[1],
            service=location[2],
            evidence=output.strip() or None if output else None,
            status=status,
        )
        return finding, version


def _checks(families: dict[str, bool]) -> Checks:
    """What a policy's family selection lets a scan show fixed: compliance results close
    configuration findings explicitly (PASSED), so the question is about absence. A scan whose
    policy runs only Policy Compliance shows configuration checks; one that runs vulnerability
    families shows vulnerabilities; both, all."""
    compliance = families.get("Policy Compliance", False)
    vulnerability = any(on for name, on in families.items() if name not in _NOT_VULNERABILITY)
    if compliance and not vulnerability:
        return Checks.CONFIGURATION
    if compliance:
        return Checks.ALL
    return Checks.VULNERABILITY


def _location(where: _Where) -> _Location:
    """Port, protocol and service of a ReportItem from its attributes (a port that is not a
    number 0-65535 is no port)."""
    port_text = (where[0] or "").strip()
    port = int(port_text) if port_text.isdigit() and len(port_text) <= 5 and int(port_text) <= 65535 else None
    return port, (where[1] or "").strip().lower() or None, (where[2] or "").strip() or None


def _host_time(props: dict[str, str], name: str, host: str, ctx: ParseContext) -> dt.datetime | None:
    """A host's HOST_START or HOST_END (epoch tag first); an unreadable one is warned and None."""
    epoch, text = props.get(f"{name}_TIMESTAMP"), props.get(name)
    found = _time(epoch, text)
    if found is None and (epoch or text):
        ctx.warn(f"host {host!r}", f"{name} {(text or epoch or '')[:40]!r} is not a date; not used")
    return found


def _children(el: etree._Element) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The text of a ReportItem's child elements: single-valued ones and repeated ones."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for child in el:
        tag: object = child.tag
        if not isinstance(tag, str):  # comments and processing instructions
            continue
        text = child.text
        if text is None:
            continue
        if tag in _MULTI:
            multi.setdefault(tag, []).append(text.strip())
        else:
            single[tag] = text
    return single, multi


def _weakness(
    plugin_id: str,
    vuln_id: str,
    el: etree._Element,
    severity: Severity,
    single: dict[str, str],
    multi: dict[str, list[str]],
) -> Weakness:
    v2_vector = cvss.clean_v2(single.get("cvss_vector"))
    v3_vector = (single.get("cvss3_vector") or "").strip() or None
    v4_vector = (single.get("cvss4_vector") or "").strip() or None
    xrefs = multi.get("xref", [])
    cwes = multi.get("cwe", []) + [x.split(":", 1)[1] for x in xrefs if x.upper().startswith("CWE:")]
    iavas = (
        multi.get("iava", [])
        + multi.get("iavb", [])
        + multi.get("iavt", [])
        + [x.split(":", 1)[1] for x in xrefs if x.upper().startswith(("IAVA:", "IAVB:", "IAVT:"))]
    )
    family = (el.get("pluginFamily") or "").strip() or None
    name = (el.get("pluginName") or single.get("plugin_name") or f"Plugin {plugin_id}").strip()
    check_name = _clean(single.get(_CM + "compliance-check-name"))
    is_config = family == "Policy Compliance" or vuln_id != plugin_id
    return Weakness(
        tool=TOOL,
        vuln_id=vuln_id,
        name=check_name or name,
        severity=severity,
        family=family,
        synopsis=_clean(single.get("synopsis")),
        description=_clean(single.get(_CM + "compliance-info") or single.get("description")),
        solution=_clean(single.get(_CM + "compliance-solution") or single.get("solution")),
        see_also=_clean(single.get("see_also")),
        cvss2_score=cvss.fill(2, cvss.score(single.get("cvss_base_score")), v2_vector),
        cvss2_vector=v2_vector,
        cvss3_score=cvss.fill(3, cvss.score(single.get("cvss3_base_score")), v3_vector),
        cvss3_vector=v3_vector,
        cvss4_score=cvss.fill(4, cvss.score(single.get("cvss4_base_score")), v4_vector),
        cvss4_vector=v4_vector,
        cves=tuple(dict.fromkeys(c.upper() for c in multi.get("cve", []) if c)),
        cwes=tuple(dict.fromkeys(c.upper().removeprefix("CWE-") for c in cwes if c)),
        iavas=tuple(dict.fromkeys(iavas)),
        is_config=is_config,
    )


def _host_name(el: etree._Element) -> str:
    """The name of the ReportHost an element sits in."""
    parent = el.getparent()
    return (parent.get("name") or "").strip() if parent is not None else ""


def _host(name: str, props: dict[str, str]) -> Asset:
    ip = props.get("host-ip") or (name if _is_ip(name) else None)
    fqdn = props.get("host-fqdn") or props.get("hostname")
    if not fqdn and name and not _is_ip(name):
        fqdn = name
    return Asset(
        kind=AssetKind.HOST,
        ip=ip or None,
        fqdn=fqdn or None,
        netbios=props.get("netbios-name") or None,
        mac=props.get("mac-address") or None,
        name=name or None,
        os=props.get("operating-system") or None,
    )
