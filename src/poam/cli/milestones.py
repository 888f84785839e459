"""`poam milestone`: an item's milestones, per the FedRAMP template (columns M and N); and
`poam submission record`: the items first reported in a monthly submission."""

from __future__ import annotations

import datetime as dt

import click
from rich.table import Table

from poam.cli.common import _cell, _console, _engine, _json, _say, db_option, system_option, user_option
from poam.cli.root import cli
from poam.domain.milestones import format_change
from poam.services import milestones

DATE = click.DateTime(["%Y-%m-%d"])


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


@cli.group("milestone")
def milestone_group() -> None:
    """Plan, re-date and complete an item's milestones (recorded as the template's milestone changes)."""


def _report(ctx: click.Context, db: str | None, system: str | None, done: milestones.Done, as_json: bool) -> None:
    if not as_json:
        _say(f"{done.poam_id}: {done.entry}" + (f" ({done.note})" if done.note else ""))
        return
    listing = milestones.listing(_engine(ctx, db), system, done.poam_id).as_json()
    _json({"poam_id": done.poam_id, "number": done.number, "entry": done.entry, "note": done.note or None, **listing})


@milestone_group.command("add")
@click.argument("poam_id")
@system_option
@click.option("--date", "when", type=DATE, required=True, help="Day the milestone is due (YYYY-MM-DD).")
@click.option("--text", required=True, metavar="TEXT", help="What the milestone is.")
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output: what was done and the item's milestones."
)
@user_option
@db_option
@click.pass_context
def milestone_add(
    ctx: click.Context,
    poam_id: str,
    system: str | None,
    when: dt.datetime,
    text: str,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Add a milestone to POAM_ID: planned until the item is first reported (the first one replaces
    the automatic milestone), a New milestone change after."""
    done = milestones.add(_engine(ctx, db), system, poam_id, user, when.date(), text)
    _report(ctx, db, system, done, as_json)


@milestone_group.command("update")
@click.argument("poam_id")
@click.argument("number", type=int)
@system_option
@click.option("--date", "when", type=DATE, help="The milestone's new date (YYYY-MM-DD).")
@click.option("--text", metavar="TEXT", help="The milestone's new text (also the Update change's text).")
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output: what was done and the item's milestones."
)
@user_option
@db_option
@click.pass_context
def milestone_update(
    ctx: click.Context,
    poam_id: str,
    number: int,
    system: str | None,
    when: dt.datetime | None,
    text: str | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Re-date milestone NUMBER of POAM_ID or change its text: recorded as an Update milestone change
    (and, until the item is reported, edited in place)."""
    done = milestones.update_milestone(_engine(ctx, db), system, poam_id, number, user, _day(when), text)
    _report(ctx, db, system, done, as_json)


@milestone_group.command("complete")
@click.argument("poam_id")
@click.argument("number", type=int)
@system_option
@click.option("--date", "when", type=DATE, help="Day it was completed (default: today, UTC).")
@click.option("--text", metavar="TEXT", help=f"How it was completed (default: {milestones.COMPLETED!r}).")
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output: what was done and the item's milestones."
)
@user_option
@db_option
@click.pass_context
def milestone_complete(
    ctx: click.Context,
    poam_id: str,
    number: int,
    system: str | None,
    when: dt.datetime | None,
    text: str | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Complete milestone NUMBER of POAM_ID: a Complete milestone change."""
    done = milestones.complete(_engine(ctx, db), system, poam_id, number, user, _day(when), text)
    _report(ctx, db, system, done, as_json)


@milestone_group.command("list")
@click.argument("poam_id")
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def milestone_list(ctx: click.Context, poam_id: str, system: str | None, as_json: bool, db: str | None) -> None:
    """List the milestones of POAM_ID as they stand, and its milestone changes."""
    found = milestones.listing(_engine(ctx, db), system, poam_id)
    if as_json:
        _json(found.as_json())
        return
    reported = found.reported_at.isoformat() if found.reported_at else "not yet"
    _say(f"{found.poam_id} ({found.status}); reported {reported}; {'ready' if found.ready else 'not ready'}")
    table = Table("#", "Date", "Status", "Completed", "Origin", "By", "Text")
    for m in found.milestones:
        origin = "automatic" if m.placeholder else m.origin
        done = m.completed_on.isoformat() if m.completed_on else ""
        table.add_row(*map(_cell, (m.number, m.date.isoformat(), m.status, done, origin, m.by or "poam", m.text)))
    _console().print(table)
    if found.changes:
        _say("milestone changes:")
        for c in found.changes:
            _say(f"  {format_change(c)} [by {c.by or 'poam'}]")


@cli.group("submission")
def submission_group() -> None:
    """Monthly submissions: which items have been reported (their planned milestones are then permanent)."""


@submission_group.command("record")
@system_option
@click.option("--date", "when", type=DATE, help="Day of the submission (default: today, UTC).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def submission_record(
    ctx: click.Context, system: str | None, when: dt.datetime | None, as_json: bool, user: str, db: str | None
) -> None:
    """Record a monthly submission: every open item not yet reported (detected by that day) is
    reported on it. `poam report monthly` will do this itself when it builds the package."""
    day, reported = milestones.record_submission(_engine(ctx, db), system, user, _day(when))
    if as_json:
        _json({"date": day.isoformat(), "reported": reported})
        return
    if not reported:
        _say(f"submission {day.isoformat()}: no open item awaits a first report")
        return
    _say(f"submission {day.isoformat()}: {len(reported)} item(s) reported: {', '.join(reported)}")
