"""poam's own CSV format for findings from penetration tests and manual assessments.

One row per weakness per asset. Columns are matched by name (case, spaces and hyphens do not
matter); the order is free. Required: detector, weakness_id, weakness_name, asset, detected,
and severity (or a CVSS score or vector). Optional: port, protocol, service, description,
solution, evidence, cve, cwe, cvss3_vector, cvss3_score, cvss2_vector, cvss2_score, controls,
status (`open` or `fixed`), path (a package, a file or a URL path where a port does not apply),
cci (DISA CCIs: a configuration finding) and configuration (`yes` for a configuration finding).

Such a file only closes what it says is fixed: a row with status `fixed` marks that finding
fixed; a finding missing from the file is left as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import re
from collections.abc import Iterator
from typing import BinaryIO

from poam.domain.identity import web_path
from poam.domain.models import Asset, AssetKind, Finding, FindingStatus, Scan, Severity, Weakness
from poam.errors import InputError
from poam.parsers import csvio, cvss
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import odd_severity, odd_status

REQUIRED = ("detector", "weakness_id", "weakness_name", "asset", "detected")
OPTIONAL = (
    "severity",
    "path",
    "port",
    "protocol",
    "service",
    "description",
    "solution",
    "evidence",
    "cve",
    "cwe",
    "cvss3_vector",
    "cvss3_score",
    "cvss2_vector",
    "cvss2_score",
    "controls",
    "cci",
    "configuration",
    "status",
)
_SEVERITY = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "none": Severity.INFO,
}
_STATUS = {
    "open": FindingStatus.OPEN,
    "": FindingStatus.OPEN,
    "fixed": FindingStatus.FIXED,
    "closed": FindingStatus.FIXED,
}
_SPLIT = re.compile(r"[\s,;]+")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _date(text: str) -> dt.datetime:
    text = text.strip()
    m = _US_DATE.match(text)
    if m:
        return dt.datetime(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _asset(text: str) -> Asset:
    text = text.strip()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return Asset(kind=AssetKind.HOST, ip=text)
    if "://" in text:
        return Asset(kind=AssetKind.WEB_APP, name=text)
    return Asset(kind=AssetKind.HOST, fqdn=text)


class PoamCsvParser:
    """Reader of poam's generic findings CSV."""

    id = "poam-csv"
    name = "poam generic findings CSV (pen tests, manual assessments)"
    maps_to = "one finding per row (weakness_id on asset and port); only rows marked fixed close"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """The first line is a header naming detector, weakness_id and asset."""
        first = head.text.split("\n", 1)[0]
        try:
            names = {_norm(n) for n in next(csv.reader([first]))}
        except (csv.Error, StopIteration):
            return False
        return {"detector", "weakness_id", "asset"} <= names

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Yield one finding per row; a row with an odd value is read with a warning (see the README).
        Encoding and a cut file are handled as for every CSV format (`csvio`)."""
        rows = csvio.table(stream, ctx)
        try:
            yield from self._rows(rows, ctx)
        finally:
            rows.close()

    def _rows(self, rows: Iterator[list[str]], ctx: ParseContext) -> Iterator[Record]:
        header = next(rows, None)
        if header is None:
            raise InputError(ctx.source, "empty CSV file")
        columns = {_norm(n): i for i, n in enumerate(header)}
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise InputError(ctx.source, f"missing column(s): {', '.join(missing)}")
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        detectors: set[str] = set()
        for line, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            finding = self._row(row, columns, line, ctx)
            if finding is None:
                continue
            detectors.add(finding.weakness.tool)
            first = min(first, finding.observed_at) if first else finding.observed_at
            last = max(last, finding.observed_at) if last else finding.observed_at
            yield finding
        tool = detectors.pop() if len(detectors) == 1 else "several detectors" if detectors else "poam-csv"
        yield Scan(tool=tool, name=None, started_at=first, ended_at=last)

    def _row(self, row: list[str], columns: dict[str, int], line: int, ctx: ParseContext) -> Finding | None:
        def get(name: str) -> str:
            i = columns.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        record = f"row {line}"
        empty = [name for name in REQUIRED if name != "detected" and not get(name)]
        if empty:
            ctx.skip(record, f"column {empty[0]!r} is empty")
            return None
        record = f"row {line} ({get('weakness_id')[:60]})"
        try:
            detected = _date(get("detected"))
        except ValueError:
            detected = ctx.fallback_time()
            shown = repr(get("detected")[:40]) if get("detected") else "empty"
            ctx.warn(record, f"detected {shown} is not a date; dated {detected:%Y-%m-%d}")
        v3_vector = get("cvss3_vector") or None
        v2_vector = cvss.clean_v2(get("cvss2_vector"))
        v3 = cvss.fill(3, cvss.score(get("cvss3_score") or None), v3_vector)
        v2 = cvss.fill(2, cvss.score(get("cvss2_score") or None), v2_vector)
        severity_text = get("severity").lower()
        severity = _SEVERITY.get(severity_text)
        if severity is None:
            if severity_text or (v3 is None and v2 is None):
                severity = odd_severity(ctx, record, get("severity"))
            else:
                severity = Severity.MEDIUM  # rated by its CVSS score
        status = _STATUS.get(get("status").lower())
        if status is None:
            status = odd_status(ctx, record, get("status"))
        port_text = get("port")
        try:
            port = int(port_text) if port_text else None
        except ValueError:
            ctx.warn(record, f"port {port_text[:20]!r} is not a number; no port")
            port = None
        if port is not None and not 0 <= port <= 65535:
            ctx.warn(record, f"port {port} is out of range; no port")
            port = None
        ccis = tuple(c.upper() for c in re.split(r"[,;\s]+", get("cci")) if c)
        weakness = Weakness(
            tool=get("detector"),
            vuln_id=get("weakness_id"),
            name=get("weakness_name"),
            severity=severity,
            description=get("description") or None,
            solution=get("solution") or None,
            cvss2_score=v2,
            cvss2_vector=v2_vector,
            cvss3_score=v3,
            cvss3_vector=v3_vector,
            cves=tuple(dict.fromkeys(c.upper() for c in _SPLIT.split(get("cve")) if c)),
            cwes=tuple(c.upper().removeprefix("CWE-") for c in _SPLIT.split(get("cwe")) if c),
            controls=tuple(c.upper() for c in re.split(r"[,;\s]+", get("controls")) if c),
            ccis=ccis,
            is_config=bool(ccis) or get("configuration").lower() in ("yes", "true", "1", "y"),
        )
        asset = _asset(get("asset"))
        path = get("path") or None
        if path is None and asset.kind is AssetKind.WEB_APP:
            path = web_path(get("asset"))
        return Finding(
            weakness=weakness,
            asset=asset,
            path=path,
            observed_at=detected,
            port=port,
            protocol=get("protocol").lower() or None,
            service=get("service") or None,
            evidence=get("evidence") or None,
            status=status,
        )
