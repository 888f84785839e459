from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from poam.errors import UsageError
from poam.store.db import create, database_url, needs_upgrade, open_db
from poam.store.tables import metadata


def test_migrations_build_exactly_the_declared_schema(engine: Engine) -> None:
    assert not needs_upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_head_constant_matches_the_migrations(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from poam.store.db import HEAD, alembic_config

    assert ScriptDirectory.from_config(alembic_config(create(str(tmp_path / "p.db")))).get_current_head() == HEAD


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = open_db(str(tmp_path / "p.db"))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_opening_twice_does_not_migrate_again(tmp_path: Path) -> None:
    path = str(tmp_path / "p.db")
    open_db(path).dispose()
    assert not needs_upgrade(create(path))


def test_database_url_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POAM_DB", raising=False)
    assert database_url(None) == "sqlite:///poam.db"
    assert database_url("x/y.db") == "sqlite:///x/y.db"
    assert database_url("postgresql://u@h/d") == "postgresql://u@h/d"
    monkeypatch.setenv("POAM_DB", "env.db")
    assert database_url(None) == "sqlite:///env.db"


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        create(str(tmp_path / "nope" / "p.db"))


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not SQLite " * 100)
    with pytest.raises(UsageError, match="cannot open the database"):
        open_db(str(bogus))


def test_unreachable_server_is_one_line() -> None:
    with pytest.raises(UsageError, match="cannot open the database"):
        open_db("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
