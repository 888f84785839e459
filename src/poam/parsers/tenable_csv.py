"""Tenable.sc (Security Center) and Tenable.io / Tenable Vulnerability Management CSV exports.

Tenable.sc: `Plugin,Plugin Name,Family,Severity,IP Address,Protocol,Port,...,DNS Name,NetBIOS
Name,...` with optional `First Discovered`/`Last Observed`. Tenable.io legacy export: `Plugin
ID,CVE,CVSS,Risk,Host,...,Vulnerability State,IP Address,FQDN,NetBios,OS,...,First Found,Last
Found,...,Last Fixed`. The tool (`Tenable.sc` or `Tenable.io`) is decided from the header. One
finding per plugin, host and port/protocol; rows that differ only in CVE are merged.

Times: a finding is observed at its last-seen time (`Last Observed`, `Last Found`). When the row
also gives an earlier first-seen time (`First Discovered`, `First Found`), an extra sighting is
yielded at that time: Tenable tracked the vulnerability since then, so the POA&M item's detection
date (and its remediation deadline) starts there, not at the export. Without dates,
`ctx.fallback_time()`.

Tenable.io rows in state `Fixed` become FIXED findings (at `Last Fixed`, else `Last Found`). These
exports are usually filtered (by severity, state, asset, time), so `closes_by_coverage` is False
and no coverage is yielded: a finding missing from an export is left as it was.

Odd values are read past with a warning: an unknown severity is Moderate, an unknown Vulnerability
State keeps the finding open (one that means the risk was set aside, such as `Accepted`, leaves
the row out), a port that is not a port number is no port; a row whose plugin id is not a number
or that names no host, IP address, DNS name or NetBIOS name is left out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO

from poam.domain.models import Asset, Finding, FindingStatus, Scan, Severity, Weakness
from poam.parsers import common, csvio, cvss
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.nessus_csv import (
    QUIET,
    Notes,
    clean,
    host_asset,
    lazy,
    port_number,
    score,
    severity,
    vector,
    xrefs,
    zoned,
)

SC = "Tenable.sc"
IO = "Tenable.io"
OPEN_STATES = {"", "active", "new", "resurfaced", "open", "reopened"}
FIXED_STATES = {"fixed"}
_SC_TIME = re.compile(r"([A-Za-z]{3})\s+(\d{1,2}),\s*(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(\S*)")
_Key = tuple[str, str, int | None, str | None]


def tool_of(names: list[str]) -> str | None:
    """Which product wrote a CSV with these (normalized) header names, or None."""
    found = set(names)
    if {"plugin", "plugin_name", "severity"} <= found and found & {"ip_address", "dns_name", "netbios_name"}:
        return SC
    dated = "vulnerability_state" in found or {"first_found", "last_found"} <= found
    if {"plugin_id", "name"} <= found and dated and found & {"host", "ip_address", "fqdn"}:
        return IO
    return None


def when(text: str | None) -> dt.datetime | None:
    """A Tenable time: ISO 8601 (Tenable.io) or `Feb 5, 2024 21:01:08 UTC` / `MST` (Tenable.sc)."""
    text = (text or "").strip()
    if not text or text.lower() in ("n/a", "null", "none"):
        return None
    m = _SC_TIME.fullmatch(text)
    if m:
        try:
            naive = dt.datetime.strptime(
                f"{m.group(1).title()} {m.group(2)} {m.group(3)} {m.group(4)}:{m.group(5)}:{m.group(6) or '00'}",
                "%b %d %Y %H:%M:%S",
            )
        except ValueError:
            return None
        return zoned(naive, m.group(7))
    return common.parse_time(text)


def row_time(row: dict[str, str], notes: Notes, record: str, *columns: str) -> dt.datetime | None:
    """The time in the first of these columns that is filled (`N/A` is empty); an unreadable
    one is warned and None."""
    for column in columns:
        text = (row.get(column) or "").strip()
        if not text or text.lower() in ("n/a", "null", "none"):
            continue
        found = when(text)
        if found is None:
            notes.warn(record, f"{column.replace('_', ' ')} {text[:40]!r} is not a date; not used")
        return found
    return None


def state(text: str, notes: Notes, record: str, column: str) -> FindingStatus | None:
    """A Tenable finding state (`Active`, `New`, `Resurfaced`, `Fixed`; the API's `OPEN`,
    `REOPENED`): FIXED or OPEN; None for a state that means the risk was set aside (`Accepted`:
    the record is left out, warned: Tenable documents no such state); an unknown one OPEN, warned."""
    word = text.lower()
    if word in FIXED_STATES:
        return FindingStatus.FIXED
    if word in OPEN_STATES:
        return FindingStatus.OPEN
    if common.dismissed(word):
        notes.warn(record, f"{column} {text[:40]!r} sets the risk aside; left out (neither open nor fixed)")
        return None
    return common.odd_status(notes, record, text)


class TenableCsvParser:
    """Reader of Tenable.sc and Tenable.io vulnerability CSV exports."""

    id = "tenable-csv"
    name = "Tenable.sc / Tenable.io (Vulnerability Management) CSV export"
    maps_to = (
        "one finding per plugin, host and port, seen at last-seen with a sighting at first-seen; "
        "Tenable.io Fixed rows close; filtered exports: no coverage"
    )
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """A Tenable.sc header (Plugin, Plugin Name, Severity, IP Address...) or a Tenable.io one
        (Plugin ID, Name, Vulnerability State or First/Last Found, Host...)."""
        return csvio.header_fields(head.text, lambda names: tool_of(names) is not None) is not None

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Gather each plugin's CVEs, then yield one finding per key (and its first sighting)."""
        start = stream.tell()
        tools: list[str] = []

        def header(names: list[str]) -> bool:
            tool = tool_of(names)
            if tool:
                tools.append(tool)
            return tool is not None

        cves: dict[str, dict[str, None]] = {}
        for row in csvio.rows(stream, ctx, header):
            plugin = self._plugin(row, 0, QUIET)
            if plugin is not None:
                cves.setdefault(plugin, {}).update(dict.fromkeys(common.cves_in(row.get("cve"))))
        tool = tools[-1] if tools else SC
        stream.seek(start)
        fallback = lazy(ctx.fallback_time)
        assets: dict[tuple[str, ...], Asset] = {}
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        seen: set[_Key] = set()
        first_seen: dt.datetime | None = None
        last_seen: dt.datetime | None = None
        for n, row in enumerate(csvio.rows(stream, ctx, header), start=1):
            plugin = self._plugin(row, n, ctx)
            key = self._key(row, plugin, n, ctx) if plugin is not None else None
            if plugin is None or key is None or key in seen:
                continue
            seen.add(key)
            status = self._status(row, n, ctx)
            if status is None:
                continue
            level = self._severity(row, tool, n, ctx)
            weakness = weaknesses.get((plugin, level))
            if weakness is None:
                weakness = weaknesses[(plugin, level)] = self._weakness(row, tool, plugin, level, cves)
            ident = self._identifiers(row)
            asset = assets.get(ident)
            if asset is None:
                asset = assets[ident] = host_asset(*ident)
            first = row_time(row, ctx, f"row {n}", "first_discovered", "first_found")
            last = row_time(row, ctx, f"row {n}", "last_observed", "last_found")
            if status is FindingStatus.FIXED:
                last = row_time(row, ctx, f"row {n}", "last_fixed") or last
            observed = last or first or fallback()
            first_seen = min(first_seen, observed) if first_seen else observed
            last_seen = max(last_seen, observed) if last_seen else observed
            output = row.get("plugin_output") or row.get("plugin_text") or ""
            finding = Finding(
                weakness=weakness,
                asset=asset,
                observed_at=observed,
                port=key[2],
                protocol=key[3],
                service=(row.get("service") or "").strip() or None,
                evidence=output.strip().removeprefix("Plugin Output:").strip() or None,
                status=status,
            )
            if first and first < observed and status is FindingStatus.OPEN and level is not Severity.INFO:
                yield replace(finding, observed_at=first)
            yield finding
        yield Scan(tool=tool, started_at=first_seen, ended_at=last_seen)

    def _plugin(self, row: dict[str, str], n: int, notes: Notes) -> str | None:
        """The row's plugin id; None (the row left out) when it is not a number."""
        plugin = (row.get("plugin") or row.get("plugin_id") or "").strip()
        if not plugin.isdigit():
            notes.skip(f"row {n}", f"plugin id {plugin[:40]!r} is not a plugin number")
            return None
        return plugin

    def _identifiers(self, row: dict[str, str]) -> tuple[str, str, str, str, str, str]:
        """Host, IP, FQDN, NetBIOS, MAC and OS cells (Tenable.sc or Tenable.io spelling)."""
        ip = (row.get("ip_address") or "").strip().replace(";", ",").split(",")[0].strip()
        return (
            (row.get("host") or "").strip(),
            ip,
            (row.get("dns_name") or row.get("fqdn") or "").strip(),
            (row.get("netbios_name") or row.get("netbios") or "").strip(),
            (row.get("mac_address") or "").strip(),
            (row.get("os") or row.get("operating_system") or "").strip(),
        )

    def _key(self, row: dict[str, str], plugin: str, n: int, notes: Notes) -> _Key | None:
        """Plugin, host, port and protocol of a row; None (the row left out) when it names no host."""
        ident = self._identifiers(row)
        if not any(ident[:4]):
            notes.skip(f"row {n}", "no host, IP address, DNS name or NetBIOS name")
            return None
        port = port_number(row.get("port"), notes, f"row {n}")
        return plugin, "|".join(ident[:4]), port, (row.get("protocol") or "").strip().lower() or None

    def _severity(self, row: dict[str, str], tool: str, n: int, notes: Notes) -> Severity:
        """Tenable.io: the scanner's rating before any recast; then Risk, Severity, Risk Factor.
        An unknown word is Moderate (warned)."""
        cells = (row.get("original_severity"), row.get("risk"), row.get("severity"), row.get("risk_factor"))
        try:
            found = severity(*cells)
        except ValueError as exc:
            return common.odd_severity(notes, f"row {n}", str(exc))
        return found or Severity.INFO

    def _status(self, row: dict[str, str], n: int, notes: Notes) -> FindingStatus | None:
        """Open or fixed from Vulnerability State; None when the row is left out (a state that
        sets the risk aside); an unknown state keeps the finding open (warned)."""
        text = (row.get("vulnerability_state") or "").strip()
        return state(text, notes, f"row {n}", "Vulnerability State")

    def _weakness(
        self, row: dict[str, str], tool: str, plugin: str, level: Severity, cves: dict[str, dict[str, None]]
    ) -> Weakness:
        v2_vector = vector(2, row.get("cvss_v2_vector") or row.get("cvss_vector"))
        v3_vector = vector(3, row.get("cvss_v3_vector") or row.get("cvss3_vector"))
        v4_vector = vector(4, row.get("cvss_v4_vector") or row.get("cvss4_vector"))
        v2 = score(row.get("cvss_v2_base_score") or row.get("cvss_base_score") or row.get("cvss"))
        cwes, iavas = xrefs(row.get("cross_references") or row.get("xref"))
        name = (row.get("plugin_name") or row.get("name") or "").strip()
        return Weakness(
            tool=tool,
            vuln_id=plugin,
            name=name or f"Plugin {plugin}",
            severity=level,
            family=(row.get("family") or row.get("plugin_family") or "").strip() or None,
            synopsis=clean(row.get("synopsis")),
            description=clean(row.get("description")),
            solution=clean(row.get("solution") or row.get("steps_to_remediate")),
            see_also=clean(row.get("see_also")),
            cvss2_score=cvss.fill(2, v2, v2_vector),
            cvss2_vector=v2_vector,
            cvss3_score=cvss.fill(3, score(row.get("cvss_v3_base_score") or row.get("cvss3_base_score")), v3_vector),
            cvss3_vector=v3_vector,
            cvss4_score=cvss.fill(4, score(row.get("cvss_v4_base_score") or row.get("cvss4_base_score")), v4_vector),
            cvss4_vector=v4_vector,
            cves=tuple(cves.get(plugin, {})),
            cwes=cwes,
            iavas=iavas,
        )
