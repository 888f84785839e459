"""`poam audit`: the append-only audit log."""

from __future__ import annotations

import click

from poam.cli.common import _engine, _json, _say, db_option
from poam.cli.root import cli
from poam.errors import PoamError
from poam.services import audit


@cli.group("audit")
def audit_group() -> None:
    """The append-only audit log."""


@audit_group.command("verify")
@click.option(
    "--head",
    "anchor",
    metavar="HASH",
    help="A head hash recorded earlier outside the database (`poam audit head`, exports): it must be in the chain.",
)
@db_option
@click.pass_context
def audit_verify(ctx: click.Context, anchor: str | None, db: str | None) -> None:
    """Check the hash chain of the audit log (exit 0 intact, 1 not, naming the first bad event)."""
    from poam.store.db import read

    if anchor is not None:
        anchor = anchor.strip().lower()
        if len(anchor) != 64 or any(c not in "0123456789abcdef" for c in anchor):
            raise click.BadParameter("a head hash is 64 hexadecimal characters", param_hint="--head")
    with read(_engine(ctx, db)) as conn:
        count, broken = audit.verify(conn, anchor)
    if broken is None:
        click.echo(f"audit log intact: {count} events" + (" including the given head" if anchor else ""))
        return
    if broken == audit.ANCHOR_MISSING:
        raise PoamError(
            f"audit log does not hold the head {anchor} after {count} good events: "
            "events were removed or the chain was recomputed"
        )
    where = "the chain head" if broken == -1 else f"event {broken}"
    raise PoamError(f"audit log broken at {where} after {count} good events")


@audit_group.command("head")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def audit_head(ctx: click.Context, as_json: bool, db: str | None) -> None:
    """Print the chain's head hash: keep it outside the database and check later with `verify --head`."""
    from poam.store.db import read

    with read(_engine(ctx, db)) as conn:
        value, count = audit.head(conn)
    if as_json:
        _json({"head": value, "events": count})
        return
    _say(f"{value}  ({count} events)")
