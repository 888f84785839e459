"""`poam audit`: the append-only audit log."""

from __future__ import annotations

from pathlib import Path

import click

from poam.cli.common import _engine, _json, _say, db_option, user_option
from poam.cli.root import cli
from poam.errors import PoamError
from poam.services import audit

SHOWN_PROBLEMS = 5
"""How many item problems `verify` names (all of them with --json)."""


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
@click.option(
    "--key",
    "key_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HMAC key file the events were recorded with ($POAM_AUDIT_KEY_FILE): keyed events are "
    "authenticated, and a chain with no event keyed with it fails.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def audit_verify(ctx: click.Context, anchor: str | None, key_file: Path | None, as_json: bool, db: str | None) -> None:
    """Check the audit log and the items (exit 0 intact, 1 not): the hash chain and its head, the
    anchor and key given, and that every item's state is the one its events last sealed."""
    from poam.store.db import read

    if anchor is not None:
        anchor = anchor.strip().lower()
        if len(anchor) != 64 or any(c not in "0123456789abcdef" for c in anchor):
            raise click.BadParameter("a head hash is 64 hexadecimal characters", param_hint="--head")
    key = audit.load_key(key_file) if key_file is not None else None
    with read(_engine(ctx, db)) as conn:
        res = audit.verify(conn, anchor, key)
    if as_json:
        _json(res.as_json())
        if not res.ok:
            ctx.exit(1)
        return
    if res.ok:
        _say(_intact(res))
        return
    raise PoamError(_problem(res))


def _intact(res: audit.Verification) -> str:
    text = f"audit log intact: {res.events} events" + (" including the given head" if res.anchor else "")
    if res.authenticated:
        text += f", {res.authenticated} authenticated with key {res.key_id}"
    elif res.keyed:
        text += f"; {res.keyed} keyed events checked for linkage only, not authenticated (give --key FILE)"
    return text + f"; {res.items_checked} items match their audit events"


def _problem(res: audit.Verification) -> str:
    good = f"after {res.events} good events"
    if res.broken_event is not None:
        return f"audit log broken at event {res.broken_event} {good}: {res.broken_reason}"
    if res.head_problem is not None:
        return f"audit log broken at the chain head {good}: {res.head_problem}"
    if res.anchor_found is False:
        return f"audit log does not hold the head {res.anchor} {good}: events were removed or the chain was recomputed"
    if res.key_problem is not None:
        return f"audit log not authenticated {good}: {res.key_problem}"
    problems = res.item_problems
    shown = "; ".join(str(p) for p in problems[:SHOWN_PROBLEMS])
    more = f"; and {len(problems) - SHOWN_PROBLEMS} more (--json lists them)" if len(problems) > SHOWN_PROBLEMS else ""
    count = f"{len(problems)} of {res.items_checked} items"
    return f"audit log intact ({res.events} events) but {count} do not match it: {shown}{more}"


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


@audit_group.command("seal")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def audit_seal(ctx: click.Context, as_json: bool, user: str, db: str | None) -> None:
    """Record every item's current state in the audit log, once, after upgrading a database made
    before item seals (until then `verify` reports its items as having no audit event)."""
    with _engine(ctx, db).begin() as conn:
        count = audit.seal_all(conn, user)
    if as_json:
        _json({"items_sealed": count})
        return
    _say(f"sealed {count} item(s) as they are now (event audit.seal by {user})")
