"""An OSCAL POA&M in its JSON form written as OSCAL XML.

The element table is the one the reader uses (`parsers.oscal_xml`, made from NIST's OSCAL 1.1.3
metaschema), children in the order of the metaschema's model: flags become attributes, arrays
repeated elements (`related-risks` -> `associated-risk`, `remediations` -> `response`), grouped
arrays get their wrapper (`revisions`), fields with flags their attributes and text. Markdown
becomes OSCAL markup: paragraphs, headings, bulleted and numbered lists, fenced code, and inline
`code`, **strong**, *emphasis* and [links](href). Reading the XML back gives the JSON document
(`tests/exporters/test_oscal_xml.py`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lxml import etree

from poam.parsers.oscal_xml import ROOT, model

NS = "http://csrc.nist.gov/ns/oscal/1.0"
_INLINE = re.compile(r"(`[^`]+`|\*\*[^*]+\*\*|\*[^*\s][^*]*\*|\[[^\]]+\]\([^)\s]+\))")
_BULLET = re.compile(r"^\s*[-*] (.*)$")
_NUMBERED = re.compile(r"^\s*\d+\. (.*)$")
_HEADING = re.compile(r"^(#{1,6}) (.*)$")


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def to_xml(document: dict[str, Any]) -> bytes:
    """The document as OSCAL XML (UTF-8, with an XML declaration)."""
    root = etree.Element(_q(ROOT), nsmap={None: NS})  # type: ignore[dict-item]
    _fill(root, document[ROOT], ROOT)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def write(path: Path, document: dict[str, Any]) -> None:
    """Write the document as OSCAL XML."""
    path.write_bytes(to_xml(document))


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: Any) -> str:
    """A value as XML text: characters XML cannot hold (control characters, lone surrogates)
    become U+FFFD."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _fill(el: etree._Element, value: Any, key: str) -> None:
    spec = model().get(key, {"kind": "generic"})
    if spec["kind"] == "field":
        if spec["flags"] and isinstance(value, dict):
            for xml_name, (json_name, _type) in spec["flags"].items():
                if json_name in value:
                    el.set(xml_name, _text(value[json_name]))
            value = value.get(spec.get("value_key") or "STRVALUE", "")
        _field(el, value, spec["type"])
        return
    if spec["kind"] != "assembly" or not isinstance(value, dict):
        el.text = _text(value) if not isinstance(value, (dict, list)) else ""
        return
    for xml_name, (json_name, _type) in spec["flags"].items():
        if json_name in value:
            el.set(xml_name, _text(value[json_name]))
    for xml_name, (json_key, multi, child_key, _wrapped) in spec["children"].items():
        if json_key not in value:
            continue
        given = value[json_key]
        if child_key.startswith("group:"):
            group = model()[child_key]
            wrapper = etree.SubElement(el, _q(xml_name))
            for item in given if isinstance(given, list) else [given]:
                _fill(etree.SubElement(wrapper, _q(group["item"])), item, group["spec"][2])
        elif multi:
            for item in given if isinstance(given, list) else [given]:
                _fill(etree.SubElement(el, _q(xml_name)), item, child_key)
        else:
            _fill(etree.SubElement(el, _q(xml_name)), given, child_key)


def _field(el: etree._Element, value: Any, kind: str) -> None:
    if kind == "markup-line":
        _inline(el, _text(value))
    elif kind == "markup-multiline":
        _blocks(el, _text(value))
    else:
        el.text = _text(value)


def _inline(el: etree._Element, text: str) -> None:
    """Inline Markdown as markup in `el` (after any children it has)."""
    text = _text(text)
    last: etree._Element | None = None
    for n, part in enumerate(_INLINE.split(text)):
        if not part:
            continue
        if n % 2 == 0:
            if last is None:
                el.text = (el.text or "") + part
            else:
                last.tail = (last.tail or "") + part
            continue
        if part.startswith("`"):
            last = etree.SubElement(el, _q("code"))
            last.text = part[1:-1]
        elif part.startswith("**"):
            last = etree.SubElement(el, _q("strong"))
            last.text = part[2:-2]
        elif part.startswith("*"):
            last = etree.SubElement(el, _q("em"))
            last.text = part[1:-1]
        else:
            label, href = part[1:-1].split("](", 1)
            last = etree.SubElement(el, _q("a"), href=href)
            last.text = label


def _blocks(el: etree._Element, text: str) -> None:
    """Markdown blocks as paragraphs, headings, lists and preformatted text."""
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        lines = block.split("\n")
        if not block.strip():
            continue
        if lines[0].startswith("```"):
            pre = etree.SubElement(el, _q("pre"))
            pre.text = _text("\n".join(lines[1:-1] if lines[-1].startswith("```") else lines[1:]))
        elif all(_BULLET.match(x) for x in lines) or all(_NUMBERED.match(x) for x in lines):
            bullets = all(_BULLET.match(x) for x in lines)
            listed = etree.SubElement(el, _q("ul" if bullets else "ol"))
            for line in lines:
                m = (_BULLET if bullets else _NUMBERED).match(line)
                assert m is not None
                _inline(etree.SubElement(listed, _q("li")), m.group(1))
        elif len(lines) == 1 and _HEADING.match(block):
            m = _HEADING.match(block)
            assert m is not None
            _inline(etree.SubElement(el, _q(f"h{len(m.group(1))}")), m.group(2))
        else:
            _inline(etree.SubElement(el, _q("p")), block)
