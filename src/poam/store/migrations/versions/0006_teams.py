"""Planning (issue 9): teams with their capacity; an item's team, staff hours and whether a person
set its point of contact

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("capacity_hours", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"], ["systems.id"], name=op.f("fk_teams_system_id_systems"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("system_id", "name", name="uq_teams_system_name"),
    )
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("hours", sa.Float(), nullable=True))
        batch.add_column(sa.Column("poc_set", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_foreign_key(op.f("fk_items_team_id_teams"), "teams", ["team_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_constraint(op.f("fk_items_team_id_teams"), type_="foreignkey")
        batch.drop_column("poc_set")
        batch.drop_column("hours")
        batch.drop_column("team_id")
    op.drop_table("teams")
