"""Helpers shared by the command modules: options, the database engine, and output made inert."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine

from poam.errors import printable
from poam.store.db import open_db

F = TypeVar("F", bound=Callable[..., Any])
EXIT_INTERNAL = 3

WARNINGS_SHOWN = 20
"""Warning lines printed per file; `import --json` lists up to 1,000 and counts them all."""


def _err(message: str) -> None:
    click.echo(f"poam: error: {printable(message)}", err=True)


def _say(line: str) -> None:
    """One line on stdout, with text from files made inert (`printable`)."""
    click.echo(printable(line))


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
    return click.option(
        "--system",
        "system",
        envvar="POAM_SYSTEM",
        metavar="NAME",
        help="System to work on (default: $POAM_SYSTEM, or the only one).",
    )(f)


READERS = frozenset(
    {
        "items",
        "item show",
        "item history",
        "summary",
        "system list",
        "asset list",
        "team list",
        "intel status",
        "inventory report",
        "audit verify",
        "audit head",
        "review",
        "audit seal",
        "milestone list",
        "deviation list",
        "deviation evidence",
        "report diff",
    }
)
"""Commands that only read: they never create a SQLite database (a mistyped `--db` is an error)."""


def _command(ctx: click.Context) -> str:
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


def _engine(ctx: click.Context, db: str | None) -> Engine:
    target = db or ctx.find_root().params.get("db")
    return open_db(target, must_exist=_command(ctx) in READERS)


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


def user_option(f: F) -> F:
    """`--user NAME` (or $POAM_USER): who the audit log records; default `cli:<login>`."""
    from poam.services import audit

    return click.option(
        "--user",
        "user",
        envvar="POAM_USER",
        default=audit.default_actor,
        metavar="NAME",
        help="Who does this, for the audit log (default: $POAM_USER or cli:<login>).",
    )(f)
