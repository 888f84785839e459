"""`poam review`: what needs attention now."""

from __future__ import annotations

from typing import Any

import click

from poam.cli.common import _engine, _json, _say, db_option, system_option
from poam.cli.root import cli


def _section(title: str, rows: list[Any], line: Any) -> None:
    _say(f"{title}: {len(rows) if rows else 'none'}")
    for row in rows[:20]:
        _say(f"  {line(row)}")
    if len(rows) > 20:
        _say(f"  ... and {len(rows) - 20} more (--json lists all)")


@cli.command("review")
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def review_cmd(ctx: click.Context, system: str | None, as_json: bool, db: str | None) -> None:
    """Show what needs attention: late and soon-due items, evaluations, flags, milestones, status
    dates, vendor check-ins, deviation requests, owners, team capacity and FedRAMP's triggers."""
    from poam.services.review import review

    r = review(_engine(ctx, db), system)
    if as_json:
        _json(r)
        return
    _say(f"Review of {r['system']} ({r['rule_set']}) as of {r['as_of']}")
    _section(
        "Late",
        r["late"],
        lambda x: f"{x['poam_id']}  {x['rating']:<8} {x['deadline']} due {x['due']}, {x['days_late']} days late",
    )
    _section(
        "Due within 7 days",
        r["due_7_days"],
        lambda x: f"{x['poam_id']}  {x['rating']:<8} {x['deadline']} due {x['due']}",
    )
    _section(
        "Due within 30 days",
        r["due_30_days"],
        lambda x: f"{x['poam_id']}  {x['rating']:<8} {x['deadline']} due {x['due']}",
    )
    if r["rule_set"] == "fedramp-cr26":
        _section("Awaiting evaluation", r["awaiting_evaluation"], str)
    _section("Accepted-vulnerability flags", r["accepted_flags"], lambda x: f"{x['poam_id']}  {x['text']}")
    _section("Forensic triage", r["forensic_triage"], lambda x: f"{x['poam_id']}  {', '.join(x['cves'])}")
    _section(
        "Overdue milestones",
        r["overdue_milestones"],
        lambda x: f"{x['poam_id']} ({x['number']}) {x['date']}: {x['text'][:50]} ({x['days_overdue']} days)",
    )
    _section(
        "Stale status dates", r["stale_status"], lambda x: f"{x['poam_id']}  {x['status_date']} ({x['days']} days)"
    )
    _section(
        "Vendor check-ins due",
        r["vendor_checkins_due"],
        lambda x: (
            f"{x['poam_id']}  {x['product'] or '-'}: next {x['next_checkin'] or 'never checked in'}"
            + (" (OVERDUE)" if x["overdue"] else "")
        ),
    )
    _section(
        "Pending deviation requests",
        r["pending_deviations"],
        lambda x: f"{x['poam_id']}  {x['type']} by {x['requester']}, {x['days_pending']} days",
    )
    _section("Without an owner (no point of contact or team)", r["no_owner"], str)
    _say("Capacity:" + ("" if r["capacity"] else " no teams (poam team add NAME --capacity HOURS)"))
    for t in r["capacity"]:
        _say(
            f"  {t['team']}: {t['open_items']} items, {t['hours_needed']:g} hours needed, "
            f"{t['capacity_hours_per_week']:g} hours/week"
            + (f", {len(t['unestimated'])} not estimated" if t["unestimated"] else "")
        )
        for s in t["shortfalls"]:
            _say(f"    {s['poam_id']} will miss {s['due']} by {s['days_late']} days")
    perf = r["performance"]
    _say(f"FedRAMP performance triggers ({perf['source']}):")
    for t in perf["triggers"]:
        state = "REACHED" if t["reached"] else f"{t['remaining']} more to reach"
        _say(
            f"  {t['trigger']} >{t['aged_over_days']} days -> {t['level']}: {t['count']} of {t['threshold']} ({state})"
        )
