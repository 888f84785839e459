#!/usr/bin/env python3
"""Make src/poam/data/nist-800-53r5-controls.txt, the NIST SP 800-53 Rev 5 control list poam
checks user-entered control ids against, from NIST's OSCAL catalog (JSON).

    python scripts/make-800-53-list.py NIST_SP-800-53_rev5_catalog.json [--release NOTE] [-o OUT]

Every control and control enhancement of the catalog becomes one line, in poam's form (`ac-2.1`
-> `AC-2(1)`), with `withdrawn` and what it was incorporated into or moved to (a control, a
statement part such as `AC-2k`, or a whole family such as `SR`).

Releases of SP 800-53 Rev 5 after the source file's may add controls. LATER_RELEASES lists the
ones NIST's release notes name (typed by hand); those missing from the source are added and marked
in the header, so a list made from the newest catalog needs no such addition. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "src" / "poam" / "data" / "nist-800-53r5-controls.txt"

LATER_RELEASES: dict[str, tuple[str, ...]] = {
    # SP 800-53 Rev 5 Release 5.1.1 (2023-11-07): IA-13 Identity Providers and Authorization Servers
    # and its enhancements (1) Protection of Cryptographic Keys, (2) Verification of Identity
    # Assertions and Access Tokens, (3) Token Management.
    "5.1.1": ("IA-13", "IA-13(1)", "IA-13(2)", "IA-13(3)"),
    # SP 800-53 Rev 5 Release 5.2.0 (2025-08-27, for Executive Order 14306): SA-15(13) Logging
    # Syntax, SA-24 Design for Cyber Resiliency, SI-2(7) Root Cause Analysis.
    "5.2.0": ("SA-15(13)", "SA-24", "SI-2(7)"),
}

_OSCAL_ID = re.compile(r"^([a-z]{2})-(\d+)(?:\.(\d+))?$")
_PART = re.compile(r"^([a-z]{2})-(\d+)(?:\.(\d+))?_smt((?:\.[a-z0-9]+)*)$")
_POAM_ID = re.compile(r"^([A-Z]{2})-(\d+)(?:\((\d+)\))?$")


def poam_id(oscal_id: str) -> str:
    """`ac-2` -> `AC-2`, `ac-2.1` -> `AC-2(1)`."""
    m = _OSCAL_ID.match(oscal_id)
    if not m:
        raise ValueError(f"not a control id: {oscal_id!r}")
    family, number, enhancement = m.group(1).upper(), int(m.group(2)), m.group(3)
    return f"{family}-{number}({int(enhancement)})" if enhancement else f"{family}-{number}"


def target(href: str, families: set[str]) -> str:
    """A link's target as NIST writes it: a control (`SR-1`), a statement part (`AC-2k`,
    `AC-2(4)a.1`) or a family (`SR`)."""
    ref = href.removeprefix("#")
    if ref in families:
        return ref.upper()
    if _OSCAL_ID.match(ref):
        return poam_id(ref)
    m = _PART.match(ref)
    if m:
        control = poam_id(ref.split("_smt", 1)[0])
        return control + m.group(4).lstrip(".")
    raise ValueError(f"unexpected link target {href!r}")


def _key(control: str) -> tuple[str, int, int]:
    m = _POAM_ID.match(control)
    assert m, control
    return m.group(1), int(m.group(2)), int(m.group(3) or 0)


def rows(catalog: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(id, status, relation, targets) for each control and enhancement."""
    families = {g["id"] for g in catalog["groups"]}
    found: list[tuple[str, str, str, str]] = []

    def walk(controls: list[dict[str, Any]], depth: int) -> None:
        for control in controls:
            if depth > 1:
                raise ValueError(f"nested deeper than an enhancement: {control['id']}")
            props = {p["name"]: p.get("value") for p in control.get("props", [])}
            label = props.get("label")
            ident = poam_id(control["id"])
            if label and label.replace(" ", "") != ident:
                raise ValueError(f"label {label!r} does not match id {control['id']!r}")
            if props.get("status") == "withdrawn":
                relations: dict[str, list[str]] = {}
                for link in control.get("links", []):
                    if link["rel"] in ("incorporated-into", "moved-to"):
                        relations.setdefault(link["rel"], []).append(target(link["href"], families))
                if len(relations) > 1:
                    raise ValueError(f"{control['id']} is both incorporated into and moved to controls")
                rel, where = next(iter(relations.items()), ("", []))
                found.append((ident, "withdrawn", rel, ",".join(where)))
            else:
                found.append((ident, "active", "", ""))
            walk(control.get("controls", []), depth + 1)

    for group in catalog["groups"]:
        walk(group.get("controls", []), 0)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", type=Path, help="NIST_SP-800-53_rev5_catalog.json (OSCAL JSON)")
    parser.add_argument("--origin", default="", help="where the source file was taken from, for the header")
    parser.add_argument("-o", "--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    raw = args.source.read_bytes()
    catalog = json.loads(raw)["catalog"]
    meta = catalog["metadata"]
    found = rows(catalog)
    ids = {r[0] for r in found}
    if len(ids) != len(found):
        raise SystemExit("duplicate control ids in the source")
    added: list[str] = []
    for release, controls in LATER_RELEASES.items():
        for control in controls:
            if control not in ids:
                found.append((control, "active", "", ""))
                ids.add(control)
                added.append(f"{control} ({release})")
    found.sort(key=lambda r: _key(r[0]))

    base = sum(1 for r in found if "(" not in r[0])
    withdrawn = sum(1 for r in found if r[1] == "withdrawn")
    header = [
        "# NIST SP 800-53 Revision 5 controls and control enhancements, one a line.",
        "# Generated by scripts/make-800-53-list.py; do not edit by hand.",
        f"# Source: {args.source.name}, NIST OSCAL catalog {meta.get('title', '')!s}",
        f"#   version {meta.get('version')}, last-modified {meta.get('last-modified')},"
        f" uuid {catalog.get('uuid')}, oscal-version {meta.get('oscal-version')}",
        f"#   SHA-256 {hashlib.sha256(raw).hexdigest()}",
    ]
    if args.origin:
        header.append(f"#   taken from {args.origin}")
    if added:
        header.append("# Added from NIST's release notes of later releases (not in the source): " + ", ".join(added))
    header += [
        f"# {len(found)} entries: {base} controls and {len(found) - base} enhancements; {withdrawn} withdrawn.",
        "# Columns (tab-separated): id, active|withdrawn, incorporated-into|moved-to, targets",
        "#   (targets: a control, a statement part such as AC-2k, or a whole family such as SR).",
    ]
    lines = header + ["\t".join(r).rstrip("\t") for r in found]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(found)} entries ({base} controls, {withdrawn} withdrawn)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
