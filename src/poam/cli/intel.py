"""Threat and reference data: `poam kev`, `poam intel` and `poam cci`."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path

import click
from rich.table import Table

from poam.cli.common import WARNINGS_SHOWN, _cell, _console, _engine, _err, _json, _say, db_option, user_option
from poam.cli.root import cli
from poam.errors import InputError, printable
from poam.services import kev


@cli.group("kev")
def kev_group() -> None:
    """The CISA Known Exploited Vulnerabilities catalog (loaded from a file)."""


@kev_group.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def kev_load(ctx: click.Context, file: Path, as_json: bool, user: str, db: str | None) -> None:
    """Load the KEV catalog from FILE (CISA's JSON or CSV) and flag open items."""
    result = kev.load_catalog(_engine(ctx, db), file, user)
    if as_json:
        _json({"file": str(file), **asdict(result)})
        return
    _say(f"loaded KEV catalog {result.version}: {result.entries} entries; {result.items_flagged} open item(s) are KEV")


@cli.group("intel")
def intel_group() -> None:
    """Threat and reference data loaded from files: KEV, EPSS, Vulnrichment SSVC, FedRAMP rules, CCI."""


@intel_group.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: one entry per file, in order.")
@user_option
@db_option
@click.pass_context
def intel_load(ctx: click.Context, files: tuple[Path, ...], as_json: bool, user: str, db: str | None) -> None:
    """Load threat data from FILES, each recognised by its content: KEV (JSON or CSV), EPSS (CSV or
    .csv.gz), Vulnrichment (a CVE record, or a folder, zip or tar of them), the FedRAMP consolidated
    rules JSON, the DISA CCI list.

    A file that cannot be read is reported on one line; the others are still loaded (exit status 2).
    """
    from poam.services import intel

    engine = _engine(ctx, db)
    failed = False
    report: list[dict[str, object]] = []
    for path in files:
        try:
            loaded = intel.load(engine, path, user)
        except InputError as exc:
            _err(str(exc))
            report.append({"file": str(path), "refused": True, "error": str(exc)})
            failed = True
            continue
        if as_json:
            stamp = loaded.dated.strftime("%Y-%m-%dT%H:%M:%SZ") if loaded.dated else None
            report.append({**asdict(loaded), "file": str(path), "dated": stamp, "refused": False})
            continue
        for line in loaded.warnings[:WARNINGS_SHOWN]:
            click.echo(f"poam: warning: {printable(str(path))}: {printable(line)}", err=True)
        dated = f" of {loaded.dated.date().isoformat()}" if loaded.dated else ""
        version = f" {loaded.version}" if loaded.version else ""
        _say(f"{path}: {intel.SOURCES[loaded.source]}{version}{dated}: {loaded.records} records; {loaded.detail}")
    if as_json:
        _json(report)
    if failed:
        ctx.exit(2)


@intel_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def intel_status(ctx: click.Context, as_json: bool, db: str | None) -> None:
    """Each source of threat data: its version, date, record count and how stale it is."""
    from poam.services import intel

    found = intel.status(_engine(ctx, db))
    if as_json:

        def stamp(t: dt.datetime | None) -> str | None:
            return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None

        _json([{**asdict(s), "dated": stamp(s.dated), "loaded_at": stamp(s.loaded_at)} for s in found])
        return
    if not found:
        click.echo("no threat data loaded (poam intel load FILE)")
        return
    table = Table("Source", "Version", "Dated", "Records", "Age (days)", "Stale", "File")
    for s in found:
        dated = s.dated.date().isoformat() if s.dated else ""
        age = "" if s.age_days is None else s.age_days
        table.add_row(*map(_cell, (s.name, s.version or "", dated, s.records, age, "yes" if s.stale else "", s.file)))
    _console().print(table)


@cli.group("cci")
def cci_group() -> None:
    """The DISA CCI list that maps configuration checks to NIST SP 800-53 controls."""


@cci_group.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
@db_option
@click.pass_context
def cci_load(ctx: click.Context, file: Path, as_json: bool, user: str, db: str | None) -> None:
    """Load a DISA CCI list (U_CCI_List.xml) to use instead of the bundled 2016 list."""
    from poam.services import cci

    found = cci.load(_engine(ctx, db), file, user)
    if as_json:
        _json({"file": str(file), "version": found.version, "ccis_mapped": len(found.controls)})
        return
    _say(f"loaded CCI list {found.version}: {len(found.controls)} CCIs mapped to controls")
