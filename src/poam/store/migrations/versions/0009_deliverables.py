"""Deliverables: the certification package overview URI, items brought in from a POA&M kept
elsewhere (workbook, OSCAL) with what has no other column, and the frozen monthly snapshots
(issue 10)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("systems") as batch:
        batch.add_column(sa.Column("cpo_uri", sa.Text(), nullable=True))
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=16), nullable=False, server_default="scan"))
        batch.add_column(sa.Column("asset_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("extra", sa.Text(), nullable=False, server_default="{}"))
    op.create_table(
        "report_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"], ["systems.id"], name=op.f("fk_report_snapshots_system_id_systems"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_snapshots")),
        sa.UniqueConstraint("system_id", "month", name="uq_report_snapshots_system_month"),
    )


def downgrade() -> None:
    op.drop_table("report_snapshots")
    with op.batch_alter_table("items") as batch:
        for name in ("extra", "asset_text", "origin"):
            batch.drop_column(name)
    with op.batch_alter_table("systems") as batch:
        batch.drop_column("cpo_uri")
