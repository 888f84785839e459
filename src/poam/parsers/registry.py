"""The parser registry and detection of a file's format by its content."""

from __future__ import annotations

import os
from functools import cache
from typing import BinaryIO

import pluggy

from poam import hookspecs
from poam.errors import InputError
from poam.parsers import builtin
from poam.parsers.base import Head, Parser
from poam.parsers.jsonio import shape
from poam.parsers.xmlsafe import prolog, strip_bom

ENTRY_POINT_GROUP = "poam.parsers"
HEAD_SIZE = 64 * 1024


@cache
def plugin_manager() -> pluggy.PluginManager:
    """The plugin manager with built-in parsers and those of installed distributions.

    Set POAM_NO_PLUGINS=1 to load only the built-in ones.
    """
    pm = pluggy.PluginManager("poam")
    pm.add_hookspecs(hookspecs)
    pm.register(builtin)
    if not os.environ.get("POAM_NO_PLUGINS"):
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm


def parsers() -> dict[str, Parser]:
    """Every registered parser by id; a later registration of an id does not replace the first."""
    found: dict[str, Parser] = {}
    for batch in reversed(plugin_manager().hook.poam_parsers()):
        for parser in batch:
            found.setdefault(parser.id, parser)
    return found


def read_head(stream: BinaryIO) -> Head:
    """The start of a stream for sniffing; the stream is put back at its start. JSON that no
    reader would take (nested too deeply, a number too long) has `json.refused` set and no keys:
    `detect` refuses it before any sniffer parses the head."""
    start = stream.tell()
    data = strip_bom(stream.read(HEAD_SIZE))
    stream.seek(start)
    root, _entities = prolog(data)
    return Head(data=data, text=data.decode("utf-8", "replace"), xml_root=root, json=shape(data))


def detect(stream: BinaryIO, source: str, format_id: str | None = None) -> Parser:
    """The parser for this file: the one named by `format_id`, else the one whose sniff says yes."""
    registry = parsers()
    if format_id:
        try:
            return registry[format_id]
        except KeyError:
            raise InputError(source, f"unknown format {format_id!r}; `poam formats` lists them") from None
    head = read_head(stream)
    if not head.data.strip():
        raise InputError(source, "empty file")
    if head.json.refused:  # before any sniffer parses the head
        raise InputError(source, head.json.refused)
    for parser in registry.values():
        if parser.sniff(head):
            return parser
    raise InputError(source, _unrecognised(head))


def _unrecognised(head: Head) -> str:
    """Why a file is not imported, with a hint when it is a file poam reads another way."""
    shape = head.json
    first_line = head.text.split("\n", 1)[0]
    if shape.kind == "object" and {"catalogVersion", "vulnerabilities"} <= shape.keys:
        return "this is the CISA KEV catalog: load it with `poam kev load FILE`"
    if "cveID" in first_line and "dueDate" in first_line:
        return "this is the CISA KEV catalog (CSV): load it with `poam kev load FILE`"
    if head.xml_root == "cci_list":
        return "this is a DISA CCI list: load it with `poam cci load FILE`"
    if head.data.startswith(b"PK\x03\x04") and b"xl/" in head.data[:4096]:
        return (
            "an Excel workbook with no FedRAMP POA&M header row (poam import reads POA&M workbooks): "
            "an Integrated Inventory Workbook is imported with `poam inventory import FILE`"
        )
    if head.xml_root == "plan-of-action-and-milestones" or "plan-of-action-and-milestones" in shape.keys:
        return "an OSCAL POA&M: import it from a file (`poam import FILE.json|FILE.xml`, format oscal-poam)"
    if shape.kind == "array" and head.data.strip().replace(b" ", b"").replace(b"\n", b"") == b"[]":
        return "an empty JSON list: no findings, and nothing tells which tool wrote it (give --format ID)"
    if shape.kind == "object" and not shape.keys and head.data.strip().replace(b" ", b"") == b"{}":
        return "an empty JSON object: no findings, and nothing tells which tool wrote it (give --format ID)"
    if head.xml_root:
        return f"unrecognised XML format (root element <{head.xml_root}>)"
    return "unrecognised file format (not a format `poam formats` lists)"
