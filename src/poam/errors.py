"""Errors that the command line turns into one clear line and an exit status."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType


def printable(text: str) -> str:
    """Text from a file made inert on a terminal: a tab, a line break or another space becomes
    a plain space, and every other character that is not printable (escape, bell, backspace,
    the C1 controls such as CSI, bidirectional overrides, zero-width characters, lone
    surrogates) becomes `?`, so a hostile file name or weakness name cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else " " if ch.isspace() else "?" for ch in text)


_PACKAGE = Path(__file__).resolve().parent


def _where(tb: TracebackType | None) -> str:
    """`poam/<module>.py:<line>` of the innermost frame in poam's own code, or ''."""
    found = ""
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.is_relative_to(_PACKAGE):
            found = f"{_PACKAGE.name}/{path.relative_to(_PACKAGE).as_posix()}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _database_code(orig: BaseException) -> str | None:
    """The database's error code: PostgreSQL's SQLSTATE or SQLite's error name."""
    for attr in ("sqlstate", "pgcode", "sqlite_errorname"):
        code = getattr(orig, attr, None)
        if isinstance(code, str) and code and len(code) <= 40 and code.replace("_", "").isalnum():
            return code
    return None


def error_kind(exc: BaseException) -> str:
    """An exception told without its message: its type, and the database's error class and code
    when the database raised it (`DataError from the database: NumericValueOutOfRange 22003`).
    The message is left out because it may hold SQL statements, their parameters or text from
    the file being read."""
    kind = type(exc).__name__
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's exception
    if isinstance(orig, BaseException):
        kind += f" from the database: {type(orig).__name__}"
        code = _database_code(orig)
        if code:
            kind += f" {code}"
    return kind


def internal_error(exc: BaseException) -> str:
    """The one line a bug prints: `error_kind` and where in poam's code it was raised."""
    kind = error_kind(exc)
    where = _where(exc.__traceback__)
    if where:
        kind += f" at {where}"
    return f"internal error ({kind}); set POAM_DEBUG=1 for the trace"


class PoamError(Exception):
    """A problem the user can act on (exit status 1 unless a subclass says otherwise)."""

    exit_code = 1


class InputError(PoamError):
    """A bad input file: the message names the file and the problem (exit status 2)."""

    exit_code = 2

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{printable(source)}: {printable(problem)}")


class UsageError(PoamError):
    """A request that cannot be done as asked (unknown system, bad option value)."""

    exit_code = 1


class ValueRefused(UsageError):
    """An option value poam refuses (a PAIN rating of 6, a time in the future, a missing rationale):
    one line, exit status 2 like any wrong command-line option; nothing is changed."""

    exit_code = 2


class OutputError(PoamError):
    """A deliverable that could not be written (disk full, no permission); whatever was at its
    path before is left as it was (exit status 1)."""

    exit_code = 1
