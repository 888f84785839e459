"""Ending a command cleanly on SIGINT, SIGTERM and SIGHUP.

The first such signal raises `Interrupted` (a KeyboardInterrupt, so that the database driver
cancels a running statement and SQLAlchemy rolls the transaction back or drops the
connection) wherever the command is; the command line then exits with 128 + the signal's
number (130 for Ctrl-C, 143 for SIGTERM). Python drops an exception raised in a finaliser or
a weakref callback, so long loops also call
`check()`, which raises again. A second signal, while the first one's clean-up
runs, ends the process at once (the signal's default action). A signal that the caller set
to be ignored (`nohup`) stays ignored.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import TypeVar

T = TypeVar("T")

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A signal asked the command to stop. `done` is what was finished (and committed) when the
    signal came at the very end of the work, or None."""

    def __init__(self, signum: int, done: object = None) -> None:
        self.signum = signum
        self.done = done
        super().__init__(signal.Signals(signum).name)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_received: list[int] = []
_deferring: list[bool] = [False]


def _handler(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    for each in HANDLED:
        if signal.getsignal(each) is _handler:
            signal.signal(each, signal.SIG_DFL)
    if not _deferring[0]:
        raise Interrupted(signum)


def hold() -> None:
    """From now until `release`, a signal is noted but not raised, so that a commit is not cut off
    after it happened but before the caller knows it did (a second signal still ends the process
    at once)."""
    _deferring[0] = True


def release() -> None:
    """End `hold`; the caller then asks `received()` whether a signal came."""
    _deferring[0] = False


def install() -> None:
    """Turn SIGINT, SIGTERM and SIGHUP into `Interrupted` (main thread only)."""
    for signum in HANDLED:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _handler)


def check() -> None:
    """Raise `Interrupted` again if a signal came but its first raise was lost (Python drops an
    exception raised in a weakref callback or a finaliser, which a signal may interrupt).
    Long loops call this now and then."""
    if _received:
        raise Interrupted(_received[0])


def checked(items: Iterable[T]) -> Iterator[T]:
    """The items, with `check()` between them."""
    for item in items:
        if _received:
            raise Interrupted(_received[0])
        yield item


def received() -> int | None:
    """The signal that interrupted the command, if one did."""
    return _received[0] if _received else None


def exit_code(exc: BaseException) -> int:
    """The exit status for an interruption: 128 + the signal (a bare KeyboardInterrupt is SIGINT)."""
    if isinstance(exc, Interrupted):
        return exc.exit_code
    signum = received()
    return 128 + (signum if signum is not None else signal.SIGINT)


def name(code: int) -> str:
    """The signal's name for an exit status of 128 + its number."""
    try:
        return signal.Signals(code - 128).name
    except ValueError:
        return f"signal {code - 128}"
