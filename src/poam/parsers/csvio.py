"""Reading CSV scan exports: encoding, a preamble before the header row, any delimiter."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from poam.errors import InputError

FIELD_LIMIT = 10 * 1024 * 1024
PREAMBLE_LINES = 50


def norm(name: str) -> str:
    """A header name for matching: lower case, runs of spaces, hyphens and dots as `_`."""
    return re.sub(r"[\s\-.]+", "_", name.strip().strip('"').lower()).strip("_")


def header_fields(
    head_text: str, looks_like_header: Callable[[list[str]], bool], delimiters: str = ",;\t"
) -> tuple[list[str], str, int] | None:
    """The header row in the first lines of a file, its delimiter and its line index; None when
    no line up to `PREAMBLE_LINES` satisfies `looks_like_header` (given normalized names)."""
    lines = head_text.lstrip("\ufeff").splitlines()[:PREAMBLE_LINES]
    for index, line in enumerate(lines):
        for delimiter in delimiters:
            if delimiter not in line:
                continue
            try:
                fields = next(csv.reader([line], delimiter=delimiter))
            except (csv.Error, StopIteration):
                continue
            if looks_like_header([norm(f) for f in fields]):
                return fields, delimiter, index
    return None


def rows(
    stream: BinaryIO, source: str, looks_like_header: Callable[[list[str]], bool], delimiters: str = ",;\t"
) -> Iterator[dict[str, str]]:
    """Data rows as {normalized header name: value}, after the header row (found by
    `looks_like_header`; any preamble before it is skipped). UTF-8 (a byte order mark allowed);
    files that are not UTF-8 are read as Windows-1252. Blank rows are skipped."""
    csv.field_size_limit(FIELD_LIMIT)
    start = stream.tell()
    probe = stream.read(1 << 20)
    stream.seek(start)
    try:
        probe.decode("utf-8-sig")
        encoding = "utf-8-sig"
    except UnicodeDecodeError as exc:
        encoding = "utf-8-sig" if exc.start > len(probe) - 4 else "cp1252"  # a cut multi-byte character
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
    try:
        yield from _rows(text, source, looks_like_header, delimiters)
    finally:
        text.detach()


def _rows(
    text: io.TextIOWrapper, source: str, looks_like_header: Callable[[list[str]], bool], delimiters: str
) -> Iterator[dict[str, str]]:
    preamble: list[str] = []
    for _ in range(PREAMBLE_LINES):
        line = text.readline()
        if not line:
            break
        preamble.append(line)
        found = header_fields(line, looks_like_header, delimiters)
        if found:
            header, delimiter, _index = found
            break
    else:
        found = None
    if not found:
        raise InputError(source, "no header row with the expected columns in the first lines")
    names = [norm(h) for h in header]
    reader = csv.reader(text, delimiter=delimiter)
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            yield {name: (row[i] if i < len(row) else "") for i, name in enumerate(names) if name}
    except csv.Error as exc:
        raise InputError(source, f"bad CSV near line {reader.line_num}: {exc}") from None
