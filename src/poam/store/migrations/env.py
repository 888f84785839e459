"""Alembic environment: runs migrations on the engine poam hands over."""

from __future__ import annotations

from alembic import context

from poam.store.tables import metadata

engine = context.config.attributes.get("engine")
if engine is None:  # pragma: no cover - only when alembic is run by hand
    from poam.store.db import create

    engine = create(context.config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
