"""`poam vendor`: check-ins with the vendor of a vendor-dependent item."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import click

from poam.cli.common import _engine, _json, _say, db_option, system_option, user_option
from poam.cli.root import cli
from poam.services import planning


@cli.group("vendor")
def vendor_group() -> None:
    """Vendor dependencies: check-ins with the vendor (at least every 30 days)."""


@vendor_group.command("checkin")
@click.argument("poam_id")
@system_option
@click.option("--date", "when", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Day of the check-in.")
@click.option("--note", metavar="TEXT", help="What the vendor said.")
@click.option("--product", metavar="NAME", help="The vendor's product the fix depends on.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def vendor_checkin(
    ctx: click.Context,
    poam_id: str,
    system: str | None,
    when: dt.datetime,
    note: str | None,
    product: str | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Record a check-in with the vendor for POAM_ID; the item becomes vendor-dependent."""
    status = planning.vendor_checkin(_engine(ctx, db), system, poam_id, user, when.date(), note, product)
    if as_json:
        _json(status_json(poam_id, status))
        return
    if status.release_date:
        due = f"fix released {status.release_date}: no more check-ins due"
    else:
        due = f"next check-in due {status.next_checkin}"
    product = status.product or "product not given"
    _say(f"{poam_id}: vendor check-in {when.date().isoformat()} recorded ({product}; {due})")


@vendor_group.command("release")
@click.argument("poam_id")
@system_option
@click.option(
    "--date", "when", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Day the vendor released the fix."
)
@click.option("--note", metavar="TEXT", help="Where the fix is (advisory, version).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def vendor_release(
    ctx: click.Context,
    poam_id: str,
    system: str | None,
    when: dt.datetime,
    note: str | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Record the day the vendor released the fix of POAM_ID: the remediation clock restarts there
    where the system's rule set says so (fedramp-rev5)."""
    from poam.services import vendors

    status = vendors.vendor_release(_engine(ctx, db), system, poam_id, user, when.date(), note)
    if as_json:
        _json(status_json(poam_id, status))
        return
    _say(f"{poam_id}: vendor fix released {status.release_date}; check-ins no longer due")


def status_json(poam_id: str, status: planning.VendorStatus) -> dict[str, Any]:
    """A vendor status as `--json` gives it (dates ISO 8601)."""
    data = asdict(status)
    for key in ("last_checkin", "next_checkin", "release_date"):
        data[key] = data[key].isoformat() if data[key] else None
    return {"poam_id": poam_id, **data}
