"""Readers never wait for an import; writers wait their turn, bounded; concurrent imports all succeed.

Real `poam` processes on real databases. A running import is held in the middle of its
transaction with SIGSTOP, so that what waits for it (and what must not) is seen for certain.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from poam.store.db import open_db, read
from poam.store.tables import metadata
from tests.cli.test_signals import big_nessus, children, ended, poam, small, start, wait_until
from tests.services.test_import import FEB


def counts(engine: Engine) -> dict[str, int]:
    """Rows per table, read without waiting for a writer."""
    with read(engine) as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in metadata.sorted_tables}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_nessus(tmp_path_factory.mktemp("big") / "big.nessus", hosts=100)


def _schema(db_url: str) -> str | None:
    options = urllib.parse.parse_qs(urllib.parse.urlsplit(db_url).query).get("options", [""])[0]
    return options.split("search_path=")[1] if "search_path=" in options else None


def in_write_transaction(db_url: str) -> bool:
    """Whether another process is inside a write transaction on the database."""
    if db_url.startswith("sqlite"):
        con = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None, timeout=0)
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        finally:
            con.close()  # closing rolls back
        return False
    # A writer holds its system's advisory lock (two keys: the schema's and the system's id)
    # from before its first write to its commit; a lock on a table may be a mere read.
    engine = create_engine(db_url.split("?")[0])
    with engine.connect() as conn:
        held = conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
                "AND objid > 0 AND pid <> pg_backend_pid() "
                "AND classid = (hashtext('poam:' || :schema)::bigint & 4294967295)::oid"
            ),
            {"schema": _schema(db_url)},
        ).scalar_one()
    engine.dispose()
    return bool(held)


class Lines:
    """A process's stderr read line by line in a thread, so that a test can wait for one line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stderr is not None
        self.stream = proc.stderr
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.stream:
            self.lines.put(line)

    def wait_for(self, word: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(line)
            if word in line:
                return True
        return False

    def rest(self) -> str:
        """Everything the process wrote on stderr (once it ended)."""
        self.thread.join(timeout=10)
        if not self.thread.is_alive():
            self.stream.close()
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


@contextmanager
def import_held_in_its_transaction(db_url: str, path: Path) -> Iterator[subprocess.Popen[str]]:
    """An import stopped (SIGSTOP) inside its write transaction; continued and finished on exit."""
    proc = start("--db", db_url, "import", str(path))
    pids = [proc.pid]
    try:
        assert wait_until(lambda: in_write_transaction(db_url), 30, 0.005), "the import never began writing"
        os.kill(proc.pid, signal.SIGSTOP)
        assert proc.poll() is None, "the import ended before it could be held"
        pids += children(proc.pid)
        yield proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            for pid in pids:
                if not ended(pid):
                    os.kill(pid, signal.SIGKILL)
            proc.communicate()
            raise
    assert proc.returncode == 0, err
    assert "items" in out


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> str:
    """A database holding one import (so that the system and its items exist)."""
    assert poam("--db", db_url, "import", str(small(tmp_path / "jan.nessus"))).returncode == 0
    return db_url


READERS = [
    ["items", "--json"],
    ["items", "--status", "all"],
    ["summary", "--date", "2026-02-01"],
    ["system", "list", "--json"],
    ["inventory", "report"],
    ["audit", "verify"],
]


def test_readers_do_not_wait_for_an_import(db: str, big: Path) -> None:
    engine = open_db(db)
    before = counts(engine)
    with import_held_in_its_transaction(db, big):
        for args in READERS:
            began = time.monotonic()
            r = poam("--db", db, *args, timeout=20)
            assert r.returncode == 0, (args, r.stderr)
            assert r.stderr == ""
            assert time.monotonic() - began < 10, args
        shown = json.loads(poam("--db", db, "items", "--json").stdout)
        assert [i["poam_id"] for i in shown] == ["V-1"]  # the state before the import: a consistent snapshot
        assert counts(engine) == before
    assert counts(engine)["scans"] == before["scans"] + 1
    engine.dispose()


def test_a_second_import_waits_its_turn_with_a_message(db: str, big: Path, tmp_path: Path) -> None:
    second = None
    with import_held_in_its_transaction(db, big):
        second = start("--db", db, "import", str(small(tmp_path / "feb.nessus", FEB, "200")), POAM_LOCK_TIMEOUT="120")
        lines = Lines(second)
        assert lines.wait_for("waiting", 20), lines.rest()
        assert second.poll() is None
    assert second.wait(timeout=60) == 0, lines.rest()
    err = lines.rest()
    assert "POAM_LOCK_TIMEOUT" in err and "Traceback" not in err
    assert second.stdout is not None and "feb.nessus: nessus" in second.stdout.read()
    second.stdout.close()
    engine = open_db(db)
    assert counts(engine)["scans"] == 3
    engine.dispose()


def test_the_wait_is_bounded(db: str, big: Path, tmp_path: Path) -> None:
    engine = open_db(db)
    with import_held_in_its_transaction(db, big):
        before = counts(engine)
        began = time.monotonic()
        r = poam("--db", db, "import", str(small(tmp_path / "feb.nessus", FEB, "200")), POAM_LOCK_TIMEOUT="1")
        assert time.monotonic() - began < 15
        assert r.returncode == 1, r.stderr
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("poam: error: ") and "busy" in last and "POAM_LOCK_TIMEOUT" in last
        assert counts(engine) == before
    engine.dispose()


def test_ctrl_c_ends_a_wait(db: str, big: Path, tmp_path: Path) -> None:
    with import_held_in_its_transaction(db, big):
        second = start("--db", db, "import", str(small(tmp_path / "feb.nessus", FEB, "200")), POAM_LOCK_TIMEOUT="120")
        lines = Lines(second)
        assert lines.wait_for("waiting", 20), lines.rest()
        os.killpg(second.pid, signal.SIGINT)
        try:
            assert second.wait(timeout=10) == 130, lines.rest()
        finally:
            if second.poll() is None:
                second.kill()
                second.wait()
        assert "interrupted" in lines.rest()
        assert second.stdout is not None and second.stdout.read() == ""
        second.stdout.close()


def test_a_bad_lock_timeout_is_a_usage_error(tmp_path: Path) -> None:
    r = poam("--db", str(tmp_path / "p.db"), "import", str(small(tmp_path / "jan.nessus")), POAM_LOCK_TIMEOUT="soon")
    assert r.returncode == 1
    assert r.stderr.strip() == "poam: error: POAM_LOCK_TIMEOUT: not a number of seconds: 'soon'"


@pytest.mark.parametrize("fresh", [False, True], ids=["migrated", "new-database"])
def test_concurrent_first_imports_of_one_file_all_succeed(db_url: str, tmp_path: Path, fresh: bool) -> None:
    path = small(tmp_path / "jan.nessus")
    if not fresh:
        open_db(db_url).dispose()
    procs = [start("--db", db_url, "import", str(path)) for _ in range(3)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [code for code, _out, _err in results] == [0, 0, 0], [err for _c, _o, err in results]
    outs = sorted(out for _code, out, _err in results)
    assert sum("already imported" in out for out in outs) == 2, outs
    engine = open_db(db_url)
    assert counts(engine)["scans"] == 1 and counts(engine)["systems"] == 1
    engine.dispose()


def test_concurrent_first_imports_of_different_files_all_succeed(db_url: str, tmp_path: Path) -> None:
    paths = [small(tmp_path / f"{n}.nessus", plugin=str(100 + n)) for n in range(3)]
    open_db(db_url).dispose()
    procs = [start("--db", db_url, "import", str(p)) for p in paths]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [code for code, _out, _err in results] == [0, 0, 0], [err for _c, _o, err in results]
    engine = open_db(db_url)
    assert counts(engine)["scans"] == 3 and counts(engine)["systems"] == 1
    engine.dispose()


def test_a_postgresql_writer_waits_for_a_held_row_at_most_the_limit(pg_schema_url: str, tmp_path: Path) -> None:
    """Only imports take a system's advisory lock; every writer takes the audit log's head row, which
    a first import holds for its whole transaction. Before, a writer waited for that row without
    limit or message; now at most POAM_LOCK_TIMEOUT, then one line and exit 1."""
    assert poam("--db", pg_schema_url, "import", str(small(tmp_path / "jan.nessus"))).returncode == 0
    catalog = tmp_path / "kev.json"
    entry = {"cveID": "CVE-2024-0001", "dueDate": "2026-01-01"}
    catalog.write_text(json.dumps({"catalogVersion": "1", "vulnerabilities": [entry]}), encoding="utf-8")
    engine = open_db(pg_schema_url)
    try:
        with engine.begin() as holder:  # another writer, in the middle of its transaction
            holder.execute(text("SELECT value FROM settings WHERE key = 'audit_head' FOR UPDATE"))
            began = time.monotonic()
            r = poam("--db", pg_schema_url, "kev", "load", str(catalog), POAM_LOCK_TIMEOUT="1", timeout=30)
            assert time.monotonic() - began < 15
        assert r.returncode == 1, r.stderr
        assert r.stderr.strip().splitlines() == [
            "poam: error: the database is busy: another poam command did not finish within 1 s "
            "(POAM_LOCK_TIMEOUT); nothing was changed"
        ]
        assert counts(engine)["kev_entries"] == 0
        assert poam("--db", pg_schema_url, "kev", "load", str(catalog)).returncode == 0  # once it is free
        assert counts(engine)["kev_entries"] == 1
    finally:
        engine.dispose()
