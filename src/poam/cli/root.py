"""The root `poam` group: turns poam's errors into one line on stderr and an exit status."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from poam import __version__
from poam.cli.common import EXIT_INTERNAL, _err, db_option
from poam.errors import PoamError, internal_error


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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@db_option
@click.version_option(__version__, prog_name="poam")
def cli(db: str | None) -> None:
    """Build and keep a security Plan of Action and Milestones (POA&M)."""
