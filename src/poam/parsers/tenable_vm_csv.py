"""Tenable Vulnerability Management (Tenable.io) findings CSV export, the current one.

The Findings page's export (Explore > Findings > Export, CSV): semicolon-delimited (commas and
tabs are read too), one row per finding, dotted column keys: `asset.host_name`, `asset.name`,
`asset.display_ipv4_address` (or `asset.ipv4_addresses`), `asset.display_fqdn` (or
`asset.fqdns`), `asset.netbios_name`, `asset.display_mac_address`, `asset.operating_system`,
`definition.id` (the plugin id), `definition.name`, `definition.family`, `definition.severity`,
`definition.cve`, `definition.cvss2|3|4.base_score` and `.base_vector`, `definition.cwe`,
`definition.iava|iavb|iavt`, `definition.synopsis`, `definition.description`,
`definition.solution`, `definition.see_also`, `port`, `protocol`, `output`, `severity`, `state`,
`risk_modified`, `first_observed`, `last_seen`, `last_fixed`. Columns are matched by name, in any
order; any may be left out of the export except `definition.id` and one asset column.

Identity: the tool is `Tenable.io` and the vuln id the plugin id, as in the legacy Tenable.io CSV
export (`tenable-csv`), with the host from the same columns, so both exports (and later ones)
feed the same POA&M items.

Status: `state` FIXED is a FIXED finding (at `last_fixed`, else `last_seen`); ACTIVE, NEW and
RESURFACED (the API's OPEN and REOPENED) are open. `risk_modified` ACCEPTED (an accepted risk)
leaves the row out: not open, and never a fix. Severity: `definition.severity` (the plugin's
rating, before any recast), else `severity`: info, low, medium, high, critical (or 0-4).

Times: a finding is observed at `last_seen`; when `first_observed` is earlier, an extra sighting
is yielded at that time (the POA&M item's detection date starts there). Without dates,
`ctx.fallback_time()`.

Closing: the export is filtered (by state, severity, asset, time...) and nothing in it says how,
so it yields no coverage (`closes_by_coverage` False): a finding missing from it is left as it
was; FIXED rows close.
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
from poam.parsers.nessus_csv import clean, host_asset, lazy, port_number, score, severity, vector
from poam.parsers.tenable_csv import IO, row_time, state

_ASSET_COLUMNS = {
    "asset_host_name",
    "asset_name",
    "asset_display_ipv4_address",
    "asset_ipv4_addresses",
    "asset_display_fqdn",
    "asset_fqdns",
    "asset_netbios_name",
}
_SPLIT = re.compile(r"[\s,;\[\]\"']+")
_IAVA = re.compile(r"\b\d{4}-[ABT]-\d{4}(?:-S)?\b", re.IGNORECASE)
_Key = tuple[str, str, int | None, str | None]


def looks_like_header(names: list[str]) -> bool:
    """The header of a findings export: `definition.id` and an asset column (normalized names),
    and not a host audit export (`compliance.*`) nor a web application one (`url`)."""
    found = set(names)
    if "definition_id" not in found or not found & _ASSET_COLUMNS:
        return False
    return "url" not in found and not any(n.startswith("compliance_") for n in names)


def first_of(cell: str | None) -> str:
    """The first value of a list cell (`10.0.0.1, 10.0.0.2`, `["a.example.com"]`), or ''."""
    return next((part for part in _SPLIT.split(cell or "") if part), "")


def _evidence(text: str | None) -> str | None:
    """A plugin output without the apostrophe Tenable puts before a cell (against spreadsheet
    formulas)."""
    value = (text or "").strip()
    if value.startswith("'") and (len(value) == 1 or value[1] in "\r\n \t=+-@"):
        value = value[1:]
    return value.strip() or None


class TenableVmCsvParser:
    """Reader of Tenable Vulnerability Management findings CSV exports (dotted column keys)."""

    id = "tenable-vm-csv"
    name = "Tenable Vulnerability Management findings CSV export (asset.*, definition.* columns)"
    maps_to = (
        "one finding per plugin, host and port, seen at last_seen with a sighting at first_observed; "
        "state FIXED closes; filtered exports: no coverage"
    )
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """A header row with `definition.id` and an `asset.*` host column."""
        return csvio.header_fields(head.text, looks_like_header) is not None

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Yield one finding per row (and its first sighting), then the scan."""
        fallback = lazy(ctx.fallback_time)
        assets: dict[tuple[str, ...], Asset] = {}
        weaknesses: dict[tuple[str, Severity], Weakness] = {}
        seen: set[tuple[_Key, FindingStatus, dt.datetime]] = set()
        first_seen: dt.datetime | None = None
        last_seen: dt.datetime | None = None
        for n, row in enumerate(csvio.rows(stream, ctx, looks_like_header), start=1):
            record = f"row {n}"
            plugin = (row.get("definition_id") or "").strip()
            if not plugin.isdigit():
                ctx.skip(record, f"definition.id {plugin[:40]!r} is not a plugin number")
                continue
            ident = self._identifiers(row)
            if not any(ident[:4]):
                ctx.skip(record, "no asset host name, name, IPv4 address, FQDN or NetBIOS name")
                continue
            if common.dismissed((row.get("risk_modified") or "").strip()):
                continue  # an accepted risk: neither open nor fixed
            status = state((row.get("state") or "").strip(), ctx, record, "state")
            if status is None:
                continue
            port = port_number(row.get("port"), ctx, record)
            key: _Key = (plugin, "|".join(ident[:4]), port, (row.get("protocol") or "").strip().lower() or None)
            level = self._severity(row, record, ctx)
            weakness = weaknesses.get((plugin, level))
            if weakness is None:
                weakness = weaknesses[(plugin, level)] = self._weakness(row, plugin, level)
            asset = assets.get(ident)
            if asset is None:
                asset = assets[ident] = host_asset(*ident)
            first = row_time(row, ctx, record, "first_observed", "first_seen", "first_found")
            last = row_time(row, ctx, record, "last_seen", "last_observed", "last_found")
            if status is FindingStatus.FIXED:
                last = row_time(row, ctx, record, "last_fixed") or last
            observed = last or first or fallback()
            if (key, status, observed) in seen:
                continue  # the same row twice
            seen.add((key, status, observed))
            first_seen = min(first_seen, observed) if first_seen else observed
            last_seen = max(last_seen, observed) if last_seen else observed
            finding = Finding(
                weakness=weakness,
                asset=asset,
                observed_at=observed,
                port=port,
                protocol=key[3],
                evidence=_evidence(row.get("output")),
                status=status,
            )
            if first and first < observed and status is FindingStatus.OPEN and level is not Severity.INFO:
                yield replace(finding, observed_at=first)
            yield finding
        yield Scan(tool=IO, started_at=first_seen, ended_at=last_seen)

    def _identifiers(self, row: dict[str, str]) -> tuple[str, str, str, str, str, str]:
        """Host name, IPv4 address, FQDN, NetBIOS name, MAC address and OS of a row's asset."""
        return (
            (row.get("asset_host_name") or row.get("asset_name") or "").strip(),
            first_of(row.get("asset_display_ipv4_address") or row.get("asset_ipv4_addresses")),
            first_of(row.get("asset_display_fqdn") or row.get("asset_fqdns")),
            (row.get("asset_netbios_name") or "").strip(),
            first_of(row.get("asset_display_mac_address") or row.get("asset_mac_addresses")),
            (row.get("asset_operating_system") or "").strip().strip("[]\"'").strip(),
        )

    def _severity(self, row: dict[str, str], record: str, ctx: ParseContext) -> Severity:
        """The plugin's severity (`definition.severity`), else the finding's (`severity`); an
        unknown word is Moderate (warned)."""
        try:
            found = severity(row.get("definition_severity"), row.get("severity"))
        except ValueError as exc:
            return common.odd_severity(ctx, record, str(exc))
        return found or Severity.INFO

    def _weakness(self, row: dict[str, str], plugin: str, level: Severity) -> Weakness:
        v2_vector = vector(2, row.get("definition_cvss2_base_vector"))
        v3_vector = vector(3, row.get("definition_cvss3_base_vector"))
        v4_vector = vector(4, row.get("definition_cvss4_base_vector"))
        iavas = _IAVA.findall(" ".join(row.get(f"definition_{k}") or "" for k in ("iava", "iavb", "iavt")))
        see_also = [part.strip() for part in re.split(r"[\s,]+", row.get("definition_see_also") or "") if part.strip()]
        return Weakness(
            tool=IO,
            vuln_id=plugin,
            name=(row.get("definition_name") or "").strip() or f"Plugin {plugin}",
            severity=level,
            family=(row.get("definition_family") or "").strip() or None,
            synopsis=clean(row.get("definition_synopsis")),
            description=clean(row.get("definition_description")),
            solution=clean(row.get("definition_solution")),
            see_also="\n".join(dict.fromkeys(see_also)) or None,
            cvss2_score=cvss.fill(2, score(row.get("definition_cvss2_base_score")), v2_vector),
            cvss2_vector=v2_vector,
            cvss3_score=cvss.fill(3, score(row.get("definition_cvss3_base_score")), v3_vector),
            cvss3_vector=v3_vector,
            cvss4_score=cvss.fill(4, score(row.get("definition_cvss4_base_score")), v4_vector),
            cvss4_vector=v4_vector,
            cves=common.cves_in(row.get("definition_cve")),
            cwes=common.cwes_in([p for p in _SPLIT.split(row.get("definition_cwe") or "") if p]),
            iavas=tuple(dict.fromkeys(i.upper() for i in iavas)),
        )
