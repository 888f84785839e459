"""`poam formats`: the input formats poam reads."""

from __future__ import annotations

import click
from rich.table import Table

from poam.cli.common import _cell, _console, _json
from poam.cli.root import cli
from poam.parsers.registry import parsers
from poam.services.poam_import import READERS

POAM_MAPS_TO = "one POA&M item per record, created or updated by its POA&M id"
"""What a POA&M document's records become (`poam formats`' third column)."""


@cli.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def formats_cmd(as_json: bool) -> None:
    """List the input formats poam reads: scan files (kind `scan`) and POA&M documents (kind `poam`)."""
    found = parsers()
    if as_json:
        _json(
            [
                {
                    "id": p.id,
                    "name": p.name,
                    "maps_to": p.maps_to,
                    "closes_by_coverage": p.closes_by_coverage,
                    "kind": "scan",
                }
                for p in found.values()
            ]
            + [
                {"id": r.format, "name": r.name, "maps_to": POAM_MAPS_TO, "closes_by_coverage": False, "kind": "poam"}
                for r in READERS
            ]
        )
        return
    table = Table("Id", "Format", "Findings map to", "Kind")
    for p in found.values():
        table.add_row(_cell(p.id), _cell(p.name), _cell(p.maps_to), "scan")
    for r in READERS:
        table.add_row(_cell(r.format), _cell(r.name), _cell(POAM_MAPS_TO), "POA&M document")
    _console().print(table)
