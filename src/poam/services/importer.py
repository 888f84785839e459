"""Importing one scan file: one transaction, findings upserted, coverage-aware reconciliation.

The file is streamed: findings are handled in batches with SQLAlchemy Core, so memory stays
flat whatever the file size. Importing the same file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine, insert, select, update

from poam.domain.models import Coverage, Finding, FindingStatus, Scan, Severity
from poam.errors import InputError
from poam.parsers.base import ParseContext, Parser, ParseReport, Record
from poam.parsers.registry import detect
from poam.services import audit, deadlines, history, systems
from poam.services import parallel as parallel_reader
from poam.services.assets import AssetResolver
from poam.services.coverage import MAX_PARTIAL_PATHS, CoverageBook
from poam.services.itemmaker import ItemMaker
from poam.services.rewrite import Rewriter
from poam.services.sightings import SightingWriter
from poam.store.tables import scans

BATCH = 2000
MAX_ID = 200
EARLIEST = dt.datetime(1990, 1, 1)
"""No scan a POA&M tracks is older: an earlier date is a broken clock or a hostile file."""
"""Longest tool name and scanner vulnerability id the store keeps (their columns)."""
Progress = Callable[[int], None]


@dataclass
class ImportResult:
    """What importing one file did."""

    source: str
    sha256: str
    format: str
    system: str
    scan_id: int | None = None
    duplicate: bool = False
    tool: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    assets_covered: int = 0
    results: int = 0
    informational: int = 0
    set_aside: int = 0
    """Results the file reports but a person set aside there (suppressed, ignored, dismissed)."""
    new_findings: int = 0
    fixed_findings: int = 0
    reopened_findings: int = 0
    items_opened: int = 0
    items_closed: int = 0
    opened_ids: list[str] = field(default_factory=list)
    closed_ids: list[str] = field(default_factory=list)
    date_source: str | None = None
    """Where the scan's dates came from: `option` (--scan-date), `file` (the file's own dates),
    `mtime` (the file gave none for some records: its modification time) or `none` (nothing was
    dated: a file without records)."""
    warnings: int = 0
    """Records read past with an odd value (each is a line in `warning_lines`)."""
    warning_lines: list[str] = field(default_factory=list)


class _ProgressReader(io.RawIOBase):
    """A seekable file wrapper that reports how many bytes have been read."""

    def __init__(self, raw: BinaryIO, progress: Progress) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        data = self._raw.read(len(view))
        view[: len(data)] = data
        self._progress(self._raw.tell())
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_key(sha: str, scan_date: dt.datetime | None, asset: str | None) -> str:
    """What makes an import a duplicate: the same file, with the same --scan-date and --asset. Given
    another date or asset it is another observation (an undated export identical to last month's is
    seen again now; two projects' identical clean reports are two projects)."""
    if scan_date is None and asset is None:
        return sha
    given = f"{scan_date.isoformat() if scan_date else ''}\n{asset or ''}"
    return f"{sha}:{hashlib.sha256(given.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


def import_file(
    engine: Engine,
    path: Path,
    *,
    system: str | None = None,
    format_id: str | None = None,
    scan_date: dt.datetime | None = None,
    actor: str = "cli",
    progress: Progress | None = None,
    parallel: bool | None = None,
    asset: str | None = None,
) -> ImportResult:
    """Import one scan file in one transaction; on any error the database is left unchanged.

    `parallel` reads the file in a child process (None: when the file is large and it is safe).
    `asset` names the repository, project or image when the file does not.
    """
    from poam import signals
    from poam.services.locks import system_for_writing

    source = str(path)
    if not path.is_file():
        raise InputError(source, "no such file" if not path.exists() else "not a regular file")
    try:
        raw = path.open("rb")
        mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None, microsecond=0)
    except OSError as exc:
        raise InputError(source, f"cannot read: {exc.strerror}") from None
    with raw:
        stream: BinaryIO = io.BufferedReader(_ProgressReader(raw, progress), 1 << 16) if progress else raw
        parser = detect(stream, source, format_id)
        ctx = ParseContext(source, scan_date, file_time=mtime, asset_name=asset)
        use_child = parallel_reader.available(path) if parallel is None else parallel
        # a child starts parsing now, while this process hashes the file
        child = parallel_reader.ChildReader(parser, path, ctx, progress) if use_child else None
        try:
            try:
                sha = file_sha256(path)
            except OSError as exc:
                raise InputError(source, f"cannot read: {exc.strerror}") from None
            with engine.begin() as conn:
                # one import per system at a time: a concurrent one waits here, then sees this one's scan
                info = system_for_writing(conn, system, actor, create_default=True)
                result = ImportResult(source=source, sha256=sha, format=parser.id, system=info.name)
                key = import_key(sha, scan_date, asset)
                dup = conn.execute(
                    select(scans.c.id).where(scans.c.system_id == info.id, scans.c.import_key == key)
                ).scalar_one_or_none()
                if dup is not None:
                    result.duplicate, result.scan_id = True, dup
                    return result
                records: Iterable[Record] = child if child is not None else parser.parse(stream, ctx)
                records = signals.checked(records)  # a signal's lost first raise is raised again
                if scan_date is not None:
                    records = dated(records, scan_date)
                _Import(conn, info, parser, result, actor, scan_date, key, ctx.report).run(records)
                signals.hold()  # from here to the end of the commit, a signal waits
            signals.release()
            late = signals.received()
            if late is not None:  # it came during the commit: the file is imported
                raise signals.Interrupted(late, done=result)
            return result
        finally:
            signals.release()
            if child is not None:
                child.close()


def dated(records: Iterable[Record], when: dt.datetime) -> Iterator[Record]:
    """The records with every time the file gives replaced by `when` (`--scan-date`: the user's
    word wins). A tool's own detection time (`Finding.since`) is kept when it is earlier."""
    try:
        for rec in records:
            if isinstance(rec, Finding):
                since = rec.since if rec.since is not None and rec.since < when else None
                yield replace(rec, observed_at=when, since=since)
            elif isinstance(rec, Coverage):
                untimed = rec.started_at is None and rec.ended_at is None
                yield rec if untimed else replace(rec, started_at=when, ended_at=when)
            else:
                yield replace(rec, started_at=when, ended_at=when)
    finally:
        _close(records)


def _close(records: Iterable[Record]) -> None:
    """End a parser's generator now (its `finally` runs while its file is still open), not when
    it is collected after an import stopped early."""
    close = getattr(records, "close", None)
    if close is not None:
        close()


class _Import:
    """The state of one file's import."""

    def __init__(
        self,
        conn: Connection,
        system: systems.SystemInfo,
        parser: Parser,
        result: ImportResult,
        actor: str,
        scan_date: dt.datetime | None,
        import_key: str,
        report: ParseReport,
    ) -> None:
        self.conn = conn
        self.report = report
        self.scan_date = scan_date
        self.system = system
        self.parser = parser
        self.result = result
        self.actor = actor
        self.now = audit.now()
        self.scan_id: int = conn.execute(  # type: ignore[index]
            insert(scans).values(
                system_id=system.id,
                sha256=result.sha256,
                scan_date=scan_date,
                import_key=import_key,
                filename=Path(result.source).name[:1000],
                format=parser.id,
                closes=parser.closes_by_coverage,
                imported_at=self.now,
            )
        ).inserted_primary_key[0]
        result.scan_id = self.scan_id
        self.assets = AssetResolver(conn, system.id, result.source)
        self.items = ItemMaker(conn, system, self.now)
        self.coverage = CoverageBook(conn, system.id, self.scan_id, self.assets)
        self.pending: list[Finding] = []
        self.sightings = SightingWriter(
            conn,
            system.id,
            self.scan_id,
            result.source,
            self.assets,
            self.items,
            self.coverage if parser.closes_by_coverage else None,
            report.warn,
        )
        self.first: dt.datetime | None = None
        self.last: dt.datetime | None = None
        self.latest = self.now + dt.timedelta(days=1)

    def run(self, records: Iterable[Coverage | Finding | Scan]) -> None:
        """Consume the parser's records, then reconcile and settle the items."""
        try:
            self._run(records)
        finally:
            _close(records)

    def _run(self, records: Iterable[Coverage | Finding | Scan]) -> None:
        scan_info: Scan | None = None
        for rec in records:
            if isinstance(rec, Finding):
                w = rec.weakness
                number = self.result.results + self.report.skipped + 1
                if len(w.vuln_id) > MAX_ID or len(w.tool) > MAX_ID:  # it cannot be stored, nor found again
                    self._too_long(f"record {number}", w.vuln_id, w.tool)
                    continue
                if rec.port is not None and not 0 <= rec.port <= 65535:  # not a place: never guessed
                    self.report.skip(f"record {number} ({w.vuln_id[:60]})", f"port {rec.port} is not 0-65535")
                    continue
                self._check_time(rec.observed_at, number)
                if rec.since is not None and not EARLIEST <= rec.since <= self.latest:
                    # the tool's own first-detection time, not the scan's: an implausible one (a
                    # placeholder such as 1970-01-01) is dropped, never the file
                    self.report.warn(f"record {number} ({w.vuln_id[:60]})", f"first seen {rec.since} ignored")
                    rec = replace(rec, since=None)
                self.result.results += 1
                if not self.parser.closes_by_coverage:  # coverage already gives the scan window
                    self._widen(rec.observed_at)
                if rec.status is FindingStatus.SET_ASIDE:
                    self.result.set_aside += 1  # applied whatever its rating: it keeps an open finding open
                elif rec.weakness.severity is Severity.INFO and rec.status is FindingStatus.OPEN:
                    self.result.informational += 1
                    continue
                self.pending.append(rec)
                if len(self.pending) >= BATCH:
                    self._flush()
            elif isinstance(rec, Coverage):
                self._cover(rec)
            else:
                scan_info = rec
                for t in (rec.started_at, rec.ended_at):
                    if t is not None:
                        self._check_time(t, None)
        self._flush()
        self.sightings.finish()
        self.assets.finish()
        tool = scan_info.tool if scan_info else self.parser.id
        if any(t is None for _a, t in self.coverage.entries):  # coverage of the scan's own tool
            self._check_tool(tool)
        covered_tools = self.coverage.store(tool)
        self.result.assets_covered = self.coverage.asset_count()
        counts = self.sightings.counts
        self.result.new_findings += counts.new
        self.result.fixed_findings += counts.fixed
        self.result.reopened_findings += counts.reopened
        self.coverage.mark_credentialed()
        closes = self.parser.closes_by_coverage
        if closes and self.report.skipped and self.result.assets_covered:
            # The finding this file no longer lists may be the one it could not read.
            closes = False
            self.report.warn("file", f"{self.report.skipped} record(s) could not be read: nothing is closed by absence")
        closes = closes and not self.report.cut_short
        if closes:
            for each in sorted(covered_tools):
                closed_ids, moved_ids = self.coverage.reconcile(each, scan_info)
                self.result.fixed_findings += len(closed_ids)
                for item_id in (*closed_ids, *moved_ids):
                    self.items.touch(item_id)
        report = self.report
        if report.skipped and not self.result.results and not self.result.assets_covered:
            first = report.warnings[0] if report.warnings else "unreadable records"
            raise InputError(self.result.source, f"no record could be read ({report.skipped} left out; first: {first})")
        opened, closed = self.items.settle()
        self.result.warnings, self.result.warning_lines = report.warning_count, list(report.warnings)
        self.result.items_opened += len(opened)
        self.result.items_closed += len(closed)
        self.result.opened_ids, self.result.closed_ids = opened, closed
        self._finish(scan_info, tool)

    def _check_tool(self, tool: str | None) -> None:
        """The file's own tool, which covers assets, must fit its column, as a finding's must."""
        if tool is not None and len(tool) > MAX_ID:
            raise InputError(self.result.source, f"tool longer than {MAX_ID} characters: {tool[:40]!r}...")

    def _too_long(self, record: str, vuln_id: str, tool: str | None) -> None:
        """A record whose identity is too long to store: left out (the file then closes nothing by absence)."""
        name, value = ("vuln_id", vuln_id) if len(vuln_id) > MAX_ID else ("tool", tool or "")
        self.report.skip(record, f"{name} longer than {MAX_ID} characters ({value[:40]!r}...)")

    def _widen(self, when: dt.datetime | None) -> None:
        if when is None:
            return
        self.first = min(self.first, when) if self.first else when
        self.last = max(self.last, when) if self.last else when

    def _check_time(self, when: dt.datetime, number: int | None) -> None:
        """A date that sets the timeline must be plausible: never more than a day ahead of the
        clock (no later scan could close anything), never before 1990."""
        if EARLIEST <= when <= self.latest:
            return
        where = f"record {number}: " if number is not None else ""
        problem = "more than a day in the future" if when > self.latest else "before 1990"
        given = " (given with --scan-date)" if self.scan_date is not None else "; give --scan-date if the file is wrong"
        raise InputError(self.result.source, f"{where}date {when:%Y-%m-%d %H:%M} is {problem}{given}")

    def _cover(self, cov: Coverage) -> None:
        if cov.tool is not None and len(cov.tool) > MAX_ID:
            self._too_long(f"coverage of {cov.asset.identifier[:60]}", "", cov.tool)
            return
        when = cov.started_at or cov.ended_at
        if when is None:
            return
        for t in (cov.started_at, cov.ended_at):
            if t is not None:
                self._check_time(t, None)
        self._widen(cov.started_at)
        self._widen(cov.ended_at)
        self.coverage.add(cov, when)

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        if batch:
            self.sightings.write(batch)

    def _finish(self, info: Scan | None, tool: str) -> None:
        tool = tool[:200]
        started = (info.started_at if info else None) or self.first
        ended = (info.ended_at if info else None) or self.last
        r = self.result
        r.tool, r.started_at, r.ended_at = tool, started, ended
        if self.scan_date is not None:
            r.date_source = "option"
        elif self.report.used_file_time:
            r.date_source = "mtime"
        else:
            r.date_source = "file" if started or ended else "none"
        self.conn.execute(
            update(scans)
            .where(scans.c.id == self.scan_id)
            .values(
                closes=self.parser.closes_by_coverage
                and not self.report.skipped
                and not self.report.cut_short
                and len(info.partial_paths if info else ()) <= MAX_PARTIAL_PATHS,
                tool=tool,
                tool_version=(info.tool_version or "")[:100] or None if info else None,
                skipped_families="\n".join(info.skipped_families) if info else "",
                partial_checks="\n".join(info.partial_checks) if info else "",
                partial_paths="\n".join(info.partial_paths) if info else "",
                name=(info.name or "")[:500] or None if info else None,
                started_at=started,
                ended_at=ended,
                assets_covered=r.assets_covered,
                results=r.results,
                informational=r.informational,
                new_findings=r.new_findings,
                fixed_findings=r.fixed_findings,
                reopened_findings=r.reopened_findings,
                items_opened=r.items_opened,
                items_closed=r.items_closed,
            )
        )
        later = self._rederive()
        detail = {
            "file": r.source,
            "sha256": r.sha256,
            "format": r.format,
            "tool": tool,
            "scan_window": [started, ended],
            "assets_covered": r.assets_covered,
            "results": r.results,
            "informational": r.informational,
            "set_aside": r.set_aside,
            "new_findings": r.new_findings,
            "fixed_findings": r.fixed_findings,
            "reopened_findings": r.reopened_findings,
            "items_opened": r.opened_ids,
            "items_closed": r.closed_ids,
            "date_source": r.date_source,
            "warnings": r.warnings,
        }
        events = [
            audit.Event("scan.import", "scan", str(self.scan_id), detail, self.system.id),
            *self.items.events,
            *later,
        ]
        audit.record(self.conn, self.actor, events, self.now)
        deadlines.refresh(self.conn, self.actor, f"scan imported: {r.source}", self.now, self.system.id)

    def _rederive(self) -> list[audit.Event]:
        """A scan that is late for a tool (an older scan imported after a newer one): the weaknesses
        it touched are derived again from their full history (see `services.history`)."""
        late = history.late_tools(self.conn, self.system.id, self.scan_id)
        if not late:
            return []
        rewriter = Rewriter(self.conn, self.system, self.now)
        outcome = history.rederive(rewriter, history.affected(self.conn, self.system.id, self.scan_id, late))
        rewriter.finish()
        r = self.result
        dropped = set(outcome.deleted) | set(outcome.reopened)
        r.opened_ids = [x for x in r.opened_ids if x not in outcome.deleted] + outcome.opened
        r.closed_ids = [x for x in r.closed_ids if x not in dropped] + outcome.closed
        if (r.items_opened, r.items_closed) != (len(r.opened_ids), len(r.closed_ids)):
            r.items_opened, r.items_closed = len(r.opened_ids), len(r.closed_ids)
            self.conn.execute(
                update(scans)
                .where(scans.c.id == self.scan_id)
                .values(items_opened=r.items_opened, items_closed=r.items_closed)
            )
        return rewriter.events
