"""`poam audit`: the append-only audit log."""

from __future__ import annotations

import click

from poam.cli.common import _engine, db_option
from poam.cli.root import cli
from poam.errors import PoamError
from poam.services import audit


@cli.group("audit")
def audit_group() -> None:
    """The append-only audit log."""


@audit_group.command("verify")
@db_option
@click.pass_context
def audit_verify(ctx: click.Context, db: str | None) -> None:
    """Check the hash chain of the audit log."""
    from poam.store.db import read

    with read(_engine(ctx, db)) as conn:
        count, broken = audit.verify(conn)
    if broken is None:
        click.echo(f"audit log intact: {count} events")
        return
    where = "the chain head" if broken == -1 else f"event {broken}"
    raise PoamError(f"audit log broken at {where} after {count} good events")
