"""FIRST EPSS scores, read from the daily file (`epss_scores-YYYY-MM-DD.csv`, or `.csv.gz` as FIRST
publishes it): a `#model_version:v2025.03.14,score_date:2026-12-02T12:55:00Z` line, then the header
`cve,epss,percentile` and one row per CVE. Never fetched: the file is what the user downloaded.

Strict on structure (the header must be there), lenient on values: a row whose CVE or score cannot
be read is left out with a warning.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from poam.errors import InputError
from poam.parsers import csvio
from poam.parsers.base import ParseContext

GZIP_MAGIC = b"\x1f\x8b"
MAX_UNCOMPRESSED = 512 * 1024 * 1024
"""A full EPSS file is about 15 MB uncompressed; more than this is not one."""
_CVE = re.compile(r"^CVE-\d{4}-\d{4,19}$")
_MODEL = re.compile(r"#model_version:(?P<model>[^,\s]{1,100}),score_date:(?P<date>[0-9T:+\-.Z]{10,40})")


@dataclass(frozen=True, slots=True)
class Score:
    cve: str
    epss: float
    """Probability of exploitation activity in the next 30 days (0-1)."""
    percentile: float


@dataclass(frozen=True, slots=True)
class Header:
    model: str | None
    scored: dt.datetime | None
    """The score date (naive UTC)."""


def looks_like(head: bytes) -> bool:
    """Whether a file's first bytes (decompressed) are an EPSS file."""
    text = head.lstrip(b"\xef\xbb\xbf")[:200].lower()
    return text.startswith(b"#model_version:") or text.startswith(b"cve,epss,percentile")


def opened(stream: BinaryIO) -> BinaryIO:
    """The file's bytes: decompressed when it is gzip (bounded), as they are otherwise."""
    start = stream.tell()
    magic = stream.read(2)
    stream.seek(start)
    if magic != GZIP_MAGIC:
        return stream
    return _Bounded(gzip.GzipFile(fileobj=stream, mode="rb"))  # type: ignore[return-value]


class _Bounded:
    """A decompressed stream that refuses to grow past MAX_UNCOMPRESSED (a gzip bomb)."""

    def __init__(self, raw: gzip.GzipFile) -> None:
        self._raw = raw
        self._read = 0
        self.name = "epss"

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size is not None and size >= 0 else MAX_UNCOMPRESSED + 1)
        self._read += len(data)
        if self._read > MAX_UNCOMPRESSED:
            raise OSError("more than 512 MiB once decompressed")
        return data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self._read

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0:
            raise OSError("cannot seek")
        self._raw.seek(offset)
        self._read = offset
        return offset

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def flush(self) -> None:
        return None

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False


def header(first_line: str) -> Header:
    """The model version and score date of the `#model_version` line (None when absent)."""
    m = _MODEL.match(first_line.strip())
    if m is None:
        return Header(None, None)
    text = m.group("date").replace("Z", "+00:00")
    if len(text) == 10:
        text += "T00:00:00+00:00"
    elif len(text) > 19 and text[-5] in "+-" and ":" not in text[-5:]:
        text = text[:-2] + ":" + text[-2:]  # +0000 -> +00:00
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return Header(m.group("model"), None)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return Header(m.group("model"), when)


def _is_header(names: list[str]) -> bool:
    return {"cve", "epss", "percentile"} <= set(names)


def scores(stream: BinaryIO, ctx: ParseContext) -> Iterator[Score]:
    """The scores of an EPSS file (already `opened`), one per readable row."""
    try:
        for number, row in enumerate(csvio.rows(stream, ctx, _is_header, ","), start=1):
            cve = (row.get("cve") or "").strip().upper()
            if not _CVE.match(cve):
                ctx.skip(f"row {number}", f"CVE {cve[:40]!r} not recognised")
                continue
            try:
                epss, percentile = float(row.get("epss") or ""), float(row.get("percentile") or "")
            except ValueError:
                ctx.skip(f"row {number} ({cve})", "score or percentile is not a number")
                continue
            if not (0.0 <= epss <= 1.0 and 0.0 <= percentile <= 1.0):
                ctx.skip(f"row {number} ({cve})", "score or percentile outside 0-1")
                continue
            yield Score(cve, epss, percentile)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(ctx.source, f"not a readable gzip file ({exc})") from None
