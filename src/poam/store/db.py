"""Opening a database: a SQLite path or a SQLAlchemy URL, migrated to the latest schema."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from poam.errors import UsageError

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_DB = "poam.db"
MIGRATIONS = str(Path(__file__).with_name("migrations"))
HEAD = "0003"
"""The latest migration; a test checks it against Alembic's. Knowing it avoids importing Alembic
(slow) on every command when the schema is already current."""


def database_url(target: str | None) -> str:
    """A SQLAlchemy URL from `--db`, `POAM_DB` or the default `./poam.db`."""
    target = target or os.environ.get("POAM_DB") or DEFAULT_DB
    if "://" in target:
        return target
    return f"sqlite:///{Path(target).expanduser()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (BEGIN IMMEDIATE)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-16384")  # 16 MiB of page cache (the default is 2 MiB)
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create(target: str | None) -> Engine:
    """An engine for the database, without migrating it."""
    url_text = database_url(target)
    try:
        url = make_url(url_text)
    except ArgumentError:
        raise UsageError(f"--db: not a database path or URL: {url_text}") from None
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            parent = Path(url.database).parent
            if not parent.is_dir():
                raise UsageError(f"--db: folder {parent} does not exist")
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("", "psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    try:
        return create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise UsageError(f"--db: driver missing ({exc.name}); install poam[postgres]") from None


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def needs_upgrade(engine: Engine) -> bool:
    """Whether the database is behind the latest migration."""
    return current_revision(engine) != HEAD


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest migration."""
    if needs_upgrade(engine):
        from alembic import command

        command.upgrade(alembic_config(engine), "head")


def open_db(target: str | None) -> Engine:
    """An engine for `--db`, migrated to the latest schema."""
    engine = create(target)
    try:
        migrate(engine)
    except (OperationalError, DatabaseError) as exc:
        shown = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise UsageError(f"--db {shown}: cannot open the database ({reason})") from None
    return engine
