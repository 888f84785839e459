"""Text from files is inert on a terminal, and an internal error never prints SQL or file content.

Hostile names go through real imports of poam's own CSV format. Click strips ANSI sequences
when its output is not a terminal, so these tests run the CliRunner with `color=True` (as on
a terminal), and also run poam as a real process on a pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import poam.cli
import poam.cli.items
from poam.cli import cli
from poam.store.db import open_db
from tests.builders import write_csv

HEADER = ["detector", "weakness_id", "weakness_name", "asset", "detected", "severity"]
CLOSE_TAG = "[/x]"
LINK = "[link=https://evil.example]click me[/link]"
RED = "\x1b[31mred alert"
OSC_LINK = "\x1b]8;;https://evil.example\x07hyperlink\x1b]8;;\x07"
C1 = "before\x9b31mafter"  # CSI as one C1 character
BIDI = "abc\u202edcba"  # right-to-left override
HOSTILE_FILE = "scan\x1b[2J\x1b]0;pwned\x07.csv"  # clears the screen, sets the window title


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, color=True)


def hostile_scan(folder: Path) -> Path:
    def row(wid: str, name: str, **kw: str) -> dict[str, str]:
        base = {"detector": "Pen Test", "weakness_id": wid, "weakness_name": name, "asset": "h1.example.com"}
        return {**base, "detected": "2026-01-10", "severity": "high", **kw}

    rows = [
        row("PT-1", CLOSE_TAG),
        row("PT-2", LINK),
        row("PT-3", RED, detector="Pen \x1b[32mTest"),
        row("PT-4", OSC_LINK),
        row("PT-5", C1),
        row("PT-6", BIDI),
        row("PT-7", "Backspaces\x08\x08\x08\x08 and\rreturn", asset="h\x1b[2Jx.example.com"),
        row("PT-8", ":warning: [bold]emoji[/bold]", severity="dire"),  # a warning names the file
    ]
    return write_csv(folder / HOSTILE_FILE, rows, HEADER)


def assert_inert(output: str) -> None:
    for bad in ("\x1b", "\x9b", "\x07", "\x08", "\r", "\u202e"):
        assert bad not in output, (bad, output)
    assert "\x1b]8;" not in output and "⚠" not in output


@pytest.fixture
def loaded(tmp_path: Path) -> str:
    db = str(tmp_path / "poam.db")
    r = run("--db", db, "import", str(hostile_scan(tmp_path)), "--json")
    assert r.exit_code == 0, r.output
    return db


def test_items_table_shows_markup_literally_and_no_control_characters(loaded: str) -> None:
    r = run("--db", loaded, "items")
    assert r.exit_code == 0, r.output  # `[/x]` used to crash rich's markup parser (exit 3)
    assert_inert(r.output)
    for literal in (CLOSE_TAG, LINK, "?[31mred alert", "before?31mafter", "abc?dcba", ":warning: [bold]emoji[/bold]"):
        assert literal in r.output, literal
    assert "Pen ?[32mTest" in r.output and "Backspaces???? and return" in r.output


def test_summary_and_its_file_are_inert(loaded: str, tmp_path: Path) -> None:
    out = tmp_path / "summary.txt"
    r = run("--db", loaded, "summary", "--date", "2026-12-01", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert_inert(r.output)
    assert f"due 2026-02-09 (295 days late)  {LINK}" in r.output
    assert "Latest scan: scan?[2J?]0;pwned?.csv (several detectors, 2026-01-10)" in r.output
    assert out.read_text(encoding="utf-8") == r.output


def test_summary_shows_the_kev_catalog_version_inert(loaded: str, tmp_path: Path) -> None:
    # before: the catalog version was printed as the file gave it (kev load itself escaped it)
    catalog = tmp_path / "kev.json"
    version = f"{LINK} \x07{BIDI}"
    entry = {"cveID": "CVE-2024-0001", "dueDate": "2026-01-01", "dateAdded": "2025-12-01"}
    catalog.write_text(json.dumps({"catalogVersion": version, "vulnerabilities": [entry]}), encoding="utf-8")
    assert run("--db", loaded, "kev", "load", str(catalog)).exit_code == 0
    r = run("--db", loaded, "summary", "--date", "2026-12-01")
    assert r.exit_code == 0, r.output
    assert_inert(r.output)
    assert "KEV catalog: " in r.output


def test_json_escapes_what_a_terminal_would_act_on_and_keeps_the_values(loaded: str) -> None:
    r = run("--db", loaded, "items", "--json")
    assert r.exit_code == 0, r.output
    assert_inert(r.output)
    assert "\\u009b" in r.output and "\\u202e" in r.output and "\\u001b" in r.output
    names = {i["source_identifier"]: i["weakness_name"] for i in json.loads(r.output)}
    assert names["PT-2"] == LINK and names["PT-3"] == RED and names["PT-5"] == C1 and names["PT-6"] == BIDI


def test_warnings_errors_inventory_and_system_list_are_inert(loaded: str, tmp_path: Path) -> None:
    r = run("--db", loaded, "inventory", "report")
    assert r.exit_code == 0, r.output
    assert_inert(r.output)
    assert "  h?[2jx.example.com" in r.output  # host names are kept in lower case
    r = run("--db", loaded, "system", "list")
    assert r.exit_code == 0 and "default" in r.output
    bad = tmp_path / "bad\x1b[31m[b]x.csv"
    bad.write_text("")
    r = run("--db", loaded, "import", str(bad))
    assert r.exit_code == 2
    assert_inert(r.stderr)
    assert r.stderr.count("\n") == 1 and "bad?[31m[b]x.csv: empty file" in r.stderr
    r = run("--db", str(tmp_path / "w.db"), "import", str(tmp_path / HOSTILE_FILE))
    warning = [line for line in r.stderr.splitlines() if "PT-8" in line]
    assert warning == [
        f"poam: warning: {tmp_path}/scan?[2J?]0;pwned?.csv: "
        "row 9 (PT-8): severity 'dire' not recognised; rated Moderate"
    ]
    assert_inert(r.stderr)


def test_system_names_and_item_ids_given_on_the_command_line_are_inert(tmp_path: Path) -> None:
    db = str(tmp_path / "poam.db")
    r = run("--db", db, "system", "add", "Prod [/x]\x1b[2J", "--org", "[link=https://e]ACME[/link]")
    assert r.exit_code == 0, r.output
    assert_inert(r.output)
    r = run("--db", db, "system", "list")
    assert r.exit_code == 0, r.output
    assert_inert(r.output)
    assert "Prod [/x]?[2J" in r.output and "[link=https://e]ACME[/link]" in r.output
    r = run("--db", db, "item", "set", "V-1\x1b[31m", "--controls", "AC-2")
    assert r.exit_code == 1
    assert_inert(r.stderr)


def _on_terminal(args: list[str], env: dict[str, str], columns: int = 300) -> bytes:
    """Run a command with stdout and stderr on a pseudo-terminal (300 columns); its output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(timeout=60)
    assert proc.returncode == 0, b"".join(chunks)
    return b"".join(chunks)


def test_real_process_on_a_terminal(tmp_path: Path) -> None:
    db = str(tmp_path / "poam.db")
    env = {**os.environ, "COLUMNS": "300", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    poam = [sys.executable, "-m", "poam", "--db", db]
    imported = subprocess.run([*poam, "import", str(hostile_scan(tmp_path))], capture_output=True, env=env, check=False)
    assert imported.returncode == 0, imported.stderr
    for command in (["items"], ["summary", "--date", "2026-12-01"], ["inventory", "report"], ["items", "--json"]):
        shown = _on_terminal([*poam, *command], env)
        assert b"Traceback" not in shown
        for bad in (b"\x1b[31mred", b"\x1b[32mTest", b"\x1b]8;", b"\x1b[2J", b"\x1b]0;", b"\xc2\x9b", b"\x07", b"\x08"):
            assert bad not in shown, (command, bad)
    table = _on_terminal([*poam, "items"], env)
    assert CLOSE_TAG.encode() in table and LINK.encode() in table  # shown as text, not as a link


# An internal error (exit 3) prints the exception's type and where, never SQL or file content.

SECRET = "scanner said: password=hunter2"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "poam.db")
    return str(request.getfixturevalue("pg_schema_url"))


def _failing_list_items(db: str):  # type: ignore[no-untyped-def]
    def list_items(engine, system, status, *args, **kw):  # type: ignore[no-untyped-def]
        with engine.begin() as conn:  # a real database error, holding SQL and the value
            for _ in range(2):
                conn.execute(text("INSERT INTO settings (key, value) VALUES ('probe', :v)"), {"v": SECRET})
        raise AssertionError("the second insert should have failed")

    return list_items


def test_internal_database_error_prints_no_sql_and_no_values(any_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    open_db(any_db).dispose()
    monkeypatch.delenv("POAM_DEBUG", raising=False)
    monkeypatch.setattr(poam.cli.items, "ranked", _failing_list_items(any_db))
    r = run("--db", any_db, "items")
    assert r.exit_code == 3
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and r.stdout == ""
    line = lines[0]
    assert line.startswith("poam: error: internal error (IntegrityError from the database: ")
    assert "at poam/cli/items.py:" in line and line.endswith("; set POAM_DEBUG=1 for the trace")
    code = "UniqueViolation 23505" if any_db.startswith("postgresql") else "IntegrityError SQLITE_CONSTRAINT_PRIMARYKEY"
    assert code in line
    for leak in ("INSERT", "settings", "probe", "hunter2", "password", "[SQL", "parameters"):
        assert leak not in line, leak


def test_internal_error_trace_with_poam_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "poam.db")
    open_db(db).dispose()
    monkeypatch.setenv("POAM_DEBUG", "1")
    monkeypatch.setattr(poam.cli.items, "ranked", _failing_list_items(db))
    with pytest.raises(DBAPIError, match="hunter2"):
        run("--db", db, "items")


def test_integer_overflow_on_postgresql_prints_no_sql(pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    open_db(pg_schema_url).dispose()
    monkeypatch.delenv("POAM_DEBUG", raising=False)

    def list_items(engine, system, status, *args, **kw):  # type: ignore[no-untyped-def]
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET system_id = :n WHERE detail = :d"), {"n": 2**31, "d": SECRET})
        raise AssertionError("2**31 should not fit a PostgreSQL integer")

    monkeypatch.setattr(poam.cli.items, "ranked", list_items)
    r = run("--db", pg_schema_url, "items")
    assert r.exit_code == 3
    assert r.stderr.startswith(
        "poam: error: internal error (DataError from the database: NumericValueOutOfRange 22003 at poam/cli/items.py:"
    )
    assert r.stderr.count("\n") == 1 and "UPDATE" not in r.stderr and "hunter2" not in r.stderr


def test_internal_error_never_prints_the_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "poam.db")
    open_db(db).dispose()
    monkeypatch.delenv("POAM_DEBUG", raising=False)

    def list_items(engine, system, status, *args, **kw):  # type: ignore[no-untyped-def]
        return int(SECRET)  # a bug whose message quotes a value from a file

    monkeypatch.setattr(poam.cli.items, "ranked", list_items)
    r = run("--db", db, "items")
    assert r.exit_code == 3
    assert r.stderr.startswith("poam: error: internal error (ValueError at poam/cli/items.py:")
    assert "hunter2" not in r.stderr and r.stderr.count("\n") == 1


def test_import_line_and_progress_bar_are_inert(tmp_path: Path) -> None:
    db = str(tmp_path / "poam.db")
    r = run("--db", db, "import", str(hostile_scan(tmp_path)))
    assert r.exit_code == 0, r.output
    assert_inert(r.stdout)
    assert f"{tmp_path}/scan?[2J?]0;pwned?.csv: poam-csv, several detectors scan of 2026-01-10" in r.stdout
    named = hostile_scan(tmp_path).rename(tmp_path / "[link=https:evil]x\x1b[31m.csv")  # the progress bar shows it
    shown = _on_terminal([sys.executable, "-m", "poam", "--db", db, "import", str(named)], {**os.environ})
    assert b"already imported" in shown
    assert b"[link=https:evil]x?[31m.csv" in shown and b"\x1b]8;" not in shown and b"\x1b[31m.csv" not in shown


def test_json_escapes_surrogates_and_characters_beyond_the_bmp(capsys: pytest.CaptureFixture[str]) -> None:
    data = {"lone": "a\ud800b", "tag": "x\U000e0001y", "emoji": "ok 🙂", "nbsp": "a\u00a0b"}
    poam.cli._json(data)
    shown = capsys.readouterr().out
    assert '"a\\ud800b"' in shown and '"x\\udb40\\udc01y"' in shown and '"a\\u00a0b"' in shown
    assert "ok 🙂" in shown  # printable text stays readable
    assert json.loads(shown) == data
