"""`poam report`: the monthly package (`monthly`) and what changed between two frozen months (`diff`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from poam.cli.common import _engine, _json, _say, db_option, system_option, user_option
from poam.cli.root import cli


@cli.group("report")
def report_group() -> None:
    """Monthly reporting: the package of deliverables, and month-to-month differences."""


@report_group.command("monthly")
@click.option("--month", "month", required=True, metavar="YYYY-MM", help="The month reported (first to last day, UTC).")
@click.argument("out_dir", type=click.Path(path_type=Path))
@system_option
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the month's snapshot if it was frozen before with other content (audited).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def report_monthly(
    ctx: click.Context,
    month: str,
    out_dir: Path,
    system: str | None,
    replace: bool,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Write the month's package into OUT_DIR (created if missing): the deliverables the system's
    rule set calls for (VER reports for fedramp-cr26; else the FedRAMP POA&M workbook and OSCAL),
    the inventory workbook, the executive summary (HTML and PDF) and a manifest with SHA-256s;
    record the submission and freeze the month's snapshot."""
    from poam.services import monthly

    result = monthly.package(_engine(ctx, db), system, month, out_dir, user, replace)
    if as_json:
        _json(result.as_json())
        return
    _say(f"{result.system} {result.month}: {len(result.files)} file(s) in {result.folder}")
    for f in result.files:
        _say(f"  {f['name']}  {f['sha256'][:16]}  ({f['kind']})")
    s = result.snapshot
    _say(f"snapshot {s['outcome']}: {s['items']} item(s), sha256 {s['sha256'][:16]}")
    _say(f"submission recorded: {len(result.reported)} item(s) newly reported")
    for note in result.notes:
        _say(f"note: {note}")


def _brief(x: dict[str, Any]) -> str:
    return f"  {x['poam_id']}  {x.get('rating') or '-'}  {x.get('weakness_name') or ''}"


@report_group.command("diff")
@click.argument("month_a", metavar="YYYY-MM")
@click.argument("month_b", metavar="YYYY-MM")
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def report_diff(
    ctx: click.Context, month_a: str, month_b: str, system: str | None, as_json: bool, db: str | None
) -> None:
    """New, closed and changed items between two frozen months (`report monthly` freezes them)."""
    from poam.services import snapshots

    d = snapshots.diff(_engine(ctx, db), system, month_a, month_b)
    if as_json:
        _json(d)
        return
    _say(f"{d['system']}: {d['from']} -> {d['to']}")
    _say(f"new: {len(d['new'])}")
    for x in d["new"]:
        _say(_brief(x))
    _say(f"closed: {len(d['closed'])}")
    for x in d["closed"]:
        _say(_brief(x))
    _say(f"changed: {len(d['changed'])}")
    for c in d["changed"]:
        _say(f"  {c['poam_id']}: {', '.join(x['field'] for x in c['changes'])}")
    if d["missing"]:
        _say(f"no longer in the database: {', '.join(d['missing'])}")
