"""`poam items` (list POA&M items) and `poam item` (change one)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from poam.cli.common import _cell, _console, _engine, _json, _say, db_option, system_option, user_option
from poam.cli.root import cli
from poam.domain.models import PoamItem
from poam.errors import printable
from poam.exporters.cells import inert
from poam.services.items import STATUSES, item_json
from poam.services.planning import set_fields
from poam.services.triage import SORTS, Assessment, Filters, assessment_json, ranked, show


@cli.command("items")
@system_option
@click.option("--status", type=click.Choice(STATUSES), default="open", show_default=True)
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="id",
    show_default=True,
    help="id: POA&M id order; priority: highest score first; due: nearest deadline first.",
)
@click.option("--late", is_flag=True, help="Only items past a deadline that is not met.")
@click.option("--kev", is_flag=True, help="Only items with a CVE in the CISA KEV catalog.")
@click.option(
    "--risk",
    type=click.Choice(["low", "moderate", "high", "critical"], case_sensitive=False),
    help="Only items of this rating (the adjusted one once a risk adjustment is approved).",
)
@click.option("--pain", type=click.IntRange(1, 5), metavar="1-5", help="Only items evaluated at this PAIN rating.")
@click.option("--awaiting-evaluation", is_flag=True, help="Only items not yet evaluated (CR26).")
@click.option("--detector", metavar="TEXT", help="Only items whose detector (tool) name contains TEXT.")
@click.option("--asset", metavar="NAME", help="Only items affecting this asset (its identifier).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "tsv", "json"]),
    default="table",
    show_default=True,
    help="Output: a table, CSV or TSV (one row per item, for spreadsheets and pipes) or JSON.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (as --format json).")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="DATE",
    help="The POA&M as it stood at the end of DATE (UTC), rebuilt from the history (table or JSON).",
)
@db_option
@click.pass_context
def items_cmd(
    ctx: click.Context,
    system: str | None,
    status: str,
    sort: str,
    late: bool,
    kev: bool,
    risk: str | None,
    pain: int | None,
    awaiting_evaluation: bool,
    detector: str | None,
    asset: str | None,
    fmt: str,
    as_json: bool,
    as_of: dt.datetime | None,
    db: str | None,
) -> None:
    """List POA&M items, with their nearest deadline and priority."""
    if as_of is not None:
        chosen = {"late": late, "kev": kev, "risk": risk, "pain": pain, "detector": detector, "asset": asset}
        _as_of(_engine(ctx, db), system, as_of.date(), status, sort, fmt, as_json, awaiting_evaluation, chosen)
        return
    filters = Filters(late, kev, risk, pain, awaiting_evaluation, detector, asset)
    _info, found = ranked(_engine(ctx, db), system, status, sort, filters)
    if as_json or fmt == "json":
        _json([{**item_json(i), **assessment_json(a)} for i, a in found])
        return
    if fmt in ("csv", "tsv"):
        _delimited(found, "," if fmt == "csv" else "\t")
        return
    _items_table(found, status)
    click.echo(f"{len(found)} {status if status != 'all' else ''} item(s)".replace("  ", " "))


def _as_of(
    engine: Any,
    system: str | None,
    day: dt.date,
    status: str,
    sort: str,
    fmt: str,
    as_json: bool,
    awaiting_evaluation: bool,
    filters: dict[str, Any],
) -> None:
    """`items --as-of DATE`: the rebuilt POA&M (see services/snapshots.py for what it can rebuild)."""
    from poam.errors import ValueRefused
    from poam.services import snapshots

    if fmt in ("csv", "tsv"):
        raise ValueRefused("--as-of lists items as a table or as JSON (--json)")
    _info, rows = snapshots.as_of(engine, system, day, status)
    rows = snapshots.select_rows(rows, sort=sort, awaiting_evaluation=awaiting_evaluation, **filters)
    if as_json or fmt == "json":
        _json(rows)
        return
    table = Table(box=None, pad_edge=False, show_edge=False)
    for header in ("POA&M ID", "Status", "Risk", "Next due", "Detected", "Closed", "Weakness"):
        table.add_column(header, no_wrap=header != "Weakness")
    for r in rows:
        dues = [d for d in r["deadlines"] if d["due"] and not d["met_at"]]
        due = min(dues, key=lambda d: d["due"])["due"][:10] if dues else "-"
        table.add_row(
            *(_cell(v) for v in (r["poam_id"], r["status"], r["rating"], due + (" LATE" if r["late"] else ""))),
            _cell(r["detection_date"]),
            _cell(r["closed_date"] or ""),
            _cell(r["weakness_name"]),
        )
    _console().print(table)
    click.echo(f"{len(rows)} {status if status != 'all' else ''} item(s) as of {day.isoformat()}".replace("  ", " "))


_VIEW: tuple[tuple[str, int, bool], ...] = (
    # header, the terminal width from which it shows, whether it may be cut short
    ("POA&M ID", 0, False),
    ("Risk", 0, False),
    ("Next due", 0, False),
    ("KEV", 0, False),
    ("Prio", 0, False),
    ("PAIN", 100, False),
    ("Status", 100, False),
    ("Rule", 120, True),
    ("Detected", 140, False),
    ("Assets", 140, False),
    ("Detector", 160, True),
    ("Id", 160, True),
    ("Weakness", 0, True),
)


def _items_table(found: list[tuple[PoamItem, Assessment]], status: str) -> None:
    """On a terminal, the columns that fit its width (80 columns: id, risk, next due, KEV, priority
    and the weakness cut to fit); in a pipe, every column as plain space-separated text."""
    terminal = sys.stdout.isatty()
    console = _console()
    width = console.width if terminal else 10_000
    shown = [(h, cut) for h, from_width, cut in _VIEW if width >= from_width]
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold" if terminal else None)
    rows = []
    for i, a in found:
        nearest = a.outcome.nearest()
        due = nearest.due.strftime("%Y-%m-%d") if nearest and nearest.due else "-"
        if a.late:
            due += " LATE"
        values = {
            "POA&M ID": i.poam_id,
            "Risk": a.facts.facts.level.value,
            "Next due": due,
            "KEV": "yes" if a.facts.facts.kev else "",
            "Prio": a.priority.score,
            "PAIN": f"N{a.pain}" if a.pain else "",
            "Status": i.status.value,
            "Rule": nearest.rule if nearest else "",
            "Detected": i.detection_date.isoformat(),
            "Assets": len(i.asset_lines()),
            "Detector": i.detector_source,
            "Id": i.source_identifier,
            "Weakness": i.weakness_name,
        }
        rows.append([_cell(values[h]) for h, _ in shown])
    widest = [max([len(h), *(r[n].cell_len for r in rows)]) for n, (h, _) in enumerate(shown)]
    fixed = sum(w for w, (_, cut) in zip(widest, shown, strict=True) if not cut) + 2 * (len(shown) - 1)
    cuttable = [n for n, (_, cut) in enumerate(shown) if cut]
    room = max(width - fixed, 8 * len(cuttable))
    allowed = {n: min(widest[n], room // len(cuttable)) for n in cuttable[:-1]}
    if cuttable:  # the weakness, last, takes what the others leave
        allowed[cuttable[-1]] = max(room - sum(allowed.values()), 8)
    for n, (header, cut) in enumerate(shown):
        if cut and terminal:
            table.add_column(header, no_wrap=True, overflow="ellipsis", max_width=max(allowed[n], 4))
        else:
            table.add_column(header, no_wrap=True, min_width=widest[n])
    for row in rows:
        if terminal:
            for n, (_header, cut) in enumerate(shown):
                if cut:
                    row[n].overflow, row[n].no_wrap = "ellipsis", True
        table.add_row(*row)
    if terminal:
        console.print(table)
        return
    plain = Console(width=width, markup=False, emoji=False, highlight=False, color_system=None, file=io.StringIO())
    with plain.capture() as captured:
        plain.print(table, crop=False)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


COLUMNS = (
    "poam_id",
    "status",
    "rating",
    "pain",
    "detected",
    "next_due",
    "rule",
    "late",
    "kev",
    "priority",
    "assets",
    "detector",
    "source_identifier",
    "weakness",
)


def _delimited(found: list[tuple[PoamItem, Assessment]], delimiter: str) -> None:
    """One row per item, a header first. Text from scans is made inert: control characters
    replaced, and a cell that a spreadsheet would read as a formula is prefixed with `'`."""
    out = csv.writer(sys.stdout, delimiter=delimiter, lineterminator="\n")
    out.writerow(COLUMNS)
    for i, a in found:
        nearest = a.outcome.nearest()
        row = (
            i.poam_id,
            i.status.value,
            a.facts.facts.level.value,
            a.pain or "",
            i.detection_date.isoformat(),
            nearest.due.strftime("%Y-%m-%dT%H:%M:%SZ") if nearest and nearest.due else "",
            nearest.rule if nearest else "",
            "yes" if a.late else "no",
            "yes" if a.facts.facts.kev else "no",
            a.priority.score,
            "; ".join(i.asset_lines()),
            i.detector_source,
            i.source_identifier,
            i.weakness_name,
        )
        out.writerow([_inert_cell(str(v)) for v in row])


def _inert_cell(text: str) -> str:
    text = printable(text.replace("\t", " ").replace("\n", " ").replace("\r", " "))
    return inert(text)  # the shared rule (exporters.cells): full-width = + - @ too


@cli.group("item")
def item_group() -> None:
    """Change one POA&M item."""


@item_group.command("set")
@click.argument("poam_id")
@system_option
@click.option("--poc", metavar="TEXT", help="Point of contact (empty: back to the assets' owners).")
@click.option("--team", metavar="NAME", help="The team that fixes it (`poam team add`; empty: none).")
@click.option("--resources", metavar="TEXT", help="Resources required, as the workbook shows them.")
@click.option("--hours", type=float, metavar="N", help="Staff hours the fix needs.")
@click.option("--cost", type=float, metavar="AMOUNT", help="Cost beyond current resources.")
@click.option("--technology", metavar="TEXT", help="Technology the fix needs (a tool, a licence).")
@click.option("--plan", metavar="TEXT", help="Overall remediation plan.")
@click.option("--comment", metavar="TEXT", help="Comments column.")
@click.option("--service", "services", multiple=True, metavar="NAME", help="Service name (repeat; replaces them).")
@click.option(
    "--controls",
    "controls",
    multiple=True,
    metavar="IDS",
    help="NIST SP 800-53 controls, e.g. --controls AC-2,SI-2 (replaces the item's controls).",
)
@click.option(
    "--ready/--not-ready",
    "ready",
    default=None,
    help="Mark it ready for the monthly submission (needs an owner and an open milestone a person planned).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the item as `item show --json` lists its fields.")
@user_option
@db_option
@click.pass_context
def item_set(
    ctx: click.Context,
    poam_id: str,
    system: str | None,
    poc: str | None,
    team: str | None,
    resources: str | None,
    hours: float | None,
    cost: float | None,
    technology: str | None,
    plan: str | None,
    comment: str | None,
    services: tuple[str, ...],
    controls: tuple[str, ...],
    ready: bool | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Set fields of the item POAM_ID; each change is recorded in the audit log."""
    item = set_fields(
        _engine(ctx, db),
        system,
        poam_id,
        user,
        poc=poc,
        team=team,
        resources=resources,
        hours=hours,
        plan=plan,
        comment=comment,
        services=list(services) or None,
        controls=list(controls) or None,
        ready=ready,
        cost=cost,
        technology=technology,
    )
    if as_json:
        _json(item_json(item))
        return
    if ready is not None:
        _say(f"{item.poam_id}: {'ready' if item.ready else 'not ready'} for the monthly submission")
    others = (poc, team, resources, hours, cost, technology, plan, comment, services or None)
    if controls:
        _say(f"{item.poam_id}: controls {', '.join(item.controls)}")
    elif ready is None or any(v is not None for v in others):
        _say(f"{item.poam_id}: updated (point of contact {item.point_of_contact or '-'})")


def _show_plan(d: dict[str, Any]) -> None:
    """The planning part of `item show`: owner, resources, plan, milestones, deviations."""
    owner = f"  owner: {d['point_of_contact'] or '-'}" + (f"; team {d['team']}" if d["team"] else "")
    if d["hours"] is not None:
        owner += f"; {d['hours']:g} staff hours"
    state = "ready for the monthly submission" if d["ready"] else "not marked ready"
    reported = f"; reported {d['reported_at']}" if d["reported_at"] else ""
    _say(f"{owner}; {state}{reported}")
    if d["remediation_plan"]:
        _say(f"  plan: {d['remediation_plan']}")
    _say("milestones:")
    for m in d["milestones"]:
        done = f", completed {m['completed_on']}" if m["completed_on"] else ""
        auto = " (automatic)" if m["placeholder"] else ""
        _say(f"  ({m['number']}) {m['date']} {m['status']}{done}{auto}: {m['text']}")
    for c in d["milestone_changes"]:
        _say(f"  ({c['number']}) {c['kind']} {c['date']}: {c['text']} [by {c['by'] or 'poam'}]")
    for x in d.get("deviations", []):
        decided = f", {x['status']} by {x['approver']} {x['decided_at']}" if x["approver"] else f", {x['status']}"
        files = f"; evidence {', '.join(e['name'] for e in x['evidence'])}" if x["evidence"] else ""
        _say(f"deviation: {x['type']} asked by {x['requester']} {x['requested_at']}{decided}: {x['rationale']}{files}")


@item_group.command("show")
@click.argument("poam_id")
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def item_show(ctx: click.Context, poam_id: str, system: str | None, as_json: bool, db: str | None) -> None:
    """Show one item: every deadline with the rule that sets it, flags, the PAIN history and the
    priority factor by factor."""
    d = show(_engine(ctx, db), system, poam_id)
    if as_json:
        _json(d)
        return
    rs = d["rule_set"]
    _say(f"{d['poam_id']} ({d['status']}): {d['weakness_name']}")
    _say(f"  detector {d['detector_source']} {d['source_identifier']}; detected {d['detection_date']}")
    _say(f"  rating {d['rating']} (original {d['severity']})")
    _say(f"  assets: {', '.join(d['assets']) or '-'}; exposure {d['exposure']}; criticality {d['criticality'] or '-'}")
    if d["cves"]:
        epss = d["epss"] if d["epss"] is not None else "-"
        _say(f"  CVEs: {', '.join(d['cves'])}{' (KEV)' if d['kev'] else ''}; EPSS {epss}")
    _say(f"  rule set: {rs['title']}")
    if d["pain"] is not None:
        yn = {True: "yes", False: "no", None: "?"}
        _say(f"  evaluation: N{d['pain']}, IRV {yn[d['irv']]}, LEV {yn[d['lev']]}")
    elif rs["name"] == "fedramp-cr26":
        _say("  evaluation: none yet")
    if d["disposition"]:
        _say(f"  disposition: {d['disposition']}")
    v = d["vendor"]
    if v["dependency"]:
        due = f"next check-in due {v['next_checkin']}{' (OVERDUE)' if v['overdue'] else ''}"
        if v["release_date"]:
            due = f"fix released {v['release_date']}"
        _say(f"  vendor dependency: {v['product'] or 'product not given'}; last check-in {v['last_checkin']}; {due}")
    _show_plan(d)
    _say("deadlines:")
    if not d["deadlines"]:
        _say("  none")
    for x in d["deadlines"]:
        met = f", met {x['met_at']}" if x["met_at"] else ""
        force = f" {x['force']}" if x["force"] else ""
        _say(f"  {x['kind']:<15} {x['due'] or 'no date':<21} {x['rule']}{force}: {x['basis']}{met}")
    for f in d["flags"]:
        _say(f"flag: {f['kind']} ({f['rule']} {f['force']}): {f['text']}")
    if d["evaluations"]:
        _say("evaluations:")
        for e in d["evaluations"]:
            irv, lev = ("yes" if e["irv"] else "no"), ("yes" if e["lev"] else "no")
            _say(f"  {e['at']} {e['kind']:<10} N{e['pain']} IRV {irv} LEV {lev} by {e['evaluator']}: {e['rationale']}")
    p = d["priority"]
    _say(
        f"priority {p['score']}: "
        + ", ".join(f"{x['name']} {x['value']} +{x['points']}" for x in p["factors"] if x["points"])
    )


@item_group.command("history")
@click.argument("poam_id")
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def item_history(ctx: click.Context, poam_id: str, system: str | None, as_json: bool, db: str | None) -> None:
    """The item's story from the audit log: imports that opened or closed it, evaluations, edits,
    deadline changes, each with who and when."""
    from poam.services import audit, systems
    from poam.store.db import read

    with read(_engine(ctx, db)) as conn:
        info = systems.resolve(conn, system, audit.default_actor())
        events = audit.item_history(conn, info.id, poam_id)
    if as_json:
        _json(events)
        return
    if not events:
        _say(f"{poam_id}: no events (is the POA&M id right?)")
    for e in events:
        detail = ", ".join(f"{k} {v}" for k, v in e["detail"].items())
        _say(f"{e['at']} {e['actor']} {e['action']}: {detail}")
