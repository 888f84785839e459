"""Reading JSON scan files: every document of a file (one, several one after another, or JSON
Lines) with a size cap, streamed arrays and report headers, and the first keys of a file for
detection.

Every reader, and detection, first passes the bytes through a guard (`_Guard`) that refuses JSON
nested more than MAX_DEPTH levels deep and numbers of more than MAX_DIGITS digits in a row, before
any JSON parser sees them: deep nesting costs the prefix-tracking parsers memory quadratic in the
depth, and a number of more than 4,300 digits crashes the C backend of ijson. The streamed readers
use ijson's prefix-free `basic_parse` events, so long keys at depth cost no memory either.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, BinaryIO

import ijson

from poam.errors import InputError

MAX_DEPTH = 512
"""Deepest nesting accepted (no scanner report nests deeper than about 20); well below Python's
recursion limit, so that nothing built from a document recurses out of its stack."""
MAX_DIGITS = 1000
"""Most digits in a row in a JSON number (Python refuses integers of more than 4,300 digits)."""
MAX_DOCUMENT = 512 * 1024 * 1024
"""Largest JSON document read whole; larger ones must be streamed with `items`."""
_NESTED = f"refused: JSON nested more than {MAX_DEPTH} levels deep"
_HUGE_EXPONENT = "refused: a JSON number with an exponent of more than 18 digits"
_SLICE = 64 * 1024
"""Bytes the guard looks at in one step."""

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
"""A string, or the start of one that the bytes cut short."""
_STRING_END = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_EXPONENT = re.compile(rb"[0-9.][eE][-+]?[0-9]{19}")
_DIGITS = b"0123456789"
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


class _Guard:
    """A pre-scan of JSON bytes fed in order, at the speed of bytes methods: tracks strings
    (escapes included) across chunks to find the nesting depth, and refuses (InputError) nesting
    deeper than MAX_DEPTH and digit runs longer than MAX_DIGITS outside strings. Bytes after a
    point where the JSON is not valid may be judged loosely: the parser stops there first."""

    def __init__(self, source: str, max_depth: int = MAX_DEPTH, max_digits: int = MAX_DIGITS) -> None:
        self.source = source
        self.max_depth = max_depth
        self.max_digits = max_digits
        self.block = max(max_digits // 2, 1)
        self.run = re.compile(rb"(?<![0-9])[0-9]{%d}" % (max_digits + 1))
        self.depth = 0
        self.in_string = False
        self.escaped = False
        """The previous chunk ended with a backslash inside a string: this one starts escaped."""
        self.digits = 0
        """Digits at the end of what was fed (inside a string or not)."""

    def feed(self, chunk: bytes) -> None:
        """Look at the next bytes; InputError when they go past a limit."""
        if not chunk:
            return
        if self._may_hold_long_number(chunk):
            carried = 0 if self.in_string else self.digits
            if self.run.search(b"0" * carried + _outside(chunk, self.in_string, self.escaped)):
                raise InputError(self.source, f"refused: a JSON number with more than {self.max_digits} digits")
        tail = len(chunk) - len(chunk.rstrip(_DIGITS))
        self.digits = self.digits + tail if tail == len(chunk) else tail
        data = chunk[1:] if self.escaped else chunk
        if b"\\" in data:
            data = _ESCAPE.sub(b"", data)  # an escaped quote no longer counts
            self.escaped = data.endswith(b"\\")
        else:
            self.escaped = False
        marks = data.translate(None, _NOT_STRUCTURE)  # quotes and brackets only
        if self.in_string:
            marks = b'"' + marks
        if b'"' in marks:
            marks = marks.replace(b'""', b"")  # no bracket between: nothing changes
            if b'"' in marks:
                parts = marks.split(b'"')
                self.in_string = len(parts) % 2 == 0
                marks = b"".join(parts[0::2])  # the brackets outside strings
            else:
                self.in_string = False
        else:
            self.in_string = False
        opens = marks.count(b"[") + marks.count(b"{")
        limit = self.max_depth
        if self.depth + opens > limit and max(accumulate(map(_STEP.__getitem__, marks), initial=self.depth)) > limit:
            raise InputError(self.source, f"refused: JSON nested more than {limit} levels deep")
        self.depth = max(0, self.depth + 2 * opens - len(marks))

    def _may_hold_long_number(self, chunk: bytes) -> bool:
        """Whether more than max_digits digits follow one another here, in a string or not: a
        run of 2 * block - 1 digits holds a whole block aligned on a multiple of `block`."""
        lead = len(chunk) - len(chunk.lstrip(_DIGITS))
        if self.digits + lead > self.max_digits or len(chunk) - len(chunk.rstrip(_DIGITS)) > self.max_digits:
            return True
        block = self.block
        return any(chunk[i : i + block].isdigit() for i in range(0, len(chunk) - block + 1, block))


def _outside(data: bytes, in_string: bool, escaped: bool) -> bytes:
    """The bytes outside JSON strings, each string replaced by a space, given whether `data`
    starts inside a string (and just after its backslash)."""
    if in_string:
        end = _STRING_END.match(data, 1 if escaped else 0)
        if end is None:
            return b""
        data = data[end.end() :]
    return _STRING.sub(b" ", data)


def check(data: bytes, source: str) -> None:
    """Refuse (InputError) JSON bytes nested too deeply or holding a number too long to read."""
    guard = _Guard(source)
    for start in range(0, len(data), _SLICE):
        guard.feed(data[start : start + _SLICE])


def load(stream: BinaryIO, source: str, limit: int = MAX_DOCUMENT) -> Any:
    """The whole JSON document (UTF-8, a byte order mark allowed); InputError when it is not JSON."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(source, f"JSON document larger than {limit // (1024 * 1024)} MiB")
    check(data, source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise InputError(source, "empty file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise InputError(source, _NESTED) from None
    except ValueError as exc:  # a number Python will not convert
        raise InputError(source, f"refused: {_first_line(exc)}") from None


_GAP = re.compile(r"[ \t\r\n\ufeff]*")
"""Blank space between documents, and the byte order mark of each file joined into this one."""


def documents(stream: BinaryIO, source: str, limit: int = MAX_DOCUMENT) -> Iterator[Any]:
    """Every JSON value of the file, in order: one document, several written one after another
    (concatenated pages of an API's output), or JSON Lines (one value per line). Blank space
    between values is skipped; InputError names the value and line where the JSON breaks."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(source, f"JSON larger than {limit // (1024 * 1024)} MiB")
    check(data, source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not UTF-8 text (byte {exc.start})") from None
    del data
    decoder = json.JSONDecoder()
    position, number, end = 0, 0, len(text)
    while True:
        position = _GAP.match(text, position).end()  # type: ignore[union-attr]
        if position >= end:
            break
        number += 1
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            what = f"JSON value {number} is not valid" if number > 1 else "not valid JSON"
            raise InputError(source, f"{what}: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        except RecursionError:
            raise InputError(source, _NESTED) from None
        except ValueError as exc:  # a number Python will not convert
            raise InputError(source, f"refused: {_first_line(exc)}") from None
        yield value
    if number == 0:
        raise InputError(source, "empty file")


def _first_line(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0].split(";", 1)[0]


def _path(prefix: str) -> list[str]:
    return prefix.split(".") if prefix else []


def items(stream: BinaryIO, source: str, prefix: str) -> Iterator[Any]:
    """Stream the values at an ijson prefix (`Results.item`, `runs.item.results.item`) without
    reading the whole file into memory; in every JSON value of the file when several follow one
    another (concatenated documents, JSON Lines). Prefix-free events are followed, so memory
    does not grow with the length of the keys on the way."""
    want = prefix.split(".") if prefix else []
    path: list[str] = []  # the key of the current value at each level (`item` in an array)
    try:
        events = iter(ijson.basic_parse(_NoBom(stream, _Guard(source)), use_float=True, multiple_values=True))
        for event, value in events:
            if event == "map_key":
                path[-1] = value
            elif event in ("end_map", "end_array"):
                path.pop()
            elif len(path) == len(want) and path == want:
                yield _value(event, value, events)
            elif event == "start_map":
                path.append("")
            elif event == "start_array":
                path.append("item")
    except _UNREADABLE as exc:
        raise _refusal(source, exc) from None


def _value(event: str, value: Any, events: Iterator[tuple[str, Any]]) -> Any:
    """The value that starts with this event, built from the events that follow (which it takes)."""
    if event == "start_map":
        current: Any = {}
    elif event == "start_array":
        current = []
    else:
        return value
    stack: list[tuple[Any, Any]] = []
    key: Any = None
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "start_map" or event == "start_array":
            new: Any = {} if event == "start_map" else []
            if type(current) is list:
                current.append(new)
            else:
                current[key] = new
            stack.append((current, key))
            current = new
        elif event == "end_map" or event == "end_array":
            if not stack:
                return current
            current, key = stack.pop()
        elif type(current) is list:
            current.append(value)
        else:
            current[key] = value
    raise ijson.common.IncompleteJSONError("parse error: premature EOF")


_UNREADABLE = (ijson.common.JSONError, UnicodeDecodeError, ValueError, ArithmeticError)
"""What ijson and the number conversions raise on a file that is not valid JSON."""


def _refusal(source: str, exc: Exception) -> InputError:
    """ijson's complaint about a file, as one line."""
    if isinstance(exc, ijson.common.IncompleteJSONError):
        return InputError(source, f"not valid JSON (truncated?): {_one_line(exc)}")
    if isinstance(exc, ijson.common.JSONError):
        return InputError(source, f"not valid JSON: {_one_line(exc)}")
    if isinstance(exc, UnicodeDecodeError):
        return InputError(source, "not valid JSON: a string holds invalid UTF-8 or a lone surrogate escape")
    return InputError(source, f"not valid JSON: a number cannot be read ({_one_line(exc)[:80]})")


def _one_line(exc: Exception) -> str:
    """An exception's message on one line (yajl adds the text around the error on more lines)."""
    text = exc.args[0] if exc.args else ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().split("\n", 1)[0].strip()[:200]


@dataclass(frozen=True)
class Shape:
    """What the start of a JSON file shows: for detection."""

    kind: str | None
    """`object`, `array`, or None when the start is not JSON."""
    keys: frozenset[str] = field(default_factory=frozenset)
    """Top-level keys seen (for an object)."""
    item_keys: frozenset[str] = field(default_factory=frozenset)
    """Keys of the first element (for an array of objects)."""
    lines: bool = False
    """Whether the file looks like JSON Lines (one object per line)."""
    refused: str | None = None
    """Why no JSON reader would take this file (nesting too deep, a number too long): detection
    refuses it with this reason before any parser looks at it."""


def shape(head: bytes) -> Shape:
    """The shape of a JSON document from its first bytes (which may cut it short)."""
    data = head.lstrip()
    if data[:1] not in (b"{", b"["):
        return Shape(None)
    kind = "object" if data[:1] == b"{" else "array"
    try:
        check(data, "")
    except InputError as exc:
        return Shape(kind, refused=exc.problem)
    if _EXPONENT.search(_outside(data, False, False)):  # ijson's Decimal numbers cannot hold it
        return Shape(kind, refused=_HUGE_EXPONENT)
    keys: set[str] = set()
    item_keys: set[str] = set()
    depth = 0
    try:
        for event, value in ijson.basic_parse(io.BytesIO(data), use_float=True):
            if event == "map_key":
                if depth == 1 and kind == "object":
                    keys.add(value)
                elif depth == 2 and kind == "array":  # a map that is an element of the array
                    item_keys.add(value)
            elif event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth == 0 or depth == 1 and kind == "array" and event == "end_map":
                    break  # the document, or the array's first map, is read
    except _UNREADABLE:
        pass
    first_line = data.split(b"\n", 1)[0].strip()
    is_lines = kind == "object" and b"\n{" in data[:65536].replace(b"\r\n", b"\n") and first_line.endswith(b"}")
    return Shape(kind, frozenset(keys), frozenset(item_keys), is_lines)


_TYPES = {"start_map": "dict", "string": "str", "integer": "int", "double": "float", "number": "float"}


def headers(stream: BinaryIO, source: str, big: str) -> list[tuple[dict[str, Any], int]] | None:
    """Each document's top-level members but the array `big` (`Results`), and how many items that
    array holds, read as a stream: the big array is never built in memory, so a report's header
    can be read before its items are streamed with `items`. Several documents one after another
    (or JSON Lines) give one entry each; None when a document is not an object (read such files
    whole). InputError when `big` is there but not a list."""
    out: list[tuple[dict[str, Any], int]] = []
    try:
        events = iter(ijson.basic_parse(_NoBom(stream, _Guard(source)), use_float=True, multiple_values=True))
        for event, _value0 in events:
            if event != "start_map":
                return None
            header: dict[str, Any] = {}
            count = 0
            for event, key in events:
                if event != "map_key":  # the document's end
                    break
                event, value = next(events, ("end_map", None))
                if key != big:
                    header[key] = _value(event, value, events)
                elif event == "start_array":
                    count += _count(events)
                elif event != "null":
                    what = _TYPES.get(event, "bool" if event == "boolean" else event)
                    raise InputError(source, f"{big} is a {what}, not a list")
            out.append((header, count))
    except _UNREADABLE as exc:
        raise _refusal(source, exc) from None
    return out


def _count(events: Iterator[tuple[str, Any]]) -> int:
    """How many values the array just started holds, taking its events."""
    count, depth = 0, 0
    for event, _value1 in events:
        if depth == 0:
            if event == "end_array":
                break
            count += 1
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
    return count


def records(
    stream: BinaryIO,
    source: str,
    envelopes: tuple[str, ...],
    bare: Callable[[dict[str, Any]], bool],
    what: str,
) -> Iterator[Any]:
    """Every record of a file whose documents (one, several one after another, or JSON Lines) are
    each an array of records, an object that holds its records in an array under one of
    `envelopes` (an API page: `{"Findings": [...], "NextToken": ...}`), or a bare record; the
    shape may change from one document to the next. Streamed: records are built one at a time,
    never a whole page. A document that is neither a page nor an array and fails `bare` is not
    this format: InputError `not {what}` (naming the document when it is not the first)."""
    state = "top"  # top | array | map | envelope
    number = 0
    doc: dict[str, Any] = {}
    paged = False
    key: str | None = None
    try:
        events = iter(ijson.basic_parse(_NoBom(stream, _Guard(source)), use_float=True, multiple_values=True))
        for event, value in events:
            if state == "top":
                number += 1
                if event == "start_array":
                    state = "array"
                elif event == "start_map":
                    state, doc, paged = "map", {}, False
                else:
                    raise InputError(source, f"{_nth(number)}not {what} (a JSON {type(value).__name__})")
            elif state in ("array", "envelope"):
                if event == "end_array":
                    state = "top" if state == "array" else "map"
                else:
                    yield _value(event, value, events)
            elif event == "map_key":  # state == "map"
                key = value
            elif event == "end_map":
                state = "top"
                if not paged:
                    if not bare(doc):
                        raise InputError(source, f"{_nth(number)}not {what}")
                    yield doc  # a bare record
            elif event == "start_array" and key in envelopes:
                state, paged = "envelope", True
            else:  # a page's other member
                doc[key or ""] = _value(event, value, events)
    except _UNREADABLE as exc:
        raise _refusal(source, exc) from None


def _nth(number: int) -> str:
    return f"document {number}: " if number > 1 else ""


_BOM = b"\xef\xbb\xbf"


class _NoBom(io.RawIOBase):
    """A stream without the UTF-8 byte order marks that files joined into one (`cat a.json
    b.json`) carry at the start of each part, for the streaming readers; with a guard, every
    byte passes it before the reader gets it."""

    def __init__(self, raw: BinaryIO, guard: _Guard | None = None) -> None:
        self._raw = raw
        self._held = b""
        self._guard = guard

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        while True:
            whole = size is None or size < 0
            chunk = self._raw.read(-1 if size is None or size < 0 else size)
            end = whole or not chunk
            data, self._held = (self._held + chunk).replace(_BOM, b""), b""
            if not end:  # a mark may be cut by this read: hold its first bytes back
                cut = next((n for n in (2, 1) if data.endswith(_BOM[:n])), 0)
                if cut:
                    data, self._held = data[:-cut], data[-cut:]
            if data or end:
                if self._guard is not None:
                    for start in range(0, len(data), _SLICE):
                        self._guard.feed(data[start : start + _SLICE])
                return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
