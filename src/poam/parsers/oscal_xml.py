"""An OSCAL XML POA&M read into the OSCAL JSON form (the same data a JSON POA&M gives).

The mapping comes from NIST's OSCAL 1.1.3 metaschema (`oscal_xml_model.json`, made from the
metaschema modules by the test `tests/parsers/test_oscal_poam.py`, which checks it against them):
for each element, its flags (attributes, typed: integers become numbers), its child elements with
their JSON key (`associated-risk` -> `related-risks`, `response` -> `remediations`, `entry` ->
`entries`) and whether they form an array, grouped wrappers (`revisions`), and fields with flags
(`system-id` -> `{"identifier-type": ..., "id": ...}`). The 1.0.x and 1.2.x XML models name their
elements the same way for everything a POA&M holds. Markup (`markup-line`, `markup-multiline`)
becomes Markdown, as OSCAL JSON writes it. Parts defined in modules not shipped (control-common's
`part` and parameters) and unknown elements are read generically (attributes and children by
name), so the schema check reports them.

Parsing goes through `parsers.xmlsafe` (no entities, no DTD, no network, size limits).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

from poam.errors import InputError
from poam.parsers.xmlsafe import iterparse

ROOT = "plan-of-action-and-milestones"
MODEL_PATH = Path(__file__).with_name("oscal_xml_model.json")
_INTEGERS = {"integer", "positive-integer", "non-negative-integer"}
_INLINE = {"em": "*", "i": "*", "strong": "**", "b": "**", "code": "`", "sub": "~", "sup": "^"}


@cache
def model() -> dict[str, Any]:
    """The element table made from the metaschema."""
    return dict(json.loads(MODEL_PATH.read_text(encoding="utf-8")))


def load(stream: BinaryIO, source: str) -> dict[str, Any]:
    """The document in its JSON form: `{"plan-of-action-and-milestones": {...}}`."""
    root = None
    for _event, element in iterparse(stream, source, tags=("{*}" + ROOT,)):
        root = element
    if root is None:
        raise InputError(source, f"not an OSCAL POA&M (no <{ROOT}> element)")
    return {ROOT: convert(root, ROOT)}


def _elements(el: etree._Element) -> list[etree._Element]:
    """The child elements (comments and processing instructions left out)."""
    return [c for c in el if isinstance(c.tag, str)]


def _name(el: etree._Element) -> str:
    return etree.QName(el).localname


def _typed(value: str, kind: str) -> Any:
    value = value.strip()
    if kind in _INTEGERS:
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "decimal":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean":
        return value in ("true", "1")
    return value


def convert(el: etree._Element, key: str) -> Any:
    """The element in its JSON form, by the model's definition `key`."""
    spec = model().get(key, {"kind": "generic"})
    if spec["kind"] == "generic":
        return _generic(el)
    out: dict[str, Any] = {}
    for attr, raw in el.attrib.items():
        name = etree.QName(attr).localname
        flag = spec["flags"].get(name)
        out[flag[0] if flag else name] = _typed(str(raw), flag[1]) if flag else str(raw)
    if spec["kind"] == "field":
        value = _field_value(el, spec["type"])
        if not spec["flags"]:
            return value
        out[spec.get("value_key") or "STRVALUE"] = value
        return out
    for child in _elements(el):
        name = _name(child)
        found = spec["children"].get(name)
        if found is None:
            out.setdefault(name, []).append(_generic(child))
            continue
        json_key, multi, child_key, _wrapped = found
        if child_key.startswith("group:"):
            group = model()[child_key]
            item_key = group["spec"][2]
            out.setdefault(json_key, []).extend(
                convert(c, item_key) for c in child if isinstance(c.tag, str) and _name(c) == group["item"]
            )
        elif multi:
            out.setdefault(json_key, []).append(convert(child, child_key))
        else:
            out[json_key] = convert(child, child_key)
    return out


def _field_value(el: etree._Element, kind: str) -> Any:
    if kind == "markup-line":
        return _squash(_inline(el))
    if kind == "markup-multiline":
        return markdown(el)
    return _typed(el.text or "", kind)


def _generic(el: etree._Element) -> Any:
    """An element no definition covers: attributes and children by name, else its text."""
    kids = [c for c in el if isinstance(c.tag, str)]
    if not kids and not el.attrib:
        return (el.text or "").strip()
    out: dict[str, Any] = {etree.QName(a).localname: v for a, v in el.attrib.items()}
    for c in kids:
        out.setdefault(_name(c), []).append(_generic(c))
    if (el.text or "").strip():
        out["value"] = (el.text or "").strip()
    return out


def _inline(el: etree._Element) -> str:
    """Inline markup as Markdown."""
    parts = [el.text or ""]
    for c in el:
        if isinstance(c.tag, str):
            name = _name(c)
            inner = _inline(c)
            if name in _INLINE:
                mark = _INLINE[name]
                parts.append(f"{mark}{inner}{mark}")
            elif name == "a":
                parts.append(f"[{inner}]({c.get('href', '')})")
            elif name == "q":
                parts.append(f'"{inner}"')
            elif name == "img":
                parts.append(f"![{c.get('alt', '')}]({c.get('src', '')})")
            elif name == "insert":
                parts.append(f"{{{{ insert: {c.get('type', 'param')}, {c.get('id-ref', '')} }}}}")
            elif name == "br":
                parts.append("\n")
            else:
                parts.append(inner)
        parts.append(c.tail or "")
    return "".join(parts)


def _lines(text: str) -> str:
    """A paragraph's text: spaces squashed on each line, its line breaks kept (Markdown soft breaks)."""
    return "\n".join(squashed for line in text.split("\n") if (squashed := _squash(line)))


def _squash(text: str) -> str:
    return " ".join(text.split())


def markdown(el: etree._Element) -> str:
    """Block markup (paragraphs, headings, lists, preformatted text, tables) as Markdown."""
    blocks: list[str] = []
    loose = _squash(el.text or "")
    if loose:
        blocks.append(loose)
    for c in el:
        if isinstance(c.tag, str):
            block = _block(c, 0)
            if block:
                blocks.append(block)
        if _squash(c.tail or ""):
            blocks.append(_squash(c.tail or ""))
    return "\n\n".join(blocks)


def _block(el: etree._Element, depth: int) -> str:
    name = _name(el)
    if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
        return "#" * int(name[1]) + " " + _squash(_inline(el))
    if name in ("ul", "ol"):
        lines = []
        for n, li in enumerate((c for c in el if isinstance(c.tag, str)), start=1):
            mark = f"{n}." if name == "ol" else "-"
            text = _squash(_inline_only(li))
            lines.append("  " * depth + f"{mark} {text}")
            for sub in li:
                if isinstance(sub.tag, str) and _name(sub) in ("ul", "ol"):
                    lines.append(_block(sub, depth + 1))
        return "\n".join(lines)
    if name == "pre":
        return "```\n" + "".join(str(t) for t in el.itertext()).strip("\n") + "\n```"
    if name == "blockquote":
        return "\n".join("> " + line for line in markdown(el).split("\n"))
    if name == "table":
        rows = list(el.iter("{*}tr", "tr"))
        lines = []
        for n, row in enumerate(rows):
            cells = [_squash(_inline(c)) for c in row if isinstance(c.tag, str)]
            lines.append("| " + " | ".join(cells) + " |")
            if n == 0:
                lines.append("|" + "---|" * len(cells))
        return "\n".join(lines)
    return _lines(_inline(el))


def _inline_only(li: etree._Element) -> str:
    """A list item's own text, without its nested lists."""
    parts = [li.text or ""]
    for c in li:
        if isinstance(c.tag, str) and _name(c) in ("ul", "ol"):
            parts.append(c.tail or "")
            continue
        if isinstance(c.tag, str):
            inner = _inline(c)
            mark = _INLINE.get(_name(c), "")
            parts.append(f"{mark}{inner}{mark}")
        parts.append(c.tail or "")
    return "".join(parts)
