"""The FedRAMP Integrated Inventory Workbook (SSP Appendix M), read as the asset inventory.

The sheet holding the header `UNIQUE ASSET IDENTIFIER` is read (the template's `Inventory`),
whatever row the header is on and whether or not the template's guidance column A and its
guidance and example rows (3-12) are still there.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from poam.domain.models import Asset, AssetKind
from poam.errors import InputError
from poam.parsers.xmlsafe import check_encoding, strip_bom

MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_MEMBERS = 2000
HEADER = "unique_asset_identifier"
_GUIDANCE = ("guidance", "valid values", "mandatory or optional", "delete column a")
_EXAMPLE_SUFFIX = " example"


@dataclass(frozen=True)
class InventoryEntry:
    """One row of the inventory: the asset, its unique identifier and the row as given."""

    unique_id: str
    asset: Asset
    public: bool | None = None
    asset_type: str | None = None
    owner: str | None = None
    row: dict[str, str] = field(default_factory=dict)


def is_workbook(head: bytes) -> bool:
    """An xlsx file (a zip) as far as its first bytes show."""
    return head.startswith(b"PK\x03\x04")


def _check_zip(path: Path, source: str) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
            if len(members) > MAX_MEMBERS:
                raise InputError(source, f"workbook has more than {MAX_MEMBERS} parts")
            if sum(m.file_size for m in members) > MAX_UNCOMPRESSED:
                raise InputError(source, "workbook expands to more than 200 MB; refused")
            if "xl/workbook.xml" not in z.namelist():
                raise InputError(source, "not an Excel workbook (.xlsx)")
            for m in members:
                with z.open(m) as part:
                    _check_part(part, source, m.filename)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError):
        raise InputError(source, "not a valid .xlsx file (bad zip)") from None


_DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY")
_CHUNK = 1 << 20
_WIDE = (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<", b"\x00\x00")
"""How XML in UTF-16 or UTF-32 starts (a byte order mark, or `<` as two or four bytes)."""


def _check_part(part: IO[bytes], source: str, name: str) -> None:
    """Refuse an XML part with a document type or entity declaration anywhere in it (Excel never
    writes one), or in another encoding than UTF-8 (where such a declaration would not show as
    these bytes): read whole, a chunk at a time (never more than the size the zip declares).
    Parts that are not XML (images, binary parts) are left to the reader."""
    held = b""
    first = True
    while chunk := part.read(_CHUNK):
        if first:
            start = strip_bom(chunk.lstrip()).lstrip()
            if start.startswith(_WIDE):
                raise InputError(source, f"a workbook part is XML not in UTF-8 (part {name[:80]!r})")
            if not start.startswith(b"<"):
                return
            if start.startswith(b"<?xml"):
                check_encoding(start[:200], source)
            first = False
        data = held + chunk
        if any(mark in data for mark in _DECLARATIONS):
            raise InputError(
                source, f"XML entity or document type declarations are not accepted in a workbook (part {name[:80]!r})"
            )
        held = data[-(len(b"<!DOCTYPE") - 1) :]


def _key(name: str) -> str:
    """A header name as a key: `Software/ Database Name & Version` -> `software_database_name_version`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _yes(value: str) -> bool | None:
    v = value.strip().lower()
    if v in ("yes", "y", "true"):
        return True
    if v in ("no", "n", "false"):
        return False
    return None


def entries(path: Path) -> Iterator[InventoryEntry]:
    """The inventory rows of a workbook."""
    import openpyxl

    source = str(path)
    _check_zip(path, source)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on damaged files
        raise InputError(source, f"cannot read the workbook ({type(exc).__name__})") from None
    try:
        for sheet in book.worksheets:
            rows = sheet.iter_rows(values_only=True)
            header: list[str] | None = None
            for index, raw in enumerate(rows):
                cells = [_text(c) for c in raw]
                if header is None:
                    names = [_key(c) for c in cells]
                    if HEADER in names:
                        header = names
                    elif index > 50:
                        break
                    continue
                entry = _entry(dict(zip(header, cells, strict=False)), cells)
                if entry is not None:
                    yield entry
            if header is not None:
                return
        raise InputError(source, "no sheet with a UNIQUE ASSET IDENTIFIER header (not an inventory workbook)")
    finally:
        book.close()


def _entry(row: dict[str, str], cells: list[str]) -> InventoryEntry | None:
    first = (cells[0] if cells else "").lower()
    if first.startswith(_GUIDANCE) or first.endswith(_EXAMPLE_SUFFIX):
        return None  # the template's guidance and example rows
    unique = row.get(HEADER, "")
    if not unique:
        return None
    ips = row.get("ipv4_or_ipv6_address", "").split()
    dns = row.get("dns_name_or_url", "").split()
    asset_type = row.get("asset_type") or None
    name = dns[0] if dns else None
    if name and "://" in name:
        asset = Asset(kind=AssetKind.WEB_APP, name=name)
    elif unique.startswith("sha256:") or (asset_type or "").lower().startswith("container"):
        asset = Asset(kind=AssetKind.CONTAINER_IMAGE, name=row.get("software_database_name_version") or unique)
    else:
        asset = Asset(
            kind=AssetKind.HOST,
            ip=ips[0] if ips else None,
            fqdn=name,
            netbios=row.get("netbios_name") or None,
            mac=row.get("mac_address") or None,
            os=row.get("os_name_and_version") or None,
            name=None if (ips or name or row.get("netbios_name")) else unique,
        )
    owner = row.get("system_administrator_owner") or row.get("application_administrator_owner") or None
    return InventoryEntry(
        unique, asset, _yes(row.get("public", "")), asset_type, owner, {k: v for k, v in row.items() if k and v}
    )
