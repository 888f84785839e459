"""The interface every scan parser implements, and what it yields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from poam.domain.models import Coverage, Finding, Scan
from poam.parsers.jsonio import Shape

Record = Finding | Coverage | Scan
"""A parser yields coverage (an asset the scan looked at), findings, and scan facts."""


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a parser is told about the file it reads."""

    source: str
    """The file name, for error messages."""
    scan_date: dt.datetime | None = None
    """A time to use where the file gives none (`poam import --scan-date`)."""
    file_time: dt.datetime | None = None
    """The file's modification time (naive UTC): the last resort for formats without dates."""
    asset_name: str | None = None
    """`poam import --asset`: the repository, project or image a file is about when it does not
    say (Bandit, pip-audit, npm audit...)."""

    def fallback_time(self) -> dt.datetime:
        """`--scan-date`, else the file's modification time, else now: for formats without dates."""
        return self.scan_date or self.file_time or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True, slots=True)
class Head:
    """The start of a file, for detection by content."""

    data: bytes
    """Up to the first 64 KiB, byte order mark removed."""
    text: str
    """The same, decoded as UTF-8 with errors replaced."""
    xml_root: str | None
    """The local name of the XML root element, when the file is XML."""
    json: Shape
    """What the start shows when the file is JSON (kind None otherwise)."""


class Parser(Protocol):
    """A reader of one file format. Register instances through the `poam_parsers` hook."""

    id: str
    """Short id used by `--format` (`nessus`)."""
    name: str
    """Human name (`Tenable Nessus .nessus v2`)."""
    maps_to: str
    """What its results become (`one finding per plugin, host and port`)."""
    closes_by_coverage: bool
    """True when a scan in this format proves absence on the assets it covered."""

    def sniff(self, head: Head) -> bool:
        """Whether this file is in this format, judged from its content."""
        ...

    def parse(self, stream: BinaryIO, ctx: ParseContext) -> Iterator[Record]:
        """Yield the file's records; raise InputError on bad input."""
        ...
