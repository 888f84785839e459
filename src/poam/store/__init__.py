"""Persistence: SQLAlchemy Core tables, engine set-up and Alembic migrations."""
