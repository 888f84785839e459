"""`poam export emass|csv|dr-form`: the eMASS POA&M workbook, CSV files, the FedRAMP Deviation
Request form."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from poam.cli.common import _engine, _json, _say, db_option, system_option, user_option
from poam.cli.exports import _export_json, _say_head, export_group


@export_group.command("emass")
@click.argument("out", type=click.Path(path_type=Path))
@system_option
@click.option(
    "--layout",
    type=click.Choice(["classic", "milestone-rows"]),
    default="classic",
    show_default=True,
    help="classic: one row per item, milestones in one cell (header row 7); milestone-rows: one row per "
    "milestone, as the Navy, Army and Marine Corps eMASS exports now use.",
)
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Date Exported in the header (default today).")
@click.option(
    "--scope",
    type=click.Choice(["all", "late"]),
    default="all",
    show_default=True,
    help="late: only open items past their due date (as `export fedramp --scope late`).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def export_emass(
    ctx: click.Context,
    out: Path,
    system: str | None,
    layout: str,
    day: dt.datetime | None,
    scope: str,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Write the DoD eMASS POA&M workbook (.xlsx) to OUT."""
    from poam.services import exporting_more

    engine = _engine(ctx, db)
    result = exporting_more.export_emass(engine, out, system, user, layout, day.date() if day else None, scope)
    if as_json:
        _json({**_export_json(ctx, db, result, f"emass-{layout}"), "layout": layout, "scope": scope})
        return
    _say(f"wrote {out} ({result.detail['items']} items in {result.detail['rows']} rows, {layout} layout)")
    for key, what in (
        ("without_resources_required", "Resources Required"),
        ("without_office_org", "Office/Org (the system's organization, `system add --org`)"),
    ):
        if result.detail[key]:
            _say(f"note: {result.detail[key]} item(s) without {what}, which eMASS requires")
    _say_head(ctx, db)


@export_group.command("csv")
@click.argument("out", type=click.Path(path_type=Path))
@system_option
@click.option(
    "--what",
    type=click.Choice(["items", "findings"]),
    default="items",
    show_default=True,
    help="items: one row per POA&M item (the fields of `poam items --json`); findings: one row per finding "
    "(item, asset, port/protocol/path, status, first and last seen, tool).",
)
@click.option(
    "--status",
    type=click.Choice(["open", "closed", "all"]),
    default="all",
    show_default=True,
    help="Only items of this status (findings: those of such items).",
)
@click.option(
    "--scope",
    type=click.Choice(["all", "late"]),
    default="all",
    show_default=True,
    help="late: only open items past their due date (as `export fedramp --scope late`).",
)
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Day to judge lateness on (default today).")
@click.option("--bom/--no-bom", default=True, show_default=True, help="Start with a UTF-8 byte order mark (for Excel).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def export_csv(
    ctx: click.Context,
    out: Path,
    system: str | None,
    what: str,
    status: str,
    scope: str,
    day: dt.datetime | None,
    bom: bool,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Write a CSV file of the POA&M items or their findings to OUT (no cell can become a formula)."""
    from poam.services import exporting_more

    engine = _engine(ctx, db)
    when = day.date() if day else None
    result = exporting_more.export_csv(engine, out, system, user, what, status, bom, scope, when)
    if as_json:
        extra = {"what": what, "status": status, "scope": scope, "bom": bom}
        _json({**_export_json(ctx, db, result, f"csv-{what}"), **extra})
        return
    _say(f"wrote {out} ({result.detail[what]} {what if result.detail[what] != 1 else what[:-1]})")
    _say_head(ctx, db)


@export_group.command("dr-form")
@click.argument("out", type=click.Path(path_type=Path))
@system_option
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="DR Submission Date (default today).")
@click.option(
    "--template",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Fill this copy of the official form (.xlsx or .xlsm; OUT keeps its extension).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def export_dr_form(
    ctx: click.Context,
    out: Path,
    system: str | None,
    day: dt.datetime | None,
    template: Path | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Write the FedRAMP Deviation Request form (.xlsx) filled with the pending deviation requests."""
    from poam.services import exporting_more

    engine = _engine(ctx, db)
    result = exporting_more.export_dr_form(engine, out, system, user, day.date() if day else None, template)
    requests = result.detail["requests"]
    note = None if requests else f"no pending deviation requests in system {result.system}: the form is empty"
    if as_json:
        extra = {"note": note, "template": str(template) if template else None}
        _json({**_export_json(ctx, db, result, "fedramp-dr-form"), **extra})
        return
    _say(f"wrote {out} ({requests} deviation request row(s) for {result.items} item(s))")
    if note:
        _say(f"note: {note}")
    _say_head(ctx, db)
