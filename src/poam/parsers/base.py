"""The interface every scan parser implements, and what it yields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from poam.domain.models import Coverage, Finding, Scan
from poam.parsers.jsonio import Shape

Record = Finding | Coverage | Scan
"""A parser yields coverage (an asset the scan looked at), findings, and scan facts."""


MAX_WARNINGS_KEPT = 1000
"""Warning lines kept per file (every warning is counted)."""


@dataclass(slots=True)
class ParseReport:
    """What a parser noticed besides its records: odd values it read past, and whether it had to
    date anything by the file's modification time. Filled while parsing (in a child process it
    is sent back at the end)."""

    warnings: list[str] = field(default_factory=list)
    """`record: what was unusual`, the first MAX_WARNINGS_KEPT of them."""
    warning_count: int = 0
    skipped: int = 0
    """Records left out because they could not be read (each also a warning)."""
    used_file_time: bool = False
    """Some record was dated by the file's modification time (the file gave no date)."""
    cut_short: bool = False
    """The file may have been cut short (a CSV without a final line break): it closes nothing by
    absence."""

    def warn(self, record: str, problem: str) -> None:
        """Count a warning and keep its line (the first MAX_WARNINGS_KEPT)."""
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS_KEPT:
            self.warnings.append(f"{record}: {problem}")

    def skip(self, record: str, problem: str) -> None:
        """Count a record left out because it cannot be read (also a warning)."""
        self.skipped += 1
        self.warn(record, f"{problem}; left out")

    def merge(self, other: ParseReport) -> None:
        """Add another report's findings to this one (the child's, in the parent)."""
        room = MAX_WARNINGS_KEPT - len(self.warnings)
        self.warnings += other.warnings[: max(room, 0)]
        self.warning_count += other.warning_count
        self.skipped += other.skipped
        self.used_file_time = self.used_file_time or other.used_file_time
        self.cut_short = self.cut_short or other.cut_short


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

    report: ParseReport = field(default_factory=ParseReport, compare=False)
    """Warnings and date sources noticed while parsing."""

    def fallback_time(self) -> dt.datetime:
        """The time of a record the file does not date: `--scan-date`, else the file's modification
        time (noted in the report, so the import says `date from file time`). Call it only for a
        record that needs it."""
        if self.scan_date is not None:
            return self.scan_date
        self.report.used_file_time = True
        return self.file_time or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)

    def warn(self, record: str, problem: str) -> None:
        """Note an odd value in one record that was read past (mapped or kept with a neutral
        value): `record` names it (`row 12`, `finding 3 (CVE-2024-1)`), `problem` says what
        was unusual and what poam did."""
        self.report.warn(record, problem)

    def skip(self, record: str, problem: str) -> None:
        """Note a record left out because it cannot be read (`problem` says why): a warning; a file
        whose every record was left out is refused."""
        self.report.skip(record, problem)

    def may_be_cut(self, problem: str) -> None:
        """Note that the file may have been cut short (`problem` says why): a warning, and the
        file closes nothing by absence (what it no longer lists may be in the part lost)."""
        if not self.report.cut_short:  # once, however often the file is read
            self.report.cut_short = True
            self.report.warn("file", problem)


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
