"""`poam team`: the teams that fix weaknesses and the staff hours per week they can give them."""

from __future__ import annotations

from dataclasses import asdict

import click
from rich.table import Table

from poam.cli.common import _cell, _console, _engine, _json, _say, db_option, system_option, user_option
from poam.cli.root import cli
from poam.services import planning


@cli.group("team")
def team_group() -> None:
    """Add and list teams (owners of fixes, with their capacity)."""


@team_group.command("add")
@click.argument("name")
@system_option
@click.option("--capacity", type=float, required=True, metavar="HOURS", help="Staff hours per week for fixes.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def team_add(
    ctx: click.Context, name: str, system: str | None, capacity: float, as_json: bool, user: str, db: str | None
) -> None:
    """Add a team named NAME."""
    team = planning.add_team(_engine(ctx, db), system, name, capacity, user)
    if as_json:
        _json(asdict(team))
        return
    _say(f"added team {team.name} ({team.capacity_hours:g} hours per week)")


@team_group.command("list")
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def team_list(ctx: click.Context, system: str | None, as_json: bool, db: str | None) -> None:
    """List the teams with their capacity, open items and the hours those need."""
    found = planning.list_teams(_engine(ctx, db), system)
    if as_json:
        _json([asdict(t) for t in found])
        return
    table = Table("Team", "Hours/week", "Open items", "Hours needed")
    for t in found:
        table.add_row(*map(_cell, (t.name, f"{t.capacity_hours:g}", t.open_items, f"{t.hours_assigned:g}")))
    _console().print(table)
