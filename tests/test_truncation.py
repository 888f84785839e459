"""A file cut short never imports as if it were whole: it is refused (exit 2, one line), or it is
imported closing nothing.

Hand-written Nessus CSV exports show each rule end to end, on SQLite and PostgreSQL. The fuzz test
cuts the real files of every corpus format at several points and imports each cut into a database
that already holds the whole file, so that anything the cut closed would show.
"""

from __future__ import annotations

import random
import re
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from poam.cli import cli
from poam.errors import InputError
from poam.services.importer import import_file
from poam.store.db import open_db
from poam.store.tables import findings, items, scans, weaknesses
from tests.conftest import CORPUS
from tests.parsers.test_nessus_csv import info, row, write
from tests.test_corpus import FORMATS, REFUSED

CUT_WARNING = "does not end with a line break"


def state(engine: Engine) -> tuple[set[int], set[int], int]:
    """Open findings, open items and the number of scans."""
    with engine.begin() as conn:
        open_findings = set(conn.execute(select(findings.c.id).where(findings.c.status == "open")).scalars())
        open_items = set(conn.execute(select(items.c.id).where(items.c.status == "open")).scalars())
        scan_count = conn.execute(select(func.count()).select_from(scans)).scalar_one()
    return open_findings, open_items, scan_count


def description(engine: Engine, plugin: str) -> str | None:
    with engine.begin() as conn:
        found: str | None = conn.execute(
            select(weaknesses.c.description).where(weaknesses.c.vuln_id == plugin)
        ).scalar_one()
    return found


JAN = [
    info(date="2026/1/5 10:00"),
    row("1001", Description="Cipher suites, as found in January"),
    row("1002", port="22", Description="Second plugin"),
]
FEB = [
    info(date="2026/2/5 10:00"),
    row("1001", Description="Cipher suites, as found in February"),
    row("1002", port="22", Description="Second plugin"),
]


def february(tmp_path: Path) -> bytes:
    """The February export, whole: it still reports both plugins on the covered host."""
    return write(tmp_path / "feb-whole.csv", FEB).read_bytes()


@pytest.mark.parametrize(
    "cut_after",
    [
        b"Cipher suites, as found",  # inside a quoted value
        b"1002,,,Medium,10.0.0.5,tcp",  # a row with fewer fields than the header
        b"1002,,,Medium,10.0.0.5,tcp,22,Plug",  # inside an unquoted value
    ],
)
def test_a_nessus_csv_cut_in_a_row_is_refused_and_changes_nothing(
    engine: Engine, tmp_path: Path, cut_after: bytes
) -> None:
    # before: imported with exit 0, closing plugin 1002 (the host is covered and the row is gone)
    # and storing the cut description
    import_file(engine, write(tmp_path / "jan.csv", JAN))
    before = state(engine)
    data = february(tmp_path)
    cut = tmp_path / "feb.csv"
    cut.write_bytes(data[: data.index(cut_after) + len(cut_after)])
    with pytest.raises(InputError, match=r"the file ends in the middle of a row: .* \(truncated\?\)$"):
        import_file(engine, cut)
    assert state(engine) == before
    assert description(engine, "1001") == "Cipher suites, as found in January"


def test_a_nessus_csv_cut_after_a_complete_row_closes_nothing(engine: Engine, tmp_path: Path) -> None:
    # before: 1002 was closed by a file that only lost its last row
    import_file(engine, write(tmp_path / "jan.csv", JAN))
    open_findings, open_items, _scans = state(engine)
    data = february(tmp_path)
    cut = tmp_path / "feb.csv"
    cut.write_bytes(data[: data.index(b"\r\n1002,")])  # the 1001 row whole, without its line break
    r = import_file(engine, cut)
    assert (r.assets_covered, r.results, r.fixed_findings, r.items_closed) == (1, 2, 0, 0)
    assert r.warning_lines == [
        "file: the file does not end with a line break: it may have been cut short (the end of its last value, "
        "or rows after it, lost); it closes nothing by absence"
    ]
    assert state(engine)[:2] == (open_findings, open_items)
    with engine.begin() as conn:
        assert conn.execute(select(scans.c.closes).where(scans.c.id == r.scan_id)).scalar_one() is False


def test_a_child_process_reading_the_file_reports_the_same(engine: Engine, tmp_path: Path) -> None:
    # large files are parsed in a forked child: its refusal and its warning reach the import
    import_file(engine, write(tmp_path / "jan.csv", JAN), parallel=True)
    before = state(engine)
    data = february(tmp_path)
    cut = tmp_path / "feb.csv"
    cut.write_bytes(data[: data.index(b"\r\n1002,") + 10])
    with pytest.raises(InputError, match="ends in the middle of a row"):
        import_file(engine, cut, parallel=True)
    assert state(engine) == before
    cut.write_bytes(data[: data.index(b"\r\n1002,")])
    r = import_file(engine, cut, parallel=True)
    assert (r.items_closed, r.fixed_findings) == (0, 0) and CUT_WARNING in r.warning_lines[0]
    assert state(engine)[:2] == before[:2]


def test_the_command_line_says_it_in_one_line_and_exits_2(tmp_path: Path) -> None:
    db = str(tmp_path / "poam.db")
    jan = write(tmp_path / "jan.csv", JAN)
    assert CliRunner().invoke(cli, ["import", str(jan), "--db", db], catch_exceptions=False).exit_code == 0
    data = february(tmp_path)
    cut = tmp_path / "feb.csv"
    cut.write_bytes(data[: len(data) - 30])
    r = CliRunner().invoke(cli, ["import", str(cut), "--db", db], catch_exceptions=False)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(
        r"poam: error: .*feb\.csv: the file ends in the middle of a row: its last row \(line \d+\) has \d+ of "
        r"the header's 16 fields and no line break \(truncated\?\)",
        lines[0],
    ), lines[0]


# --- the corpus, cut ---------------------------------------------------------------------------

CUTS = 8
"""Cut points per file: one at random in each eighth of the file."""
FOLDER_BUDGET = 1.0
"""Seconds per corpus folder: its first file is always cut at every point; the next ones while
the folder's time lasts (about 50 s for the whole corpus on one core)."""


def cut_points(data: bytes, seed: str) -> list[int]:
    """`CUTS` places to cut `data`, spread over the file, never just after a line break (a file cut
    there is a shorter well-formed file, which no reader can tell from a complete one)."""
    rng = random.Random(seed)
    points: set[int] = set()
    for part in range(CUTS):
        low = max(1, len(data) * part // CUTS)
        high = max(low + 1, len(data) * (part + 1) // CUTS)
        point = rng.randrange(low, high)
        while point < len(data) and data[point - 1] in b"\r\n":
            point += 1
        if point < len(data):
            points.add(point)
    return sorted(points)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty migrated SQLite database, copied for each import (migrating takes longer)."""
    path = tmp_path_factory.mktemp("template") / "empty.db"
    open_db(str(path)).dispose()
    return path


def copy_db(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
        else:
            Path(f"{target}{suffix}").unlink(missing_ok=True)


def check_cut(base: Path, file: Path, data: bytes, point: int, work: Path) -> str:
    """Import `data[:point]` into a copy of `base` (which holds the whole file): refused in one line
    with the database unchanged, or imported closing nothing. What happened, for the record."""
    cut = work / f"cut{file.suffix}"
    cut.write_bytes(data[:point])
    db = work / "cut.db"
    copy_db(base, db)
    engine = open_db(str(db))
    try:
        open_findings, open_items, scan_count = state(engine)
        where = f"{file.name} cut at {point} of {len(data)}"
        try:
            r = import_file(engine, cut, parallel=False)
        except InputError as exc:
            assert "\n" not in str(exc), (where, str(exc))
            assert state(engine) == (open_findings, open_items, scan_count), where
            return "refused"
        after_findings, after_items, _count = state(engine)
        assert open_findings <= after_findings and r.fixed_findings == 0, (where, "closed findings")
        assert open_items <= after_items and r.items_closed == 0, (where, "closed items")
        if file.suffix == ".csv":  # CSV has no end marker: an imported cut must have said so
            assert any(CUT_WARNING in line for line in r.warning_lines), (where, r.warning_lines[:3])
        return "imported"
    finally:
        engine.dispose()


@pytest.mark.corpus
@pytest.mark.parametrize("folder", sorted(FORMATS))
def test_truncated_corpus_files_are_refused_or_close_nothing(folder: str, template: Path, tmp_path: Path) -> None:
    path = CORPUS / folder
    if not path.is_dir():
        pytest.skip(f"corpus folder {path} is absent (set POAM_CORPUS)")
    files = sorted(
        (f for f in path.iterdir() if f.name not in REFUSED and f.stat().st_size > 1), key=lambda f: f.stat().st_size
    )
    deadline: float | None = None
    outcomes: dict[str, int] = {}
    for file in files:
        if deadline is not None and time.monotonic() > deadline:
            break
        base = tmp_path / "base.db"
        copy_db(template, base)
        engine = open_db(str(base))
        try:
            import_file(engine, file, parallel=False)
        finally:
            engine.dispose()
        data = file.read_bytes()
        for point in cut_points(data, file.name):
            outcome = check_cut(base, file, data, point, tmp_path)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if deadline is None:
            deadline = time.monotonic() + FOLDER_BUDGET
    assert sum(outcomes.values()) >= min(CUTS, 4), outcomes
