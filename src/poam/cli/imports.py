"""`poam import`: scan files in, one transaction each, with a progress bar on a terminal."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine

from poam.cli.common import WARNINGS_SHOWN, _engine, _err, _json, _say, db_option, system_option, user_option
from poam.cli.root import cli
from poam.errors import InputError, ValueRefused, printable
from poam.services import poam_import
from poam.services.importer import ImportResult, import_file


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


def _warn(r: ImportResult | poam_import.PoamImportResult) -> None:
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
    help="Date of the scan: replaces every date the file gives (else the file's dates, else its modification time). "
    "Scan files only.",
)
@click.option(
    "--asset",
    metavar="NAME",
    help="What the file scanned, when it does not say (a repository for Bandit, npm audit, pip-audit). "
    "Scan files only.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@user_option
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
    user: str,
    db: str | None,
) -> None:
    """Import scan files, each in its own transaction; a POA&M workbook (FedRAMP template) brings its items in.

    A bad file is reported on one line and leaves the database as it was; the other files
    are still imported, and the exit status is 2.
    """
    from poam import signals

    documents = _documents(files, format_id, scan_date, asset)
    engine = _engine(ctx, db)
    actor = user
    results: list[ImportResult] = []
    reported: list[dict[str, object]] = []  # `--json`: every file in order, refused ones with their error
    failed = False
    show_bar = sys.stderr.isatty() and not as_json
    for n, path in enumerate(files):
        try:
            # a POA&M workbook or document, by content
            document = documents[n] if n in documents else poam_import.reader_for(path, format_id)
            if document is not None:
                imported = poam_import.import_document(engine, path, document, system, actor)
                reported.append({**asdict(imported), "refused": False})
                if not as_json:
                    _warn(imported)
                    _say(poam_import.describe(imported))
                continue
            if show_bar and path.is_file():
                result = _with_progress(engine, path, system, format_id, scan_date, asset, actor)
            else:
                result = import_file(
                    engine, path, system=system, format_id=format_id, scan_date=scan_date, asset=asset, actor=actor
                )
        except InputError as exc:
            _err(str(exc))
            failed = True
            entry: dict[str, object] = {"source": str(path), "refused": True, "error": printable(exc.problem)}
            reported.append(entry)
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
                _json(reported + ([{**asdict(done), "refused": False}] if isinstance(done, ImportResult) else []))
            ctx.exit(code)
        results.append(result)
        reported.append({**asdict(result), "refused": False})
        if not as_json:
            _warn(result)
            _say(_describe(result))
    if as_json:
        _json(reported)
    if failed:
        ctx.exit(2)


def _documents(
    files: tuple[Path, ...], format_id: str | None, scan_date: dt.datetime | None, asset: str | None
) -> dict[int, poam_import.DocumentReader | None]:
    """With `--scan-date` or `--asset`, each file's POA&M reader found before anything is imported
    (by position; None: a scan file): a POA&M document is refused (`ValueRefused`, exit 2), since
    the options apply to scan files only, and the database is left as it was. Without them, nothing
    is looked at yet."""
    given = [name for name, value in (("--scan-date", scan_date), ("--asset", asset)) if value is not None]
    if not given:
        return {}
    found: dict[int, poam_import.DocumentReader | None] = {}
    for n, path in enumerate(files):
        found[n] = poam_import.reader_for(path, format_id)
        if found[n] is not None:
            options = " and ".join(given)
            raise ValueRefused(
                f"{path}: {options} {'apply' if len(given) > 1 else 'applies'} to scan files only, "
                "not to a POA&M document; nothing was imported"
            )
    return found


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
