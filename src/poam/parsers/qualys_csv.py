"""Qualys VM CSV: scan / host-based findings reports (header from `"IP"`) and VMDR "Asset Vuln
Datalist" exports (header from `"QID"` or `"CVE"`), with or without the preamble lines (title and
date, company, user) before the header row.

One finding per QID, host and port/protocol (rows that differ only in CVE are one finding), with
the tool name and QIDs of the Qualys XML parser. Type Ig / Information is informational; status
Fixed is a FIXED finding. Dates without a zone are taken in the zone of the preamble's report date
(`GMT-0500`), else as UTC.

Closing: these exports are template- or filter-selected lists (statuses, severities, QIDs, tags),
not one scan of a known set of hosts; the file cannot show that a missing row is fixed. No
coverage (`closes_by_coverage` False): only rows with status Fixed close findings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import BinaryIO

from poam.domain.models import Asset, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import csvio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import clean, cves_in
from poam.parsers.qualys_vm_xml import (
    TOOL,
    host_asset,
    is_qid,
    level,
    offset_of,
    port_number,
    qualys_time,
    score_and_vector,
    text_of,
)

_HOST = ("ip", "asset_ipv4", "asset_ipv6", "asset_name", "asset_id")
_V3 = ("cvss3_base", "cvss3_1_base", "cvssv3_1_base", "cvssv3_1_base_(nvd)", "cvss3_base_(nvd)", "cvssv3_base")
_V2 = ("cvss_base", "cvssv2_base", "cvssv2_base_(nvd)", "cvss2_base")


def _is_header(names: list[str]) -> bool:
    found = set(names)
    return {"qid", "title"} <= found and bool(found & {"severity", "kb_severity"}) and bool(found & set(_HOST))


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
        preamble = stream.read(4096).decode("utf-8", "replace").splitlines()[:1]
        stream.seek(start)
        offset = offset_of(preamble[0]) if preamble else None
        cves: dict[str, dict[str, None]] = {}
        for row in csvio.rows(stream, ctx.source, _is_header):
            qid = (row.get("qid") or "").strip()
            for cve in cves_in(row.get("cve_id"), row.get("cve")):
                cves.setdefault(qid, {})[cve] = None
        stream.seek(start)
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        assets: dict[tuple[str, ...], Asset] = {}
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        for number, row in enumerate(csvio.rows(stream, ctx.source, _is_header), start=1):
            finding = self._row(row, number, offset, cves, weaknesses, assets, ctx)
            first = min(first, finding.observed_at) if first else finding.observed_at
            last = max(last, finding.observed_at) if last else finding.observed_at
            yield finding
        yield Scan(tool=TOOL, started_at=first, ended_at=last)

    def _row(
        self,
        row: dict[str, str],
        number: int,
        offset: dt.timedelta | None,
        cves: dict[str, dict[str, None]],
        weaknesses: dict[tuple[str, Severity], Weakness],
        assets: dict[tuple[str, ...], Asset],
        ctx: ParseContext,
    ) -> Finding:
        qid = (row.get("qid") or "").strip()
        if not is_qid(qid):
            raise InputError(ctx.source, f"data row {number}: QID {qid!r} is not a number")
        kind = _first(row, ("type", "type_detected")).lower()
        severity = level(_first(row, ("severity", "kb_severity")), kind in ("ig", "info", "information"))
        weakness = weaknesses.get((qid, severity))
        if weakness is None:
            v3, _vector = score_and_vector(_first(row, _V3))
            v2, v2_vector = score_and_vector(_first(row, _V2))
            weakness = weaknesses[(qid, severity)] = Weakness(
                tool=TOOL,
                vuln_id=qid,
                name=clean(row.get("title")) or f"QID {qid}",
                severity=severity,
                family=clean(row.get("category")),
                description=text_of(row.get("threat")),
                synopsis=text_of(row.get("impact")),
                solution=text_of(row.get("solution")),
                cvss2_score=v2,
                cvss2_vector=v2_vector if v2_vector and "AV:" in v2_vector else None,
                cvss3_score=v3,
                cves=tuple(cves.get(qid, {})),
            )
        ips = [p.strip() for p in _first(row, ("ip", "asset_ipv4", "asset_ipv6")).split(",") if p.strip()]
        dns = _first(row, ("dns", "asset_name"))
        netbios = _first(row, ("netbios",))
        key = (ips[0] if ips else "", dns, netbios)
        asset = assets.get(key)
        if asset is None:
            if not any(key):
                raise InputError(ctx.source, f"data row {number}: no IP, DNS or asset name")
            asset = assets[key] = host_asset(key[0], dns, netbios, _first(row, ("os", "operating_system")))
        status = _first(row, ("vuln_status", "status")).lower()
        fixed = status == "fixed"
        when = qualys_time(_first(row, ("date_last_fixed", "last_fixed")), offset) if fixed else None
        when = when or qualys_time(_first(row, ("last_detected", "first_detected")), offset)
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
            observed_at=when or ctx.fallback_time(),
            port=port,
            protocol=protocol if port and protocol.isalpha() else None,
            evidence=evidence,
            status=FindingStatus.FIXED if fixed else FindingStatus.OPEN,
        )
