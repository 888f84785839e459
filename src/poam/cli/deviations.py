"""`poam deviation`: false positives, risk adjustments, operational requirements and (CR26)
accepted vulnerabilities: request, approve or reject, list, and write back their evidence."""

from __future__ import annotations

from pathlib import Path

import click

from poam.cli.common import _cell, _console, _engine, _json, _say, db_option, system_option, user_option
from poam.cli.root import cli
from poam.services import deviations

TYPE = click.Choice(sorted(deviations.TYPES), case_sensitive=False)
_NO_FOLLOW = ("fedramp-cr26", "bod-26-04")
"""Rule sets whose deadlines do not follow the risk rating (PAIN, or BOD 26-04 Table 1)."""


def _report(r: deviations.Result, verb: str) -> None:
    label = deviations.LABELS[r.type].lower()
    _say(f"{r.poam_id}: {label} #{r.deviation_id} {verb}")
    item = r.item
    if r.type == "false-positive" and r.status == "approved":
        _say(f"{r.poam_id}: closed on {item['closed_at']} (approved false positive; later scans never reopen it)")
    if r.type == "risk-adjustment" and r.status == "approved":
        _say(f"{r.poam_id}: adjusted risk rating {item['adjusted_risk']} (Risk Adjustment: Yes)")
        if r.rule_set in _NO_FOLLOW:
            _say(
                f"note: under {r.rule_set} the deadlines do not follow the risk rating "
                "(fedramp-cr26: the PAIN rating; bod-26-04: Table 1, except findings without a CVE, which use "
                "the fallback day table); the adjusted rating is recorded for the template"
            )
        elif r.deadlines_changed:
            _say(f"{r.poam_id}: deadlines recomputed with the adjusted rating")
    if r.type == "accepted" and r.status == "approved":
        _say(f"{r.poam_id}: an accepted vulnerability (VER-RPT-AVI); the item stays open")
    if r.type == "operational-requirement" and r.status == "approved":
        _say(f"{r.poam_id}: operational requirement approved; the item stays open")
    for e in r.evidence:
        _say(f"  evidence {e['name']} ({e['size']} bytes, sha256 {e['sha256']})")


@cli.group("deviation")
def deviation_group() -> None:
    """Deviation requests: false positive (fp), risk adjustment (ra), operational requirement (or),
    accepted vulnerability (accepted, fedramp-cr26 only)."""


@deviation_group.command("request")
@click.argument("poam_id")
@system_option
@click.option("--type", "kind", type=TYPE, required=True, help="fp, ra, or, or accepted (CR26).")
@click.option("--rationale", metavar="TEXT", required=True, help="Why (evidence for fp, mitigations for ra/or).")
@click.option(
    "--adjusted-risk",
    type=click.Choice(deviations.RISKS, case_sensitive=False),
    help="The rating asked for (ra only): lower than the original.",
)
@click.option(
    "--evidence",
    "evidence",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="A supporting document (stored in the database, at most 25 MiB); repeatable.",
)
@click.option(
    "--auto-approve",
    is_flag=True,
    help="Record the approval at once (ra one level down only, under an AO-approved automated process).",
)
@click.option("--note", metavar="TEXT", help="Note recorded with an auto-approval.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def deviation_request(
    ctx: click.Context,
    poam_id: str,
    system: str | None,
    kind: str,
    rationale: str,
    adjusted_risk: str | None,
    evidence: tuple[Path, ...],
    auto_approve: bool,
    note: str | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Request a deviation for the open item POAM_ID: its template column becomes Pending."""
    r = deviations.request(
        _engine(ctx, db),
        system,
        poam_id,
        user,
        kind,
        rationale,
        adjusted_risk=adjusted_risk,
        evidence=list(evidence),
        auto_approve=auto_approve,
        note=note,
    )
    if as_json:
        _json(_result_json(r))
        return
    _report(r, "auto-approved" if r.status == "approved" else "requested (pending approval)")


def _decide(
    ctx: click.Context,
    poam_id: str,
    system: str | None,
    kind: str,
    note: str | None,
    as_json: bool,
    user: str,
    db: str | None,
    approve: bool,
) -> None:
    do = deviations.approve if approve else deviations.reject
    r = do(_engine(ctx, db), system, poam_id, user, kind, note)
    if as_json:
        _json(_result_json(r))
        return
    _report(r, "approved" if approve else "rejected")


def _result_json(r: deviations.Result) -> dict[str, object]:
    return {
        "poam_id": r.poam_id,
        "deviation": r.deviation_id,
        "type": r.type,
        "status": r.status,
        "rule_set": r.rule_set,
        "item": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.item.items()},
        "evidence": list(r.evidence),
        "deadlines_changed": r.deadlines_changed,
    }


@deviation_group.command("approve")
@click.argument("poam_id")
@system_option
@click.option("--type", "kind", type=TYPE, required=True, help="fp, ra, or, or accepted.")
@click.option("--note", metavar="TEXT", help="The approver's note.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def deviation_approve(
    ctx: click.Context,
    poam_id: str,
    system: str | None,
    kind: str,
    note: str | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Approve POAM_ID's pending request of this type (not by its requester)."""
    _decide(ctx, poam_id, system, kind, note, as_json, user, db, approve=True)


@deviation_group.command("reject")
@click.argument("poam_id")
@system_option
@click.option("--type", "kind", type=TYPE, required=True, help="fp, ra, or, or accepted.")
@click.option("--note", metavar="TEXT", help="Why it is rejected.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def deviation_reject(
    ctx: click.Context,
    poam_id: str,
    system: str | None,
    kind: str,
    note: str | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Reject POAM_ID's pending request of this type (not by its requester); it may be asked again."""
    _decide(ctx, poam_id, system, kind, note, as_json, user, db, approve=False)


@deviation_group.command("list")
@system_option
@click.option("--status", type=click.Choice(deviations.STATUSES), help="Only requests with this status.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def deviation_list(ctx: click.Context, system: str | None, status: str | None, as_json: bool, db: str | None) -> None:
    """The system's deviation requests."""
    rows = deviations.list_all(_engine(ctx, db), system, status)
    if as_json:
        _json(rows)
        return
    if not rows:
        _say("no deviation requests")
        return
    from rich.table import Table

    table = Table("POA&M ID", "type", "status", "requested", "by", "decided", "by", "evidence", "rationale")
    for r in rows:
        table.add_row(
            _cell(r["poam_id"]),
            _cell(deviations.SHORT[r["type"]]),
            _cell(r["status"] + (" (auto)" if r["auto_approved"] else "")),
            _cell((r["requested_at"] or "")[:10]),
            _cell(r["requester"]),
            _cell((r["decided_at"] or "")[:10]),
            _cell(r["approver"] or ""),
            _cell(len(r["evidence"])),
            _cell(r["rationale"][:60]),
        )
    _console().print(table)


@deviation_group.command("evidence")
@click.argument("poam_id")
@system_option
@click.option("--type", "kind", type=TYPE, required=True, help="fp, ra, or, or accepted.")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    metavar="DIR",
    help="Existing folder to write the files into.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: the files written.")
@db_option
@click.pass_context
def deviation_evidence(
    ctx: click.Context, poam_id: str, system: str | None, kind: str, out: Path, as_json: bool, db: str | None
) -> None:
    """Write the evidence files of POAM_ID's latest request of this type into DIR (SHA-256 checked)."""
    written = deviations.write_evidence(_engine(ctx, db), system, poam_id, kind, out)
    if as_json:
        _json({"poam_id": poam_id, "written": [str(p) for p in written]})
        return
    if not written:
        _say(f"{poam_id}: the request has no evidence files")
    for path in written:
        _say(f"wrote {path}")
