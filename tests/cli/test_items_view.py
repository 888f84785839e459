"""`poam items` reads well in an 80-column terminal and in a pipe (issue 9 point 7)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.builders import Host, Item, write_nessus
from tests.cli.test_output import _on_terminal
from tests.cli.test_rules_cli import run

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG = "A weakness whose name is far longer than any terminal column could ever hold without cutting"


def _db(tmp_path: Path) -> str:
    db = str(tmp_path / "poam.db")
    scan = write_nessus(
        tmp_path / "a.nessus",
        [Host("web", ip="10.0.0.5", items=[Item("100", cvss3=9.8, name=LONG), Item("200", severity=1)])],
    )
    assert run("--db", db, "import", str(scan)).exit_code == 0
    return db


def test_an_80_column_terminal_gets_the_columns_that_fit(tmp_path: Path) -> None:
    db = _db(tmp_path)
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)
    shown = _on_terminal([sys.executable, "-m", "poam", "--db", db, "items"], env, columns=80)
    lines = [ANSI.sub("", line) for line in shown.decode("utf-8").splitlines()]
    assert all(len(line.rstrip("\r")) <= 80 for line in lines), lines
    header = lines[0].split()
    assert header[:6] == ["POA&M", "ID", "Risk", "Next", "due", "KEV"] and header[-1] == "Weakness"
    assert "Detector" not in lines[0] and "Detected" not in lines[0]
    v1 = next(line for line in lines if line.startswith("V-1 "))
    assert "Critical" in v1 and "LATE" in v1 and v1.rstrip("\r").endswith("…")  # the name is cut to fit
    wide = _on_terminal([sys.executable, "-m", "poam", "--db", db, "items"], env, columns=250)
    assert "Detector" in wide.decode("utf-8") and LONG in wide.decode("utf-8")


def test_a_pipe_gets_plain_columns_with_everything(tmp_path: Path) -> None:
    db = _db(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "poam", "--db", db, "items"], capture_output=True, text=True, check=True
    ).stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["POA&M", "ID", "Risk"] and lines[0].endswith("Weakness")
    assert LONG in out and "Nessus" in out  # nothing cut
    assert not any(ch in out for ch in "┏━│─┃") and "\x1b" not in out
    assert all(line == line.rstrip() for line in lines)
    assert lines[-1] == "2 open item(s)"
