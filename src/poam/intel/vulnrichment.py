"""CISA Vulnrichment: CVE JSON 5 records whose CISA-ADP container holds an SSVC decision
(`Exploitation` none/poc/active, `Automatable` yes/no, `Technical Impact` partial/total, spelled in
any case). Read from one record, a folder of them (the cisagov/vulnrichment repository), a zip or a
tar archive of them; members are read, never extracted, so no path in an archive reaches the disk.

Strict on structure (a file must be a CVE record), lenient on values: an SSVC value poam does not know
is kept empty with a warning; a record without the CISA-ADP SSVC block is counted but not stored.
"""

from __future__ import annotations

import datetime as dt
import io
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poam.errors import InputError
from poam.parsers import jsonio
from poam.parsers.base import ParseContext

MAX_RECORD = 5 * 1024 * 1024
"""Largest CVE record read (real ones are a few KB)."""
MAX_MEMBERS = 1_000_000
"""The repository holds some 300,000 records; an archive of more members is not this data."""

_VALUES = {
    "exploitation": {"none", "poc", "active"},
    "automatable": {"yes", "no"},
    "technical impact": {"partial", "total"},
}


@dataclass(frozen=True, slots=True)
class Ssvc:
    cve: str
    exploitation: str | None
    automatable: str | None
    technical_impact: str | None
    assessed_at: dt.datetime | None
    """The SSVC decision's timestamp (naive UTC)."""


def is_archive(path: Path) -> bool:
    return path.is_dir() or zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def _time(text: object) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when


def decision(doc: Any, name: str, ctx: ParseContext) -> Ssvc | None:
    """The CISA-ADP SSVC decision of one CVE record (None when it has none)."""
    meta = doc.get("cveMetadata") if isinstance(doc, dict) else None
    cve = meta.get("cveId") if isinstance(meta, dict) else None
    if not isinstance(cve, str) or not cve.upper().startswith("CVE-"):
        raise InputError(ctx.source, f"{name}: not a CVE JSON 5 record (no cveMetadata.cveId)")
    containers = doc.get("containers")
    adps = containers.get("adp") if isinstance(containers, dict) else None
    for adp in adps if isinstance(adps, list) else []:
        provider = adp.get("providerMetadata") if isinstance(adp, dict) else None
        if not isinstance(provider, dict) or str(provider.get("shortName", "")).upper() != "CISA-ADP":
            continue
        for metric in adp.get("metrics") or []:
            other = metric.get("other") if isinstance(metric, dict) else None
            if not isinstance(other, dict) or str(other.get("type", "")).lower() != "ssvc":
                continue
            content = other.get("content")
            content = content if isinstance(content, dict) else {}
            found: dict[str, str | None] = dict.fromkeys(_VALUES)
            for option in content.get("options") or []:
                for key, value in option.items() if isinstance(option, dict) else ():
                    key_l = str(key).strip().lower()
                    if key_l not in _VALUES:
                        continue
                    value_l = str(value).strip().lower()
                    if value_l in _VALUES[key_l]:
                        found[key_l] = value_l
                    else:
                        ctx.warn(f"{name} ({cve})", f"SSVC {key} {str(value)[:40]!r} not recognised; left empty")
            return Ssvc(
                cve.upper(),
                found["exploitation"],
                found["automatable"],
                found["technical impact"],
                _time(content.get("timestamp")),
            )
    return None


def _load(data: bytes, name: str, ctx: ParseContext) -> Any:
    if len(data) > MAX_RECORD:
        raise InputError(ctx.source, f"{name}: larger than {MAX_RECORD >> 20} MiB: not a CVE record")
    return jsonio.load(io.BytesIO(data), f"{ctx.source}: {name}", MAX_RECORD)


def _members(path: Path, source: str) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every JSON member of a folder, zip or tar, or of the one file."""
    count = 0

    def counted(name: str) -> None:
        nonlocal count
        count += 1
        if count > MAX_MEMBERS:
            raise InputError(source, f"more than {MAX_MEMBERS} files: not CISA Vulnrichment data")

    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            if file.is_file() and not file.is_symlink():
                counted(file.name)
                with file.open("rb") as f:
                    yield str(file.relative_to(path)), f.read(MAX_RECORD + 1)
        return
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    if info.is_dir() or not info.filename.endswith(".json"):
                        continue
                    counted(info.filename)
                    if info.file_size > MAX_RECORD:
                        raise InputError(source, f"{info.filename[:200]}: larger than 5 MiB: not a CVE record")
                    with z.open(info) as member:
                        yield info.filename, member.read(MAX_RECORD + 1)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise InputError(source, f"not a readable zip file ({exc})") from None
        return
    if tarfile.is_tarfile(path):
        try:
            with tarfile.open(path, "r|*") as tar:
                for entry in tar:
                    if not entry.isfile() or not entry.name.endswith(".json"):
                        continue  # links and devices are never followed
                    counted(entry.name)
                    if entry.size > MAX_RECORD:
                        raise InputError(source, f"{entry.name[:200]}: larger than 5 MiB: not a CVE record")
                    handle = tar.extractfile(entry)
                    if handle is not None:
                        yield entry.name, handle.read(MAX_RECORD + 1)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise InputError(source, f"not a readable tar file ({exc})") from None
        return
    with path.open("rb") as f:
        yield path.name, f.read(MAX_RECORD + 1)


def decisions(path: Path, ctx: ParseContext) -> Iterator[Ssvc | None]:
    """The CISA-ADP SSVC decision of each record (None for a record without one)."""
    for name, data in _members(path, ctx.source):
        yield decision(_load(data, name, ctx), name, ctx)
