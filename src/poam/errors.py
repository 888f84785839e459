"""Errors that the command line turns into one clear line and an exit status."""

from __future__ import annotations


def printable(text: str) -> str:
    """Drop control characters so a hostile file name cannot drive the terminal."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


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
