"""Vendor check-ins of vendor-dependent items (issue 9)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vendor_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("checkin_date", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("product", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_vendor_checkins_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_checkins")),
    )
    op.create_index("ix_vendor_checkins_item", "vendor_checkins", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_vendor_checkins_item", table_name="vendor_checkins")
    op.drop_table("vendor_checkins")
