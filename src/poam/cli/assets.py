"""`poam asset` (exposure and criticality) and `poam inventory` (the asset inventory)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click
from rich.table import Table

from poam.cli.common import _cell, _console, _engine, _json, _say, db_option, system_option, user_option
from poam.cli.root import cli


@cli.group("asset")
def asset_group() -> None:
    """Assets: their exposure (public, internal, unknown) and criticality."""


@asset_group.command("set")
@click.argument("asset")
@system_option
@click.option("--exposure", type=click.Choice(["public", "internal", "unknown"]), help="How exposed the asset is.")
@click.option("--criticality", type=click.Choice(["low", "moderate", "high"]), help="How critical the asset is.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def asset_set(
    ctx: click.Context,
    asset: str,
    system: str | None,
    exposure: str | None,
    criticality: str | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Set the exposure and/or criticality of ASSET (its identifier, IP address or host name)."""
    from poam.services import exposure as exposure_service

    view = exposure_service.set_asset(_engine(ctx, db), system, asset, exposure, criticality, user)
    if as_json:
        _json(asdict(view))
        return
    _say(f"{view.identifier}: exposure {view.exposure}, criticality {view.criticality or 'not set'}")


@asset_group.command("list")
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def asset_list(ctx: click.Context, system: str | None, as_json: bool, db: str | None) -> None:
    """The system's assets with their exposure (and where it comes from) and criticality."""
    from poam.services import exposure as exposure_service

    found = exposure_service.list_assets(_engine(ctx, db), system)
    if as_json:
        _json([asdict(a) for a in found])
        return
    table = Table("Asset", "Kind", "IP", "Exposure", "From", "Criticality", "Inventory")
    for a in found:
        row = (
            a.identifier,
            a.kind,
            a.ip or "",
            a.exposure,
            a.exposure_source,
            a.criticality or "",
            "yes" if a.in_inventory else "",
        )
        table.add_row(*map(_cell, row))
    _console().print(table)
    click.echo(f"{len(found)} asset(s)")


@cli.group("inventory")
def inventory_group() -> None:
    """The asset inventory (FedRAMP Integrated Inventory Workbook, or Nmap discovery)."""


@inventory_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def inventory_import(
    ctx: click.Context, file: Path, system: str | None, as_json: bool, user: str, db: str | None
) -> None:
    """Import the inventory from FILE: an Integrated Inventory Workbook (.xlsx) or Nmap XML."""
    from poam.services import inventory

    r = inventory.import_inventory(_engine(ctx, db), file, system, user)
    if as_json:
        _json({"file": str(file), **asdict(r)})
        return
    line = f"{file}: {r.entries} inventory assets ({r.matched} matched known assets, {r.created} new)"
    if r.removed:
        line += f"; {len(r.removed)} no longer in the inventory"
    _say(line)


@inventory_group.command("report")
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def inventory_report(ctx: click.Context, system: str | None, as_json: bool, db: str | None) -> None:
    """Assets the scans saw that the inventory lacks, and inventory assets no scan covered."""
    from poam.services import inventory

    r = inventory.report(_engine(ctx, db), system)
    if as_json:
        _json(asdict(r))
        return
    _say(f"{r.system}: {r.inventory} assets in the inventory")
    _say(f"Seen by scans but missing from the inventory ({len(r.missing_from_inventory)}):")
    for name in r.missing_from_inventory:
        _say(f"  {name}")
    _say(f"In the inventory but never covered by a scan ({len(r.never_scanned)}):")
    for name in r.never_scanned:
        _say(f"  {name}")
