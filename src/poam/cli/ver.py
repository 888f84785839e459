"""`poam export vdr|avi|ver-history` (the FedRAMP CR26 VER reports) and `poam validate FILE`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from poam.cli.common import _engine, _json, _say, db_option, system_option, user_option
from poam.cli.exports import _export_json, _say_head, export_group
from poam.cli.root import cli
from poam.errors import ValueRefused, printable
from poam.services import ver

F = TypeVar("F", bound=Callable[..., Any])


def _schemas_option(f: F) -> F:
    return click.option(
        "--schemas",
        "schemas_dir",
        type=click.Path(path_type=Path),
        envvar="POAM_FEDRAMP_SCHEMAS",
        metavar="DIR",
        help="Folder of corrected FedRAMP schema files (accepted only when their SHA-256 is pinned).",
    )(f)


def _date(text: str, option: str) -> dt.date:
    """A calendar date (YYYY-MM-DD); a date-time is taken for its UTC day."""
    value = text.strip()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ValueRefused(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None
    return (when.astimezone(dt.UTC) if when.tzinfo else when).date()


def _write(
    ctx: click.Context,
    kind: str,
    out: Path,
    system: str | None,
    start: str | None,
    end: str | None,
    schemas_dir: Path | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    within = None
    if kind != "ver-history":
        if start is None or end is None:
            raise ValueRefused(f"the {ver.TITLES[kind]} needs its report period: --from DATE --to DATE")
        within = ver.period(_date(start, "--from"), _date(end, "--to"))
    done = ver.export(_engine(ctx, db), kind, out, system, user, within, schemas_dir)
    for line in done.warnings:
        click.echo(f"poam: warning: {printable(line)}", err=True)
    if as_json:
        data = _export_json(ctx, db, done, f"fedramp-{kind}")
        data.update(
            {
                "records": done.records,
                "accepted": done.accepted,
                "schema_version": done.schema_version,
                "schema_valid": True,
                "warnings": list(done.warnings),
            }
        )
        if within is not None:
            data["period"] = {"from": within.start.date().isoformat(), "to": within.end.date().isoformat()}
        _json(data)
        return
    what = f"{done.records} record(s)" + (f", {done.accepted} accepted" if kind == "ver-history" else "")
    _say(f"wrote {out} ({ver.TITLES[kind]}, {what}; valid against schema {done.schema_version})")
    _say_head(ctx, db)


@export_group.command("vdr")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--from", "start", metavar="DATE", help="First day of the report period (YYYY-MM-DD).")
@click.option("--to", "end", metavar="DATE", help="Last day of the report period (YYYY-MM-DD).")
@system_option
@_schemas_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def export_vdr(
    ctx: click.Context,
    out: Path,
    start: str | None,
    end: str | None,
    system: str | None,
    schemas_dir: Path | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Write the FedRAMP Vulnerability Detail Report (VER-RPT-VDT, JSON) for the period to OUT:
    every non-accepted vulnerability open at some time in the period."""
    _write(ctx, "vdr", out, system, start, end, schemas_dir, as_json, user, db)


@export_group.command("avi")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--from", "start", metavar="DATE", help="First day of the report period (YYYY-MM-DD).")
@click.option("--to", "end", metavar="DATE", help="Last day of the report period (YYYY-MM-DD).")
@system_option
@_schemas_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def export_avi(
    ctx: click.Context,
    out: Path,
    start: str | None,
    end: str | None,
    system: str | None,
    schemas_dir: Path | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Write FedRAMP Accepted Vulnerability Info (VER-RPT-AVI, JSON) for the period to OUT."""
    _write(ctx, "avi", out, system, start, end, schemas_dir, as_json, user, db)


@export_group.command("ver-history")
@click.argument("out", type=click.Path(path_type=Path))
@system_option
@_schemas_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def export_ver_history(
    ctx: click.Context,
    out: Path,
    system: str | None,
    schemas_dir: Path | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Write the FedRAMP Historical VER Activity (VER-TFR-MRH, JSON) to OUT: every open
    vulnerability, active and accepted, as it stands now."""
    _write(ctx, "ver-history", out, system, None, None, schemas_dir, as_json, user, db)


@cli.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@_schemas_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def validate_cmd(ctx: click.Context, file: Path, schemas_dir: Path | None, as_json: bool) -> None:
    """Check FILE: a FedRAMP VER report (VDR, AVI, Historical VER Activity) against its pinned
    schema, or an OSCAL POA&M against the NIST schema and FedRAMP's rules. Each problem is printed
    with its JSON path and the offending value. Exit status 0 valid, 1 not valid, 2 unreadable."""
    from poam.services import validation

    checked = validation.check_file(file, schemas_dir)
    if as_json:
        _json(validation.report_json(checked))
    else:
        version = f" {checked.schema_version}" if checked.schema_version else ""
        name = validation.KINDS[checked.kind]
        if checked.valid:
            _say(f"{file}: valid {name}{version} (checked: {checked.checks})")
        else:
            for p in checked.problems:
                click.echo(printable(p.line()))
            _say(f"{file}: NOT valid {name}{version}: {len(checked.problems)} problem(s) (checked: {checked.checks})")
    ctx.exit(0 if checked.valid else 1)


@export_group.command("vdr-report")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--from", "start", metavar="DATE", required=True, help="First day of the report period (YYYY-MM-DD).")
@click.option("--to", "end", metavar="DATE", required=True, help="Last day of the report period (YYYY-MM-DD).")
@system_option
@_schemas_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def export_vdr_report(
    ctx: click.Context,
    out: Path,
    start: str,
    end: str,
    system: str | None,
    schemas_dir: Path | None,
    as_json: bool,
    user: str,
    db: str | None,
) -> None:
    """Write the human-readable VDR activity report (VER-TFR-MHR) for the period to OUT.html or
    OUT.pdf, with charts, from the same records as the VDR and AVI."""
    within = ver.period(_date(start, "--from"), _date(end, "--to"))
    engine = _engine(ctx, db)
    from poam.services import ver_activity

    done = ver_activity.export_report(engine, out, system, user, within, schemas_dir)
    for line in done.warnings:
        click.echo(f"poam: warning: {printable(line)}", err=True)
    as_of = min(within.end, dt.datetime.now(dt.UTC))  # as the report itself: never a day still to come
    summary = ver_activity.accepted_summary(engine, done.system, as_of.date())
    if as_json:
        data = _export_json(ctx, db, done, f"vdr-activity-{out.suffix.lower().lstrip('.')}")
        data.update(
            {
                "records": done.records,
                "accepted": done.accepted,
                "period": {"from": within.start.date().isoformat(), "to": within.end.date().isoformat()},
                "accepted_summary": summary,
                "warnings": list(done.warnings),
            }
        )
        _json(data)
        return
    _say(f"wrote {out} (VDR activity report, {done.records} vulnerabilities, {done.accepted} accepted)")
    _say(f"accepted vulnerabilities for the Ongoing Certification Report (CCM-OCR-AVL): {summary}")
    _say_head(ctx, db)
