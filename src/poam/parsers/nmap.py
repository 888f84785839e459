"""Nmap XML output (`nmap -oX`): inventory and coverage, never findings.

Each host whose status is `up` becomes a Coverage record: a HOST asset with its IPv4 (else IPv6)
address, its MAC address, a host name as FQDN (the reverse-DNS `PTR` name, else the name the user
scanned) and the operating system of the best `osmatch`. Hosts that are down are not covered.
Open ports, services and NSE script output (including `vulners` CVE lists) are not turned into
findings: a port scan says what runs, not what is vulnerable, and the vulners script matches CVEs
by product version only. The file never closes findings.

Dates: the host's `starttime`/`endtime`, else the run's `start`; a run without either is dated by
`--scan-date` or the file's time. A host that is up but gives no address or name is left out with
a warning, and a host without a `<status>` is not taken as up (warned); neither refuses the file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Scan
from poam.errors import InputError
from poam.parsers import common
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.xmlsafe import iterparse, release

TOOL = "Nmap"
_SCANNER = re.compile(rb"<nmaprun\b[^>]*?\bscanner\s*=\s*[\"']([^\"']*)[\"']")
_HOSTNAME_PREFERENCE = ("PTR", "user")


def _epoch(text: str | None) -> dt.datetime | None:
    text = (text or "").strip()
    if not text.isdecimal():
        return None
    return common.parse_time(int(text))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _accuracy(el: etree._Element) -> int:
    text = (el.get("accuracy") or "").strip()
    return int(text) if text.isdecimal() else 0


def host_asset(host: etree._Element) -> Asset | None:
    """The asset of a `<host>` element, or None when it gives no address or name."""
    ips: dict[str, str] = {}
    mac: str | None = None
    for address in host.iterfind("address"):
        addr = (address.get("addr") or "").strip()
        kind = (address.get("addrtype") or "ipv4").strip().lower()
        if not addr:
            continue
        if kind == "mac":
            mac = mac or addr
        elif kind in ("ipv4", "ipv6"):
            ips.setdefault(kind, addr)
    names: dict[str, str] = {}
    for hostname in host.iterfind("hostnames/hostname"):
        name = (hostname.get("name") or "").strip().rstrip(".")
        kind = (hostname.get("type") or "").strip()
        if name and not _is_ip(name):
            names.setdefault(kind, name)
    fqdn = next((names[k] for k in _HOSTNAME_PREFERENCE if k in names), None)
    matches = list(host.iterfind("os/osmatch"))
    best = max(matches, key=_accuracy) if matches else None  # max keeps the first of equals: Nmap's order
    os_name = common.clean(best.get("name")) if best is not None else None
    ip = ips.get("ipv4") or ips.get("ipv6")
    if not (ip or fqdn or mac):
        return None
    return Asset(kind=AssetKind.HOST, ip=ip, fqdn=fqdn, mac=mac, os=os_name)


class NmapXmlParser:
    """Reader of Nmap's XML output."""

    id = "nmap-xml"
    name = "Nmap XML output (-oX)"
    maps_to = (
        "no findings: every host that is up is coverage (IP, MAC, host name, OS) for the inventory; "
        "ports, services and NSE script output such as vulners CVEs are not findings"
    )
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """The root element is nmaprun, written by Nmap (masscan writes the same root)."""
        if head.xml_root != "nmaprun":
            return False
        m = _SCANNER.search(head.data)
        return m is None or m.group(1).strip().lower() == b"nmap"

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Yield coverage per host that is up, then the scan's facts."""
        start: dt.datetime | None = None
        finished: dt.datetime | None = None
        version: str | None = None
        saw_root = False
        hosts = 0
        for event, el in iterparse(stream, ctx.source, ("nmaprun", "host", "finished"), ("start", "end")):
            tag = el.tag
            if tag == "host":
                if event == "end":
                    if not saw_root:
                        raise InputError(ctx.source, "not an Nmap XML file (no nmaprun root)")
                    hosts += 1
                    coverage = self._host(el, hosts, start, ctx)
                    if coverage is not None:
                        yield coverage
                    release(el)
            elif tag == "nmaprun":
                if event == "start":
                    saw_root = True
                    scanner = (el.get("scanner") or "nmap").strip().lower()
                    if scanner != "nmap":
                        raise InputError(ctx.source, f"an nmaprun file written by {scanner[:30]!r}, not by Nmap")
                    start = _epoch(el.get("start")) or common.parse_time(el.get("startstr"))
                    version = common.clean(el.get("version"))
            elif event == "end":
                finished = _epoch(el.get("time")) or finished
        if not saw_root:
            raise InputError(ctx.source, "not an Nmap XML file (no nmaprun root)")
        # No name from `args`: a command line can carry --script-args credentials.
        yield Scan(TOOL, version, None, start, finished or start)

    def _host(self, el: etree._Element, number: int, start: dt.datetime | None, ctx: ParseContext) -> Coverage | None:
        status = el.find("status")
        if status is None:
            ctx.warn(f"host {number} (line {el.sourceline})", "no <status>; not taken as up")
            return None
        if (status.get("state") or "").strip().lower() != "up":
            return None
        asset = host_asset(el)
        if asset is None:
            ctx.skip(f"host {number} (line {el.sourceline})", "up, but no address or host name")
            return None
        began = _epoch(el.get("starttime")) or start or ctx.fallback_time()
        ended = _epoch(el.get("endtime")) or began
        # Checks are moot here: an Nmap file has no findings to close (closes_by_coverage is False).
        return Coverage(asset, began, ended, None, Checks.VULNERABILITY)
