"""The one safe way to stream XML: lxml iterparse with entities, DTDs and network off.

Documents that declare entities are refused before parsing (XXE, billion laughs), by a scan of the
prolog that reads comments, processing instructions and the document type declaration as XML
does, and again by what the parser itself recorded (the internal DTD) at its first event. External
DTDs are never loaded; libxml2's size limits stay on (huge_tree off). The bytes fed to the parser
are watched as they pass: NUL bytes are refused at once (a damaged, zero-filled file), and so is any
stretch the parser would have to hold whole before it could go on (a tag, comment, processing
instruction or CDATA section longer than MAX_TOKEN), so memory stays bounded whatever follows a
valid start.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from lxml import etree

from poam.errors import InputError

PROLOG_LIMIT = 1 << 20
MAX_TOKEN = 16 << 20
"""Longest stretch of a document without markup, and longest comment, processing instruction or
CDATA section (libxml2 refuses text, comments and CDATA of more than 10 MB anyway, but only after
buffering them whole)."""
_NAME = re.compile(rb"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_BOMS = (b"\xef\xbb\xbf",)
_BLANK = re.compile(rb"[ \t\r\n]*")
_DOCTYPE_MARK = re.compile(rb"[\"'\[\]>]|<!--|<\?|<!ENTITY")
_ENTITIES = "XML entity declarations are not accepted (possible XXE or entity expansion)"


def strip_bom(data: bytes) -> bytes:
    """The bytes without a UTF-8 byte order mark."""
    for bom in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :]
    return data


@dataclass(frozen=True)
class _Prolog:
    root: str | None
    """The root element's local name; None when not XML or not reached."""
    entities: bool
    """Entities are declared in the document type declaration."""
    declaration: int
    """Where the XML declaration starts when only blank space and comments come before it (-1:
    no such declaration)."""
    start: int
    """Where the document starts: after a byte order mark."""


def prolog(data: bytes) -> tuple[str | None, bool]:
    """The root element's local name (None when not XML or not reached) and whether entities
    are declared in the document type declaration."""
    found = _scan(data)
    return found.root, found.entities


def _scan(data: bytes) -> _Prolog:
    """Read the prolog as XML does: blank space, comments (`<!-->` does not end one), processing
    instructions and the document type declaration (quoted literals, comments and processing
    instructions in its internal subset included), up to the root element's start tag."""
    start = len(data) - len(strip_bom(data))
    pos, end, entities, declaration = start, len(data), False, -1
    first = True  # only blank space and comments so far

    def stop(root: str | None = None) -> _Prolog:
        return _Prolog(root, entities, declaration, start)

    while True:
        pos = _BLANK.match(data, pos).end()  # type: ignore[union-attr]
        if pos >= end:
            return stop()
        if data.startswith(b"<?", pos):
            close = data.find(b"?>", pos + 2)
            if close < 0:
                return stop()
            if first and re.match(rb"<\?xml[ \t\r\n]", data[pos : pos + 6]):
                declaration = pos
            pos, first = close + 2, False
        elif data.startswith(b"<!--", pos):
            close = data.find(b"-->", pos + 4)
            if close < 0:
                return stop()
            pos = close + 3
        elif data.startswith(b"<!DOCTYPE", pos):
            pos, has_entities = _doctype_end(data, pos + 9)
            entities, first = entities or has_entities, False
            if pos < 0:
                return stop()
        elif data.startswith(b"<", pos):
            m = _NAME.match(data, pos)
            return stop(m.group(2).decode("ascii", "replace") if m else None)
        else:
            return stop()


def _doctype_end(data: bytes, pos: int) -> tuple[int, bool]:
    """Where the document type declaration that goes on at `pos` ends (-1: not in `data`), and
    whether it declares entities."""
    subset, entities = False, False
    while True:
        m = _DOCTYPE_MARK.search(data, pos)
        if m is None:
            return -1, entities
        mark, pos = m.group(), m.end()
        if mark in (b'"', b"'", b"<!--", b"<?"):
            close = data.find({b"<!--": b"-->", b"<?": b"?>"}.get(mark, mark), pos)
            if close < 0:
                return -1, entities
            pos = close + (1 if mark in (b'"', b"'") else 3 if mark == b"<!--" else 2)
        elif mark == b"<!ENTITY":
            entities = True
        elif mark in (b"[", b"]"):
            subset = mark == b"["
        elif not subset:  # ">"
            return pos, entities


def check_prolog(stream: BinaryIO, source: str) -> None:
    """Refuse a document that declares entities. Leaves the stream at its start, or at the XML
    declaration when comments come before it (Nmap and SCC write such files; libxml2 refuses them)."""
    start = stream.tell()
    data = stream.read(PROLOG_LIMIT)
    stream.seek(start)
    found = _scan(data)
    if found.entities:
        raise InputError(source, _ENTITIES)
    if found.declaration >= 0:
        check_encoding(data[found.declaration : found.declaration + 200], source)
    if found.root is None:
        raise InputError(source, "no XML root element within the first 1 MiB")
    if found.declaration > found.start:
        stream.seek(start + found.declaration)


_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_ASCII_SUPERSETS = re.compile(r"(utf-?8|us-?ascii|ascii|iso[-_]?8859-\d{1,2}|latin-?\d|windows-125\d|cp125\d)", re.I)


def check_encoding(declaration: bytes, source: str) -> None:
    """Refuse an XML declaration naming an encoding in which the checks on bytes above could be
    fooled (UTF-7 spells `<!ENTITY` as `<!+AEU-NTITY`): only UTF-8 and the single-byte encodings
    that keep ASCII as it is are accepted. `declaration` starts at `<?xml`."""
    m = _ENCODING.match(declaration)
    if m is not None and not _ASCII_SUPERSETS.fullmatch(m.group(1).decode("ascii")):
        raise InputError(
            source, f"refused: XML in the encoding {m.group(1).decode('ascii')!r} (only UTF-8 and ASCII-based)"
        )


def iterparse(
    stream: BinaryIO,
    source: str,
    tags: Sequence[str],
    events: Sequence[str] = ("end",),
) -> Iterator[tuple[str, etree._Element]]:
    """Stream (event, element) pairs for the given tags; XML errors become InputError."""
    check_prolog(stream, source)
    parser = etree.iterparse(
        _Watched(stream, source),
        events=tuple(events),
        tag=tuple(tags),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    checked = False
    try:
        for event, element in parser:
            if not checked:
                _refuse_declared_entities(element.getroottree(), source)
                checked = True
            yield event, element
        root = parser.root
        if not checked and root is not None:
            _refuse_declared_entities(root.getroottree(), source)
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


def _refuse_declared_entities(tree: etree._ElementTree, source: str) -> None:
    """What the parser recorded, whatever the prolog scan saw: a DTD that declares entities."""
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _entity in dtd.iterentities()):  # type: ignore[attr-defined]
        raise InputError(source, _ENTITIES)


_SPECIAL = re.compile(rb"<(?:!--|\?|!\[CDATA\[)")
_CLOSE = {b"<!--": b"-->", b"<?": b"?>", b"<![CDATA[": b"]]>"}
_KIND = {b"-->": "comment", b"?>": "processing instruction", b"]]>": "CDATA section"}
_HOLD = len(b"<![CDATA[") - 1
"""Bytes kept back from one read to the next, where a mark may be cut."""


class _Watched(io.RawIOBase):
    """The stream as the XML parser reads it, watched: NUL bytes, more than MAX_TOKEN bytes
    without a `<`, and a comment, processing instruction or CDATA section longer than MAX_TOKEN
    are refused (InputError) before the parser gets them, as libxml2 would hold them whole."""

    def __init__(self, raw: BinaryIO, source: str) -> None:
        self._raw = raw
        self._source = source
        self._held = b""
        self._close: bytes | None = None
        """The end of the comment, processing instruction or CDATA section we are in."""
        self._token = 0
        """Its length so far."""
        self._plain = 0
        """Bytes since the last `<` outside those."""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        if b"\x00" in data:
            raise InputError(self._source, "refused: NUL bytes in the XML (a damaged or zero-filled file?)")
        self._look(data, end=not data or size is None or size < 0)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _look(self, data: bytes, end: bool) -> None:
        buf = self._held + data
        limit = len(buf) if end else max(len(buf) - _HOLD, 0)
        pos = 0
        while pos < limit:
            if self._close is not None:
                at = buf.find(self._close, pos)
                if at < 0 or at >= limit:
                    self._grow(limit - pos)
                    pos = limit
                    break
                self._grow(at + len(self._close) - pos)
                pos, self._close, self._plain = at + len(self._close), None, 0
                continue
            m = _SPECIAL.search(buf, pos)
            stop = m.start() if m is not None and m.start() < limit else limit
            lt = buf.rfind(b"<", pos, stop)
            self._plain = stop - lt - 1 if lt >= 0 else self._plain + stop - pos
            if self._plain > MAX_TOKEN:
                what = f"more than {MAX_TOKEN >> 20} MiB of XML without markup"
                raise InputError(self._source, f"refused: {what} (a damaged file, or not XML)")
            if stop == limit:
                pos = limit
                break
            assert m is not None
            self._close, self._token, pos = _CLOSE[m.group()], 0, m.end()
            self._grow(m.end() - m.start())
        self._held = buf[pos:]

    def _grow(self, size: int) -> None:
        self._token += size
        if self._token > MAX_TOKEN:
            kind = _KIND.get(self._close or b"", "token")
            raise InputError(self._source, f"refused: an XML {kind} longer than {MAX_TOKEN >> 20} MiB")
