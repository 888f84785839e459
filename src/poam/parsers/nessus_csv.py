"""Tenable Nessus CSV export (`Plugin ID,CVE,CVSS,Risk,Host,Protocol,Port,Name,...`).

One finding per plugin, host and port/protocol. Nessus writes one row per CVE of a plugin, so
rows that differ only in `CVE` are one finding; the plugin's CVEs are merged. The tool is
`Nessus`, as for `.nessus` files: the same plugin ids feed the same POA&M items.

Dates: the export has no date column. A host's time is the `Scan Start Date` (and `Scan
duration`) in the output of plugin 19506 (Nessus Scan Information) when the export has that
row, else `ctx.fallback_time()` (`--scan-date`, else the file's modification time), asked only
for a host that needs it.

Odd values are read past with a warning: a Risk that is no severity is Moderate, a port that is
not a port number is no port; a row whose Plugin ID is not a number or whose Host is empty is
left out. A file that is not CSV, or has no header row with the expected columns, is refused.

Coverage: a CSV export may be filtered (by severity, by plugin, by host) and nothing in it says
so. A host counts as covered (`closes_by_coverage`) only when the export includes its
informational rows (Risk `None`), which shows the export was not filtered by severity; hosts
without such rows are not covered, so their missing findings are never marked fixed.

The file is read twice (stream positions are restored): the first pass gathers each host's facts
and each plugin's CVEs, the second yields records, so memory does not grow with the file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from poam.domain.models import Asset, AssetKind, Checks, Coverage, Finding, Scan, Severity, Weakness
from poam.parsers import common, csvio, cvss
from poam.parsers.base import Head, ParseContext, Record

TOOL = "Nessus"
SCAN_INFO_PLUGIN = "19506"
_SEVERITY_DIGITS = {
    "0": Severity.INFO,
    "1": Severity.LOW,
    "2": Severity.MEDIUM,
    "3": Severity.HIGH,
    "4": Severity.CRITICAL,
}
_REQUIRED = {"plugin_id", "host", "port", "name"}
# Columns of other Tenable CSV exports (Tenable WAS, Tenable.io/VM): never a Nessus export.
_OTHER_EXPORTS = {"cvssv3", "vulnerability_state", "ip_address", "fqdn", "first_found", "last_found", "asset_uuid"}
_V2_BASE = ("AV", "AC", "Au", "C", "I", "A")
_V3_BASE = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")
_XREF = re.compile(r"^\s*([A-Za-z][\w-]*)\s*(?::|\s#)\s*(\S.*?)\s*$")
_VERSION = re.compile(r"Nessus version\s*:\s*(\S+)")
_POLICY = re.compile(r"Scan policy used\s*:\s*([^\r\n]+)")
_CREDENTIALED = re.compile(r"Credentialed checks\s*:\s*(yes|no)", re.IGNORECASE)
_START = re.compile(
    r"Scan Start Date\s*:\s*(\d{4})/(\d{1,2})/(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?[ \t]*([^\r\n]*)"
)
_DURATION = re.compile(r"Scan duration\s*:\s*(\d+)\s*sec")
_ZONES = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "JST": 9, "AEST": 10, "AEDT": 11,
}  # fmt: skip


class Notes(Protocol):
    """Where a row's odd values are told: the parse context, or `QUIET` on a second pass over
    rows already told about."""

    def warn(self, record: str, problem: str) -> None: ...

    def skip(self, record: str, problem: str) -> None: ...


class _Quiet:
    def warn(self, record: str, problem: str) -> None:
        """Say nothing: the first pass already did."""

    def skip(self, record: str, problem: str) -> None:
        """Say nothing: the first pass already did."""


QUIET: Notes = _Quiet()


def lazy(get: Callable[[], dt.datetime]) -> Callable[[], dt.datetime]:
    """`ctx.fallback_time`, asked once and only when a record needs it (the same time for every
    record of the file)."""
    found: list[dt.datetime] = []

    def fallback() -> dt.datetime:
        if not found:
            found.append(get())
        return found[0]

    return fallback


def is_ip(text: str) -> bool:
    """Whether the text is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def score(text: str | None) -> float | None:
    """A CVSS score from a cell (`7.5`, `7,5`); None when empty, `N/A`, `null` or out of 0..10."""
    if not text:
        return None
    return cvss.score(text.strip().replace(",", "."))


def vector(version: int, text: str | None) -> str | None:
    """A CVSS vector with only its base metrics (Tenable.sc appends temporal ones), v3 with its
    `CVSS:3.x/` prefix (added as `CVSS:3.0` when the export leaves it out)."""
    text = cvss.clean_v2(text) if version == 2 else (text or "").strip()
    if not text or text.lower() in ("n/a", "null"):
        return None
    if version not in (2, 3):
        return text
    prefix = ""
    if version == 3:
        prefix, sep, rest = text.partition("/")
        if not sep or not prefix.upper().startswith("CVSS:"):
            prefix, rest = "CVSS:3.0", text
        text = rest
    metrics = dict(part.split(":", 1) for part in text.split("/") if ":" in part)
    wanted = _V2_BASE if version == 2 else _V3_BASE
    if not all(k in metrics for k in wanted):
        return (prefix + "/" if prefix else "") + text
    base = "/".join(f"{k}:{metrics[k]}" for k in wanted)
    return f"{prefix}/{base}" if prefix else base


def xrefs(text: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """CWE numbers and IAVA/IAVB/IAVT ids from a cross-reference cell (`CWE:200;IAVA:2024-A-0330-S`,
    Tenable.sc's `CWE #310,IAVA #0001-A-0560`)."""
    cwes: dict[str, None] = {}
    iavas: dict[str, None] = {}
    for part in re.split(r"[;,\n]", text or ""):
        m = _XREF.match(part)
        if not m:
            continue
        kind, value = m.group(1).upper(), m.group(2).strip()
        if kind == "CWE" and value.upper().removeprefix("CWE-").isdigit():
            cwes[value.upper().removeprefix("CWE-")] = None
        elif kind in ("IAVA", "IAVB", "IAVT"):
            iavas[value] = None
    return tuple(cwes), tuple(iavas)


def severity(*cells: str | None) -> Severity | None:
    """The first cell that holds a severity word (`None`, `Low`, ... `Critical`, `info`) or a
    Tenable severity digit (0..4); None when all are empty. When cells hold text but none a
    severity, ValueError with the first such text."""
    odd: str | None = None
    for cell in cells:
        text = (cell or "").strip()
        if not text:
            continue
        found = _SEVERITY_DIGITS.get(text) or common.severity_word(text)
        if found is not None:
            return found
        odd = odd or text
    if odd is not None:
        raise ValueError(odd)
    return None


def clean(text: str | None) -> str | None:
    """Text with each line stripped; None when empty."""
    if not text:
        return None
    out = "\n".join(line.strip() for line in text.strip().splitlines()).strip()
    return out or None


def zoned(naive: dt.datetime, zone: str) -> dt.datetime:
    """A local time in a zone named by abbreviation (`MST`, `UTC`) or offset (`+01:00`) as naive
    UTC; an unknown zone name leaves the time as written."""
    zone = zone.strip()
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?", zone)
    if m:
        minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
        return naive - dt.timedelta(minutes=minutes if m.group(1) == "+" else -minutes)
    hours = _ZONES.get(zone.upper())
    return naive - dt.timedelta(hours=hours) if hours is not None else naive


def port_number(text: str | None, notes: Notes, record: str) -> int | None:
    """A port cell as a number; None when empty, or (warned) when it is not a port number."""
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 5 or int(text) > 65535:
        notes.warn(record, f"port {text[:40]!r} is not a port number; no port")
        return None
    return int(text)


def host_asset(host: str, ip: str = "", fqdn: str = "", netbios: str = "", mac: str = "", os: str = "") -> Asset:
    """A host from Tenable's columns; a `Host` cell is an IP or a host name. A NetBIOS name loses
    its workgroup (`WORKGROUP\\DB01` is `DB01`, as in `.nessus` files)."""
    ip = ip.strip() or (host if is_ip(host) else "")
    fqdn = fqdn.strip() or (host if host and not is_ip(host) else "")
    netbios = netbios.strip().rpartition("\\")[2]
    return Asset(
        kind=AssetKind.HOST,
        ip=ip or None,
        fqdn=fqdn or None,
        netbios=netbios or None,
        mac=mac.strip() or None,
        name=host or None,
        os=os.strip() or None,
    )


@dataclass
class HostFacts:
    """What the first pass learns about one host (or web application) of an export."""

    asset: Asset
    informational: bool = False
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    authenticated: bool | None = None


@dataclass
class ExportFacts:
    """What the first pass learns about the whole export."""

    hosts: dict[str, HostFacts] = field(default_factory=dict)
    cves: dict[str, dict[str, None]] = field(default_factory=dict)
    version: str | None = None
    policy: str | None = None


class NessusCsvParser:
    """Reader of Nessus CSV exports; Tenable WAS CSV reuses it with its own assets and locations."""

    id = "nessus-csv"
    name = "Tenable Nessus CSV export"
    maps_to = (
        "one finding per plugin, host and port (rows differing only in CVE merged); "
        "hosts with informational rows are the scan's coverage"
    )
    closes_by_coverage = True
    tool = TOOL

    def sniff(self, head: Head) -> bool:
        """A header row with Plugin ID, Risk, Host, Port and Name, and none of the columns of
        Tenable WAS or Tenable.io exports."""
        return csvio.header_fields(head.text, self._sniff_header) is not None

    def _sniff_header(self, names: list[str]) -> bool:
        return self._header(names) and "risk" in names and not _OTHER_EXPORTS.intersection(names)

    def _header(self, names: list[str]) -> bool:
        return _REQUIRED.issubset(names) and ("risk" in names or "risk_factor" in names)

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Gather host facts and CVEs, then yield coverage, one finding per key, and the scan."""
        start = stream.tell()
        fallback = lazy(ctx.fallback_time)
        facts = ExportFacts()
        for n, row in enumerate(csvio.rows(stream, ctx, self._header), start=1):
            self._learn(row, n, facts, ctx)
        stream.seek(start)
        for host in facts.hosts.values():
            if host.informational:
                when = host.start or fallback()
                yield Coverage(host.asset, when, host.end or when, host.authenticated, Checks.VULNERABILITY)
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        seen: set[tuple[str, str, int | None, str | None, str | None]] = set()
        for n, row in enumerate(csvio.rows(stream, ctx, self._header), start=1):
            plugin = (row.get("plugin_id") or "").strip()
            key = self._host_key(row, n, QUIET)
            if not plugin.isdigit() or key is None:
                continue  # left out, with a warning, by the first pass
            port, protocol, path = self._location(row, key, n, QUIET)
            if (plugin, key, port, protocol, path) in seen:
                continue
            seen.add((plugin, key, port, protocol, path))
            level = self._severity(row, n, QUIET)
            weakness = weaknesses.get((plugin, level))
            if weakness is None:
                weakness = weaknesses[(plugin, level)] = self._weakness(row, plugin, level, facts)
            host = facts.hosts[key]
            yield Finding(
                weakness=weakness,
                asset=host.asset,
                observed_at=host.start or fallback(),
                port=port,
                protocol=protocol,
                evidence=(row.get("plugin_output") or "").strip() or None,
                path=path,
            )
        times = [t for h in facts.hosts.values() for t in (h.start, h.end) if t]
        if not times and seen:  # an undated export: the time its records were given
            times = [fallback()]
        yield Scan(
            tool=self.tool,
            tool_version=facts.version,
            name=facts.policy,
            started_at=min(times) if times else None,
            ended_at=max(times) if times else None,
        )

    def _learn(self, row: dict[str, str], n: int, facts: ExportFacts, ctx: ParseContext) -> None:
        """First pass over one row: warn about its odd values (or leave it out), note its host's
        facts and its plugin's CVEs."""
        plugin = (row.get("plugin_id") or "").strip()
        if not plugin.isdigit():
            ctx.skip(f"row {n}", f"Plugin ID {plugin[:40]!r} is not a plugin number")
            return
        key = self._host_key(row, n, ctx)
        if key is None:
            return
        self._location(row, key, n, ctx)
        host = facts.hosts.get(key)
        if host is None:
            host = facts.hosts[key] = HostFacts(self._asset(row, key))
        if self._severity(row, n, ctx) is Severity.INFO:
            host.informational = True
        facts.cves.setdefault(plugin, {}).update(dict.fromkeys(common.cves_in(row.get("cve"))))
        self._scan_info(plugin, row.get("plugin_output") or "", host, facts)

    def _scan_info(self, plugin: str, output: str, host: HostFacts, facts: ExportFacts) -> None:
        """Facts from the Nessus Scan Information plugin's output: time, credentials, version."""
        if plugin != SCAN_INFO_PLUGIN:
            return
        m = _START.search(output)
        if m:
            y, mo, d, h, mi, s = (int(g or 0) for g in m.groups()[:6])
            try:
                host.start = zoned(dt.datetime(y, mo, d, h, mi, s), m.group(7))
            except ValueError:  # an impossible date: keep the fallback time
                host.start = None
            duration = _DURATION.search(output)
            if host.start and duration and int(duration.group(1)) < 10**7:
                host.end = host.start + dt.timedelta(seconds=int(duration.group(1)))
        m = _CREDENTIALED.search(output)
        if m:
            host.authenticated = m.group(1).lower() == "yes"
        m = _VERSION.search(output)
        facts.version = m.group(1) if m else facts.version
        m = _POLICY.search(output)
        facts.policy = m.group(1).strip() if m else facts.policy

    def _host_key(self, row: dict[str, str], n: int, notes: Notes) -> str | None:
        """The host a row is about; None (the row left out) when the Host cell is empty."""
        host = (row.get("host") or "").strip()
        if not host:
            notes.skip(f"row {n}", "the Host cell is empty")
            return None
        return host

    def _asset(self, row: dict[str, str], key: str) -> Asset:
        return host_asset(key)

    def _location(
        self, row: dict[str, str], key: str, n: int, notes: Notes
    ) -> tuple[int | None, str | None, str | None]:
        """Port, protocol and path of a row on its host."""
        port = port_number(row.get("port"), notes, f"row {n}")
        return port, (row.get("protocol") or "").strip().lower() or None, None

    def _severity(self, row: dict[str, str], n: int, notes: Notes) -> Severity:
        """Risk (else Risk Factor); empty is informational, an unknown word Moderate (warned)."""
        try:
            found = severity(row.get("risk"), row.get("risk_factor"))
        except ValueError as exc:
            return common.odd_severity(notes, f"row {n}", str(exc))
        return found or Severity.INFO

    def _weakness(self, row: dict[str, str], plugin: str, level: Severity, facts: ExportFacts) -> Weakness:
        cwes, iavas = xrefs(row.get("xref"))
        v2_vector = vector(2, row.get("cvss_v2_0_vector"))
        v3_vector = vector(3, row.get("cvss_v3_0_vector"))
        return Weakness(
            tool=self.tool,
            vuln_id=plugin,
            name=(row.get("name") or "").strip() or f"Plugin {plugin}",
            severity=level,
            synopsis=clean(row.get("synopsis")),
            description=clean(row.get("description")),
            solution=clean(row.get("solution")),
            see_also=clean(row.get("see_also")),
            cvss2_score=cvss.fill(2, score(row.get("cvss_v2_0_base_score") or row.get("cvss")), v2_vector),
            cvss2_vector=v2_vector,
            cvss3_score=cvss.fill(3, score(row.get("cvss_v3_0_base_score") or row.get("cvssv3")), v3_vector),
            cvss3_vector=v3_vector,
            cvss4_score=score(row.get("cvss_v4_0_base_score")),
            cves=tuple(facts.cves.get(plugin, {})),
            cwes=cwes,
            iavas=iavas,
        )
