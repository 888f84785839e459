"""Alembic environment: runs migrations on the engine poam hands over."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.types import TypeDecorator

from poam.store.tables import metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write poam's NUL-dropping column types as the plain SQLAlchemy types they store as."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


engine = context.config.attributes.get("engine")
if engine is None:  # pragma: no cover - only when alembic is run by hand
    from poam.store.db import create

    engine = create(context.config.get_main_option("sqlalchemy.url"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:  # a connection in the caller's transaction (SQLite: one migration at a time)
    _run(given)
else:
    with engine.connect() as connection:
        _run(connection)
        connection.commit()
