"""Reading JSON scan files: every document of a file (one, several one after another, or JSON
Lines) with a size cap, streamed arrays and report headers, and the first keys of a file for
detection."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import ijson

from poam.errors import InputError

MAX_DEPTH = 1000
"""Deepest nesting `records` builds (no scanner report nests anywhere near it)."""
MAX_DOCUMENT = 512 * 1024 * 1024
"""Largest JSON document read whole; larger ones must be streamed with `items`."""


def load(stream: BinaryIO, source: str, limit: int = MAX_DOCUMENT) -> Any:
    """The whole JSON document (UTF-8, a byte order mark allowed); InputError when it is not JSON."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(source, f"JSON document larger than {limit // (1024 * 1024)} MiB")
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
        raise InputError(source, "JSON nested too deeply") from None


_GAP = re.compile(r"[ \t\r\n\ufeff]*")
"""Blank space between documents, and the byte order mark of each file joined into this one."""


def documents(stream: BinaryIO, source: str, limit: int = MAX_DOCUMENT) -> Iterator[Any]:
    """Every JSON value of the file, in order: one document, several written one after another
    (concatenated pages of an API's output), or JSON Lines (one value per line). Blank space
    between values is skipped; InputError names the value and line where the JSON breaks."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(source, f"JSON larger than {limit // (1024 * 1024)} MiB")
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
            raise InputError(source, "JSON nested too deeply") from None
        yield value
    if number == 0:
        raise InputError(source, "empty file")


def items(stream: BinaryIO, source: str, prefix: str) -> Iterator[Any]:
    """Stream the values at an ijson prefix (`Results.item`, `runs.item.results.item`) without
    reading the whole file into memory; in every JSON value of the file when several follow one
    another (concatenated documents, JSON Lines)."""
    try:
        yield from ijson.items(_NoBom(stream), prefix, use_float=True, multiple_values=True)
    except ijson.common.IncompleteJSONError as exc:
        raise InputError(source, f"not valid JSON (truncated?): {exc}") from None
    except ijson.common.JSONError as exc:
        raise InputError(source, f"not valid JSON: {exc}") from None


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


def shape(head: bytes) -> Shape:
    """The shape of a JSON document from its first bytes (which may cut it short)."""
    data = head.lstrip()
    if data[:1] not in (b"{", b"["):
        return Shape(None)
    kind = "object" if data[:1] == b"{" else "array"
    keys: set[str] = set()
    item_keys: set[str] = set()
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(data)):
            if event == "map_key":
                if prefix == "":
                    keys.add(value)
                elif prefix == "item":
                    item_keys.add(value)
            elif event == "end_map" and prefix == "" and kind == "object" or event == "end_map" and prefix == "item":
                break
    except (ijson.common.JSONError, ijson.common.IncompleteJSONError):
        pass
    first_line = data.split(b"\n", 1)[0].strip()
    is_lines = kind == "object" and b"\n{" in data[:65536].replace(b"\r\n", b"\n") and first_line.endswith(b"}")
    return Shape(kind, frozenset(keys), frozenset(item_keys), is_lines)


_STARTS = frozenset({"start_map", "start_array", "null", "boolean", "integer", "double", "number", "string"})
_TYPES = {"start_map": "dict", "string": "str", "integer": "int", "double": "float", "number": "float"}


def headers(stream: BinaryIO, source: str, big: str) -> list[tuple[dict[str, Any], int]] | None:
    """Each document's top-level members but the array `big` (`Results`), and how many items that
    array holds, read as a stream: the big array is never built in memory, so a report's header
    can be read before its items are streamed with `items`. Several documents one after another
    (or JSON Lines) give one entry each; None when a document is not an object (read such files
    whole). InputError when `big` is there but not a list."""
    out: list[tuple[dict[str, Any], int]] = []
    header: dict[str, Any] = {}
    depth, count = 0, 0
    key: str | None = None
    builder: Any = None
    item = f"{big}.item"
    try:
        for prefix, event, value in ijson.parse(_NoBom(stream), use_float=True, multiple_values=True):
            if depth == 0:
                if event != "start_map":
                    return None
                header, count, depth = {}, 0, 1
                continue
            if depth == 1 and event == "map_key":
                key = value
                builder = None if value == big else ijson.ObjectBuilder()
                continue
            if depth == 1 and event == "end_map":
                out.append((header, count))
                depth = 0
                continue
            if depth == 1 and key == big and event not in ("start_array", "null"):
                what = _TYPES.get(event, "bool" if event == "boolean" else event)
                raise InputError(source, f"{big} is a {what}, not a list")
            if depth == 2 and key == big and prefix == item and event in _STARTS:
                count += 1
            if event in ("start_map", "start_array"):
                depth += 1
            if builder is not None:
                builder.event(event, value)
            if event in ("end_map", "end_array"):
                depth -= 1
            if depth == 1 and key is not None:
                if builder is not None:
                    header[key] = builder.value
                key, builder = None, None
    except ijson.common.IncompleteJSONError as exc:
        raise InputError(source, f"not valid JSON (truncated?): {exc}") from None
    except ijson.common.JSONError as exc:
        raise InputError(source, f"not valid JSON: {exc}") from None
    return out


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
    builder: Any = None
    nest = 0
    into_doc = False
    try:
        for event, value in ijson.basic_parse(_NoBom(stream), use_float=True, multiple_values=True):
            if builder is not None:  # building one record, or a page's other member
                builder.event(event, value)
                if event in ("start_map", "start_array"):
                    nest += 1
                    if nest > MAX_DEPTH:
                        raise InputError(source, f"JSON nested more than {MAX_DEPTH} levels deep")
                elif event in ("end_map", "end_array"):
                    nest -= 1
                    if nest == 0:
                        if into_doc:
                            doc[key or ""] = builder.value
                        else:
                            yield builder.value
                        builder = None
                continue
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
                elif event in ("start_map", "start_array"):
                    builder, nest, into_doc = ijson.ObjectBuilder(), 1, False
                    builder.event(event, value)
                else:
                    yield value
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
            elif event in ("start_map", "start_array"):
                builder, nest, into_doc = ijson.ObjectBuilder(), 1, True
                builder.event(event, value)
            else:
                doc[key or ""] = value
    except ijson.common.IncompleteJSONError as exc:
        raise InputError(source, f"not valid JSON (truncated?): {exc}") from None
    except ijson.common.JSONError as exc:
        raise InputError(source, f"not valid JSON: {exc}") from None


def _nth(number: int) -> str:
    return f"document {number}: " if number > 1 else ""


_BOM = b"\xef\xbb\xbf"


class _NoBom(io.RawIOBase):
    """A stream without the UTF-8 byte order marks that files joined into one (`cat a.json
    b.json`) carry at the start of each part, for the streaming readers."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._held = b""

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
                return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
