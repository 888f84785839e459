"""Milestones kept by people, deviation evidence, submission readiness, vendor release dates, keyed
audit hashes and item seals (issue 9)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("systems") as batch:
        batch.add_column(sa.Column("auto_approve", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("ready", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("reported_at", sa.Date(), nullable=True))
        batch.add_column(sa.Column("vendor_release_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("cost", sa.Float(), nullable=True))
        batch.add_column(sa.Column("technology", sa.Text(), nullable=True))
    with op.batch_alter_table("milestones") as batch:
        batch.add_column(sa.Column("status", sa.String(length=10), nullable=False, server_default="open"))
        batch.add_column(sa.Column("completed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("placeholder", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("actor", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
    # Every milestone so far was the automatic first one an import made.
    op.execute(sa.text("UPDATE milestones SET placeholder = :yes").bindparams(yes=True))
    with op.batch_alter_table("milestone_changes") as batch:
        batch.add_column(sa.Column("actor", sa.String(length=200), nullable=True))
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
    op.create_table(
        "deviation_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deviation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deviation_id"],
            ["deviations.id"],
            name=op.f("fk_deviation_evidence_deviation_id_deviations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deviation_evidence")),
    )
    op.create_index("ix_deviation_evidence_deviation", "deviation_evidence", ["deviation_id"])
    op.create_table(
        "item_seals",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_seals_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_seals")),
    )


def downgrade() -> None:
    op.drop_table("item_seals")
    op.drop_index("ix_deviation_evidence_deviation", table_name="deviation_evidence")
    op.drop_table("deviation_evidence")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("key_id")
    with op.batch_alter_table("milestone_changes") as batch:
        batch.drop_column("actor")
    with op.batch_alter_table("milestones") as batch:
        for name in ("updated_at", "actor", "placeholder", "completed_on", "status"):
            batch.drop_column(name)
    with op.batch_alter_table("items") as batch:
        for name in ("technology", "cost", "vendor_release_date", "reported_at", "ready"):
            batch.drop_column(name)
    with op.batch_alter_table("systems") as batch:
        batch.drop_column("auto_approve")
