"""A killed or interrupted `poam import` leaves nothing behind (real processes, real databases).

`poam import` of a large file runs its parser in a forked child. Whatever ends the import
(SIGKILL, SIGTERM, Ctrl-C), the child must end with it, nobody may be left holding the
command's stdout (`poam import ... | tee` must end), the database must be as it was, and the
next import must not wait for a transaction nobody will end.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from poam.store.db import open_db
from tests.builders import Host, Item, write_nessus
from tests.conftest import ROOT
from tests.services.test_import import FEB, JAN, counts

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table in /proc")


def big_nessus(path: Path, hosts: int = 600, per_host: int = 60) -> Path:
    """A large .nessus file (about 110 KB per host at 60 results), from the benchmark's generator."""
    spec = importlib.util.spec_from_file_location("bench_import", ROOT / "bench" / "bench_import.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.generate(path, hosts, per_host)
    return path


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = big_nessus(tmp_path_factory.mktemp("big") / "big.nessus")
    assert path.stat().st_size > 16 * 1024 * 1024  # well above parallel.MIN_SIZE: the child is used
    return path


def small(path: Path, when: dt.datetime = JAN, plugin: str = "100") -> Path:
    return write_nessus(path, [Host("web01", ip="10.0.0.1", start=when, items=[Item(plugin, severity=3)])])


def env(**extra: str) -> dict[str, str]:
    """The environment of a `poam` process: the defaults (POAM_PARALLEL unset: a large file uses the child)."""
    out = {k: v for k, v in os.environ.items() if k not in ("POAM_PARALLEL", "POAM_DB", "POAM_LOCK_TIMEOUT")}
    out.update(extra)
    return out


def start(*args: str, **extra: str) -> subprocess.Popen[str]:
    """`poam ARGS` as a process in its own session (a signal to its group reaches nobody else)."""
    return subprocess.Popen(
        [sys.executable, "-m", "poam", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra),
        start_new_session=True,
        cwd=ROOT,
    )


def poam(*args: str, timeout: float = 60, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poam", *args],
        capture_output=True,
        text=True,
        env=env(**extra),
        timeout=timeout,
        cwd=ROOT,
    )


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # state, ppid, ...


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def ended(pid: int) -> bool:
    """Whether the process is gone (a zombie that nobody reaped yet counts as gone)."""
    fields = _stat(pid)
    return fields is None or fields[0] in ("Z", "X")


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.fixture
def reap() -> Iterator[list[int]]:
    """Pids this test started: any still running at the end is killed (the bug leaves them behind)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if not ended(pid):
            os.kill(pid, signal.SIGKILL)


def finish(proc: subprocess.Popen[str], reap: list[int], timeout: float, problem: str) -> tuple[str, str]:
    """The process's stdout and stderr, read to their end; fail with `problem` when that takes too long."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in reap:
            if not ended(pid):
                os.kill(pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(problem)


def started_child(proc: subprocess.Popen[str], reap: list[int]) -> int:
    """Wait for the import's parser child to appear; its pid."""
    reap.append(proc.pid)
    found: list[int] = []
    if not wait_until(lambda: bool(found.extend(children(proc.pid)) or found), 30):
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the parser child never started (exit {proc.returncode}): {out} {err}")
    reap.extend(found)
    return found[0]


@pytest.mark.parametrize(
    ("signum", "moment"),
    [
        (signal.SIGKILL, 0.1),
        (signal.SIGKILL, 0.8),
        (signal.SIGTERM, 0.1),
        (signal.SIGTERM, 0.8),
        (signal.SIGINT, 0.8),
    ],
    ids=["kill-early", "kill", "term-early", "term", "ctrl-c"],
)
def test_a_killed_import_leaves_nothing_behind(
    db_url: str, big: Path, tmp_path: Path, reap: list[int], signum: signal.Signals, moment: float
) -> None:
    assert poam("--db", db_url, "import", str(small(tmp_path / "jan.nessus"))).returncode == 0
    engine: Engine = open_db(db_url)
    before = counts(engine)
    proc = start("--db", db_url, "import", str(big))
    child = started_child(proc, reap)
    time.sleep(moment)
    assert proc.poll() is None, "the import ended before the signal: the test proves nothing"
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # Ctrl-C reaches the whole foreground group
    else:
        os.kill(proc.pid, signum)
    out, err = finish(proc, reap, 20, "stdout stayed open after the import ended (its parser child still holds it)")
    assert wait_until(lambda: ended(child), 5), "the parser child outlived the import"
    expected = {signal.SIGKILL: -9, signal.SIGTERM: 143, signal.SIGINT: 130}[signum]
    assert proc.returncode == expected, err
    if signum != signal.SIGKILL:
        assert "interrupted" in err and str(big) in err and "Traceback" not in err
        assert out == ""
    assert counts(engine) == before
    # The next import neither waits for the dead one's transaction nor finds anything half-done.
    after = poam("--db", db_url, "import", str(small(tmp_path / "feb.nessus", FEB, "200")), timeout=60)
    assert after.returncode == 0, after.stderr
    assert "items 1 opened, 1 closed" in after.stdout
    engine.dispose()


def test_the_child_is_gone_when_a_piped_import_is_killed(big: Path, tmp_path: Path, reap: list[int]) -> None:
    """`poam import big | tee log`, and the import is killed: tee ends."""
    db = str(tmp_path / "poam.db")
    cmd = f"{sys.executable} -m poam --db {db} import {big} | tee {tmp_path / 'log'}"
    shell = subprocess.Popen(
        ["/bin/sh", "-c", cmd], stdout=subprocess.DEVNULL, env=env(), start_new_session=True, cwd=ROOT
    )
    reap.append(shell.pid)
    poam_pid: list[int] = []

    def poam_started() -> bool:
        poam_pid[:] = [p for p in children(shell.pid) if "poam" in Path(f"/proc/{p}/cmdline").read_text()]
        return bool(poam_pid) and bool(children(poam_pid[0]))

    assert wait_until(poam_started, 30)
    reap.extend(poam_pid + children(poam_pid[0]))
    os.kill(poam_pid[0], signal.SIGKILL)
    try:
        shell.wait(timeout=20)
    except subprocess.TimeoutExpired:
        for pid in reap:
            if not ended(pid):
                os.kill(pid, signal.SIGKILL)
        shell.wait()
        pytest.fail("tee never ended: the parser child kept the pipe open")


@pytest.fixture
def signal_during_commit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A SIGTERM that arrives just after the import's last write, while its transaction commits."""
    from poam import signals

    hold = signals.hold

    def hold_then_signal() -> None:
        hold()
        signals._handler(signal.SIGTERM, None)

    monkeypatch.setattr(signals, "hold", hold_then_signal)
    yield
    signals._received.clear()


def test_a_signal_during_the_commit_reports_the_file_as_imported(
    engine: Engine, tmp_path: Path, signal_during_commit: None
) -> None:
    # before: the file was committed, yet the command said "this file was not imported"
    from poam.services.importer import ImportResult, import_file
    from poam.signals import Interrupted

    with pytest.raises(Interrupted) as caught:
        import_file(engine, small(tmp_path / "jan.nessus"), parallel=False)
    assert caught.value.exit_code == 143
    assert isinstance(caught.value.done, ImportResult) and caught.value.done.items_opened == 1
    assert counts(engine)["scans"] == 1


def test_the_command_says_so_and_exits_143(tmp_path: Path, signal_during_commit: None) -> None:
    from click.testing import CliRunner

    from poam.cli import cli

    r = CliRunner().invoke(cli, ["--db", str(tmp_path / "p.db"), "import", str(small(tmp_path / "jan.nessus"))])
    assert r.exit_code == 143, r.output
    assert "jan.nessus: nessus" in r.stdout
    assert r.stderr.strip().endswith("interrupted (SIGTERM) as this file's import was committed; it is imported")
