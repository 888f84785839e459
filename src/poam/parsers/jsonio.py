"""Reading JSON scan files: whole documents with a size cap, streamed arrays, JSON Lines, and
the first keys of a file for detection."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import ijson

from poam.errors import InputError

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
        while position < end and text[position] in " \t\r\n":
            position += 1
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
        yield from ijson.items(stream, prefix, use_float=True, multiple_values=True)
    except ijson.common.IncompleteJSONError as exc:
        raise InputError(source, f"not valid JSON (truncated?): {exc}") from None
    except ijson.common.JSONError as exc:
        raise InputError(source, f"not valid JSON: {exc}") from None


def lines(stream: BinaryIO, source: str) -> Iterator[Any]:
    """The values of a JSON Lines file, one per non-blank line."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    try:
        for number, line in enumerate(_lines(text, source), start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(source, f"line {number}: not valid JSON: {exc.msg}") from None
    finally:
        text.detach()


def _lines(text: io.TextIOWrapper, source: str) -> Iterator[str]:
    try:
        for line in text:  # noqa: UP028 - `yield from` would close the wrapper with this generator
            yield line
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not UTF-8 text (byte {exc.start})") from None


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


def top_level(stream: BinaryIO, source: str, skip: frozenset[str]) -> Any:
    """A JSON document's top-level object without the members named in `skip`, read as a stream
    (a skipped member, however large, is never built in memory). Non-objects come back whole
    unless large; use it to read a report's header before streaming its big array."""
    builder: Any = None
    depth = 0
    out: dict[str, Any] = {}
    key: str | None = None
    try:
        for _prefix, event, value in ijson.parse(stream, use_float=True):
            if depth == 0 and event != "start_map":
                return None  # not an object
            if event == "start_map" and depth == 0:
                depth = 1
                continue
            if depth == 1 and event == "map_key":
                key = value
                builder = None if value in skip else ijson.ObjectBuilder()
                continue
            if depth == 1 and event == "end_map":
                return out
            if event in ("start_map", "start_array"):
                depth += 1
            if builder is not None:
                builder.event(event, value)
            if event in ("end_map", "end_array"):
                depth -= 1
            if depth == 1 and key is not None:
                if builder is not None:
                    out[key] = builder.value
                key, builder = None, None
    except ijson.common.IncompleteJSONError as exc:
        raise InputError(source, f"not valid JSON (truncated?): {exc}") from None
    except ijson.common.JSONError as exc:
        raise InputError(source, f"not valid JSON: {exc}") from None
    return out
