"""Qualys VM CSV: scan / host-based findings reports (header from `"IP"`) and VMDR "Asset Vuln
Datalist" exports (header from `"QID"` or `"CVE"`), with or without the preamble lines (title and
date, company, user) before the header row.

One finding per QID, host and port/protocol (rows that differ only in CVE are one finding), with
the tool name and QIDs of the Qualys XML parser. Type Ig / Information is informational; status
Fixed is a FIXED finding; New, Active, Re-Opened are open; another status stays open with a
warning. A VMDR row marked Ignored or Disabled (`Yes`) was set aside in Qualys: it is left out (not
open, and never a fix). Severity 1-5 as in the XML reports (5 critical, 4 high, 3 medium, 2 and 1
low); a missing or unknown level is Moderate, warned.

Each row is dated by its own time: Date Last Fixed / Last Fixed when Fixed, else Last Detected,
else First Detected; a row without any is dated by the preamble's report date, else
`--scan-date` or the file's time. When a report lists one finding in several rows (Fixed and
Active for the same QID, host and port, on two virtual hosts), the newest row decides. Dates
without a zone are taken in the zone of the preamble's report date (`GMT-0500`), else as UTC.

Left out with a warning (never refused): a row whose QID is not a number, a row without IP, DNS
or asset name.

Closing: these exports are template- or filter-selected lists (statuses, severities, QIDs, tags),
not one scan of a known set of hosts; the file cannot show that a missing row is fixed. No
coverage (`closes_by_coverage` False): only rows with status Fixed close findings.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from typing import BinaryIO

from poam.domain.models import Asset, Finding, FindingStatus, Scan, Severity, Weakness
from poam.parsers import csvio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import clean, cves_in
from poam.parsers.qualys_vm_xml import (
    TOOL,
    detection_status,
    host_asset,
    is_qid,
    level_of,
    offset_of,
    port_number,
    qualys_time,
    record_time,
    score_and_vector,
    text_of,
)

_HOST = ("ip", "asset_ipv4", "asset_ipv6", "asset_name", "asset_id")
_V3 = ("cvss3_base", "cvss3_1_base", "cvssv3_1_base", "cvssv3_1_base_(nvd)", "cvss3_base_(nvd)", "cvssv3_base")
_V2 = ("cvss_base", "cvssv2_base", "cvssv2_base_(nvd)", "cvss2_base")
_YES = frozenset({"yes", "true", "1", "y"})


def _is_header(names: list[str]) -> bool:
    found = set(names)
    return {"qid", "title"} <= found and bool(found & {"severity", "kb_severity"}) and bool(found & set(_HOST))


def row_weakness(
    row: dict[str, str],
    qid: str,
    severity: Severity,
    title: str | None,
    cvss2: str | None,
    cvss3: str | None,
    cves: tuple[str, ...],
) -> Weakness:
    """A QID's definition from a row of a Qualys CSV report (scan, VMDR and PCI reports share the
    Category, Threat, Impact and Solution columns)."""
    v3, _v3_vector = score_and_vector(cvss3)
    v2, v2_vector = score_and_vector(cvss2)
    return Weakness(
        tool=TOOL,
        vuln_id=qid,
        name=clean(title) or f"QID {qid}",
        severity=severity,
        family=clean(row.get("category")),
        description=text_of(row.get("threat")),
        synopsis=text_of(row.get("impact")),
        solution=text_of(row.get("solution")),
        cvss2_score=v2,
        cvss2_vector=v2_vector if v2_vector and "AV:" in v2_vector else None,
        cvss3_score=v3,
        cves=cves,
    )


def preamble_date(line: str) -> tuple[dt.timedelta | None, dt.datetime | None]:
    """The zone and the report date of a Qualys CSV report's first preamble line
    (`"Asset Vuln Datalist Report","04 Feb 2026 10:00AM GMT-0500","1"`)."""
    offset = offset_of(line)
    try:
        cells = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return offset, None
    for cell in cells[1:]:
        if re.search(r"\d{4}", cell) and not cell.strip().isdigit():
            when = qualys_time(cell.replace(" at ", " "))
            if when is not None:
                return offset, when
    return offset, None


def _first(row: dict[str, str], names: tuple[str, ...]) -> str:
    for name in names:
        value = (row.get(name) or "").strip()
        if value and value not in ("-", "'-"):
            return value
    return ""


class QualysCsvParser:
    """Reader of Qualys VM and VMDR CSV reports."""

    id = "qualys-csv"
    name = "Qualys VM / VMDR CSV report"
    maps_to = "one finding per QID, host and port; closes only rows marked Fixed (a filtered export)"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """A header row (after any preamble) naming QID, Title, Severity and an IP or asset column."""
        return csvio.header_fields(head.text, _is_header) is not None

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the CVEs of each QID first (CVE-based exports give one CVE per row), then the rows."""
        start = stream.tell()
        preamble = csvio.head_text(stream, 4096).splitlines()[:1]
        offset, reported = preamble_date(preamble[0]) if preamble else (None, None)
        if preamble and csvio.header_fields(preamble[0], _is_header):
            reported = None  # no preamble: the first line is the header
        cves: dict[str, dict[str, None]] = {}
        for row in csvio.rows(stream, ctx, _is_header):
            qid = (row.get("qid") or "").strip()
            for cve in cves_in(row.get("cve_id"), row.get("cve")):
                cves.setdefault(qid, {})[cve] = None
        stream.seek(start)
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        assets: dict[tuple[str, ...], Asset] = {}
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        for number, row in enumerate(csvio.rows(stream, ctx, _is_header), start=1):
            finding = self._row(row, f"row {number}", offset, reported, cves, weaknesses, assets, ctx)
            if finding is None:
                continue
            first = min(first, finding.observed_at) if first else finding.observed_at
            last = max(last, finding.observed_at) if last else finding.observed_at
            yield finding
        yield Scan(tool=TOOL, started_at=first or reported, ended_at=last or reported)

    def _row(
        self,
        row: dict[str, str],
        record: str,
        offset: dt.timedelta | None,
        reported: dt.datetime | None,
        cves: dict[str, dict[str, None]],
        weaknesses: dict[tuple[str, Severity], Weakness],
        assets: dict[tuple[str, ...], Asset],
        ctx: ParseContext,
    ) -> Finding | None:
        qid = (row.get("qid") or "").strip()
        if not is_qid(qid):
            ctx.skip(record, f"QID {qid[:20]!r} is not a number")
            return None
        record = f"{record} (QID {qid})"
        if _first(row, ("ignored",)).lower() in _YES or _first(row, ("disabled",)).lower() in _YES:
            return None  # set aside in Qualys (ignored, or its QID disabled): not open, never a fix
        ips = [p.strip() for p in _first(row, ("ip", "asset_ipv4", "asset_ipv6")).split(",") if p.strip()]
        dns = _first(row, ("dns", "asset_name"))
        netbios = _first(row, ("netbios",))
        key = (ips[0] if ips else "", dns, netbios)
        if not any(key):
            ctx.skip(record, "no IP, DNS or asset name")
            return None
        status = detection_status(ctx, record, _first(row, ("vuln_status", "status")))
        if status is None:
            return None
        kind = _first(row, ("type", "type_detected")).lower()
        informational = kind in ("ig", "info", "information")
        severity = level_of(ctx, record, _first(row, ("severity", "kb_severity")), informational)
        weakness = weaknesses.get((qid, severity))
        if weakness is None:
            weakness = weaknesses[(qid, severity)] = row_weakness(
                row, qid, severity, row.get("title"), _first(row, _V2), _first(row, _V3), tuple(cves.get(qid, {}))
            )
        asset = assets.get(key)
        if asset is None:
            asset = assets[key] = host_asset(key[0], dns, netbios, _first(row, ("os", "operating_system")))
        fixed = status is FindingStatus.FIXED
        dates: tuple[str, ...] = ("date_last_fixed", "last_fixed") if fixed else ()
        dates += ("last_detected", "first_detected")
        when = record_time(ctx, record, tuple(_first(row, (d,)) for d in dates), reported, offset)
        port_text = _first(row, ("port",))
        port = port_number(port_text)
        protocol = _first(row, ("protocol",)).lower()
        vhost = _first(row, ("fqdn",))
        evidence = text_of(row.get("results"))
        if vhost:
            evidence = f"Virtual host: {vhost}\n{evidence or ''}".strip()
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when,
            port=port,
            protocol=protocol if port and protocol.isalpha() else None,
            evidence=evidence,
            status=status,
        )
