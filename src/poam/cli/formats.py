"""`poam formats`: the input formats poam reads."""

from __future__ import annotations

import click
from rich.table import Table

from poam.cli.common import _cell, _console, _json
from poam.cli.root import cli
from poam.parsers.registry import parsers


@cli.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def formats_cmd(as_json: bool) -> None:
    """List the input formats poam reads."""
    found = parsers()
    if as_json:
        _json(
            [
                {"id": p.id, "name": p.name, "maps_to": p.maps_to, "closes_by_coverage": p.closes_by_coverage}
                for p in found.values()
            ]
        )
        return
    table = Table("Id", "Format", "Findings map to")
    for p in found.values():
        table.add_row(_cell(p.id), _cell(p.name), _cell(p.maps_to))
    _console().print(table)
