"""Shared fixtures: real SQLite and PostgreSQL databases, the corpus and reference folders."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from poam.store.db import open_db

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("POAM_CORPUS") or ROOT.parent / "shared" / "corpus")
REFERENCE = Path(os.environ.get("POAM_REFERENCE") or ROOT.parent / "shared" / "reference")
PG_URL = os.environ.get("POAM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

os.environ.setdefault("POAM_NO_PLUGINS", "1")


def corpus_dir(name: str) -> Path:
    """A corpus folder, or skip the test with the reason."""
    folder = CORPUS / name
    if not folder.is_dir():
        pytest.skip(f"corpus folder {folder} is absent (set POAM_CORPUS)")
    return folder


def reference_file(relative: str) -> Path:
    """A file of the shared reference folder, or skip the test with the reason."""
    path = REFERENCE / relative
    if not path.is_file():
        pytest.skip(f"reference file {path} is absent (set POAM_REFERENCE)")
    return path


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_URL)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
    except Exception as exc:  # any failure to reach the server
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


_PG_PROBLEM: list[str | None] = []


def pg_url_or_skip() -> str:
    """The PostgreSQL URL; skip when unreachable, but fail when CI is set."""
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_pg_available())
    problem = _PG_PROBLEM[0]
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but PostgreSQL at {PG_URL} is unreachable: {problem}")
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable: {problem}")
    return PG_URL


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL for a fresh, empty PostgreSQL schema, dropped afterwards."""
    base = pg_url_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'poam.db'}"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine on SQLite and on PostgreSQL."""
    eng = open_db(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated engine on SQLite only (for tests of things that do not touch SQL dialects)."""
    eng = open_db(str(tmp_path / "poam.db"))
    yield eng
    eng.dispose()


@pytest.fixture
def register_parser() -> Iterator[object]:
    """Register parser instances for one test (a parser not yet in `parsers/builtin.py`)."""
    from poam.hookspecs import hookimpl
    from poam.parsers.registry import plugin_manager

    registered: list[object] = []

    def add(*parsers: object) -> None:
        class Plugin:
            @hookimpl
            def poam_parsers(self):  # type: ignore[no-untyped-def]
                return list(parsers)

        plugin = Plugin()
        plugin_manager().register(plugin)
        registered.append(plugin)

    yield add
    for plugin in registered:
        plugin_manager().unregister(plugin)


@pytest.fixture(autouse=True)
def dispose_cli_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close the database connections of the engines that commands run in-process (Click's runner)
    open: PostgreSQL's would stay open until garbage collection, and warn then, in another test."""
    import poam.cli.common

    engines: list[Engine] = []

    def tracked(target: str | None, must_exist: bool = False) -> Engine:
        engine = open_db(target, must_exist)
        engines.append(engine)
        return engine

    monkeypatch.setattr(poam.cli.common, "open_db", tracked)
    yield
    for engine in engines:
        engine.dispose()
