"""Opening a database: a SQLite path or a SQLAlchemy URL, migrated to the latest schema.

Transactions: writers use `engine.begin()`; on SQLite it is a `BEGIN IMMEDIATE` that waits its
turn behind another writer (bounded by POAM_LOCK_TIMEOUT, with a message on stderr) instead
of failing with "database is locked". Readers use `read(engine)`: a read-only snapshot that
never waits for a writer (a deferred transaction in WAL mode; REPEATABLE READ READ ONLY on
PostgreSQL). `lock(conn, ...)` serialises the writers of one system on PostgreSQL, where
writers do not exclude one another.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from poam import signals
from poam.errors import PoamError, UsageError

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_DB = "poam.db"
MIGRATIONS = str(Path(__file__).with_name("migrations"))
HEAD = "0009"
"""The latest migration; a test checks it against Alembic's. Knowing it avoids importing Alembic
(slow) on every command when the schema is already current."""


def database_url(target: str | None) -> str:
    """A SQLAlchemy URL from `--db`, `POAM_DB` or the default `./poam.db`."""
    target = target or os.environ.get("POAM_DB") or DEFAULT_DB
    if "://" in target:
        return target
    return f"sqlite:///{Path(target).expanduser()}"


LOCK_TIMEOUT_ENV = "POAM_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 300.0
"""Seconds a writer waits for another one (an import) to finish before giving up."""
QUIET_WAIT = 1.0
"""Seconds a writer waits before it says that it is waiting (a short command's turn passes unseen)."""
_SLICE = 0.2  # a wait is cut into slices, so that Ctrl-C and SIGTERM end it at once
_BUSY_MS = 10_000  # SQLite's own wait inside a transaction (a reader's rare wait on WAL recovery)
_READ_ONLY = "poam_read_only"
_SQLITE_BUSY = 5
_PG_LOCK_KEY = "hashtext('poam:' || current_schema())"  # one key space per schema holding poam's tables


class LockTimeout(PoamError):
    """Another writer held the database (or the system) longer than POAM_LOCK_TIMEOUT allows."""


def _stderr_notice(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr closed: waiting is still right
        print(f"poam: {message}", file=sys.stderr, flush=True)


notice: Callable[[str], None] = _stderr_notice
"""Where a writer says that it waits for another (a server embedding poam may replace it)."""


def lock_timeout() -> float:
    """POAM_LOCK_TIMEOUT in seconds (default 300; 0: do not wait)."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e9:  # also refuses nan and inf
        raise UsageError(f"{LOCK_TIMEOUT_ENV}: not a number of seconds: {raw!r}")
    return value


def _wait_for(attempt: Callable[[float], bool], holder: str, limit: float) -> None:
    """Call `attempt(seconds)` (which may wait that long itself) until it succeeds or `limit` passes."""
    began = time.monotonic()
    if attempt(min(QUIET_WAIT, limit)):
        return
    notice(f"waiting for {holder} to finish (up to {limit:g} s; {LOCK_TIMEOUT_ENV} sets the limit)")
    while (left := limit - (time.monotonic() - began)) > 0:
        signals.check()
        if attempt(min(_SLICE, left)):
            return
    raise LockTimeout(
        f"the database is busy: {holder} did not finish within {limit:g} s ({LOCK_TIMEOUT_ENV}); nothing was changed"
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (BEGIN IMMEDIATE)
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={_BUSY_MS}")  # first: switching a new file to WAL may meet a writer
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA cache_size=-16384")  # 16 MiB of page cache (the default is 2 MiB)
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    """Readers: a deferred transaction on a query-only connection (in WAL mode it never waits for a
    writer). Writers: `BEGIN IMMEDIATE`, waiting for the writer before them, bounded."""
    driver: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
    if conn.get_execution_options().get(_READ_ONLY):
        driver.execute("PRAGMA query_only=ON")
        driver.execute("BEGIN")
        return
    driver.execute("PRAGMA query_only=OFF")
    limit = lock_timeout()

    def attempt(seconds: float) -> bool:
        driver.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")
        try:
            driver.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != _SQLITE_BUSY:
                raise
            return False
        return True

    try:
        _wait_for(attempt, "another poam command writing to the database", limit)
    finally:
        driver.execute(f"PRAGMA busy_timeout={_BUSY_MS}")


def is_postgresql(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "postgresql"


def is_read_only(conn: Connection) -> bool:
    """Whether the connection is a reader's (`read`)."""
    return bool(conn.get_execution_options().get(_READ_ONLY))


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction for commands that only look: one consistent snapshot, which never
    waits for a writer (an import) and never makes one wait. A write in it fails."""
    with engine.connect() as conn:
        conn.execution_options(**{_READ_ONLY: True})
        with conn.begin():
            if is_postgresql(conn):
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn


def lock(conn: Connection, key: int, holder: str) -> None:
    """Serialise writers on `key` (a system's id; 0 for creating the first system) until the end of
    the transaction, waiting for the holder (bounded). PostgreSQL only: on SQLite the write
    transaction already excludes every other writer."""
    if not is_postgresql(conn):
        return
    limit = lock_timeout()
    query = text(f"SELECT pg_try_advisory_xact_lock({_PG_LOCK_KEY}, :key)")

    def attempt(seconds: float) -> bool:
        if conn.execute(query, {"key": key}).scalar_one():
            return True
        time.sleep(seconds)
        return False

    _wait_for(attempt, holder, limit)


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
        engine = create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise UsageError(f"--db: driver missing ({exc.name}); install poam[postgres]") from None
    event.listen(engine, "begin", _pg_begin)
    event.listen(engine, "handle_error", _pg_error)
    return engine


def _pg_begin(conn: Connection) -> None:
    """Writers on PostgreSQL wait for a row another writer holds (the audit log's head, an item) at
    most POAM_LOCK_TIMEOUT, as they wait for a system's advisory lock."""
    options = conn.get_execution_options()
    if options.get(_READ_ONLY) or options.get("isolation_level") == "AUTOCOMMIT":
        return
    ms = max(1, int(lock_timeout() * 1000))  # 0 would mean no limit to PostgreSQL
    conn.connection.driver_connection.execute(f"SET LOCAL lock_timeout = {ms}")  # type: ignore[union-attr]


_PG_LOCK_NOT_AVAILABLE = "55P03"
_PG_DEADLOCK = "40P01"


def _pg_error(context: Any) -> None:
    """A PostgreSQL lock wait that timed out, or a deadlock with another writer: one clear line
    (exit 1), the transaction rolled back."""
    code = getattr(context.original_exception, "sqlstate", None)
    if code == _PG_LOCK_NOT_AVAILABLE:
        raise LockTimeout(
            f"the database is busy: another poam command did not finish within {lock_timeout():g} s "
            f"({LOCK_TIMEOUT_ENV}); nothing was changed"
        ) from None
    if code == _PG_DEADLOCK:
        raise PoamError(
            "another poam command changed the same records at the same time (a deadlock); nothing was "
            "changed: run the command again"
        ) from None


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    with read(engine) as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    found: str | None = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    return found


def needs_upgrade(engine: Engine) -> bool:
    """Whether the database is behind the latest migration."""
    return current_revision(engine) != HEAD


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, one migration at a time (two first commands on an empty database would both
    create the tables); on SQLite the migration's write transaction does that."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        query = text(f"SELECT pg_try_advisory_lock({_PG_LOCK_KEY}, -1)")

        def attempt(seconds: float) -> bool:
            if conn.execute(query).scalar_one():
                return True
            time.sleep(seconds)
            return False

        _wait_for(attempt, "another poam command migrating the database", lock_timeout())
        try:
            yield
        finally:
            conn.execute(text(f"SELECT pg_advisory_unlock({_PG_LOCK_KEY}, -1)"))


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest migration."""
    if needs_upgrade(engine):
        from alembic import command

        if engine.dialect.name == "sqlite":
            # One migration at a time: the whole upgrade runs in one write transaction (BEGIN
            # IMMEDIATE, waited for as writers wait), after looking again at the revision in it.
            with engine.begin() as conn:
                if _revision(conn) != HEAD:
                    cfg = alembic_config(engine)
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
            return
        with _migration_lock(engine):
            if needs_upgrade(engine):  # another process may have done it meanwhile
                command.upgrade(alembic_config(engine), "head")


def open_db(target: str | None, must_exist: bool = False) -> Engine:
    """An engine for `--db`, migrated to the latest schema. With `must_exist` (commands that only
    read), a SQLite file that is not there is an error rather than a new, empty database."""
    engine = create(target)
    if must_exist and engine.url.get_backend_name() == "sqlite":
        path = engine.url.database
        if path and path != ":memory:" and not Path(path).exists():
            engine.dispose()
            raise UsageError(
                f"--db {path}: no database there (a mistyped path? a command that only reads creates none)"
            )
    try:
        migrate(engine)
    except (OperationalError, DatabaseError) as exc:
        shown = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise UsageError(f"--db {shown}: cannot open the database ({reason})") from None
    return engine
