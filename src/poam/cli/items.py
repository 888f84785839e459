"""`poam items` (list POA&M items) and `poam item` (change one)."""

from __future__ import annotations

import click
from rich.table import Table

from poam.cli.common import _cell, _console, _engine, _json, _say, db_option, system_option
from poam.cli.root import cli
from poam.services import audit
from poam.services.items import STATUSES, item_json, list_items, set_controls


@cli.command("items")
@system_option
@click.option("--status", type=click.Choice(STATUSES), default="open", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def items_cmd(ctx: click.Context, system: str | None, status: str, as_json: bool, db: str | None) -> None:
    """List POA&M items."""
    _info, found = list_items(_engine(ctx, db), system, status)
    if as_json:
        _json([item_json(i) for i in found])
        return
    table = Table("POA&M ID", "Status", "Risk", "Detected", "Due", "KEV", "Assets", "Detector", "Id", "Weakness")
    for i in found:
        table.add_row(
            *map(
                _cell,
                (
                    i.poam_id,
                    i.status.value,
                    i.original_risk.fedramp.value,
                    i.detection_date.isoformat(),
                    i.scheduled_completion_date.isoformat(),
                    "yes" if i.kev else "",
                    len(i.assets),
                    i.detector_source,
                    i.source_identifier,
                    i.weakness_name,
                ),
            )
        )
    _console().print(table)
    click.echo(f"{len(found)} {status if status != 'all' else ''} item(s)".replace("  ", " "))


@cli.group("item")
def item_group() -> None:
    """Change one POA&M item."""


@item_group.command("set")
@click.argument("poam_id")
@system_option
@click.option(
    "--controls",
    "controls",
    multiple=True,
    required=True,
    metavar="IDS",
    help="NIST SP 800-53 controls, e.g. --controls AC-2,SI-2 (replaces the item's controls).",
)
@db_option
@click.pass_context
def item_set(ctx: click.Context, poam_id: str, system: str | None, controls: tuple[str, ...], db: str | None) -> None:
    """Set fields of the item POAM_ID (for now its controls)."""
    item = set_controls(_engine(ctx, db), system, poam_id, list(controls), audit.default_actor())
    _say(f"{item.poam_id}: controls {', '.join(item.controls)}")
