"""Exports are atomic: a failed write (disk full) leaves the previous deliverable, no temporary
file and no audit event; on SQLite and PostgreSQL.

The full disk is simulated at the file-system boundary: `io.open` (which both zipfile, under
XlsxWriter, and pathlib use) hands out files in the output folder that take a few hundred bytes
and then fail with ENOSPC, as a full disk does.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from poam.cli import cli
from poam.errors import OutputError
from poam.services import audit, exporting
from poam.services.importer import import_file
from poam.store.tables import audit_events
from tests.builders import Host, Item, write_nessus

JAN = dt.datetime(2026, 1, 5, 10, 0)
Export = Callable[[Engine, Path], object]


def fedramp(engine: Engine, path: Path) -> object:
    return exporting.export_fedramp(engine, path, None, "test", dt.date(2026, 2, 1))


def oscal(engine: Engine, path: Path) -> object:
    return exporting.export_oscal(engine, path, None, "test")


EXPORTS = {"fedramp": (fedramp, "poam.xlsx"), "oscal": (oscal, "poam.json")}


class _FullDisk:
    """A file that takes `room` bytes and then fails like a full disk (the bytes that fit are written)."""

    def __init__(self, f: Any, room: int) -> None:
        self._f = f
        self._room = room

    def write(self, data: Any) -> int:
        if len(data) > self._room:
            self._f.write(data[: self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return int(self._f.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


def fill_disk(monkeypatch: pytest.MonkeyPatch, folder: Path, room: int = 300) -> None:
    real_open = io.open

    def open_on_full_disk(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        f = real_open(file, mode, *args, **kw)
        writing = any(m in mode for m in "wax+")
        if writing and isinstance(file, str | os.PathLike) and Path(file).parent == folder:
            return _FullDisk(f, room)
        return f

    monkeypatch.setattr(io, "open", open_on_full_disk)


def export_events(engine: Engine) -> int:
    with engine.begin() as conn:
        query = select(func.count()).where(audit_events.c.action.like("export.%"))
        return int(conn.execute(query).scalar_one())


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> Engine:
    items = [Item("100", severity=3, cves=("CVE-2024-0001",)), Item("200", port=22, severity=1)]
    import_file(engine, write_nessus(tmp_path / "jan.nessus", [Host("web01", ip="10.0.0.1", start=JAN, items=items)]))
    return engine


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The system temporary folder, where XlsxWriter keeps its rows until the workbook is assembled."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_a_full_disk_leaves_the_previous_file_no_temporary_file_and_no_event(
    kind: str, loaded: Engine, out: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export, name = EXPORTS[kind]
    target = out / name
    export(loaded, target)
    previous = target.read_bytes()
    assert export_events(loaded) == 1
    fill_disk(monkeypatch, out)
    with pytest.raises(OutputError) as caught:
        export(loaded, target)
    assert (
        str(caught.value)
        == f"{target}: cannot write the file (No space left on device); the file there is left as it was"
    )
    assert target.read_bytes() == previous
    assert sorted(p.name for p in out.iterdir()) == [name]
    assert list(scratch.iterdir()) == []
    assert export_events(loaded) == 1
    with loaded.begin() as conn:
        assert audit.verify(conn)[1] is None


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_a_full_disk_on_the_first_export_leaves_nothing(
    kind: str, loaded: Engine, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export, name = EXPORTS[kind]
    fill_disk(monkeypatch, out)
    with pytest.raises(OutputError, match="No space left on device"):
        export(loaded, out / name)
    assert list(out.iterdir()) == []
    assert export_events(loaded) == 0


def fail_commits(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    """The database refuses to commit, as SQLite does on a full disk (mocked at the driver)."""
    dialect = engine.dialect

    def do_commit(dbapi_connection: object) -> None:
        raise dialect.loaded_dbapi.OperationalError("database or disk is full")

    monkeypatch.setattr(dialect, "do_commit", do_commit)


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_a_failed_commit_puts_the_previous_file_back(
    kind: str, loaded: Engine, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export, name = EXPORTS[kind]
    target = out / name
    target.write_bytes(b"the deliverable sent last month")
    fail_commits(monkeypatch, loaded)
    with pytest.raises(OutputError) as caught:
        export(loaded, target)
    monkeypatch.undo()
    assert str(caught.value) == (
        f"{target}: the export could not be recorded in the audit log "
        "(OperationalError from the database: OperationalError); the file there is left as it was"
    )
    assert target.read_bytes() == b"the deliverable sent last month"
    assert sorted(p.name for p in out.iterdir()) == [name]
    assert export_events(loaded) == 0


def test_a_failed_commit_removes_a_first_export(loaded: Engine, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_commits(monkeypatch, loaded)
    with pytest.raises(OutputError, match="could not be recorded"):
        oscal(loaded, out / "poam.json")
    assert list(out.iterdir()) == []


def test_a_successful_export_replaces_the_file_keeps_its_mode_and_links(loaded: Engine, out: Path) -> None:
    target = out / "poam.xlsx"
    target.write_bytes(b"old")
    target.chmod(0o600)
    fedramp(loaded, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert zipfile.ZipFile(target).testzip() is None
    real = out / "real.json"
    real.write_text("old")
    link = out / "latest.json"
    link.symlink_to(real.name)
    oscal(loaded, link)
    assert link.is_symlink() and '"plan-of-action-and-milestones"' in real.read_text()
    assert sorted(p.name for p in out.iterdir()) == ["latest.json", "poam.xlsx", "real.json"]
    assert export_events(loaded) == 2


def test_a_new_file_gets_the_usual_permissions(loaded: Engine, out: Path) -> None:
    umask = os.umask(0o022)
    try:
        oscal(loaded, out / "poam.json")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((out / "poam.json").stat().st_mode) == 0o644


def test_command_line_prints_one_line_and_exits_1(tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "poam.db")
    items = [Item("100", severity=3)]
    scan = write_nessus(tmp_path / "jan.nessus", [Host("web01", ip="10.0.0.1", start=JAN, items=items)])
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "import", str(scan)]).exit_code == 0
    summary = out / "summary.txt"
    summary.write_text("last month's summary\n")
    (out / "poam.xlsx").write_bytes(b"last month's workbook")
    fill_disk(monkeypatch, out, room=20)
    for args, target in (
        (["export", "fedramp", str(out / "poam.xlsx")], out / "poam.xlsx"),
        (["summary", "--out", str(summary)], summary),
    ):
        r = runner.invoke(cli, ["--db", db, *args], catch_exceptions=False)
        assert r.exit_code == 1, r.output
        assert r.stderr == (
            f"poam: error: {target}: cannot write the file (No space left on device); "
            "the file there is left as it was\n"
        )
    assert summary.read_text() == "last month's summary\n"
    assert (out / "poam.xlsx").read_bytes() == b"last month's workbook"
    assert sorted(p.name for p in out.iterdir()) == ["poam.xlsx", "summary.txt"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_real_process_writing_to_a_full_device(tmp_path: Path) -> None:
    """/dev/full is not a regular file: written in place, and its ENOSPC is one line, exit 1."""
    db = str(tmp_path / "poam.db")
    scan = write_nessus(tmp_path / "jan.nessus", [Host("web01", ip="10.0.0.1", start=JAN, items=[Item("100")])])
    poam = [sys.executable, "-m", "poam", "--db", db]
    assert subprocess.run([*poam, "import", str(scan)], capture_output=True, check=False).returncode == 0
    proc = subprocess.run([*poam, "summary", "--out", "/dev/full"], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr == (
        "poam: error: /dev/full: cannot write the file (No space left on device); the file there is incomplete\n"
    )
