"""Qualys PCI scan CSV report: the vulnerability list of Qualys PCI Compliance (`IP`, `HOSTNAME`,
`LAST SCAN`, `QID`, `VULN TITLE`, `TYPE`, `SEVERITY`, `PORT`, `PROTOCOL`, `OPERATING SYSTEM`,
`IS_PCI`, `FALSE POSITIVE STATUS`, `CVSS_BASE`, `Q_SEVERITY`, `THREAT`, `IMPACT`, `SOLUTION`,
`CVSS_TEMPORAL`, `CATEGORY`, `RESULT`, `BUGTRAQID`, `CVEID`), with or without the preamble lines
(title and date, company, user) Qualys writes before the header row of its CSV reports.

One finding per QID, host and port/protocol, with the tool name (`Qualys`), QIDs and hosts of the
other Qualys parsers: the same detection in a PCI report, a scan report or a host-based CSV
export is one finding. TYPE: `VULN` (confirmed) and `POTENTIAL` (potential vulnerability, as
Qualys' `PRACTICE`) are findings; `IG` / `INFO` (information gathered) is informational; another
word is read as a vulnerability, warned. Severity is the Qualys level `Q_SEVERITY` 1-5, as in the
other Qualys reports (5 critical, 4 high, 3 medium, 2 and 1 low); without it, `SEVERITY` (the PCI
level High / Medium / Low, from the CVSS base score, or a number 1-5); else Moderate, warned.
`IS_PCI` (Pass / Fail: whether the vulnerability fails PCI compliance) and the PCI severity go
into the evidence: a vulnerability that passes PCI is still present. A row whose
`FALSE POSITIVE STATUS` is Approved was set aside in Qualys: it is left out (not open, never a
fix); Requested, Pending, Rejected, Expired or none stay open (noted in the evidence).

Each row is dated by its `LAST SCAN` (the last PCI scan of its IP). Qualys writes it in the
user's date format (`22/09/2022 13:01` or `09/22/2022 13:01`): the order of day and month is
decided for the whole file by the values that show it (a first number above 12 is a day), and
taken as month/day (Qualys' default) when none does, warned. A row without a readable date is
dated by the preamble's report date, else `--scan-date` or the file's time.

Closing: the list shows the current vulnerabilities of the merchant's IPs, each from its own
last scan; the export may be filtered in the UI, leaves out approved false positives, and lists
no IP without vulnerabilities. It cannot show that a missing row is fixed: `closes_by_coverage`
is False and no row is FIXED, so this report never closes a finding. Its IPs are yielded as
coverage (dated by their last scan) for the inventory. Left out with a warning (never
refused): a row whose QID is not a number, a row without IP or host name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import BinaryIO

from poam.domain.models import Asset, Checks, Coverage, Finding, Scan, Severity, Weakness
from poam.parsers import csvio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import clean, cves_in, dismissed, odd_severity, severity_word
from poam.parsers.qualys_csv import preamble_date, row_weakness
from poam.parsers.qualys_vm_xml import (
    LEVELS,
    TOOL,
    host_asset,
    is_qid,
    port_number,
    qualys_time,
    text_of,
)

_SPECIFIC = frozenset({"last_scan", "is_pci", "q_severity", "false_positive_status"})
_VULN = frozenset({"vuln", "vulnerability", "confirmed", "confirmed vulnerability"})
_POTENTIAL = frozenset({"potential", "potential vuln", "potential vulnerability", "practice"})
_INFO = frozenset({"ig", "info", "information", "information gathered"})
_OPEN_FP = frozenset({"", "-", "none", "n/a", "requested", "pending", "submitted", "rejected", "denied", "expired"})
_NUMERIC_DATE = re.compile(
    r"\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?\s*"
)


def _is_header(names: list[str]) -> bool:
    found = set(names)
    return {"ip", "qid", "vuln_title"} <= found and bool(found & _SPECIFIC)


def _cell(row: dict[str, str], name: str) -> str:
    value = (row.get(name) or "").strip()
    return "" if value in ("-", "'-") else value


class _Dates:
    """The file's `LAST SCAN` values read in one order of day and month."""

    def __init__(self) -> None:
        self.day_first = False
        self.month_first = False

    def note(self, text: str) -> None:
        m = _NUMERIC_DATE.fullmatch(text)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            self.day_first = self.day_first or (a > 12 and b <= 12)
            self.month_first = self.month_first or (b > 12 and a <= 12)

    def ambiguous(self, text: str) -> bool:
        """Whether this value reads two ways and the file's other values do not settle which."""
        m = _NUMERIC_DATE.fullmatch(text)
        if not m or self.day_first != self.month_first:
            return False
        a, b = int(m.group(1)), int(m.group(2))
        return a != b and a <= 12 and b <= 12

    def read(self, text: str, offset: dt.timedelta | None) -> dt.datetime | None:
        m = _NUMERIC_DATE.fullmatch(text)
        if not m:
            return qualys_time(text, offset)
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        day_first = self.day_first and not self.month_first or (self.day_first and a > 12)
        day, month = (a, b) if day_first else (b, a)
        hour, minute, second = int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0)
        half = (m.group(7) or "").lower()
        if half and 1 <= hour <= 12:
            hour = hour % 12 + (12 if half == "pm" else 0)
        try:
            when = dt.datetime(year, month, day, hour, minute, second)
            return when - offset if offset else when
        except (ValueError, OverflowError):
            return None


class QualysPciCsvParser:
    """Reader of Qualys PCI Compliance vulnerability CSV reports."""

    id = "qualys-pci-csv"
    name = "Qualys PCI scan CSV report"
    maps_to = (
        "one finding per QID, host and port (the identity of the other Qualys reports); "
        "never closes by absence (a list of current vulnerabilities, possibly filtered)"
    )
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """A header row (after any preamble) naming IP, QID, VULN TITLE and a PCI column
        (LAST SCAN, IS_PCI, Q_SEVERITY or FALSE POSITIVE STATUS)."""
        return csvio.header_fields(head.text, _is_header) is not None

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the date order and the CVEs of each QID first, then the rows."""
        start = stream.tell()
        lines = csvio.head_text(stream, 4096).splitlines()[:1]
        title: str | None = None
        offset, reported = None, None
        if lines and not csvio.header_fields(lines[0], _is_header):
            offset, reported = preamble_date(lines[0])
            title = clean(lines[0].split(",", 1)[0].strip('"'))
        dates = _Dates()
        cves: dict[str, dict[str, None]] = {}
        for row in csvio.rows(stream, ctx, _is_header):
            dates.note(_cell(row, "last_scan"))
            for cve in cves_in(row.get("cveid"), row.get("cve_id"), row.get("cve")):
                cves.setdefault(_cell(row, "qid"), {})[cve] = None
        stream.seek(start)
        reader = _Rows(ctx, dates, offset, reported, cves)
        for number, row in enumerate(csvio.rows(stream, ctx, _is_header), start=1):
            finding = reader.row(row, f"row {number}")
            if finding is not None:
                yield finding
        for asset, when in reader.scanned.items():
            yield Coverage(asset, when, when, None, Checks.VULNERABILITY)
        yield Scan(tool=TOOL, name=title, started_at=reader.first or reported, ended_at=reader.last or reported)


class _Rows:
    """The state of one file's rows."""

    def __init__(
        self,
        ctx: ParseContext,
        dates: _Dates,
        offset: dt.timedelta | None,
        reported: dt.datetime | None,
        cves: dict[str, dict[str, None]],
    ) -> None:
        self.ctx = ctx
        self.dates = dates
        self.offset = offset
        self.reported = reported
        self.cves = cves
        self.weaknesses: dict[tuple[str, Severity], Weakness] = {}
        self.assets: dict[tuple[str, str], Asset] = {}
        self.scanned: dict[Asset, dt.datetime] = {}
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self.warned_order = False

    def row(self, row: dict[str, str], record: str) -> Finding | None:
        ctx = self.ctx
        qid = _cell(row, "qid")
        if not is_qid(qid):
            ctx.skip(record, f"QID {qid[:20]!r} is not a number")
            return None
        record = f"{record} (QID {qid})"
        ip = _cell(row, "ip")
        hostname = _cell(row, "hostname") or _cell(row, "dns")
        if not (ip or hostname):
            ctx.skip(record, "no IP or host name")
            return None
        fp_status = _cell(row, "false_positive_status")
        fp_word = " ".join(fp_status.lower().split())
        if fp_word not in _OPEN_FP:
            if fp_word in ("approved", "accepted") or dismissed(fp_word):
                return None  # an approved false positive: set aside, not open and never a fix
            ctx.warn(record, f"false positive status {fp_status[:40]!r} not recognised; kept open")
        kind = " ".join(_cell(row, "type").lower().split())
        informational = kind in _INFO
        if kind and not (informational or kind in _VULN or kind in _POTENTIAL):
            ctx.warn(record, f"type {kind[:40]!r} not recognised; read as a vulnerability")
        severity = Severity.INFO if informational else self._severity(row, record)
        weakness = self._weakness(row, qid, severity)
        key = (ip, hostname)
        asset = self.assets.get(key)
        if asset is None:
            asset = self.assets[key] = host_asset(ip, hostname, None, _cell(row, "operating_system"))
        when = self._when(row, record)
        if asset not in self.scanned or self.scanned[asset] < when:
            self.scanned[asset] = when
        self.first = min(self.first, when) if self.first else when
        self.last = max(self.last, when) if self.last else when
        port = port_number(_cell(row, "port"))
        protocol = _cell(row, "protocol").lower()
        return Finding(
            weakness=weakness,
            asset=asset,
            observed_at=when,
            port=port,
            protocol=protocol if port and protocol.isalpha() else None,
            evidence=_evidence(row, kind in _POTENTIAL, fp_status),
        )

    def _severity(self, row: dict[str, str], record: str) -> Severity:
        level = _cell(row, "q_severity")
        if level in LEVELS:
            return LEVELS[level]
        pci = _cell(row, "severity")
        found = LEVELS.get(pci) or severity_word(pci)
        if found is not None and found is not Severity.INFO:
            return found
        return odd_severity(self.ctx, record, level or pci or None)

    def _weakness(self, row: dict[str, str], qid: str, severity: Severity) -> Weakness:
        weakness = self.weaknesses.get((qid, severity))
        if weakness is None:
            v3 = _cell(row, "cvss3_base") or _cell(row, "cvss3_1_base")
            weakness = self.weaknesses[(qid, severity)] = row_weakness(
                row, qid, severity, row.get("vuln_title"), _cell(row, "cvss_base"), v3, tuple(self.cves.get(qid, {}))
            )
        return weakness

    def _when(self, row: dict[str, str], record: str) -> dt.datetime:
        text = _cell(row, "last_scan")
        if text:
            when = self.dates.read(text, self.offset)
            if when is not None:
                if not self.warned_order and self.dates.ambiguous(text):
                    self.warned_order = True
                    self.ctx.warn(
                        record,
                        f"LAST SCAN {text[:40]!r} could be day/month or month/day, and no date of the file "
                        "tells; read as month/day (Qualys' default)",
                    )
                return when
        if self.reported is not None:
            how, when = "the report's date", self.reported
        else:
            how = "--scan-date" if self.ctx.scan_date is not None else "the file's time"
            when = self.ctx.fallback_time()
        if text:
            self.ctx.warn(record, f"LAST SCAN {text[:40]!r} not readable; dated by {how}")
        return when


def _evidence(row: dict[str, str], potential: bool, fp_status: str) -> str | None:
    parts = [text_of(row.get("result")) or ""]
    if potential:
        parts.append("Potential vulnerability (not confirmed by the scanner)")
    pci = " ".join(
        p
        for p in (
            f"PCI: {_cell(row, 'is_pci')}" if _cell(row, "is_pci") else "",
            f"(PCI severity {_cell(row, 'severity')})" if _cell(row, "severity") else "",
        )
        if p
    )
    parts.append(pci)
    if fp_status and fp_status.lower() not in ("none", "n/a"):
        parts.append(f"False positive status: {fp_status}")
    return "\n".join(p for p in parts if p) or None
