"""Microsoft Defender: Defender for Cloud recommendations CSV, and Defender for Endpoint
vulnerabilities (machinesVulnerabilities API JSON, or a `.zip` bundle of `vulnerabilities/*.json`
with `machines/*.json`).

Defender for Cloud: one configuration finding per recommendation and resource; Unhealthy is open,
Healthy a FIXED record, NotApplicable nothing. A state that means set aside (Exempt, Dismissed...)
gives nothing, with a warning; any other state keeps the row open, with a warning. A row without
its recommendation or resource id is left out, with a warning. The id is the assessment key (the
GUID that ends `recommendationId`, whose full path also names the resource); the asset is the
resource id (lower-cased: Azure ids are case-insensitive) with the subscription as account. A row
is dated by `exportedTimestamp` (else statusChangeDate); an Unhealthy row's statusChangeDate is the
tool's detection time.

Defender for Endpoint: one finding per CVE, machine and software product (path = product name).
A machine known from the bundle's machine list is a host (its DNS name and last IP address), dated
by its lastSeen; one known only by id (plain JSON) is an `other` asset named by the machine id,
dated by the file (the vulnerability list gives no time). Plain JSON may hold several API pages
one after another. A record that is not an object or lacks its cveId or machineId is left out,
with a warning. Both are API lists, which may be filtered or paged: nothing closes by coverage.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from poam.domain.models import Asset, AssetKind, Finding, FindingStatus, Scan, Weakness
from poam.errors import InputError
from poam.parsers import common, csvio, jsonio
from poam.parsers.base import Head, ParseContext, Record
from poam.parsers.common import obj as _obj
from poam.parsers.common import text as _text

CLOUD_TOOL = "Microsoft Defender for Cloud"
ENDPOINT_TOOL = "Microsoft Defender for Endpoint"
_CLOUD_COLUMNS = {"recommendationid", "recommendationdisplayname", "state", "resourceid", "subscriptionid"}
_STATE = {"unhealthy": FindingStatus.OPEN, "healthy": FindingStatus.FIXED}
_ASSESSMENT = re.compile(r"/assessments/([^/]+)/?$", re.IGNORECASE)
_EMPTY_VALUE = re.compile(r'"value"\s*:\s*\[\s*\]')
ZIP_MAX_MEMBERS = 1000
ZIP_MAX_TOTAL = 256 * 1024 * 1024
ZIP_MAX_RATIO = 200
_BOM = b"\xef\xbb\xbf"


def _cloud_header(names: list[str]) -> bool:
    return set(names) >= _CLOUD_COLUMNS


class DefenderCloudParser:
    """Reader of Microsoft Defender for Cloud (Azure Security Center) recommendations CSV."""

    id = "defender-cloud"
    name = "Microsoft Defender for Cloud recommendations CSV"
    maps_to = "one configuration finding per recommendation and resource; Unhealthy opens, Healthy closes"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """A CSV header with recommendationId, recommendationDisplayName, state, resourceId, subscriptionId."""
        return head.json.kind is None and not head.xml_root and bool(csvio.header_fields(head.text, _cloud_header))

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """One record per Unhealthy or Healthy row, then the scan."""
        weaknesses: dict[str, Weakness] = {}
        assets: dict[tuple[str, str | None], Asset] = {}
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        for line, row in enumerate(csvio.rows(stream, ctx, _cloud_header), start=2):
            recommendation = (row.get("recommendationid") or "").strip()
            m = _ASSESSMENT.search(recommendation)
            key = (row.get("recommendationname") or "").strip() or (m.group(1) if m else recommendation)
            record = f"row {line} ({key})" if key else f"row {line}"
            status = _cloud_status(ctx, record, row.get("state"))
            if status is None:
                continue
            resource = (row.get("resourceid") or "").strip().lower()
            if not key or not resource:
                ctx.skip(record, "recommendationId or resourceId is empty")
                continue
            changed = common.parse_time(row.get("statuschangedate"))
            when = common.parse_time(row.get("exportedtimestamp")) or changed or ctx.fallback_time()
            since = changed if status is FindingStatus.OPEN and changed is not None and changed <= when else None
            first = min(first, when) if first else when
            last = max(last, when) if last else when
            weakness = weaknesses.get(key)
            if weakness is None:
                weakness = weaknesses[key] = _cloud_weakness(ctx, record, key, row)
            account = common.clean(row.get("subscriptionid"))
            asset = assets.get((resource, account))
            if asset is None:
                asset = assets[(resource, account)] = Asset(
                    kind=AssetKind.CLOUD_RESOURCE, name=resource, account=account
                )
            evidence = "\n".join(
                x
                for x in (
                    f"{row.get('state', '').strip()} since {row.get('statuschangedate', '').strip()}".strip(),
                    common.clean(row.get("azureportalrecommendationlink")),
                )
                if x
            )
            yield Finding(
                weakness=weakness, asset=asset, observed_at=when, evidence=evidence or None, status=status, since=since
            )
        yield Scan(tool=CLOUD_TOOL, name="Defender for Cloud recommendations", started_at=first, ended_at=last)


def _cloud_status(ctx: ParseContext, record: str, state: str | None) -> FindingStatus | None:
    """OPEN, FIXED, or None for a row that is no finding (NotApplicable, set aside)."""
    word = (state or "").strip()
    if word.lower() == "notapplicable":
        return None
    status = _STATE.get(word.lower())
    if status is not None:
        return status
    if word.lower() == "exempt" or common.dismissed(word):
        ctx.warn(record, f"state {word[:40]!r} means set aside; left out")
        return None
    return common.odd_status(ctx, record, word)


def _cloud_weakness(ctx: ParseContext, record: str, key: str, row: dict[str, str]) -> Weakness:
    families: list[str] = []
    try:
        controls = json.loads(row.get("controls") or "{}")
    except ValueError:
        controls = {}
    if isinstance(controls, dict):
        families = [str(k) for k in controls]
    return Weakness(
        tool=CLOUD_TOOL,
        vuln_id=key,
        name=common.clean(row.get("recommendationdisplayname")) or key,
        severity=common.severity_word(row.get("severity")) or common.odd_severity(ctx, record, row.get("severity")),
        family=", ".join(families) or None,
        description=common.clean(row.get("description")),
        solution=common.clean(row.get("remediationsteps")),
        is_config=True,
    )


class DefenderEndpointParser:
    """Reader of Microsoft Defender for Endpoint machine vulnerabilities (JSON or zip bundle)."""

    id = "defender-endpoint"
    name = "Microsoft Defender for Endpoint vulnerabilities (API JSON or zip bundle)"
    maps_to = "one finding per CVE, machine and product; machines from the bundle are hosts"
    closes_by_coverage = False

    def sniff(self, head: Head) -> bool:
        """A zip archive whose first members include Defender's `vulnerabilities/` or `machines/`
        folders (the rest is checked when read), or an OData `value` list of machine
        vulnerabilities (`cveId`) or an empty one."""
        if head.data.startswith(b"PK\x03\x04"):
            return b"vulnerabilities/" in head.data or b"machines/" in head.data
        shape = head.json
        if shape.kind != "object" or not {"@odata.context", "value"} <= shape.keys:
            return False
        return '"cveId"' in head.text or bool(_EMPTY_VALUE.search(head.text))

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Read the vulnerabilities (and machines), yield one finding per row, then the scan."""
        start = stream.tell()
        magic = stream.read(4)
        stream.seek(start)
        if magic == b"PK\x03\x04":
            pages, machine_docs = _bundle(stream, ctx)
        else:
            pages, machine_docs = list(jsonio.documents(stream, ctx.source)), []
        machines: dict[str, dict[str, Any]] = {}
        for doc in machine_docs:
            for m in _values(doc, ctx, "machine list"):
                ident = _text(_obj(m).get("id"))
                if ident:
                    machines[ident] = _obj(m)
        weaknesses: dict[str, Weakness] = {}
        assets: dict[str, tuple[Asset, dt.datetime]] = {}
        first: dt.datetime | None = None
        last: dt.datetime | None = None
        number = 0
        for doc in pages:
            for v in _values(doc, ctx, "vulnerability list"):
                number += 1
                if not isinstance(v, dict):
                    ctx.skip(f"vulnerability {number}", "not a JSON object")
                    continue
                cve = _text(v.get("cveId"))
                machine = _text(v.get("machineId"))
                record = f"vulnerability {number} ({cve})" if cve else f"vulnerability {number}"
                if not cve or not machine:
                    ctx.skip(record, "no machineId" if cve else "no cveId")
                    continue
                known = assets.get(machine)
                if known is None:
                    known = assets[machine] = _machine(machine, machines.get(machine), ctx)
                asset, when = known
                first = min(first, when) if first else when
                last = max(last, when) if last else when
                weakness = weaknesses.get(cve)
                if weakness is None:
                    word = _text(v.get("severity"))
                    weakness = weaknesses[cve] = Weakness(
                        tool=ENDPOINT_TOOL,
                        vuln_id=cve,
                        name=cve,
                        severity=common.severity_word(word) or common.odd_severity(ctx, record, word),
                        cves=common.cves_in(cve),
                    )
                product = _text(v.get("productName"))
                kb = _text(v.get("fixingKbId"))
                evidence = " ".join(
                    x for x in (_text(v.get("productVendor")), product, _text(v.get("productVersion"))) if x
                )
                if kb:
                    evidence = f"{evidence}\nfixed by KB{kb.upper().removeprefix('KB')}".strip()
                yield Finding(weakness=weakness, asset=asset, observed_at=when, evidence=evidence or None, path=product)
        yield Scan(tool=ENDPOINT_TOOL, name="Defender for Endpoint vulnerabilities", started_at=first, ended_at=last)


def _values(doc: Any, ctx: ParseContext, what: str) -> list[Any]:
    if not isinstance(doc, dict) or not isinstance(doc.get("value"), list):
        raise InputError(ctx.source, f'{what} is not a Defender API response (no "value" list)')
    return list(doc["value"])


def _machine(ident: str, m: dict[str, Any] | None, ctx: ParseContext) -> tuple[Asset, dt.datetime]:
    """A host from the machine record when it has a DNS name or IP address, else the machine id;
    dated by the machine's lastSeen, else by the file."""
    if not m:
        return Asset(kind=AssetKind.OTHER, name=ident), ctx.fallback_time()
    dns = _text(m.get("computerDnsName"))
    ip = _text(m.get("lastIpAddress"))
    when = common.parse_time(m.get("lastSeen")) or ctx.fallback_time()
    if not dns and not ip:
        return Asset(kind=AssetKind.OTHER, name=ident), when
    os_name = " ".join(x for x in (_text(m.get("osPlatform")), _text(m.get("osVersion"))) if x) or None
    fqdn, netbios = (dns, None) if dns and "." in dns else (None, dns)
    return Asset(kind=AssetKind.HOST, ip=ip, fqdn=fqdn, netbios=netbios, name=ident, os=os_name), when


def _bundle(stream: BinaryIO, ctx: ParseContext) -> tuple[list[Any], list[Any]]:
    """The vulnerability and machine documents of a zip bundle, read within limits."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise InputError(ctx.source, f"not a readable zip archive: {exc}") from None
    with archive:
        members = archive.infolist()
        if len(members) > ZIP_MAX_MEMBERS:
            raise InputError(ctx.source, f"refused: zip has more than {ZIP_MAX_MEMBERS} members")
        total = 0
        wanted: list[tuple[str, zipfile.ZipInfo]] = []
        for info in members:
            name = info.filename
            path = PurePosixPath(name)
            if name.startswith(("/", "\\")) or "\\" in name or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
                raise InputError(ctx.source, f"refused: zip member with an unsafe path {name[:80]!r}")
            if info.is_dir() or path.name.startswith(".") or "__MACOSX" in path.parts:
                continue
            folder = path.parent.name.lower()
            if path.suffix.lower() != ".json" or folder not in ("vulnerabilities", "machines"):
                continue
            if info.flag_bits & 0x1:
                raise InputError(ctx.source, f"refused: zip member {name[:80]!r} is encrypted")
            total += info.file_size
            if total > ZIP_MAX_TOTAL:
                raise InputError(ctx.source, f"refused: zip content larger than {ZIP_MAX_TOTAL // (1024 * 1024)} MiB")
            if info.file_size > 1024 * 1024 and info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
                raise InputError(
                    ctx.source, f"refused: zip member {name[:80]!r} is compressed suspiciously well (zip bomb?)"
                )
            wanted.append((folder, info))
        if not any(folder == "vulnerabilities" for folder, _info in wanted):
            raise InputError(ctx.source, "zip is not a Defender for Endpoint bundle: no vulnerabilities/*.json member")
        vulns: list[Any] = []
        machines: list[Any] = []
        for folder, info in wanted:
            data = _read_member(archive, info, ctx)
            doc = jsonio.load(io.BytesIO(data), f"{ctx.source}:{info.filename}")
            (vulns if folder == "vulnerabilities" else machines).append(doc)
    return vulns, machines


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, ctx: ParseContext) -> bytes:
    """A member's bytes, never more than its declared size (a lying header is refused)."""
    try:
        with archive.open(info) as member:
            data = member.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise InputError(ctx.source, f"cannot read zip member {info.filename[:80]!r}: {exc}") from None
    if len(data) > info.file_size:
        raise InputError(ctx.source, f"refused: zip member {info.filename[:80]!r} is larger than it declares")
    return data.removeprefix(_BOM)
