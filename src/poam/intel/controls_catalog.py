"""The NIST SP 800-53 Rev 5 control list shipped in the package (`data/nist-800-53r5-controls.txt`,
made by scripts/make-800-53-list.py from NIST's OSCAL catalog; its header names the source and
its SHA-256). User-entered control ids are checked against it. Nothing is fetched."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from poam.domain.controls import ControlCatalog, parse_catalog

RESOURCE = "nist-800-53r5-controls.txt"


@cache
def controls_catalog() -> ControlCatalog:
    """The shipped list, read once."""
    text = files("poam.data").joinpath(RESOURCE).read_text(encoding="utf-8")
    return parse_catalog(text.splitlines())
