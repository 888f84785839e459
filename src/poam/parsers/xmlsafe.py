"""The one safe way to stream XML: lxml iterparse with entities, DTDs and network off.

Documents that declare entities are refused before parsing (XXE, billion laughs);
external DTDs are never loaded; libxml2's size limits stay on (huge_tree off).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from lxml import etree

from poam.errors import InputError

PROLOG_LIMIT = 1 << 20
_NAME = re.compile(rb"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_BOMS = (b"\xef\xbb\xbf",)


def strip_bom(data: bytes) -> bytes:
    """The bytes without a UTF-8 byte order mark."""
    for bom in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :]
    return data


def prolog(data: bytes) -> tuple[str | None, bool]:
    """The root element's local name (None when not XML or not reached) and whether entities
    are declared in the document type declaration."""
    data = strip_bom(data)
    pos, end, entities = 0, len(data), False
    while pos < end:
        while pos < end and data[pos : pos + 1] in b" \t\r\n":
            pos += 1
        if data.startswith(b"<?", pos):
            close = data.find(b"?>", pos)
            if close < 0:
                return None, entities
            pos = close + 2
        elif data.startswith(b"<!--", pos):
            close = data.find(b"-->", pos)
            if close < 0:
                return None, entities
            pos = close + 3
        elif data.startswith(b"<!DOCTYPE", pos):
            close, has_entities = _doctype_end(data, pos)
            entities = entities or has_entities
            if close < 0:
                return None, entities
            pos = close
        elif data.startswith(b"<", pos):
            m = _NAME.match(data, pos)
            return (m.group(2).decode("ascii", "replace") if m else None), entities
        else:
            return None, entities
    return None, entities


def _doctype_end(data: bytes, pos: int) -> tuple[int, bool]:
    bracket = data.find(b"[", pos)
    gt = data.find(b">", pos)
    if bracket < 0 or (0 <= gt < bracket):
        return (gt + 1 if gt >= 0 else -1), False
    close = data.find(b"]", bracket)
    subset = data[bracket : close if close >= 0 else len(data)]
    has_entities = b"<!ENTITY" in subset
    if close < 0:
        return -1, has_entities
    gt = data.find(b">", close)
    return (gt + 1 if gt >= 0 else -1), has_entities


def check_prolog(stream: BinaryIO, source: str) -> None:
    """Refuse a document that declares entities. Leaves the stream at its start, or at the XML
    declaration when comments come before it (Nmap and SCC write such files; libxml2 refuses them)."""
    start = stream.tell()
    data = stream.read(PROLOG_LIMIT)
    stream.seek(start)
    root, entities = prolog(data)
    if entities:
        raise InputError(source, "XML entity declarations are not accepted (possible XXE or entity expansion)")
    if root is None:
        raise InputError(source, "no XML root element within the first 1 MiB")
    declaration = data.find(b"<?xml")
    if declaration > 0 and data[:declaration].strip().startswith((b"<!--", b"\xef\xbb\xbf<!--")):
        stream.seek(start + declaration)


def iterparse(
    stream: BinaryIO,
    source: str,
    tags: Sequence[str],
    events: Sequence[str] = ("end",),
) -> Iterator[tuple[str, etree._Element]]:
    """Stream (event, element) pairs for the given tags; XML errors become InputError."""
    check_prolog(stream, source)
    parser = etree.iterparse(
        stream,
        events=tuple(events),
        tag=tuple(tags),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        yield from parser
    except etree.XMLSyntaxError as exc:
        message = str(exc.msg)
        if "limit" in message.lower() or "amplification" in message.lower():
            detail = message.replace(", try XML_PARSE_HUGE", "").replace("Resource limit exceeded: ", "")
            raise InputError(source, f"refused: the XML exceeds a safety limit ({detail})") from None
        raise InputError(source, f"not well-formed XML: {message}") from None


def release(element: etree._Element) -> None:
    """Free a processed element and the siblings before it, keeping memory flat."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
