"""The README must keep up with the code: two commands first, every command and format listed."""

from __future__ import annotations

from pathlib import Path

import click

from poam.cli import cli
from poam.parsers.registry import parsers

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "poam") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            out += _commands(cmd, path)
        else:
            out.append(path)
    return out


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "run"], ["make", "test"]]


def test_every_command_is_documented() -> None:
    commands = _commands(cli)
    assert "poam export oscal" in commands
    missing = [c for c in commands if f"`{c}" not in README]
    assert missing == []


def test_every_format_is_documented_as_poam_formats_describes_it() -> None:
    for parser_id, parser in parsers().items():
        assert f"| `{parser_id}` | {parser.name} | {parser.maps_to} |" in README, parser_id


def test_readme_has_exit_codes_and_security_model() -> None:
    assert "## Exit codes" in README and "## Security model" in README


def test_import_json_fields_are_documented() -> None:
    from dataclasses import fields

    from poam.services.importer import ImportResult

    paragraph = README.split("`poam import --json` prints", 1)[1].split("\n\n", 1)[0]
    assert [f.name for f in fields(ImportResult) if f"`{f.name}`" not in paragraph] == []


def test_every_command_has_json_output() -> None:
    def walk(group: click.Group, prefix: str = "poam") -> list[tuple[str, click.Command]]:
        out: list[tuple[str, click.Command]] = []
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                out += walk(cmd, f"{prefix} {name}")
            else:
                out.append((f"{prefix} {name}", cmd))
        return out

    missing = [name for name, cmd in walk(cli) if not any(p.name == "as_json" for p in cmd.params)]
    assert missing == []
