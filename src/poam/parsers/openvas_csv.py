"""OpenVAS / Greenbone CSV results export (the GSA "CSV Results" report format).

Columns are matched by header name, in any order; newer exports add QoD, EPSS and others. One
finding per row: NVT OID on IP (+ Hostname) and Port/Port Protocol (no port: host-wide), the same
tool name and vuln ids as the GMP XML parser, so both feed the same items.

CVSS: the `CVSS` column is the result's severity score, which GVM takes from the NVT's CVSS v3
base score where the NVT has one (GVM 21.04 and later; older NVTs and releases rate with v2). The
export does not say the version and gives no vector; a score above 0 is kept as the CVSS v3 base
score (as the GMP XML of the same scan keeps it, and as peers read the column).

Closing: a CSV export carries no sign of the report filter that produced it (severity levels,
QoD, text searches, pages of rows) and no host list, so it cannot prove that anything missing is
fixed. It yields no coverage (`closes_by_coverage` False): its findings open and update items,
and a later full scan (GMP XML) closes them.

Odd values are read past with a warning: a row with neither a CVSS score nor a known Severity is
Moderate, a port that is not a number is no port, an unreadable Timestamp is
`ctx.fallback_time()`; a row without NVT OID or IP is left out. A file without the header row is
refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import BinaryIO

from poam.domain.models import Asset, Finding, Scan, Severity, Weakness
from poam.parsers import csvio, cvss
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import clean, cves_in, parse_time
from poam.parsers.openvas_xml import TOOL, describe, host_asset, odd_port, port_number, rated

_REQUIRED = ("ip", "nvt_oid", "nvt_name", "port")


def _is_header(names: list[str]) -> bool:
    return set(_REQUIRED) <= set(names) and ("severity" in names or "cvss" in names)


def _lines(text: str | None) -> str | None:
    if text is None:
        return None
    return clean("\n".join(line.strip() for line in text.strip().splitlines()))


def _score(text: str | None) -> float | None:
    """The `CVSS` cell as a base score: 0.1 to 10 (0.0 and GVM's negative markers are none)."""
    found = cvss.score((text or "").strip().lstrip("'"))
    return found if found else None


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
        for number, row in enumerate(csvio.rows(stream, ctx, _is_header), start=1):
            finding = self._row(row, number, weaknesses, assets, ctx)
            if finding is None:
                continue
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
    ) -> Finding | None:
        oid = (row.get("nvt_oid") or "").strip()
        address = (row.get("ip") or "").strip()
        record = f"row {number}"
        if not oid or not address:
            ctx.skip(record, f"no {'NVT OID' if not oid else 'IP'}")
            return None
        level = rated(row.get("cvss"), row.get("severity"), ctx, record) or Severity.INFO
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
                cvss3_score=_score(row.get("cvss")),
                cves=cves_in(row.get("cves"), oid),  # CVE scanner results use the CVE as OID
            )
        hostname = (row.get("hostname") or "").strip()
        asset = assets.get((address, hostname))
        if asset is None:
            asset = assets[(address, hostname)] = host_asset(address, hostname)
        port_text = (row.get("port") or "").strip()
        port = port_number(port_text)
        odd_port(ctx, record, port_text, port)
        protocol = (row.get("port_protocol") or "").strip().lower() or None
        stamp = clean(row.get("timestamp"))
        when = parse_time(stamp)
        if stamp and when is None:
            ctx.warn(record, f"Timestamp {stamp[:40]!r} is not a date; not used")
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when or ctx.fallback_time(),
            port=port,
            protocol=protocol if port else None,
            evidence=clean(row.get("specific_result")),
        )
