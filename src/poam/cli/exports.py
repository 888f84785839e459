"""`poam export` (the FedRAMP workbook, the OSCAL POA&M) and `poam summary`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from poam.cli.common import _engine, _json, _say, db_option, system_option, user_option
from poam.cli.root import cli
from poam.services import audit


@cli.group("export")
def export_group() -> None:
    """Write deliverables: FedRAMP workbook, OSCAL POA&M, FedRAMP VER reports, eMASS, DR form, CSV."""


@export_group.command("fedramp")
@click.argument("out", type=click.Path(path_type=Path))
@system_option
@click.option("--date", "poam_date", type=click.DateTime(["%Y-%m-%d"]), help="POAM Date in the header (default today).")
@click.option(
    "--template",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Fill this copy of the official template (.xlsx or .xlsm; OUT keeps its extension).",
)
@click.option(
    "--scope",
    type=click.Choice(["all", "late"]),
    default="all",
    show_default=True,
    help="late: only open items past their due date on the POAM Date.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def export_fedramp(
    ctx: click.Context,
    out: Path,
    system: str | None,
    poam_date: dt.datetime | None,
    template: Path | None,
    scope: str,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Write the FedRAMP POA&M workbook (.xlsx, or the template's .xlsm) to OUT."""
    from poam.services import exporting

    day = poam_date.date() if poam_date else None
    result = exporting.export_fedramp(_engine(ctx, db), out, system, user, day, template=template, scope=scope)
    if as_json:
        _json({**_export_json(ctx, db, result, "fedramp-xlsx"), "scope": scope, "template": template and str(template)})
        return
    parts = ", ".join(f"{n} {k}" for k, n in result.detail.items())
    _say(f"wrote {out} ({parts})")
    if scope == "late":
        on = (day or dt.date.today()).isoformat()
        _say(f"scope late: open items past the earlier of their Scheduled Completion Date and KEV due date on {on}")
    _say_head(ctx, db)


@export_group.command("oscal")
@click.argument("out", type=click.Path(path_type=Path))
@system_option
@click.option(
    "--ssp",
    "ssp_href",
    metavar="HREF",
    help="Where the system's OSCAL SSP is (a path relative to OUT, or a URI): cited by import-ssp. "
    "Without it the document declares that no OSCAL SSP is delivered (FedRAMP's no-oscal-ssp resource).",
)
@click.option("--no-validate", is_flag=True, help="Skip the checks (NIST OSCAL schema and FedRAMP's rules).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def export_oscal(
    ctx: click.Context,
    out: Path,
    system: str | None,
    ssp_href: str | None,
    no_validate: bool,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Write the OSCAL 1.1.2 POA&M to OUT (JSON; OSCAL XML when OUT ends in .xml); a document that
    breaks the NIST schema or FedRAMP's rules (one risk per item, deadline, planned response with
    a milestone, references that resolve, import-ssp) is refused."""
    from poam.services import exporting

    result = exporting.export_oscal(_engine(ctx, db), out, system, user, validate=not no_validate, ssp_href=ssp_href)
    if as_json:
        _json({**_export_json(ctx, db, result, "oscal-poam-1.1.2"), "schema_valid": not no_validate, "ssp": ssp_href})
        return
    checked = "" if no_validate else ", schema-valid, FedRAMP checks passed"
    _say(f"wrote {out} ({result.items} poam-items, OSCAL 1.1.2{checked})")
    _say_head(ctx, db)


def _export_json(ctx: click.Context, db: str | None, result: Any, kind: str) -> dict[str, Any]:
    from poam.store.db import read

    with read(_engine(ctx, db)) as conn:
        head, count = audit.head(conn)
    return {
        "file": str(result.path),
        "format": kind,
        "system": result.system,
        "items": result.items,
        "detail": result.detail,
        "audit_head": head,
        "audit_events": count,
    }


def _say_head(ctx: click.Context, db: str | None) -> None:
    """The audit log's head once the export is recorded: keep it with the deliverable and check the
    log later with `poam audit verify --head HASH`."""
    from poam.store.db import read

    with read(_engine(ctx, db)) as conn:
        head, count = audit.head(conn)
    _say(f"audit log head: {head} ({count} events; check later with `poam audit verify --head`)")


@cli.command("summary")
@system_option
@click.option("--date", "today", type=click.DateTime(["%Y-%m-%d"]), help="Day to judge lateness on (default today).")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the summary to this file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def summary_cmd(
    ctx: click.Context, system: str | None, today: dt.datetime | None, out: Path | None, as_json: bool, db: str | None
) -> None:
    """Print a short summary: open items by risk, late items, KEV items."""
    from poam.services import exporting

    found = exporting.summarize(_engine(ctx, db), system, today.date() if today else None)
    if as_json:
        data = exporting.summary_json(found)
        if out:
            exporting.write_text(out, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        _json(data)
        return
    text = exporting.summary_text(found)
    if out:
        exporting.write_text(out, text)  # atomic: a failed write leaves the previous file
    click.echo(text, nl=False)  # each line made inert by summary_text
