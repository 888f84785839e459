"""OpenVAS / Greenbone CSV results export (the GSA "CSV Results" report format).

Columns are matched by header name, in any order; newer exports add QoD, EPSS and others. One
finding per row: NVT OID on IP (+ Hostname) and Port/Port Protocol (no port: host-wide), the same
tool name and vuln ids as the GMP XML parser, so both feed the same items.

Closing: a CSV export carries no sign of the report filter that produced it (severity levels,
QoD, text searches, pages of rows) and no host list, so it cannot prove that anything missing is
fixed. It yields no coverage (`closes_by_coverage` False): its findings open and update items,
and a later full scan (GMP XML) closes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import BinaryIO

from poam.domain.models import Asset, Finding, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import csvio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import clean, cves_in, parse_time
from poam.parsers.openvas_xml import TOOL, describe, host_asset, port_number, severity

_REQUIRED = ("ip", "nvt_oid", "nvt_name", "port")


def _is_header(names: list[str]) -> bool:
    return set(_REQUIRED) <= set(names) and ("severity" in names or "cvss" in names)


def _lines(text: str | None) -> str | None:
    if text is None:
        return None
    return clean("\n".join(line.strip() for line in text.strip().splitlines()))


class OpenvasCsvParser:
    """Reader of OpenVAS / Greenbone CSV result exports."""

    id = "openvas-csv"
    name = "OpenVAS / Greenbone CSV results export"
    maps_to = "one finding per row (NVT OID on IP and port); closes nothing by absence (a filtered export)"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """A header row naming IP, Port, NVT OID, NVT Name and Severity or CVSS."""
        return csvio.header_fields(head.text, _is_header) is not None

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Yield one finding per row, then the scan's facts."""
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        assets: dict[tuple[str, str], Asset] = {}
        tasks: set[str] = set()
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        for number, row in enumerate(csvio.rows(stream, ctx.source, _is_header), start=1):
            finding = self._row(row, number, weaknesses, assets, ctx)
            task = clean(row.get("task_name"))
            if task:
                tasks.add(task)
            first = min(first, finding.observed_at) if first else finding.observed_at
            last = max(last, finding.observed_at) if last else finding.observed_at
            yield finding
        name = tasks.pop() if len(tasks) == 1 else None
        yield Scan(tool=TOOL, name=name, started_at=first, ended_at=last)

    def _row(
        self,
        row: dict[str, str],
        number: int,
        weaknesses: dict[tuple[str, Severity], Weakness],
        assets: dict[tuple[str, str], Asset],
        ctx: ParseContext,
    ) -> Finding:
        oid = (row.get("nvt_oid") or "").strip()
        address = (row.get("ip") or "").strip()
        if not oid or not address:
            raise InputError(ctx.source, f"result row {number}: no {'NVT OID' if not oid else 'IP'}")
        level = severity(row.get("cvss"), row.get("severity"))
        weakness = weaknesses.get((oid, level))
        if weakness is None:
            weakness = weaknesses[(oid, level)] = Weakness(
                tool=TOOL,
                vuln_id=oid,
                name=_lines(row.get("nvt_name")) or f"NVT {oid}",
                severity=level,
                synopsis=_lines(row.get("summary")),
                description=describe(
                    row.get("summary"),
                    row.get("vulnerability_insight"),
                    row.get("impact"),
                    row.get("affected_software/os"),
                ),
                solution=_lines(row.get("solution")),
                see_also=_lines(row.get("other_references")),
                cves=cves_in(row.get("cves"), oid),  # CVE scanner results use the CVE as OID
            )
        hostname = (row.get("hostname") or "").strip()
        asset = assets.get((address, hostname))
        if asset is None:
            asset = assets[(address, hostname)] = host_asset(address, hostname)
        port_text = (row.get("port") or "").strip()
        port = port_number(port_text)
        protocol = (row.get("port_protocol") or "").strip().lower() or None
        when = parse_time(clean(row.get("timestamp")))
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when or ctx.fallback_time(),
            port=port,
            protocol=protocol if port else None,
            evidence=clean(row.get("specific_result")),
        )
