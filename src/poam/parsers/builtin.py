"""The built-in parsers, registered through the same hook as third-party ones."""

from __future__ import annotations

from poam.hookspecs import hookimpl
from poam.parsers.base import Parser
from poam.parsers.nessus import NessusParser
from poam.parsers.poam_csv import PoamCsvParser


@hookimpl
def poam_parsers() -> list[Parser]:
    """Nessus v2 XML and poam's generic CSV."""
    return [NessusParser(), PoamCsvParser()]
