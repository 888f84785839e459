"""Reading a scan file in a child process while this one writes to the database.

Parsing and storing each take about half of a large import; on two cores they overlap. The
child runs the parser and sends its records through a pipe in a compact form: each weakness
and asset object once, then plain tuples per finding; an informational result (which the
importer only counts) is sent as its time alone. The pipe holds several batches, so the child
parses ahead while this process stores, and this process reads a batch only when it needs one
(no reader thread to compete for the interpreter). Errors in the child reach the caller as
they would in-process (an InputError stays an InputError). A side benefit: hostile input is
parsed in a process that holds no database connection.

The child holds nothing of its parent's: it closes every inherited file descriptor but its end
of the pipe (database connections, the parent's files and its end of the pipe), reads and
writes /dev/null instead of the terminal or the pipe that `poam import | tee` reads, and ignores
Ctrl-C (the parent decides and ends it). It dies with its parent: on Linux the kernel kills it
when the parent ends (PR_SET_PDEATHSIG); elsewhere it stops at its next batch, when it finds
another parent or the pipe closed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from poam import signals
from poam.domain.models import Asset, AssetKind, Finding, FindingStatus, Severity, Weakness
from poam.errors import InputError
from poam.parsers.base import ParseContext, Parser, Record

BATCH = 1000
MIN_SIZE = 4 * 1024 * 1024  # smaller files are parsed in-process: a child costs more than it saves
_PIPE_BYTES = 1 << 20
_MAX_TABLE = 50_000  # objects remembered per table before both sides start afresh
_Progress = Callable[[int], None]
_INFO = "info"
_STATUSES = {s.value: s for s in FindingStatus}
_INFO_WEAKNESS = Weakness(tool="", vuln_id="", name="informational", severity=Severity.INFO)
_INFO_ASSET = Asset(kind=AssetKind.OTHER, name="informational")


def available(path: Path) -> bool:
    """Whether to parse this file in a child: large enough, fork available, no other threads."""
    if os.environ.get("POAM_PARALLEL", "1") == "0":
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    if threading.active_count() > 1:  # forking a threaded process (a web server) is not safe
        return False
    return path.stat().st_size >= MIN_SIZE


class _Encoder:
    """Child side: turns records into tuples, sending each weakness and asset object once."""

    def __init__(self) -> None:
        self.weaknesses: dict[int, tuple[Weakness, int]] = {}
        self.assets: dict[int, tuple[Asset, int]] = {}
        self.new_weaknesses: list[Weakness] = []
        self.new_assets: list[Asset] = []

    def _index(self, table: dict[int, Any], new: list[Any], obj: Any) -> int:
        hit = table.get(id(obj))
        if hit is not None and hit[0] is obj:
            return int(hit[1])
        index = len(table)
        table[id(obj)] = (obj, index)  # the reference keeps the id from being reused
        new.append(obj)
        return index

    def encode(self, rec: Record) -> tuple[Any, ...]:
        if isinstance(rec, Finding):
            if rec.weakness.severity is Severity.INFO and rec.status is FindingStatus.OPEN:
                return (_INFO, rec.observed_at)  # informational: only counted by the importer
            return (
                self._index(self.weaknesses, self.new_weaknesses, rec.weakness),
                self._index(self.assets, self.new_assets, rec.asset),
                rec.observed_at,
                rec.port,
                rec.protocol,
                rec.service,
                rec.evidence,
                rec.status.value,
                rec.path,
                rec.since,
            )
        return (rec,)

    def flush(self, rows: list[tuple[Any, ...]]) -> tuple[str, list[Weakness], list[Asset], list[Any], bool]:
        reset = len(self.weaknesses) > _MAX_TABLE or len(self.assets) > _MAX_TABLE
        message = ("batch", self.new_weaknesses, self.new_assets, rows, reset)
        self.new_weaknesses, self.new_assets = [], []
        if reset:
            self.weaknesses.clear()
            self.assets.clear()
        return message


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent ends (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no prctl: the pipe and the parent check still end the child
        pass


def _close_inherited(keep: int) -> None:
    """Close every file descriptor but the standard ones (now /dev/null) and `keep`."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]  # Linux: only the open ones
    except OSError:
        fds = []
        os.closerange(3, keep)
        os.closerange(keep + 1, max(keep + 2, os.sysconf("SC_OPEN_MAX")))
    for fd in fds:
        if fd > 2 and fd != keep:
            with contextlib.suppress(OSError):  # the descriptor of the listing itself, already closed
                os.close(fd)


def _detach(send: Connection, parent: int) -> None:
    """Make the child hold nothing of its parent's and end with it."""
    _die_with_parent()
    if os.getppid() != parent:  # the parent ended before the request above
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _close_inherited(send.fileno())


def _child(parser: Parser, path: str, ctx: ParseContext, send: Connection, parent: int) -> None:
    try:
        _detach(send, parent)
    except BaseException:  # without its set-up the child must not run
        os._exit(1)
    try:
        encoder = _Encoder()
        with open(path, "rb") as stream:  # noqa: PTH123
            rows: list[tuple[Any, ...]] = []
            sent = 0
            for rec in parser.parse(stream, ctx):
                rows.append(encoder.encode(rec))
                if len(rows) >= BATCH:
                    if os.getppid() != parent:  # orphaned (where the kernel does not end it)
                        os._exit(1)
                    send.send(encoder.flush(rows))
                    rows = []
                    position = stream.tell()
                    if position - sent >= 1 << 20:
                        send.send(("progress", position))
                        sent = position
            send.send(encoder.flush(rows))
            send.send(("progress", stream.tell()))
        send.send(("report", ctx.report))
        send.send(("done",))
    except InputError as exc:
        _report(send, ("error", exc.source, exc.problem))
    except BaseException as exc:  # reported to the parent, which raises it there
        _report(send, ("crash", f"{type(exc).__name__}: {exc}"))
    finally:
        os._exit(0)  # skip the parent's exit handlers (database pools) inherited by fork


def _report(send: Connection, message: tuple[Any, ...]) -> None:
    with contextlib.suppress(OSError):  # the parent is gone (the pipe is closed): nobody to tell
        send.send(message)


def _widen_pipe(conn: Connection) -> None:
    """Let the pipe hold several batches (Linux: up to 1 MiB by default), so that the child
    parses ahead while this process stores."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError):
        pass  # the default size only makes the child wait more often


class ChildReader:
    """The parser's records, read in a child process that starts at once (so that it parses
    while this process does other work, such as hashing the file). Iterate once; `close`
    ends the child whether or not the records were read."""

    def __init__(self, parser: Parser, path: Path, ctx: ParseContext, progress: _Progress | None = None) -> None:
        fork = multiprocessing.get_context("fork")
        self.receive, send = fork.Pipe(duplex=False)
        _widen_pipe(send)
        args = (parser, str(path), ctx, send, os.getpid())
        self.child = fork.Process(target=_child, args=args, daemon=True, name="poam-parser")
        self.child.start()
        send.close()
        self.progress = progress
        self.ctx = ctx
        self.closed = False

    def _next(self) -> Any:
        try:
            return self.receive.recv()
        except (EOFError, OSError):
            self.child.join(timeout=5)
            code = self.child.exitcode
            how = f" (signal {-code})" if code is not None and code < 0 else ""
            return ("crash", f"the parser process ended without finishing{how}")

    def __iter__(self) -> Iterator[Record]:
        weaknesses: list[Weakness] = []
        assets: list[Asset] = []
        info: dict[Any, Finding] = {}  # informational results stand in as one record per time
        try:
            while True:
                message = self._next()
                kind = message[0]
                if kind == "batch":
                    signals.check()
                    _kind, new_w, new_a, rows, reset = message
                    weaknesses += new_w
                    assets += new_a
                    for row in rows:
                        if len(row) == 1:
                            yield row[0]
                        elif len(row) == 2:
                            when = row[1]
                            found = info.get(when)
                            if found is None:
                                found = info[when] = Finding(_INFO_WEAKNESS, _INFO_ASSET, when)
                            yield found
                        else:
                            w, a, when, port, protocol, service, evidence, status, at, since = row
                            yield Finding(
                                weaknesses[w],
                                assets[a],
                                when,
                                port,
                                protocol,
                                service,
                                evidence,
                                _STATUSES[status],
                                at,
                                since,
                            )
                    if reset:
                        weaknesses, assets, info = [], [], {}
                elif kind == "progress":
                    if self.progress:
                        self.progress(message[1])
                elif kind == "report":
                    self.ctx.report.merge(message[1])
                elif kind == "done":
                    return
                elif kind == "error":
                    raise InputError(message[1], message[2])
                else:
                    raise RuntimeError(f"parser failed: {message[1]}")
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child and the pipe thread (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self.child.is_alive():
            self.child.kill()
        self.receive.close()
        self.child.join(timeout=5)
        if self.child.is_alive():
            self.child.kill()
            self.child.join()


def records(parser: Parser, path: Path, ctx: ParseContext, progress: _Progress | None = None) -> Iterator[Record]:
    """The parser's records, read in a child process."""
    reader = ChildReader(parser, path, ctx, progress)
    try:
        yield from reader
    finally:
        reader.close()
