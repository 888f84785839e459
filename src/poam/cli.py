"""The `poam` command line: a thin shell over the services."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from poam import __version__
from poam.domain.policy import POLICIES
from poam.errors import InputError, PoamError, internal_error, printable
from poam.parsers.registry import parsers
from poam.services import audit, kev, systems
from poam.services.importer import ImportResult, import_file
from poam.services.items import STATUSES, item_json, list_items, set_controls
from poam.store.db import open_db

F = TypeVar("F", bound=Callable[..., Any])
EXIT_INTERNAL = 3


def _err(message: str) -> None:
    click.echo(f"poam: error: {printable(message)}", err=True)


def _say(line: str) -> None:
    """One line on stdout, with text from files made inert (`printable`)."""
    click.echo(printable(line))


class _Group(click.Group):
    """Turns poam's errors into one line on stderr and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PoamError as exc:
            _err(str(exc))
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:  # `poam items | head`: stop quietly
            sys.stderr.close()
            ctx.exit(0)
        except Exception as exc:  # a bug: say so plainly, show the trace only when asked
            if os.environ.get("POAM_DEBUG"):
                raise
            _err(internal_error(exc))  # never the message: it may hold SQL or text from a file
            ctx.exit(EXIT_INTERNAL)


def db_option(f: F) -> F:
    """`--db` on every command (the group-level one works too)."""
    return click.option(
        "--db",
        "db",
        metavar="PATH|URL",
        help="SQLite file or SQLAlchemy URL (default: $POAM_DB or ./poam.db).",
    )(f)


def system_option(f: F) -> F:
    """`--system NAME`, needed only when the database holds several systems."""
    return click.option("--system", "system", metavar="NAME", help="System to work on.")(f)


def _engine(ctx: click.Context, db: str | None) -> Engine:
    target = db or ctx.find_root().params.get("db")
    return open_db(target)


def _console() -> Console:
    """A console for tables: as wide as the terminal, or wide enough when output is piped.
    Strings are never read as rich markup, emoji codes or highlighted."""
    plain: dict[str, Any] = {"markup": False, "emoji": False, "highlight": False}
    return Console(**plain) if sys.stdout.isatty() else Console(width=200, **plain)


def _cell(value: object) -> Text:
    """A table cell: the text as it is (no markup), control characters replaced."""
    return Text(printable(str(value)))


def _escape_json(ch: str) -> str:
    code = ord(ch)
    if code > 0xFFFF:  # JSON spells a character beyond the BMP as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _json(data: Any) -> None:
    """JSON on stdout, UTF-8 kept readable; a character that is not printable (a C1 control such
    as CSI, a bidirectional override, a lone surrogate) is written as a JSON escape, so the data
    is the same once parsed but inert on a terminal. (json.dumps escapes the C0 controls.)"""
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    if not text.replace("\n", "").isprintable():
        text = "".join(ch if ch.isprintable() or ch == "\n" else _escape_json(ch) for ch in text)
    click.echo(text)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@db_option
@click.version_option(__version__, prog_name="poam")
def cli(db: str | None) -> None:
    """Build and keep a security Plan of Action and Milestones (POA&M)."""


@cli.group("system")
def system_group() -> None:
    """Add and list systems (authorization boundaries)."""


@system_group.command("add")
@click.argument("name")
@click.option(
    "--impact",
    type=click.Choice(["low", "moderate", "high"], case_sensitive=False),
    default="moderate",
    show_default=True,
    help="FIPS 199 impact level.",
)
@click.option("--org", help="Organization (the CSP), shown in the workbook header.")
@click.option(
    "--policy",
    type=click.Choice(sorted(POLICIES)),
    default="fedramp-rev5",
    show_default=True,
    help="Remediation policy that sets deadlines.",
)
@click.option("--id-prefix", default="V-", show_default=True, help="POA&M id prefix.")
@click.option("--fedramp-id", help="FedRAMP package id (OSCAL system-id).")
@click.option("--poc", help="Default point of contact for new items.")
@click.option("--service", "services", multiple=True, help="Service name (repeat for several).")
@db_option
@click.pass_context
def system_add(
    ctx: click.Context,
    name: str,
    impact: str,
    org: str | None,
    policy: str,
    id_prefix: str,
    fedramp_id: str | None,
    poc: str | None,
    services: tuple[str, ...],
    db: str | None,
) -> None:
    """Add a system named NAME."""
    info = systems.add_system(
        _engine(ctx, db),
        name,
        audit.default_actor(),
        impact=impact,
        org=org,
        policy=policy,
        id_prefix=id_prefix,
        fedramp_id=fedramp_id,
        point_of_contact=poc,
        service_names="\n".join(services) or None,
    )
    _say(f"added system {info.name} ({info.impact} impact, policy {info.policy}, ids {info.id_prefix}<n>)")


@system_group.command("set")
@click.argument("name")
@click.option("--public-cidr", "cidrs", multiple=True, metavar="CIDR", help="An address range that is public (repeat).")
@click.option("--public-domain", "domains", multiple=True, metavar="SUFFIX", help="A public host name suffix (repeat).")
@click.option("--clear-public-rules", is_flag=True, help="Remove the system's public rules.")
@db_option
@click.pass_context
def system_set(
    ctx: click.Context,
    name: str,
    cidrs: tuple[str, ...],
    domains: tuple[str, ...],
    clear_public_rules: bool,
    db: str | None,
) -> None:
    """Set a system's rules for public exposure: assets in these ranges or under these domains are
    public unless a person or the inventory classified them (each option replaces its list)."""
    if not (cidrs or domains or clear_public_rules):
        raise PoamError("give --public-cidr, --public-domain or --clear-public-rules")
    new_cidrs, new_domains = systems.set_public_rules(
        _engine(ctx, db),
        name,
        [] if clear_public_rules else (list(cidrs) if cidrs else None),
        [] if clear_public_rules else (list(domains) if domains else None),
        audit.default_actor(),
    )
    _say(f"{name}: public ranges {', '.join(new_cidrs) or 'none'}; public domains {', '.join(new_domains) or 'none'}")


@system_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def system_list(ctx: click.Context, as_json: bool, db: str | None) -> None:
    """List the systems with their open and closed item counts."""
    found = systems.list_systems(_engine(ctx, db))
    if as_json:
        _json([asdict(s) for s in found])
        return
    if not found:
        click.echo("no systems yet: import a scan or run `poam system add NAME`")
        return
    table = Table("Name", "Impact", "Policy", "Org", "Open", "Closed")
    for s in found:
        table.add_row(*map(_cell, (s.name, s.impact, s.policy, s.org or "", s.open_items, s.closed_items)))
    _console().print(table)


def _describe(r: ImportResult) -> str:
    if r.duplicate:
        return f"{r.source}: already imported (same SHA-256); nothing changed"
    window = r.ended_at.date().isoformat() if r.ended_at else "no date"
    if r.date_source == "mtime":
        window += " (date from file time)"
    elif r.date_source == "option":
        window += " (date from --scan-date)"
    warned = f"; {r.warnings} warning(s)" if r.warnings else ""
    aside = f", {r.set_aside} set aside" if r.set_aside else ""
    return (
        f"{r.source}: {r.format}, {r.tool} scan of {window}: {r.assets_covered} assets covered, {r.results} results "
        f"({r.informational} informational{aside}); findings {r.new_findings} new, {r.fixed_findings} fixed, "
        f"{r.reopened_findings} reopened; items {r.items_opened} opened, {r.items_closed} closed{warned}"
    )


WARNINGS_SHOWN = 20
"""Warning lines printed per file; `import --json` lists up to 1,000 and counts them all."""


def _warn(r: ImportResult) -> None:
    """One line on stderr per record read past with an odd value."""
    for line in r.warning_lines[:WARNINGS_SHOWN]:
        click.echo(f"poam: warning: {printable(r.source)}: {printable(line)}", err=True)
    if r.warnings > WARNINGS_SHOWN:
        more = r.warnings - WARNINGS_SHOWN
        click.echo(f"poam: warning: {printable(r.source)}: {more} more warning(s); --json lists them", err=True)


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@system_option
@click.option("--format", "format_id", metavar="ID", help="Skip detection and read as this format (see `formats`).")
@click.option(
    "--scan-date",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Date of the scan: replaces every date the file gives (else the file's dates, else its modification time).",
)
@click.option(
    "--asset",
    metavar="NAME",
    help="What the file scanned, when it does not say (a repository for Bandit, npm audit, pip-audit).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def import_cmd(
    ctx: click.Context,
    files: tuple[Path, ...],
    system: str | None,
    format_id: str | None,
    scan_date: dt.datetime | None,
    asset: str | None,
    as_json: bool,
    db: str | None,
) -> None:
    """Import scan files, each in its own transaction.

    A bad file is reported on one line and leaves the database as it was; the other files
    are still imported, and the exit status is 2.
    """
    from poam import signals

    engine = _engine(ctx, db)
    actor = audit.default_actor()
    results: list[ImportResult] = []
    failed = False
    show_bar = sys.stderr.isatty() and not as_json
    for path in files:
        try:
            if show_bar and path.is_file():
                result = _with_progress(engine, path, system, format_id, scan_date, asset, actor)
            else:
                result = import_file(
                    engine, path, system=system, format_id=format_id, scan_date=scan_date, asset=asset, actor=actor
                )
        except InputError as exc:
            _err(str(exc))
            failed = True
            continue
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: the file's transaction was rolled back
            code = signals.exit_code(exc)
            done = exc.done if isinstance(exc, signals.Interrupted) else None
            if isinstance(done, ImportResult):  # the signal came during the commit: it is imported
                results.append(done)
                if not as_json:
                    _say(_describe(done))
                _err(f"{path}: interrupted ({signals.name(code)}) as this file's import was committed; it is imported")
            else:
                before = f"; the {len(results)} file(s) before it stay imported" if results else ""
                _err(f"{path}: interrupted ({signals.name(code)}); this file was not imported{before}")
            if as_json:
                _json([asdict(r) for r in results])
            ctx.exit(code)
        results.append(result)
        if not as_json:
            _warn(result)
            _say(_describe(result))
    if as_json:
        _json([asdict(r) for r in results])
    if failed:
        ctx.exit(2)


def _with_progress(
    engine: Engine,
    path: Path,
    system: str | None,
    format_id: str | None,
    scan_date: dt.datetime | None,
    asset: str | None,
    actor: str,
) -> ImportResult:
    columns = (TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(printable(path.name[:40]), total=path.stat().st_size)
        return import_file(
            engine,
            path,
            system=system,
            format_id=format_id,
            scan_date=scan_date,
            asset=asset,
            actor=actor,
            progress=lambda done: bar.update(task, completed=done),
        )


@cli.command("items")
@system_option
@click.option("--status", type=click.Choice(STATUSES), default="open", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def items_cmd(ctx: click.Context, system: str | None, status: str, as_json: bool, db: str | None) -> None:
    """List POA&M items."""
    _info, found = list_items(_engine(ctx, db), system, status)
    if as_json:
        _json([item_json(i) for i in found])
        return
    table = Table("POA&M ID", "Status", "Risk", "Detected", "Due", "KEV", "Assets", "Detector", "Id", "Weakness")
    for i in found:
        table.add_row(
            *map(
                _cell,
                (
                    i.poam_id,
                    i.status.value,
                    i.original_risk.fedramp.value,
                    i.detection_date.isoformat(),
                    i.scheduled_completion_date.isoformat(),
                    "yes" if i.kev else "",
                    len(i.assets),
                    i.detector_source,
                    i.source_identifier,
                    i.weakness_name,
                ),
            )
        )
    _console().print(table)
    click.echo(f"{len(found)} {status if status != 'all' else ''} item(s)".replace("  ", " "))


@cli.group("item")
def item_group() -> None:
    """Change one POA&M item."""


@item_group.command("set")
@click.argument("poam_id")
@system_option
@click.option(
    "--controls",
    "controls",
    multiple=True,
    required=True,
    metavar="IDS",
    help="NIST SP 800-53 controls, e.g. --controls AC-2,SI-2 (replaces the item's controls).",
)
@db_option
@click.pass_context
def item_set(ctx: click.Context, poam_id: str, system: str | None, controls: tuple[str, ...], db: str | None) -> None:
    """Set fields of the item POAM_ID (for now its controls)."""
    item = set_controls(_engine(ctx, db), system, poam_id, list(controls), audit.default_actor())
    _say(f"{item.poam_id}: controls {', '.join(item.controls)}")


@cli.group("export")
def export_group() -> None:
    """Write deliverables: the FedRAMP workbook or the OSCAL POA&M."""


@export_group.command("fedramp")
@click.argument("out", type=click.Path(path_type=Path))
@system_option
@click.option("--date", "poam_date", type=click.DateTime(["%Y-%m-%d"]), help="POAM Date in the header (default today).")
@db_option
@click.pass_context
def export_fedramp(
    ctx: click.Context, out: Path, system: str | None, poam_date: dt.datetime | None, db: str | None
) -> None:
    """Write the FedRAMP POA&M workbook (.xlsx) to OUT."""
    from poam.services import exporting

    result = exporting.export_fedramp(
        _engine(ctx, db), out, system, audit.default_actor(), poam_date.date() if poam_date else None
    )
    parts = ", ".join(f"{n} {k}" for k, n in result.detail.items())
    _say(f"wrote {out} ({parts})")


@export_group.command("oscal")
@click.argument("out", type=click.Path(path_type=Path))
@system_option
@click.option("--no-validate", is_flag=True, help="Skip the check against the NIST OSCAL schema.")
@db_option
@click.pass_context
def export_oscal(ctx: click.Context, out: Path, system: str | None, no_validate: bool, db: str | None) -> None:
    """Write the OSCAL 1.1.2 POA&M (.json) to OUT, validated against the NIST schema."""
    from poam.services import exporting

    result = exporting.export_oscal(_engine(ctx, db), out, system, audit.default_actor(), validate=not no_validate)
    _say(f"wrote {out} ({result.items} poam-items, OSCAL 1.1.2{'' if no_validate else ', schema-valid'})")


@cli.command("summary")
@system_option
@click.option("--date", "today", type=click.DateTime(["%Y-%m-%d"]), help="Day to judge lateness on (default today).")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the summary to this file.")
@db_option
@click.pass_context
def summary_cmd(
    ctx: click.Context, system: str | None, today: dt.datetime | None, out: Path | None, db: str | None
) -> None:
    """Print a short summary: open items by risk, late items, KEV items."""
    from poam.services import exporting

    text = exporting.summary_text(exporting.summarize(_engine(ctx, db), system, today.date() if today else None))
    if out:
        exporting.write_text(out, text)  # atomic: a failed write leaves the previous file
    click.echo(text, nl=False)  # each line made inert by summary_text


@cli.command("formats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def formats_cmd(as_json: bool) -> None:
    """List the input formats poam reads."""
    found = parsers()
    if as_json:
        _json(
            [
                {"id": p.id, "name": p.name, "maps_to": p.maps_to, "closes_by_coverage": p.closes_by_coverage}
                for p in found.values()
            ]
        )
        return
    table = Table("Id", "Format", "Findings map to")
    for p in found.values():
        table.add_row(_cell(p.id), _cell(p.name), _cell(p.maps_to))
    _console().print(table)


@cli.group("kev")
def kev_group() -> None:
    """The CISA Known Exploited Vulnerabilities catalog (loaded from a file)."""


@kev_group.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@db_option
@click.pass_context
def kev_load(ctx: click.Context, file: Path, db: str | None) -> None:
    """Load the KEV catalog from FILE (CISA's JSON or CSV) and flag open items."""
    result = kev.load_catalog(_engine(ctx, db), file, audit.default_actor())
    _say(f"loaded KEV catalog {result.version}: {result.entries} entries; {result.items_flagged} open item(s) are KEV")


@cli.group("asset")
def asset_group() -> None:
    """Assets: their exposure (public, internal, unknown) and criticality."""


@asset_group.command("set")
@click.argument("asset")
@system_option
@click.option("--exposure", type=click.Choice(["public", "internal", "unknown"]), help="How exposed the asset is.")
@click.option("--criticality", type=click.Choice(["low", "moderate", "high"]), help="How critical the asset is.")
@db_option
@click.pass_context
def asset_set(
    ctx: click.Context, asset: str, system: str | None, exposure: str | None, criticality: str | None, db: str | None
) -> None:
    """Set the exposure and/or criticality of ASSET (its identifier, IP address or host name)."""
    from poam.services import exposure as exposure_service

    view = exposure_service.set_asset(_engine(ctx, db), system, asset, exposure, criticality, audit.default_actor())
    _say(f"{view.identifier}: exposure {view.exposure}, criticality {view.criticality or 'not set'}")


@asset_group.command("list")
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def asset_list(ctx: click.Context, system: str | None, as_json: bool, db: str | None) -> None:
    """The system's assets with their exposure (and where it comes from) and criticality."""
    from poam.services import exposure as exposure_service

    found = exposure_service.list_assets(_engine(ctx, db), system)
    if as_json:
        _json([asdict(a) for a in found])
        return
    table = Table("Asset", "Kind", "IP", "Exposure", "From", "Criticality", "Inventory")
    for a in found:
        row = (
            a.identifier,
            a.kind,
            a.ip or "",
            a.exposure,
            a.exposure_source,
            a.criticality or "",
            "yes" if a.in_inventory else "",
        )
        table.add_row(*map(_cell, row))
    _console().print(table)
    click.echo(f"{len(found)} asset(s)")


@cli.group("intel")
def intel_group() -> None:
    """Threat and reference data loaded from files: KEV, EPSS, Vulnrichment SSVC, FedRAMP rules, CCI."""


@intel_group.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@db_option
@click.pass_context
def intel_load(ctx: click.Context, files: tuple[Path, ...], db: str | None) -> None:
    """Load threat data from FILES, each recognised by its content: KEV (JSON or CSV), EPSS (CSV or
    .csv.gz), Vulnrichment (a CVE record, or a folder, zip or tar of them), the FedRAMP consolidated
    rules JSON, the DISA CCI list.

    A file that cannot be read is reported on one line; the others are still loaded (exit status 2).
    """
    from poam.services import intel

    engine = _engine(ctx, db)
    failed = False
    for path in files:
        try:
            loaded = intel.load(engine, path, audit.default_actor())
        except InputError as exc:
            _err(str(exc))
            failed = True
            continue
        for line in loaded.warnings[:WARNINGS_SHOWN]:
            click.echo(f"poam: warning: {printable(str(path))}: {printable(line)}", err=True)
        dated = f" of {loaded.dated.date().isoformat()}" if loaded.dated else ""
        version = f" {loaded.version}" if loaded.version else ""
        _say(f"{path}: {intel.SOURCES[loaded.source]}{version}{dated}: {loaded.records} records; {loaded.detail}")
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
        _json([asdict(s) for s in found])
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


@cli.group("inventory")
def inventory_group() -> None:
    """The asset inventory (FedRAMP Integrated Inventory Workbook, or Nmap discovery)."""


@inventory_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@system_option
@db_option
@click.pass_context
def inventory_import(ctx: click.Context, file: Path, system: str | None, db: str | None) -> None:
    """Import the inventory from FILE: an Integrated Inventory Workbook (.xlsx) or Nmap XML."""
    from poam.services import inventory

    r = inventory.import_inventory(_engine(ctx, db), file, system, audit.default_actor())
    line = f"{file}: {r.entries} inventory assets ({r.matched} matched known assets, {r.created} new)"
    if r.removed:
        line += f"; {len(r.removed)} no longer in the inventory"
    _say(line)


@inventory_group.command("report")
@system_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
@click.pass_context
def inventory_report(ctx: click.Context, system: str | None, as_json: bool, db: str | None) -> None:
    """Assets the scans saw that the inventory lacks, and inventory assets no scan covered."""
    from poam.services import inventory

    r = inventory.report(_engine(ctx, db), system)
    if as_json:
        _json(asdict(r))
        return
    _say(f"{r.system}: {r.inventory} assets in the inventory")
    _say(f"Seen by scans but missing from the inventory ({len(r.missing_from_inventory)}):")
    for name in r.missing_from_inventory:
        _say(f"  {name}")
    _say(f"In the inventory but never covered by a scan ({len(r.never_scanned)}):")
    for name in r.never_scanned:
        _say(f"  {name}")


@cli.group("cci")
def cci_group() -> None:
    """The DISA CCI list that maps configuration checks to NIST SP 800-53 controls."""


@cci_group.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@db_option
@click.pass_context
def cci_load(ctx: click.Context, file: Path, db: str | None) -> None:
    """Load a DISA CCI list (U_CCI_List.xml) to use instead of the bundled 2016 list."""
    from poam.services import cci

    found = cci.load(_engine(ctx, db), file, audit.default_actor())
    _say(f"loaded CCI list {found.version}: {len(found.controls)} CCIs mapped to controls")


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


def main() -> None:
    """Entry point of the `poam` script. SIGINT, SIGTERM and SIGHUP end a command cleanly (its
    transaction rolled back) with exit status 128 + the signal: 130, 143, 129."""
    from poam import signals

    signals.install()
    try:
        cli(prog_name="poam")
    except SystemExit:
        signum = signals.received()
        if signum is None:
            raise
        raise SystemExit(128 + signum) from None  # Click ends an interrupted command with 1 ("Aborted!")
    except KeyboardInterrupt as exc:  # interrupted outside a command (while Click set up or ended)
        raise SystemExit(signals.exit_code(exc)) from None
