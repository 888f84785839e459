"""Reading CSV scan exports: encoding, a preamble before the header row, any delimiter, and a file
that ends in the middle of a row.

Encoding: a file is UTF-8 (a byte order mark allowed) or, when its first byte that is not UTF-8
comes before any non-ASCII UTF-8 character, Windows-1252 throughout (what Excel writes on a Western
Windows); the import warns which. A file that mixes the two, holds bytes that are neither, or ends
in the middle of a UTF-8 character is refused with the byte's offset and line.

End: CSV has no end marker, so a file cut short can only be told by its last row. A file whose last
row is open (a quoted value never closed) or, without a final line break, has fewer fields than the
header is refused (`the file ends in the middle of a row (truncated?)`). A file whose last row is
complete but not followed by a line break is read, with a warning, and closes nothing by absence: a
cut exactly at the end of a value looks like that.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import uuid
from collections.abc import Callable, Generator, Iterator
from typing import Any, BinaryIO

from poam.errors import InputError
from poam.parsers.base import ParseContext

FIELD_LIMIT = 10 * 1024 * 1024
PREAMBLE_LINES = 50
CHUNK = 1 << 16

Where = str | ParseContext
"""Where the rows are read for: the parser's context (warnings are noted there), or only the file
name (then anything that would be a warning about the whole file refuses it)."""

_BOM = b"\xef\xbb\xbf"
# UTF-8 as Western text spells it: a Latin-1 letter or sign (`é` is C3 A9), general punctuation or a
# currency sign (`’` is E2 80 99, `€` E2 82 AC), a byte order mark. In a Windows-1252 file these
# bytes read `Ã©`, `â€™`: mojibake that real Windows-1252 text does not hold, so the file mixes
# encodings. Other sequences that happen to be well-formed UTF-8 are ordinary Windows-1252 text
# (`ß“` is DF 93, `Ö”` D6 94).
_UTF8_SEQUENCE = re.compile(rb"[\xc2\xc3][\x80-\xbf]|\xe2[\x80-\x82][\x80-\xbf]|\xef\xbb\xbf")


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


def head_text(stream: BinaryIO, size: int = CHUNK) -> str:
    """The first `size` bytes as text, for finding a header or a preamble (the position is kept):
    decoded as `rows` decodes the file, a byte order mark removed, anything odd replaced."""
    start = stream.tell()
    data = stream.read(size)
    stream.seek(start)
    data = data.removeprefix(_BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" or not data[: exc.start].isascii():
            return data.decode("utf-8", "replace")
        return data.decode("cp1252", "replace")


def rows(
    stream: BinaryIO, where: Where, looks_like_header: Callable[[list[str]], bool], delimiters: str = ",;\t"
) -> Iterator[dict[str, str]]:
    """Data rows as {normalized header name: value}, after the header row (found by
    `looks_like_header`; any preamble before it is skipped). Blank rows are skipped. Encoding and
    the end of the file are checked as the module says (InputError, or a warning in `where`)."""
    reader = _Reader(stream, where)
    try:
        found = None
        for _ in range(PREAMBLE_LINES):
            line = reader.readline()
            if not line:
                break
            found = header_fields(line, looks_like_header, delimiters)
            if found:
                break
        if not found:
            raise InputError(reader.source, "no header row with the expected columns in the first lines")
        header, delimiter, _index = found
        names = [norm(h) for h in header]
        for row in reader.records(delimiter, len(header)):
            if not any(cell.strip() for cell in row):
                continue
            yield {name: (row[i] if i < len(row) else "") for i, name in enumerate(names) if name}
    finally:
        reader.detach()


def table(stream: BinaryIO, where: Where, delimiter: str = ",") -> Generator[list[str], None, None]:
    """Every record of a CSV file whose first line is its header, the header first (blank rows
    included). Encoding and the end of the file are checked as for `rows`."""
    reader = _Reader(stream, where)
    try:
        yield from reader.records(delimiter, None)
    finally:
        reader.detach()


class _Reader:
    """One reading of a CSV file: its text, and the records after the header."""

    def __init__(self, stream: BinaryIO, where: Where) -> None:
        self.ctx: ParseContext | None = where if isinstance(where, ParseContext) else None
        self.source = where.source if isinstance(where, ParseContext) else where
        csv.field_size_limit(FIELD_LIMIT)
        self._decoded = _Decoded(stream, self.source, self.ctx)
        self._text = io.TextIOWrapper(self._decoded, encoding="utf-8-sig", errors="strict", newline="")
        self._text._CHUNK_SIZE = CHUNK  # type: ignore[attr-defined]  # read as _Decoded decodes
        self._lines = 0
        """Lines read before the records (a preamble, the header)."""

    def detach(self) -> None:
        self._text.detach()  # the caller owns the stream

    def readline(self) -> str:
        line = self._text.readline()
        self._lines += bool(line)
        return line

    def records(self, delimiter: str, fields: int | None) -> Iterator[list[str]]:
        """The records after the lines read so far: with `fields` (the header's field count) the
        data rows; without, the header first. At the end, the last row is checked to be whole."""
        # A line after the text tells how it ends: on its own, the last row was whole; taken into
        # the last row, that row ends inside a quoted value.
        end = f"\x00{uuid.uuid4().hex}\x00"
        reader = csv.reader(itertools.chain(self._text, [end + "\n"]), delimiter=delimiter)
        last: list[str] | None = None
        held: list[str] | None = None  # each record is handed on when the next one is read
        held_line = last_line = 0
        ended = self._lines
        try:
            for row in reader:
                if held is not None:
                    if fields is None:
                        fields = len(held)
                    else:
                        last, last_line = held, held_line
                    yield held
                held, held_line = row, ended + 1
                ended = self._lines + reader.line_num
        except csv.Error as exc:
            raise InputError(self.source, f"bad CSV near line {self._lines + reader.line_num}: {exc}") from None
        if held != [end]:
            raise InputError(
                self.source,
                f"the file ends in the middle of a row: a quoted value of the row on line {held_line} "
                "never closes (truncated?)",
            )
        if self._decoded.ends_with_line_break:
            return
        if last is None:
            if fields is not None:
                self._may_be_cut("rows after its header lost")
            return
        if len(last) < (fields or 0):
            raise InputError(
                self.source,
                f"the file ends in the middle of a row: its last row (line {last_line}) has {len(last)} of the "
                f"header's {fields} fields and no line break (truncated?)",
            )
        self._may_be_cut("the end of its last value, or rows after it, lost")

    def _may_be_cut(self, lost: str) -> None:
        """The file ends without a line break after a whole row (or its header): it may have been
        cut there, or inside the row's last value."""
        if self.ctx is None:
            raise InputError(self.source, "the file does not end with a line break (truncated?)")
        self.ctx.may_be_cut(
            f"the file does not end with a line break: it may have been cut short ({lost}); "
            "it closes nothing by absence"
        )


class _Decoded(io.BufferedIOBase):
    """A CSV file's bytes, checked and handed on as UTF-8: UTF-8 as it is; Windows-1252 (when the
    first byte that is not UTF-8 comes before any other non-ASCII character) converted."""

    def __init__(self, raw: BinaryIO, source: str, ctx: ParseContext | None) -> None:
        super().__init__()
        self._raw = raw
        self._source = source
        self._ctx = ctx
        try:
            self._offset = raw.tell()
        except (OSError, ValueError):
            self._offset = 0
        """The file offset of the next byte not yet decoded."""
        self._line = 1
        """The line number at `_offset`."""
        self._carry = b""
        self._utf8 = False
        """A non-ASCII UTF-8 character (or a byte order mark) was seen: the file is UTF-8."""
        self._legacy: tuple[int, int, int] | None = None
        """Reading as Windows-1252: the first byte that was not UTF-8, its offset and line."""
        self._tail = b""
        """The last bytes read as Windows-1252 (a UTF-8 sequence may begin there)."""
        self._last = b""
        self._first = True
        self._out = b""
        self._pos = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    @property
    def name(self) -> str:
        return self._source

    def read1(self, size: int | None = -1, /) -> bytes:
        while self._pos >= len(self._out) and not self._eof:
            self._out, self._pos = self._fill(), 0
        if size is None or size < 0:
            size = len(self._out)
        piece = self._out[self._pos : self._pos + size] if self._pos or size < len(self._out) else self._out
        self._pos += len(piece)
        return piece

    def read(self, size: int | None = -1, /) -> bytes:
        if size is not None and size >= 0:
            return self.read1(size)
        return b"".join(iter(self.read1, b""))

    def readinto(self, buffer: Any, /) -> int:
        view = memoryview(buffer).cast("B")
        piece = self.read1(len(view))
        view[: len(piece)] = piece
        return len(piece)

    def _fill(self) -> bytes:
        chunk = self._raw.read(CHUNK)
        final = not chunk
        self._eof = final
        data, self._carry = self._carry + chunk, b""
        if self._first and data:
            self._first = False
            if data.startswith(_BOM):
                self._utf8 = True
            elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise InputError(self._source, "UTF-16 text: save the CSV as UTF-8")
        if self._legacy is None:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.reason != "unexpected end of data" or final:
                    self._not_utf8(data, exc, final)
                    head = self._passed(data[: exc.start])
                    return head + self._windows(data[exc.start :])
                data, self._carry = data[: exc.start], data[exc.start :]  # a character the next chunk ends
            if not self._utf8 and not data.isascii():
                self._utf8 = True
            return self._passed(data)
        return self._windows(data)

    @property
    def ends_with_line_break(self) -> bool:
        """Whether the last byte handed on is a line break (once all are read: the file's)."""
        return self._last in (b"\n", b"\r")

    def _passed(self, data: bytes) -> bytes:
        """Bytes handed on as they are (UTF-8)."""
        self._offset += len(data)
        self._line += data.count(b"\n")
        if data:
            self._last = data[-1:]
        return data

    def _at(self, data: bytes, index: int) -> tuple[int, int]:
        """The file offset and line of `data[index]` (data starting at `_offset`)."""
        return self._offset + index, self._line + data.count(b"\n", 0, index)

    def _not_utf8(self, data: bytes, exc: UnicodeDecodeError, final: bool) -> None:
        """The first byte that is not UTF-8: read the file as Windows-1252 from here, or refuse it."""
        offset, line = self._at(data, exc.start)
        byte = data[exc.start]
        if exc.reason == "unexpected end of data" and final and (self._utf8 or not data[: exc.start].isascii()):
            raise InputError(self._source, "the file ends in the middle of a UTF-8 character (truncated?)")
        if self._utf8 or not data[: exc.start].isascii():
            raise InputError(
                self._source,
                f"not UTF-8 text: byte 0x{byte:02X} at offset {offset} (line {line}) follows UTF-8 text; "
                "save the file as UTF-8",
            )
        self._legacy = (byte, offset, line)
        problem = f"not UTF-8 text (byte 0x{byte:02X} at offset {offset}, line {line}): read as Windows-1252"
        if self._ctx is not None and f"file: {problem}" not in self._ctx.report.warnings:
            self._ctx.warn("file", problem)

    def _windows(self, data: bytes) -> bytes:
        """Bytes of a Windows-1252 file, converted to UTF-8."""
        joined = self._tail + data  # a UTF-8 sequence may begin in the bytes before
        m = _UTF8_SEQUENCE.search(joined)
        if m is not None:
            assert self._legacy is not None
            byte, first, first_line = self._legacy
            offset = self._offset - len(self._tail) + m.start()
            line = self._line - self._tail.count(b"\n") + joined.count(b"\n", 0, m.start())
            raise InputError(
                self._source,
                f"the file mixes encodings: UTF-8 text at offset {offset} (line {line}) after byte 0x{byte:02X} "
                f"at offset {first} (line {first_line}), which is not UTF-8; save the file as UTF-8",
            )
        self._tail = joined[-3:]
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            offset, line = self._at(data, exc.start)
            raise InputError(
                self._source,
                f"byte 0x{data[exc.start]:02X} at offset {offset} (line {line}) is neither UTF-8 nor Windows-1252 text",
            ) from None
        self._passed(data)
        return text.encode("utf-8")
