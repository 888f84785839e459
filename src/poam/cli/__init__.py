"""The `poam` command line: a thin shell over the services.

The root group is in `root`, the helpers the commands share in `common`, and each command group
in its own module, imported at the bottom so that its commands register on the root group.
"""

from __future__ import annotations

from poam.cli.common import (
    EXIT_INTERNAL,
    WARNINGS_SHOWN,
    _cell,
    _console,
    _engine,
    _err,
    _escape_json,
    _json,
    _say,
    db_option,
    system_option,
)
from poam.cli.root import _Group, cli

__all__ = [
    "EXIT_INTERNAL",
    "WARNINGS_SHOWN",
    "_Group",
    "_cell",
    "_console",
    "_engine",
    "_err",
    "_escape_json",
    "_json",
    "_say",
    "cli",
    "db_option",
    "main",
    "system_option",
]


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


from poam.cli import (  # noqa: E402,F401
    assets,
    audit,
    deliverables,
    deviations,
    evaluate,
    exports,
    formats,
    imports,
    intel,
    items,
    milestones,
    reports,
    review,
    systems,
    teams,
    vendor,
    ver,
)
