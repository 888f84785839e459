"""Plugin hooks. Third parties implement them in a module listed under the `poam.parsers`
entry-point group; built-in formats use the same hook."""

from __future__ import annotations

import pluggy

from poam.parsers.base import Parser

hookspec = pluggy.HookspecMarker("poam")
hookimpl = pluggy.HookimplMarker("poam")


@hookspec
def poam_parsers() -> list[Parser]:  # type: ignore[empty-body]
    """Return parser instances to add to the registry."""
