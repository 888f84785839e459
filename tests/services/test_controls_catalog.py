"""`poam item set --controls` takes only current NIST SP 800-53 Rev 5 controls, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from poam.cli import cli
from poam.errors import ValueRefused
from poam.services import planning
from tests.services.test_planning import setup


def test_controls_are_checked_against_the_catalog(engine: Engine, tmp_path: Path) -> None:
    setup(engine, tmp_path)
    item = planning.set_fields(engine, "cso", "V-1", "alice", controls=["ac-2 (4)", "SI-2(7)"])
    assert item.controls == ("AC-2(4)", "SI-2(7)")
    with pytest.raises(ValueRefused, match=r"^not a NIST SP 800-53 Rev 5 control: 'XX-99'$"):
        planning.set_fields(engine, "cso", "V-1", "alice", controls=["AC-2", "XX-99"])
    with pytest.raises(ValueRefused, match=r"^'SA-12' was withdrawn in Rev 5 \(incorporated into the SR family\)$"):
        planning.set_fields(engine, "cso", "V-1", "alice", controls=["sa-12"])
    with pytest.raises(ValueRefused, match=r"^not a NIST SP 800-53 Rev 5 control: 'AC-2\(14\)'$"):
        planning.set_fields(engine, "cso", "V-1", "alice", controls=["AC-2(14)"])
    # nothing was changed by the refused calls
    assert planning.set_fields(engine, "cso", "V-1", "alice", hours=1).controls == ("AC-2(4)", "SI-2(7)")


def test_the_command_refuses_with_one_line_and_exit_2(tmp_path: Path) -> None:
    from poam.store.db import open_db

    db = str(tmp_path / "poam.db")
    engine = open_db(f"sqlite:///{db}")
    try:
        setup(engine, tmp_path)
    finally:
        engine.dispose()
    runner = CliRunner()
    for value, message in [
        ("XX-99", "not a NIST SP 800-53 Rev 5 control: 'XX-99'"),
        ("AC-2, SA-12", "'SA-12' was withdrawn in Rev 5 (incorporated into the SR family)"),
    ]:
        r = runner.invoke(cli, ["--db", db, "item", "set", "V-1", "--controls", value])
        assert r.exit_code == 2, r.output
        assert r.stderr.count("\n") == 1 and message in r.stderr
    r = runner.invoke(cli, ["--db", db, "item", "set", "V-1", "--controls", "ac-2 (4), si-2"])
    assert r.exit_code == 0, r.output
