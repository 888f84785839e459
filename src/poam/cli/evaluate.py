"""`poam evaluate`: record a CR26 evaluation, a PAIN reduction or a disposition of an item."""

from __future__ import annotations

import click

from poam.cli.common import _engine, _json, _say, db_option, system_option, user_option
from poam.cli.root import cli
from poam.domain.rules import DISPOSITIONS
from poam.services import evaluation

YES_NO = click.Choice(["yes", "no"], case_sensitive=False)


def _yes(value: str | None) -> bool | None:
    return None if value is None else value.lower() == "yes"


@cli.command("evaluate")
@click.argument("poam_id")
@system_option
@click.option("--irv", type=YES_NO, help="Internet-reachable vulnerability (VER-EVA-EIR).")
@click.option(
    "--lev",
    type=YES_NO,
    help="Likely exploitable vulnerability (VER-EVA-ELX); the first evaluation assumes yes (VER-EVA-AIA).",
)
@click.option("--pain", type=int, metavar="1-5", help="Potential Agency Impact N-rating (VER-EVA-EPA).")
@click.option("--rationale", metavar="TEXT", help="Why: required for every evaluation, change and disposition.")
@click.option("--reason", metavar="TEXT", help="Why the rating goes up (required to raise it).")
@click.option("--at", "at", metavar="DATETIME", help="When the evaluation was completed (ISO 8601 with Z or offset).")
@click.option("--disposition", type=click.Choice(DISPOSITIONS), help="Final or current disposition.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def evaluate_cmd(
    ctx: click.Context,
    poam_id: str,
    system: str | None,
    irv: str | None,
    lev: str | None,
    pain: int | None,
    rationale: str | None,
    reason: str | None,
    at: str | None,
    disposition: str | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Record an evaluation of POAM_ID (IRV, LEV, PAIN N1-N5), a later change of it (give only what
    changed: a lower --pain is a reduction), or a disposition. Audited; deadlines follow."""
    r = evaluation.evaluate(
        _engine(ctx, db),
        system,
        poam_id,
        user,
        irv=_yes(irv),
        lev=_yes(lev),
        pain=pain,
        rationale=rationale,
        reason=reason,
        at=at,
        disposition=disposition,
    )
    if as_json:
        _json(r.__dict__)
        return
    if r.kind != "disposition" or r.disposition is None:
        yn = {True: "yes", False: "no", None: "?"}
        note = " (LEV assumed yes: VER-EVA-AIA)" if r.lev_assumed else ""
        _say(f"{poam_id}: {r.kind} recorded: N{r.pain}, IRV {yn[r.irv]}, LEV {yn[r.lev]}{note}")
    if r.disposition == "false-positive":
        _say(f"{poam_id}: false-positive request #{r.deviation_id} recorded (pending approval; the item stays open)")
    elif r.disposition:
        _say(f"{poam_id}: disposition {r.disposition} recorded")
    if r.deadlines_changed:
        _say(f"{poam_id}: deadlines changed (see `poam item show {poam_id}`)")
